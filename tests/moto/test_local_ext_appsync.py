"""Tests of sstdirect.local.ext's AppSync additions, through boto3, in both modes - in-process
``moto.mock_aws`` after ``install()``, and against a ``LocalCloud`` server."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sstdirect.local import LocalCloud, install

Clients = Callable[..., Any]
NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1})
ROLE = "arn:aws:iam::123456789012:role/ds"
FN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:fn"
SDL = b"type Note { id: ID! }\ntype Query { listNotes: [Note] getNote(id: ID!): Note }\n" \
      b"type Mutation { createNote(id: ID!): Note }\n"
DAY = 86400


@pytest.fixture
def aws(clients: Clients) -> Clients:
    """The shared dual-mode client factory (conftest ``clients``), under this module's name."""
    return clients


def error(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def make_api(appsync: Any, schema: bytes | None = SDL) -> str:
    api_id = appsync.create_graphql_api(name="api", authenticationType="API_KEY")["graphqlApi"]["apiId"]
    if schema is not None:
        appsync.start_schema_creation(apiId=api_id, definition=schema)
        assert appsync.get_schema_creation_status(apiId=api_id)["status"] == "SUCCESS"
    return api_id


def lambda_source(appsync: Any, api_id: str, name: str = "notes") -> dict[str, Any]:
    return appsync.create_data_source(apiId=api_id, name=name, type="AWS_LAMBDA", serviceRoleArn=ROLE,
                                      lambdaConfig={"lambdaFunctionArn": FN_ARN})["dataSource"]


# --- data sources ---------------------------------------------------------------------------------


def test_data_source_round_trip(aws: Clients) -> None:
    appsync = aws("appsync")
    api_id = make_api(appsync, schema=None)
    api_arn = appsync.get_graphql_api(apiId=api_id)["graphqlApi"]["arn"]

    created = lambda_source(appsync, api_id)
    assert created == {"dataSourceArn": f"{api_arn}/datasources/notes", "name": "notes", "type": "AWS_LAMBDA",
                       "serviceRoleArn": ROLE, "lambdaConfig": {"lambdaFunctionArn": FN_ARN}}
    none = appsync.create_data_source(apiId=api_id, name="none", type="NONE", description="d")["dataSource"]
    assert none == {"dataSourceArn": f"{api_arn}/datasources/none", "name": "none", "type": "NONE",
                    "description": "d"}
    http = appsync.create_data_source(apiId=api_id, name="http", type="HTTP",
                                      httpConfig={"endpoint": "https://example.com"})["dataSource"]
    assert http["httpConfig"] == {"endpoint": "https://example.com"}
    table = appsync.create_data_source(apiId=api_id, name="table", type="AMAZON_DYNAMODB", serviceRoleArn=ROLE,
                                       dynamodbConfig={"tableName": "t", "awsRegion": "us-east-1"})["dataSource"]
    assert table["dynamodbConfig"] == {"tableName": "t", "awsRegion": "us-east-1"}

    assert appsync.get_data_source(apiId=api_id, name="notes")["dataSource"] == created
    names = [s["name"] for s in appsync.list_data_sources(apiId=api_id)["dataSources"]]
    assert names == ["notes", "none", "http", "table"]
    page = appsync.list_data_sources(apiId=api_id, maxResults=3)
    assert len(page["dataSources"]) == 3 and page["nextToken"]
    rest = appsync.list_data_sources(apiId=api_id, maxResults=3, nextToken=page["nextToken"])
    assert [s["name"] for s in rest["dataSources"]] == ["table"] and "nextToken" not in rest
    paginated = appsync.get_paginator("list_data_sources").paginate(apiId=api_id, PaginationConfig={"PageSize": 1})
    assert [s["name"] for p in paginated for s in p["dataSources"]] == names

    # an update replaces every field (the type may change)
    updated = appsync.update_data_source(apiId=api_id, name="notes", type="NONE")["dataSource"]
    assert updated == {"dataSourceArn": f"{api_arn}/datasources/notes", "name": "notes", "type": "NONE"}
    assert appsync.get_data_source(apiId=api_id, name="notes")["dataSource"] == updated

    response = appsync.delete_data_source(apiId=api_id, name="notes")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [s["name"] for s in appsync.list_data_sources(apiId=api_id)["dataSources"]] == ["none", "http", "table"]


def test_data_source_errors(aws: Clients) -> None:
    appsync = aws("appsync")
    api_id = make_api(appsync, schema=None)
    lambda_source(appsync, api_id)
    missing = ("NotFoundException", 404)
    assert error(lambda: appsync.get_data_source(apiId=api_id, name="nope"))[:2] == missing
    assert error(lambda: appsync.update_data_source(apiId=api_id, name="nope", type="NONE"))[:2] == missing
    assert error(lambda: appsync.delete_data_source(apiId=api_id, name="nope"))[:2] == missing
    for call in (lambda: appsync.list_data_sources(apiId="nope"),
                 lambda: appsync.create_data_source(apiId="nope", name="x", type="NONE"),
                 lambda: appsync.get_data_source(apiId="nope", name="notes")):
        code, status, message = error(call)
        assert (code, status) == missing and "GraphQL API nope not found" in message
    bad = ("BadRequestException", 400)
    assert error(lambda: lambda_source(appsync, api_id))[:2] == bad  # duplicate name
    assert error(lambda: appsync.create_data_source(apiId=api_id, name="bad-name", type="NONE"))[:2] == bad
    assert error(lambda: appsync.create_data_source(apiId=api_id, name="l", type="AWS_LAMBDA"))[:2] == bad
    assert error(lambda: appsync.update_data_source(apiId=api_id, name="notes", type="HTTP"))[:2] == bad
    assert appsync.get_data_source(apiId=api_id, name="notes")["dataSource"]["type"] == "AWS_LAMBDA"


# --- resolvers ------------------------------------------------------------------------------------


def test_resolver_round_trip(aws: Clients) -> None:
    appsync = aws("appsync")
    api_id = make_api(appsync)
    api_arn = appsync.get_graphql_api(apiId=api_id)["graphqlApi"]["arn"]
    lambda_source(appsync, api_id)
    appsync.create_data_source(apiId=api_id, name="none", type="NONE")

    direct = appsync.create_resolver(apiId=api_id, typeName="Query", fieldName="listNotes",
                                     dataSourceName="notes")["resolver"]
    assert direct == {"typeName": "Query", "fieldName": "listNotes", "dataSourceName": "notes",
                      "resolverArn": f"{api_arn}/types/Query/resolvers/listNotes", "kind": "UNIT"}
    vtl = appsync.create_resolver(apiId=api_id, typeName="Query", fieldName="getNote", dataSourceName="none",
                                  requestMappingTemplate='{"version": "2017-02-28"}',
                                  responseMappingTemplate="$util.toJson($ctx.result)", kind="UNIT")["resolver"]
    assert vtl["requestMappingTemplate"] == '{"version": "2017-02-28"}'
    appsync.create_resolver(apiId=api_id, typeName="Mutation", fieldName="createNote", dataSourceName="notes")

    assert appsync.get_resolver(apiId=api_id, typeName="Query", fieldName="listNotes")["resolver"] == direct
    listed = appsync.list_resolvers(apiId=api_id, typeName="Query")["resolvers"]
    assert [r["fieldName"] for r in listed] == ["listNotes", "getNote"]
    assert [r["fieldName"] for r in appsync.list_resolvers(apiId=api_id, typeName="Mutation")["resolvers"]] == [
        "createNote"]
    assert appsync.list_resolvers(apiId=api_id, typeName="Note")["resolvers"] == []
    page = appsync.list_resolvers(apiId=api_id, typeName="Query", maxResults=1)
    assert len(page["resolvers"]) == 1 and page["nextToken"] == "1"

    updated = appsync.update_resolver(apiId=api_id, typeName="Query", fieldName="listNotes", dataSourceName="none",
                                      requestMappingTemplate="{}", responseMappingTemplate="[]")["resolver"]
    assert updated["dataSourceName"] == "none" and updated["responseMappingTemplate"] == "[]"
    # an update replaces the templates too: a direct Lambda resolver again
    again = appsync.update_resolver(apiId=api_id, typeName="Query", fieldName="listNotes",
                                    dataSourceName="notes")["resolver"]
    assert again == direct

    response = appsync.delete_resolver(apiId=api_id, typeName="Query", fieldName="listNotes")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [r["fieldName"] for r in appsync.list_resolvers(apiId=api_id, typeName="Query")["resolvers"]] == [
        "getNote"]

    # the type URL still reaches GetType (the resolver routes no longer collide with it)
    assert appsync.get_type(apiId=api_id, typeName="Query", format="SDL")["type"]["name"] == "Query"


def test_resolver_errors(aws: Clients) -> None:
    appsync = aws("appsync")
    api_id = make_api(appsync)
    lambda_source(appsync, api_id)
    appsync.create_resolver(apiId=api_id, typeName="Query", fieldName="listNotes", dataSourceName="notes")
    missing = ("NotFoundException", 404)
    for call in (lambda: appsync.get_resolver(apiId=api_id, typeName="Query", fieldName="getNote"),
                 lambda: appsync.update_resolver(apiId=api_id, typeName="Query", fieldName="getNote",
                                                 dataSourceName="notes"),
                 lambda: appsync.delete_resolver(apiId=api_id, typeName="Query", fieldName="getNote"),
                 lambda: appsync.list_resolvers(apiId="nope", typeName="Query"),
                 # a type the schema does not define, a data source that does not exist
                 lambda: appsync.create_resolver(apiId=api_id, typeName="Nope", fieldName="x", dataSourceName="notes"),
                 lambda: appsync.create_resolver(apiId=api_id, typeName="Query", fieldName="getNote",
                                                 dataSourceName="nope"),
                 lambda: appsync.get_type(apiId=api_id, typeName="Nope", format="SDL")):
        assert error(call)[:2] == missing
    code, status, message = error(lambda: appsync.create_resolver(
        apiId=api_id, typeName="Query", fieldName="listNotes", dataSourceName="notes"))
    assert (code, status, message) == ("BadRequestException", 400, "Only one resolver is allowed per field.")
    assert error(lambda: appsync.create_resolver(apiId=api_id, typeName="Query", fieldName="getNote"))[:2] == (
        "BadRequestException", 400)
    # an API without a schema has no types
    bare = make_api(appsync, schema=None)
    lambda_source(appsync, bare)
    assert error(lambda: appsync.create_resolver(apiId=bare, typeName="Query", fieldName="listNotes",
                                                 dataSourceName="notes"))[:2] == missing


# --- pipeline functions ---------------------------------------------------------------------------


def test_function_round_trip(aws: Clients) -> None:
    appsync = aws("appsync")
    api_id = make_api(appsync)
    api_arn = appsync.get_graphql_api(apiId=api_id)["graphqlApi"]["arn"]
    lambda_source(appsync, api_id)
    appsync.create_data_source(apiId=api_id, name="none", type="NONE")

    fn = appsync.create_function(apiId=api_id, name="load", dataSourceName="notes", functionVersion="2018-05-29",
                                 description="loads")["functionConfiguration"]
    assert re.fullmatch(r"[a-z0-9]{26}", fn["functionId"])
    assert fn == {"functionId": fn["functionId"], "functionArn": f"{api_arn}/functions/{fn['functionId']}",
                  "name": "load", "description": "loads", "dataSourceName": "notes", "functionVersion": "2018-05-29"}
    assert appsync.get_function(apiId=api_id, functionId=fn["functionId"])["functionConfiguration"] == fn
    other = appsync.create_function(apiId=api_id, name="save", dataSourceName="none", functionVersion="2018-05-29",
                                    requestMappingTemplate="{}", responseMappingTemplate="$ctx.result")
    other_id = other["functionConfiguration"]["functionId"]
    assert [f["name"] for f in appsync.list_functions(apiId=api_id)["functions"]] == ["load", "save"]

    # a pipeline resolver runs existing functions
    pipeline = appsync.create_resolver(apiId=api_id, typeName="Query", fieldName="getNote", kind="PIPELINE",
                                       pipelineConfig={"functions": [fn["functionId"], other_id]},
                                       requestMappingTemplate="{}", responseMappingTemplate="$ctx.result")
    assert pipeline["resolver"]["pipelineConfig"] == {"functions": [fn["functionId"], other_id]}
    assert error(lambda: appsync.create_resolver(
        apiId=api_id, typeName="Query", fieldName="listNotes", kind="PIPELINE",
        pipelineConfig={"functions": ["nope"]}))[:2] == ("NotFoundException", 404)

    updated = appsync.update_function(apiId=api_id, functionId=fn["functionId"], name="load2",
                                      dataSourceName="none", functionVersion="2018-05-29")["functionConfiguration"]
    assert updated["name"] == "load2" and updated["dataSourceName"] == "none" and "description" not in updated
    appsync.delete_function(apiId=api_id, functionId=fn["functionId"])
    assert [f["name"] for f in appsync.list_functions(apiId=api_id)["functions"]] == ["save"]

    missing = ("NotFoundException", 404)
    for call in (lambda: appsync.get_function(apiId=api_id, functionId=fn["functionId"]),
                 lambda: appsync.update_function(apiId=api_id, functionId="nope", name="x", dataSourceName="none"),
                 lambda: appsync.delete_function(apiId=api_id, functionId="nope"),
                 lambda: appsync.list_functions(apiId="nope"),
                 lambda: appsync.create_function(apiId=api_id, name="x", dataSourceName="nope")):
        assert error(call)[:2] == missing


# --- the GraphQL API's children go with it -----------------------------------------------------------


def test_delete_graphql_api_drops_its_children(aws: Clients) -> None:
    appsync = aws("appsync")
    api_id = make_api(appsync)
    lambda_source(appsync, api_id)
    appsync.create_resolver(apiId=api_id, typeName="Query", fieldName="listNotes", dataSourceName="notes")
    appsync.delete_graphql_api(apiId=api_id)
    assert error(lambda: appsync.delete_graphql_api(apiId=api_id))[:2] == ("NotFoundException", 404)
    assert error(lambda: appsync.list_data_sources(apiId=api_id))[:2] == ("NotFoundException", 404)
    fresh = make_api(appsync)
    assert appsync.list_data_sources(apiId=fresh)["dataSources"] == []
    assert appsync.list_resolvers(apiId=fresh, typeName="Query")["resolvers"] == []


def test_state_lives_on_moto_graphql_api() -> None:
    """In-process: the additions are attributes of moto's GraphqlAPI, so reset drops them."""
    import boto3
    from moto import mock_aws
    from moto.appsync.models import appsync_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    install()
    with mock_aws():
        appsync = boto3.client("appsync", region_name="us-east-1", aws_access_key_id="testing",
                               aws_secret_access_key="testing", config=NO_RETRY)
        api_id = make_api(appsync)
        lambda_source(appsync, api_id)
        api = appsync_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].graphql_apis[api_id]
        assert list(api.__dict__["_ext_data_sources"]) == ["notes"]
        appsync_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].reset()
        assert appsync.list_graphql_apis()["graphqlApis"] == []


