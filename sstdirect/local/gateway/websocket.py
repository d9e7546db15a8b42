"""A deployed WebSocket API's semantics, pure (SEMANTICS.md §6): route selection, the Lambda events of
``$connect`` / messages / ``$disconnect``, ``$connect``'s authorization and what its result means for the
handshake, the gateway's error frames and the size limits. No sockets here: :mod:`.ws_server` does the I/O.

``$connect`` authorization (§6.2) is :class:`.auth.Authorizers`' (:meth:`~.auth.Authorizers.check_connect`),
the very checks of HTTP APIs: ``AWS_IAM`` verifies the upgrade request's SigV4 (presigned query or
``Authorization`` header) and the caller's policies on ``.../{stage}/$connect``, and fills the caller into
``requestContext.identity``; ``CUSTOM`` calls the Lambda REQUEST authorizer with the ``$connect`` event
plus ``type`` and ``methodArn`` and evaluates the IAM policy it answers (401 for a missing identity source,
403 for a deny, 500 when it fails; cached for its TTL). Its ``principalId`` and ``context`` become
``requestContext.authorizer`` of ``$connect`` and of every later event of the connection, as on AWS.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .auth import Authorizers, Verdict
from .deployed import AuthorizerConfig, Integration, Invoke, Outcome
from .events import Context, _joined, _multi, clf_time, new_request_id, new_trace_id, query_pairs
from .messages import HttpRequest, HttpResponse

_log = logging.getLogger("sstdirect.local.gateway")

# §6.5: "Message payload 128 KB; frame 32 KB ... closed with code 1009"; binary → 1003.
MAX_MESSAGE_BYTES = 128 * 1024
MAX_FRAME_BYTES = 32 * 1024
CLOSE_TOO_BIG = 1009
CLOSE_UNSUPPORTED = 1003
# §6.5: idle 10 minutes, at most 2 hours. The close code is undocumented: 1001 "Going away" as
# serverless-offline does (INFERRED, EMU).
IDLE_TIMEOUT_S = 10 * 60
MAX_DURATION_S = 2 * 60 * 60
CLOSE_GOING_AWAY = 1001
# An @connections DELETE closes the connection; the code AWS sends is undocumented (INFERRED: 1000).
CLOSE_NORMAL = 1000
# No close frame received (the TCP connection just ended): RFC 6455's 1006.
CLOSE_ABNORMAL = 1006
MAX_POST_BYTES = 131072  # @connections PostToConnection Data (§6.4)
WS_INTEGRATION_TIMEOUT_MS = 29000  # §6.5: the WebSocket integration timeout default


@dataclass(frozen=True)
class WsRoute:
    """One deployed route: its integration (None: no target) and, for ``$connect``, its authorization."""

    key: str
    integration: Integration | None
    two_way: bool = False  # a ``$default`` route response is configured (§6.1)
    authorization_type: str = "NONE"  # NONE | AWS_IAM | CUSTOM (``$connect`` only)
    authorizer: AuthorizerConfig | None = None  # CUSTOM: the REQUEST authorizer


@dataclass
class WsApiConfig:
    """What the gateway serves for one WebSocket API (read from the embedded AWS by :mod:`.config`)."""

    api_id: str
    stage: str
    route_selection_expression: str = "$request.body.action"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    routes: dict[str, WsRoute] = field(default_factory=dict)
    stage_variables: dict[str, str] = field(default_factory=dict)

    @property
    def domain_name(self) -> str:
        return f"{self.api_id}.execute-api.{self.region}.amazonaws.com"


def new_connection_id() -> str:
    """A 16-character base64 id ending in ``=``, like the real ``"R1kmxc2VNjMCFIA="`` (§6.3): 11 random
    bytes, drawn again until the text holds only letters and digits (real ids show no ``+`` or ``/``)."""
    while True:
        text = base64.b64encode(os.urandom(11)).decode()
        if "+" not in text and "/" not in text:
            return text


# --- route selection (§6.1) -------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{([^}]*)\}|\$(request\.body(?:\.[A-Za-z0-9_\-]+)*)")


def _stringify(value: Any) -> str:
    """The JSONPath result "will be stringified": strings as they are, arrays as ``[item1, item2]``,
    objects, numbers and booleans as JSON text (INFERRED for the non-array, non-string cases)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_stringify(v) for v in value) + "]"
    return json.dumps(value, separators=(",", ":"))


def _body_path(body: Any, path: str) -> str:
    """``request.body.a.b`` evaluated on the parsed message; a missing path is ``""`` (§6.1)."""
    if path == "request.body":
        return _stringify(body)
    if not path.startswith("request.body."):
        return ""  # only the message body is a selection source for messages (INFERRED for anything else)
    value = body
    for part in path[len("request.body."):].split("."):
        if not isinstance(value, dict) or part not in value:
            return ""
        value = value[part]
    return "" if value is None else _stringify(value)


