"""Routes of a new HTTP API in one ReimportApi: which routes are imported, the OpenAPI body (pure, no AWS),
the embedded AWS's import (both moto modes), and a deploy that adds, changes and removes routes afterwards
one by one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from sstdirect import Api, App, Function, GraphQLApi, WebSocketApi
from sstdirect.resources.apigatewayv2_import import import_groups, openapi_body

HANDLER = "def main(event, context):\n    return {'statusCode': 200}\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    for name in ("a", "b", "c", "server"):
        (tmp_path / "src" / f"{name}.py").write_text(HANDLER + "handler = main\n")
    return tmp_path


def groups(app: App, existing: set[str] = frozenset()) -> list[Any]:
    desired = app.resources()
    return import_groups(desired, set(desired) - existing)


def test_plain_routes_are_imported_and_the_rest_waits(root: Path) -> None:
    app = App("imp", root=root)
    Api(app, "Api", routes={
        "GET /a": "src/a.main", "ANY /b/{proxy+}": "src/b.main", "$default": "src/c.main",
        "POST /iam": {"function": "src/a.main", "authorizer": "iam"},
        "GET /jwt": {"function": "src/b.main", "authorizer": "jwt"},
    }, authorizers={"jwt": {"type": "jwt", "jwt": {"issuer": "https://issuer.example.com", "audience": ["x"]}}})
    (group,) = groups(app)
    assert group.api == "Api/api"
    assert group.routes == ("Api/route/$default", "Api/route/ANY /b/{proxy+}", "Api/route/GET /a",
                            "Api/route/POST /iam")
    assert group.integrations == tuple(r.replace("/route/", "/integration/") for r in group.routes)
    # the import overwrites the API's definition: its other children are made after it
    assert {"Api/route/GET /jwt", "Api/integration/GET /jwt", "Api/authorizer/jwt", "Api/stage"} <= set(group.waiting)
    assert not set(group.waiting) & set(group.members)


def test_no_import_for_an_existing_api_a_websocket_api_or_a_single_route(root: Path) -> None:
    app = App("imp", root=root)
    Api(app, "Api", routes={"GET /a": "src/a.main", "GET /b": "src/b.main"})
    assert groups(app, existing={"Api/api"}) == []
    ws = App("imp", root=root)
    WebSocketApi(ws, "Ws", routes={"$connect": "src/a.main", "$default": "src/b.main"})
    assert groups(ws) == []
    one = App("imp", root=root)
    Api(one, "Api", routes={"GET /a": "src/a.main"})
    assert groups(one) == []


def test_shared_integrations_and_functions(root: Path) -> None:
    gql = App("imp", root=root)
    GraphQLApi(gql, "Gql", server="src/server.handler")  # GET / and POST / share one integration
    assert groups(gql) == []
    shared = App("imp", root=root)
    fn = Function(shared, "Fn", handler="src/a.main")
    Api(shared, "Api", routes={"GET /x": fn, "GET /y": fn, "GET /z": "src/b.main"})
    (group,) = groups(shared)  # two integrations calling one function: only one of them is imported
    assert group.routes == ("Api/route/GET /x", "Api/route/GET /z")
    assert "Api/route/GET /y" in group.waiting


def test_openapi_body() -> None:
    api = {"name": "dev-imp-Api", "tags": {"sstdirect:app": "imp"},
           "cors": {"AllowOrigins": ["*"], "AllowCredentials": False, "MaxAge": 300}}

    def pair(key: str, auth: str = "NONE") -> tuple[dict[str, Any], dict[str, Any]]:
        return ({"route_key": key, "authorization_type": auth},
                {"integration_method": "POST", "integration_uri": f"arn:fn:{key}", "payload_format_version": "2.0",
                 "timeout_ms": 30000})

    body = openapi_body(api, [pair("GET /a"), pair("ANY /b/{proxy+}"), pair("$default"), pair("POST /a", "AWS_IAM")])
    assert body["info"]["title"] == "dev-imp-Api"
    assert set(body["paths"]) == {"/a", "/b/{proxy+}", "$default"}
    assert set(body["paths"]["/a"]) == {"get", "post"}
    assert set(body["paths"]["$default"]) == {"x-amazon-apigateway-any-method"}
    assert set(body["paths"]["/b/{proxy+}"]) == {"x-amazon-apigateway-any-method"}
    assert body["paths"]["/a"]["post"]["security"] == [{"sigv4": []}]
    assert "security" not in body["paths"]["/a"]["get"]
    assert body["paths"]["/a"]["get"]["x-amazon-apigateway-integration"] == {
        "type": "aws_proxy", "httpMethod": "POST", "uri": "arn:fn:GET /a", "payloadFormatVersion": "2.0",
        "timeoutInMillis": 30000, "connectionType": "INTERNET"}
    assert body["x-amazon-apigateway-cors"] == {"allowOrigins": ["*"], "allowCredentials": False, "maxAge": 300}
    assert body["tags"] == [{"name": "sstdirect:app", "x-amazon-apigateway-tag-value": "imp"}]
    json.dumps(body)  # plain JSON


def test_embedded_reimport(clients: Any) -> None:
    """The embedded AWS's ReimportApi of an HTTP API, in both moto modes."""
    gw = clients("apigatewayv2")
    api_id = gw.create_api(Name="imp", ProtocolType="HTTP", Tags={"k": "v"})["ApiId"]
    gw.create_stage(ApiId=api_id, StageName="$default")
    body = openapi_body({"name": "imp2", "tags": {"t": "1"}, "cors": {"AllowOrigins": ["https://x.example"]}}, [
        ({"route_key": "ANY /p/{proxy+}", "authorization_type": "NONE"},
         {"integration_method": "POST", "integration_uri": "arn:aws:lambda:us-east-1:123456789012:function:f",
          "payload_format_version": "1.0", "timeout_ms": 1234}),
        ({"route_key": "$default", "authorization_type": "AWS_IAM"},
         {"integration_method": "POST", "integration_uri": "arn:aws:lambda:us-east-1:123456789012:function:g",
          "payload_format_version": "2.0", "timeout_ms": 30000}),
    ])
    gw.reimport_api(ApiId=api_id, Body=json.dumps(body))
    api = gw.get_api(ApiId=api_id)
    assert api["Name"] == "imp2" and api["CorsConfiguration"] == {"AllowOrigins": ["https://x.example"]}
    assert api["Tags"] == {"k": "v", "t": "1"}
    integrations = {i["IntegrationId"]: i for i in gw.get_integrations(ApiId=api_id)["Items"]}
    routes = {r["RouteKey"]: r for r in gw.get_routes(ApiId=api_id)["Items"]}
    assert set(routes) == {"ANY /p/{proxy+}", "$default"}
    assert routes["$default"]["AuthorizationType"] == "AWS_IAM"
    assert routes["ANY /p/{proxy+}"]["AuthorizationType"] == "NONE"
    p = integrations[routes["ANY /p/{proxy+}"]["Target"].removeprefix("integrations/")]
    assert (p["IntegrationType"], p["IntegrationUri"], p["PayloadFormatVersion"], p["TimeoutInMillis"]) == (
        "AWS_PROXY", "arn:aws:lambda:us-east-1:123456789012:function:f", "1.0", 1234)
    assert not p.get("Description")
    assert [s["StageName"] for s in gw.get_stages(ApiId=api_id)["Items"]] == ["$default"]  # stages are kept

    body["paths"]["$default"]["x-amazon-apigateway-any-method"]["security"] = [{"jwt": []}]
    with pytest.raises(gw.exceptions.BadRequestException):
        gw.reimport_api(ApiId=api_id, Body=json.dumps(body))