def test_reset_clears_additions_in_server_mode(local_cloud: LocalCloud) -> None:
    local_cloud.reset()
    appsync = local_cloud.client("appsync", config=NO_RETRY)
    api_id = make_api(appsync)
    lambda_source(appsync, api_id)
    local_cloud.reset()
    assert appsync.list_graphql_apis()["graphqlApis"] == []
    assert error(lambda: appsync.get_data_source(apiId=api_id, name="notes"))[:2] == ("NotFoundException", 404)


# --- what moto had and got wrong ------------------------------------------------------------------


def test_graphql_api_uris_and_update_replaces_auth(aws: Clients) -> None:
    appsync = aws("appsync")
    api = appsync.create_graphql_api(name="api", authenticationType="API_KEY",
                                      additionalAuthenticationProviders=[{"authenticationType": "AWS_IAM"}])
    api = api["graphqlApi"]
    uris = api["uris"]
    assert re.fullmatch(r"https://[a-z0-9]{26}\.appsync-api\.us-east-1\.amazonaws\.com/graphql", uris["GRAPHQL"])
    assert uris["REALTIME"] == uris["GRAPHQL"].replace("https://", "wss://").replace("appsync-api",
                                                                                     "appsync-realtime-api")
    assert appsync.get_graphql_api(apiId=api["apiId"])["graphqlApi"]["uris"] == uris
    assert appsync.list_graphql_apis()["graphqlApis"][0]["uris"] == uris

    updated = appsync.update_graphql_api(apiId=api["apiId"], name="api2", authenticationType="AWS_IAM")
    assert updated["graphqlApi"]["uris"] == uris and updated["graphqlApi"]["name"] == "api2"
    remote = appsync.get_graphql_api(apiId=api["apiId"])["graphqlApi"]
    assert remote["authenticationType"] == "AWS_IAM" and not remote.get("additionalAuthenticationProviders")
    assert error(lambda: appsync.update_graphql_api(apiId="nope", name="x", authenticationType="API_KEY"))[:2] == (
        "NotFoundException", 404)


