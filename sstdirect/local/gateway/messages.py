"""The two plain values the pure core passes around: an HTTP request and an HTTP response."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HttpRequest:
    """A request as it arrived: ``raw_path`` and ``raw_query`` still percent-encoded, ``headers`` in
    arrival order with their original names (duplicates kept), ``body`` as bytes."""

    method: str
    raw_path: str
    raw_query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """The comma-joined values of header ``name`` (case-insensitive), or None."""
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ",".join(values) if values else None

    @classmethod
    def from_target(cls, method: str, target: str, **kwargs: object) -> HttpRequest:
        """Split a request target (``/path?query``) into ``raw_path`` and ``raw_query``."""
        path, _, query = target.partition("?")
        return cls(method=method, raw_path=path or "/", raw_query=query, **kwargs)  # type: ignore[arg-type]


@dataclass
class HttpResponse:
    """A response to send: ``headers`` as (name, value) pairs (``Set-Cookie`` may repeat)."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    def without(self, predicate: object) -> None:
        self.headers = [(k, v) for k, v in self.headers if not predicate(k.lower())]  # type: ignore[operator]
