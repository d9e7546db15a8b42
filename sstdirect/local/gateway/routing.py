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

from dataclasses import dataclass
from urllib.parse import unquote

# One reading of a path's segments for the constructs' validation and this router.
from ...constructs.routes import GREEDY, LITERAL, VARIABLE, path_segments

DEFAULT_ROUTE = "$default"
__all__ = ["DEFAULT_ROUTE", "GREEDY", "LITERAL", "VARIABLE", "Match", "Route", "RouteTable", "compile_route"]


@dataclass(frozen=True)
class Route:
    """One compiled route key. ``segments`` are ``(kind, text)``: the literal, or the variable name."""

    key: str
    method: str  # "" for $default
    segments: tuple[tuple[int, str], ...]

    @property
    def is_default(self) -> bool:
        return self.key == DEFAULT_ROUTE

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
    """``"GET /pets/{id}"``, ``"ANY /{proxy+}"`` or ``"$default"`` → a :class:`Route`."""
    if key == DEFAULT_ROUTE:
        return Route(key, "", ())
    method, sep, path = key.partition(" ")
    if not sep or not path.startswith("/"):
        raise ValueError(f"not an HTTP API route key: {key!r}")
    segments = path_segments(path)
    if any(kind == GREEDY for kind, _ in segments[:-1]):
        raise ValueError(f"a greedy variable must end the path: {key!r}")
    return Route(key, method.upper(), segments)


def _split(path: str) -> list[str]:
    return path[1:].split("/")


class RouteTable:
    """The compiled routes of one API; :meth:`match` picks the route for a request."""

    def __init__(self, keys: list[str] | tuple[str, ...]):
        routes = [compile_route(k) for k in keys]
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
