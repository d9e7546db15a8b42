"""The WebSocket gateway's pure core, no sockets, no AWS: route selection (SEMANTICS.md §6.1), events
against the real captures (§6.3), ``$connect`` results (§6.2), ``@connections`` answers (§6.4) as botocore
parses them, and the worker's redirection of execute-api endpoints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from typing import Any

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, HeadersDict
from botocore.credentials import Credentials
from botocore.model import ServiceModel
from botocore.parsers import RestJSONParser
from botocore.session import get_session

from sstdirect.local.gateway import auth_iam, connections
from sstdirect.local.gateway._worker import EXECUTE_API_ENV, local_endpoint
from sstdirect.local.gateway.auth import AuthorizerConfig, Authorizers
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
    # original header case, Host rewritten, the headers API Gateway adds; no Upgrade, Connection or
    # content-length (§11, powertools apiGatewayWebSocketApiConnect.json: only the authorizer sees them)
    h = event["headers"]
    assert h["Host"] == "abcdef123.execute-api.us-east-1.amazonaws.com"
    assert h["HeaderAuth1"] == "headerValue1"
    assert not {"Upgrade", "Connection", "content-length"} & set(h)
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


def upgrade(headers: list[tuple[str, str]] | None = None, query: str = "") -> HttpRequest:
    """A WebSocket upgrade request as the server hands it to :meth:`WsGateway.connect`."""
    return HttpRequest("GET", "/prod", query, headers or [("Host", "127.0.0.1:9999")], b"", "1.2.3.4")


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
    assert gw.connect(conn, upgrade([("Host", "x")])) == Handshake(101)
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
    assert WsGateway(config("$default"), invoke).connect(Connection("c", "1.2.3.4"), upgrade()) == Handshake(101)
    assert invoke.calls == []


# --- $connect authorization (§6.2) -------------------------------------------------------------

SECRET = "s3cr3t"
ALICE = auth_iam.Principal("AKIDALICE", SECRET, "123456789012", "arn:aws:iam::123456789012:user/alice", "AIDAALICE")
CONNECT_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/$connect"


def lookup(key: str) -> auth_iam.Principal | None:
    return ALICE if key == ALICE.access_key else None


def policy(effect: str, resource: str = CONNECT_ARN, **context: Any) -> Outcome:
    answer: dict[str, Any] = {"principalId": "user-7", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}]}}
    return Outcome("ok", {**answer, "context": context} if context else answer)


def lambda_guarded(invoke: Recorder, ttl_s: int = 0) -> WsGateway:
    cfg = config("$connect", "$disconnect", "$default")
    authorizer = AuthorizerConfig("au1", "Ws-authorizer", "REQUEST", function_name="auth", ttl_s=ttl_s,
                                  identity_sources=("route.request.header.Auth", "route.request.querystring.token"))
    cfg.routes["$connect"] = route("$connect", authorization_type="CUSTOM", authorizer=authorizer)
    return WsGateway(cfg, invoke, Authorizers(credentials=lookup))


def test_lambda_authorizer_allow_event_and_context_on_every_event() -> None:
    invoke = Recorder({"auth": policy("Allow", user="alice", level=3, admin=True)})
    gw = lambda_guarded(invoke)
    conn = Connection(new_connection_id(), "1.2.3.4")
    assert gw.connect(conn, upgrade([("Host", "h"), ("Auth", "tok")], "token=t1&x=%2F")) == Handshake(101)
    (name, event, timeout), (connect_name, connect, _) = invoke.calls
    assert (name, connect_name, timeout) == ("auth", "connect", 10.0)
    # the authorizer's event: the $connect event plus type and methodArn (§6.3's REAL capture)
    assert list(event)[:2] == ["type", "methodArn"] and (event["type"], event["methodArn"]) == ("REQUEST", CONNECT_ARN)
    assert event["headers"]["Auth"] == "tok" and event["queryStringParameters"] == {"token": "t1", "x": "/"}
    assert set(event["requestContext"]) == CONNECT_CONTEXT and event["requestContext"]["routeKey"] == "$connect"
    assert event["requestContext"]["connectionId"] == conn.connection_id
    # principalId and the context's keys: on $connect and on every later event of the connection
    expected = {"user": "alice", "level": 3, "admin": True, "principalId": "user-7"}
    authorizer = connect["requestContext"]["authorizer"]
    assert isinstance(authorizer.pop("integrationLatency"), int) and authorizer == expected
    gw.message(conn, '{"action": "x"}')
    gw.disconnect(conn, 1000, "")
    for _, later, _ in invoke.calls[2:]:
        assert {k: v for k, v in later["requestContext"]["authorizer"].items() if k != "integrationLatency"} == expected
    assert [c[0] for c in invoke.calls[2:]] == ["default", "disconnect"]


@pytest.mark.parametrize(("headers", "query", "answer", "status"), [
    pytest.param([("Host", "h")], "token=t", None, 401, id="header missing"),
    pytest.param([("Host", "h"), ("Auth", "tok")], "", None, 401, id="query missing"),
    pytest.param([("Host", "h"), ("Auth", "")], "token=t", None, 401, id="header empty"),
    pytest.param([("Host", "h"), ("Auth", "tok")], "token=t", policy("Deny"), 403, id="deny"),
    pytest.param([("Host", "h"), ("Auth", "tok")], "token=t", policy("Allow", CONNECT_ARN.replace("prod", "dev")),
                 403, id="allow for another stage"),
    pytest.param([("Host", "h"), ("Auth", "tok")], "token=t", Outcome("error", error="RuntimeError: boom"), 500,
                 id="authorizer raises"),
    pytest.param([("Host", "h"), ("Auth", "tok")], "token=t", Outcome("timeout"), 500, id="authorizer times out"),
    pytest.param([("Host", "h"), ("Auth", "tok")], "token=t", Outcome("ok", {"isAuthorized": True}), 500,
                 id="not a policy answer"),
])
def test_lambda_authorizer_refusals(headers: list[tuple[str, str]], query: str, answer: Outcome | None,
                                    status: int) -> None:
    invoke = Recorder({"auth": answer} if answer else {})
    handshake = lambda_guarded(invoke).connect(Connection("c", "1.2.3.4"), upgrade(headers, query))
    message = {401: "Unauthorized", 403: "Forbidden", 500: "Internal Server Error"}[status]
    assert handshake.status == status and json.loads(handshake.body) == {"message": message}
    assert [c[0] for c in invoke.calls] == ([] if answer is None else ["auth"])  # never $connect itself


def test_lambda_authorizer_answers_cached_for_their_ttl() -> None:
    invoke = Recorder({"auth": policy("Allow", user="alice")})
    gw = lambda_guarded(invoke, ttl_s=300)
    for token in ("a", "a", "b"):
        conn = Connection(new_connection_id(), "1.2.3.4")
        assert gw.connect(conn, upgrade([("Auth", "tok")], f"token={token}")).status == 101
        assert conn.authorizer is not None and conn.authorizer["user"] == "alice"
    assert [c[0] for c in invoke.calls].count("auth") == 2  # "a" once, "b" once


def iam_guarded(invoke: Recorder, principal: auth_iam.Principal = ALICE) -> WsGateway:
    cfg = config("$connect", "$default")
    cfg.routes["$connect"] = route("$connect", authorization_type="AWS_IAM")
    return WsGateway(cfg, invoke, Authorizers(credentials=lambda key: principal if key == principal.access_key
                                              else None))


def signed_upgrade(presign: bool, secret: str = SECRET) -> HttpRequest:
    """An upgrade request signed as clients do: a presigned URL (the usual way, browsers cannot set headers)
    or the Authorization header."""
    aws = AWSRequest(method="GET", url="http://127.0.0.1:9999/prod?room=1")
    creds = Credentials(ALICE.access_key, secret)
    (SigV4QueryAuth(creds, "execute-api", "us-east-1", expires=300) if presign
     else SigV4Auth(creds, "execute-api", "us-east-1")).add_auth(aws)
    target = aws.url.split("127.0.0.1:9999", 1)[1]
    headers = [("Host", "127.0.0.1:9999"), ("Upgrade", "websocket"), ("Sec-WebSocket-Key", "k=="),
               *aws.headers.items()]
    return HttpRequest.from_target("GET", target, headers=headers, source_ip="1.2.3.4")


@pytest.mark.parametrize("presign", [True, False])
def test_iam_connect_verifies_sigv4_and_fills_the_identity(presign: bool) -> None:
    invoke = Recorder()
    gw = iam_guarded(invoke)
    conn = Connection(new_connection_id(), "1.2.3.4", user_agent="ua/1")
    assert gw.connect(conn, signed_upgrade(presign)) == Handshake(101)
    identity = invoke.calls[0][1]["requestContext"]["identity"]
    assert identity == {"accessKey": "AKIDALICE", "accountId": "123456789012", "caller": "AIDAALICE",
                        "user": "AIDAALICE", "userArn": ALICE.user_arn, "cognitoIdentityId": None,
                        "cognitoIdentityPoolId": None, "cognitoAuthenticationType": None,
                        "cognitoAuthenticationProvider": None, "sourceIp": "1.2.3.4", "userAgent": "ua/1"}
    assert "authorizer" not in invoke.calls[0][1]["requestContext"]
    gw.message(conn, "hello")
    assert invoke.calls[1][1]["requestContext"]["identity"] == identity


@pytest.mark.parametrize(("request_", "principal"), [
    pytest.param(lambda: upgrade([("Host", "127.0.0.1:9999")]), ALICE, id="unsigned"),
    pytest.param(lambda: signed_upgrade(True, secret="wrong"), ALICE, id="presigned, wrong secret"),
    pytest.param(lambda: signed_upgrade(False, secret="wrong"), ALICE, id="header, wrong secret"),
    pytest.param(lambda: signed_upgrade(True), replace(ALICE, statements=(
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": CONNECT_ARN.replace("/prod/", "/dev/")},)),
                 id="policy allows another stage only"),
])
def test_iam_connect_refusals(request_: Any, principal: auth_iam.Principal) -> None:
    invoke = Recorder()
    handshake = iam_guarded(invoke, principal).connect(Connection("c", "1.2.3.4"), request_())
    assert handshake.status == 403 and json.loads(handshake.body) == {"message": "Forbidden"}
    assert invoke.calls == []


def test_iam_connect_allowed_by_the_callers_policy() -> None:
    scoped = replace(ALICE, statements=({"Effect": "Allow", "Action": "execute-api:Invoke",
                                         "Resource": "arn:aws:execute-api:us-east-1:*:abcdef123/*/$connect"},))
    assert iam_guarded(Recorder(), scoped).connect(Connection("c", "1.2.3.4"), signed_upgrade(True)).status == 101

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


CONNECTION = "R0oXAdfD0kwCH6w="


def mgmt(method: str, path: str, body: bytes = b"", secret: str = SECRET, key: str = ALICE.access_key) -> HttpRequest:
    """A management request signed as botocore's ``apigatewaymanagementapi`` client signs it."""
    aws = AWSRequest(method=method, url=f"http://127.0.0.1:8080{path}", data=body)
    SigV4Auth(Credentials(key, secret), "execute-api", "us-east-1").add_auth(aws)
    return HttpRequest(method, path, "", [("Host", "127.0.0.1:8080"), *aws.headers.items()], body)