def evaluate(expression: str, message: str) -> str | None:
    """The route key a message selects by ``expression`` (evaluated once, no recursion), or None when
    the message is not JSON ("Non-JSON messages are directed to a ``$default`` route")."""
    try:
        body = json.loads(message)
    except ValueError:
        return None
    if expression.strip() == r"\$default":
        return "$default"
    return _VARIABLE.sub(lambda m: _body_path(body, (m.group(1) or m.group(2)).strip()), expression)


def select_route(config: WsApiConfig, message: str) -> WsRoute | None:
    """The route for a message: the exactly matching key, else ``$default``, else None (→ Forbidden)."""
    key = evaluate(config.route_selection_expression, message)
    if key is not None and key in config.routes and key not in ("$connect", "$disconnect"):
        return config.routes[key]
    return config.routes.get("$default")


def error_frame(message: str, connection_id: str, request_id: str) -> str:
    """The gateway's error frame, in its exact wire form (note the spacing, §6.1)."""
    return f'{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{request_id}"}}'


# --- events (§6.3) ----------------------------------------------------------------------------


@dataclass
class Connection:
    """What the gateway knows about one client connection (the parts events and @connections show)."""

    connection_id: str
    source_ip: str
    user_agent: str | None = None
    connected_at_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    last_active_ms: int = 0
    authorizer: dict[str, Any] | None = None  # the $connect authorizer's context, repeated on later events
    # an IAM caller's requestContext.identity fields (accessKey, userArn, ...), repeated on later events
    # as the connection's caller does not change (INFERRED)
    caller: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.last_active_ms = self.last_active_ms or self.connected_at_ms

    def identity(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.caller, "sourceIp": self.source_ip}
        if self.user_agent is not None:
            out["userAgent"] = self.user_agent
        return out


def _request_context(config: WsApiConfig, conn: Connection, route_key: str, event_type: str,
                     request_id: str, epoch_ms: int) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": clf_time(epoch_ms),
        "messageDirection": "IN",
        "stage": config.stage,
        "connectedAt": conn.connected_at_ms,
        "requestTimeEpoch": epoch_ms,
        "identity": conn.identity(),
        "requestId": request_id,
        "domainName": config.domain_name,
        "connectionId": conn.connection_id,
        "apiId": config.api_id,
    }
    if conn.authorizer is not None:
        ctx["authorizer"] = dict(conn.authorizer)
    return ctx


# Handshake headers the REQUEST authorizer sees but the $connect integration does not (SEMANTICS.md §11;
# powertools apiGatewayAuthorizerWebSocketEvent.json vs apiGatewayWebSocketApiConnect.json).
_AUTHORIZER_ONLY = ("connection", "upgrade", "content-length")


def connect_headers(config: WsApiConfig, headers: list[tuple[str, str]], source_ip: str,
                    epoch_ms: int) -> list[tuple[str, str]]:
    """The handshake's headers as the ``$connect`` integration event shows them: the **original** case
    (§6.3), no ``Connection``, ``Upgrade`` or ``content-length`` (§11), ``Host`` set to the execute-api
    host, and the ``X-Amzn-Trace-Id`` / ``X-Forwarded-*`` headers API Gateway adds."""
    out: list[tuple[str, str]] = []
    forwarded_for = None
    for name, value in headers:
        lower = name.lower()
        if lower in ("host", "x-forwarded-port", "x-forwarded-proto", *_AUTHORIZER_ONLY):
            continue
        if lower == "x-forwarded-for":
            forwarded_for = value if forwarded_for is None else f"{forwarded_for}, {value}"
            continue
        out.append((name, value))
    out.append(("Host", config.domain_name))
    if not any(n.lower() == "x-amzn-trace-id" for n, _ in out):
        out.append(("X-Amzn-Trace-Id", new_trace_id(epoch_ms / 1000)))
    chain = f"{forwarded_for}, {source_ip}" if forwarded_for else source_ip
    out += [("X-Forwarded-For", chain), ("X-Forwarded-Port", "443"), ("X-Forwarded-Proto", "https")]
    return out


def connect_event(config: WsApiConfig, conn: Connection, headers: list[tuple[str, str]],
                  query: list[tuple[str, str]], request_id: str | None = None,
                  epoch_ms: int | None = None) -> dict[str, Any]:
    """The ``$connect`` integration event (§6.3): headers in their original case (repeated names
    comma-joined in ``headers``), query maps only when there is a query (INFERRED, as payload 2.0
    leaves optional keys out), no ``body``."""
    request_id = request_id or new_request_id()
    epoch_ms = epoch_ms if epoch_ms is not None else int(time.time() * 1000)
    pairs = connect_headers(config, headers, conn.source_ip, epoch_ms)
    event: dict[str, Any] = {"headers": _joined(pairs), "multiValueHeaders": _multi(pairs)}
    if query:
        event["queryStringParameters"] = {k: v for k, v in query}  # the last value wins, as payload 1.0
        event["multiValueQueryStringParameters"] = _multi(query)
    if config.stage_variables:
        event["stageVariables"] = dict(config.stage_variables)
    event["requestContext"] = _request_context(config, conn, "$connect", "CONNECT", request_id, epoch_ms)
    event["isBase64Encoded"] = False
    return event


