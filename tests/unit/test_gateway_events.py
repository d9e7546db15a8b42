"""Lambda events built by the local gateway vs SEMANTICS.md §1 and its REAL captures (no sockets)."""

from __future__ import annotations

import base64
import re

import pytest

from sstdirect.local.gateway.events import Context, clf_time, event_v1, event_v2, is_text, new_request_id
from sstdirect.local.gateway.messages import HttpRequest
from sstdirect.local.gateway.routing import RouteTable

# The real no-authorizer capture of SEMANTICS §1.2 (aws-lambda-go apigw-v2-request-no-authorizer.json)
REAL_NO_AUTH = {
    "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
    "headers": {"accept": "*/*", "content-length": "0", "host": "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com",
                "user-agent": "curl/7.58.0", "x-amzn-trace-id": "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c",
                "x-forwarded-for": "1.2.3.4", "x-forwarded-port": "443", "x-forwarded-proto": "https"},
    "requestContext": {"accountId": "123456789012", "apiId": "aaaaaaaaaa",
                       "domainName": "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com", "domainPrefix": "aaaaaaaaaa",
                       "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4",
                                "userAgent": "curl/7.58.0"},
                       "requestId": "LV7fzho-PHcEJPw=", "routeKey": "$default", "stage": "$default",
                       "time": "21/Apr/2020:15:08:21 +0000", "timeEpoch": 1587481701067},
    "isBase64Encoded": False,
}


def _ctx(routes: list[str], method: str, path: str, **kw: object) -> Context:
    return Context(api_id="aaaaaaaaaa", region="us-west-2", match=RouteTable(routes).match(method, path), **kw)