def handle(request: HttpRequest, peers: dict[str, Any], auth: Authorizers | None = None) -> Any:
    return connections.handle(request, config(), peers, auth or Authorizers(credentials=lookup))


def parse(response: Any, operation: str) -> dict[str, Any]:
    """Parse a response the way boto3's apigatewaymanagementapi client does."""
    model = ServiceModel(get_session().get_service_data("apigatewaymanagementapi"))
    return RestJSONParser().parse({"status_code": response.status, "headers": HeadersDict(response.headers),
                                   "body": response.body}, model.operation_model(operation).output_shape)


def test_connections_post_get_delete_and_gone() -> None:
    peer = FakePeer()
    peers: dict[str, Any] = {CONNECTION: peer}
    post = handle(mgmt("POST", "/prod/%40connections/R0oXAdfD0kwCH6w%3D", b"hi"), peers)
    assert post.status == 200 and peer.sent == [b"hi"]
    got = handle(mgmt("GET", f"/prod/@connections/{CONNECTION}"), peers)
    assert got.status == 200
    assert json.loads(got.body)["connectedAt"] == "2024-01-20T11:54:57.419Z"
    assert json.loads(got.body)["identity"] == {"sourceIp": "1.2.3.4", "userAgent": "ua/1"}
    parsed = parse(got, "GetConnection")
    assert parsed["Identity"] == {"SourceIp": "1.2.3.4", "UserAgent": "ua/1"}
    assert parsed["ConnectedAt"].isoformat().startswith("2024-01-20T11:54:57.419")
    peer.full = True
    busy = handle(mgmt("POST", f"/prod/@connections/{CONNECTION}", b"x"), peers)
    assert busy.status == 429 and parse(busy, "PostToConnection")["Error"]["Code"] == "LimitExceededException"
    deleted = handle(mgmt("DELETE", f"/prod/@connections/{CONNECTION}"), peers)
    assert deleted.status == 204 and peer.closed == (1000, "")
    for method in ("POST", "GET", "DELETE"):
        gone = handle(mgmt(method, f"/prod/@connections/{CONNECTION}"), peers)
        assert (gone.status, gone.header("x-amzn-ErrorType"), gone.body) == (410, "GoneException", b"{}")
        assert parse(gone, "PostToConnection")["Error"]["Code"] == "GoneException"


