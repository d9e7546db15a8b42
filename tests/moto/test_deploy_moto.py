"""Reconcile round trips on moto (in-process ``mock_aws`` + sstdirect's extensions): what AWS holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from sstdirect import Api, App, ConfigError, Function
from sstdirect.aws import is_mutating
from sstdirect.constructs.options import HTTP_ACCESS_LOG_FORMAT

HANDLER = "def main(event, context):\n    return {'statusCode': 200, 'body': %r}\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("list", "create", "get", "other"):
        (tmp_path / "src").mkdir(exist_ok=True)
        (tmp_path / "src" / f"{name}.py").write_text(HANDLER % name)
    return tmp_path


def notes_app(session: boto3.Session, root: Path, **api: Any) -> tuple[App, Api]:
    app = App("notes", stage="dev", session=session, root=root)
    routes = api.pop("routes", {"GET /notes": "src/list.main", "POST /notes": "src/create.main",
                                "GET /notes/{id}": {"function": {"handler": "src/get.main", "timeout": 20,
                                                                 "environment": {"B": "2"}}}})
    return app, Api(app, "Api", routes=routes, **api)


def writes(calls: Any) -> dict[str, int]:
    return {k: v for k, v in calls.items() if is_mutating(k)}


def test_deploy_creates_what_the_app_declares(aws: boto3.Session, root: Path) -> None:
    app, api = notes_app(aws, root, defaults={"function": {"environment": {"A": "1"}, "memory_size": 256}})
    result = app.deploy()
    gw, lam, iam, logs = (aws.client(s) for s in ("apigatewayv2", "lambda", "iam", "logs"))

    (remote,) = gw.get_apis()["Items"]
    assert remote["Name"] == "dev-notes-Api" and remote["ProtocolType"] == "HTTP"
    assert remote["CorsConfiguration"] == {"AllowCredentials": False, "AllowHeaders": ["*"],
                                           "AllowMethods": ["*"], "AllowOrigins": ["*"]}
    assert remote["Tags"]["sstdirect:app"] == "notes" and remote["Tags"]["sstdirect:id"] == "Api/api"
    api_id = remote["ApiId"]
    assert result.outputs["Api"]["id"] == api_id == api.id
    assert api.url == f"https://{api_id}.execute-api.us-east-1.amazonaws.com" == result.outputs["Api"]["url"]
    assert api.arn == f"arn:aws:apigateway:us-east-1::/apis/{api_id}"
    assert isinstance(api.id, str)

    routes = {r["RouteKey"]: r for r in gw.get_routes(ApiId=api_id)["Items"]}
    assert set(routes) == {"GET /notes", "POST /notes", "GET /notes/{id}"}
    integrations = {i["IntegrationId"]: i for i in gw.get_integrations(ApiId=api_id)["Items"]}
    assert len(integrations) == 3
    for key, route in routes.items():
        assert route["AuthorizationType"] == "NONE"
        integ = integrations[route["Target"].removeprefix("integrations/")]
        fn_name = api.get_function(key).function_name
        assert integ["IntegrationType"] == "AWS_PROXY" and integ["PayloadFormatVersion"] == "2.0"
        assert integ["IntegrationUri"] == lam.get_function(FunctionName=fn_name)["Configuration"]["FunctionArn"]
        policy = json.loads(lam.get_policy(FunctionName=fn_name)["Policy"])
        (statement,) = policy["Statement"]
        source = statement["Condition"]["ArnLike"]["AWS:SourceArn"]
        assert source.startswith(f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/*/")
        assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert json.loads(lam.get_policy(FunctionName=api.get_function("GET /notes/{id}").function_name)["Policy"])[
        "Statement"][0]["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f"{api_id}/*/GET/notes/*")

    (stage,) = gw.get_stages(ApiId=api_id)["Items"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert stage["AccessLogSettings"]["Format"] == HTTP_ACCESS_LOG_FORMAT
    group_name = f"/aws/vendedlogs/apis/dev-notes-Api-{api_id}/default"
    (group,) = logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
    assert "retentionInDays" not in group  # never expires
    assert stage["AccessLogSettings"]["DestinationArn"] == group["arn"].removesuffix(":*")

    get_fn = lam.get_function_configuration(FunctionName="dev-notes-Api-GET-notes-id")
    assert (get_fn["Handler"], get_fn["Runtime"], get_fn["MemorySize"], get_fn["Timeout"]) == (
        "get.main", "python3.12", 256, 20)
    assert get_fn["Environment"]["Variables"] == {"A": "1", "B": "2"}  # environment merges
    list_fn = lam.get_function_configuration(FunctionName="dev-notes-Api-GET-notes")
    assert (list_fn["Timeout"], list_fn["Environment"]["Variables"]) == (10, {"A": "1"})

    role_name = get_fn["Role"].rsplit("/", 1)[-1]
    assert role_name == "dev-notes-Api-GET-notes-id"  # one role per function
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    doc = iam.get_role_policy(RoleName=role_name, PolicyName="sstdirect")["PolicyDocument"]
    assert doc["Statement"] == [{
        "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/dev-notes-Api-GET-notes-id:*"}]
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/dev-notes-Api-GET-notes-id")["logGroups"]


def test_second_deploy_makes_no_writes_and_reads_in_batches(aws: boto3.Session, root: Path) -> None:
    app, _ = notes_app(aws, root)
    app.deploy()
    result = app.deploy()
    assert result.changes == [] and writes(result.api_calls) == {}
    assert app.diff().is_empty
    # batched refresh: one list call per API for its children, one ListFunctions for every function
    for op in ("apigatewayv2.GetApis", "apigatewayv2.GetRoutes", "apigatewayv2.GetIntegrations",
               "apigatewayv2.GetStages", "lambda.ListFunctions"):
        assert result.api_calls[op] == 1, op
    assert app.deploy(refresh=False).api_calls == {}


def test_code_change_updates_that_function_only(aws: boto3.Session, root: Path) -> None:
    app, _ = notes_app(aws, root)
    app.deploy()
    (root / "src" / "list.py").write_text(HANDLER % "changed")
    result = app.deploy()
    assert [(c.action.value, c.address, c.changed) for c in result.changes] == [
        ("update", "Api-GET-notes/function", ("code_sha256",))]
    assert writes(result.api_calls) == {"lambda.UpdateFunctionCode": 1}


def test_timeout_change_updates_that_configuration_only(aws: boto3.Session, root: Path) -> None:
    app, _ = notes_app(aws, root)
    app.deploy()
    app2, _ = notes_app(aws, root, routes={
        "GET /notes": {"function": {"handler": "src/list.main", "timeout": 30}},
        "POST /notes": "src/create.main",
        "GET /notes/{id}": {"function": {"handler": "src/get.main", "timeout": 20, "environment": {"B": "2"}}}})
    result = app2.deploy()
    assert writes(result.api_calls) == {"lambda.UpdateFunctionConfiguration": 1}
    assert aws.client("lambda").get_function_configuration(FunctionName="dev-notes-Api-GET-notes")["Timeout"] == 30


def test_removing_a_route_deletes_its_route_integration_permission_function_and_role(
        aws: boto3.Session, root: Path) -> None:
    app, api = notes_app(aws, root)
    app.deploy()
    api_id = api.id
    app2, _ = notes_app(aws, root, routes={"GET /notes": "src/list.main", "POST /notes": "src/create.main"})
    result = app2.deploy()
    deleted = {c.address for c in result.changes if c.action.value == "delete"}
    assert deleted == {f"Api-GET-notes-id/{p}" for p in ("function", "role", "log-group")} | {
        "Api/route/GET /notes/{id}", "Api/integration/GET /notes/{id}", "Api/permission/GET /notes/{id}"}
    gw = aws.client("apigatewayv2")
    assert {r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"]} == {"GET /notes", "POST /notes"}
    assert len(gw.get_integrations(ApiId=api_id)["Items"]) == 2
    names = {f["FunctionName"] for f in aws.client("lambda").list_functions()["Functions"]}
    assert names == {"dev-notes-Api-GET-notes", "dev-notes-Api-POST-notes"}
    roles = {r["RoleName"] for r in aws.client("iam").list_roles()["Roles"]}
    assert "dev-notes-Api-GET-notes-id" not in roles


def test_cors_access_log_and_payload_options_reconcile(aws: boto3.Session, root: Path) -> None:
    app, api = notes_app(aws, root, routes={"GET /a": {"function": "src/list.main", "payload_format_version": "1.0"}},
                         cors={"allow_origins": ["https://x.dev"], "allow_credentials": True, "max_age": "1 day"},
                         access_log={"format": "$context.requestId", "retention": "one_week"})
    app.deploy()
    gw, logs = aws.client("apigatewayv2"), aws.client("logs")
    remote = gw.get_api(ApiId=api.id)
    assert remote["CorsConfiguration"] == {"AllowCredentials": True, "AllowHeaders": ["*"], "AllowMethods": ["*"],
                                           "AllowOrigins": ["https://x.dev"], "MaxAge": 86400}
    (integ,) = gw.get_integrations(ApiId=api.id)["Items"]
    assert integ["PayloadFormatVersion"] == "1.0"
    stage = gw.get_stage(ApiId=api.id, StageName="$default")
    assert stage["AccessLogSettings"]["Format"] == "$context.requestId"
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/apis/")["logGroups"]
    assert group["retentionInDays"] == 7

    app2, _ = notes_app(aws, root, routes={"GET /a": {"function": "src/list.main", "payload_format_version": "1.0"}},
                        cors=False, access_log=False)
    result = app2.deploy()
    assert {c.address for c in result.changes} == {"Api/api", "Api/stage", "Api/access-log"}
    assert "CorsConfiguration" not in gw.get_api(ApiId=api.id)
    assert "AccessLogSettings" not in gw.get_stage(ApiId=api.id, StageName="$default")
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/apis/")["logGroups"] == []
    assert app2.deploy().changes == []


def test_authorizer_removal_and_switching_auth_back_to_none(aws: boto3.Session, root: Path) -> None:
    jwt = {"type": "jwt", "jwt": {"issuer": "https://issuer.example.com", "audience": ["aud1"]}}
    app, api = notes_app(aws, root, routes={"GET /a": "src/list.main", "GET /b": {"function": "src/get.main",
                         "authorizer": "iam"}}, authorizers={"auth0": jwt},
                         defaults={"authorizer": "auth0", "authorization_scopes": ["notes/read"]})
    app.deploy()
    gw = aws.client("apigatewayv2")
    (authz,) = gw.get_authorizers(ApiId=api.id)["Items"]
    assert authz["AuthorizerType"] == "JWT" and authz["IdentitySource"] == ["$request.header.Authorization"]
    assert authz["JwtConfiguration"] == {"Issuer": "https://issuer.example.com", "Audience": ["aud1"]}
    routes = {r["RouteKey"]: r for r in gw.get_routes(ApiId=api.id)["Items"]}
    assert (routes["GET /a"]["AuthorizationType"], routes["GET /a"]["AuthorizerId"],
            routes["GET /a"]["AuthorizationScopes"]) == ("JWT", authz["AuthorizerId"], ["notes/read"])
    assert routes["GET /b"]["AuthorizationType"] == "AWS_IAM"

    app2, _ = notes_app(aws, root, routes={"GET /a": "src/list.main", "GET /b": "src/get.main"})
    result = app2.deploy()
    assert [c.address for c in result.changes if c.action.value == "delete"] == ["Api/authorizer/auth0"]
    routes = {r["RouteKey"]: r for r in gw.get_routes(ApiId=api.id)["Items"]}
    assert {k: r["AuthorizationType"] for k, r in routes.items()} == {"GET /a": "NONE", "GET /b": "NONE"}
    assert not routes["GET /a"].get("AuthorizerId")
    assert gw.get_authorizers(ApiId=api.id)["Items"] == []
    assert app2.deploy().changes == []


def test_remove_leaves_nothing(aws: boto3.Session, root: Path) -> None:
    app, _ = notes_app(aws, root)
    standalone = Function(app, "Worker", handler="src/other.main", permissions=["s3", "dynamodb:GetItem"])
    app.deploy()
    assert aws.client("iam").get_role_policy(RoleName="dev-notes-Worker", PolicyName="sstdirect")[
        "PolicyDocument"]["Statement"][1:] == [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                                               {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]
    assert standalone.function_name == "dev-notes-Worker"
    result = app.remove()
    assert len(result.changes) > 10
    assert aws.client("apigatewayv2").get_apis()["Items"] == []
    assert aws.client("lambda").list_functions()["Functions"] == []
    assert aws.client("iam").list_roles()["Roles"] == []
    assert aws.client("logs").describe_log_groups()["logGroups"] == []
    assert not app.state_path.exists() and app.outputs == {}


def test_drift_is_put_back(aws: boto3.Session, root: Path) -> None:
    app, api = notes_app(aws, root)
    app.deploy()
    lam, gw = aws.client("lambda"), aws.client("apigatewayv2")
    lam.update_function_configuration(FunctionName="dev-notes-Api-GET-notes", Timeout=99)
    lam.delete_function(FunctionName="dev-notes-Api-POST-notes")
    gw.update_api(ApiId=api.id, CorsConfiguration={"AllowOrigins": ["https://evil.example"]})
    plan = app.diff()
    assert {(c.action.value, c.address) for c in plan.changes} >= {
        ("update", "Api-GET-notes/function"), ("create", "Api-POST-notes/function"), ("update", "Api/api")}
    app.deploy()
    assert lam.get_function_configuration(FunctionName="dev-notes-Api-GET-notes")["Timeout"] == 10
    assert lam.get_function_configuration(FunctionName="dev-notes-Api-POST-notes")["State"] == "Active"
    assert gw.get_api(ApiId=api.id)["CorsConfiguration"]["AllowOrigins"] == ["*"]
    assert app.diff().is_empty


def test_lambda_authorizer_settings_and_scoped_permission(aws: boto3.Session, root: Path) -> None:
    authorizers = {"simple": {"type": "lambda", "function": "src/other.main", "response_types": ["simple"],
                              "results_cache_ttl": 30},
                   "iam": {"type": "lambda", "function": "src/other.main"}}
    with pytest.raises(ConfigError, match="reserved"):
        notes_app(aws, root, authorizers=authorizers)
    authorizers["policy"] = authorizers.pop("iam")
    app, api = notes_app(aws, root, authorizers=authorizers, routes={
        "GET /a": {"function": "src/list.main", "authorizer": "simple"},
        "GET /b": {"function": "src/get.main", "authorizer": "policy"}})
    app.deploy()
    gw, lam = aws.client("apigatewayv2"), aws.client("lambda")
    found = {a["Name"]: a for a in gw.get_authorizers(ApiId=api.id)["Items"]}
    simple, policy = found["simple"], found["policy"]
    assert (simple["AuthorizerType"], simple["AuthorizerPayloadFormatVersion"], simple["EnableSimpleResponses"],
            simple["AuthorizerResultTtlInSeconds"], simple["IdentitySource"]) == (
        "REQUEST", "2.0", True, 30, ["$request.header.Authorization"])
    assert (policy["AuthorizerPayloadFormatVersion"], policy["EnableSimpleResponses"],
            policy["AuthorizerResultTtlInSeconds"]) == ("1.0", False, 0)
    fn_arn = lam.get_function(FunctionName="dev-notes-Api-authorizer-simple")["Configuration"]["FunctionArn"]
    assert simple["AuthorizerUri"] == (
        f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fn_arn}/invocations")
    statement = json.loads(lam.get_policy(FunctionName="dev-notes-Api-authorizer-simple")["Policy"])["Statement"][0]
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        f"arn:aws:execute-api:us-east-1:123456789012:{api.id}/authorizers/{simple['AuthorizerId']}")
    routes = {r["RouteKey"]: r for r in gw.get_routes(ApiId=api.id)["Items"]}
    assert (routes["GET /a"]["AuthorizationType"], routes["GET /a"]["AuthorizerId"]) == (
        "CUSTOM", simple["AuthorizerId"])
    assert app.deploy().changes == []


def test_renaming_an_authorizer_in_use_moves_routes_first(aws: boto3.Session, root: Path) -> None:
    jwt = {"type": "jwt", "jwt": {"issuer": "https://issuer.example.com", "audience": ["a"]}}
    app, api = notes_app(aws, root, authorizers={"old": jwt}, defaults={"authorizer": "old"},
                         routes={"GET /a": "src/list.main"})
    app.deploy()
    calls: list[str] = []
    aws.events.register("before-call.apigatewayv2", lambda model, **_: calls.append(model.name))
    app2, _ = notes_app(aws, root, authorizers={"new": jwt}, defaults={"authorizer": "new"},
                        routes={"GET /a": "src/list.main"})
    app2.deploy()
    writes_in_order = [c for c in calls if is_mutating(f"x.{c}")]
    assert writes_in_order == ["CreateAuthorizer", "UpdateRoute", "DeleteAuthorizer"]
    (authz,) = aws.client("apigatewayv2").get_authorizers(ApiId=api.id)["Items"]
    (route,) = aws.client("apigatewayv2").get_routes(ApiId=api.id)["Items"]
    assert authz["Name"] == "new" and route["AuthorizerId"] == authz["AuthorizerId"]


def test_defaults_function_applies_to_lambda_authorizer_functions(root: Path) -> None:
    app = App("notes", stage="dev", root=root)
    api = Api(app, "Api", defaults={"function": {"timeout": 9, "environment": {"STAGE": "dev"}}},
              authorizers={"auth": {"type": "lambda", "function": {"handler": "src/other.main", "timeout": 5}}},
              routes={"GET /a": {"function": "src/list.main", "authorizer": "auth"}})
    fn = api.authorizers["auth"].function
    assert (fn.timeout, fn.environment) == (5, {"STAGE": "dev"})  # the authorizer's own props win
