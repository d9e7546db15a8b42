"""The WebSocket APIs' I/O: one asyncio event loop (its own thread) with one listening socket per
WebSocket API, each serving both the WebSocket endpoint ``/{stage}`` and its ``@connections`` API.

A small front reads each request head and parses it with :func:`.http11.parse_head` (h11, with the
HTTP servers' refusals of request smuggling shapes): ``/{stage}/@connections/...`` is answered as HTTP
(keep-alive, responses written by :func:`.http11.render`) by :mod:`.connections`; a ``GET`` of
``/{stage}`` is a WebSocket handshake, handed to ``websockets``' sans-I/O
:class:`~websockets.server.ServerProtocol` (``websockets``' own servers answer ``GET`` only, which is why
the front exists). The handshake waits for ``$connect`` (:meth:`WsGateway.connect`),
frames are run through the route's Lambda (:meth:`WsGateway.message`, concurrently, as API Gateway
does), and ``$disconnect`` runs after the close. Lambda calls are blocking, so they run in a thread
pool; everything touching a socket runs on the loop. Nothing a client sends can stop the server:
every connection's errors end that connection only, and what waits to be sent to one client is bounded:
past :data:`READ_PAUSE_BYTES` unsent its frames are not read (so its pings make no more pongs), past
:data:`SEND_BUFFER_LIMIT` ``@connections`` posts to it are 429, past :data:`OUTGOING_LIMIT` it is dropped.
A ``$connect`` answer whose headers are not valid HTTP is a 502, never a forged handshake response.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import CLOSED, OPEN
from websockets.server import ServerProtocol

from . import connections, http11
from .messages import HttpRequest
from .responses import MAX_REQUEST_BYTES, gateway_error
from .websocket import (
    CLOSE_ABNORMAL,
    CLOSE_GOING_AWAY,
    CLOSE_UNSUPPORTED,
    IDLE_TIMEOUT_S,
    MAX_DURATION_S,
    MAX_FRAME_BYTES,
    MAX_MESSAGE_BYTES,
    Connection,
    Handshake,
    WsGateway,
    bad_gateway,
    new_connection_id,
)

_log = logging.getLogger("sstdirect.local.gateway")
T = TypeVar("T")
HEAD_LIMIT = 16 * 1024  # request line + headers; more → 431
HEAD_TIMEOUT_S = 60.0  # a keep-alive connection idle this long between requests is closed
CLOSE_TIMEOUT_S = 5.0  # after a close frame, how long the client gets to finish the closing handshake
SEND_BUFFER_LIMIT = 4 * 1024 * 1024  # unsent bytes to one client before @connections answers 429
READ_PAUSE_BYTES = 1024 * 1024  # unsent bytes to one client past which its frames are not read (backpressure)
OUTGOING_LIMIT = 2 * SEND_BUFFER_LIMIT  # unsent bytes to one client past which it is dropped (never reads)


def _error(status: int, message: str) -> bytes:
    """API Gateway's compact JSON error, closing the connection."""
    return http11.render(gateway_error(status, message), close=True)


