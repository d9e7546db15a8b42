"""Route keys of HTTP APIs as the constructs take them (pure): :func:`parse_route_key` and
:func:`check_conflicts`. The type and its grammar are :class:`sstdirect.routekey.RouteKey`'s, shared with the
local gateway, the import and the embedded AWS.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ConfigError
from ..routekey import METHODS, RouteKey

__all__ = ["METHODS", "RouteKey", "check_conflicts", "parse_route_key"]


def parse_route_key(label: str, raw: object) -> RouteKey:
    """:meth:`RouteKey.parse` of ``raw``, its refusal a ConfigError prefixed with ``label``."""
    try:
        return RouteKey.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"{label}: {exc}") from None


def check_conflicts(label: str, keys: Iterable[RouteKey]) -> None:
    """ConfigError if two of ``keys`` differ only in parameter names (``GET /notes/{id}`` and
    ``GET /notes/{noteId}``, ``ANY /{proxy+}`` and ``ANY /{path+}``): a request matches both the same way,
    so the local gateway could never reach the second, and API Gateway is reported to refuse it ("has a
    conflicting variable on the same hierarchical level", ConflictException; KensioSoftware/yulin#307)."""
    seen: dict[tuple[str, tuple[tuple[int, str], ...]], RouteKey] = {}
    for key in keys:
        other = seen.setdefault(key.shape, key)
        if other is not key and other.key != key.key:
            raise ConfigError(
                f"{label}: routes {other.key!r} and {key.key!r} differ only in a parameter's name; a request "
                f"matches both alike, so the second could never be reached. Fix: name "
                f"the parameter the same in both (e.g. {other.path!r}), or make the paths differ by a literal "
                f"segment"
            )
