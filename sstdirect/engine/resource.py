"""Resource specs, the provider protocol and the provider registry.

A :class:`Resource` is the frozen desired state of one AWS resource: its ``type`` (a provider key
such as ``"lambda.Function"``), its stable logical ``address`` and its ``props``. Its dependencies
are the refs its props hold, plus ``after`` (ordering-only dependencies).

A :class:`Provider` knows one resource type. Its contract:

- ``create(aws, props) -> Created``: if it raises, nothing was made (or ``find`` will find it).
- ``read_many(aws, records) -> {address: observed props | None}``: batched refresh; ``None`` = gone.
  Observed props use the same (JSON) shape as the resolved desired props, for the fields AWS
  reports; fields AWS does not report are compared against the lockfile.
  An observed dict may carry :data:`ATTRS_KEY`: attrs AWS changed without a change of props (a
  policy's revision id) that the lockfile should remember; refresh moves them out of the props.
- ``update(aws, record, props, changed) -> attrs``: in place, through AWS's update calls.
- ``delete(aws, record)``: idempotent; a resource already gone is fine.
- ``find(aws, props, exclude) -> Created | None``: find a half-made resource again after an
  interrupted create (by name, tags or description) — never one whose physical id is in ``exclude``
  (the old objects of a replacement, still to delete, may share the new one's name: a lookup that
  can match several objects looks past them).
- ``find_all(aws, props, exclude) -> [Created]``: every object ``find`` could adopt — several where
  AWS does not keep names unique (APIs, integrations, authorizers, user pools, clients, identity
  pools, certificates) and a create ran twice (a lost response retried, a crash); ``find`` returns the
  first. The others are orphans: the next deploy deletes them (see :mod:`sstdirect.engine.refresh`).
- ``check_remove(aws, record, force)``: a reason to refuse a removal, asked before anything is
  deleted (a user pool with users, unless forced).
- ``strays(aws, record, claimed, records)``: the children of a recorded object (an API's routes,
  integrations, authorizers, stages; a function's statements with sstdirect's prefix) that no record
  claims: leftovers that refresh and ``state rebuild`` record for deletion (:mod:`sstdirect.engine.strays`).
- ``owned(aws, app, stage, skip)``: every object of this type that carries the ``sstdirect:app`` and
  ``sstdirect:stage`` tags of this app and stage, from a few list calls (types that can be listed
  so: the root objects of every construct); ``None`` for the other types. Used to notice a lost
  lockfile, to rebuild one (:mod:`sstdirect.engine.rebuild`) and to find the orphans an older lockfile
  does not record (:func:`sstdirect.engine.strays.find_orphans`).
- ``replace_on``: the fields whose change forces a replacement; ``secret_fields``: recorded only as
  a hash in the lockfile and never printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .values import FrozenDict, freeze, refs_in

if TYPE_CHECKING:
    from ..aws import Aws
    from ..state import Record


ATTRS_KEY = "@attrs"


@dataclass(frozen=True)
class Resource:
    type: str
    address: str
    props: FrozenDict
    after: tuple[str, ...] = ()

    @classmethod
    def make(cls, type: str, address: str, props: Mapping[str, Any], after: tuple[str, ...] = ()) -> Resource:
        return cls(type, address, freeze(dict(props)), tuple(sorted(set(after))))

    @property
    def depends_on(self) -> frozenset[str]:
        return frozenset(refs_in(self.props) | set(self.after))


@dataclass
class Created:
    """What a create (or a find) returns: the physical id and the outputs refs can name."""

    physical_id: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Owned:
    """An object in AWS tagged as this app's and stage's: its ``sstdirect:id`` tag (the address it was
    made for) and its physical id."""

    address: str
    physical_id: str


@dataclass(frozen=True)
class Stray:
    """A child of a recorded object that no record claims (a route of an API, ...): its resource type,
    physical id, the props its provider's ``delete`` needs, a label for its address, and the physical ids
    of the objects it uses (a route's integration and authorizer: it is deleted before them)."""

    type: str
    physical_id: str
    props: Mapping[str, Any]
    label: str
    uses: tuple[str, ...] = ()


IDENTITY_TAGS = ("sstdirect:app", "sstdirect:stage", "sstdirect:id")


def tagged_for(tags: Mapping[str, Any] | None, app: str, stage: str) -> bool:
    """Whether ``tags`` say the object belongs to ``app`` at ``stage``."""
    tags = tags or {}
    return tags.get("sstdirect:app") == app and tags.get("sstdirect:stage") == stage


class Provider:
    """Base class of providers; subclasses set ``type`` and implement the operations."""

    type: ClassVar[str] = ""
    replace_on: ClassVar[frozenset[str]] = frozenset()
    secret_fields: ClassVar[frozenset[str]] = frozenset()
    # The resource type whose deletion deletes this one too (a route goes with its API): when both are
    # deleted in one plan, this one's delete makes no AWS call.
    deleted_with: ClassVar[str | None] = None
    # Inputs passed to create/update but neither recorded nor diffed (e.g. a local file path).
    transient_fields: ClassVar[frozenset[str]] = frozenset()
    # Look for an object of this address before planning its create (:mod:`sstdirect.engine.adopt`): set
    # where AWS does not keep names unique, so a create would make a second copy (APIs, integrations,
    # authorizers, user pools, clients, identity pools, certificates), and for an API's routes and stages,
    # whose lookup reads refresh's own listing. Other types are adopted when AWS refuses their create.
    adopt_before_create: ClassVar[bool] = False
    # "create_first" (default) or "delete_first" when old and new cannot coexist (same unique name).
    replace_mode: ClassVar[str] = "create_first"
    # Among ready steps with equally long chains behind them, higher starts first: a role starts IAM
    # propagation (the longest wait of a deploy), an API the chain paced by API Gateway's bucket.
    start_priority: ClassVar[int] = 0
    # Refresh starts the reads of higher ones first: a read that is a chain of pages (ListFunctions, 50
    # functions a page) should be on the wire before the other readers compete for the interpreter.
    read_priority: ClassVar[int] = 0

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        raise NotImplementedError

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        raise NotImplementedError

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return {address: self.read(aws, rec) for address, rec in records.items()}

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        raise NotImplementedError

    def delete(self, aws: Aws, record: Record) -> None:
        raise NotImplementedError

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        return None

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        """Every object ``find`` could adopt; types whose names AWS does not keep unique override this."""
        found = self.find(aws, props, exclude)
        return [] if found is None or found.physical_id in exclude else [found]

    def owned(self, aws: Aws, app: str, stage: str, skip: frozenset[str] = frozenset()) -> list[Owned] | None:
        """Every object of this type tagged as ``app``'s at ``stage``, except those whose physical ids are in
        ``skip`` (not even looked up: a listing without tags costs one tag read per candidate); None if this
        type is not listed so."""
        return None

    def strays(self, aws: Aws, record: Record, claimed: frozenset[str],
               records: Mapping[str, Record]) -> list[Stray]:
        """The children of ``record``'s object whose physical ids are not in ``claimed`` (``state rebuild``
        records them, so that the next deploy deletes them); none for types without children. ``records``:
        every record (what a provider may know of the children without listing them)."""
        return []

    def check_remove(self, aws: Aws, record: Record, force: bool) -> str | None:
        """A reason to refuse deleting ``record`` (e.g. a user pool that has users), or None.

        ``remove()`` asks every provider before deleting anything, so a refusal deletes nothing.
        """
        return None

    @property
    def guards_removal(self) -> bool:
        """Whether this type may refuse a deletion (``check_remove``): its stray copies are never deleted
        on a guess (a user pool may hold users), only reported."""
        return type(self).check_remove is not Provider.check_remove

    def needs_replace(self, changed: frozenset[str], before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
        return bool(changed & self.replace_on)


_REGISTRY: dict[str, Provider] = {}


def register(cls: type[Provider]) -> type[Provider]:
    """Class decorator: register one provider instance under its ``type``."""
    if not cls.type or cls.type in _REGISTRY:
        raise RuntimeError(f"provider type {cls.type!r} is empty or registered twice")
    _REGISTRY[cls.type] = cls()
    return cls


def provider_for(type: str) -> Provider:
    """The provider of ``type``; a missing type is a programming error and fails loudly."""
    from .. import resources  # noqa: F401  (importing the package registers every provider)

    try:
        return _REGISTRY[type]
    except KeyError:
        raise KeyError(f"no provider registered for resource type {type!r}") from None


def registered_types() -> list[str]:
    from .. import resources  # noqa: F401

    return sorted(_REGISTRY)
