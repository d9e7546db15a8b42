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
    assert event["rawPath"] == "/notes/a%2Fb"
    assert event["rawQueryString"] == "x=1&x=2&y=%20z&flag"
    assert event["queryStringParameters"] == {"x": "1,2", "y": " z", "flag": ""}
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["x-dup"] == "1,2"
    assert all(k == k.lower() for k in event["headers"])
    assert event["pathParameters"] == {"id": "a/b"}
    assert event["stageVariables"] == {"v": "1"}
    assert event["body"] == '{"k": 1}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["http"] == {"method": "POST", "path": "/notes/a%2Fb", "protocol": "HTTP/1.1",
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
    ("application/graphql", True), ("application/vnd.api+json", True),
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
    assert event["headers"]["x-h"] == "2" and event["multiValueHeaders"]["x-h"] == ["1", "2"]
    assert event["headers"]["cookie"] == "c=1"
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
