"""HTTP/1.1 framing of the local gateway, on h11 (a sans-I/O HTTP/1.1 implementation): :class:`Server`
listens for one HTTP API or AppSync API and serves each connection from a thread of its own (bounded:
:data:`MAX_CONNECTIONS`), feeding :meth:`handle` of its gateway with whole requests. h11 parses every
request (head and body, chunked or not); responses are written by :func:`render` from headers checked
here.

The contract, on top of h11's own parsing:

- Requests that a proxy in front could read differently (the request smuggling shapes) are 400 and the
  connection is closed: ``Content-Length`` with ``Transfer-Encoding``, more than one ``Content-Length``
  (or one holding a list), a ``Content-Length`` that is not decimal digits (``+5``), obsolete line folding,
  any transfer coding but ``chunked`` (RFC 9112 §6.1, §6.3, §5.2; h11 itself refuses malformed lines,
  names and values, NUL/CR/LF in values and non-ASCII request targets).
- API Gateway's limits and compact JSON errors: request line + header values over 10240 bytes, over 100
  header lines or header lines over 64 KiB → 431, a request line over 64 KiB → 414, a body over 10 MB → 413
  (before reading it), an HTTP version other than 1.0/1.1 → 505.
- A response is written only from headers that are valid HTTP: a handler's header name or value with
  CR, LF, NUL or another control character, a name that is not a token, or a value that is not Latin-1
  turns the whole response into 500 ``{"message":"Internal Server Error"}`` (never a split or forged
  response, never an empty reply). ``Content-Length`` is always computed here (a handler's own
  ``content-length``, ``transfer-encoding``, ``connection``, ``date`` and ``server`` are dropped); 204 and
  304 carry no body.
- Time and resources: a connection idle for :data:`IDLE_TIMEOUT_S` (between requests, or inside a body) is
  closed; once a request's first byte has arrived, its whole head must arrive within
  :data:`HEADER_TIMEOUT_S` (a client trickling bytes is dropped, slowloris); at most
  :data:`MAX_CONNECTIONS` connections are served at once (more get 503 and are closed) and the listen
  backlog is :data:`LISTEN_BACKLOG`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import socketserver
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Protocol

import h11

from .messages import HttpRequest, HttpResponse
from .responses import MAX_REQUEST_BYTES, gateway_error, internal_error, too_large

_log = logging.getLogger("sstdirect.local.gateway")

# "Total combined size of request line and header values: 10240 bytes" (SEMANTICS §8, HTTP API quota). The
# status is undocumented: 431 Request Header Fields Too Large, the status HTTP defines for it (INFERRED).
MAX_HEADER_BYTES = 10240
MAX_HEADERS = 100  # header lines (as http.server allowed)
MAX_REQUEST_LINE = 64 * 1024  # longer → 414
MAX_HEAD_BYTES = 64 * 1024  # header lines (after the request line); longer → 431
# A connection that sends nothing for this long (an idle keep-alive, a stalled body) is closed (API Gateway's
# idle timeout is not documented for HTTP APIs; 30 s, INFERRED).
IDLE_TIMEOUT_S = 30.0
# Once a request's first byte is in, its head (request line and headers) must be complete within this
# long, however the bytes trickle (INFERRED; nginx's client_header_timeout is 60 s, Apache's 20-40 s).
HEADER_TIMEOUT_S = 10.0
MAX_CONNECTIONS = 64  # connection threads per served API; more → 503 (INFERRED)
LISTEN_BACKLOG = 128
LINGER_S = 1.0  # after an error, how long the rest of a request is read (and dropped) before closing
SERVER_NAME = b"sstdirect-local-gateway"

_HEAD_END = re.compile(rb"\n\r?\n")  # where h11 ends a head
_FOLD = re.compile(rb"\n[ \t]")  # a header line starting with whitespace: obsolete line folding
_CONTENT_LENGTH = re.compile(rb"\ncontent-length[ \t]*:([^\n]*)", re.IGNORECASE)
_TOKEN = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")  # a field name (RFC 9110 §5.1)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # not allowed in a field value (RFC 9110 §5.5); HTAB is
_DROPPED = frozenset({"content-length", "connection", "transfer-encoding", "date", "server"})
_NO_BODY = frozenset({204, 304})
# Reason phrases of the framing errors, fixed here (Python versions name some differently).
_PHRASES = {400: "Bad Request", 413: "Request Entity Too Large", 414: "URI Too Long",
            431: "Request Header Fields Too Large", 503: "Service Unavailable", 505: "HTTP Version Not Supported"}


class Gateway(Protocol):
    """What a :class:`Server` serves: a whole request in, a whole response out (may block)."""

    def handle(self, request: HttpRequest) -> HttpResponse: ...


class Refused(Exception):
    """The request cannot be served: answer ``status`` as API Gateway's JSON error, then close."""

    def __init__(self, status: int, why: str = ""):
        super().__init__(why or str(status))
        self.status = status

    def response(self) -> HttpResponse:
        if self.status == 413:
            return too_large()
        return gateway_error(self.status, phrase(self.status))


