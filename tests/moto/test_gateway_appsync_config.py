"""Reading a deployed AppSync API back (``appsync_config.read_appsync``) from an in-process moto."""

from __future__ import annotations

import time

import boto3

from sstdirect.local.gateway.appsync import Resolver, Step
from sstdirect.local.gateway.appsync_auth import AuthProvider
from sstdirect.local.gateway.appsync_config import read_api_keys, read_appsync

FN = "arn:aws:lambda:us-east-1:123456789012:function:{}"
SDL = b"""type Note @aws_api_key { id: ID! day: AWSDate }
type Query { note: Note @aws_api_key @aws_lambda  notes: [Note]  js: String  piped: String }
"""


def test_read_appsync(aws: boto3.Session) -> None:
    appsync = aws.client("appsync")
    api = appsync.create_graphql_api(
        name="api", authenticationType="API_KEY",
        additionalAuthenticationProviders=[
            {"authenticationType": "AWS_LAMBDA", "lambdaAuthorizerConfig": {
                "authorizerUri": FN.format("auth"), "identityValidationExpression": "^ok",
                "authorizerResultTtlInSeconds": 60}},
            {"authenticationType": "AMAZON_COGNITO_USER_POOLS",
             "userPoolConfig": {"userPoolId": "us-east-1_abc", "awsRegion": "us-east-1"}}])["graphqlApi"]
    api_id = api["apiId"]
    appsync.start_schema_creation(apiId=api_id, definition=SDL)
    appsync.create_data_source(apiId=api_id, name="fn", type="AWS_LAMBDA",
                               lambdaConfig={"lambdaFunctionArn": FN.format("notes")})
    appsync.create_data_source(apiId=api_id, name="none", type="NONE")
    appsync.create_data_source(apiId=api_id, name="table", type="AMAZON_DYNAMODB",
                               dynamodbConfig={"tableName": "notes", "awsRegion": "us-west-2"})
    appsync.create_resolver(apiId=api_id, typeName="Query", fieldName="note", dataSourceName="fn")
    appsync.create_resolver(apiId=api_id, typeName="Query", fieldName="notes", dataSourceName="table",
                            requestMappingTemplate="{}", responseMappingTemplate="$util.toJson($ctx.result)",
                            maxBatchSize=3)
    appsync.create_resolver(apiId=api_id, typeName="Query", fieldName="js", dataSourceName="none",
                            runtime={"name": "APPSYNC_JS", "runtimeVersion": "1.0.0"}, code="export function x() {}")
    fn_id = appsync.create_function(apiId=api_id, name="step", dataSourceName="none", functionVersion="2018-05-29",
                                    requestMappingTemplate='{"payload": 1}',
                                    responseMappingTemplate="$util.toJson($ctx.result)")["functionConfiguration"][
        "functionId"]
    appsync.create_resolver(apiId=api_id, typeName="Query", fieldName="piped", kind="PIPELINE",
                            pipelineConfig={"functions": [fn_id]}, requestMappingTemplate="{}",
                            responseMappingTemplate="$util.toJson($ctx.prev.result)")
    expires = int(time.time()) + 30 * 86400
    key = appsync.create_api_key(apiId=api_id, expires=expires)["apiKey"]

    config, providers, functions = read_appsync(appsync, api_id, "us-east-1")

    assert "type Note @aws_api_key" in config.sdl and "scalar AWSDate" in config.sdl
    assert config.host.endswith(".appsync-api.us-east-1.amazonaws.com") and config.account_id == "123456789012"
    assert functions == {"notes", "auth"}
    assert config.data_sources["fn"].function_name == "notes"
    assert (config.data_sources["table"].table, config.data_sources["table"].region) == ("notes", "us-west-2")
    assert config.resolvers[("Query", "note")] == Resolver("Query", "note", unit=Step("resolver Query.note", "fn"))
    notes = config.resolvers[("Query", "notes")].unit
    assert notes is not None and notes.max_batch_size == 3 and notes.request_template == "{}"
    assert config.resolvers[("Query", "js")].runtime == "APPSYNC_JS"
    piped = config.resolvers[("Query", "piped")]
    assert piped.kind == "PIPELINE" and piped.before_template == "{}"
    assert [(s.label, s.data_source, s.request_template) for s in piped.functions] == \
        [("function step of resolver Query.piped", "none", '{"payload": 1}')]
    assert providers == [
        AuthProvider("API_KEY"),
        AuthProvider("AWS_LAMBDA", authorizer_function="auth", identity_validation_expression="^ok", result_ttl_s=60),
        AuthProvider("AMAZON_COGNITO_USER_POOLS", user_pool={"userPoolId": "us-east-1_abc", "awsRegion": "us-east-1"}),
    ]
    assert read_api_keys(appsync, api_id) == {key["id"]: key["expires"]}