def test_connections_refusals() -> None:
    peers: dict[str, Any] = {"c=": FakePeer()}
    wrong = handle(mgmt("POST", "/dev/@connections/c="), peers)
    assert wrong.status == 403
    assert json.loads(wrong.body) == {"message": "No method found matching route dev/@connections/c= for http "
                                                 "method POST."}
    assert handle(mgmt("PUT", "/prod/@connections/c="), peers).status == 403
    big = handle(mgmt("POST", "/prod/@connections/c=", b"x" * 131073), peers)
    assert (big.status, big.header("x-amzn-ErrorType")) == (413, "PayloadTooLargeException")
    assert parse(big, "PostToConnection")["Error"]["Code"] == "PayloadTooLargeException"


def _tampered() -> HttpRequest:
    request = mgmt("POST", "/prod/@connections/c=", b"hello")
    request.body = b"HELLO"
    return request


@pytest.mark.parametrize(("request_", "code", "message"), [
    (lambda: HttpRequest("GET", "/prod/@connections/c="), "MissingAuthenticationTokenException",
     "Missing Authentication Token"),
    (lambda: mgmt("GET", "/prod/@connections/c=", secret="wrong"), "InvalidSignatureException",
     "The request signature we calculated does not match the signature you provided."),
    (_tampered, "InvalidSignatureException", "The request signature we calculated"),
    (lambda: mgmt("GET", "/prod/@connections/c=", key="AKIDUNKNOWN"), "UnrecognizedClientException",
     "The security token included in the request is invalid."),
    (lambda: HttpRequest("GET", "/prod/@connections/c=", "", [("Authorization", "AWS4-HMAC-SHA256 Credential=x")]),
     "IncompleteSignatureException", "Authorization header requires"),
])
def test_connections_verify_the_signature(request_: Any, code: str, message: str) -> None:
    """The SigV4 check of AWS_IAM routes, with AWS's error types: botocore raises ClientError with them."""
    peer = FakePeer()
    refused = handle(request_(), {"c=": peer})
    assert (refused.status, refused.header("x-amzn-ErrorType")) == (403, code)
    error = parse(refused, "GetConnection")["Error"]
    assert error["Code"] == code and error["Message"].startswith(message)
    assert peer.sent == [] and peer.closed is None


