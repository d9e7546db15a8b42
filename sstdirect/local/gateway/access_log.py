"""Stage access logs: each HTTP request, and each WebSocket route invocation, writes one line in the stage's
configured format (``AccessLogSettings.Format``: SST's default JSON or the user's string) with its ``$context.*``
variables substituted, to the stage's log group (``AccessLogSettings.DestinationArn``), through the gateway's
:class:`~.logwriter.LogWriter`. A variable the request does not have is ``-``, as API Gateway writes it.

The variables come from the Lambda event's ``requestContext`` (flattened: ``identity.sourceIp``,
``http.method``, ``authorizer.jwt.claims.sub`` also as ``authorizer.claims.sub``, ...) when the integration ran,
and from the request, the response and the invocation (``status``, ``responseLatency``, ``integration.*``,
``requestTime``, ...) always. :class:`HttpAccessLog` wraps an HTTP API's pipeline (the server calls its
``handle``); :class:`WsAccessLog` wraps a WebSocket API's ``invoke``. Both also tell ``listeners`` (``sstdirect
dev``'s request line) of every :class:`RequestLine`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .deployed import Invoke, Outcome
from .logwriter import LogWriter
from .messages import HttpRequest, HttpResponse

_log = logging.getLogger("sstdirect.local.gateway")
_VARIABLE = re.compile(r"\$context\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)")


@dataclass(frozen=True)
class AccessLogConfig:
    """A stage's access logging: its log group's name and the line format."""

    group: str
    format: str


@dataclass(frozen=True)
class RequestLine:
    """What ``sstdirect dev`` prints of one request."""

    method: str  # the HTTP method, or "WS" for a WebSocket route
    path: str  # the path, or the WebSocket route key
    status: int
    latency_ms: int
    function: str  # the integration's function, "" when none ran


def read_access_log(apigw: Any, api_id: str, stage: str) -> AccessLogConfig | None:
    """The access logging of ``api_id``'s ``stage`` (None when it has none)."""
    try:
        settings = apigw.get_stage(ApiId=api_id, StageName=stage).get("AccessLogSettings") or {}
    except Exception:
        _log.debug("reading the stage %s of %s failed", stage, api_id, exc_info=True)
        return None
    arn, fmt = settings.get("DestinationArn"), settings.get("Format")
    if not arn or not fmt:
        return None
    return AccessLogConfig(group=arn.split(":log-group:", 1)[-1].removesuffix(":*"), format=fmt)


def render(fmt: str, variables: dict[str, Any]) -> str:
    """``fmt`` with every ``$context.NAME`` (dotted: ``$context.identity.sourceIp``) replaced by
    ``variables[NAME]``, ``-`` when missing or empty."""

    def value(match: re.Match[str]) -> str:
        found = variables.get(match.group(1))
        return "-" if found is None or found == "" else str(found)

    return _VARIABLE.sub(value, fmt)


def request_time(epoch_s: float) -> str:
    """``$context.requestTime``: CLF-formatted (``08/Dec/2026:01:12:27 +0000``)."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_s))


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` → ``{"a.b": 1}`` (lists and scalars are leaves)."""
    if not isinstance(value, dict):
        return {prefix: value} if prefix else {}
    out: dict[str, Any] = {}
    for key, item in value.items():
        out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def context_variables(event: Any) -> dict[str, Any]:
    """The ``$context`` variables a Lambda event's ``requestContext`` carries."""
    ctx = event.get("requestContext") if isinstance(event, dict) else None
    out = flatten(ctx) if isinstance(ctx, dict) else {}
    for key in list(out):
        for long, short in (("authorizer.jwt.claims.", "authorizer.claims."), ("authorizer.lambda.", "authorizer.")):
            if key.startswith(long):
                out.setdefault(short + key[len(long):], out[key])
    http = ctx.get("http") if isinstance(ctx, dict) else None
    if isinstance(http, dict):  # payload 2.0 keeps these under requestContext.http
        out.setdefault("httpMethod", http.get("method"))
        out.setdefault("identity.sourceIp", http.get("sourceIp"))
        out.setdefault("identity.userAgent", http.get("userAgent"))
    return out


def integration_variables(outcome: Outcome | None, latency_ms: int) -> dict[str, Any]:
    """``$context.integration.*`` (and the older ``integrationLatency`` names) of the integration's run."""
    if outcome is None:
        return {}
    status = 200 if outcome.status != "timeout" else None
    error = outcome.error if outcome.status != "ok" else None
    request_id = getattr(outcome, "request_id", "")
    return {"integration.requestId": request_id, "awsEndpointRequestId": request_id,
            "integration.status": status, "integration.integrationStatus": status, "integrationStatus": status,
            "integration.latency": latency_ms, "integrationLatency": latency_ms,
            "integration.error": error, "integrationErrorMessage": error}


