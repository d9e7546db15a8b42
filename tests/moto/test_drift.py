"""Drift: objects deleted and settings changed outside sstdirect are shown by ``diff()`` and put back by
``deploy()``, for every kind of object of an app with Cognito, authorizers, custom domains and a WebSocket API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from inventory import full_app, inventory

from sstdirect import App
from sstdirect.constructs.options import HTTP_ACCESS_LOG_FORMAT


def physical(app: App, address: str) -> str:
    return json.loads(app.state_path.read_text())["resources"][address]["physical_id"]


def api_id(app: App, construct: str = "Api") -> str:
    return physical(app, f"{construct}/api")


Client = Callable[[str], Any]
Mutation = Callable[[Client, App], None]


def delete_role(c: Client, app: App) -> None:
    name = physical(app, "Api-GET-public/role")
    c("iam").delete_role_policy(RoleName=name, PolicyName="sstdirect")
    c("iam").delete_role(RoleName=name)


def other_integration(c: Client, app: App) -> str:
    return physical(app, "Api/integration/GET /private")


# name → (what is done out of band, what diff() must show (action, address), a check after the deploy)
DRIFTS: dict[str, tuple[Mutation, set[tuple[str, str]], Callable[[Client, App], bool] | None]] = {
    "function deleted": (
        lambda c, a: c("lambda").delete_function(FunctionName=physical(a, "Api-GET-public/function")),
        {("create", "Api-GET-public/function"), ("create", "Api/permission/GET /public")}, None),
    "route deleted": (
        lambda c, a: c("apigatewayv2").delete_route(ApiId=api_id(a), RouteId=physical(a, "Api/route/GET /public")),
        {("create", "Api/route/GET /public")}, None),
    "websocket route deleted": (
        lambda c, a: c("apigatewayv2").delete_route(ApiId=api_id(a, "Ws"),
                                                    RouteId=physical(a, "Ws/route/sendMessage")),
        {("create", "Ws/route/sendMessage")}, None),
    "integration deleted": (
        lambda c, a: c("apigatewayv2").delete_integration(
            ApiId=api_id(a), IntegrationId=physical(a, "Api/integration/GET /public")),
        {("create", "Api/integration/GET /public"), ("update", "Api/route/GET /public")}, None),
    "stage deleted": (
        lambda c, a: c("apigatewayv2").delete_stage(ApiId=api_id(a), StageName="$default"),
        {("create", "Api/stage")}, None),
    "authorizer deleted": (
        lambda c, a: c("apigatewayv2").delete_authorizer(ApiId=api_id(a),
                                                         AuthorizerId=physical(a, "Api/authorizer/pool")),
        {("create", "Api/authorizer/pool"), ("update", "Api/route/GET /private")}, None),
    "websocket authorizer deleted": (
        lambda c, a: c("apigatewayv2").delete_authorizer(ApiId=api_id(a, "Ws"),
                                                         AuthorizerId=physical(a, "Ws/authorizer")),
        # the authorizer's invoke permission is scoped to the authorizer's id: a new one replaces it
        {("create", "Ws/authorizer"), ("update", "Ws/route/$connect"), ("replace", "Ws/permission/authorizer")},
        None),
    "role deleted": (delete_role, {("create", "Api-GET-public/role")}, None),
    "function log group deleted": (
        lambda c, a: c("logs").delete_log_group(logGroupName=physical(a, "Api-GET-public/log-group")),
        {("create", "Api-GET-public/log-group")}, None),
    "access log group deleted": (
        lambda c, a: c("logs").delete_log_group(logGroupName=physical(a, "Api/access-log")),
        {("create", "Api/access-log")}, None),
    "api mapping deleted": (
        lambda c, a: c("apigatewayv2").delete_api_mapping(ApiMappingId=physical(a, "Api/domain/mapping"),
                                                          DomainName="api.example.com"),
        {("create", "Api/domain/mapping")}, None),
    "user pool client deleted": (
        lambda c, a: c("cognito-idp").delete_user_pool_client(UserPoolId=physical(a, "Auth/user-pool"),
                                                               ClientId=physical(a, "Auth/user-pool-client")),
        {("create", "Auth/user-pool-client"), ("update", "Auth/identity-pool")}, None),
    "function timeout changed": (
        lambda c, a: c("lambda").update_function_configuration(
            FunctionName=physical(a, "Api-GET-public/function"), Timeout=99),
        {("update", "Api-GET-public/function")},
        lambda c, a: c("lambda").get_function_configuration(
            FunctionName=physical(a, "Api-GET-public/function"))["Timeout"] == 10),
    "api cors changed": (
        lambda c, a: c("apigatewayv2").update_api(ApiId=api_id(a),
                                                  CorsConfiguration={"AllowOrigins": ["https://evil.example"]}),
        {("update", "Api/api")},
        lambda c, a: c("apigatewayv2").get_api(ApiId=api_id(a))["CorsConfiguration"]["AllowOrigins"] == ["*"]),
    "route target changed": (
        lambda c, a: c("apigatewayv2").update_route(ApiId=api_id(a), RouteId=physical(a, "Api/route/GET /public"),
                                                    Target=f"integrations/{other_integration(c, a)}"),
        {("update", "Api/route/GET /public")},
        lambda c, a: c("apigatewayv2").get_route(ApiId=api_id(a), RouteId=physical(a, "Api/route/GET /public"))[
            "Target"] == f"integrations/{physical(a, 'Api/integration/GET /public')}"),
    "route authorization removed": (
        lambda c, a: c("apigatewayv2").update_route(ApiId=api_id(a), RouteId=physical(a, "Api/route/GET /private"),
                                                    AuthorizationType="NONE"),
        {("update", "Api/route/GET /private")},
        lambda c, a: c("apigatewayv2").get_route(ApiId=api_id(a), RouteId=physical(a, "Api/route/GET /private"))[
            "AuthorizationType"] == "JWT"),
    "stage access log format changed": (
        lambda c, a: c("apigatewayv2").update_stage(
            ApiId=api_id(a), StageName="$default",
            AccessLogSettings={"DestinationArn": json.loads(a.state_path.read_text())["resources"]["Api/access-log"][
                "attrs"]["arn"], "Format": "$context.requestId"}),
        {("update", "Api/stage")},
        lambda c, a: c("apigatewayv2").get_stage(ApiId=api_id(a), StageName="$default")[
            "AccessLogSettings"]["Format"] == HTTP_ACCESS_LOG_FORMAT),
}


@pytest.mark.parametrize("name", list(DRIFTS))
def test_drift_is_shown_by_diff_and_put_back_by_deploy(aws: boto3.Session, tmp_path: Path, name: str) -> None:
    aws.client("route53").create_hosted_zone(Name="example.com", CallerReference="drift")
    app = full_app(tmp_path, session=aws)
    app.deploy()
    deployed = inventory(aws.client)
    mutate, expected, check = DRIFTS[name]
    mutate(aws.client, app)

    plan = app.diff()
    shown = {(c.action.value, c.address) for c in plan.changes}
    assert expected <= shown, plan
    # nothing else is deleted or replaced
    assert not [c for c in plan.changes if c.action.value in ("delete", "replace")
                and (c.action.value, c.address) not in expected], plan
    app.deploy()
    assert app.diff().is_empty
    assert inventory(aws.client) == deployed  # the same objects, none twice
    if check is not None:
        assert check(aws.client, app)
