"""The real server: one ``ThreadingHTTPServer`` per HTTP API on 127.0.0.1, each feeding
:meth:`HttpGateway.handle`; :class:`LocalGateway` is what ``LocalCloud.serve(app)`` returns."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError
from .config import code_dirs, read_api, read_function
from .messages import HttpRequest, HttpResponse
from .pipeline import HttpGateway
from .responses import MAX_REQUEST_BYTES, gateway_error, internal_error, too_large
from .workers import Workers

if TYPE_CHECKING:
    from ..cloud import LocalCloud

HOST = "127.0.0.1"
_log = logging.getLogger("sstdirect.local.gateway")


class _TooLarge(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], gateway: HttpGateway):
        self.gateway = gateway
        super().__init__(address, _Handler)


# "Total combined size of request line and header values: 10240 bytes" (SEMANTICS §8, HTTP API quota). The
# status is undocumented: 431 Request Header Fields Too Large, the status HTTP defines for it (INFERRED).
MAX_HEADER_BYTES = 10240
# A connection that sends nothing for this long (a half-sent request, an idle keep-alive) is closed, so a
# slow or stuck client never holds a server thread for good (API Gateway's idle timeout is not documented
# for HTTP APIs; 30 s, INFERRED).
IDLE_TIMEOUT_S = 30.0
# Reason phrases of the framing errors, fixed here (Python versions name some differently).
_ERROR_PHRASES = {400: "Bad Request", 414: "URI Too Long", 431: "Request Header Fields Too Large",
                  501: "Not Implemented", 505: "HTTP Version Not Supported"}


class _Handler(BaseHTTPRequestHandler):
    """One connection: requests are read here (bad framing → API Gateway-style JSON errors, the connection
    closed) and handed to :meth:`HttpGateway.handle`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive + small writes would otherwise wait on delayed ACKs
    timeout = IDLE_TIMEOUT_S  # per socket read: a stalled client is dropped (TimeoutError in handle_one_request)
    server: _Server

    def _serve(self) -> None:
        if len(self.requestline) + sum(len(v) for v in self.headers.values()) > MAX_HEADER_BYTES:
            self.send_error(431)
            return
        try:
            body = self._body()
        except _TooLarge:  # refused before reading 10 MB+ into memory
            self._send(too_large())
            self.close_connection = True
            return
        except ValueError:
            self._send(gateway_error(400, "Bad Request"))
            self.close_connection = True
            return
        request = HttpRequest.from_target(self.command, self.path, headers=list(self.headers.items()), body=body,
                                          source_ip=self.client_address[0], protocol=self.request_version)
        try:
            response = self.server.gateway.handle(request)
        except Exception:  # a gateway bug answers 500; the server lives on
            _log.exception("the local gateway failed on %s %s", self.command, self.path)
            response = internal_error()
        self._send(response, head=self.command == "HEAD")

    def _body(self) -> bytes:
        """The request body: ``Content-Length`` bytes, or a chunked body de-chunked."""
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline(1024).split(b";", 1)[0].strip() or b"x", 16)
                if size < 0:  # int(..., 16) takes "-5"; read(-5) would read until the client hangs up
                    raise ValueError("negative chunk size")
                if size == 0:
                    while self.rfile.readline(8192).strip():  # trailers
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_REQUEST_BYTES:
                    raise _TooLarge
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
        length = int(self.headers.get("content-length") or 0)
        if length < 0:
            raise ValueError("negative content-length")
        if length > MAX_REQUEST_BYTES:
            raise _TooLarge
        return self.rfile.read(length) if length else b""

    def _send(self, response: HttpResponse, head: bool = False) -> None:
        self.send_response(response.status)
        has_length = False
        for name, value in response.headers:
            if name.lower() == "content-length":
                has_length = True
            if name.lower() in ("connection", "transfer-encoding", "date", "server"):
                continue
            self.send_header(name, value)
        if not has_length:
            self.send_header("Content-Length", str(len(response.body)))
        self._headers_buffer.append(b"\r\n")  # headers and body in one write
        if response.body and not head:
            self._headers_buffer.append(response.body)
        self.flush_headers()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors http.server finds itself (a bad request line, a header line too long, too many headers, a
        request line over 64 KB) as API Gateway's compact JSON ``{"message": <reason>}``; the connection is
        closed since the rest of the request cannot be trusted."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # the request line was not understood: answer in HTTP/1.1
            self.request_version = "HTTP/1.1"
        phrase = _ERROR_PHRASES.get(code) or HTTPStatus(code).phrase
        self._send(gateway_error(code, phrase))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s - %s", self.address_string(), format % args)

    def version_string(self) -> str:
        return "sstdirect-local-gateway"


