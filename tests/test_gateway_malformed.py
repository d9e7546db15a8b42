"""Malformed HTTP traffic to the local gateway, over real sockets: it answers as API Gateway would (or with
an INFERRED status where AWS documents none) and keeps serving.

Each case sends raw bytes on its own connection, checks the answer, then checks that a normal request on
a new connection is still served.
"""

from __future__ import annotations

import contextlib
import json
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sstdirect import Api, App
from sstdirect import app as app_module
from sstdirect.local import LocalCloud
from sstdirect.local.gateway import server as gateway_server

ECHO = """
    import json

    def main(event, context):
        return {"statusCode": 200, "headers": {"content-type": "application/json"},
                "body": json.dumps({"body": event.get("body"), "b64": event.get("isBase64Encoded"),
                                    "routeKey": event["routeKey"], "path": event["rawPath"]})}
"""


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    tmp = tmp_path_factory.mktemp("malformed")
    (tmp / "src").mkdir()
    (tmp / "src" / "echo.py").write_text(textwrap.dedent(ECHO))
    saved = dict(app_module.CLI_OVERRIDES)
    with LocalCloud() as cloud:
        cloud.reset()
        app_module.CLI_OVERRIDES.update(endpoint_url=cloud.endpoint_url, region=cloud.region,
                                        session=cloud.session(), state_dir=str(tmp / "state"))
        try:
            app = App("malformed", stage="dev", root=tmp)
            api = Api(app, "Api", routes={"POST /echo": "src/echo.main", "GET /echo/{proxy+}": "src/echo.main"})
            app.deploy()
        finally:
            app_module.CLI_OVERRIDES.clear()
            app_module.CLI_OVERRIDES.update(saved)
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
    "header name with a space": b"Bad Header: x\r\n",
    "NUL in a header value": b"X-Nul: a\x00b\r\n",
    "non-UTF-8 header value": b"X-Utf: \xc3\xa9\xff\r\n",
    "obsolete line folding": b"X-Fold: a\r\n  continued\r\n",
    "header line without a colon": b"nocolon\r\n",
    "non-UTF-8 cookie": b"Cookie: \xff=\xfe; a\r\n",
}
ODD_TARGETS = ["/echo/%zz", "/echo/a?%zz=%%&x&=&a=1&a=2", "/echo/\xff\xfe", "http://evil.com/echo/x", "*",
               "/echo/" + "%2F" * 100]


@pytest.mark.parametrize("case", list(ODD_REQUESTS))
def test_odd_headers_are_answered_and_the_server_keeps_serving(address: tuple[str, int], case: str) -> None:
    """No documented API Gateway answer: what matters is a well-formed reply (never a crash, never a 5xx)."""
    data = b"GET /echo/x HTTP/1.1\r\nHost: x\r\n" + ODD_REQUESTS[case] + b"Connection: close\r\n\r\n"
    status, _, body = exchange(address, data)
    assert status == 200 and json.loads(body)["routeKey"] == "GET /echo/{proxy+}"
    still_serving(address)


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
    and each stalled connection is closed by the server after its idle timeout (shortened here)."""
    monkeypatch.setattr(gateway_server._Handler, "timeout", 1.0)
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


def test_the_idle_timeout_is_set() -> None:
    assert gateway_server._Handler.timeout == gateway_server.IDLE_TIMEOUT_S > 0
    assert gateway_server.MAX_HEADER_BYTES == 10240


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
