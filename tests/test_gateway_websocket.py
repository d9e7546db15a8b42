"""The WebSocket gateway's pure core, no sockets, no AWS: route selection (SEMANTICS.md §6.1), events
against the real captures (§6.3), ``$connect`` results (§6.2), ``@connections`` answers (§6.4) as botocore
parses them, and the worker's redirection of execute-api endpoints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from botocore.awsrequest import HeadersDict
from botocore.model import ServiceModel
from botocore.parsers import RestJSONParser
from botocore.session import get_session

from sstdirect.local.gateway import connections
from sstdirect.local.gateway._worker import EXECUTE_API_ENV, local_endpoint
from sstdirect.local.gateway.messages import HttpRequest
from sstdirect.local.gateway.pipeline import Integration, Outcome
from sstdirect.local.gateway.websocket import (
    Connection,
    Handshake,
    WsApiConfig,
    WsGateway,
    WsRoute,
    connect_event,
    connect_result,
    disconnect_event,
    error_frame,
    evaluate,
    message_event,
    new_connection_id,
    reply_frame,
    select_route,
)

# The key sets of the real captures in SEMANTICS.md §6.3.
CONNECT_CONTEXT = {"routeKey", "eventType", "extendedRequestId", "requestTime", "messageDirection", "stage",
                   "connectedAt", "requestTimeEpoch", "identity", "requestId", "domainName", "connectionId", "apiId"}
MESSAGE_CONTEXT = CONNECT_CONTEXT | {"messageId"}
DISCONNECT_CONTEXT = CONNECT_CONTEXT | {"disconnectStatusCode", "disconnectReason"}


def route(key: str, fn: str | None = None, **kwargs: Any) -> WsRoute:
    return WsRoute(key, Integration(fn or key.strip("$"), "1.0", 29000), **kwargs)


def config(*keys: str, expression: str = "$request.body.action") -> WsApiConfig:
    return WsApiConfig("abcdef123", "prod", expression, routes={k: route(k) for k in keys})


# --- route selection --------------------------------------------------------------------------


@pytest.mark.parametrize(("expression", "message", "key"), [
    ("$request.body.action", '{"action": "sendMessage"}', "sendMessage"),
    ("$request.body.action", '{"other": 1}', ""),  # a missing path resolves to ""
    ("$request.body.action", "[1, 2]", ""),
    ("$request.body.action", '{"action": ["a", "b"]}', "[a, b]"),  # arrays are stringified
    ("$request.body.action", '{"action": 7}', "7"),
    ("$request.body.action", '{"action": null}', ""),
    ("$request.body.a.b", '{"a": {"b": "deep"}}', "deep"),
    ("${request.body.service}/${request.body.action}", '{"service": "s", "action": "go"}', "s/go"),
    ("static", '{"action": "x"}', "static"),
    (r"\$default", '{"action": "x"}', "$default"),
    ("$request.body.action", "not json", None),  # non-JSON → $default
    ("$request.body.action", "", None),
])
def test_evaluate(expression: str, message: str, key: str | None) -> None:
    assert evaluate(expression, message) == key


def test_select_route_exact_then_default_then_none() -> None:
    with_default = config("$connect", "$default", "sendMessage")
    assert select_route(with_default, '{"action": "sendMessage"}').key == "sendMessage"  # type: ignore[union-attr]
    assert select_route(with_default, '{"action": "SendMessage"}').key == "$default"  # type: ignore[union-attr]
    assert select_route(with_default, "hello").key == "$default"  # type: ignore[union-attr]
    assert select_route(with_default, '{"action": "$connect"}').key == "$default"  # type: ignore[union-attr]
    without = config("$connect", "sendMessage")
    assert select_route(without, '{"action": "nope"}') is None
    assert select_route(without, "hello") is None


def test_error_frame_exact_wire_text() -> None:
    assert error_frame("Forbidden", "XDmENcnwIE0CFEQ=", "XDmGEE2RoE0FRdQ=") == (
        '{"message": "Forbidden", "connectionId":"XDmENcnwIE0CFEQ=", "requestId":"XDmGEE2RoE0FRdQ="}')


def test_connection_ids() -> None:
    ids = {new_connection_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9]{15}=", i) for i in ids)


# --- events -----------------------------------------------------------------------------------


def test_events_match_the_real_captures() -> None:
    cfg = config("$connect")
    conn = Connection("R1kmxc2VNjMCFIA=", "49.105.91.154", user_agent="Mozilla/5.0")
    headers = [("Host", "127.0.0.1:9999"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
               ("Sec-WebSocket-Key", "k=="), ("Sec-WebSocket-Version", "13"), ("HeaderAuth1", "headerValue1"),
               ("X-Forwarded-For", "10.0.0.1")]
    event = connect_event(cfg, conn, headers, [("QueryString1", "queryValue1")], request_id="REQ1",
                          epoch_ms=1674162806345)
    assert set(event) == {"headers", "multiValueHeaders", "queryStringParameters",
                          "multiValueQueryStringParameters", "requestContext", "isBase64Encoded"}
    ctx = event["requestContext"]
    assert set(ctx) == CONNECT_CONTEXT
    assert (ctx["routeKey"], ctx["eventType"], ctx["messageDirection"], ctx["stage"]) == (
        "$connect", "CONNECT", "IN", "prod")
    assert (ctx["requestTime"], ctx["requestTimeEpoch"], ctx["requestId"], ctx["extendedRequestId"]) == (
        "19/Jan/2023:21:13:26 +0000", 1674162806345, "REQ1", "REQ1")
    assert ctx["domainName"] == "abcdef123.execute-api.us-east-1.amazonaws.com" and ctx["apiId"] == "abcdef123"
    assert ctx["identity"] == {"sourceIp": "49.105.91.154", "userAgent": "Mozilla/5.0"}
    # original header case, Host rewritten, the headers API Gateway adds
    h = event["headers"]
    assert h["Host"] == "abcdef123.execute-api.us-east-1.amazonaws.com"
    assert (h["Upgrade"], h["Connection"], h["HeaderAuth1"], h["content-length"]) == (
        "websocket", "Upgrade", "headerValue1", "0")
    assert (h["X-Forwarded-For"], h["X-Forwarded-Port"], h["X-Forwarded-Proto"]) == (
        "10.0.0.1, 49.105.91.154", "443", "https")
    assert h["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert event["multiValueHeaders"]["Sec-WebSocket-Key"] == ["k=="]
    assert event["queryStringParameters"] == {"QueryString1": "queryValue1"}
    assert "body" not in event and event["isBase64Encoded"] is False
    # no query: no query maps
    assert "queryStringParameters" not in connect_event(cfg, conn, headers, [])

    message = message_event(cfg, conn, "sendMessage", '{"a": 1}')
    assert set(message) == {"requestContext", "body", "isBase64Encoded"}
    mctx = message["requestContext"]
    assert set(mctx) == MESSAGE_CONTEXT and list(mctx)[:2] == ["routeKey", "messageId"]
    assert (mctx["eventType"], mctx["routeKey"], message["body"]) == ("MESSAGE", "sendMessage", '{"a": 1}')
    assert mctx["messageId"] != mctx["requestId"] and mctx["connectedAt"] == ctx["connectedAt"]

    gone = disconnect_event(cfg, conn, 1001, "")
    assert set(gone) == {"headers", "multiValueHeaders", "requestContext", "isBase64Encoded"}
    assert gone["headers"] == {"Host": "abcdef123.execute-api.us-east-1.amazonaws.com", "x-api-key": "",
                               "X-Forwarded-For": "", "x-restapi": ""}
    dctx = gone["requestContext"]
    assert set(dctx) == DISCONNECT_CONTEXT
    assert (dctx["eventType"], dctx["disconnectStatusCode"], dctx["disconnectReason"]) == ("DISCONNECT", 1001, "")
    assert dctx["connectedAt"] == ctx["connectedAt"]


# --- $connect results and the pipeline --------------------------------------------------------


@pytest.mark.parametrize(("outcome", "status"), [
    (Outcome("ok", {"statusCode": 200}), 101),
    (Outcome("ok", {"statusCode": 204, "body": "x"}), 101),
    (Outcome("ok", {"statusCode": "200"}), 101),
    (Outcome("ok", None), 101),
    (Outcome("ok", {"body": "no status"}), 101),
    (Outcome("ok", {"statusCode": 401}), 401),
    (Outcome("ok", {"statusCode": 301}), 301),
    (Outcome("ok", {"statusCode": 500}), 500),
    (Outcome("ok", {"statusCode": "teapot"}), 502),
    (Outcome("error", error="RuntimeError: boom"), 502),
    (Outcome("timeout"), 502),
])
def test_connect_result(outcome: Outcome, status: int) -> None:
    assert connect_result(outcome).status == status


def test_connect_result_subprotocol_and_rejection_body() -> None:
    accepted = connect_result(Outcome("ok", {"statusCode": 200, "headers": {"sec-websocket-protocol": "chat"}}))
    assert accepted.headers == (("Sec-WebSocket-Protocol", "chat"),)
    assert connect_result(Outcome("ok", {"statusCode": 403, "body": "no"})).body == b"no"
    assert connect_result(Outcome("error")).body == b'{"message": "Internal server error"}'


def test_reply_frame_one_way_unless_route_response() -> None:
    ok = Outcome("ok", {"statusCode": 200, "body": "hi"})
    assert reply_frame(route("a"), ok) is None
    assert reply_frame(route("a", two_way=True), ok) == "hi"
    assert reply_frame(route("a", two_way=True), Outcome("ok", {"statusCode": 200})) is None
    assert reply_frame(route("a", two_way=True), Outcome("ok", {"x": 1})) == '{"x": 1}'
    assert reply_frame(route("a", two_way=True), Outcome("error")) is None


class Recorder:
    """An ``invoke`` that records calls and answers from a table."""

    def __init__(self, answers: dict[str, Outcome] | None = None):
        self.calls: list[tuple[str, dict[str, Any], float]] = []
        self.answers = answers or {}

    def __call__(self, name: str, event: dict[str, Any], timeout_s: float) -> Outcome:
        self.calls.append((name, event, timeout_s))
        return self.answers.get(name, Outcome("ok", {"statusCode": 200, "body": "ok"}))


def test_gateway_connect_message_disconnect() -> None:
    invoke = Recorder({"boom": Outcome("error", error="boom")})
    cfg = config("$connect", "$disconnect", "boom")
    cfg.routes["echo"] = route("echo", two_way=True)
    gw = WsGateway(cfg, invoke)
    conn = Connection(new_connection_id(), "127.0.0.1")
    assert gw.connect(conn, [("Host", "x")], []) == Handshake(101)
    assert invoke.calls[0][0] == "connect" and invoke.calls[0][2] == 29.0
    assert gw.message(conn, '{"action": "echo"}') == "ok"
    frame = gw.message(conn, '{"action": "boom"}')
    expected = '{"message": "Internal server error", "connectionId":"' + conn.connection_id + '", "requestId":"'
    assert (frame or "").startswith(expected) and (frame or "").endswith('"}')
    calls = len(invoke.calls)
    assert gw.message(conn, '{"action": "nope"}').startswith('{"message": "Forbidden"')  # type: ignore[union-attr]
    assert len(invoke.calls) == calls  # no route: no Lambda
    gw.disconnect(conn, 1000, "")
    assert invoke.calls[-1][1]["requestContext"]["disconnectStatusCode"] == 1000


def test_no_connect_route_accepts() -> None:
    invoke = Recorder()
    assert WsGateway(config("$default"), invoke).connect(Connection("c", "1.2.3.4"), [], []) == Handshake(101)
    assert invoke.calls == []


def test_connect_authorization_without_identity() -> None:
    invoke = Recorder()
    cfg = config()
    cfg.routes["$connect"] = route("$connect", authorization_type="CUSTOM", authorizer_function="auth",
                                   identity_sources=("route.request.header.Authorization",
                                                     "route.request.querystring.token"))
    gw = WsGateway(cfg, invoke)
    conn = Connection("c", "1.2.3.4")
    assert gw.connect(conn, [("Authorization", "x")], []).status == 401  # the query token is missing
    assert invoke.calls == []
    seen: list[dict[str, Any]] = []
    gw.authorize = lambda r, e: seen.append(e) or {"user": "me"}  # type: ignore[func-returns-value]
    assert gw.connect(conn, [("authorization", "x")], [("token", "t")]).status == 101
    assert seen[0]["type"] == "REQUEST"
    assert seen[0]["methodArn"] == "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect"
    assert invoke.calls[0][1]["requestContext"]["authorizer"] == {"user": "me"}
    assert message_event(cfg, conn, "x", "{}")["requestContext"]["authorizer"] == {"user": "me"}

    cfg.routes["$connect"] = route("$connect", authorization_type="AWS_IAM")
    assert WsGateway(cfg, invoke).connect(conn, [], []).status == 403


# --- @connections -----------------------------------------------------------------------------


class FakePeer:
    def __init__(self) -> None:
        self.info = Connection("R0oXAdfD0kwCH6w=", "1.2.3.4", "ua/1", connected_at_ms=1705751697419)
        self.sent: list[bytes] = []
        self.closed: tuple[int, str] | None = None
        self.full = False

    @property
    def is_open(self) -> bool:
        return self.closed is None

    def send(self, data: bytes) -> bool:
        if self.full:
            return False
        self.sent.append(data)
        return True

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


SIGNED = [("Authorization", "AWS4-HMAC-SHA256 Credential=testing/...")]


def parse(response: Any, operation: str) -> dict[str, Any]:
    """Parse a response the way boto3's apigatewaymanagementapi client does."""
    model = ServiceModel(get_session().get_service_data("apigatewaymanagementapi"))
    return RestJSONParser().parse({"status_code": response.status, "headers": HeadersDict(response.headers),
                                   "body": response.body}, model.operation_model(operation).output_shape)


