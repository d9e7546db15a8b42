"""Tests of sstdirect.local.ext.apigateway (the account's CloudWatch role), through boto3, in both
modes: in-process ``moto.mock_aws`` after ``install()``, and against a ``LocalCloud`` server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

Clients = Callable[..., Any]
ACCOUNT = "123456789012"
NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1})
POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
LOG_ARN = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/vendedlogs/apis/ws/dev"


@pytest.fixture
def aws(clients: Clients) -> Clients:
    """The shared dual-mode client factory (conftest ``clients``), under this module's name."""
    return clients


def error(exc_info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = exc_info.value.response
    return (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"],
            response["Error"].get("Message", ""))


def role(iam: Any, name: str, service: str = "apigateway.amazonaws.com") -> str:
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def set_role(gw: Any, arn: str) -> dict[str, Any]:
    return gw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])


# --- UpdateAccount: the role must exist and trust API Gateway ------------------------------------


def test_update_account_sets_a_role_api_gateway_can_assume(aws: Clients) -> None:
    gw, iam = aws("apigateway"), aws("iam")
    assert "cloudwatchRoleArn" not in gw.get_account()
    arn = role(iam, "apigw-logs")
    assert set_role(gw, arn)["cloudwatchRoleArn"] == arn
    assert gw.get_account()["cloudwatchRoleArn"] == arn


@pytest.mark.parametrize("case", ["missing", "wrong-trust", "other-account", "not-a-role"])
def test_update_account_refuses_a_role_api_gateway_cannot_assume(aws: Clients, case: str) -> None:
    gw, iam = aws("apigateway"), aws("iam")
    arn = {
        "missing": f"arn:aws:iam::{ACCOUNT}:role/nope",
        "wrong-trust": role(iam, "lambda-only", "lambda.amazonaws.com") if case == "wrong-trust" else "",
        "other-account": "arn:aws:iam::210987654321:role/apigw-logs",
        "not-a-role": f"arn:aws:iam::{ACCOUNT}:user/someone",
    }[case]
    if case == "other-account":
        role(iam, "apigw-logs")
    with pytest.raises(ClientError) as exc_info:
        set_role(gw, arn)
    assert error(exc_info) == ("BadRequestException", 400,
                               "The role ARN does not have required permissions set to API Gateway")
    assert "cloudwatchRoleArn" not in gw.get_account()


# --- WebSocket stages that log need the account's role ------------------------------------------


def test_websocket_stage_logging_needs_the_account_role(aws: Clients) -> None:
    gw, v1, iam = aws("apigatewayv2"), aws("apigateway"), aws("iam")
    ws = gw.create_api(Name="ws", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action")["ApiId"]
    logs = {"DestinationArn": LOG_ARN, "Format": "$context.requestId"}
    refused = ("BadRequestException", 400, "CloudWatch Logs role ARN must be set in account settings to enable logging")
    with pytest.raises(ClientError) as exc_info:
        gw.create_stage(ApiId=ws, StageName="dev", AccessLogSettings=logs)
    assert error(exc_info) == refused
    gw.create_stage(ApiId=ws, StageName="quiet")  # no logging: no role needed
    with pytest.raises(ClientError) as exc_info:
        gw.update_stage(ApiId=ws, StageName="quiet", AccessLogSettings=logs)
    assert error(exc_info) == refused
    assert "AccessLogSettings" not in gw.get_stage(ApiId=ws, StageName="quiet")
    assert [s["StageName"] for s in gw.get_stages(ApiId=ws)["Items"]] == ["quiet"]

    set_role(v1, role(iam, "apigw-logs"))
    stage = gw.create_stage(ApiId=ws, StageName="dev", AutoDeploy=True, AccessLogSettings=logs)
    assert stage["AccessLogSettings"] == logs
    assert gw.update_stage(ApiId=ws, StageName="quiet", AccessLogSettings=logs)["AccessLogSettings"] == logs


def test_http_stage_logging_needs_no_account_role(aws: Clients) -> None:
    gw = aws("apigatewayv2")
    api = gw.create_api(Name="http", ProtocolType="HTTP")["ApiId"]
    logs = {"DestinationArn": LOG_ARN, "Format": "$context.requestId"}
    assert gw.create_stage(ApiId=api, StageName="$default", AccessLogSettings=logs)["AccessLogSettings"] == logs


# --- IAM: the AWS managed policy AmazonAPIGatewayPushToCloudWatchLogs ----------------------------


def test_push_to_cloudwatch_logs_managed_policy_can_be_attached(aws: Clients) -> None:
    iam = aws("iam")
    role(iam, "apigw-logs")
    iam.attach_role_policy(RoleName="apigw-logs", PolicyArn=POLICY_ARN)
    attached = iam.list_attached_role_policies(RoleName="apigw-logs")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AmazonAPIGatewayPushToCloudWatchLogs", "PolicyArn": POLICY_ARN}]
    policy = iam.get_policy(PolicyArn=POLICY_ARN)["Policy"]
    assert policy["Path"] == "/service-role/" and policy["DefaultVersionId"] == "v1"
    version = iam.get_policy_version(PolicyArn=POLICY_ARN, VersionId="v1")["PolicyVersion"]
    document = version["Document"]
    if isinstance(document, str):
        document = json.loads(document)
    assert "logs:PutLogEvents" in document["Statement"][0]["Action"]
    iam.detach_role_policy(RoleName="apigw-logs", PolicyArn=POLICY_ARN)
    assert iam.list_attached_role_policies(RoleName="apigw-logs")["AttachedPolicies"] == []


def test_other_missing_managed_policies_stay_missing(aws: Clients) -> None:
    iam = aws("iam")
    role(iam, "r")
    with pytest.raises(ClientError) as exc_info:
        iam.attach_role_policy(RoleName="r", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicyAnywhere")
    assert error(exc_info)[:2] == ("NoSuchEntity", 404)
