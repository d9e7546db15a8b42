"""Response interpretation (§1.4, §1.5), CORS (§5), errors (§8) and the HttpGateway pipeline, in
process with a fake ``invoke`` (no sockets, no workers)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from sstdirect.local.gateway.messages import HttpRequest
from sstdirect.local.gateway.pipeline import ApiConfig, HttpGateway, Integration, Outcome, RouteConfig
from sstdirect.local.gateway.responses import InvalidResponse, response_v1, response_v2


def test_inferred_responses() -> None:
    r = response_v2("Hello from Lambda!")
    assert (r.status, r.header("content-type"), r.body) == (200, "application/json", b"Hello from Lambda!")
    r = response_v2({"message": "hi"})
    assert (r.status, json.loads(r.body)) == (200, {"message": "hi"})
    assert response_v2([1, 2]).body == b"[1, 2]"


def test_full_response() -> None:
    r = response_v2({"statusCode": 201, "headers": {"x-a": "1", "x-n": 2}, "cookies": ["a=1", "b=2"],
                     "body": "ok", "extra": "ignored"}, "rid")
    assert r.status == 201 and r.body == b"ok"
    assert [v for k, v in r.headers if k == "set-cookie"] == ["a=1", "b=2"]
    assert r.header("x-n") == "2" and r.header("apigw-requestid") == "rid"
    assert r.header("content-type") is None
    r = response_v2({"statusCode": 200, "body": base64.b64encode(b"\x00\xff").decode(), "isBase64Encoded": True})
    assert r.body == b"\x00\xff"
    assert response_v2({"statusCode": 200, "body": "aGk="}).body == b"aGk="  # decoded only when flagged
    assert response_v2({"statusCode": 204}).body == b""


@pytest.mark.parametrize("bad", [
    {"statusCode": "abc"}, {"statusCode": 99}, {"statusCode": True}, {"statusCode": 200, "body": {"a": 1}},
    {"statusCode": 200, "headers": ["x"]}, {"statusCode": 200, "cookies": "a=1"},
    {"statusCode": 200, "body": "!!", "isBase64Encoded": True},
])
def test_invalid_responses(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidResponse):
        response_v2(bad)


def test_v1_responses() -> None:
    r = response_v1({"statusCode": 200, "headers": {"a": "1"}, "multiValueHeaders": {"b": ["1", "2"]}, "body": "x"})
    assert r.header("a") == "1" and [v for k, v in r.headers if k == "b"] == ["1", "2"]
    with pytest.raises(InvalidResponse):
        response_v1({"body": "no status"})


CORS = {"AllowOrigins": ["https://app.example.com", "http://*"], "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["content-type", "authorization"], "ExposeHeaders": ["x-id"], "MaxAge": 600,
        "AllowCredentials": True}


def _gateway(result: Any = None, status: str = "ok", cors: dict[str, Any] | None = None,
             routes: dict[str, RouteConfig] | None = None, version: str = "2.0") -> tuple[HttpGateway, list]:
    calls: list = []

    def invoke(name: str, event: dict[str, Any], timeout: float) -> Outcome:
        calls.append((name, event, timeout))
        return Outcome(status, result=result, error="boom")

    integration = Integration("fn", version, 30000)
    routes = routes or {"GET /items/{id}": RouteConfig("GET /items/{id}", integration),
                        "OPTIONS /items/{id}": RouteConfig("OPTIONS /items/{id}", integration)}
    return HttpGateway(ApiConfig("abc123", cors=cors, routes=routes), invoke), calls


def _json(body: bytes) -> Any:
    return json.loads(body)


def test_pipeline_ok_and_404() -> None:
    gw, calls = _gateway({"statusCode": 200, "body": "hi"})
    r = gw.handle(HttpRequest("GET", "/items/7"))
    assert r.status == 200 and r.body == b"hi"
    name, event, timeout = calls[0]
    assert name == "fn" and event["pathParameters"] == {"id": "7"} and timeout == 30.0
    r = gw.handle(HttpRequest("GET", "/nope"))
    assert (r.status, r.body, r.header("content-type")) == (404, b'{"message":"Not Found"}', "application/json")
    assert r.header("apigw-requestid")


@pytest.mark.parametrize(("status", "result", "code", "message"), [
    ("error", None, 500, "Internal Server Error"),
    ("timeout", None, 503, "Service Unavailable"),
    ("ok", {"statusCode": "nope"}, 500, "Internal Server Error"),
])
def test_pipeline_errors(status: str, result: Any, code: int, message: str) -> None:
    gw, _ = _gateway(result, status)
    r = gw.handle(HttpRequest("GET", "/items/1"))
    assert (r.status, _json(r.body)) == (code, {"message": message})


def test_payload_too_large() -> None:
    gw, calls = _gateway({"statusCode": 200})
    r = gw.handle(HttpRequest("GET", "/items/1", body=b"x" * (10 * 1024 * 1024 + 1)))
    assert r.status == 413 and not calls


def test_payload_v1_route() -> None:
    gw, calls = _gateway({"statusCode": 202, "body": "v1"}, version="1.0")
    r = gw.handle(HttpRequest("GET", "/items/1", "a=1&a=2"))
    assert r.status == 202 and calls[0][1]["version"] == "1.0"
    assert calls[0][1]["queryStringParameters"] == {"a": "2"}


def test_preflight_answered_by_the_gateway() -> None:
    gw, calls = _gateway({"statusCode": 200}, cors=CORS)
    preflight = HttpRequest("OPTIONS", "/anything/at/all", "", [
        ("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "Content-Type")])
    r = gw.handle(preflight)
    assert r.status == 204 and r.body == b"" and not calls  # never the Lambda, even with an OPTIONS route
    assert r.header("access-control-allow-origin") == "https://app.example.com"
    assert r.header("access-control-allow-methods") == "GET,POST"
    assert r.header("access-control-allow-headers") == "content-type,authorization"
    assert r.header("access-control-max-age") == "600"
    assert r.header("access-control-allow-credentials") == "true"
    for origin, method in (("https://evil.example.com", "GET"), ("https://app.example.com", "DELETE")):
        r = gw.handle(HttpRequest("OPTIONS", "/items/1", "", [("Origin", origin),
                                                              ("Access-Control-Request-Method", method)]))
        assert r.status == 204 and r.header("access-control-allow-origin") is None
    r = gw.handle(HttpRequest("OPTIONS", "/items/1", "", [("Origin", "http://localhost:3000"),
                                                          ("Access-Control-Request-Method", "GET")]))
    assert r.header("access-control-allow-origin") == "http://localhost:3000"  # http://* wildcard


def test_preflight_is_routed_and_its_authorizer_runs() -> None:
    """Issue 14 row 3, SEMANTICS.md §5: a preflight is matched to a route first; behind an authorizer (``ANY
    /{proxy+}``, ``$default``, an explicit ``OPTIONS`` route) an unauthenticated one is refused as on AWS (the
    developer guide's "CORS for HTTP APIs", ``$default``-with-authorizer section; re:Post "JWT authorizers and
    CORS"), an ``OPTIONS /{proxy+}`` route without authorization lets it through, and one that passes is
    answered by the gateway (204) without invoking the integration."""
    from sstdirect.local.gateway.auth import AuthorizerConfig

    jwt = AuthorizerConfig("j1", issuer="https://issuer.test", audience=("x",))
    custom = AuthorizerConfig("l1", authorizer_type="REQUEST", identity_sources=("$request.header.X-Key",),
                              function_name="authz", simple_responses=True)
    calls: list[str] = []

    def invoke(name: str, event: dict[str, Any], timeout: float) -> Outcome:
        calls.append(name)
        return Outcome("ok", result={"isAuthorized": True} if name == "authz" else {"statusCode": 200})

    def gateway(routes: dict[str, RouteConfig]) -> HttpGateway:
        return HttpGateway(ApiConfig("abc123", cors=CORS, routes=routes), invoke)

    preflight = [("Origin", "https://app.example.com"), ("Access-Control-Request-Method", "GET")]
    fn = Integration("fn")
    for routes in ({"ANY /{proxy+}": RouteConfig("ANY /{proxy+}", fn, "JWT", jwt)},
                   {"$default": RouteConfig("$default", fn, "JWT", jwt)},
                   {"OPTIONS /items/{id}": RouteConfig("OPTIONS /items/{id}", fn, "CUSTOM", custom)},
                   {"ANY /{proxy+}": RouteConfig("ANY /{proxy+}", fn, "AWS_IAM")}):
        r = gateway(routes).handle(HttpRequest("OPTIONS", "/items/1", "", preflight))
        assert r.status in (401, 403) and not calls, routes
    assert r.status == 403  # IAM: unsigned
    # the documented way out: an OPTIONS /{proxy+} route without authorization
    open_options = gateway({"ANY /{proxy+}": RouteConfig("ANY /{proxy+}", fn, "JWT", jwt),
                            "OPTIONS /{proxy+}": RouteConfig("OPTIONS /{proxy+}", fn)})
    r = open_options.handle(HttpRequest("OPTIONS", "/items/1", "", preflight))
    assert r.status == 204 and r.header("access-control-allow-origin") == "https://app.example.com" and not calls
    # an authorized preflight: the authorizer runs, the integration does not
    guarded = gateway({"ANY /{proxy+}": RouteConfig("ANY /{proxy+}", fn, "CUSTOM", custom)})
    r = guarded.handle(HttpRequest("OPTIONS", "/items/1", "", [*preflight, ("X-Key", "k")]))
    assert r.status == 204 and r.header("access-control-allow-methods") == "GET,POST" and calls == ["authz"]
    # a refused preflight still gets the configured CORS headers, as every other response
    r = guarded.handle(HttpRequest("OPTIONS", "/items/1", "", preflight))
    assert r.status == 401 and r.header("access-control-allow-origin") == "https://app.example.com"


def test_cors_on_responses_strips_backend_headers() -> None:
    result = {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "https://backend", "x-id": "1"}}
    gw, _ = _gateway(result, cors=CORS)
    r = gw.handle(HttpRequest("GET", "/items/1", "", [("Origin", "https://app.example.com")]))
    assert r.header("access-control-allow-origin") == "https://app.example.com"
    assert r.header("access-control-expose-headers") == "x-id"
    assert r.header("access-control-allow-credentials") == "true"
    r = gw.handle(HttpRequest("GET", "/items/1"))
    assert r.header("access-control-allow-origin") is None and r.header("x-id") == "1"
    star, _ = _gateway(result, cors={"AllowOrigins": ["*"], "AllowMethods": ["*"], "AllowHeaders": ["*"]})
    r = star.handle(HttpRequest("GET", "/items/1", "", [("Origin", "https://x.test")]))
    assert r.header("access-control-allow-origin") == "*"


def test_options_without_cors_is_routed() -> None:
    gw, calls = _gateway({"statusCode": 200}, routes={"GET /x": RouteConfig("GET /x", Integration("fn"))})
    r = gw.handle(HttpRequest("OPTIONS", "/x", "", [("Origin", "https://a"), ("Access-Control-Request-Method", "GET")]))
    assert r.status == 404 and not calls


def test_head_is_not_get() -> None:
    gw, _ = _gateway({"statusCode": 200, "body": "x"},
                     routes={"GET /x": RouteConfig("GET /x", Integration("fn")),
                             "ANY /y": RouteConfig("ANY /y", Integration("fn"))})
    assert gw.handle(HttpRequest("HEAD", "/x")).status == 404
    r = gw.handle(HttpRequest("HEAD", "/y"))
    assert r.status == 200 and r.body == b"" and r.header("content-length") == "1"


@pytest.mark.parametrize(("kind", "sources", "headers", "status"), [
    ("JWT", (), [], 401),
    ("JWT", ("$request.header.Authorization",), [("Authorization", "Bearer x")], 401),
    ("CUSTOM", ("$request.header.X-Key",), [], 401),
    ("AWS_IAM", (), [], 403),
    ("AWS_IAM", (), [("Authorization", "AWS4-HMAC-SHA256 ...")], 403),
])
def test_authorizers_are_never_silently_skipped(kind: str, sources: tuple[str, ...], headers: list,
                                                status: int) -> None:
    from sstdirect.local.gateway.auth import AuthorizerConfig

    authorizer = None if kind == "AWS_IAM" else AuthorizerConfig("a1", identity_sources=sources,
                                                                 issuer="https://issuer.test", audience=("x",),
                                                                 authorizer_type="JWT" if kind == "JWT" else "REQUEST")
    route = RouteConfig("GET /p", Integration("fn"), kind, authorizer)
    gw, calls = _gateway({"statusCode": 200}, routes={"GET /p": route})
    r = gw.handle(HttpRequest("GET", "/p", "", headers))
    assert r.status == status and not calls
    if status == 401 and kind == "JWT":
        assert r.header("www-authenticate") and _json(r.body) == {"message": "Unauthorized"}