def test_connections_post_get_delete_and_gone() -> None:
    peer = FakePeer()
    peers: dict[str, Any] = {"R0oXAdfD0kwCH6w=": peer}
    post = connections.handle(HttpRequest("POST", "/prod/%40connections/R0oXAdfD0kwCH6w%3D", "", SIGNED, b"hi"),
                              "prod", peers)
    assert post.status == 200 and peer.sent == [b"hi"]
    got = connections.handle(HttpRequest("GET", "/prod/@connections/R0oXAdfD0kwCH6w=", "", SIGNED), "prod", peers)
    assert got.status == 200
    assert json.loads(got.body)["connectedAt"] == "2024-01-20T11:54:57.419Z"
    assert json.loads(got.body)["identity"] == {"sourceIp": "1.2.3.4", "userAgent": "ua/1"}
    parsed = parse(got, "GetConnection")
    assert parsed["Identity"] == {"SourceIp": "1.2.3.4", "UserAgent": "ua/1"}
    assert parsed["ConnectedAt"].isoformat().startswith("2024-01-20T11:54:57.419")
    peer.full = True
    busy = connections.handle(HttpRequest("POST", "/prod/@connections/R0oXAdfD0kwCH6w=", "", SIGNED, b"x"),
                              "prod", peers)
    assert busy.status == 429 and parse(busy, "PostToConnection")["Error"]["Code"] == "LimitExceededException"
    deleted = connections.handle(HttpRequest("DELETE", "/prod/@connections/R0oXAdfD0kwCH6w=", "", SIGNED),
                                 "prod", peers)
    assert deleted.status == 204 and peer.closed == (1000, "")
    for method in ("POST", "GET", "DELETE"):
        gone = connections.handle(HttpRequest(method, "/prod/@connections/R0oXAdfD0kwCH6w=", "", SIGNED), "prod",
                                  peers)
        assert (gone.status, gone.header("x-amzn-ErrorType"), gone.body) == (410, "GoneException", b"{}")
        assert parse(gone, "PostToConnection")["Error"]["Code"] == "GoneException"