def test_schema_creation_status(aws: Clients) -> None:
    appsync = aws("appsync")
    api_id = make_api(appsync, schema=None)
    assert appsync.get_schema_creation_status(apiId=api_id)["status"] == "NOT_APPLICABLE"
    assert appsync.start_schema_creation(apiId=api_id, definition=SDL)["status"] == "PROCESSING"
    assert appsync.get_schema_creation_status(apiId=api_id)["status"] == "SUCCESS"
    appsync.start_schema_creation(apiId=api_id, definition=b"type Query {")
    failed = appsync.get_schema_creation_status(apiId=api_id)
    assert failed["status"] == "FAILED" and "Syntax Error" in failed["details"]
    for call in (lambda: appsync.start_schema_creation(apiId="nope", definition=SDL),
                 lambda: appsync.get_schema_creation_status(apiId="nope")):
        assert error(call)[:2] == ("NotFoundException", 404)


def test_introspection_schema_keeps_applied_directives_and_aws_scalars(aws: Clients) -> None:
    import json

    appsync = aws("appsync")
    sdl = (b"type Note @aws_api_key @aws_cognito_user_pools { id: ID! day: AWSDate secret: String @aws_lambda }\n"
           b"type Query { note: Note @aws_api_key }\n")
    api_id = make_api(appsync, schema=sdl)

    def read(fmt: str, directives: bool) -> str:
        return appsync.get_introspection_schema(apiId=api_id, format=fmt,
                                                includeDirectives=directives)["schema"].read().decode()

    full = read("SDL", True)
    assert "type Note @aws_api_key @aws_cognito_user_pools {" in full and "secret: String @aws_lambda" in full
    assert "note: Note @aws_api_key" in full
    assert "scalar AWSDate" in full and "directive @aws_lambda on FIELD_DEFINITION | OBJECT" in full
    plain = read("SDL", False)
    assert "day: AWSDate" in plain and "@aws_api_key" not in plain
    types = {t["name"] for t in json.loads(read("JSON", True))["__schema"]["types"]}
    assert {"Note", "Query", "AWSDate"} <= types
    assert error(lambda: read("XML", True))[:2] == ("BadRequestException", 400)


