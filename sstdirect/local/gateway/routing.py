"""HTTP API route matching (SEMANTICS.md §2), pure.

A route table is compiled once from the deployed route keys. For a request the candidates are the
routes whose method is the request's or ``ANY`` and whose path matches; the most specific wins:

1. a non-greedy route beats a greedy (``{proxy+}``) one,
2. left to right, a literal segment beats a ``{var}`` segment, which beats a greedy one,
3. an explicit method beats ``ANY``;

``$default`` is used only when nothing else matches (the ranking is SEMANTICS §2.1's recommended,
INFERRED one, the same as ministack's). Paths match case-sensitively with no trailing-slash folding
(``/notes/`` is not ``/notes``), ``HEAD`` is its own method (never mapped to ``GET``), a variable
needs at least one character (INFERRED, §2.2), and path parameters are URL-decoded (§1.1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import unquote

# The one grammar of route keys, the constructs' too: a key they accept is a key this table compiles.
from ...routekey import GREEDY, LITERAL, RouteKey, Segment

__all__ = ["Match", "Route", "RouteTable", "compile_route"]
_log = logging.getLogger("sstdirect.local.gateway")


@dataclass(frozen=True)
class Route:
    """One compiled route: ``key`` as deployed (the events' ``routeKey``), ``parsed`` its reading."""

    key: str
    parsed: RouteKey

    @property
    def method(self) -> str:
        return self.parsed.method  # "" for $default

    @property
    def segments(self) -> tuple[Segment, ...]:
        """``(kind, text)``: the literal, or the variable's name."""
        return self.parsed.segments

    @property
    def is_default(self) -> bool:
        return self.parsed.is_default

    @property
    def greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1][0] == GREEDY

    def rank(self) -> tuple[int, tuple[int, ...], int]:
        """Smaller is more specific."""
        return (int(self.greedy), tuple(kind for kind, _ in self.segments), int(self.method == "ANY"))

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """The decoded path parameters if the (raw) request path ``segments`` match, else None."""
        params: dict[str, str] = {}
        for i, (kind, text) in enumerate(self.segments):
            if kind == GREEDY:
                rest = "/".join(segments[i:])
                if not rest:
                    return None
                params[text] = unquote(rest)
                return params
            if i >= len(segments):
                return None
            segment = unquote(segments[i])
            if kind == LITERAL:
                if segment != text:
                    return None
            else:
                if not segment:
                    return None
                params[text] = segment
        return params if len(segments) == len(self.segments) else None


@dataclass(frozen=True)
class Match:
    route: Route
    path_parameters: dict[str, str]

    @property
    def route_key(self) -> str:
        return self.route.key


def compile_route(key: str) -> Route:
    """``"GET /pets/{id}"``, ``"ANY /{proxy+}"`` or ``"$default"`` → a :class:`Route`; ValueError if
    :meth:`RouteKey.parse` refuses the key."""
    return Route(key, RouteKey.parse(key))


def _split(path: str) -> list[str]:
    return path[1:].split("/")


class RouteTable:
    """The compiled routes of one API; :meth:`match` picks the route for a request."""

    def __init__(self, keys: list[str] | tuple[str, ...]):
        """A deployed key the grammar refuses (the embedded AWS's ``CreateRoute`` takes any string) is left
        out with a warning: no request matches it, and the other routes are served (INFERRED: API Gateway
        documents no such key)."""
        routes = []
        for key in keys:
            try:
                routes.append(compile_route(key))
            except ValueError as exc:
                _log.warning("the local gateway skips a route it cannot serve: %s", exc)
        self.default = next((r for r in routes if r.is_default), None)
        self.routes = sorted((r for r in routes if not r.is_default), key=Route.rank)

    def match(self, method: str, raw_path: str) -> Match | None:
        """The best route for ``method`` (case-sensitive token) and the raw path, or None (→ 404)."""
        segments = _split(raw_path) if raw_path.startswith("/") else [raw_path]
        for route in self.routes:  # already in specificity order: the first match is the best
            if route.method != method and route.method != "ANY":
                continue
            params = route.match(segments)
            if params is not None:
                return Match(route, params)
        if self.default is not None:
            return Match(self.default, {})
        return None
