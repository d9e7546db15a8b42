"""Route keys of HTTP APIs: parsing and normalization (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ConfigError

METHODS = ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_PARAM = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}\Z")
_LITERAL = re.compile(r"^[A-Za-z0-9._~!$&'()*,;=:@%+-]*\Z")


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
