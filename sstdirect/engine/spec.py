"""Typed resource specs: the desired state of one resource type as a frozen dataclass.

Each resource type has one spec class beside its provider (``resources/<service>.py``), declared with
:func:`resource_spec`::

    @resource_spec("logs.LogGroup")
    class LogGroupSpec(Spec):
        name: Text
        retention_days: int | None
        tags: Mapping[str, str]

Constructs build specs (``LogGroupSpec(name=..., retention_days=None, tags=...)``): every field is a
keyword, so a misspelt or missing field is a ``TypeError`` where the construct expands, not a
``KeyError`` in an executor worker. :meth:`Spec.props` turns a spec into the props a
:class:`~sstdirect.engine.resource.Resource` holds — the same dict (same keys, same frozen values) the
lockfile records, so typing a resource type changes no lockfile. A field whose default is :data:`OMIT`
is left out of the props while it is unset (a key older lockfiles do not have).

Field values are frozen (:func:`~sstdirect.engine.values.freeze`) on construction: dicts become
``FrozenDict``, lists tuples, output handles refs. A field may hold a :class:`~sstdirect.engine.values.Ref`
or :class:`~sstdirect.engine.values.Fmt` until the executor resolves it; a provider turns the resolved
props of a create or update back into its spec with :meth:`Spec.from_props` and reads attributes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar, dataclass_transform

from .values import Fmt, FrozenDict, Ref, freeze

S = TypeVar("S", bound="Spec")

#: A string, or one known only after deploy (a ref to another resource's output, or a template of refs).
Text = str | Ref | Fmt


class _Omitted:
    """The default of a field that stays out of the props while it is unset."""

    _instance: _Omitted | None = None

    def __new__(cls) -> _Omitted:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OMIT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "OMIT"


OMIT: Any = _Omitted()


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Spec:
    """Base of every spec: frozen field values, the props they stand for, and back."""

    #: the provider key of the resource type (``"logs.LogGroup"``), set by :func:`resource_spec`
    resource_type: ClassVar[str] = ""
    #: the names of the fields, in declaration order, set by :func:`resource_spec`
    field_names: ClassVar[tuple[str, ...]] = ()
    #: the names of the fields without a default
    required_fields: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for name in self.field_names:
            value = getattr(self, name)
            if value is not OMIT:
                object.__setattr__(self, name, freeze(value))

    def props(self) -> FrozenDict:
        """The props of this spec: every field, but those still :data:`OMIT`."""
        values = ((name, getattr(self, name)) for name in self.field_names)
        return FrozenDict({name: value for name, value in values if value is not OMIT})

    @classmethod
    def from_props(cls: type[S], props: Mapping[str, Any]) -> S:
        """The spec of ``props`` (a create's or update's resolved props); ``TypeError`` for a key that is no
        field or a field without a default that ``props`` lacks."""
        return cls(**props)

    @classmethod
    def from_record(cls: type[S], props: Mapping[str, Any]) -> S:
        """The spec of props that may be partial: a lockfile's (no transient fields; an older one may lack a
        field added since, or hold one since dropped), or those a lookup (``find``) is given, which are a
        record's or a create's. A field ``props`` lack is :data:`OMIT` (falsy); a key that is no field is
        ignored."""
        values = {k: v for k, v in props.items() if k in cls.field_names}
        return cls(**values, **{name: OMIT for name in cls.required_fields if name not in values})


@dataclass_transform(kw_only_default=True, frozen_default=True)
def resource_spec(resource_type: str) -> Callable[[type[S]], type[S]]:
    """Class decorator: make ``cls`` (a :class:`Spec` subclass) the frozen, keyword-only, slotted dataclass
    of ``resource_type``."""

    def make(cls: type[S]) -> type[S]:
        if not issubclass(cls, Spec):
            raise TypeError(f"@resource_spec({resource_type!r}): {cls.__name__} must subclass Spec")
        made = dataclasses.dataclass(frozen=True, kw_only=True, slots=True)(cls)
        made.resource_type = resource_type
        fields = dataclasses.fields(made)
        made.field_names = tuple(f.name for f in fields)
        made.required_fields = tuple(f.name for f in fields if f.default is dataclasses.MISSING)
        return made

    return make
