"""Tests of sstdirect.local.ext: every operation added to or fixed in moto, through boto3, in both
modes - in-process ``moto.mock_aws`` after ``install()``, and against a ``LocalCloud`` server."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

Clients = Callable[..., Any]
ACCOUNT = "123456789012"
NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1})


@pytest.fixture
def aws(clients: Clients) -> Clients:
    """The shared dual-mode client factory (conftest ``clients``), under this module's name."""
    return clients


def error(exc_info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = exc_info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def not_found(call: Callable[[], Any]) -> None:
    with pytest.raises(ClientError) as exc_info:
        call()
    assert error(exc_info) == ("NotFoundException", 404)


def http_api(gw: Any, **kwargs: Any) -> str:
    return gw.create_api(Name="notes", ProtocolType="HTTP", **kwargs)["ApiId"]


LOG_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/apigw/notes"


# --- API Gateway v2: UpdateStage, DeleteAccessLogSettings, DeleteRouteSettings -----------------


def test_update_stage_round_trip(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    gw.create_stage(
        ApiId=api_id,
        StageName="$default",
        AutoDeploy=True,
        AccessLogSettings={"DestinationArn": LOG_ARN, "Format": "$context.requestId"},
        StageVariables={"keep": "1", "drop": "2"},
        RouteSettings={"GET /a": {"ThrottlingBurstLimit": 1}},
    )

    updated = gw.update_stage(
        ApiId=api_id,
        StageName="$default",
        AutoDeploy=False,
        Description="second",
        AccessLogSettings={"DestinationArn": LOG_ARN, "Format": "$context.status"},
        DefaultRouteSettings={"ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 5.0},
        RouteSettings={"GET /b": {"ThrottlingBurstLimit": 2}},
        StageVariables={"drop": "", "new": "3"},
    )

    stage = gw.get_stage(ApiId=api_id, StageName="$default")
    for shown in (updated, stage):
        assert shown["StageName"] == "$default"
        assert shown["AutoDeploy"] is False
        assert shown["Description"] == "second"
        assert shown["AccessLogSettings"]["Format"] == "$context.status"
        assert shown["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 10, "ThrottlingRateLimit": 5.0}
        # RouteSettings merge per route key; a stage variable set to "" is removed.
        assert set(shown["RouteSettings"]) == {"GET /a", "GET /b"}
        assert shown["StageVariables"] == {"keep": "1", "new": "3"}

    not_found(lambda: gw.update_stage(ApiId=api_id, StageName="nope", AutoDeploy=True))
    not_found(lambda: gw.update_stage(ApiId="nope", StageName="$default", AutoDeploy=True))


def test_delete_access_log_settings(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    gw.create_stage(
        ApiId=api_id, StageName="dev", AccessLogSettings={"DestinationArn": LOG_ARN, "Format": "$context.status"}
    )
    assert "AccessLogSettings" in gw.get_stage(ApiId=api_id, StageName="dev")

    response = gw.delete_access_log_settings(ApiId=api_id, StageName="dev")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "AccessLogSettings" not in gw.get_stage(ApiId=api_id, StageName="dev")
    not_found(lambda: gw.delete_access_log_settings(ApiId=api_id, StageName="nope"))


def test_delete_route_settings_with_a_slash_in_the_route_key(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    gw.create_stage(ApiId=api_id, StageName="dev", RouteSettings={"GET /items/{id}": {"ThrottlingBurstLimit": 3}})

    gw.delete_route_settings(ApiId=api_id, StageName="dev", RouteKey="GET /items/{id}")

    assert gw.get_stage(ApiId=api_id, StageName="dev")["RouteSettings"] == {}
    not_found(lambda: gw.delete_route_settings(ApiId=api_id, StageName="dev", RouteKey="GET /items/{id}"))


# --- API Gateway v2: GetAuthorizers ----------------------------------------------------------


def test_get_authorizers_lists_and_paginates(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    created = [
        gw.create_authorizer(
            ApiId=api_id,
            AuthorizerType="JWT",
            Name=f"jwt{i}",
            IdentitySource=["$request.header.Authorization"],
            JwtConfiguration={"Audience": ["client"], "Issuer": "https://issuer.example.com"},
        )["AuthorizerId"]
        for i in range(3)
    ]

    everything = gw.get_authorizers(ApiId=api_id)
    first = gw.get_authorizers(ApiId=api_id, MaxResults="2")
    second = gw.get_authorizers(ApiId=api_id, MaxResults="2", NextToken=first["NextToken"])

    assert [a["AuthorizerId"] for a in everything["Items"]] == created
    assert "NextToken" not in everything
    assert everything["Items"][0]["JwtConfiguration"]["Issuer"] == "https://issuer.example.com"
    assert [a["AuthorizerId"] for a in first["Items"] + second["Items"]] == created
    assert "NextToken" not in second
    not_found(lambda: gw.get_authorizers(ApiId="nope"))


# --- API Gateway v2: deployments ---------------------------------------------------------------


def test_deployments_round_trip(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    gw.create_stage(ApiId=api_id, StageName="dev")
    assert "DeploymentId" not in gw.get_stage(ApiId=api_id, StageName="dev")

    created = gw.create_deployment(ApiId=api_id, StageName="dev", Description="first")
    plain = gw.create_deployment(ApiId=api_id)

    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["DeploymentStatus"] == "DEPLOYED"
    assert created["Description"] == "first"
    assert created["AutoDeployed"] is False
    assert gw.get_stage(ApiId=api_id, StageName="dev")["DeploymentId"] == created["DeploymentId"]
    assert gw.get_deployment(ApiId=api_id, DeploymentId=created["DeploymentId"])["Description"] == "first"
    listed = [d["DeploymentId"] for d in gw.get_deployments(ApiId=api_id)["Items"]]
    assert listed == [created["DeploymentId"], plain["DeploymentId"]]

    # UpdateStage and CreateStage accept a DeploymentId that exists.
    gw.update_stage(ApiId=api_id, StageName="dev", DeploymentId=plain["DeploymentId"])
    assert gw.get_stage(ApiId=api_id, StageName="dev")["DeploymentId"] == plain["DeploymentId"]
    gw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=created["DeploymentId"])
    assert gw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == created["DeploymentId"]

    not_found(lambda: gw.get_deployment(ApiId=api_id, DeploymentId="nope"))
    not_found(lambda: gw.create_deployment(ApiId=api_id, StageName="nope"))
    not_found(lambda: gw.create_deployment(ApiId="nope"))
    not_found(lambda: gw.update_stage(ApiId=api_id, StageName="dev", DeploymentId="nope"))

    gw.delete_deployment(ApiId=api_id, DeploymentId=plain["DeploymentId"])
    not_found(lambda: gw.get_deployment(ApiId=api_id, DeploymentId=plain["DeploymentId"]))
    not_found(lambda: gw.delete_deployment(ApiId=api_id, DeploymentId=plain["DeploymentId"]))


# --- API Gateway v2: domain names and API mappings --------------------------------------------

CERT = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/11111111-1111-1111-1111-111111111111"
CERT2 = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/22222222-2222-2222-2222-222222222222"


@pytest.mark.parametrize(("region", "zone"), [("us-east-1", "Z1UJRXOUMOOFQ8"), ("eu-west-1", "ZLY8HYME6SFDD")])
def test_domain_name_configurations_carry_the_alias_target(aws: Clients, region: str, zone: str) -> None:
    gw = aws("apigatewayv2", region=region)

    created = gw.create_domain_name(
        DomainName="api.example.com",
        DomainNameConfigurations=[{"CertificateArn": CERT, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}],
    )["DomainNameConfigurations"][0]

    assert re.fullmatch(rf"d-[a-z0-9]{{10}}\.execute-api\.{region}\.amazonaws\.com", created["ApiGatewayDomainName"])
    assert created["HostedZoneId"] == zone
    assert created["DomainNameStatus"] == "AVAILABLE"
    assert created["CertificateArn"] == CERT
    fetched = gw.get_domain_name(DomainName="api.example.com")["DomainNameConfigurations"][0]
    listed = gw.get_domain_names()["Items"][0]["DomainNameConfigurations"][0]
    assert fetched == created
    assert listed == created


def test_update_domain_name_keeps_the_alias_target(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    before = gw.create_domain_name(DomainName="api.example.com", DomainNameConfigurations=[{"CertificateArn": CERT}])

    updated = gw.update_domain_name(
        DomainName="api.example.com",
        DomainNameConfigurations=[{"CertificateArn": CERT2, "EndpointType": "REGIONAL"}],
    )

    old, new = before["DomainNameConfigurations"][0], updated["DomainNameConfigurations"][0]
    assert new["CertificateArn"] == CERT2
    assert new["ApiGatewayDomainName"] == old["ApiGatewayDomainName"]
    assert new["HostedZoneId"] == old["HostedZoneId"]
    fetched = gw.get_domain_name(DomainName="api.example.com")["DomainNameConfigurations"][0]
    assert fetched["CertificateArn"] == CERT2
    not_found(lambda: gw.update_domain_name(DomainName="nope.example.com", DomainNameConfigurations=[{}]))


def test_update_api_mapping_round_trip(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    other_api = http_api(gw)
    for api in (api_id, other_api):
        gw.create_stage(ApiId=api, StageName="$default")
    gw.create_domain_name(DomainName="api.example.com", DomainNameConfigurations=[{"CertificateArn": CERT}])
    mapping_id = gw.create_api_mapping(DomainName="api.example.com", ApiId=api_id, Stage="$default")["ApiMappingId"]

    updated = gw.update_api_mapping(
        DomainName="api.example.com", ApiMappingId=mapping_id, ApiId=other_api, ApiMappingKey="v1"
    )

    fetched = gw.get_api_mapping(DomainName="api.example.com", ApiMappingId=mapping_id)
    for shown in (updated, fetched):
        assert (shown["ApiMappingId"], shown["ApiId"], shown["ApiMappingKey"], shown["Stage"]) == (
            mapping_id,
            other_api,
            "v1",
            "$default",
        )
    not_found(lambda: gw.update_api_mapping(DomainName="api.example.com", ApiMappingId="nope", ApiId=api_id))
    not_found(lambda: gw.update_api_mapping(DomainName="api.example.com", ApiMappingId=mapping_id, ApiId="nope"))
    not_found(lambda: gw.update_api_mapping(DomainName="nope.example.com", ApiMappingId=mapping_id, ApiId=api_id))
    with pytest.raises(ClientError) as exc_info:
        gw.update_api_mapping(DomainName="api.example.com", ApiMappingId=mapping_id, ApiId=api_id, ApiMappingKey="/v2")
    assert error(exc_info) == ("BadRequestException", 400)


def test_delete_domain_name_with_api_mappings(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    gw.create_stage(ApiId=api_id, StageName="$default")
    gw.create_domain_name(DomainName="api.example.com", DomainNameConfigurations=[{"CertificateArn": CERT}])
    gw.create_api_mapping(DomainName="api.example.com", ApiId=api_id, Stage="$default")

    gw.delete_domain_name(DomainName="api.example.com")

    assert gw.get_domain_names()["Items"] == []
    not_found(lambda: gw.get_domain_name(DomainName="api.example.com"))
    not_found(lambda: gw.delete_domain_name(DomainName="api.example.com"))


# --- API Gateway v2: fixes to existing operations -----------------------------------------------


def test_missing_ids_are_not_found(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)

    not_found(lambda: gw.delete_api(ApiId="nope"))
    not_found(lambda: gw.delete_route(ApiId=api_id, RouteId="nope"))
    not_found(lambda: gw.delete_integration(ApiId=api_id, IntegrationId="nope"))
    not_found(lambda: gw.delete_authorizer(ApiId=api_id, AuthorizerId="nope"))
    not_found(lambda: gw.delete_stage(ApiId=api_id, StageName="nope"))
    not_found(lambda: gw.update_authorizer(ApiId=api_id, AuthorizerId="nope", Name="x"))
    not_found(lambda: gw.update_integration(ApiId=api_id, IntegrationId="nope", TimeoutInMillis=1000))
    not_found(lambda: gw.update_api(ApiId="nope", Name="x"))
    not_found(lambda: gw.update_route(ApiId=api_id, RouteId="nope", RouteKey="GET /x"))


def test_deletes_round_trip_then_not_found(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    integration = gw.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:notes",
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    route = gw.create_route(ApiId=api_id, RouteKey="GET /notes", Target=f"integrations/{integration}")["RouteId"]
    authorizer = gw.create_authorizer(
        ApiId=api_id,
        AuthorizerType="JWT",
        Name="jwt",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Audience": ["a"], "Issuer": "https://issuer.example.com"},
    )["AuthorizerId"]
    gw.create_stage(ApiId=api_id, StageName="$default")

    steps: list[tuple[Callable[[], Any], Callable[[], Any]]] = [
        (
            lambda: gw.delete_route(ApiId=api_id, RouteId=route),
            lambda: gw.get_route(ApiId=api_id, RouteId=route),
        ),
        (
            lambda: gw.delete_integration(ApiId=api_id, IntegrationId=integration),
            lambda: gw.get_integration(ApiId=api_id, IntegrationId=integration),
        ),
        (
            lambda: gw.delete_authorizer(ApiId=api_id, AuthorizerId=authorizer),
            lambda: gw.get_authorizer(ApiId=api_id, AuthorizerId=authorizer),
        ),
        (
            lambda: gw.delete_stage(ApiId=api_id, StageName="$default"),
            lambda: gw.get_stage(ApiId=api_id, StageName="$default"),
        ),
        (lambda: gw.delete_api(ApiId=api_id), lambda: gw.get_api(ApiId=api_id)),
    ]
    for delete, get in steps:
        delete()
        not_found(get)
        not_found(delete)


def test_create_stage_with_an_existing_name_conflicts(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    gw.create_stage(ApiId=api_id, StageName="$default", Description="original")

    with pytest.raises(ClientError) as exc_info:
        gw.create_stage(ApiId=api_id, StageName="$default", Description="second")

    assert error(exc_info) == ("ConflictException", 409)
    assert gw.get_stage(ApiId=api_id, StageName="$default")["Description"] == "original"


def _jwt_route(gw: Any, api_id: str) -> tuple[str, str]:
    authorizer = gw.create_authorizer(
        ApiId=api_id,
        AuthorizerType="JWT",
        Name="jwt",
        IdentitySource=["$request.header.Authorization"],
        JwtConfiguration={"Audience": ["a"], "Issuer": "https://issuer.example.com"},
    )["AuthorizerId"]
    route = gw.create_route(
        ApiId=api_id,
        RouteKey="GET /notes",
        AuthorizationType="JWT",
        AuthorizerId=authorizer,
        AuthorizationScopes=["notes/read"],
    )["RouteId"]
    return route, authorizer


def test_update_route_authorization_type_none_detaches_the_authorizer(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    route, _ = _jwt_route(gw, api_id)

    updated = gw.update_route(ApiId=api_id, RouteId=route, AuthorizationType="NONE")

    fetched = gw.get_route(ApiId=api_id, RouteId=route)
    for shown in (updated, fetched):
        assert shown["AuthorizationType"] == "NONE"
        assert "AuthorizerId" not in shown
        assert "AuthorizationScopes" not in shown


def test_update_route_clears_scopes_and_authorizer_id(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    route, authorizer = _jwt_route(gw, api_id)

    gw.update_route(ApiId=api_id, RouteId=route, AuthorizationScopes=[])
    after_scopes = gw.get_route(ApiId=api_id, RouteId=route)
    gw.update_route(ApiId=api_id, RouteId=route, AuthorizationType="NONE", AuthorizerId="")
    after_clear = gw.get_route(ApiId=api_id, RouteId=route)

    assert "AuthorizationScopes" not in after_scopes
    assert after_scopes["AuthorizerId"] == authorizer
    assert after_clear["AuthorizationType"] == "NONE"
    assert "AuthorizerId" not in after_clear


def test_update_route_authorizer_id_without_type_is_rejected_like_aws(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    route, authorizer = _jwt_route(gw, api_id)

    with pytest.raises(ClientError) as exc_info:
        gw.update_route(ApiId=api_id, RouteId=route, AuthorizerId=authorizer)
    assert error(exc_info) == ("BadRequestException", 400)

    # With the type it is accepted, and switching back to JWT attaches it again.
    gw.update_route(ApiId=api_id, RouteId=route, AuthorizationType="NONE")
    gw.update_route(ApiId=api_id, RouteId=route, AuthorizationType="JWT", AuthorizerId=authorizer)
    assert gw.get_route(ApiId=api_id, RouteId=route)["AuthorizerId"] == authorizer


def test_update_integration_merges_request_parameters(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw)
    integration = gw.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationMethod="ANY",
        IntegrationUri="https://example.com",
        PayloadFormatVersion="1.0",
        RequestParameters={"append:header.a": "1", "append:header.b": "2"},
    )["IntegrationId"]

    gw.update_integration(
        ApiId=api_id,
        IntegrationId=integration,
        RequestParameters={"append:header.b": "", "append:header.c": "3"},
    )

    params = gw.get_integration(ApiId=api_id, IntegrationId=integration)["RequestParameters"]
    assert params == {"append:header.a": "1", "append:header.c": "3"}


def test_delete_cors_configuration(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api_id = http_api(gw, CorsConfiguration={"AllowOrigins": ["https://example.com"]})

    gw.delete_cors_configuration(ApiId=api_id)

    assert "CorsConfiguration" not in gw.get_api(ApiId=api_id)
    not_found(lambda: gw.delete_cors_configuration(ApiId="nope"))


# --- Lambda ------------------------------------------------------------------------------------

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
LOGS_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _function(aws: Clients, name: str = "notes") -> str:
    role = aws("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    return aws("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler", Code={"ZipFile": _zip()}
    )["FunctionArn"]


def test_add_permission_with_an_existing_statement_id_conflicts(aws: Clients) -> None:
    lam = aws("lambda")
    _function(aws)
    permission = {
        "FunctionName": "notes",
        "StatementId": "apigw",
        "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:abc123/*",
    }
    lam.add_permission(**permission)

    with pytest.raises(ClientError) as exc_info:
        lam.add_permission(**permission)

    assert error(exc_info) == ("ResourceConflictException", 409)
    assert "apigw" in exc_info.value.response["Error"]["Message"]
    statements = json.loads(lam.get_policy(FunctionName="notes")["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["apigw"]

    # After removing it, the same id can be added again.
    lam.remove_permission(FunctionName="notes", StatementId="apigw")
    lam.add_permission(**permission)
    statements = json.loads(lam.get_policy(FunctionName="notes")["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["apigw"]


# --- The rest of what the provisioner calls works unpatched: a smoke test as a tripwire for moto
# upgrades (one round trip per service, both modes).


def test_provisioner_calls_round_trip(aws: Clients) -> None:
    iam, lam, logs, sts = aws("iam"), aws("lambda"), aws("logs"), aws("sts")
    assert sts.get_caller_identity()["Account"] == ACCOUNT

    iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST, Tags=[{"Key": "app", "Value": "notes"}])
    iam.put_role_policy(RoleName="r", PolicyName="p", PolicyDocument=LOGS_POLICY)
    iam.update_assume_role_policy(RoleName="r", PolicyDocument=TRUST)
    iam.tag_role(RoleName="r", Tags=[{"Key": "stage", "Value": "dev"}])
    assert iam.list_role_policies(RoleName="r")["PolicyNames"] == ["p"]
    assert {t["Key"] for t in iam.list_role_tags(RoleName="r")["Tags"]} == {"app", "stage"}
    details = iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
    assert [d["RolePolicyList"][0]["PolicyName"] for d in details if d["RoleName"] == "r"] == ["p"]
    iam.delete_role_policy(RoleName="r", PolicyName="p")
    iam.delete_role(RoleName="r")
    with pytest.raises(ClientError) as exc_info:
        iam.get_role(RoleName="r")
    assert error(exc_info)[0] == "NoSuchEntity"

    arn = _function(aws)
    lam.update_function_code(FunctionName="notes", ZipFile=_zip())
    lam.update_function_configuration(FunctionName="notes", Timeout=10, Environment={"Variables": {"A": "1"}})
    lam.tag_resource(Resource=arn, Tags={"app": "notes"})
    assert lam.get_function(FunctionName="notes")["Configuration"]["Timeout"] == 10
    assert lam.list_tags(Resource=arn)["Tags"] == {"app": "notes"}
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["notes"]
    lam.delete_function(FunctionName="notes")
    with pytest.raises(ClientError) as exc_info:
        lam.get_function(FunctionName="notes")
    assert error(exc_info) == ("ResourceNotFoundException", 404)

    logs.create_log_group(logGroupName="/aws/lambda/notes", tags={"app": "notes"})
    logs.put_retention_policy(logGroupName="/aws/lambda/notes", retentionInDays=7)
    group_arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/notes"
    logs.tag_resource(resourceArn=group_arn, tags={"stage": "dev"})
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert group["retentionInDays"] == 7
    assert logs.list_tags_for_resource(resourceArn=group_arn)["tags"] == {"app": "notes", "stage": "dev"}
    logs.delete_retention_policy(logGroupName="/aws/lambda/notes")
    logs.delete_log_group(logGroupName="/aws/lambda/notes")
    with pytest.raises(ClientError) as exc_info:
        logs.delete_log_group(logGroupName="/aws/lambda/notes")
    assert error(exc_info)[0] == "ResourceNotFoundException"

    gw = aws("apigatewayv2")
    api_id = http_api(gw, Tags={"app": "notes"})
    api_arn = f"arn:aws:apigateway:us-east-1::/apis/{api_id}"
    gw.tag_resource(ResourceArn=api_arn, Tags={"stage": "dev"})
    assert gw.get_tags(ResourceArn=api_arn)["Tags"] == {"app": "notes", "stage": "dev"}
    assert [a["ApiId"] for a in gw.get_apis()["Items"]] == [api_id]


def test_describe_log_groups_by_identifiers(clients: Any) -> None:
    logs = clients("logs")
    for i in range(60):
        logs.create_log_group(logGroupName=f"/aws/lambda/ids-{i:02d}")
    wanted = [f"/aws/lambda/ids-{i:02d}" for i in range(0, 60, 2)][:25]
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/ids-59:*"
    got = logs.describe_log_groups(logGroupIdentifiers=[*wanted, arn, "/aws/lambda/missing"])
    assert [g["logGroupName"] for g in got["logGroups"]] == sorted([*wanted, "/aws/lambda/ids-59"])
    assert "nextToken" not in got
    with pytest.raises(ClientError) as exc:
        logs.describe_log_groups(logGroupIdentifiers=wanted, logGroupNamePrefix="/aws")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    # without identifiers: moto's listing, unchanged
    assert len(logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/ids-")["logGroups"]) == 50


def test_list_functions_pages_at_most_50_like_aws(clients: Any) -> None:
    lam = clients("lambda")
    role = clients("iam").create_role(RoleName="pages-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    names = [f"pages-{i:03d}" for i in range(120)]
    for name in reversed(names):
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="index.handler",
                            Code={"ZipFile": _zip()})
    first = lam.list_functions(MaxItems=1000)  # AWS: "a maximum of 50 items in each response"
    assert [f["FunctionName"] for f in first["Functions"]] == names[:50]
    small = lam.list_functions(MaxItems=7, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in small["Functions"]] == names[50:57]
    listed = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate() for f in page["Functions"]]
    assert listed == names
    pages = list(lam.get_paginator("list_functions").paginate())
    assert [len(p["Functions"]) for p in pages] == [50, 50, 20] and "NextMarker" not in pages[-1]
    with pytest.raises(ClientError) as exc:
        lam.list_functions(Marker="not a marker!")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValueException"