class Peer:
    """One open WebSocket client: its protocol state, its socket writer and what events show of it."""

    def __init__(self, info: Connection, protocol: ServerProtocol, writer: asyncio.StreamWriter):
        self.info = info
        self.protocol = protocol
        self.writer = writer
        self.closing_since: float | None = None
        self.dropped = False

    @property
    def is_open(self) -> bool:
        return self.protocol.state is OPEN

    @property
    def unsent(self) -> int:
        """Bytes written to this client that its socket has not taken yet."""
        return int(self.writer.transport.get_write_buffer_size())

    def flush(self) -> None:
        """Write what the protocol has to send (frames, pongs, closes); a client whose unsent bytes would pass
        :data:`OUTGOING_LIMIT` is dropped instead (the read loop then sees the end: 1006)."""
        for chunk in self.protocol.data_to_send():
            if self.dropped:
                continue
            with contextlib.suppress(Exception):  # a client gone mid-write: the read loop sees the end
                if chunk and self.unsent + len(chunk) > OUTGOING_LIMIT:
                    self.drop()
                elif chunk:
                    self.writer.write(chunk)
                elif self.writer.can_write_eof():
                    self.writer.write_eof()

    def drop(self) -> None:
        """End the connection at once (no close frame: its socket is not being read)."""
        if not self.dropped:
            self.dropped = True
            _log.warning("WebSocket connection %s dropped: %d bytes unsent (the client is not reading)",
                         self.info.connection_id, self.unsent)
            self.writer.transport.abort()

    def send(self, data: bytes) -> bool:
        """Send ``data`` as a text frame (a binary one if it is not UTF-8, INFERRED); False when the
        client's unsent buffer is full (@connections then answers 429 LimitExceededException)."""
        if self.unsent > SEND_BUFFER_LIMIT:
            return False
        try:
            data.decode("utf-8")
            self.protocol.send_text(data)
        except UnicodeDecodeError:
            self.protocol.send_binary(data)
        self.flush()
        return True

    def send_text(self, text: str) -> None:
        if self.is_open:
            self.protocol.send_text(text.encode())
            self.flush()

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake (the read loop ends the connection)."""
        if self.is_open:
            self.protocol.send_close(code, reason)
            self.closing_since = time.monotonic()
            self.flush()

    def fail(self, code: int, reason: str) -> None:
        if self.is_open:
            self.protocol.fail(code, reason)
            self.closing_since = time.monotonic()
            self.flush()

    def close_status(self) -> tuple[int, str]:
        """``(disconnectStatusCode, disconnectReason)``: the client's close frame, else the one sent, else 1006."""
        close = self.protocol.close_rcvd or self.protocol.close_sent
        if close is None:
            return CLOSE_ABNORMAL, ""
        return int(close.code), close.reason