def test_connections_check_the_callers_policies() -> None:
    """An IAM user's own policies must allow execute-api:ManageConnections on the connection's ARN."""
    arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod"
    scoped = replace(ALICE, statements=({"Effect": "Allow", "Action": "execute-api:ManageConnections",
                                         "Resource": f"{arn}/POST/@connections/*"},))
    auth = Authorizers(credentials=lambda key: scoped if key == scoped.access_key else None)
    peer = FakePeer()
    assert handle(mgmt("POST", f"/prod/@connections/{CONNECTION}", b"ok"), {CONNECTION: peer}, auth).status == 200
    denied = handle(mgmt("DELETE", f"/prod/@connections/{CONNECTION}"), {CONNECTION: peer}, auth)
    assert (denied.status, denied.header("x-amzn-ErrorType")) == (403, "ForbiddenException")
    assert json.loads(denied.body)["message"] == (
        f"User: {ALICE.user_arn} is not authorized to perform: execute-api:ManageConnections on resource: "
        f"{arn}/DELETE/@connections/{CONNECTION}")
    assert peer.sent == [b"ok"] and peer.closed is None


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
    want = ["http://127.0.0.1:5999/dev", "https://zzz.execute-api.us-east-1.amazonaws.com/dev"]
    assert (reply["ok"], reply["result"]) == (True, want), proc.stderr