def test_api_keys(aws: Clients) -> None:
    appsync = aws("appsync")
    api_id = make_api(appsync, schema=None)
    now = int(time.time())

    key = appsync.create_api_key(apiId=api_id, description="main", expires=now + 365 * DAY - 60)["apiKey"]
    assert re.fullmatch(r"da2-[a-z0-9]{26}", key["id"])
    assert key["expires"] % 3600 == 0 and now + 364 * DAY < key["expires"] <= now + 365 * DAY
    assert key["deletes"] == key["expires"] + 60 * DAY and key["description"] == "main"
    default = appsync.create_api_key(apiId=api_id)["apiKey"]  # AWS's default: 7 days
    assert default["expires"] % 3600 == 0 and now + 7 * DAY - 3600 <= default["expires"] <= now + 7 * DAY
    assert {k["id"] for k in appsync.list_api_keys(apiId=api_id)["apiKeys"]} == {key["id"], default["id"]}

    out_of_bounds = "ApiKeyValidityOutOfBoundsException"
    assert error(lambda: appsync.create_api_key(apiId=api_id, expires=now + 366 * DAY))[0] == out_of_bounds
    assert error(lambda: appsync.create_api_key(apiId=api_id, expires=now + 3600))[0] == out_of_bounds
    assert error(lambda: appsync.update_api_key(apiId=api_id, id=key["id"], expires=now + 400 * DAY))[0] == (
        out_of_bounds)

    extended = appsync.update_api_key(apiId=api_id, id=default["id"], expires=now + 30 * DAY)["apiKey"]
    assert extended["id"] == default["id"] and now + 29 * DAY < extended["expires"] <= now + 30 * DAY

    assert appsync.delete_api_key(apiId=api_id, id=default["id"])["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [k["id"] for k in appsync.list_api_keys(apiId=api_id)["apiKeys"]] == [key["id"]]
    missing = ("NotFoundException", 404)
    for call in (lambda: appsync.delete_api_key(apiId=api_id, id=default["id"]),
                 lambda: appsync.update_api_key(apiId=api_id, id="da2-nope", expires=now + 30 * DAY),
                 lambda: appsync.create_api_key(apiId="nope"),
                 lambda: appsync.list_api_keys(apiId="nope"),
                 lambda: appsync.delete_api_key(apiId="nope", id=key["id"])):
        assert error(call)[:2] == missing


def test_events_api_keys_keep_motos_behaviour(aws: Clients) -> None:
    """CreateApiKey & co. serve AppSync Events APIs too; those requests still reach moto's handlers."""
    appsync = aws("appsync")
    mode = [{"authType": "API_KEY"}]
    api_id = appsync.create_api(name="events", eventConfig={
        "authProviders": mode, "connectionAuthModes": mode, "defaultPublishAuthModes": mode,
        "defaultSubscribeAuthModes": mode})["api"]["apiId"]
    key = appsync.create_api_key(apiId=api_id)["apiKey"]
    assert [k["id"] for k in appsync.list_api_keys(apiId=api_id)["apiKeys"]] == [key["id"]]
    appsync.delete_api_key(apiId=api_id, id=key["id"])
    assert appsync.list_api_keys(apiId=api_id)["apiKeys"] == []