class _Gone(Exception):
    """The client went away or timed out: close without an answer."""


def phrase(status: int) -> str:
    """The reason phrase of ``status`` ("" for one HTTP does not name)."""
    if status in _PHRASES:
        return _PHRASES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


_date_cache: tuple[int, bytes] = (0, b"")


def _date() -> bytes:
    """``Date`` in IMF-fixdate, computed once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode())
    return _date_cache[1]


# --- requests -----------------------------------------------------------------------------------------


def check_head(head: bytes) -> None:
    """The checks h11 does not make, on a request's raw head (request line to the blank line):
    :class:`Refused` for too many header lines (431), obsolete line folding (400; h11 would unfold it),
    or more than one ``Content-Length`` / a list in one (400; h11 would merge equal values)."""
    if head.count(b"\n") - 2 > MAX_HEADERS:
        raise Refused(431, "too many header lines")
    if _FOLD.search(head, head.find(b"\n")):
        raise Refused(400, "obsolete line folding")
    lengths = _CONTENT_LENGTH.findall(head)
    if len(lengths) > 1 or any(b"," in value for value in lengths):
        raise Refused(400, "more than one Content-Length")


def check_request(request: h11.Request, head: bytes, quota: int | None = MAX_HEADER_BYTES) -> None:
    """The checks on a parsed request: HTTP version (505), the header ``quota`` of HTTP APIs (431; None:
    none), ``Content-Length`` with ``Transfer-Encoding`` (400)."""
    if request.http_version not in (b"1.1", b"1.0"):
        raise Refused(505, "HTTP version")
    line_end = head.find(b"\n")
    line = len(head[:line_end].rstrip(b"\r"))
    names = set()
    total = line
    for name, value in request.headers.raw_items():  # (Headers' own iteration is slow)
        names.add(name.lower())
        total += len(value)
    if quota is not None and total > quota:
        raise Refused(431, "request line and header values over 10240 bytes")
    if b"transfer-encoding" in names and b"content-length" in names:
        raise Refused(400, "Content-Length with Transfer-Encoding")


def _refusal(error: h11.RemoteProtocolError) -> Refused:
    """h11's complaint about the client as a refusal: its hint (400, 431), except a transfer coding it does
    not support (its 501), which is a smuggling shape here: 400."""
    status = error.error_status_hint if error.error_status_hint in (400, 431) else 400
    return Refused(status, str(error))


def parse_head(head: bytes, quota: int | None = MAX_HEADER_BYTES) -> h11.Request:
    """A complete request head (request line to its blank line) parsed and checked as :class:`HttpConnection`
    does: the :class:`h11.Request`, or :class:`Refused`. For servers that read heads themselves (the
    WebSocket front)."""
    check_head(head)
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES + MAX_REQUEST_LINE)
    conn.receive_data(head)
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError as error:
        raise _refusal(error) from None
    if not isinstance(event, h11.Request):
        raise Refused(400, "incomplete head")
    check_request(event, head, quota)
    return event


def head_end(buffer: bytes | bytearray, start: int = 0) -> int:
    """Where the head in ``buffer`` ends (past its blank line), or -1 while it is incomplete (``start``: where
    the previous call left off); :class:`Refused` as soon as it is too long: 414 for a request line over
    :data:`MAX_REQUEST_LINE`, 431 for header lines over :data:`MAX_HEAD_BYTES`."""
    line_end = buffer.find(b"\n", 0, MAX_REQUEST_LINE + 2)
    if line_end < 0:
        if len(buffer) > MAX_REQUEST_LINE + 1:
            raise Refused(414, "request line over 64 KiB")
        return -1
    match = _HEAD_END.search(buffer, max(0, start - 2))
    end = match.end() if match else len(buffer)
    if end - line_end > MAX_HEAD_BYTES:
        raise Refused(431, "header lines over 64 KiB")
    return end if match else -1


def request_of(event: h11.Request, body: bytes, source_ip: str) -> HttpRequest:
    """The gateway's :class:`HttpRequest` of a parsed request (names in their original case, Latin-1)."""
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers.raw_items()]
    return HttpRequest.from_target(event.method.decode("ascii"), event.target.decode("ascii"), headers=headers,
                                   body=body, source_ip=source_ip,
                                   protocol=f"HTTP/{event.http_version.decode('ascii')}")


# --- responses ----------------------------------------------------------------------------------------


