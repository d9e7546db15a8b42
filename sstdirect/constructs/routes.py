"""Route keys of HTTP APIs: parsing and normalization (pure).

:func:`path_segments` is the one reading of a route path's segments (literal, ``{var}``, greedy
``{var+}``): :func:`parse_route_key` validates on top of it, and the local gateway
(:mod:`sstdirect.local.gateway.routing`) routes by it, so a key's :attr:`RouteKey.shape` is exactly
what the gateway — and API Gateway — tells routes apart by.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ConfigError

METHODS = ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_PARAM = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}\Z")
_LITERAL = re.compile(r"^[A-Za-z0-9._~!$&'()*,;=:@%+-]*\Z")
# A parameter segment as the gateway reads a deployed key (any name without braces or '+').
_VAR = re.compile(r"^\{([^{}+]+)(\+?)\}$")

LITERAL, VARIABLE, GREEDY = 0, 1, 2


def path_segments(path: str) -> tuple[tuple[int, str], ...]:
    """``"/pets/{id}/{rest+}"`` → ``((LITERAL, "pets"), (VARIABLE, "id"), (GREEDY, "rest"))``.

    The path must start with ``/`` (not checked here); a greedy segment anywhere is reported as GREEDY
    (callers refuse one that is not last).
    """
    out: list[tuple[int, str]] = []
    for part in path[1:].split("/"):
        var = _VAR.match(part)
        if var is None:
            out.append((LITERAL, part))
        else:
            out.append((GREEDY if var.group(2) else VARIABLE, var.group(1)))
    return tuple(out)


@dataclass(frozen=True)
class RouteKey:
    """A normalized route key: ``$default`` or ``METHOD /path``."""

    method: str  # "" for $default
    path: str  # "" for $default

    @property
    def key(self) -> str:
        return "$default" if not self.method else f"{self.method} {self.path}"

    @property
    def is_default(self) -> bool:
        return not self.method

    @property
    def shape(self) -> tuple[str, tuple[tuple[int, str], ...]]:
        """The method and the path with parameter names left out: what a request is matched by. Two keys of
        one shape differ only in parameter names (``GET /notes/{id}``, ``GET /notes/{noteId}``)."""
        segments = () if self.is_default else path_segments(self.path)
        return self.method, tuple((kind, text if kind == LITERAL else "") for kind, text in segments)

    def source_arn_suffix(self) -> str:
        """The ``/{stage}/{METHOD}/{path}`` part of the execute-api ARN an invoke comes from."""
        if self.is_default:
            return "/*"
        method = "*" if self.method == "ANY" else self.method
        path = "/".join("*" if seg.startswith("{") else seg for seg in self.path.split("/"))
        return f"/*/{method}{path}"

    def __str__(self) -> str:
        return self.key


def parse_route_key(label: str, raw: str) -> RouteKey:
    """Normalize ``raw`` (whitespace runs collapse; method upper-cased) or raise ConfigError."""
    if not isinstance(raw, str):
        raise ConfigError(f"{label}: route key {raw!r} must be a string like 'GET /notes'")
    text = " ".join(raw.split())
    if text == "$default":
        return RouteKey("", "")
    parts = text.split(" ")
    hint = "write 'METHOD /path' (e.g. 'GET /notes/{id}') or '$default'"
    if len(parts) != 2:
        raise ConfigError(f"{label}: route key {raw!r} is not valid; {hint}")
    method, path = parts[0].upper(), parts[1]
    if method not in METHODS:
        raise ConfigError(f"{label}: route key {raw!r} has unknown method {parts[0]!r}; use one of "
                          f"{', '.join(METHODS)}")
    if not path.startswith("/"):
        raise ConfigError(f"{label}: route key {raw!r}: the path must start with '/'; {hint}")
    segments = path.split("/")[1:]
    names: set[str] = set()
    for i, seg in enumerate(segments):
        if seg == "" and not (i == len(segments) - 1):
            raise ConfigError(f"{label}: route key {raw!r} has an empty path segment ('//')")
        m = _PARAM.match(seg)
        if m:
            name, greedy = m.groups()
            if greedy and i != len(segments) - 1:
                raise ConfigError(f"{label}: route key {raw!r}: a greedy parameter {{{name}+}} must be the "
                                  f"last segment")
            if name in names:
                raise ConfigError(f"{label}: route key {raw!r} uses parameter {{{name}}} twice")
            names.add(name)
        elif not _LITERAL.match(seg) or "{" in seg or "}" in seg:
            raise ConfigError(f"{label}: route key {raw!r} has an invalid path segment {seg!r}; a parameter "
                              f"is a whole segment like {{id}} or {{proxy+}}")
    return RouteKey(method, path)


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
