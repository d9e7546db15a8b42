"""Malformed HTTP traffic to the local gateway, over real sockets: it answers as API Gateway would (or with
an INFERRED status where AWS documents none) and keeps serving.

Each case sends raw bytes on its own connection, checks the answer, then checks that a normal request on
a new connection is still served. The framing is strict HTTP/1.1 (RFC 9112, h11): request smuggling shapes
are 400 and close the connection, a handler's invalid header is a 500 (never a split response), the
gateway computes Content-Length itself, trickled heads, connection floods and the listen backlog are bounded.
"""

from __future__ import annotations

import contextlib
import json
import re
import select
import shutil
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sstdirect import Api, App
from sstdirect.local import LocalCloud
from sstdirect.local.gateway import http11
from sstdirect.local.gateway import server as gateway_server
from sstdirect.overrides import Overrides, declaring

ECHO = """
    import json

    def main(event, context):
        return {"statusCode": 200, "headers": {"content-type": "application/json"},
                "body": json.dumps({"body": event.get("body"), "b64": event.get("isBase64Encoded"),
                                    "routeKey": event["routeKey"], "path": event["rawPath"]})}
"""

# Responses whose headers are not valid HTTP (RFC 9110 §5.1 names are tokens, §5.5 values hold no CR, LF,
# NUL or other controls; HTTP/1.1 headers are Latin-1), and framing headers the gateway must not trust.
BAD_HEADERS = """
    CASES = {
        "crlf-value": {"headers": {"x-a": "a\\r\\nX-Injected: 1"}},
        "lf-value": {"headers": {"x-a": "a\\nX-Injected: 1"}},
        "cr-value": {"headers": {"x-a": "a\\rX-Injected: 1"}},
        "nul-value": {"headers": {"x-a": "a\\u0000b"}},
        "control-value": {"headers": {"x-a": "a\\u0001b"}},
        "crlf-name": {"headers": {"x-a\\r\\nX-Injected": "1"}},
        "space-name": {"headers": {"x a": "1"}},
        "colon-name": {"headers": {"x-a:X-Injected": "1"}},
        "empty-name": {"headers": {"": "1"}},
        "non-latin-1-value": {"headers": {"x-a": "\\u20ac"}},
        "non-latin-1-name": {"headers": {"x-\\u00e9": "1"}},
        "crlf-cookie": {"cookies": ["a=b\\r\\nX-Injected: 1"]},
        "status-line-split": {"headers": {"x-a": "1\\r\\n\\r\\nHTTP/1.1 200 OK"}},
        "latin-1-value": {"headers": {"x-a": "caf\\u00e9"}},
        "content-length-short": {"headers": {"content-length": "1"}},
        "content-length-long": {"headers": {"Content-Length": "500"}},
        "transfer-encoding": {"headers": {"transfer-encoding": "chunked"}},
    }

    def main(event, context):
        return {"statusCode": 200, "body": "hello", **CASES[event["pathParameters"]["case"]]}
"""


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    tmp = tmp_path_factory.mktemp("malformed")
    (tmp / "src").mkdir()
    (tmp / "src" / "echo.py").write_text(textwrap.dedent(ECHO))
    (tmp / "src" / "bad.py").write_text(textwrap.dedent(BAD_HEADERS))
    with LocalCloud() as cloud:
        cloud.reset()
        with declaring(Overrides(endpoint_url=cloud.endpoint_url, region=cloud.region, session=cloud.session(),
                                 state_dir=str(tmp / "state"))):
            app = App("malformed", stage="dev", root=tmp)
            api = Api(app, "Api", routes={"POST /echo": "src/echo.main", "GET /echo/{proxy+}": "src/echo.main",
                                          "GET /bad/{case}": "src/bad.main"})
            app.deploy()
        with cloud.serve(app) as gateway:
            url = urlparse(gateway.url(api))
            yield url.hostname or "127.0.0.1", url.port or 80


