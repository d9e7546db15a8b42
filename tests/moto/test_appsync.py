"""``AppSyncApi``: configuration checks (no AWS call) and reconcile round trips on in-process moto
(``mock_aws`` + sstdirect's extensions): what AWS holds after each deploy."""

from __future__ import annotations

import importlib.util
import json
import runpy
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from sstdirect import App, AppSyncApi, ConfigError, Function
from sstdirect.aws import is_mutating

SCHEMA = """\
type Note { id: ID! content: String! }
input NoteInput { id: ID! content: String! }
type Query { listNotes: [Note] getNoteById(noteId: String!): Note ping: String }
type Mutation { createNote(note: NoteInput!): Note deleteNote(noteId: String!): String }
"""
HANDLER = "def main(event, context):\n    return event['info']['fieldName']\n"
DAY = 86400
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "appsync"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "graphql").mkdir()
    (tmp_path / "graphql" / "schema.graphql").write_text(SCHEMA)
    (tmp_path / "graphql" / "create.req.vtl").write_text(
        '{"version": "2018-05-29", "payload": $util.toJson($ctx.args)}')
    (tmp_path / "src").mkdir()
    for name in ("notes", "other", "ping"):
        (tmp_path / "src" / f"{name}.py").write_text(HANDLER)
    return tmp_path


RESOLVERS: dict[str, Any] = {
    "Query listNotes": "notesDS",
    "Query getNoteById": "notesDS",
    "Mutation createNote": {"data_source": "none",
                            "request_mapping": {"file": "graphql/create.req.vtl"},
                            "response_mapping": {"inline": "$util.toJson($ctx.result)"}},
    "Query ping": "src/ping.main",
}


def notes_app(session: boto3.Session, root: Path, **options: Any) -> tuple[App, AppSyncApi]:
    app = App("notes", stage="dev", session=session, root=root)
    options.setdefault("schema", "graphql/schema.graphql")
    options.setdefault("data_sources", {"notesDS": "src/notes.main", "none": {"type": "none"},
                                        "http": {"type": "http", "endpoint": "https://example.com"}})
    options.setdefault("resolvers", RESOLVERS)
    return app, AppSyncApi(app, "GraphqlApi", **options)


def writes(calls: Any) -> dict[str, int]:
    return {k: v for k, v in calls.items() if is_mutating(k)}


def resolvers_of(client: Any, api_id: str) -> dict[str, dict[str, Any]]:
    out = {}
    for type_name in ("Query", "Mutation"):
        for r in client.list_resolvers(apiId=api_id, typeName=type_name)["resolvers"]:
            out[f"{type_name} {r['fieldName']}"] = r
    return out


def role_policy(iam: Any, role_arn: str) -> tuple[dict[str, Any], dict[str, Any]]:
    name = role_arn.rsplit("/", 1)[-1]
    trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    policy = iam.get_role_policy(RoleName=name, PolicyName="sstdirect")["PolicyDocument"]
    return trust, policy


# --- deploy --------------------------------------------------------------------------------------


