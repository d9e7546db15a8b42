"""Resource specs, the provider protocol and the provider registry.

A :class:`Resource` is the frozen desired state of one AWS resource: its ``type`` (a provider key
such as ``"lambda.Function"``), its stable logical ``address`` and its ``props``. Its dependencies
are the refs its props hold, plus ``after`` (ordering-only dependencies). Constructs make it from a
typed spec (:mod:`sstdirect.engine.spec`): ``Resource.of(address, FunctionSpec(...))``.

A :class:`Provider` knows one resource type, whose spec is its ``spec``. Providers are listed in
:data:`sstdirect.resources.PROVIDERS`; :func:`provider_for` imports a provider's module on the first lookup
of its type (no module is imported for its side effects). Its contract:

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
- ``diff(current, desired, salt) -> Diff``: what changed and whether (in which order) it replaces the
  object (:mod:`sstdirect.engine.diff`); by default from ``replace_on``, the fields whose change forces a
  replacement, and ``replace_order``. ``secret_fields``: recorded only as a hash in the lockfile and never
  printed.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .diff import Diff, diff_props
from .plan import ReplaceOrder
from .spec import Spec
from .values import FrozenDict, freeze, refs_in

if TYPE_CHECKING:
    from ..aws import Aws
    from ..state import Record


ATTRS_KEY = "@attrs"


@dataclass(frozen=True)
class Resource:
    """One resource of the desired state: its props (what the lockfile records) and, when it was made
    from one, its typed :class:`~sstdirect.engine.spec.Spec`."""

    type: str
    address: str
    props: FrozenDict
    after: tuple[str, ...] = ()
    spec: Spec | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, address: str, spec: Spec, after: Iterable[str] = ()) -> Resource:
        """The resource of ``spec`` at ``address`` (constructs make every resource so)."""
        return cls(spec.resource_type, address, spec.props(), tuple(sorted(set(after))), spec)

    @classmethod
    def make(cls, type: str, address: str, props: Mapping[str, Any], after: tuple[str, ...] = ()) -> Resource:
        """An untyped resource (a test's fake resource type)."""
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
    """Base class of providers; subclasses set ``spec`` (which gives them their ``type``) and implement the
    operations. A subclass is checked when it is made (:func:`check_provider`)."""

    type: ClassVar[str] = ""
    # The typed spec of this type's props (beside the provider); ``type`` defaults to its resource type.
    spec: ClassVar[type[Spec] | None] = None
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
    # How the default ``diff`` replaces: DELETE_FIRST where old and new cannot coexist (same unique name).
    replace_order: ClassVar[ReplaceOrder] = ReplaceOrder.CREATE_FIRST
    # Among ready steps with equally long chains behind them, higher starts first: a role starts IAM
    # propagation (the longest wait of a deploy), an API the chain paced by API Gateway's bucket.
    start_priority: ClassVar[int] = 0
    # Refresh starts the reads of higher ones first: a read that is a chain of pages (ListFunctions, 50
    # functions a page) should be on the wire before the other readers compete for the interpreter.
    read_priority: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        check_provider(cls)

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        raise NotImplementedError

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        """One record's observed props: by default ``read_many`` of that record alone (a type implements
        one of the two)."""
        if type(self).read_many is Provider.read_many:
            raise NotImplementedError(f"{type(self).__name__} implements neither read nor read_many")
        return self.read_many(aws, {record.address: record})[record.address]

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return {address: self.read(aws, rec) for address, rec in records.items()}

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        raise NotImplementedError

    def delete(self, aws: Aws, record: Record) -> None:
        raise NotImplementedError

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        """By default the first of ``find_all``'s answers (None for a type with neither lookup)."""
        if type(self).find_all is Provider.find_all:
            return None
        found = self.find_all(aws, props, exclude)
        return found[0] if found else None

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

    def diff(self, current: Mapping[str, Any], desired: Mapping[str, Any], salt: str) -> Diff:
        """What changes from ``current`` (what AWS holds: :func:`~sstdirect.engine.planner.current_props`) to
        ``desired`` (the resolved props; ``salt``: the lockfile's, for secret fields' hashes), and whether
        it replaces the object. Default: the fields that differ (:func:`~sstdirect.engine.diff.diff_props`),
        replaced in ``replace_order`` when one of them is in ``replace_on``."""
        changed = tuple(diff_props(self, desired, current, salt))
        return Diff(changed, self.replace_order if self.replace_on.intersection(changed) else None)


def check_provider(cls: type[Provider]) -> None:
    """At class creation: a provider with a spec takes its ``type`` from it, and every field its
    ``replace_on`` / ``secret_fields`` / ``transient_fields`` name is a field of the spec (``TypeError``)."""
    spec = cls.spec
    if spec is None:
        return
    if not cls.type:
        cls.type = spec.resource_type
    elif cls.type != spec.resource_type:
        raise TypeError(f"{cls.__name__}: type {cls.type!r} is not its spec's "
                        f"({spec.__name__}: {spec.resource_type!r})")
    for attr in ("replace_on", "secret_fields", "transient_fields"):
        unknown = sorted(set(getattr(cls, attr)) - set(spec.field_names))
        if unknown:
            raise TypeError(f"{cls.__name__}.{attr} names {', '.join(map(repr, unknown))}, not fields of "
                            f"{spec.__name__} ({', '.join(spec.field_names)})")


# Providers loaded from the table (``sstdirect.resources.PROVIDERS``) or registered by ``register``.
_REGISTRY: dict[str, Provider] = {}
_LOADING = threading.Lock()


def _listed() -> Mapping[str, str]:
    """The table of sstdirect's providers: resource type → ``"module:Class"`` under ``sstdirect.resources``
    (the package holds only the table: no provider module is imported for it)."""
    from ..resources import PROVIDERS

    return PROVIDERS


def register(cls: type[Provider]) -> type[Provider]:
    """Class decorator for a provider outside sstdirect's table (a test's fake type): register one instance
    under its ``type``."""
    if not cls.type or cls.type in _REGISTRY or cls.type in _listed():
        raise RuntimeError(f"provider type {cls.type!r} is empty or registered twice")
    _REGISTRY[cls.type] = cls()
    return cls


def _load(resource_type: str) -> Provider:
    """Import the module the table names for ``resource_type`` and make its provider."""
    try:
        target = _listed()[resource_type]
    except KeyError:
        raise KeyError(f"no provider registered for resource type {resource_type!r}") from None
    module, _, name = target.partition(":")
    cls = getattr(importlib.import_module(f"..resources.{module}", __package__), name, None)
    if not (isinstance(cls, type) and issubclass(cls, Provider)) or cls.type != resource_type:
        raise RuntimeError(f"sstdirect.resources.PROVIDERS[{resource_type!r}] = {target!r} is not a provider "
                           f"of that type")
    return cls()


def provider_for(type: str) -> Provider:
    """The provider of ``type``, its module imported on the first lookup; a missing type is a programming
    error and fails loudly."""
    provider = _REGISTRY.get(type)
    if provider is None:
        with _LOADING:  # executor workers may ask at once: one instance per type
            provider = _REGISTRY.get(type)
            if provider is None:
                provider = _REGISTRY[type] = _load(type)
    return provider


def registered_types() -> list[str]:
    """Every resource type with a provider (sstdirect's table and those registered)."""
    return sorted({*_listed(), *_REGISTRY})
