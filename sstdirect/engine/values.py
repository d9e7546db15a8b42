"""Values inside resource specs: plain data, references to other resources' outputs, and templates.

A spec's properties are plain JSON-like data (str, int, float, bool, None, tuples, ``FrozenDict``)
that may hold:

- ``Ref(address, attr)``: "the ``attr`` output of the resource at ``address``", resolved by the
  executor just before the call that needs it. The pseudo address ``"aws"`` names the deploy's
  account and region (``Ref("aws", "account_id")``, ``Ref("aws", "region")``).
- ``Fmt(template, **values)``: a ``str.format`` template whose arguments may be refs.

``UNKNOWN`` stands for a value known only after deploy (a ref to a resource not yet made); a
template with an unknown argument is itself unknown.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class _Unknown:
    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "(known after deploy)"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
PSEUDO = "aws"


@dataclass(frozen=True)
class Ref:
    """The ``attr`` output of the resource at ``address``."""

    address: str
    attr: str

    def __str__(self) -> str:  # a ref printed by mistake should say what it is
        return f"${{{self.address}.{self.attr}}}"


@dataclass(frozen=True)
class Fmt:
    """A ``str.format`` template with named arguments that may be refs."""

    template: str
    args: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, template: str, **args: Any) -> Fmt:
        return cls(template, tuple(sorted((k, freeze(v)) for k, v in args.items())))


class FrozenDict(Mapping[str, Any]):
    """An immutable, hashable dict with sorted iteration: what spec properties are made of."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, Any] | None = None):
        self._data = dict(sorted((data or {}).items()))
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenDict({self._data!r})"


_PLAIN_SCALARS = frozenset({str, int, float, bool, type(None)})


def freeze(value: Any) -> Any:
    """Normalize ``value`` into immutable spec data: dicts → FrozenDict, lists/tuples → tuples."""
    kind = type(value)
    if kind in _PLAIN_SCALARS:  # the common cases first (props are mostly strings)
        return value
    if kind is dict:
        return FrozenDict({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, FrozenDict | Ref | Fmt | _Unknown):
        return value
    if isinstance(value, Mapping):
        return FrozenDict({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return tuple(sorted(freeze(v) for v in value))
    if value is None or isinstance(value, str | int | float | bool):
        return value
    ref = getattr(value, "__sstdirect_ref__", None)
    if ref is not None:  # an output handle of a construct (e.g. ``api.url`` before deploy)
        return ref()
    raise TypeError(f"cannot use a {type(value).__name__} as a resource property: {value!r}")


def thaw(value: Any) -> Any:
    """The plain (JSON-ready) form of resolved spec data: FrozenDict → dict, tuple → list."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


def refs_in(value: Any) -> set[str]:
    """The addresses of every resource ``value`` refers to (pseudo refs excluded)."""
    found: set[str] = set()

    def walk(v: Any) -> None:
        if type(v) in _PLAIN_SCALARS:
            return
        if isinstance(v, Ref):
            if v.address != PSEUDO:
                found.add(v.address)
        elif isinstance(v, Fmt):
            for _, a in v.args:
                walk(a)
        elif isinstance(v, Mapping):
            for x in v.values():
                walk(x)
        elif isinstance(v, tuple | list):
            for x in v:
                walk(x)

    walk(value)
    return found


def resolve(value: Any, lookup: Callable[[Ref], Any]) -> Any:
    """Replace every ref in ``value`` by ``lookup(ref)`` (which may return ``UNKNOWN``).

    A template with an unknown argument becomes ``UNKNOWN``; containers keep their shape.
    """
    if type(value) in _PLAIN_SCALARS:
        return value
    if isinstance(value, Ref):
        return lookup(value)
    if isinstance(value, Fmt):
        args = {k: resolve(a, lookup) for k, a in value.args}
        if any(a is UNKNOWN for a in args.values()):
            return UNKNOWN
        return value.template.format(**args)
    if isinstance(value, Mapping):
        return FrozenDict({k: resolve(v, lookup) for k, v in value.items()})
    if isinstance(value, tuple):
        return tuple(resolve(v, lookup) for v in value)
    return value


def contains_unknown(value: Any) -> bool:
    if type(value) in _PLAIN_SCALARS:
        return False
    if value is UNKNOWN:
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, tuple | list):
        return any(contains_unknown(v) for v in value)
    return False


def to_json_data(value: Any) -> Any:
    """JSON-ready form of spec data, refs and templates included (for plans and hashes)."""
    if type(value) in _PLAIN_SCALARS:
        return value
    if isinstance(value, Ref):
        return {"$ref": f"{value.address}.{value.attr}"}
    if isinstance(value, Fmt):
        return {"$fmt": value.template, "args": {k: to_json_data(a) for k, a in value.args}}
    if value is UNKNOWN:
        return {"$unknown": True}
    if isinstance(value, Mapping):
        return {k: to_json_data(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [to_json_data(v) for v in value]
    return value


def digest(value: Any) -> str:
    """A stable sha256 of spec data (used for the props hash and for secret fields)."""
    blob = json.dumps(to_json_data(value), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()