def test_connections_refusals() -> None:
    peers: dict[str, Any] = {"c=": FakePeer()}
    wrong = connections.handle(HttpRequest("POST", "/dev/@connections/c=", "", SIGNED), "prod", peers)
    assert wrong.status == 403
    assert json.loads(wrong.body) == {"message": "No method found matching route dev/@connections/c= for http "
                                                 "method POST."}
    assert connections.handle(HttpRequest("PUT", "/prod/@connections/c=", "", SIGNED), "prod", peers).status == 403
    unsigned = connections.handle(HttpRequest("GET", "/prod/@connections/c="), "prod", peers)
    assert (unsigned.status, unsigned.header("x-amzn-ErrorType")) == (403, "ForbiddenException")
    big = connections.handle(HttpRequest("POST", "/prod/@connections/c=", "", SIGNED, b"x" * 131073), "prod", peers)
    assert (big.status, big.header("x-amzn-ErrorType")) == (413, "PayloadTooLargeException")
    assert parse(big, "PostToConnection")["Error"]["Code"] == "PayloadTooLargeException"


# --- the worker's redirection of execute-api endpoints ----------------------------------------


def test_local_endpoint() -> None:
    apis = {"abc123": "http://127.0.0.1:5000"}
    assert local_endpoint("https://abc123.execute-api.us-east-1.amazonaws.com/dev", apis) == (
        "http://127.0.0.1:5000/dev")
    assert local_endpoint("https://ABC123.execute-api.eu-west-1.amazonaws.com", apis) == "http://127.0.0.1:5000"
    assert local_endpoint("https://other.execute-api.us-east-1.amazonaws.com/dev", apis) == (
        "https://other.execute-api.us-east-1.amazonaws.com/dev")
    assert local_endpoint("https://abc123.example.com/dev", apis) == "https://abc123.example.com/dev"