def _shape(value: object) -> object:
    """Key sets and value types, recursively (what must agree with the capture)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__


def test_curl_get_matches_the_real_capture_shape() -> None:
    request = HttpRequest("GET", "/", "", [("Host", "127.0.0.1:8000"), ("User-Agent", "curl/7.58.0"),
                                           ("Accept", "*/*")], source_ip="1.2.3.4")
    event = event_v2(request, _ctx(["$default"], "GET", "/"))
    assert _shape(event) == _shape(REAL_NO_AUTH)
    assert list(event) == list(REAL_NO_AUTH)
    assert event["headers"]["host"] == REAL_NO_AUTH["headers"]["host"]
    assert event["requestContext"]["domainName"] == "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com"
    for key in ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "content-length"):
        assert event["headers"][key] == REAL_NO_AUTH["headers"][key]
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", event["headers"]["x-amzn-trace-id"])
    ctx = event["requestContext"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", ctx["requestId"])
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", ctx["time"])
    assert len(str(ctx["timeEpoch"])) == 13


def test_optional_keys_present_when_there_is_something() -> None:
    request = HttpRequest("POST", "/notes/a%2Fb", "x=1&x=2&y=%20z&flag",
                          [("Content-Type", "application/json"), ("Cookie", "a=1; b=2"), ("Cookie", "c=3"),
                           ("X-Dup", "1"), ("x-dup", "2"), ("User-Agent", "t")],
                          body=b'{"k": 1}')
    event = event_v2(request, _ctx(["POST /notes/{id}"], "POST", "/notes/a%2Fb", stage_variables={"v": "1"}))
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "POST /notes/{id}"
    assert event["rawPath"] == "/notes/a/b"  # URL-decoded (§11), see test_paths_arrive_url_decoded
    assert event["rawQueryString"] == "x=1&x=2&y=%20z&flag"
    assert event["queryStringParameters"] == {"x": "1,2", "y": " z", "flag": ""}
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-dup"] == "1,2"
    assert all(k == k.lower() for k in event["headers"])
    assert event["pathParameters"] == {"id": "a/b"}
    assert event["stageVariables"] == {"v": "1"}
    assert event["body"] == '{"k": 1}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["http"] == {"method": "POST", "path": "/notes/a/b", "protocol": "HTTP/1.1",
                                               "sourceIp": "127.0.0.1", "userAgent": "t"}


def test_absent_optional_keys() -> None:
    event = event_v2(HttpRequest("GET", "/x"), _ctx(["GET /x"], "GET", "/x"))
    for key in ("cookies", "queryStringParameters", "body", "pathParameters", "stageVariables"):
        assert key not in event
    assert "authorizer" not in event["requestContext"]
    assert event["rawQueryString"] == ""


@pytest.mark.parametrize(("content_type", "text"), [
    ("application/json", True), ("application/json; charset=utf-8", True), ("text/plain", True),
    ("text/csv", True), ("application/xml", True), ("application/javascript", True),
    ("application/graphql", False), ("application/vnd.api+json", False), ("application/problem+json", False),
    ("application/x-www-form-urlencoded", False), ("application/octet-stream", False), ("image/png", False),
    (None, False),
])
def test_base64_by_content_type(content_type: str | None, text: bool) -> None:
    assert is_text(content_type) is text
    headers = [("Content-Type", content_type)] if content_type else []
    event = event_v2(HttpRequest("POST", "/", "", headers, body=b"a=1"), _ctx(["$default"], "POST", "/"))
    assert event["isBase64Encoded"] is (not text)
    assert event["body"] == ("a=1" if text else base64.b64encode(b"a=1").decode())


def test_named_stage_prefixes_the_path() -> None:
    event = event_v2(HttpRequest("GET", "/x"), _ctx(["GET /x"], "GET", "/x", stage="dev"))
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/dev/x"
    assert event["requestContext"]["stage"] == "dev"


def test_payload_v1() -> None:
    request = HttpRequest("GET", "/notes/7", "a=1&a=2&b=3", [("X-H", "1"), ("X-H", "2"), ("Cookie", "c=1")])
    event = event_v1(request, _ctx(["GET /notes/{id}"], "GET", "/notes/7"))
    assert event["version"] == "1.0"
    assert event["resource"] == "/notes/{id}" and event["path"] == "/notes/7" and event["httpMethod"] == "GET"
    assert event["queryStringParameters"] == {"a": "2", "b": "3"}  # the last value (API.md "Local")
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["3"]}
    assert event["headers"]["X-H"] == "2" and event["multiValueHeaders"]["X-H"] == ["1", "2"]  # as sent (§11)
    assert event["headers"]["Cookie"] == "c=1"
    assert event["pathParameters"] == {"id": "7"}
    assert event["stageVariables"] is None and event["body"] is None and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    for key in ("accountId", "apiId", "domainName", "domainPrefix", "extendedRequestId", "httpMethod", "identity",
                "path", "protocol", "requestId", "requestTime", "requestTimeEpoch", "resourceId", "resourcePath",
                "stage"):
        assert key in ctx
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    empty = event_v1(HttpRequest("GET", "/x"), _ctx(["GET /x"], "GET", "/x"))
    assert empty["queryStringParameters"] is None and empty["multiValueQueryStringParameters"] is None
    assert empty["pathParameters"] is None


def test_ids_and_time() -> None:
    assert len({new_request_id() for _ in range(100)}) == 100
    assert clf_time(1587481701067) == "21/Apr/2020:15:08:21 +0000"


# --- recorded shapes, key by key (issue 14's divergences 1, 2, 5, 6, 7; SEMANTICS.md §11) ------------------

# Real HTTP API payload 1.0 capture (curl over HTTP/2, $default stage, no authorizer), quoted in public code
# (the index names no repository; apiId 9pyofn5yi9, 2022-02-06): the client's lower-case names kept, the
# gateway's own Title-Case, requestContext.identity with cognitoAmr null.
REAL_V1_HEADERS = {"Content-Length": "0", "Host": "9pyofn5yi9.execute-api.eu-central-1.amazonaws.com",
                   "User-Agent": "curl/7.77.0", "X-Amzn-Trace-Id": "Root=1-61fff17e-5b8496e96e81bed7494730a7",
                   "X-Forwarded-For": "93.136.72.29", "X-Forwarded-Port": "443", "X-Forwarded-Proto": "https",
                   "accept": "*/*"}
REAL_V1_IDENTITY = {"accessKey": None, "accountId": None, "caller": None, "cognitoAmr": None,
                    "cognitoAuthenticationProvider": None, "cognitoAuthenticationType": None,
                    "cognitoIdentityId": None, "cognitoIdentityPoolId": None, "principalOrgId": None,
                    "sourceIp": "93.136.72.29", "user": None, "userAgent": "curl/7.77.0", "userArn": None}


def test_paths_arrive_url_decoded() -> None:
    """Row 1. The real 2.0 capture in fastify/aws-lambda-fastify#169: ``GET /a%2Fb`` arrived as
    ``"rawPath": "/a/b"``; middleapi/standard-server#93 (live captures of hotsock/voker#8): 1.0 ``path`` too.
    ``rawQueryString`` stays percent-encoded (§1.2)."""
    event = event_v2(HttpRequest("GET", "/a%2Fb"), _ctx(["$default"], "GET", "/a%2Fb"))
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/a/b"
    request = HttpRequest("GET", "/items/a%2Fb%20c", "q=a%20b")
    v2 = event_v2(request, _ctx(["GET /items/{proxy+}"], "GET", "/items/a%2Fb%20c"))
    assert v2["rawPath"] == v2["requestContext"]["http"]["path"] == "/items/a/b c"
    assert v2["rawQueryString"] == "q=a%20b" and v2["pathParameters"] == {"proxy": "a/b c"}
    v1 = event_v1(request, _ctx(["GET /items/{proxy+}"], "GET", "/items/a%2Fb%20c", stage="dev"))
    assert v1["path"] == v1["requestContext"]["path"] == "/dev/items/a/b c"


def test_v1_header_names_as_sent_and_the_gateways_title_case() -> None:
    """Row 2. Header names of REAL_V1_HEADERS for the same curl request (HTTP/2 sends lower-case names);
    the 1.0 authorizer fixtures agree (powertools apiGatewayAuthorizerRequestEvent.json keeps ``X-AMZ-Date``,
    ``HeaderAuth1``). The payload-format docs page says lower-case: the captures win (README). 2.0 lower-cases."""
    request = HttpRequest("POST", "/", "", [("host", "127.0.0.1:3000"), ("user-agent", "curl/7.77.0"),
                                            ("accept", "*/*")], source_ip="93.136.72.29")
    ctx = Context(api_id="9pyofn5yi9", region="eu-central-1", match=RouteTable(["$default"]).match("POST", "/"))
    event = event_v1(request, ctx)
    assert set(event["headers"]) == set(REAL_V1_HEADERS) == set(event["multiValueHeaders"])
    for name in ("Content-Length", "Host", "User-Agent", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto",
                 "accept"):
        assert event["headers"][name] == REAL_V1_HEADERS[name]
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", event["headers"]["X-Amzn-Trace-Id"])
    sent = HttpRequest("GET", "/", "", [("X-AMZ-Date", "20170718T062915Z"), ("HeaderAuth1", "headerValue1"),
                                        ("Accept", "*/*"), ("x-amzn-trace-id", "Root=1-x")])
    headers = event_v1(sent, ctx)["headers"]
    assert (headers["X-AMZ-Date"], headers["HeaderAuth1"], headers["Accept"]) == (
        "20170718T062915Z", "headerValue1", "*/*")
    assert headers["X-Amzn-Trace-Id"] == "Root=1-x" and "x-amzn-trace-id" not in headers  # the gateway's name
    assert all(k == k.lower() for k in event_v2(sent, ctx)["headers"])


def test_v1_identity_has_cognito_amr_null() -> None:
    """Row 5 (first half). requestContext.identity of REAL_V1_IDENTITY and of powertools
    ``apiGatewayAuthorizerRequestEvent.json`` (an HTTP API 1.0 event): ``cognitoAmr`` present as ``null``."""
    request = HttpRequest("GET", "/", "", [("User-Agent", "curl/7.77.0")], source_ip="93.136.72.29")
    identity = event_v1(request, _ctx(["$default"], "GET", "/"))["requestContext"]["identity"]
    assert identity == REAL_V1_IDENTITY


# Row 6: the parametrized test_base64_by_content_type above follows §11 (ministack PR #766, checked against AWS):
# application/graphql and *+json bodies arrive base64-encoded.


def _authorizer_events(version: str, integration_version: str, answer: dict[str, object],
                       request: HttpRequest, route_key: str = "GET /request") -> tuple[dict, dict]:
    """(the Lambda authorizer's event, the integration's event) for ``request`` on a CUSTOM route."""
    from sstdirect.local.gateway.deployed import AuthorizerConfig, Integration, Outcome, RouteConfig
    from sstdirect.local.gateway.pipeline import ApiConfig, HttpGateway

    events: dict[str, dict] = {}

    def invoke(name: str, event: dict, timeout: float) -> Outcome:
        events[name] = event
        return Outcome("ok", result=answer if name == "authz" else {"statusCode": 200})

    authorizer = AuthorizerConfig("a1", authorizer_type="REQUEST", identity_sources=("$request.header.Auth",),
                                  function_name="authz", payload_format_version=version,
                                  simple_responses=version == "2.0")
    route = RouteConfig(route_key, Integration("fn", integration_version), "CUSTOM", authorizer)
    gateway = HttpGateway(ApiConfig("abcdef123", routes={route_key: route}), invoke)
    assert gateway.handle(request).status == 200
    return events["authz"], events["fn"]


def test_v1_behind_a_lambda_authorizer_has_null_claims_and_scopes() -> None:
    """Row 5 (second half). A real 2024 HTTP API 1.0 capture behind a Lambda authorizer, quoted in public code
    (the index names no repository; apiId 1xfslfeqxf): ``"authorizer": {"claims": null, "scopes": null,
    "traceID": "Root=1-66abaa79-..."}``, the authorizer's context after the reserved placeholders."""
    recorded = {"claims": None, "scopes": None, "traceID": "Root=1-66abaa79-20e2acd0599ba1fe21814507"}
    answer = {"isAuthorized": True, "context": {"traceID": recorded["traceID"]}}
    _, event = _authorizer_events("2.0", "1.0", answer, HttpRequest("GET", "/request", "", [("Auth", "t")]))
    assert event["requestContext"]["authorizer"] == recorded
    assert list(event["requestContext"]["authorizer"]) == list(recorded)