class LocalGateway:
    """The running gateway of one app: ``url(api)``, then ``close()`` (or leave the ``with``)."""

    def __init__(self, cloud: LocalCloud, app: Any, ports: dict[Any, int] | None = None, prewarm: bool = True):
        self.cloud = cloud
        self.app = app
        creds = cloud.credentials
        self.workers = Workers(cloud.region, cloud.endpoint_url, creds.access_key_id, creds.secret_access_key)
        self.gateways: dict[str, HttpGateway] = {}
        self._servers: dict[str, _Server] = {}
        self._threads: list[threading.Thread] = []
        self._by_construct: dict[int, str] = {}
        try:
            self._start(ports or {}, prewarm)
        except BaseException:
            self.close()
            raise

    def _apis(self) -> list[Any]:
        from ...constructs.api import Api

        return [c for c in self.app.constructs if isinstance(c, Api) and getattr(c, "protocol", "HTTP") == "HTTP"]

    def _start(self, ports: dict[Any, int], prewarm: bool) -> None:
        apigw = self.cloud.client("apigatewayv2")
        lam = self.cloud.client("lambda")
        code = code_dirs(self.app)
        for api in self._apis():
            api_id = api.id
            if not isinstance(api_id, str):
                raise ConfigError(f"{api.label} is not deployed yet: call app.deploy() before cloud.serve(app)")
            config, functions = read_api(apigw, api_id, self.cloud.region)
            for name in sorted(functions):
                spec = read_function(lam, name, code)
                if spec is None:
                    _log.warning("%s: function %s has no code folder in this app; its routes answer 500",
                                 api.label, name)
                else:
                    self.workers.add(spec)
            gateway = HttpGateway(config, self.workers.invoke)
            port = ports.get(api, ports.get(api.construct_id, 0)) if ports else 0
            server = _Server((HOST, port), gateway)
            self.gateways[api_id] = gateway
            self._servers[api_id] = server
            self._by_construct[id(api)] = api_id
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      name=f"sstdirect-gateway-{api_id}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if prewarm:
            self.workers.prewarm()

    def _api_id(self, api: Any) -> str:
        if isinstance(api, str) and api in self._servers:
            return api
        api_id = self._by_construct.get(id(api))
        if api_id is None:
            raise ConfigError(f"{getattr(api, 'label', api)!r} is not an HTTP API served by this gateway")
        return api_id

    def url(self, api: Any) -> str:
        """``http://127.0.0.1:PORT`` of an ``Api`` (or its API id)."""
        return f"http://{HOST}:{self._servers[self._api_id(api)].server_address[1]}"

    def gateway(self, api: Any) -> HttpGateway:
        """The in-process pipeline of an ``Api``: ``gateway(api).handle(HttpRequest(...))``, no sockets."""
        return self.gateways[self._api_id(api)]

    @property
    def urls(self) -> dict[str, str]:
        """``{construct id: url}`` of every served API."""
        return {api.construct_id: self.url(api) for api in self._apis() if id(api) in self._by_construct}

    def reload(self, changed: set[str] | None = None) -> list[str]:
        """Recycle the workers of the functions whose code folder is in ``changed`` (all if None)."""
        names = []
        for name, pool in self.workers.pools.items():
            if changed is None or os.path.realpath(pool.spec.code_dir) in changed:
                pool.recycle()
                names.append(name)
        return names

    def close(self) -> None:
        for server in self._servers.values():
            with contextlib.suppress(Exception):
                server.shutdown()
            with contextlib.suppress(Exception):
                server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self.workers.close()

    def __enter__(self) -> LocalGateway:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