def exchange(address: tuple[str, int], data: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` on a fresh connection, half-close, read one response: (status, headers, body)."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        raw = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            raw += chunk
            if response_complete(raw):
                break
    return parse_response(raw)


def response_complete(raw: bytes) -> bool:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1."), raw[:200]
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def get(path: str = "/echo/ok") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()


def still_serving(address: tuple[str, int]) -> None:
    status, _, body = exchange(address, get())
    assert status == 200 and json.loads(body)["routeKey"] == "GET /echo/{proxy+}"


def gateway_error(response: tuple[int, dict[str, str], bytes], status: int, message: str) -> None:
    got, headers, body = response
    assert (got, json.loads(body)) == (status, {"message": message}), body
    assert headers["content-type"] == "application/json"


def post(body: bytes, extra: str = "", length: str | None = None) -> bytes:
    length_line = f"Content-Length: {len(body) if length is None else length}\r\n" if length != "" else ""
    return (f"POST /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{extra}{length_line}\r\n"
            .encode() + body)


BAD_REQUESTS = {
    "garbage request line": (b"GARBAGE\r\n\r\n", 400, "Bad Request"),
    "four words": (b"GET /echo/x HTTP/1.1 extra\r\n\r\n", 400, "Bad Request"),
    "bad version": (b"GET /echo/x HTTP/9.9\r\nHost: x\r\n\r\n", 505, "HTTP Version Not Supported"),
    "malformed version": (b"GET /echo/x FOO/1.1\r\nHost: x\r\n\r\n", 400, "Bad Request"),
    "HTTP/0.9 POST": (b"POST /echo\r\n\r\n", 400, "Bad Request"),
    "request line over 64 KB": (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414, "URI Too Long"),
    "one header line over 64 KB": (b"GET /echo/x HTTP/1.1\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431,
                                   "Request Header Fields Too Large"),
    "over 100 headers": (b"GET /echo/x HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(120))
                         + b"\r\n", 431, "Request Header Fields Too Large"),
    # API Gateway's quota: request line + header values at most 10240 bytes (status INFERRED: 431)
    "headers over 10240 bytes": (b"GET /echo/x HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-H%d: %s\r\n" % (i, b"v" * 2000) for i in range(6)) + b"\r\n", 431, "Request Header Fields Too Large"),
    "url over 10240 bytes": (get("/echo/" + "a" * 10300), 431, "Request Header Fields Too Large"),
    "negative content-length": (post(b"{}", length="-1"), 400, "Bad Request"),
    "garbage content-length": (post(b"{}", length="12abc"), 400, "Bad Request"),
    "two content-lengths in one": (post(b"{}", length="2, 2"), 400, "Bad Request"),
    "body over 10 MB (not sent)": (post(b"x" * 1000, length=str(10 * 1024 * 1024 + 1)), 413,
                                   "Request Entity Too Large"),
    "chunk size not hex": (post(b"zz\r\nab\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n", ""), 400,
                           "Bad Request"),
    "negative chunk size": (post(b"-5\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n", ""), 400,
                            "Bad Request"),
    "chunks over 10 MB": (post(b"A00001\r\n" + b"x" * 100, "Transfer-Encoding: chunked\r\n", ""), 413,
                          "Request Entity Too Large"),
    "unknown route": (get("/nope"), 404, "Not Found"),
    "unknown method": (b"BREW /echo/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "Not Found"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_malformed_requests_get_api_gateway_errors_and_the_server_keeps_serving(
        address: tuple[str, int], case: str) -> None:
    data, status, message = BAD_REQUESTS[case]
    gateway_error(exchange(address, data), status, message)
    still_serving(address)


ODD_REQUESTS = {
    "non-UTF-8 header value": b"X-Utf: \xc3\xa9\xff\r\n",  # obs-text: valid, passed on as Latin-1
    "non-UTF-8 cookie": b"Cookie: \xff=\xfe; a\r\n",
}
ODD_TARGETS = ["/echo/%zz", "/echo/a?%zz=%%&x&=&a=1&a=2", "http://evil.com/echo/x", "*",
               "/echo/" + "%2F" * 100]


@pytest.mark.parametrize("case", list(ODD_REQUESTS))
def test_odd_headers_are_answered_and_the_server_keeps_serving(address: tuple[str, int], case: str) -> None:
    """No documented API Gateway answer: what matters is a well-formed reply (never a crash, never a 5xx)."""
    data = b"GET /echo/x HTTP/1.1\r\nHost: x\r\n" + ODD_REQUESTS[case] + b"Connection: close\r\n\r\n"
    status, _, body = exchange(address, data)
    assert status == 200 and json.loads(body)["routeKey"] == "GET /echo/{proxy+}"
    still_serving(address)


def exchange_all(address: tuple[str, int], data: bytes, timeout: float = 5) -> tuple[list[tuple[int, dict[str, str],
                                                                                            bytes]], bool]:
    """Send ``data`` on a fresh connection (not half-closed: a server may keep it for the next request), read
    every response until the server closes or ``timeout`` passes: (responses, closed by the server)."""
    raw, closed = b"", False
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            raw += chunk
    responses = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, raw[:300]
        status, headers, _ = parse_response(head + sep)
        length = int(headers.get("content-length", "0"))
        responses.append((status, headers, rest[:length]))
        raw = rest[length:]
    return responses, closed


SMUGGLED = b"GET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
# Request smuggling shapes (RFC 9112 §6.1, §6.3, §5.2; RFC 9110 §8.6): each would let a proxy in front and the
# gateway disagree on where the request ends. The second request hidden in each must never be answered.
SMUGGLING = {
    "content-length with transfer-encoding": b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                                             + SMUGGLED,
    "transfer-encoding then content-length": b"Transfer-Encoding: chunked\r\nContent-Length: 46\r\n\r\n0\r\n\r\n"
                                             + SMUGGLED,
    "two differing content-lengths": b"Content-Length: 0\r\nContent-Length: 46\r\n\r\n" + SMUGGLED,
    "two equal content-lengths": b"Content-Length: 0\r\nContent-Length: 0\r\n\r\n" + SMUGGLED,
    "content-length +0": b"Content-Length: +0\r\n\r\n" + SMUGGLED,
    "content-length +5": b"Content-Length: +5\r\n\r\nhello" + SMUGGLED,
    "content-length 0x0": b"Content-Length: 0x0\r\n\r\n" + SMUGGLED,
    "obs-fold in content-length": b"Content-Length: \r\n 0\r\n\r\n" + SMUGGLED,
    "obs-fold in another header": b"X-Fold: a\r\n continued\r\nContent-Length: 0\r\n\r\n" + SMUGGLED,
    "obs-fold with a tab": b"X-Fold: a\r\n\tcontinued\r\nContent-Length: 0\r\n\r\n" + SMUGGLED,
    "transfer-encoding xchunked": b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "transfer-encoding chunked-false": b"Transfer-Encoding: chunked-false\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "transfer-encoding identity": b"Transfer-Encoding: identity\r\nContent-Length: 0\r\n\r\n" + SMUGGLED,
    "transfer-encoding gzip, chunked": b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "two transfer-encodings": b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                              + SMUGGLED,
    "space before the colon": b"Content-Length : 46\r\n\r\n" + SMUGGLED,
    "header name with a space": b"Content Length: 46\r\n\r\n" + SMUGGLED,
    "header line without a colon": b"nocolon\r\nContent-Length: 0\r\n\r\n" + SMUGGLED,
    "NUL in a header value": b"X-Nul: a\x00b\r\nContent-Length: 0\r\n\r\n" + SMUGGLED,
    "bare CR in a header value": b"X-Cr: a\rContent-Length: 46\r\n\r\n" + SMUGGLED,
}


@pytest.mark.parametrize("case", list(SMUGGLING))
def test_request_smuggling_shapes_are_400_and_close_the_connection(address: tuple[str, int], case: str) -> None:
    data = b"POST /echo HTTP/1.1\r\nHost: x\r\n" + SMUGGLING[case]
    responses, closed = exchange_all(address, data)
    assert [r[0] for r in responses] == [400], responses
    gateway_error(responses[0], 400, "Bad Request")
    assert responses[0][1].get("connection") == "close" and closed
    still_serving(address)


@pytest.mark.parametrize("target", ["/echo/\xff\xfe", "/echo/a\x01b", "/echo/a\x7fb"])
def test_a_request_target_that_is_not_visible_ascii_is_400(address: tuple[str, int], target: str) -> None:
    """RFC 9112 §3.2: the request target is visible ASCII (non-ASCII is percent-encoded by clients)."""
    data = b"GET " + target.encode("latin-1") + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    responses, closed = exchange_all(address, data)
    assert [r[0] for r in responses] == [400] and closed
    still_serving(address)


INVALID_RESPONSE_HEADERS = ["crlf-value", "lf-value", "cr-value", "nul-value", "control-value", "crlf-name",
                            "space-name", "colon-name", "empty-name", "non-latin-1-value", "non-latin-1-name",
                            "crlf-cookie", "status-line-split"]


@pytest.mark.parametrize("case", INVALID_RESPONSE_HEADERS)
def test_a_handler_header_that_is_not_valid_http_is_a_500_never_a_split_response(
        address: tuple[str, int], case: str) -> None:
    """The whole response becomes API Gateway's 500; nothing the handler wrote reaches the wire, and the
    keep-alive connection stays in step (the next request on it is answered)."""
    data = f"GET /bad/{case} HTTP/1.1\r\nHost: x\r\n\r\n".encode() + get()
    responses, _ = exchange_all(address, data)
    assert [r[0] for r in responses] == [500, 200], responses
    _, headers, body = responses[0]
    assert json.loads(body) == {"message": "Internal Server Error"} and headers["content-type"] == "application/json"
    assert "x-injected" not in headers and "x-a" not in headers and b"hello" not in body
    assert headers["content-length"] == str(len(body)) and headers.get("apigw-requestid")
    assert json.loads(responses[1][2])["routeKey"] == "GET /echo/{proxy+}"


def test_a_latin_1_header_value_is_sent_as_latin_1(address: tuple[str, int]) -> None:
    responses, _ = exchange_all(address, get("/bad/latin-1-value"))
    assert responses[0][0] == 200 and responses[0][1]["x-a"] == "café"


@pytest.mark.parametrize("case", ["content-length-short", "content-length-long", "transfer-encoding"])
def test_the_gateway_computes_content_length_itself(address: tuple[str, int], case: str) -> None:
    """A handler's own content-length / transfer-encoding is dropped: the body is framed by its real length,
    and the next request on the connection is answered in step."""
    data = f"GET /bad/{case} HTTP/1.1\r\nHost: x\r\n\r\n".encode() + get()
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(data)
        raw = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert len(re.findall(rb"(?im)^content-length:", head)) == 1 and b"transfer-encoding" not in head.lower()
    assert re.search(rb"(?im)^content-length: 5\r?$", head) and rest.startswith(b"helloHTTP/1.1 200 "), raw


@pytest.mark.parametrize("target", ODD_TARGETS)
def test_odd_request_targets_are_routed_or_not_found(address: tuple[str, int], target: str) -> None:
    data = b"GET " + target.encode("latin-1") + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    status, headers, body = exchange(address, data)
    assert status in (200, 404) and headers["content-type"] == "application/json", body
    if status == 404:
        assert json.loads(body) == {"message": "Not Found"}  # an absolute-form or '*' target matches no route
    still_serving(address)


def test_header_limit_counts_the_request_line_and_header_values(address: tuple[str, int]) -> None:
    # just under the limit passes: 10240 bytes of request line + values
    line = "GET /echo/x HTTP/1.1"
    fill = 10240 - len(line) - len("localhost") - len("close")
    data = (f"{line}\r\nHost: localhost\r\nConnection: close\r\nX-Fill: {'v' * fill}\r\n\r\n").encode()
    assert exchange(address, data)[0] == 200
    data = data.replace(b"X-Fill: ", b"X-Fill: v")
    gateway_error(exchange(address, data), 431, "Request Header Fields Too Large")


@pytest.mark.parametrize("body", [b'{"broken": ', b"not json at all", b'{"a": 1}', b"\xff\xfe\x00binary"])
def test_any_body_is_passed_through_as_the_event_body(address: tuple[str, int], body: bytes) -> None:
    status, _, raw = exchange(address, post(body, "Content-Type: application/json\r\n"))
    assert status == 200
    event = json.loads(raw)
    if event["b64"]:
        import base64

        assert base64.b64decode(event["body"]) == body
    else:
        assert event["body"] == body.decode()
    still_serving(address)


def test_a_body_under_10_mb_but_over_lambdas_6_mb_is_413(address: tuple[str, int]) -> None:
    """Between the two limits (SEMANTICS §8): API Gateway takes the request, but the event cannot reach Lambda."""
    gateway_error(exchange(address, post(b"x" * (7 * 1024 * 1024), "Content-Type: text/plain\r\n"), timeout=30),
                  413, "Request Entity Too Large")
    still_serving(address)


def test_a_chunked_body_is_dechunked(address: tuple[str, int]) -> None:
    data = post(b"4;ext=1\r\n{\"a\"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n",
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n", "")
    status, _, raw = exchange(address, data)
    assert status == 200 and json.loads(raw)["body"] == '{"a": 1}'


def test_half_sent_requests_do_not_block_others_and_are_dropped(address: tuple[str, int],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Slowloris: connections that send part of a request and stall. Other clients are served meanwhile,
    and each stalled connection is closed by the server after its idle timeout or header deadline (shortened)."""
    monkeypatch.setattr(http11, "IDLE_TIMEOUT_S", 1.0)
    monkeypatch.setattr(http11, "HEADER_TIMEOUT_S", 1.0)
    stalled = []
    for partial in (b"GET /echo/x HTTP/1.1\r\nHost: x\r\n",  # headers never finished
                    b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\"",  # body cut short
                    b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nab",  # chunk cut
                    b"GE"):  # not even a request line
        sock = socket.create_connection(address, timeout=10)
        sock.sendall(partial)
        stalled.append(sock)
    try:
        began = time.monotonic()
        for _ in range(3):
            still_serving(address)
        assert time.monotonic() - began < 5  # not waiting behind the stalled connections
        results: list[bytes] = []

        def drain(sock: socket.socket) -> None:
            data = b""
            try:
                while chunk := sock.recv(65536):
                    data += chunk
            except OSError:
                pass
            results.append(data)

        threads = [threading.Thread(target=drain, args=(s,)) for s in stalled]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=8)
        assert len(results) == len(stalled), "a stalled connection was never closed by the server"
        assert all(not r.startswith(b"HTTP/1.1 200") for r in results)
    finally:
        for sock in stalled:
            sock.close()
    still_serving(address)


def test_many_requests_on_one_keep_alive_connection_after_errors(address: tuple[str, int]) -> None:
    """A 404 does not spoil a keep-alive connection; a framing error closes only its own connection."""
    with socket.create_connection(address, timeout=10) as sock:
        file = sock.makefile("rb")
        for path, want in (("/nope", 404), ("/echo/a", 200), ("/nope/again", 404), ("/echo/b", 200)):
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status_line = file.readline()
            assert int(status_line.split()[1]) == want
            length = 0
            while (line := file.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            file.read(length)


def test_the_timeouts_and_limits_are_set() -> None:
    assert http11.IDLE_TIMEOUT_S > 0 and 0 < http11.HEADER_TIMEOUT_S <= 60
    assert gateway_server.MAX_HEADER_BYTES == http11.MAX_HEADER_BYTES == 10240


def _dropped(sock: socket.socket, wait: float) -> bool:
    """True once the server has closed ``sock`` (EOF or reset), waiting at most ``wait`` seconds."""
    sock.settimeout(wait)
    try:
        return sock.recv(65536) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_a_head_trickled_byte_by_byte_is_dropped_at_the_header_deadline(address: tuple[str, int],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Slowloris proper: every byte arrives well within the idle timeout, but the head never ends. The
    connection is dropped once the header deadline (shortened to 1.5 s) has passed since its first byte."""
    monkeypatch.setattr(http11, "HEADER_TIMEOUT_S", 1.5, raising=False)
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(b"GET /echo/x HTTP/1.1\r\nHost: x\r\n")
        began, dropped = time.monotonic(), False
        while not dropped and time.monotonic() - began < 6:
            try:
                sock.sendall(b"X-Slow-%d: 1\r\n" % int((time.monotonic() - began) * 10))
            except OSError:
                dropped = True
                break
            dropped = _dropped(sock, 0.1)
        elapsed = time.monotonic() - began
    assert dropped, "a connection trickling its head was kept for 6 s"
    assert 1.3 < elapsed < 4, elapsed
    still_serving(address)


def test_connection_threads_are_bounded_and_the_next_connections_get_503(address: tuple[str, int]) -> None:
    """Idle connections hold a thread each, up to MAX_CONNECTIONS; the next ones are answered 503 at once
    and closed (INFERRED status) instead of each getting a thread; closing them frees the slots."""
    time.sleep(0.3)  # connections of earlier tests finish closing
    before = threading.active_count()
    extra = 8
    socks = [socket.create_connection(address, timeout=10) for _ in range(http11.MAX_CONNECTIONS + extra)]
    try:
        time.sleep(0.5)
        threads = threading.active_count() - before
        readable, _, _ = select.select(socks, [], [], 0.5)
        refused = [sock.recv(65536) for sock in readable]
        assert threads <= http11.MAX_CONNECTIONS, threads
        assert len(refused) >= extra
        for raw in refused:
            gateway_error(parse_response(raw), 503, "Service Unavailable")
    finally:
        for sock in socks:
            sock.close()
    time.sleep(0.5)
    still_serving(address)


def test_the_listen_backlog_is_bounded(address: tuple[str, int]) -> None:
    """The listening socket's accept queue (``ss`` shows it as Send-Q of a LISTEN socket) is LISTEN_BACKLOG,
    not http.server's 5 (a burst of clients then waits for SYN retries) nor unbounded."""
    if shutil.which("ss") is None:
        pytest.skip("needs iproute2's ss")
    out = subprocess.run(["ss", "-ltn", f"sport = :{address[1]}"], capture_output=True, text=True, check=True).stdout
    backlog = int(out.strip().splitlines()[-1].split()[2])
    with open("/proc/sys/net/core/somaxconn") as f:
        somaxconn = int(f.read())
    assert backlog == min(http11.LISTEN_BACKLOG, somaxconn) and 64 <= http11.LISTEN_BACKLOG <= 4096


def test_expect_100_continue_is_answered_before_the_body(address: tuple[str, int]) -> None:
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Connection: close\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 ")
        sock.sendall(b"{}")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    status, _, body = parse_response(raw)
    assert status == 200 and json.loads(body)["body"] == "{}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=200),
    st.tuples(st.sampled_from([b"GET", b"POST", b"", b"G\x00T", b"PUT"]), st.binary(max_size=40),
              st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2", b""]),
              st.lists(st.binary(max_size=30), max_size=4), st.binary(max_size=50)).map(
        lambda t: t[0] + b" /echo/" + t[1] + b" " + t[2] + b"\r\n" + b"".join(h + b"\r\n" for h in t[3])
        + b"\r\n" + t[4])))
def test_arbitrary_bytes_never_break_the_gateway(address: tuple[str, int], data: bytes) -> None:
    """Whatever arrives, the answer (if any) is a well-formed HTTP response that is not a gateway failure (500),
    and the next client is served."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(data)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
        raw = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                raw += chunk
    if raw:
        status, _, _ = parse_response(raw)
        assert 200 <= status < 600 and status != 500, raw[:300]
    still_serving(address)