def test_v1_authorizer_event_has_empty_maps() -> None:
    """Row 7 (HTTP). aws-lambda-go ``events/testdata/apigw-v2-custom-authorizer-v1-request.json`` (and powertools
    ``apiGatewayAuthorizerRequestEvent.json``): a route with no variables has ``"pathParameters": {}``;
    ``stageVariables`` is ``{}`` when there are none (§11), never ``null`` as in the integration's 1.0 event."""
    recorded_keys = {"version", "type", "methodArn", "identitySource", "authorizationToken", "resource", "path",
                     "httpMethod", "headers", "queryStringParameters", "pathParameters", "stageVariables",
                     "requestContext"}
    policy = {"principalId": "u", "policyDocument": {"Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}]}}
    event, integration = _authorizer_events("1.0", "1.0", policy,
                                            HttpRequest("GET", "/request", "QueryString1=queryValue1",
                                                        [("Auth", "user1"), ("HeaderAuth1", "headerValue1")]))
    assert recorded_keys <= set(event) and set(event) - recorded_keys <= {"multiValueHeaders",
                                                                          "multiValueQueryStringParameters"}
    assert (event["pathParameters"], event["stageVariables"]) == ({}, {})
    assert (event["resource"], event["path"], event["queryStringParameters"]) == (
        "/request", "/request", {"QueryString1": "queryValue1"})
    assert event["headers"]["HeaderAuth1"] == "headerValue1"
    assert (integration["pathParameters"], integration["stageVariables"]) == (None, None)


def _ws_capture_handshake() -> list[tuple[str, str]]:
    """The handshake of the powertools WebSocket captures (a browser-like client)."""
    return [("Host", "127.0.0.1:9999"), ("Connection", "upgrade"), ("Upgrade", "websocket"),
            ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
            ("Sec-WebSocket-Key", "CYZZrfNgEcgzzzwL44qytQ=="), ("Sec-WebSocket-Version", "13")]


def test_websocket_connect_integration_event_matches_the_real_capture() -> None:
    """Row 7 (WebSocket integration). powertools-lambda-python ``tests/events/apiGatewayWebSocketApiConnect.json``
    (a 2024-11 capture): no ``Connection``, ``Upgrade`` or ``content-length`` header; no query maps when the
    URL has no query; ``isBase64Encoded: false``."""
    from sstdirect.local.gateway.websocket import Connection, WsApiConfig, connect_event

    recorded_keys = {"headers", "multiValueHeaders", "requestContext", "isBase64Encoded"}
    recorded_headers = {"Host", "Sec-WebSocket-Extensions", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
                        "X-Amzn-Trace-Id", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto"}
    cfg = WsApiConfig("fjnq7njcv2", "prod")
    event = connect_event(cfg, Connection("BFHPhfCWIAMCKlQ=", "166.90.225.1"), _ws_capture_handshake(), [])
    assert set(event) == recorded_keys
    assert set(event["headers"]) == recorded_headers == set(event["multiValueHeaders"])
    assert event["headers"]["Host"] == "fjnq7njcv2.execute-api.us-east-1.amazonaws.com"
    assert event["isBase64Encoded"] is False


def test_websocket_authorizer_event_matches_the_real_capture() -> None:
    """Row 7 (WebSocket authorizer). powertools-lambda-python ``tests/events/apiGatewayAuthorizerWebSocketEvent.json``
    (a 2025-01 capture): the handshake's ``Connection`` / ``Upgrade`` and ``content-length: 0`` are there, the
    query and stage-variable maps are ``{}`` when empty, and there is no ``isBase64Encoded``."""
    from sstdirect.local.gateway.deployed import AuthorizerConfig, Integration, Outcome
    from sstdirect.local.gateway.messages import HttpRequest as Request
    from sstdirect.local.gateway.websocket import Connection, WsApiConfig, WsGateway, WsRoute

    recorded_keys = {"type", "methodArn", "headers", "multiValueHeaders", "queryStringParameters",
                     "multiValueQueryStringParameters", "stageVariables", "requestContext"}
    recorded_headers = {"Authorization", "Connection", "content-length", "Host", "Sec-WebSocket-Extensions",
                        "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Upgrade", "X-Amzn-Trace-Id",
                        "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto"}  # its multiValueHeaders
    recorded_context = {"routeKey", "eventType", "extendedRequestId", "requestTime", "messageDirection", "stage",
                        "connectedAt", "requestTimeEpoch", "identity", "requestId", "domainName", "connectionId",
                        "apiId"}
    events: dict[str, dict] = {}

    def invoke(name: str, event: dict, timeout: float) -> Outcome:
        events[name] = event
        allow = {"principalId": "leo", "policyDocument": {"Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": event.get("methodArn", "*")}]}}
        return Outcome("ok", result=allow if name == "authz" else {"statusCode": 200})

    authorizer = AuthorizerConfig("a1", authorizer_type="REQUEST", function_name="authz", payload_format_version="1.0",
                                  identity_sources=("route.request.header.Authorization",))
    connect = WsRoute("$connect", Integration("fn", "1.0", 29000), authorization_type="CUSTOM", authorizer=authorizer)
    gateway = WsGateway(WsApiConfig("c5jwxq709g", "production", routes={"$connect": connect}), invoke)
    handshake = [*_ws_capture_handshake(), ("Authorization", "Leo")]
    assert gateway.connect(Connection("FDmBIeapIAMCIQg=", "93.108.161.96"), Request("GET", "/", "", handshake)).status \
        == 101
    event = events["authz"]
    assert set(event) == recorded_keys
    assert set(event["headers"]) == recorded_headers == set(event["multiValueHeaders"])
    assert (event["headers"]["Connection"], event["headers"]["Upgrade"], event["headers"]["content-length"]) == (
        "upgrade", "websocket", "0")
    assert event["queryStringParameters"] == event["multiValueQueryStringParameters"] == event["stageVariables"] == {}
    assert set(event["requestContext"]) == recorded_context
    assert event["methodArn"] == "arn:aws:execute-api:us-east-1:123456789012:c5jwxq709g/production/$connect"
    assert "Connection" not in events["fn"]["headers"] and "content-length" not in events["fn"]["headers"]