def test_embedded_reimport_refuses_a_path_the_route_grammar_refuses(clients: Any) -> None:
    """Paths become route keys by RouteKey.from_openapi: a path it refuses is a BadRequestException, and the
    API keeps its routes (before, ``/a/{x:y}`` became a route the constructs could never have declared)."""
    gw = clients("apigatewayv2")
    api_id = gw.create_api(Name="imp", ProtocolType="HTTP")["ApiId"]
    integration = {"x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": "arn:aws:lambda:f",
                                                       "payloadFormatVersion": "2.0"}}
    def body(path: str) -> str:
        return json.dumps({"openapi": "3.0.1", "paths": {path: {"get": integration}}})

    gw.reimport_api(ApiId=api_id, Body=body("/ok"))
    with pytest.raises(gw.exceptions.BadRequestException, match="x:y"):
        gw.reimport_api(ApiId=api_id, Body=body("/a/{x:y}"))
    assert [r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"]] == ["GET /ok"]


def test_deploy_imports_then_changes_route_by_route(aws: boto3.Session, root: Path) -> None:
    def build(routes: dict[str, Any]) -> App:
        app = App("imp", root=root, session=aws)
        Api(app, "Api", routes=routes)
        return app

    first = build({"GET /a": "src/a.main", "GET /b": "src/b.main"}).deploy()
    assert first.api_calls["apigatewayv2.ReimportApi"] == 1 and first.api_calls["apigatewayv2.CreateRoute"] == 0
    again = build({"GET /a": "src/a.main", "GET /b": "src/b.main"})
    assert again.diff().is_empty
    changed = build({"GET /a": {"function": "src/a.main", "payload_format_version": "1.0"}, "GET /c": "src/c.main"})
    result = changed.deploy()
    assert result.api_calls["apigatewayv2.ReimportApi"] == 0
    assert result.api_calls["apigatewayv2.CreateRoute"] == 1 and result.api_calls["apigatewayv2.UpdateIntegration"] == 1
    assert changed.diff().is_empty
    gw = aws.client("apigatewayv2")
    (api,) = gw.get_apis()["Items"]
    assert sorted(r["RouteKey"] for r in gw.get_routes(ApiId=api["ApiId"])["Items"]) == ["GET /a", "GET /c"]
    assert len(gw.get_integrations(ApiId=api["ApiId"])["Items"]) == 2
    changed.remove()
    assert gw.get_apis()["Items"] == []


def test_the_import_is_found_from_the_target_s_ref_not_from_its_template(
        aws: boto3.Session, root: Path, calls: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The target's form lives in one place (``integration_target``): spelled anew there, the routes still
    import in one ReimportApi."""
    from sstdirect.resources import apigatewayv2

    monkeypatch.setattr(apigatewayv2, "INTEGRATION_TARGET", "integrations/{id!s}")  # same target, new spelling
    app = App("imp", root=root, session=aws)
    Api(app, "Api", routes={"GET /a": "src/a.main", "GET /b": "src/b.main", "GET /c": "src/c.main"})
    assert app.resources()["Api/route/GET /a"].props["target"].template == "integrations/{id!s}"
    app.deploy()
    assert calls.ops.count("apigatewayv2.ReimportApi") == 1 and "apigatewayv2.CreateRoute" not in calls.ops
    gw = aws.client("apigatewayv2")
    (api,) = gw.get_apis()["Items"]
    assert sorted(r["RouteKey"] for r in gw.get_routes(ApiId=api["ApiId"])["Items"]) == ["GET /a", "GET /b", "GET /c"]
    assert app.diff().is_empty