def test_worker_redirects_boto3_clients_before_the_handler_imports_botocore(tmp_path: Any) -> None:
    """A real worker process: the handler imports boto3 itself and builds the client the AWS way."""
    (tmp_path / "h.py").write_text(
        "import boto3\n\n"
        "def main(event, context):\n"
        "    c = boto3.client('apigatewaymanagementapi', region_name='us-east-1',\n"
        "                     endpoint_url='https://abc123.execute-api.us-east-1.amazonaws.com/dev')\n"
        "    o = boto3.client('apigatewaymanagementapi', region_name='us-east-1',\n"
        "                     endpoint_url='https://zzz.execute-api.us-east-1.amazonaws.com/dev')\n"
        "    return [c.meta.endpoint_url, o.meta.endpoint_url]\n")
    from sstdirect.local.gateway.workers import WORKER_SCRIPT

    env = {**os.environ, EXECUTE_API_ENV: json.dumps({"abc123": "http://127.0.0.1:5999"}),
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    proc = subprocess.run([sys.executable, WORKER_SCRIPT, str(tmp_path), "h.main", "fn", "128", "arn"],
                          input=json.dumps({"event": {}, "request_id": "r", "remaining_ms": 3000}) + "\n",
                          capture_output=True, text=True, env=env, timeout=60)
    reply = json.loads(proc.stdout.splitlines()[0])
    assert reply == {"ok": True, "result": ["http://127.0.0.1:5999/dev",
                                            "https://zzz.execute-api.us-east-1.amazonaws.com/dev"]}, proc.stderr