def test_deploy_creates_api_schema_data_sources_resolvers_and_key(aws: boto3.Session, root: Path) -> None:
    app, api = notes_app(aws, root, data_sources={
        "notesDS": "src/notes.main", "none": {"type": "none"},
        "http": {"type": "http", "endpoint": "https://example.com"},
        "table": {"type": "dynamodb", "table": "notes-table"}})
    started = time.time()
    result = app.deploy()
    appsync, iam, lam = aws.client("appsync"), aws.client("iam"), aws.client("lambda")

    (remote,) = appsync.list_graphql_apis()["graphqlApis"]
    api_id = remote["apiId"]
    assert remote["name"] == "dev-notes-GraphqlApi" and remote["authenticationType"] == "API_KEY"
    assert remote["tags"] == {"sstdirect:app": "notes", "sstdirect:stage": "dev", "sstdirect:id": "GraphqlApi/api"}
    assert not remote.get("additionalAuthenticationProviders")
    assert result.outputs["GraphqlApi"] == {"url": remote["uris"]["GRAPHQL"], "id": api_id, "arn": remote["arn"]}
    assert api.id == api_id and api.url == remote["uris"]["GRAPHQL"] and api.arn == remote["arn"]
    assert api.url.endswith(".appsync-api.us-east-1.amazonaws.com/graphql")

    assert appsync.get_schema_creation_status(apiId=api_id)["status"] in ("SUCCESS", "ACTIVE")
    sdl = appsync.get_introspection_schema(apiId=api_id, format="SDL")["schema"].read().decode()
    assert "listNotes" in sdl and "createNote" in sdl

    sources = {s["name"]: s for s in appsync.list_data_sources(apiId=api_id)["dataSources"]}
    assert set(sources) == {"notesDS", "none", "http", "table", "LambdaDS_Query_ping"}
    assert sources["none"]["type"] == "NONE" and "serviceRoleArn" not in sources["none"]
    assert sources["http"]["type"] == "HTTP" and sources["http"]["httpConfig"] == {"endpoint": "https://example.com"}
    for name, handler in (("notesDS", "notesDS"), ("LambdaDS_Query_ping", "LambdaDS_Query_ping")):
        source = sources[name]
        fn_arn = lam.get_function(FunctionName=api.get_function(handler).function_name)["Configuration"][
            "FunctionArn"]
        assert source["type"] == "AWS_LAMBDA" and source["lambdaConfig"] == {"lambdaFunctionArn": fn_arn}
        trust, policy = role_policy(iam, source["serviceRoleArn"])
        assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "appsync.amazonaws.com"},
                                       "Action": "sts:AssumeRole"}]
        assert policy["Statement"] == [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": fn_arn}]
    assert sources["notesDS"]["serviceRoleArn"] != sources["LambdaDS_Query_ping"]["serviceRoleArn"]
    table = sources["table"]
    assert table["type"] == "AMAZON_DYNAMODB"
    assert table["dynamodbConfig"] == {"tableName": "notes-table", "awsRegion": "us-east-1"}
    _, policy = role_policy(iam, table["serviceRoleArn"])
    table_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/notes-table"
    (statement,) = policy["Statement"]
    assert statement["Resource"] == [table_arn, f"{table_arn}/index/*"] and "dynamodb:PutItem" in statement["Action"]

    resolvers = resolvers_of(appsync, api_id)
    assert set(resolvers) == {"Query listNotes", "Query getNoteById", "Mutation createNote", "Query ping"}
    direct = resolvers["Query listNotes"]
    assert direct["dataSourceName"] == "notesDS" and direct["kind"] == "UNIT"
    assert "requestMappingTemplate" not in direct and "responseMappingTemplate" not in direct
    assert resolvers["Query ping"]["dataSourceName"] == "LambdaDS_Query_ping"
    create = resolvers["Mutation createNote"]
    assert create["dataSourceName"] == "none"
    assert create["requestMappingTemplate"] == (root / "graphql" / "create.req.vtl").read_text()
    assert create["responseMappingTemplate"] == "$util.toJson($ctx.result)"

    (key,) = appsync.list_api_keys(apiId=api_id)["apiKeys"]
    assert started + 364 * DAY < key["expires"] <= started + 365 * DAY
    assert api.api_key == key["id"]
    lockfile = app.state_path.read_text()
    assert key["id"] not in lockfile and "api_key" not in result.outputs["GraphqlApi"]
    assert key["id"] not in json.dumps(app.outputs)


def test_noop_redeploy_makes_no_writes(aws: boto3.Session, root: Path) -> None:
    app, _ = notes_app(aws, root)
    app.deploy()
    again, _ = notes_app(aws, root)
    result = again.deploy()
    assert result.changes == [] and writes(result.api_calls) == {}
    # refresh is batched: one list per API (and per type for resolvers)
    appsync_reads = {k: v for k, v in result.api_calls.items() if k.startswith("appsync.")}
    assert appsync_reads == {"appsync.ListGraphqlApis": 1, "appsync.GetSchemaCreationStatus": 1,
                             "appsync.ListApiKeys": 1, "appsync.ListDataSources": 1, "appsync.ListResolvers": 2}
    assert again.diff().is_empty


def test_changing_one_resolvers_data_source_updates_it_alone(aws: boto3.Session, root: Path) -> None:
    app, _ = notes_app(aws, root)
    app.deploy()
    again, api = notes_app(aws, root, resolvers={**RESOLVERS, "Query getNoteById": {
        "data_source": "none", "request_mapping": {"inline": "{}"}, "response_mapping": {"inline": "null"}}})
    result = again.deploy()
    assert [(c.action.value, c.address) for c in result.changes] == [
        ("update", "GraphqlApi/resolver/Query.getNoteById")]
    assert writes(result.api_calls) == {"appsync.UpdateResolver": 1}
    remote = aws.client("appsync").get_resolver(apiId=api.id, typeName="Query", fieldName="getNoteById")["resolver"]
    assert remote["dataSourceName"] == "none" and remote["requestMappingTemplate"] == "{}"


def test_changing_the_schema_updates_it(aws: boto3.Session, root: Path) -> None:
    app, _ = notes_app(aws, root)
    app.deploy()
    (root / "graphql" / "schema.graphql").write_text(SCHEMA + "extend type Query { count: Int }\n")
    again, api = notes_app(aws, root)
    result = again.deploy()
    assert [(c.action.value, c.address, c.changed) for c in result.changes] == [
        ("update", "GraphqlApi/schema", ("sha256",))]
    assert writes(result.api_calls) == {"appsync.StartSchemaCreation": 1}
    sdl = aws.client("appsync").get_introspection_schema(apiId=api.id, format="SDL")["schema"].read().decode()
    assert "count: Int" in sdl
    assert "schema" not in json.dumps(json.loads(again.state_path.read_text())["resources"]["GraphqlApi/schema"][
        "props"]).replace('"sha256"', "")  # the SDL itself is never recorded


def test_removing_a_resolver_and_a_data_source_deletes_them_resolvers_first(aws: boto3.Session, root: Path) -> None:
    app, _ = notes_app(aws, root)
    app.deploy()
    events: list[tuple[str, str]] = []
    resolvers = {k: v for k, v in RESOLVERS.items() if k not in ("Query ping", "Mutation createNote")}
    again, api = notes_app(aws, root, resolvers=resolvers, data_sources={"notesDS": "src/notes.main"})
    result = again.deploy(on_event=lambda kind, change, _: events.append((kind, change.address)))
    deleted = {c.address for c in result.changes if c.action.value == "delete"}
    assert {"GraphqlApi/resolver/Query.ping", "GraphqlApi/resolver/Mutation.createNote",
            "GraphqlApi/datasource/none", "GraphqlApi/datasource/http", "GraphqlApi/datasource/LambdaDS_Query_ping",
            "GraphqlApi/datasource/LambdaDS_Query_ping/role",
            "GraphqlApi-LambdaDS_Query_ping/function"} <= deleted
    done = [address for kind, address in events if kind == "done"]
    assert done.index("GraphqlApi/resolver/Mutation.createNote") < done.index("GraphqlApi/datasource/none")
    assert done.index("GraphqlApi/resolver/Query.ping") < done.index("GraphqlApi/datasource/LambdaDS_Query_ping")
    appsync = aws.client("appsync")
    assert set(resolvers_of(appsync, api.id)) == {"Query listNotes", "Query getNoteById"}
    assert [s["name"] for s in appsync.list_data_sources(apiId=api.id)["dataSources"]] == ["notesDS"]
    assert again.diff().is_empty


def test_remove_leaves_nothing(aws: boto3.Session, root: Path) -> None:
    app, _ = notes_app(aws, root)
    app.deploy()
    app.remove()
    assert aws.client("appsync").list_graphql_apis()["graphqlApis"] == []
    assert aws.client("lambda").list_functions()["Functions"] == []
    assert aws.client("iam").list_roles()["Roles"] == []
    assert not app.state_path.exists()


# --- the API key ---------------------------------------------------------------------------------


def test_a_key_about_to_expire_is_replaced(aws: boto3.Session, root: Path) -> None:
    app, api = notes_app(aws, root)
    app.deploy()
    appsync = aws.client("appsync")
    old = api.api_key
    appsync.update_api_key(apiId=api.id, id=old, expires=int(time.time()) + 3 * DAY)  # within the 7-day window
    again, api = notes_app(aws, root)
    result = again.deploy()
    assert [(c.action.value, c.address, c.changed) for c in result.changes] == [
        ("replace", "GraphqlApi/api-key", ("expired",))]
    assert writes(result.api_calls) == {"appsync.CreateApiKey": 1, "appsync.DeleteApiKey": 1}
    (key,) = appsync.list_api_keys(apiId=api.id)["apiKeys"]
    assert key["id"] != old and key["id"] == api.api_key and key["expires"] > time.time() + 364 * DAY
    assert key["id"] not in again.state_path.read_text() and old not in again.state_path.read_text()


def test_an_expired_or_missing_key_is_replaced(aws: boto3.Session, root: Path) -> None:
    from moto.appsync.models import appsync_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    app, api = notes_app(aws, root)
    app.deploy()
    appsync = aws.client("appsync")
    backend = appsync_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    old = api.api_key
    backend.graphql_apis[api.id].api_keys[old].expires = datetime(2020, 1, 1)  # AWS cannot be told this
    again, api = notes_app(aws, root)
    assert [c.action.value for c in again.diff().changes] == ["replace"]
    again.deploy()
    (key,) = appsync.list_api_keys(apiId=api.id)["apiKeys"]
    assert key["id"] != old

    appsync.delete_api_key(apiId=api.id, id=key["id"])
    third, api = notes_app(aws, root)
    result = third.deploy()
    assert [(c.action.value, c.address) for c in result.changes] == [("create", "GraphqlApi/api-key")]
    (fresh,) = appsync.list_api_keys(apiId=api.id)["apiKeys"]
    assert fresh["id"] not in (old, key["id"]) and api.api_key == fresh["id"]


def test_changing_the_key_lifetime_extends_it_in_place(aws: boto3.Session, root: Path) -> None:
    app, api = notes_app(aws, root, authorization={"default": "api_key", "api_key_expires_days": 30})
    app.deploy()
    appsync = aws.client("appsync")
    (key,) = appsync.list_api_keys(apiId=api.id)["apiKeys"]
    assert time.time() + 29 * DAY < key["expires"] <= time.time() + 30 * DAY
    again, api = notes_app(aws, root, authorization={"api_key_expires_days": 90})
    result = again.deploy()
    assert writes(result.api_calls) == {"appsync.UpdateApiKey": 1}
    (same,) = appsync.list_api_keys(apiId=api.id)["apiKeys"]
    assert same["id"] == key["id"] and same["expires"] > time.time() + 89 * DAY


# --- authorization -------------------------------------------------------------------------------


def test_user_pool_default_with_additional_modes(aws: boto3.Session, root: Path) -> None:
    app, api = notes_app(aws, root, authorization={
        "default": "user_pool", "user_pool": {"id": "us-east-1_pool"}, "additional": ["api_key", "iam", "oidc"],
        "oidc": {"issuer": "https://issuer.example.com", "client_id": "abc"}})
    app.deploy()
    remote = aws.client("appsync").get_graphql_api(apiId=api.id)["graphqlApi"]
    assert remote["authenticationType"] == "AMAZON_COGNITO_USER_POOLS"
    assert remote["userPoolConfig"] == {"userPoolId": "us-east-1_pool", "awsRegion": "us-east-1",
                                        "defaultAction": "ALLOW"}
    assert remote["additionalAuthenticationProviders"] == [
        {"authenticationType": "API_KEY"}, {"authenticationType": "AWS_IAM"},
        {"authenticationType": "OPENID_CONNECT",
         "openIDConnectConfig": {"issuer": "https://issuer.example.com", "clientId": "abc", "iatTTL": 0,
                                 "authTTL": 0}}]
    assert len(aws.client("appsync").list_api_keys(apiId=api.id)["apiKeys"]) == 1
    again, _ = notes_app(aws, root, authorization={
        "default": "user_pool", "user_pool": {"id": "us-east-1_pool"}, "additional": ["api_key", "iam", "oidc"],
        "oidc": {"issuer": "https://issuer.example.com", "client_id": "abc"}})
    assert writes(again.deploy().api_calls) == {}

    # dropping the extra modes takes effect (UpdateGraphqlApi replaces them) and deletes the key
    third, api = notes_app(aws, root, authorization={"default": "iam"})
    result = third.deploy()
    assert writes(result.api_calls) == {"appsync.UpdateGraphqlApi": 1, "appsync.DeleteApiKey": 1}
    remote = aws.client("appsync").get_graphql_api(apiId=api.id)["graphqlApi"]
    assert remote["authenticationType"] == "AWS_IAM" and not remote.get("additionalAuthenticationProviders")
    assert not remote.get("userPoolConfig") and api.api_key is None


def test_lambda_authorizer(aws: boto3.Session, root: Path) -> None:
    app, api = notes_app(aws, root, authorization={"default": "lambda",
                                                   "lambda": {"function": "src/other.main"}})
    app.deploy()
    remote = aws.client("appsync").get_graphql_api(apiId=api.id)["graphqlApi"]
    fn_name = "dev-notes-GraphqlApi-Lambda-Authorizer"
    fn_arn = aws.client("lambda").get_function(FunctionName=fn_name)["Configuration"]["FunctionArn"]
    assert remote["authenticationType"] == "AWS_LAMBDA"
    assert remote["lambdaAuthorizerConfig"] == {"authorizerUri": fn_arn, "authorizerResultTtlInSeconds": 300}
    (statement,) = json.loads(aws.client("lambda").get_policy(FunctionName=fn_name)["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "appsync.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == api.arn
    assert aws.client("appsync").list_api_keys(apiId=api.id)["apiKeys"] == []


def test_lambda_authorizer_shorthand_and_additional(aws: boto3.Session, root: Path) -> None:
    app, api = notes_app(aws, root, authorization={"default": "api_key", "additional": ["lambda"],
                                                   "function": {"handler": "src/other.main", "timeout": 5}})
    app.deploy()
    remote = aws.client("appsync").get_graphql_api(apiId=api.id)["graphqlApi"]
    (extra,) = remote["additionalAuthenticationProviders"]
    assert extra["authenticationType"] == "AWS_LAMBDA"
    assert extra["lambdaAuthorizerConfig"]["authorizerUri"].endswith(":function:dev-notes-GraphqlApi-Lambda-Authorizer")
    assert api.get_function("Query listNotes") is api.get_function("notesDS")
    again, _ = notes_app(aws, root, authorization={"default": "api_key", "additional": ["lambda"],
                                                   "function": {"handler": "src/other.main", "timeout": 5}})
    assert writes(again.deploy().api_calls) == {}


def test_a_rejected_schema_is_a_deploy_error(aws: boto3.Session) -> None:
    """The construct checks the SDL first; the provider still reports AppSync's own rejection."""
    from sstdirect.aws import Aws
    from sstdirect.engine.values import freeze
    from sstdirect.errors import DeployError
    from sstdirect.resources.appsync import SchemaProvider

    api_id = aws.client("appsync").create_graphql_api(name="x", authenticationType="API_KEY")["graphqlApi"]["apiId"]
    with pytest.raises(DeployError, match=r"rejected: Syntax Error") as info:
        SchemaProvider().create(Aws(session=aws), freeze({"api_id": api_id, "sha256": "x", "definition": "type Q {"}))
    assert info.value.code == "SchemaCreationFailed"


def test_granting_the_api_to_a_function(aws: boto3.Session, root: Path) -> None:
    app, api = notes_app(aws, root)
    fn = Function(app, "Caller", handler="src/other.main", permissions=[api])
    app.deploy()
    policy = aws.client("iam").get_role_policy(RoleName="dev-notes-Caller", PolicyName="sstdirect")["PolicyDocument"]
    assert {"Effect": "Allow", "Action": "appsync:GraphQL", "Resource": f"{api.arn}/*"} in policy["Statement"]
    assert fn.function_name == "dev-notes-Caller"


# --- the schema ----------------------------------------------------------------------------------


def test_schema_files_are_merged_like_merge_type_defs(aws: boto3.Session, root: Path) -> None:
    (root / "graphql" / "a.graphql").write_text("type Note { id: ID! }\ntype Query { listNotes: [Note] }\n")
    (root / "graphql" / "b.graphql").write_text(
        "type Query { getNote(id: ID!): Note }\ntype Note { content: String }\n"
        "extend type Query { listNotes: [Note] count: Int }\n")
    app = App("notes", stage="dev", session=aws, root=root)
    api = AppSyncApi(app, "GraphqlApi", schema=["graphql/a.graphql", "graphql/b.graphql"],
                     data_sources={"ds": "src/notes.main"},
                     resolvers={"Query getNote": "ds", "Query count": "ds"})
    from graphql import build_schema

    schema = build_schema(api.schema_sdl)
    assert list(schema.query_type.fields) == ["listNotes", "getNote", "count"]
    assert list(schema.type_map["Note"].fields) == ["id", "content"]
    app.deploy()
    sdl = aws.client("appsync").get_introspection_schema(apiId=api.id, format="SDL")["schema"].read().decode()
    assert "getNote" in sdl and "count" in sdl


def test_conflicting_schema_files_are_a_config_error(root: Path) -> None:
    (root / "graphql" / "a.graphql").write_text("type Query { a: String }\n")
    (root / "graphql" / "b.graphql").write_text("type Query { a: Int }\n")
    app = App("notes", stage="dev", root=root)
    with pytest.raises(ConfigError, match=r"Query\.a is defined twice with different types"):
        AppSyncApi(app, "GraphqlApi", schema=["graphql/a.graphql", "graphql/b.graphql"])


# --- bad input: ConfigError before any AWS call --------------------------------------------------

BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"resolvers": {"Query listNotes": "missingDS"}}, r"unknown data source 'missingDS'"),
    ({"resolvers": {"Mutation createNote": {"data_source": "nope", "request_mapping": {"inline": "{}"}}}},
     r"unknown data source 'nope'"),
    ({"resolvers": {"listNotes": "notesDS"}}, r"resolver key 'listNotes' must be \"Type field\""),
    ({"resolvers": {"Query list Notes": "notesDS"}}, r"must be \"Type field\""),
    ({"resolvers": {"Subscription onNote": "notesDS"}}, r"the schema has no type 'Subscription'"),
    ({"resolvers": {"Query nope": "notesDS"}}, r"type Query has no field 'nope'"),
    ({"schema": "graphql/missing.graphql"}, r"schema file 'graphql/missing.graphql' does not exist"),
    ({"schema": None}, r"schema is required"),
    ({"schema": "graphql/bad.graphql"}, r"is not valid GraphQL SDL: Syntax Error"),
    ({"schema": "graphql/unknown-type.graphql"}, r"Unknown type 'Nope'"),
    ({"dataSources": {}}, r"use 'data_sources' \(snake_case\), not 'dataSources'"),
    ({"customDomain": "api.example.com"}, r"use 'custom_domain'"),
    ({"resolvers": {"Mutation createNote": {"dataSource": "none"}}}, r"use 'data_source'"),
    ({"resolvers": {"Mutation createNote": {"data_source": "none", "requestMapping": {"inline": "{}"}}}},
     r"use 'request_mapping'"),
    ({"resolvers": {"Mutation createNote": {"data_source": "none", "request_mapping": {"file": "nope.vtl"},
                                            "response_mapping": {"inline": "x"}}}},
     r"request_mapping file 'nope.vtl' does not exist"),
    ({"resolvers": {"Mutation createNote": "none"}}, r"needs request_mapping and response_mapping"),
    ({"data_sources": {"bad-name": {"type": "none"}}}, r"must match \[_A-Za-z\]"),
    ({"data_sources": {"x": {"type": "rds"}}}, r"type must be one of"),
    ({"data_sources": {"x": {"type": "http", "endpoint": "example.com"}}}, r"endpoint='https://...'"),
    ({"data_sources": {"x": {"type": "dynamodb", "tableName": "t"}}}, r"did you mean 'table'"),
    ({"data_sources": {"x": "src/missing.main"}}, r"missing"),
    ({"authorization": {"default": "cognito"}}, r"default must be one of"),
    ({"authorization": {"api_key_expires_days": 400}}, r"api_key_expires_days must be an int of days from 1 to 365"),
    ({"authorization": {"default": "user_pool"}}, r"mode 'user_pool' needs its settings"),
    ({"authorization": {"default": "user_pool", "userPool": {"id": "x"}}}, r"use 'user_pool'"),
    ({"authorization": {"default": "user_pool", "user_pool": {"pool_id": "x"}}}, r"unknown option 'pool_id'"),
    ({"authorization": {"default": "iam", "oidc": {"issuer": "https://x"}}}, r"'oidc' settings are given"),
    ({"authorization": {"default": "iam", "additional": ["iam"]}}, r"each mode may appear once"),
    ({"authorization": {"default": "lambda", "function": "src/other.main", "lambda": {}}}, r"give the Lambda"),
    ({"authorization": {"default": "lambda", "lambda": {"function": "src/missing.main"}}}, r"missing"),
    ({"defaults": {"functions": {}}}, r"did you mean 'function'"),
    ({"custom_domain": "api.example.com"}, r"custom_domain is not supported"),
]


