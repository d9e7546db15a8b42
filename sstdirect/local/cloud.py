"""``LocalCloud``: moto's server, with sstdirect's extensions, running in this process.

What is shared: moto keeps its backends (every API, function, role, log group, ...) in
process-global state. Two ``LocalCloud`` objects in one process listen on different ports but
serve the **same** resources, and ``reset()`` on either empties both (and any ``moto.mock_aws``
in the same process). Two moto settings are process-global too and are set while any
``LocalCloud`` runs, then restored when the last one stops: ACM's validation wait (the most
recently started cloud's ``acm_validation_wait`` wins) and Lambda's ``use_docker: false``.
No environment variable is read or set, and no real AWS credentials are needed.

Finding a cloud by its endpoint: :func:`endpoint_credentials` answers, for an ``endpoint_url``, the key
pair of the ``LocalCloud`` serving it -- one running in this process, or (another process, such as a
running ``sstdirect dev``) a loopback endpoint that answers ``GET`` :data:`MARKER_PATH` with the
LocalCloud marker. ``App(..., endpoint_url=cloud.endpoint_url)`` with no credentials configured uses it.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import logging
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3
    from moto.server import ThreadedMotoServer

    from .gateway.auth_iam import Principal
    from .gateway.server import LocalGateway
    from .gateway.workers import Workers
    from .latency import LatencyMiddleware, LatencyModel, RequestRecord

HOST = "127.0.0.1"
_log = logging.getLogger("sstdirect.local")
# GET on this path of a LocalCloud's endpoint answers :data:`MARKER` (S3 bucket names cannot start with
# "_", so no path-style S3 request is ever taken for it). Answered before the latency model and the
# request log: it is not an AWS request.
MARKER_PATH = "/_sstdirect/local-cloud"
MARKER = "sstdirect LocalCloud"
# Lambda's Invoke runs a handler, which may call this cloud again: served outside the per-service lock.
_INVOKE_PATH = re.compile(r"^/[^/]+/functions/[^/]+/invocations/?$")


@dataclass(frozen=True)
class Credentials:
    """The key pair the embedded AWS accepts (it accepts any, these are what clients get)."""

    access_key_id: str = "testing"
    secret_access_key: str = "testing"


class LocalCloud:
    """The embedded local AWS: moto's ``ThreadedMotoServer`` plus :func:`sstdirect.local.install`.

    ``with LocalCloud() as cloud:`` starts it on ``127.0.0.1`` (a free port unless ``port`` is
    given) and stops it on exit; ``start()``/``stop()`` do the same by hand. While it runs:

    * ``endpoint_url`` is ``"http://127.0.0.1:PORT"``; ``credentials`` and ``region`` are what
      clients should use; ``session()`` and ``client(service)`` build them.
    * ACM certificates become ``ISSUED`` once ``acm_validation_wait`` seconds have passed since
      they were requested (DNS validation records are not checked).
    * Lambda functions never need Docker; ``invoke`` runs the deployed code in warm worker processes
      (:attr:`workers`, shared with the local gateway; see :mod:`sstdirect.local.ext.lambda_invoke`).
    * An operation the embedded AWS does not implement fails at once with HTTP 501 and a
      ``ClientError`` whose code is ``NotImplemented`` (never retried).

    ``latency`` applies PERF.md's latency model at the server (every client sees it): ``None``
    (the default) applies none, ``True`` the default :class:`~sstdirect.local.latency.LatencyModel`,
    or pass a ``LatencyModel`` (e.g. ``LatencyModel(propagation_s=0)``). Either way every request is
    logged: :attr:`request_log` and :meth:`request_summary`. See the module docstring for what two
    clouds in one process share.
    """

    def __init__(
        self,
        port: int | None = None,
        latency: Any = None,
        region: str = "us-east-1",
        acm_validation_wait: float = 1.0,
    ) -> None:
        from .latency import LatencyModel

        if latency is True:
            latency = LatencyModel.default()
        elif latency is False:
            latency = None
        if latency is not None and not isinstance(latency, LatencyModel):
            raise TypeError(f"LocalCloud latency must be None, True or a LatencyModel, got {latency!r}")
        if port is not None and not (isinstance(port, int) and 0 <= port <= 65535):
            raise ValueError(f"LocalCloud port must be an int in 0..65535 or None, got {port!r}")
        if not region or not isinstance(region, str):
            raise ValueError(f"LocalCloud region must be a non-empty str, got {region!r}")
        if acm_validation_wait < 0:
            raise ValueError(f"acm_validation_wait must be >= 0 seconds, got {acm_validation_wait!r}")
        self.region = region
        self.latency: LatencyModel | None = latency
        self._middleware: LatencyMiddleware | None = None
        self.acm_validation_wait = float(acm_validation_wait)
        self.credentials = Credentials()
        self._requested_port = port or 0
        self._server: ThreadedMotoServer | None = None
        self._port: int | None = None
        self.start_seconds: float | None = None
        self._principals: Callable[[str], Principal | None] | None = None
        self._workers: Workers | None = None
        self._workers_lock = threading.Lock()

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LocalCloud is not running; call start() or use it as a context manager")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT`` (only while running)."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> LocalCloud:
        """Start the server (a no-op if already running) and return ``self``.

        Raises ``OSError`` if the requested port cannot be bound.
        """
        if self._server is not None:
            return self
        began = time.perf_counter()
        from .ext import install

        install()
        from .latency import LatencyMiddleware

        if self._middleware is None:
            self._middleware = LatencyMiddleware(lambda environ, start_response: [], self.latency)
        server = _make_server(self._requested_port, self._middleware, self._marker, lambda: self.workers)
        _acquire_settings(self)
        try:
            server.start()
            error = getattr(server, "startup_error", None)
            if isinstance(error, SystemExit):  # werkzeug exits when it cannot bind the port
                raise OSError(errno.EADDRINUSE, f"LocalCloud cannot listen on {HOST}:{self._requested_port}")
            if error is not None:
                raise error
        except BaseException:
            _release_settings(self)
            raise
        self._server = server
        self._port = server.get_host_and_port()[1]
        self.start_seconds = time.perf_counter() - began
        return self

    def stop(self) -> None:
        """Stop the server and free its port (a no-op if not running). Resources are kept."""
        server, self._server = self._server, None
        if server is None:
            return
        try:
            server.stop()
            if server._server is not None:
                server._server.server_close()
        finally:
            with self._workers_lock:
                workers, self._workers = self._workers, None
            if workers is not None:
                workers.close()
            self._port = None
            _release_settings(self)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Delete every resource (``POST /moto-api/reset``); process-wide, see module docstring."""
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        if self._middleware is not None:
            self._middleware.clear()
        if self._workers is not None:  # the functions are gone; the gateway's pools (the app's code) stay
            from .ext.lambda_invoke import forget_deployed

            forget_deployed(self._workers)

    def _marker(self) -> dict[str, str]:
        """What ``GET`` :data:`MARKER_PATH` answers: the marker, the region and the key pair clients use."""
        return {"service": MARKER, "region": self.region, "access_key_id": self.credentials.access_key_id,
                "secret_access_key": self.credentials.secret_access_key}

    # --- the request log -----------------------------------------------------------------------

    @property
    def request_log(self) -> list[RequestRecord]:
        """Every request this cloud answered since it first started (or ``clear_request_log()``/
        ``reset()``): time, service, operation, status, injected fault."""
        return self._middleware.log if self._middleware is not None else []

    def clear_request_log(self) -> None:
        """Empty the request log (and forget role creation times)."""
        if self._middleware is not None:
            self._middleware.clear()

    def request_summary(self, since: float | None = None) -> dict[str, Any]:
        """Counts of the request log (see :func:`sstdirect.local.latency.summarize`); ``since``
        keeps the records whose ``t`` is at or after it."""
        from .latency import summarize

        return summarize(r for r in self.request_log if since is None or r.t >= since)

    def log_time(self) -> float:
        """The request log's clock now (compare with ``RequestRecord.t``)."""
        return time.monotonic() - self._middleware._began if self._middleware is not None else 0.0

    # --- the local gateway -------------------------------------------------------------------

    @property
    def workers(self) -> Workers:
        """The warm worker pools (one per function) that run this cloud's Lambda code: its ``Invoke``'s and its
        local gateway's (``serve``), so both run a function in the same workers. Made on first use, closed by
        ``stop()``."""
        from .gateway.workers import Workers

        with self._workers_lock:
            if self._workers is None:
                creds = self.credentials
                self._workers = Workers(self.region, self.endpoint_url, creds.access_key_id, creds.secret_access_key)
            return self._workers

    def serve(self, app: Any, ports: dict[Any, int] | None = None) -> LocalGateway:
        """Serve every ``Api``, ``WebSocketApi`` and ``AppSyncApi`` of the deployed ``app`` on 127.0.0.1,
        running its handlers.

        ``with cloud.serve(app) as gw:`` → ``gw.url(api)`` is ``"http://127.0.0.1:PORT"``, ``gw.url(ws)``
        ``"ws://127.0.0.1:PORT/{stage}"`` and ``gw.management_endpoint(ws)`` its ``@connections``,
        ``gw.url(appsync)`` ``"http://127.0.0.1:PORT/graphql"`` (one port per API; ``ports={api: 8080}``
        pins them). The gateway reads what was deployed into this cloud (routes, integrations, authorizers,
        CORS, stage; AppSync schema, data sources, resolvers, auth and keys; each function's handler,
        timeout and environment), checks JWT / IAM / Lambda authorizers (of HTTP routes and of WebSocket
        APIs' ``$connect``; ``@connections`` requests must be SigV4-signed with a key pair this cloud hands
        out), and runs handlers in warm worker processes; leaving the ``with`` stops servers and workers.
        """
        from .gateway.server import LocalGateway

        if not self.running:
            raise RuntimeError("LocalCloud is not running; start it before serve()")
        return LocalGateway(self, app, ports)

    def principal(self, access_key_id: str) -> Principal | None:
        """Whom ``access_key_id`` belongs to, when this cloud handed it out (:attr:`credentials`, an IAM user's
        access key, an STS session, a Cognito identity pool's credentials), else None: what the local gateway
        checks SigV4 against (see :mod:`sstdirect.local.ext.principals`)."""
        if self._principals is None:
            from .ext.principals import EmbeddedPrincipals

            self._principals = EmbeddedPrincipals(self.credentials.access_key_id, self.credentials.secret_access_key)
        return self._principals(access_key_id)

    # --- clients -----------------------------------------------------------------------------

    def session(self) -> boto3.Session:
        """A ``boto3.Session`` with this cloud's credentials and region (pass ``endpoint_url``
        to its clients, or use :meth:`client`).

        The session ignores ``AWS_PROFILE`` and the user's ``~/.aws`` config and credentials
        files, so neither a missing profile nor real credentials can get in the way. Sessions
        share one botocore data loader, so a new session's first client is cheap.
        """
        import os

        import boto3
        import botocore.session
        from botocore.configprovider import ConstantProvider

        from .botocore_loader import shared_loader

        core = botocore.session.Session()
        core.register_component("data_loader", shared_loader())
        store = core.get_component("config_store")
        store.set_config_provider("profile", ConstantProvider(None))
        store.set_config_provider("config_file", ConstantProvider(os.devnull))
        store.set_config_provider("credentials_file", ConstantProvider(os.devnull))
        return boto3.Session(
            aws_access_key_id=self.credentials.access_key_id,
            aws_secret_access_key=self.credentials.secret_access_key,
            region_name=self.region,
            botocore_session=core,
        )

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` pointed at this cloud (``kwargs`` go to ``client()``).

        It bypasses any ``HTTP(S)_PROXY`` from the environment (the cloud is on 127.0.0.1);
        a ``config`` passed in is merged on top of that.
        """
        from botocore.config import Config

        kwargs.setdefault("endpoint_url", self.endpoint_url)
        direct = Config(proxies={})
        kwargs["config"] = direct.merge(kwargs["config"]) if kwargs.get("config") else direct
        return self.session().client(service, **kwargs)

    def __repr__(self) -> str:
        where = self.endpoint_url if self.running else "stopped"
        return f"LocalCloud({where}, region={self.region!r})"


# --- the server --------------------------------------------------------------------------------


def _make_server(port: int, middleware: LatencyMiddleware | None = None,
                 marker: Callable[[], dict[str, str]] | None = None,
                 workers: Callable[[], Workers] | None = None) -> ThreadedMotoServer:
    """A ThreadedMotoServer on 127.0.0.1 whose per-service apps answer unimplemented operations
    with 501 (see ``ext.notimplemented``), and whose start() reports a failed bind instead of
    waiting forever (moto's waits for a ready event its thread never sets). ``marker()`` is the JSON
    answered to ``GET`` :data:`MARKER_PATH` (outside the latency middleware: not an AWS request).
    ``workers()`` is what Lambda ``Invoke`` requests run in (given to them in the WSGI environ)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    from .ext.lambda_invoke import WORKERS_ENVIRON_KEY
    from .ext.notimplemented import create_backend_app

    class _RequestHandler(MotoRequestHandler):
        """Access lines go to the ``sstdirect.local`` logger at DEBUG, not to stderr."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            _log.debug("%s %s -> %s", self.command, self.path, code)

    class _Dispatcher(DomainDispatcherApplication):
        """moto's dispatcher, with two changes:

        * one request at a time per service: moto's backends are not thread-safe (IAM's
          GetAccountAuthorizationDetails iterating roles while another request creates one answered
          500 "dictionary changed size during iteration"); AWS never does. The latency model's sleeps
          happen outside (in :class:`LatencyMiddleware`), so modelled round trips still overlap;
        * the host → backend lookup memoized: moto recomputes it (a scan of its module folder and ~200
          URL patterns) on every request, under the lock that serializes dispatch.
        """

        def __init__(self, create_app: Any) -> None:
            super().__init__(create_app)
            self._backend_for_host: dict[str | None, Any] = {}
            self._service_locks: dict[int, threading.RLock] = {}

        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            backend_app = self.get_application(environ)
            if _INVOKE_PATH.match(environ.get("PATH_INFO") or ""):  # runs code that may call back: no lock
                if workers is not None:
                    environ[WORKERS_ENVIRON_KEY] = workers
                return backend_app(environ, start_response)
            with self.lock:
                service_lock = self._service_locks.setdefault(id(backend_app), threading.RLock())
            with service_lock:
                return backend_app(environ, start_response)

        def get_backend_for_host(self, host: str | None) -> Any:
            try:
                return self._backend_for_host[host]
            except KeyError:
                if len(self._backend_for_host) > 1024:  # Host headers are the clients' to choose
                    self._backend_for_host.clear()
                backend = self._backend_for_host[host] = super().get_backend_for_host(host)
                return backend

    class _Server(ThreadedMotoServer):
        startup_error: BaseException | None = None

        def _server_entry(self) -> None:
            try:
                app: Any = _Dispatcher(create_backend_app)
                if middleware is not None:
                    middleware.app = app
                    app = middleware
                if marker is not None:
                    app = _MarkerApp(app, marker)
                self._server = make_server(self._ip_address, self._port, app, True, request_handler=_RequestHandler)
            except BaseException as exc:
                self.startup_error = exc
                self._server_ready_event.set()
                return
            self._server_ready_event.set()
            self._server.serve_forever(poll_interval=0.05)  # stop() waits up to one interval

    return _Server(ip_address=HOST, port=port, verbose=False)


class _MarkerApp:
    """WSGI: ``GET`` :data:`MARKER_PATH` answers ``marker()`` as JSON; every other request goes to ``app``."""

    def __init__(self, app: Callable[..., Any], marker: Callable[[], dict[str, str]]) -> None:
        self.app = app
        self.marker = marker

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != MARKER_PATH or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        body = json.dumps(self.marker()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


# --- finding a cloud by its endpoint -------------------------------------------------------------


def _loopback_port(endpoint_url: str) -> int | None:
    """The port of an ``http://`` endpoint on a loopback host (127.0.0.0/8, ::1, localhost), else None."""
    try:
        parts = urllib.parse.urlsplit(endpoint_url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or port is None or parts.path not in ("", "/"):
        return None
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                return None
        except ValueError:
            return None
    return port


def running_cloud(endpoint_url: str) -> LocalCloud | None:
    """The ``LocalCloud`` running in this process that serves ``endpoint_url``, else None (no request)."""
    port = _loopback_port(endpoint_url)
    if port is None:
        return None
    with _settings_lock:
        return next((cloud for cloud in _running if cloud._port == port), None)


def endpoint_credentials(endpoint_url: str, timeout: float = 1.0) -> Credentials | None:
    """The key pair of the ``LocalCloud`` serving ``endpoint_url``, else None.

    A cloud running in this process is found without a request; otherwise only a loopback ``http://``
    endpoint is asked (one ``GET`` :data:`MARKER_PATH`, no proxy, ``timeout`` seconds), and only an answer
    carrying :data:`MARKER` counts -- another server there (a plain moto, LocalStack) is not a LocalCloud.
    """
    cloud = running_cloud(endpoint_url)
    if cloud is not None:
        return cloud.credentials
    if _loopback_port(endpoint_url) is None:
        return None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(endpoint_url.rstrip("/") + MARKER_PATH, timeout=timeout) as response:
            data = json.loads(response.read(4096))
    except (OSError, ValueError):  # nothing listens, a timeout, an HTTP error, not JSON
        return None
    if not isinstance(data, dict) or data.get("service") != MARKER:
        return None
    key, secret = data.get("access_key_id"), data.get("secret_access_key")
    if not (isinstance(key, str) and key and isinstance(secret, str) and secret):
        return None
    return Credentials(key, secret)


# --- process-global moto settings ---------------------------------------------------------------

_settings_lock = threading.Lock()
_running: list[LocalCloud] = []
_saved: dict[str, Any] = {}


def _acquire_settings(cloud: LocalCloud) -> None:
    """Apply ``cloud``'s ACM wait and Docker-less Lambda; remember moto's values on first use."""
    from moto import settings
    from moto.core.config import default_user_config

    with _settings_lock:
        if not _running:
            _saved["acm_wait"] = settings.ACM_VALIDATION_WAIT
            _saved["lambda"] = default_user_config.get("lambda")
        _running.append(cloud)
        settings.ACM_VALIDATION_WAIT = cloud.acm_validation_wait  # type: ignore[assignment]
        default_user_config["lambda"] = {**(default_user_config.get("lambda") or {}), "use_docker": False}


def _release_settings(cloud: LocalCloud) -> None:
    """Forget ``cloud``; when no cloud runs any more, restore moto's settings."""
    from moto import settings
    from moto.core.config import default_user_config

    with _settings_lock:
        if cloud in _running:
            _running.remove(cloud)
        if _running:
            settings.ACM_VALIDATION_WAIT = _running[-1].acm_validation_wait  # type: ignore[assignment]
            return
        if _saved:
            settings.ACM_VALIDATION_WAIT = _saved.pop("acm_wait")
            default_user_config["lambda"] = _saved.pop("lambda")  # type: ignore[typeddict-item]
