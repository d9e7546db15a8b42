"""The real server: one :class:`.http11.Server` (h11 framing, a bounded thread per connection) per HTTP API
and AppSync API on 127.0.0.1, each feeding the gateway's ``handle``, and one port per WebSocket API on
:mod:`.ws_server`'s event loop; :class:`LocalGateway` is what ``LocalCloud.serve(app)`` returns.

Every request through a socket writes its stage's access-log line (:mod:`.access_log`) and is told to the
gateway's ``request_listeners`` (``sstdirect dev`` prints it); every invocation's log goes to its function's
log group (:mod:`.workers`). ``flush_logs()`` waits until both are written."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from types import TracebackType
from typing import Any

from ...errors import ConfigError
from ._worker import EXECUTE_API_ENV
from .access_log import HttpAccessLog, Listener, WsAccessLog, read_access_log
from .appsync_server import ServedAppSync, appsync_gateway, dynamodb_clients
from .auth import local_authorizers
from .config import code_dirs, read_api, read_function, read_ws_api
from .contract import APPSYNC, HTTP, WEBSOCKET, EmbeddedAws, ServedApp, served
from .http11 import HEADER_TIMEOUT_S, IDLE_TIMEOUT_S, MAX_HEADER_BYTES, Server
from .pipeline import HttpGateway
from .websocket import WsGateway
from .workers import Workers
from .ws_server import WsServer

HOST = "127.0.0.1"
_log = logging.getLogger("sstdirect.local.gateway")


# The framing (h11), its limits and timeouts live in .http11; these names stay importable from here.
__all__ = ["HEADER_TIMEOUT_S", "IDLE_TIMEOUT_S", "MAX_HEADER_BYTES", "LocalGateway"]


def _deployed_id(construct: Any) -> str:
    """The API id of a deployed API construct; :class:`ConfigError` when it is not deployed yet."""
    api_id = construct.id
    if not isinstance(api_id, str):
        raise ConfigError(f"{construct.label} is not deployed yet: call app.deploy() before cloud.serve(app)")
    return api_id


class LocalGateway:
    """The running gateway of one app: ``url(api)``, then ``close()`` (or leave the ``with``)."""

    def __init__(self, cloud: EmbeddedAws, app: ServedApp, ports: dict[Any, int] | None = None,
                 prewarm: bool = True):
        self.cloud = cloud
        self.app = app
        creds = cloud.credentials
        # the cloud's own workers when it has them (LocalCloud): its Lambda Invoke runs in the same pools
        shared = getattr(cloud, "workers", None)
        self._shared_workers = isinstance(shared, Workers)
        self.workers = shared if isinstance(shared, Workers) else Workers(
            cloud.region, cloud.endpoint_url, creds.access_key_id, creds.secret_access_key)
        self._pools: list[Any] = []  # the pools this gateway put into shared workers
        self.auth = local_authorizers(cloud)
        self.gateways: dict[str, HttpGateway] = {}
        self._servers: dict[str, Server] = {}
        self._threads: list[threading.Thread] = []
        self._by_construct: dict[int, str] = {}
        self.ws_gateways: dict[str, WsGateway] = {}
        self._ws_server: WsServer | None = None
        self._ws_ports: dict[str, int] = {}
        self._ws_by_construct: dict[int, str] = {}
        self.appsync: list[ServedAppSync] = []
        self.request_listeners: list[Listener] = []  # told of every request served through a socket
        try:
            self._start(ports or {}, prewarm)
        except BaseException:
            self.close()
            raise

    def _apis(self) -> list[Any]:
        return served(self.app, HTTP)

    def _websocket_apis(self) -> list[Any]:
        return served(self.app, WEBSOCKET)

    def _add_functions(self, label: str, functions: set[str], lam: Any, code: dict[str, tuple[str, str]],
                       failing: str = "its routes answer 500") -> None:
        for name in sorted(functions):
            spec = read_function(lam, name, code)
            if spec is None:
                _log.warning("%s: function %s has no code folder in this app; %s", label, name, failing)
            else:
                self._pools.append(self.workers.put(spec))

    @staticmethod
    def _listen(construct: Any, api_id: str, gateway: Any,
                ports: dict[Any, int]) -> tuple[Server, threading.Thread]:
        """Serve ``gateway`` on the construct's port (0: any free one) from a thread of its own."""
        port = ports.get(construct, ports.get(construct.construct_id, 0)) if ports else 0
        server = Server((HOST, port), gateway)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                  name=f"sstdirect-gateway-{api_id}", daemon=True)
        thread.start()
        return server, thread

    def _start_websockets(self, ports: dict[Any, int], apigw: Any, lam: Any, code: dict[str, tuple[str, str]]) -> None:
        """Listen for every WebSocket API first, so every worker (of any API) learns where their
        ``@connections`` are (``SSTDIRECT_EXECUTE_API``, see :mod:`._worker`) before it starts."""
        served = []
        for ws in self._websocket_apis():
            api_id = _deployed_id(ws)
            config, functions = read_ws_api(apigw, api_id, self.cloud.region)
            if self._ws_server is None:
                self._ws_server = WsServer()
            access = read_access_log(apigw, api_id, config.stage)
            logged = WsAccessLog(self.workers.invoke, api_id, config.stage, access, self.workers.logs,
                                 self.request_listeners)
            gateway = WsGateway(config, logged, self.auth)
            port = ports.get(ws, ports.get(ws.construct_id, 0)) if ports else 0
            self._ws_ports[api_id] = self._ws_server.add(gateway, HOST, port)
            self.ws_gateways[api_id] = gateway
            self._ws_by_construct[id(ws)] = api_id
            served.append((ws.label, functions))
        if self._ws_ports:  # added to what other gateways on these (shared, per-cloud) workers told them
            known = json.loads(self.workers.extra_env.get(EXECUTE_API_ENV, "{}"))
            known.update({api_id: f"http://{HOST}:{port}" for api_id, port in self._ws_ports.items()})
            self.workers.set_env(EXECUTE_API_ENV, json.dumps(known))
        for label, functions in served:
            self._add_functions(label, functions, lam, code)

    def _start(self, ports: dict[Any, int], prewarm: bool) -> None:
        apigw = self.cloud.client("apigatewayv2")
        lam = self.cloud.client("lambda")
        code = code_dirs(self.app)
        self._start_websockets(ports, apigw, lam, code)
        for api in self._apis():
            api_id = _deployed_id(api)
            config, functions = read_api(apigw, api_id, self.cloud.region)
            self._add_functions(api.label, functions, lam, code)
            logged = HttpAccessLog(lambda invoke, c=config: HttpGateway(c, invoke, self.auth), self.workers.invoke,
                                   api_id, config.stage, read_access_log(apigw, api_id, config.stage),
                                   self.workers.logs, self.request_listeners)
            server, thread = self._listen(api, api_id, logged, ports)
            self.gateways[api_id] = logged.gateway
            self._servers[api_id] = server
            self._by_construct[id(api)] = api_id
            self._threads.append(thread)
        dynamodb = dynamodb_clients(self.cloud)
        for construct in served(self.app, APPSYNC):
            api_id = _deployed_id(construct)
            appsync, functions = appsync_gateway(self.cloud, api_id, self.workers.invoke, self.auth, dynamodb)
            self._add_functions(construct.label, functions, lam, code, "its resolvers fail")
            server, thread = self._listen(construct, api_id, appsync, ports)
            self.appsync.append(ServedAppSync(construct, api_id, appsync, server, thread))
        if prewarm:
            self.workers.prewarm()

    def _appsync(self, api: Any) -> ServedAppSync | None:
        return next((s for s in self.appsync if s.construct is api or s.api_id == api), None)

    def _api_id(self, api: Any) -> str:
        if isinstance(api, str) and api in self._servers:
            return api
        api_id = self._by_construct.get(id(api))
        if api_id is None:
            raise ConfigError(f"{getattr(api, 'label', api)!r} is not an HTTP API served by this gateway")
        return api_id

    def _ws_api_id(self, ws: Any) -> str | None:
        if isinstance(ws, str) and ws in self._ws_ports:
            return ws
        return self._ws_by_construct.get(id(ws))

    def url(self, api: Any) -> str:
        """``http://127.0.0.1:PORT`` of an ``Api``, ``ws://127.0.0.1:PORT/{stage}`` of a ``WebSocketApi``,
        ``http://127.0.0.1:PORT/graphql`` of an ``AppSyncApi`` (or any of them by API id)."""
        served = self._appsync(api)
        if served is not None:
            return served.url
        ws_id = self._ws_api_id(api)
        if ws_id is not None:
            return f"ws://{HOST}:{self._ws_ports[ws_id]}/{self.ws_gateways[ws_id].config.stage}"
        return f"http://{HOST}:{self._servers[self._api_id(api)].server_address[1]}"

    def management_endpoint(self, ws: Any) -> str:
        """``http://127.0.0.1:PORT/{stage}``: the ``@connections`` API of a ``WebSocketApi`` (or its id),
        for ``boto3.client("apigatewaymanagementapi", endpoint_url=...)`` outside handlers."""
        ws_id = self._ws_api_id(ws)
        if ws_id is None:
            raise ConfigError(f"{getattr(ws, 'label', ws)!r} is not a WebSocket API served by this gateway")
        return f"http://{HOST}:{self._ws_ports[ws_id]}/{self.ws_gateways[ws_id].config.stage}"

    def gateway(self, api: Any) -> Any:
        """The in-process pipeline of an ``Api`` (an :class:`HttpGateway`) or of an ``AppSyncApi`` (an
        :class:`~.appsync.AppSyncGateway`): ``gateway(api).handle(HttpRequest(...))``, no sockets."""
        served = self._appsync(api)
        if served is not None:
            return served.gateway
        return self.gateways[self._api_id(api)]

    @property
    def urls(self) -> dict[str, str]:
        """``{construct id: url}`` of every served API."""
        out = {api.construct_id: self.url(api) for api in self._apis() if id(api) in self._by_construct}
        out.update({ws.construct_id: self.url(ws) for ws in self._websocket_apis() if id(ws) in self._ws_by_construct})
        return {**out, **{s.construct.construct_id: s.url for s in self.appsync}}

    def api_keys(self, api: Any) -> list[str]:
        """The unexpired API keys of a served ``AppSyncApi`` (what ``x-api-key`` takes), newest first."""
        served = self._appsync(api)
        if served is None:
            raise ConfigError(f"{getattr(api, 'label', api)!r} is not an AppSync API served by this gateway")
        keys = served.gateway.auth.api_keys
        return sorted((k for k, exp in keys.items() if exp > time.time()), key=lambda k: -keys[k])

    def reload(self, changed: set[str] | None = None) -> list[str]:
        """Recycle the workers of the functions one of whose watched folders (the code folder and the roots
        of its imports: :meth:`FunctionSpec.watched`) is in ``changed`` (all if None)."""
        names = []
        for name, pool in self.workers.pools.items():
            if changed is None or pool.spec.watched() & changed:
                pool.recycle()
                names.append(name)
        return names

    def flush_logs(self, timeout_s: float = 10.0) -> bool:
        """Wait until every access-log line and invocation log queued so far is in CloudWatch Logs."""
        return self.workers.logs.flush(timeout_s)

    def close(self) -> None:
        for server in [*self._servers.values(), *(s.server for s in self.appsync)]:
            with contextlib.suppress(Exception):
                server.shutdown()
            with contextlib.suppress(Exception):
                server.server_close()
        for thread in [*self._threads, *(s.thread for s in self.appsync)]:
            if thread.is_alive():
                thread.join(timeout=5)
        if self._ws_server is not None:
            self._ws_server.close()
        if self._shared_workers:  # the cloud's: close only the pools this gateway made
            for pool in self._pools:
                self.workers.remove(pool.spec.name, pool)
        else:
            self.workers.close()

    def __enter__(self) -> LocalGateway:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