@pytest.mark.parametrize(("options", "message"), BAD_INPUT, ids=[m for _, m in BAD_INPUT])
def test_bad_input_is_a_config_error_before_any_aws_call(
        root: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any], message: str) -> None:
    (root / "graphql" / "bad.graphql").write_text("type Query {")
    (root / "graphql" / "unknown-type.graphql").write_text("type Query { a: Nope }")
    import botocore.client

    def no_calls(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an AWS call was made")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", no_calls)
    with pytest.raises(ConfigError, match=message):
        app, _ = notes_app(boto3.Session(region_name="us-east-1"), root, **options)
        app.deploy()


# --- the example ---------------------------------------------------------------------------------


def test_example_handler() -> None:
    spec = importlib.util.spec_from_file_location("appsync_example_notes", EXAMPLE / "src" / "notes.py")
    assert spec and spec.loader
    notes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(notes)

    def call(field: str, **arguments: Any) -> Any:
        return notes.main({"arguments": arguments, "info": {"fieldName": field, "parentTypeName": "Query"}}, None)

    assert call("listNotes") == []
    assert call("createNote", note={"id": "n1", "content": "hello"}) == {"id": "n1", "content": "hello"}
    assert call("getNoteById", noteId="n1") == {"id": "n1", "content": "hello"}
    assert call("updateNote", note={"id": "n1", "content": "bye"}) == {"id": "n1", "content": "bye"}
    assert call("listNotes") == [{"id": "n1", "content": "bye"}]
    assert call("deleteNote", noteId="n1") == "n1" and call("getNoteById", noteId="n1") is None
    assert call("updateNote", note={"id": "n1"}) is None and call("deleteNote", noteId="n1") is None
    with pytest.raises(ValueError, match="no resolver"):
        call("nope")


def test_example_app_deploys(aws: boto3.Session, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "appsync")
    example = runpy.run_path(str(tmp_path / "appsync" / "app.py"))
    app, api = example["app"], example["api"]
    app.deploy()
    resolvers = resolvers_of(aws.client("appsync"), api.id)
    assert set(resolvers) == {"Query listNotes", "Query getNoteById", "Mutation createNote", "Mutation updateNote",
                              "Mutation deleteNote"}
    assert {r["dataSourceName"] for r in resolvers.values()} == {"notes"}
    assert api.api_key.startswith("da2-")
