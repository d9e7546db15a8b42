"""HTTP API route keys: one type, one grammar (pure; imports nothing else of sstdirect).

Every reading of a route key goes through :meth:`RouteKey.parse`: the constructs (through
:func:`sstdirect.constructs.routes.parse_route_key`, which turns its ``ValueError`` into a ConfigError),
the HTTP API import's OpenAPI document (:meth:`RouteKey.to_openapi`), the embedded AWS's ``ReimportApi``
(:meth:`RouteKey.from_openapi`), the Lambda permissions' source ARNs (:meth:`RouteKey.source_arn_suffix`)
and the local gateway's route table, which matches on :attr:`RouteKey.segments`.

The grammar. What API Gateway documents ("Working with routes for HTTP APIs", now "Create routes for HTTP
APIs in API Gateway": https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html):

* a route is an HTTP method and a resource path, ``GET /pets``; ``ANY`` matches every method not defined
  for the path; ``$default`` is the catch-all route;
* a path variable is a segment ``{petID}``; a greedy one adds ``+`` (``{proxy+}``) and "must be at the end
  of the resource path".

What the guide leaves open, sstdirect decides conservatively (a key is refused rather than guessed at):

* the method is one of :data:`METHODS` (the methods an HTTP API route offers); it is case-insensitive
  on input and upper-cased, and runs of whitespace collapse (``"  get   /x "`` is ``GET /x``);
* a parameter is a *whole* segment, its name ``[A-Za-z0-9._-]+`` (API Gateway's rule for REST API path
  parts, "a-zA-Z0-9._- and curly braces at the beginning and the end and an optional plus sign before the
  closing brace"), used once per key (OpenAPI requires unique path parameter names);
* a literal segment is RFC 3986 ``pchar`` characters (unreserved, sub-delims, ``:``, ``@``, ``%``);
* no empty segment (``//``), except a trailing slash, which is kept as written (``GET /notes/``).

Anything else (``GET /a/{x y}``, ``GET /a{b}``, ``GET /{p+}/x``) is a ``ValueError`` naming the key.
WebSocket route keys (``$connect``, ``sendMessage``) are not route keys of this grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

METHODS = ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
DEFAULT = "$default"
OPENAPI_ANY = "x-amazon-apigateway-any-method"
# The operation keys of an OpenAPI path item that are route methods (others, like "parameters", are not).
OPENAPI_METHODS = frozenset({*(m.lower() for m in METHODS if m != "ANY"), OPENAPI_ANY})

LITERAL, VARIABLE, GREEDY = 0, 1, 2  # segment kinds, in the order a route's specificity ranks them
Segment = tuple[int, str]  # (kind, the literal text or the parameter's name)

_PARAM = re.compile(r"\{([A-Za-z0-9._-]+)(\+?)\}\Z")
_LITERAL = re.compile(r"[A-Za-z0-9._~!$&'()*,;=:@%+-]*\Z")
_HINT = "write 'METHOD /path' (e.g. 'GET /notes/{id}') or '$default'"


def _read_path(raw: str, path: str) -> tuple[Segment, ...]:
    """The segments of ``path`` (which starts with ``/``), or ValueError naming ``raw``."""
    parts = path[1:].split("/")
    out: list[Segment] = []
    names: set[str] = set()
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "" and not last:
            raise ValueError(f"route key {raw!r} has an empty path segment ('//')")
        param = _PARAM.match(part)
        if param:
            name, greedy = param.groups()
            if greedy and not last:
                raise ValueError(f"route key {raw!r}: a greedy parameter {{{name}+}} must be the last segment")
            if name in names:
                raise ValueError(f"route key {raw!r} uses parameter {{{name}}} twice")
            names.add(name)
            out.append((GREEDY if greedy else VARIABLE, name))
        elif _LITERAL.match(part):
            out.append((LITERAL, part))
        else:
            raise ValueError(f"route key {raw!r} has an invalid path segment {part!r}; a parameter is a whole "
                             f"segment like {{id}} or {{proxy+}}")
    return tuple(out)


@dataclass(frozen=True)
class RouteKey:
    """A normalized HTTP API route key: ``$default`` (``method`` and ``path`` empty) or ``METHOD /path``.

    Build one with :meth:`parse` or :meth:`from_openapi`; ``str(key)`` (and :attr:`key`) is its canonical
    text, and ``RouteKey.parse(str(key)) == key``.
    """

    method: str  # "" for $default
    path: str  # "" for $default

    @classmethod
    def parse(cls, text: object) -> RouteKey:
        """Normalize ``text`` (whitespace runs collapse; the method is upper-cased) or raise ValueError."""
        if not isinstance(text, str):
            raise ValueError(f"route key {text!r} must be a string like 'GET /notes'")
        words = text.split()
        if words == [DEFAULT]:
            return cls("", "")
        if len(words) != 2:
            raise ValueError(f"route key {text!r} is not valid; {_HINT}")
        method, path = words[0].upper(), words[1]
        if method not in METHODS:
            raise ValueError(f"route key {text!r} has unknown method {words[0]!r}; use one of {', '.join(METHODS)}")
        if not path.startswith("/"):
            raise ValueError(f"route key {text!r}: the path must start with '/'; {_HINT}")
        key = cls(method, path)
        key.__dict__["segments"] = _read_path(text, path)  # the cached_property, filled by the one reading
        return key

    @classmethod
    def from_openapi(cls, path: str, method: str) -> RouteKey:
        """The route of an OpenAPI operation (API Gateway's import): the path ``$default`` is the ``$default``
        route, ``x-amazon-apigateway-any-method`` is ``ANY``, any other key of :data:`OPENAPI_METHODS` its
        method. ValueError if the method is not an operation or the path is not a route path."""
        if path == DEFAULT:
            return cls("", "")
        if method not in OPENAPI_METHODS:
            raise ValueError(f"{method!r} of OpenAPI path {path!r} is not a route method")
        key = cls.parse(f"{'ANY' if method == OPENAPI_ANY else method.upper()} {path}")
        if key.path != path:  # whitespace around or in the path: parse would have read it differently
            raise ValueError(f"OpenAPI path {path!r} is not a route path")
        return key

    @property
    def key(self) -> str:
        return DEFAULT if not self.method else f"{self.method} {self.path}"

    @property
    def is_default(self) -> bool:
        return not self.method

    @cached_property
    def segments(self) -> tuple[Segment, ...]:
        """``GET /pets/{id}/{rest+}`` → ``((LITERAL, "pets"), (VARIABLE, "id"), (GREEDY, "rest"))``; ``()`` for
        ``$default``. A trailing slash is a last, empty literal."""
        return () if self.is_default else _read_path(self.key, self.path)

    @property
    def shape(self) -> tuple[str, tuple[Segment, ...]]:
        """The method and the segments with parameter names left out: what a request is matched by. Two keys
        of one shape differ only in parameter names (``GET /notes/{id}``, ``GET /notes/{noteId}``)."""
        return self.method, tuple((kind, text if kind == LITERAL else "") for kind, text in self.segments)

    def source_arn_suffix(self) -> str:
        """The ``/{stage}/{METHOD}/{path}`` part of the execute-api ARN an invoke of this route comes from
        (any stage; ``ANY`` and each parameter as ``*``): ``GET /notes/{id}`` → ``/*/GET/notes/*``."""
        if self.is_default:
            return "/*"
        method = "*" if self.method == "ANY" else self.method
        return f"/*/{method}/" + "/".join(text if kind == LITERAL else "*" for kind, text in self.segments)

    def to_openapi(self) -> tuple[str, str]:
        """``(path, operation key)`` of this route in an OpenAPI document for API Gateway's import:
        ``GET /a`` → ``("/a", "get")``, ``ANY /a`` → ``("/a", OPENAPI_ANY)``, ``$default`` → ``("$default",
        OPENAPI_ANY)``. :meth:`from_openapi` reads it back."""
        if self.is_default:
            return DEFAULT, OPENAPI_ANY
        return self.path, OPENAPI_ANY if self.method == "ANY" else self.method.lower()

    def __str__(self) -> str:
        return self.key