def authorizer_event(config: WsApiConfig, connect: dict[str, Any],
                     handshake: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """The REQUEST authorizer's event (§6.3, §11; the real capture is powertools
    ``apiGatewayAuthorizerWebSocketEvent.json``): the ``$connect`` event plus ``type`` and ``methodArn``,
    with the ``handshake``'s ``Connection`` / ``Upgrade`` and ``content-length: 0`` headers the integration
    does not see, ``queryStringParameters``, ``multiValueQueryStringParameters`` and ``stageVariables``
    ``{}`` when empty, and no ``isBase64Encoded``."""
    arn = (f"arn:aws:execute-api:{config.region}:{config.account_id}:{config.api_id}/{config.stage}/$connect")
    extra = [(n, v) for n, v in handshake if n.lower() in _AUTHORIZER_ONLY[:2]] + [("content-length", "0")]
    return {"type": "REQUEST", "methodArn": arn,
            "headers": {**connect["headers"], **_joined(extra)},
            "multiValueHeaders": {**connect["multiValueHeaders"], **_multi(extra)},
            **{k: dict(connect.get(k) or {}) for k in ("queryStringParameters", "multiValueQueryStringParameters",
                                                        "stageVariables")},
            "requestContext": dict(connect["requestContext"])}


def message_event(config: WsApiConfig, conn: Connection, route_key: str, body: str,
                  request_id: str | None = None, epoch_ms: int | None = None) -> dict[str, Any]:
    """A MESSAGE event (§6.3): no headers; ``messageId`` only here."""
    request_id = request_id or new_request_id()
    epoch_ms = epoch_ms if epoch_ms is not None else int(time.time() * 1000)
    ctx = _request_context(config, conn, route_key, "MESSAGE", request_id, epoch_ms)
    ctx = {"routeKey": route_key, "messageId": new_request_id(), **ctx}
    return {"requestContext": ctx, "body": body, "isBase64Encoded": False}


def disconnect_event(config: WsApiConfig, conn: Connection, status_code: int, reason: str,
                     request_id: str | None = None, epoch_ms: int | None = None) -> dict[str, Any]:
    """The DISCONNECT event (§6.3), with the headers the real capture shows."""
    request_id = request_id or new_request_id()
    epoch_ms = epoch_ms if epoch_ms is not None else int(time.time() * 1000)
    headers = {"Host": config.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    ctx = _request_context(config, conn, "$disconnect", "DISCONNECT", request_id, epoch_ms)
    ctx = {"routeKey": "$disconnect", "disconnectStatusCode": status_code, **ctx}
    ctx["disconnectReason"] = reason
    return {"headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "requestContext": ctx, "isBase64Encoded": False}


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handshake:
    """What ``$connect`` decided: ``status`` 101 accepts; anything else rejects with that status."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


def connect_result(outcome: Outcome) -> Handshake:
    """A ``$connect`` invocation → the handshake (§6.2): 2xx accepts (a ``Sec-WebSocket-Protocol``
    header the Lambda returns is passed on), another status rejects with it, an error or a timeout → 502.
    A result with no ``statusCode`` (or ``None``) accepts (INFERRED, as API Gateway defaults to 200)."""
    if outcome.status != "ok":
        return bad_gateway()
    result = outcome.result
    if result is None or (isinstance(result, dict) and "statusCode" not in result):
        return Handshake(101)
    if not isinstance(result, dict):
        return Handshake(101)  # a bare value: treated as a 200 body (INFERRED)
    status = result.get("statusCode")
    if isinstance(status, str) and status.strip().isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return bad_gateway()
    if 200 <= status < 300:
        headers = result.get("headers") or {}
        protocol = next((str(v) for k, v in headers.items() if k.lower() == "sec-websocket-protocol"), None) \
            if isinstance(headers, dict) else None
        return Handshake(101, (("Sec-WebSocket-Protocol", protocol),) if protocol else ())
    # The rejected handshake's body is undocumented (wscat shows only the status): the Lambda's own
    # string body is passed on (INFERRED).
    body = result.get("body")
    return Handshake(status, body=body.encode() if isinstance(body, str) else b"")


def bad_gateway() -> Handshake:
    """``$connect`` raised or timed out: 502 (§6.2); body as API Gateway's WebSocket errors (INFERRED)."""
    return Handshake(502, (("Content-Type", "application/json"),), b'{"message": "Internal server error"}')


def refused(response: HttpResponse) -> Handshake:
    """An authorizer's refusal (401 ``Unauthorized``, 403 ``Forbidden``, 500 when it failed, §6.2) as the
    rejected handshake: the gateway's own error response, its status and JSON body."""
    headers = tuple((k, v) for k, v in response.headers if k.lower() not in ("content-length", "connection"))
    return Handshake(response.status, headers, response.body)


def reply_frame(route: WsRoute, outcome: Outcome) -> str | None:
    """What a message route sends back: nothing for a one-way route (§6.1), the result's ``body`` for a
    two-way route (a non-string body as JSON text, INFERRED); None when nothing is sent."""
    if not route.two_way or outcome.status != "ok":
        return None
    result = outcome.result
    # a bare result (no statusCode) is the body (INFERRED, as for HTTP APIs)
    body = result.get("body") if isinstance(result, dict) and "statusCode" in result else result
    if body is None:
        return None
    return body if isinstance(body, str) else json.dumps(body)


# --- one API's pipeline -----------------------------------------------------------------------

Authorize = Callable[[WsRoute, HttpRequest, dict[str, Any]], Verdict]


class WsGateway:
    """One deployed WebSocket API's pipeline, given an ``invoke`` callable (blocking; the server calls it
    from worker threads): :meth:`connect`, :meth:`message`, :meth:`disconnect`. ``auth`` checks
    ``$connect``'s authorizer (by default with no credentials: every SigV4 signature is refused);
    :attr:`authorize` is the hook that does it (``(route, upgrade request, $connect event) → Verdict``)."""

    def __init__(self, config: WsApiConfig, invoke: Invoke, auth: Authorizers | None = None):
        self.config = config
        self.invoke = invoke
        self.auth = auth or Authorizers()
        self.authorize: Authorize = self._authorize

    def _authorize(self, route: WsRoute, request: HttpRequest, event: dict[str, Any]) -> Verdict:
        context = event["requestContext"]
        ctx = Context(self.config.api_id, self.config.region, self.config.account_id, self.config.stage,
                      request_id=context["requestId"], epoch_ms=context["requestTimeEpoch"],
                      stage_variables=dict(self.config.stage_variables))
        return self.auth.check_connect(route.authorization_type, route.authorizer, request, ctx,
                                       authorizer_event(self.config, event, request.headers), self.invoke)

    def _call(self, integration: Integration, event: dict[str, Any]) -> Outcome:
        outcome = self.invoke(integration.function_name, event, integration.timeout_ms / 1000)
        if outcome.status != "ok":
            _log.warning("WebSocket API %s, %s: %s failed: %s", self.config.api_id,
                         event["requestContext"]["routeKey"], integration.function_name,
                         outcome.error or outcome.status)
        return outcome

    def connect(self, conn: Connection, request: HttpRequest) -> Handshake:
        """Authorize the upgrade ``request``, then run ``$connect`` (§6.2). With no ``$connect`` route the
        connection is accepted."""
        route = self.config.routes.get("$connect")
        if route is None:
            return Handshake(101)
        event = connect_event(self.config, conn, request.headers, query_pairs(request.raw_query))
        if route.authorization_type != "NONE":
            verdict = self.authorize(route, request, event)
            if verdict.response is not None:
                return refused(verdict.response)
            context = event["requestContext"]
            if route.authorization_type == "CUSTOM":
                conn.authorizer = dict(verdict.authorizer_v1 or {})
                context["authorizer"] = dict(conn.authorizer)
            if verdict.identity:
                conn.caller = dict(verdict.identity)
                context["identity"] = conn.identity()
        if route.integration is None:
            return Handshake(101)
        return connect_result(self._call(route.integration, event))

    def message(self, conn: Connection, text: str) -> str | None:
        """One text message → the frame to send back, if any: the Forbidden frame when no route matches,
        the Internal server error frame when the Lambda fails (the connection stays open, §6.1), the
        route's reply for a two-way route."""
        route = select_route(self.config, text)
        request_id = new_request_id()
        if route is None or route.integration is None:
            return error_frame("Forbidden", conn.connection_id, request_id)
        event = message_event(self.config, conn, route.key, text, request_id=request_id)
        outcome = self._call(route.integration, event)
        if outcome.status != "ok":
            return error_frame("Internal server error", conn.connection_id, request_id)
        return reply_frame(route, outcome)

    def disconnect(self, conn: Connection, status_code: int, reason: str) -> None:
        """``$disconnect``, best effort, its result ignored (§6.2)."""
        route = self.config.routes.get("$disconnect")
        if route is not None and route.integration is not None:
            self._call(route.integration, disconnect_event(self.config, conn, status_code, reason))
