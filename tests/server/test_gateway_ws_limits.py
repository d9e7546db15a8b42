"""The local gateway's WebSocket front under hostile clients, over raw sockets: its HTTP framing is the HTTP
servers' (h11, smuggling shapes refused), a ``$connect`` answer cannot forge the handshake response, and what
waits to be sent to a client that does not read (pongs to its pings, replies) is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import textwrap
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest

from sstdirect import App, WebSocketApi
from sstdirect.local import LocalCloud
from sstdirect.local.gateway import ws_server
from sstdirect.overrides import Overrides, declaring

CONNECT = """
    def main(event, context):
        query = event.get("queryStringParameters") or {}
        if "protocol" in query:
            return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": query["protocol"]}}
        return {"statusCode": 200}
"""
DEFAULT = """
    def main(event, context):
        return {"statusCode": 200}
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("wslimits")
    (tmp / "src").mkdir()
    (tmp / "src" / "connect.py").write_text(textwrap.dedent(CONNECT))
    (tmp / "src" / "default.py").write_text(textwrap.dedent(DEFAULT))
    with LocalCloud() as cloud:
        cloud.reset()
        with declaring(Overrides(endpoint_url=cloud.endpoint_url, region=cloud.region, session=cloud.session(),
                                 state_dir=str(tmp / "state"))):
            app = App("wslimits", stage="test", root=tmp)
            ws = WebSocketApi(app, "Ws", routes={"$connect": "src/connect.main", "$default": "src/default.main"})
            app.deploy()
        with cloud.serve(app) as gw:
            url = urlparse(gw.url(ws))
            yield {"gw": gw, "api_id": ws.id, "address": (url.hostname, url.port), "stage": url.path}


def handshake(path: str, extra: str = "") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").encode()


def read_head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return head


def open_websocket(served: dict[str, Any]) -> socket.socket:
    sock = socket.create_connection(served["address"], timeout=10)
    sock.sendall(handshake(served["stage"]))
    head = read_head(sock)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock


def peers(served: dict[str, Any]) -> dict[str, Any]:
    """The server's open connections of the API (white box: what the server holds for each client)."""
    return served["gw"]._ws_server.apis[served["api_id"]].peers


def wait_for_peer(served: dict[str, Any], known: set[str]) -> Any:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        new = [p for cid, p in list(peers(served).items()) if cid not in known]
        if new:
            return new[0]
        time.sleep(0.02)
    raise AssertionError("the connection never opened")


# A client's PING with a 125-byte payload (the largest a control frame takes), masked with a zero key.
PING = bytes([0x89, 0x80 | 125]) + b"\x00\x00\x00\x00" + b"p" * 125


def flood_pings(sock: socket.socket, total: int) -> int:
    """Send up to ``total`` bytes of pings, never reading; stops once the server has stopped reading for 2 s
    (TCP's buffers full). Returns the bytes sent."""
    blob = PING * (256 * 1024 // len(PING))
    sent = 0
    sock.settimeout(2)
    with contextlib.suppress(OSError):  # TimeoutError: the server reads no more; a reset: it dropped us
        while sent < total:
            sock.sendall(blob)
            sent += len(blob)
    return sent


def test_pongs_to_a_client_that_does_not_read_are_bounded(served: dict[str, Any]) -> None:
    """RFC 6455 §5.5.2 makes every ping owe a pong; a client that pings without reading must not make the
    server queue pongs without end: past READ_PAUSE_BYTES unsent, its frames are no longer read."""
    known = set(peers(served))
    sock = open_websocket(served)
    try:
        peer = wait_for_peer(served, known)
        flood_pings(sock, 16 * 1024 * 1024)
        time.sleep(0.5)  # the server works through what it has read
        unsent = peer.writer.transport.get_write_buffer_size()
        assert unsent <= ws_server.READ_PAUSE_BYTES + 256 * 1024, unsent
    finally:
        sock.close()


def test_a_client_past_the_outgoing_limit_is_dropped(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The hard bound behind the backpressure (shortened here, with reading never paused): once more than
    OUTGOING_LIMIT bytes wait for a client, it is dropped rather than buffered for."""
    monkeypatch.setattr(ws_server, "READ_PAUSE_BYTES", 1 << 40, raising=False)
    monkeypatch.setattr(ws_server, "OUTGOING_LIMIT", 256 * 1024, raising=False)
    known = set(peers(served))
    sock = open_websocket(served)
    try:
        peer = wait_for_peer(served, known)
        flood_pings(sock, 16 * 1024 * 1024)
        deadline = time.monotonic() + 10
        while peer.info.connection_id in peers(served) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert peer.info.connection_id not in peers(served), "a client that never reads was kept"
        assert peer.writer.transport.get_write_buffer_size() == 0
    finally:
        sock.close()


@pytest.mark.parametrize("protocol", ["chat%0D%0AX-Injected:%201", "chat%0AX-Injected:%201", "chat%00",
                                      "%E2%82%AC"])
def test_a_connect_header_that_is_not_valid_http_is_a_502_never_a_forged_handshake(
        served: dict[str, Any], protocol: str) -> None:
    """``$connect`` answers its own ``Sec-WebSocket-Protocol``: CR/LF, NUL or a non-Latin-1 value in it makes
    the answer unusable, so the handshake fails as a failed ``$connect`` does (502, SEMANTICS §6.2)."""
    with socket.create_connection(served["address"], timeout=10) as sock:
        sock.sendall(handshake(f"{served['stage']}?protocol={protocol}", "Sec-WebSocket-Protocol: chat\r\n"))
        head = read_head(sock)
    assert head.startswith(b"HTTP/1.1 502 "), head
    assert b"x-injected" not in head.lower()


MANAGEMENT_SMUGGLING = {
    "content-length +5": b"Content-Length: +5\r\n\r\nhello",
    "obs-fold": b"X-Fold: a\r\n folded\r\nContent-Length: 0\r\n\r\n",
    "content-length with transfer-encoding": b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two content-lengths": b"Content-Length: 0\r\nContent-Length: 5\r\n\r\n",
    "transfer-encoding xchunked": b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("case", list(MANAGEMENT_SMUGGLING))
def test_management_requests_in_smuggling_shapes_are_400(served: dict[str, Any], case: str) -> None:
    with socket.create_connection(served["address"], timeout=10) as sock:
        sock.sendall(f"POST {served['stage']}/@connections/abc HTTP/1.1\r\nHost: localhost\r\n".encode()
                     + MANAGEMENT_SMUGGLING[case])
        raw = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                raw += chunk
    assert raw.startswith(b"HTTP/1.1 400 ") and raw.endswith(b'{"message":"Bad Request"}'), raw
    assert b"\r\nConnection: close\r\n" in raw