class WsApiServer:
    """One WebSocket API's listening socket: the front, the handshake, the frames, ``@connections``."""

    def __init__(self, gateway: WsGateway, owner: WsServer):
        self.gateway = gateway
        self.owner = owner
        self.peers: dict[str, Peer] = {}
        self.server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def stage(self) -> str:
        return self.gateway.config.stage

    async def client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:  # the gateway is closing
            return
        except Exception:  # a bug or a client gone at a bad moment: this connection ends, the server lives
            _log.exception("WebSocket API %s: a connection failed", self.gateway.config.api_id)
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source_ip = peer[0] if isinstance(peer, tuple) else "127.0.0.1"
        while True:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
            except (asyncio.LimitOverrunError, ValueError):
                writer.write(_error(431, "Request Header Fields Too Large"))
                return
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                return
            try:
                parsed = http11.parse_head(head, quota=None)  # HTTP APIs' 10240-byte quota is not WebSocket's
                if not parsed.target.startswith(b"/"):
                    raise http11.Refused(400, "not an origin-form target")
            except http11.Refused as refused:
                writer.write(http11.render(refused.response(), close=True))
                return
            method, target = parsed.method.decode("ascii"), parsed.target.decode("ascii")
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in parsed.headers.raw_items()]
            path, _, query = target.partition("?")
            if connections.is_management_path(path):
                if not await self._management(reader, writer, method, path, query, headers, source_ip):
                    return
                continue
            if method == "GET" and path.rstrip("/") == f"/{self.stage}" and path.count("/") <= 2:
                await self._websocket(head, HttpRequest(method, path, query, headers, b"", source_ip), reader, writer)
                return
            # not the API's endpoint (INFERRED: API Gateway's 403 for paths it has no route for)
            writer.write(_error(403, "Forbidden"))
            return

    async def _management(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str,
                          path: str, query: str, headers: list[tuple[str, str]], source_ip: str) -> bool:
        """Answer one @connections request; True to keep the connection for the next one."""
        request = HttpRequest(method, path, query, headers, b"", source_ip)
        keep_alive = (request.header("connection") or "").lower() != "close"
        length = int(request.header("content-length") or 0)  # decimal digits, one value: h11 and parse_head
        if request.header("transfer-encoding") is not None:  # chunked (the only coding parse_head lets by)
            writer.write(_error(400, "Bad Request"))
            return False
        if length > MAX_REQUEST_BYTES:
            writer.write(_error(413, "Request Entity Too Large"))
            return False
        try:
            request.body = await reader.readexactly(length) if length else b""
        except (asyncio.IncompleteReadError, ConnectionError):
            return False
        response = connections.handle(request, self.gateway.config, self.peers,  # type: ignore[arg-type]
                                      self.gateway.auth)
        writer.write(http11.render(response, close=not keep_alive))
        try:
            await writer.drain()
        except ConnectionError:
            return False
        return keep_alive

    async def _websocket(self, head: bytes, upgrade: HttpRequest, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        protocol = ServerProtocol(max_size=(MAX_MESSAGE_BYTES, MAX_FRAME_BYTES))  # §6.5 → 1009
        protocol.receive_data(head)
        events = protocol.events_received()
        if not events or not isinstance(events[0], Request):
            self._write(protocol, writer)
            return
        request = events[0]
        response = protocol.accept(request)  # checks the handshake itself (426/400 when it is not one)
        if response.status_code != 101:
            protocol.send_response(response)
            self._write(protocol, writer)
            return
        upgrade.headers = list(request.headers.raw_items())
        info = Connection(new_connection_id(), upgrade.source_ip, user_agent=request.headers.get("User-Agent"))
        # the upgrade stays pending until $connect has finished (§6.1)
        try:
            handshake = await self.owner.run(self.gateway.connect, info, upgrade)
        except Exception:  # a gateway bug (the pipeline itself maps handler failures to 502): refuse, live on
            _log.exception("WebSocket API %s: $connect failed", self.gateway.config.api_id)
            handshake = Handshake(500, (("Content-Type", "application/json"),), b'{"message": "Internal server error"}')
        try:  # a header $connect answered (Sec-WebSocket-Protocol) is not valid HTTP: a failed $connect
            for name, value in handshake.headers:
                http11.header_bytes(name, value)
        except ValueError as error:
            _log.error("WebSocket API %s: $connect answered a header that is not valid HTTP: %s",
                       self.gateway.config.api_id, error)
            handshake = bad_gateway()
        if handshake.status != 101:
            rejected = Headers([("Content-Length", str(len(handshake.body))), ("Connection", "close"),
                                *handshake.headers])
            protocol.send_response(Response(handshake.status, http11.phrase(handshake.status), rejected,
                                            handshake.body))
            self._write(protocol, writer)
            return
        for name, value in handshake.headers:
            response.headers[name] = value
        protocol.send_response(response)
        peer = Peer(info, protocol, writer)
        peer.flush()
        self.peers[info.connection_id] = peer
        try:
            await self._frames(peer, reader)
        finally:
            self.peers.pop(info.connection_id, None)
            with contextlib.suppress(Exception):
                writer.close()
            if not self.owner.closing:  # "$disconnect is executed after the connection is closed" (§6.2)
                code, reason = peer.close_status()
                await self.owner.run(self.gateway.disconnect, info, code, reason)

    @staticmethod
    def _write(protocol: ServerProtocol, writer: asyncio.StreamWriter) -> None:
        for chunk in protocol.data_to_send():
            if chunk:
                writer.write(chunk)

    async def _frames(self, peer: Peer, reader: asyncio.StreamReader) -> None:
        protocol = peer.protocol
        started = time.monotonic()
        fragments: list[bytes] | None = None
        while protocol.state is not CLOSED:
            now = time.monotonic()
            if peer.closing_since is not None:
                wait = peer.closing_since + CLOSE_TIMEOUT_S - now
            else:
                idle_at = started + (peer.info.last_active_ms - peer.info.connected_at_ms) / 1000 + IDLE_TIMEOUT_S
                wait = min(idle_at, started + MAX_DURATION_S) - now
            if wait <= 0:
                if peer.closing_since is not None:
                    return  # the client did not finish the closing handshake: drop it
                peer.close(CLOSE_GOING_AWAY, "Going away")  # idle 10 min / 2 h reached (§6.5, INFERRED code)
                continue
            if peer.unsent > READ_PAUSE_BYTES:  # the client is not reading: neither do we (no more pongs)
                try:
                    await asyncio.wait_for(peer.writer.drain(), wait)
                except TimeoutError:
                    continue
                except ConnectionError:
                    return
                continue
            try:
                data = await asyncio.wait_for(reader.read(1 << 16), wait)
            except TimeoutError:
                continue
            except ConnectionError:
                data = b""
            if data:
                protocol.receive_data(data)
            else:
                protocol.receive_eof()
            for frame in protocol.events_received():
                fragments = self._frame(peer, frame, fragments)
            if protocol.close_expected() and peer.closing_since is None:
                peer.closing_since = time.monotonic()
            peer.flush()
            if not data:
                return

    def _frame(self, peer: Peer, frame: Frame, fragments: list[bytes] | None) -> list[bytes] | None:
        """Handle one frame; returns the text message being reassembled, if any."""
        if frame.opcode is Opcode.BINARY:
            peer.fail(CLOSE_UNSUPPORTED, "Binary frames are not supported")  # §6.5 (reason text INFERRED)
            return None
        if frame.opcode is Opcode.TEXT:
            fragments = [frame.data]
        elif frame.opcode is Opcode.CONT and fragments is not None:
            fragments.append(frame.data)
        else:
            return fragments  # ping / pong / close: the protocol answers them
        peer.info.last_active_ms = int(time.time() * 1000)
        if not frame.fin:
            return fragments
        try:
            text = b"".join(fragments).decode("utf-8")
        except UnicodeDecodeError:
            peer.fail(1007, "Invalid UTF-8")
            return None
        task = asyncio.get_running_loop().create_task(self._message(peer, text))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return None

    async def _message(self, peer: Peer, text: str) -> None:
        try:
            reply = await self.owner.run(self.gateway.message, peer.info, text)
        except Exception:
            _log.exception("WebSocket API %s: a message failed", self.gateway.config.api_id)
            return
        if reply is not None:
            peer.send_text(reply)

    def shutdown(self) -> None:
        if self.server is not None:
            self.server.close()
        for peer in list(self.peers.values()):
            peer.close(CLOSE_GOING_AWAY, "Going away")
            with contextlib.suppress(Exception):
                peer.writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()


class WsServer:
    """The event loop thread serving every WebSocket API of one :class:`LocalGateway`."""

    def __init__(self, max_threads: int = 64):
        self.loop = asyncio.new_event_loop()
        self.executor = ThreadPoolExecutor(max_threads, thread_name_prefix="sstdirect-ws-invoke")
        self.apis: dict[str, WsApiServer] = {}
        self.closing = False
        self._calls: set[Future[Any]] = set()
        self._calls_lock = threading.Lock()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sstdirect-ws", daemon=True)
        self._thread.start()

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run a blocking call (a Lambda invocation) in the thread pool; awaitable on the loop."""
        future = self.executor.submit(fn, *args)
        with self._calls_lock:
            self._calls.add(future)
        future.add_done_callback(self._forget)
        return asyncio.wrap_future(future)

    def _forget(self, future: Future[Any]) -> None:
        with self._calls_lock:
            self._calls.discard(future)

    def add(self, gateway: WsGateway, host: str, port: int) -> int:
        """Listen for ``gateway``'s API on ``host:port`` (0: any free port); returns the port."""
        api = WsApiServer(gateway, self)

        async def start() -> asyncio.Server:
            return await asyncio.start_server(api.client, host, port, limit=HEAD_LIMIT)

        api.server = asyncio.run_coroutine_threadsafe(start(), self.loop).result()
        self.apis[gateway.config.api_id] = api
        return int(api.server.sockets[0].getsockname()[1])

    def close(self) -> None:
        """Stop listening, close every connection with 1001 (no ``$disconnect``), stop the loop."""
        with self._calls_lock:
            calls = list(self._calls)
        wait(calls, timeout=CLOSE_TIMEOUT_S)  # a $disconnect in flight finishes (bounded)
        self.closing = True
        if self.loop.is_running():
            async def stop() -> None:
                for api in self.apis.values():
                    api.shutdown()
                current = asyncio.current_task()
                for task in asyncio.all_tasks():
                    if task is not current:
                        task.cancel()
                await asyncio.sleep(0)

            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=5)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.executor.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self.loop.close()