class _Recorder:
    """An ``invoke`` that remembers, per thread, what each call gave (the request's integration is one of them)."""

    def __init__(self, invoke: Invoke):
        self._invoke = invoke
        self._local = threading.local()

    def start(self) -> None:
        self._local.calls = []

    def calls(self) -> list[tuple[str, Any, Outcome, int]]:
        return list(getattr(self._local, "calls", None) or [])

    def __call__(self, function_name: str, event: Any, timeout_s: float) -> Outcome:
        began = time.monotonic()
        outcome = self._invoke(function_name, event, timeout_s)
        calls = getattr(self._local, "calls", None)
        if calls is not None:
            calls.append((function_name, event, outcome, int((time.monotonic() - began) * 1000)))
        return outcome


Listener = Callable[[RequestLine], None]


class _Stage:
    def __init__(self, api_id: str, stage: str, config: AccessLogConfig | None, logs: LogWriter,
                 listeners: list[Listener]):
        self.api_id, self.stage, self.config, self.logs, self.listeners = api_id, stage, config, logs, listeners
        self.stream = f"{api_id}_{stage}-{uuid.uuid4().hex[:16]}"

    def emit(self, variables: dict[str, Any], line: RequestLine, at_s: float) -> None:
        if self.config is not None:
            self.logs.put(self.config.group, self.stream, [(int(at_s * 1000), render(self.config.format, variables))])
        for listener in list(self.listeners):
            try:
                listener(line)
            except Exception:
                _log.exception("a request listener failed")


class HttpAccessLog(_Stage):
    """Wraps an HTTP API's pipeline: ``handle`` answers as it does, then writes the access-log line."""

    def __init__(self, make_gateway: Callable[[Invoke], Any], invoke: Invoke, api_id: str, stage: str,
                 config: AccessLogConfig | None, logs: LogWriter, listeners: list[Listener]):
        super().__init__(api_id, stage, config, logs, listeners)
        self._recorder = _Recorder(invoke)
        self.gateway = make_gateway(self._recorder)

    def handle(self, request: HttpRequest) -> HttpResponse:
        began_at, began = time.time(), time.monotonic()
        self._recorder.start()
        response = self.gateway.handle(request)
        latency = int((time.monotonic() - began) * 1000)
        try:
            self._log(request, response, began_at, latency)
        except Exception:  # logging never fails a request
            _log.exception("writing the access log of %s %s failed", request.method, request.raw_path)
        return response

    def _log(self, request: HttpRequest, response: HttpResponse, began_at: float, latency: int) -> None:
        route = self.gateway.table.match(request.method, request.raw_path)
        integration = getattr(self.gateway.config.routes.get(route.route_key), "integration", None) if route else None
        target = integration.function_name if integration is not None else ""
        ran = [c for c in self._recorder.calls() if c[0] == target]
        name, event, outcome, integration_ms = ran[-1] if ran else ("", None, None, 0)
        variables = {
            "apiId": self.api_id, "stage": self.stage, "httpMethod": request.method, "path": request.raw_path,
            "protocol": request.protocol, "routeKey": route.route_key if route else None,
            "identity.sourceIp": request.source_ip, "identity.userAgent": request.header("user-agent"),
            "domainName": request.header("host"),
            **context_variables(event),
            "requestId": response.header("apigw-requestid"), "extendedRequestId": response.header("apigw-requestid"),
            "requestTime": request_time(began_at), "requestTimeEpoch": int(began_at * 1000),
            "status": response.status, "responseLength": len(response.body), "responseLatency": latency,
            **integration_variables(outcome, integration_ms),
        }
        self.emit(variables, RequestLine(request.method, request.raw_path, response.status, latency, name), began_at)


class WsAccessLog(_Stage):
    """Wraps a WebSocket API's ``invoke``: each route's integration run writes the access-log line."""

    def __init__(self, invoke: Invoke, api_id: str, stage: str, config: AccessLogConfig | None, logs: LogWriter,
                 listeners: list[Listener]):
        super().__init__(api_id, stage, config, logs, listeners)
        self._invoke = invoke

    def __call__(self, function_name: str, event: Any, timeout_s: float) -> Outcome:
        began_at, began = time.time(), time.monotonic()
        outcome = self._invoke(function_name, event, timeout_s)
        ctx = event.get("requestContext") if isinstance(event, dict) else None
        if isinstance(ctx, dict) and ctx.get("eventType") and event.get("type") != "REQUEST":  # not an authorizer
            try:
                self._log(function_name, event, ctx, outcome, began_at, int((time.monotonic() - began) * 1000))
            except Exception:
                _log.exception("writing the access log of %s failed", ctx.get("routeKey"))
        return outcome

    def _log(self, name: str, event: Any, ctx: dict[str, Any], outcome: Outcome, began_at: float,
             latency: int) -> None:
        result = outcome.result if outcome.status == "ok" else None
        status = result.get("statusCode") if isinstance(result, dict) and "statusCode" in result else None
        status = int(status) if isinstance(status, int | str) and str(status).isdigit() else (
            200 if outcome.status == "ok" else 500)
        variables = {"apiId": self.api_id, "stage": self.stage, **context_variables(event),
                     "requestTime": request_time(began_at), "requestTimeEpoch": int(began_at * 1000),
                     "status": status, "responseLatency": latency, **integration_variables(outcome, latency)}
        self.emit(variables, RequestLine("WS", str(ctx.get("routeKey") or ""), status, latency, name), began_at)