def header_bytes(name: object, value: object) -> tuple[bytes, bytes]:
    """A response header as bytes, its value stripped of surrounding whitespace; ``ValueError`` unless the
    name is a token and the value Latin-1 text without CR, LF, NUL or another control character (h11
    checks names and CR/LF/NUL again when the response is built; the other controls only here)."""
    if not isinstance(name, str) or not isinstance(value, str):
        raise ValueError(f"header {name!r}: {value!r} is not text")
    value = value.strip(" \t")
    if _CONTROL.search(value) or not _TOKEN.fullmatch(name):
        raise ValueError(f"header {name!r}: {value!r} is not valid HTTP")
    return name.encode("ascii"), value.encode("latin-1")  # UnicodeEncodeError is a ValueError


def response_headers(response: HttpResponse, close: bool) -> list[tuple[bytes, bytes]]:
    """The headers to send for ``response``: ``Server``, ``Date``, the handler's (less the framing ones), the
    computed ``Content-Length`` (none for 204 and 304), ``Connection: close`` when closing. ``ValueError``
    when a header is not valid HTTP (:func:`header_bytes`)."""
    headers = [(b"Server", SERVER_NAME), (b"Date", _date())]
    for name, value in response.headers:
        if isinstance(name, str) and name.lower() in _DROPPED:
            continue
        headers.append(header_bytes(name, value))
    if response.status not in _NO_BODY:
        headers.append((b"Content-Length", b"%d" % len(response.body)))
    if close:
        headers.append((b"Connection", b"close"))
    return headers


def _head(status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, phrase(status).encode())]
    lines += [name + b": " + value + b"\r\n" for name, value in headers]
    lines.append(b"\r\n")
    return b"".join(lines)


def render(response: HttpResponse, close: bool, head_only: bool = False) -> bytes:
    """``response`` as bytes on the wire: status line, :func:`response_headers`, the body (none for ``HEAD``,
    204 and 304). A response whose status is not a final one (200-599) or whose headers are not valid HTTP
    becomes 500 ``{"message":"Internal Server Error"}`` (logged), its ``apigw-requestid`` kept.

    Responses are written here rather than by h11: every header has already been checked by
    :func:`header_bytes` (stricter than h11's writer, which lets control characters by), and h11's writer
    validates each header twice more, which cost as much as parsing the request (see
    ``scripts/bench_gateway.py``)."""
    status = response.status
    try:
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise ValueError(f"status {status!r} is not a final HTTP status")
        head = _head(status, response_headers(response, close))
    except ValueError as error:  # UnicodeEncodeError included
        _log.error("the local gateway refused a response that is not valid HTTP (status %r): %s", status, error)
        fallback = internal_error(response.header("apigw-requestid") or "")
        try:
            headers = response_headers(fallback, close)
        except ValueError:  # the request id itself was the bad header
            fallback = internal_error()
            headers = response_headers(fallback, close)
        return _head(500, headers) + (b"" if head_only else fallback.body)
    if head_only or status in _NO_BODY or not response.body:
        return head
    return head + response.body


_OVERLOADED = render(gateway_error(503, "Service Unavailable"), close=True)


# --- one connection -----------------------------------------------------------------------------------


class HttpConnection:
    """One client connection, served request after request (keep-alive) until it closes, errs or idles."""

    def __init__(self, sock: socket.socket, source_ip: str, gateway: Gateway):
        self.sock = sock
        self.source_ip = source_ip
        self.gateway = gateway
        self.conn = self._parser(b"")
        self._timeout: float | None = None

    @staticmethod
    def _parser(pending: bytes) -> h11.Connection:
        """A new h11 parser for the next request, fed what the client sent already (pipelining)."""
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES + MAX_REQUEST_LINE)
        if pending:
            conn.receive_data(pending)
        return conn

    def serve(self) -> None:
        try:
            while self._one():
                self.conn = self._parser(self.conn.trailing_data[0])
        except (_Gone, OSError):
            pass

    def _one(self) -> bool:
        """Serve one request; True to go on with the next one on this connection (HTTP/1.1 without
        ``Connection: close``)."""
        try:
            event = self._read_head()
            body = self._read_body(event)
        except Refused as refused:
            self._write(render(refused.response(), close=True))
            self._linger()
            return False
        keep_alive = event.http_version == b"1.1" and not any(
            name.lower() == b"connection" and b"close" in [t.strip() for t in value.lower().split(b",")]
            for name, value in event.headers.raw_items())
        request = request_of(event, body, self.source_ip)
        try:
            response = self.gateway.handle(request)
        except Exception:  # a gateway bug answers 500; the server lives on
            _log.exception("the local gateway failed on %s %s", request.method, request.raw_path)
            response = internal_error()
        self._write(render(response, close=not keep_alive, head_only=event.method == b"HEAD"))
        return keep_alive

    def _write(self, data: bytes) -> None:
        """Write a whole response in one ``sendall`` (status line, headers and body)."""
        self._set_timeout(IDLE_TIMEOUT_S)
        self.sock.sendall(data)

    def _set_timeout(self, timeout: float) -> None:
        if timeout != self._timeout:  # a system call each time: skipped when unchanged (most requests)
            self.sock.settimeout(timeout)
            self._timeout = timeout

    def _recv(self, timeout: float) -> bytes:
        if timeout <= 0:
            raise _Gone
        self._set_timeout(timeout)
        try:
            return self.sock.recv(65536)
        except (TimeoutError, OSError):
            raise _Gone from None

    def _read_head(self) -> h11.Request:
        """Bytes until a whole head is in (the first within :data:`IDLE_TIMEOUT_S`, all of it within
        :data:`HEADER_TIMEOUT_S` of the first), checked, then parsed by h11."""
        buffer = bytearray(self.conn.trailing_data[0])  # what a pipelining client sent already (a copy)
        deadline = time.monotonic() + HEADER_TIMEOUT_S if buffer else None
        scanned = 0
        while (end := head_end(buffer, scanned)) < 0:
            scanned = len(buffer)
            if deadline is None:
                data = self._recv(IDLE_TIMEOUT_S)
                deadline = time.monotonic() + HEADER_TIMEOUT_S
            else:
                data = self._recv(deadline - time.monotonic())
            if not data:
                raise _Gone
            buffer += data
            self.conn.receive_data(data)
        head = bytes(buffer[:end])
        check_head(head)
        event = self._next()
        if not isinstance(event, h11.Request):
            raise Refused(400, "no request")
        check_request(event, head)
        return event

    def _next(self) -> Any:
        """h11's next event, reading more (each read within :data:`IDLE_TIMEOUT_S`) while it needs data."""
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as error:
                raise _refusal(error) from None
            if event is h11.NEED_DATA:
                self.conn.receive_data(self._recv(IDLE_TIMEOUT_S))  # b"": the client's end (h11 decides)
                continue
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                raise _Gone
            return event

    def _pending_chunk(self) -> int:
        """Bytes still due in the chunk being read: h11 exposes no chunk size, so this reads its chunked
        reader's counter (0 if h11 ever renames it: the body limit then applies to bytes received only)."""
        return int(getattr(getattr(self.conn, "_reader", None), "_bytes_in_chunk", 0) or 0)

    def _read_body(self, event: h11.Request) -> bytes:
        """The body, de-chunked; 413 as soon as it is known to exceed 10 MB (declared or received)."""
        length = next((int(v) for k, v in event.headers.raw_items() if k.lower() == b"content-length"), 0)
        if length > MAX_REQUEST_BYTES:
            raise Refused(413)
        if self.conn.they_are_waiting_for_100_continue:
            self.sock.sendall(self.conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
        chunks, total = [], 0
        while True:
            part = self._next()
            if isinstance(part, h11.EndOfMessage):
                return b"".join(chunks)
            total += len(part.data)
            if total + self._pending_chunk() > MAX_REQUEST_BYTES:
                raise Refused(413)
            chunks.append(part.data)

    def _linger(self) -> None:
        """After an error answer: stop sending, read and drop what the client still sends for at most
        :data:`LINGER_S` (closing with unread data would reset the connection before it reads the answer)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_S
            received = 0
            while (left := deadline - time.monotonic()) > 0 and received <= MAX_REQUEST_BYTES:
                self._set_timeout(left)
                data = self.sock.recv(65536)
                if not data:
                    break
                received += len(data)


# --- the server ---------------------------------------------------------------------------------------


class Server(socketserver.TCPServer):
    """One listening socket on ``address`` serving ``gateway``: ``serve_forever()`` in a thread of its own,
    then ``shutdown()`` and ``server_close()``. Each connection gets a daemon thread, at most
    ``max_connections`` (:data:`MAX_CONNECTIONS`) at once; the next ones get 503 and are closed."""

    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], gateway: Gateway, max_connections: int | None = None):
        self.gateway = gateway
        self.max_connections = max_connections or MAX_CONNECTIONS
        self._slots = threading.BoundedSemaphore(self.max_connections)
        super().__init__(address, socketserver.BaseRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.settimeout(1.0)
                request.sendall(_OVERLOADED)
            self.shutdown_request(request)
            return
        try:
            threading.Thread(target=self._serve, args=(request, client_address), daemon=True,
                             name="sstdirect-gateway-connection").start()
        except BaseException:
            self._slots.release()
            self.shutdown_request(request)
            raise

    def _serve(self, sock: socket.socket, client_address: Any) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # keep-alive + small writes
            HttpConnection(sock, client_address[0], self.gateway).serve()
        except Exception:  # a bug here ends this connection only
            _log.exception("the local gateway failed on a connection")
        finally:
            self.shutdown_request(sock)
            self._slots.release()
