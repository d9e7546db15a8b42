"""GraphQLApi on in-process moto (two routes, one function, one integration) and
``sstdirect.graphql.make_handler`` (GraphQL over HTTP for payload 2.0 events)."""

from __future__ import annotations

import base64
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema, GraphQLString

from sstdirect import App, ConfigError, Function, GraphQLApi
from sstdirect.aws import is_mutating
from sstdirect.graphql import make_handler

HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
ACCOUNT = "123456789012"
EXAMPLE_SRC = Path(__file__).resolve().parents[2] / "examples" / "graphql" / "src"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "server.py").write_text(HANDLER)
    return tmp_path


def writes(api_calls: Any) -> dict[str, int]:
    return {k: v for k, v in api_calls.items() if is_mutating(k)}


# --- GraphQLApi --------------------------------------------------------------------------------


def test_get_and_post_share_one_function_and_one_integration(aws: boto3.Session, root: Path) -> None:
    app = App("notes", stage="dev", session=aws, root=root)
    api = GraphQLApi(app, "Gql", server={"handler": "src/server.handler", "timeout": 15},
                     defaults={"function": {"environment": {"A": "1"}}})
    addresses = set(app.resources())
    assert {a for a in addresses if a.startswith("Gql/integration/")} == {"Gql/integration/server"}
    assert {a for a in addresses if a.startswith("Gql/route/")} == {"Gql/route/GET /", "Gql/route/POST /"}
    assert {a for a in addresses if a.startswith("Gql/permission/")} == {
        "Gql/permission/GET /", "Gql/permission/POST /"}
    assert isinstance(api.server_function, Function)
    assert api.get_function("GET /") is api.server_function is api.get_function("POST /")
    result = app.deploy()

    gw, lam = aws.client("apigatewayv2"), aws.client("lambda")
    (remote,) = gw.get_apis()["Items"]
    assert (remote["Name"], remote["ProtocolType"]) == ("dev-notes-Gql", "HTTP")
    assert remote["CorsConfiguration"]["AllowOrigins"] == ["*"]
    routes = {r["RouteKey"]: r for r in gw.get_routes(ApiId=api.id)["Items"]}
    assert set(routes) == {"GET /", "POST /"}  # no ANY: a CORS preflight never meets an authorizer
    (integration,) = gw.get_integrations(ApiId=api.id)["Items"]
    assert {r["Target"] for r in routes.values()} == {f"integrations/{integration['IntegrationId']}"}
    (fn,) = lam.list_functions()["Functions"]
    assert fn["FunctionName"] == "dev-notes-Gql-server" == api.server_function.function_name
    assert (fn["Timeout"], fn["Environment"]["Variables"]) == (15, {"A": "1"})
    assert (integration["IntegrationUri"], integration["PayloadFormatVersion"]) == (fn["FunctionArn"], "2.0")
    policy = json.loads(lam.get_policy(FunctionName=fn["FunctionName"])["Policy"])
    execution_arn = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api.id}"
    assert sorted(s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"]) == [
        f"{execution_arn}/*/GET/", f"{execution_arn}/*/POST/"]
    (stage,) = gw.get_stages(ApiId=api.id)["Items"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert result.outputs["Gql"]["url"] == f"https://{api.id}.execute-api.us-east-1.amazonaws.com"
    assert result.outputs["Gql"]["routes"] == ["GET /", "POST /"]

    again = app.deploy()
    assert again.changes == [] and writes(again.api_calls) == {}

    app.remove()
    assert gw.get_apis()["Items"] == [] and lam.list_functions()["Functions"] == []
    assert aws.client("iam").list_roles()["Roles"] == []
    assert aws.client("logs").describe_log_groups()["logGroups"] == []


def test_root_path_authorizers_and_function_server(aws: boto3.Session, root: Path) -> None:
    app = App("notes", stage="dev", session=aws, root=root)
    server = Function(app, "Server", handler="src/server.handler")
    jwt = {"type": "jwt", "jwt": {"issuer": "https://issuer.example.com", "audience": ["a"]}}
    api = GraphQLApi(app, "Gql", server=server, root_path="/graphql", authorizers={"auth0": jwt},
                     defaults={"authorizer": "auth0"}, cors=False, access_log=False)
    assert api.server_function is server
    app.deploy()
    gw = aws.client("apigatewayv2")
    routes = {r["RouteKey"]: r for r in gw.get_routes(ApiId=api.id)["Items"]}
    assert set(routes) == {"GET /graphql", "POST /graphql"}
    assert {r["AuthorizationType"] for r in routes.values()} == {"JWT"}
    assert len(gw.get_integrations(ApiId=api.id)["Items"]) == 1
    assert [f["FunctionName"] for f in aws.client("lambda").list_functions()["Functions"]] == ["dev-notes-Server"]
    assert app.deploy().changes == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"routes": {"GET /x": "src/server.handler"}}, "routes= cannot be used"),
    ({"rootPath": "/graphql"}, "root_path"),
    ({"accessLog": False}, "access_log"),
    ({"customDomain": "api.example.com"}, "custom_domain"),
    ({"server": None}, "server is required"),
    ({"root_path": "graphql"}, "root_path must be a path"),
    ({"root_path": "/{proxy+}"}, "root_path must be a path"),
    ({"server": "src/missing.handler"}, "missing"),
    ({"server": {"handler": "src/server.handler", "memorySize": 256}}, "memory_size"),
    ({"defaults": {"authorizer": "nope"}}, "unknown authorizer"),
])
def test_bad_input_is_a_config_error_before_any_aws_call(
        aws: boto3.Session, root: Path, calls: Any, kwargs: dict[str, Any], message: str) -> None:
    app = App("notes", stage="dev", session=aws, root=root)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        GraphQLApi(app, "Gql", **{"server": "src/server.handler", **kwargs})
    assert calls.ops == []


def test_add_routes_is_refused(aws: boto3.Session, root: Path) -> None:
    app = App("notes", stage="dev", session=aws, root=root)
    api = GraphQLApi(app, "Gql", server="src/server.handler")
    with pytest.raises(ConfigError, match="exactly the routes GET and POST"):
        api.add_routes({"GET /other": "src/server.handler"})


# --- make_handler -------------------------------------------------------------------------------

SDL = """
type Query {
  hello(name: String = "world"): String!
  fail: String
  sourceIp: String
  requestId: String
  add(a: Int!, b: Int!): Int!
  slow: String
}
type Mutation { setGreeting(text: String!): String! }
"""


@pytest.fixture
def handler() -> Any:
    state = {"greeting": "Hello"}

    def hello(obj: Any, info: Any, name: str) -> str:
        return f"{state['greeting']} {name}!"

    def fail(obj: Any, info: Any) -> str:
        raise ValueError("boom")

    def source_ip(obj: Any, info: Any) -> str:
        return info.context["event"]["requestContext"]["http"]["sourceIp"]

    def request_id(obj: Any, info: Any) -> str:
        return info.context["context"].aws_request_id

    def set_greeting(obj: Any, info: Any, text: str) -> str:
        state["greeting"] = text
        return text

    async def slow(obj: Any, info: Any) -> str:
        return "awaited"

    return make_handler(SDL, {
        "Query": {"hello": hello, "fail": fail, "sourceIp": source_ip, "requestId": request_id,
                  "add": lambda obj, info, a, b: a + b, "slow": slow},
        "Mutation": {"setGreeting": set_greeting},
    })


class Context:
    aws_request_id = "req-42"


def event(method: str, *, body: Any = None, params: dict[str, str] | None = None, b64: bool = False,
          content_type: str = "application/json") -> dict[str, Any]:
    raw_body = body if body is None or isinstance(body, str) else json.dumps(body)
    if b64 and raw_body is not None:
        raw_body = base64.b64encode(raw_body.encode()).decode()
    ev: dict[str, Any] = {
        "version": "2.0", "routeKey": f"{method} /", "rawPath": "/",
        "rawQueryString": urlencode(params or {}),
        "headers": {"content-type": content_type, "host": "abc.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {"http": {"method": method, "path": "/", "sourceIp": "203.0.113.9"},
                           "domainName": "abc.execute-api.us-east-1.amazonaws.com", "stage": "$default"},
        "isBase64Encoded": b64,
    }
    if params:
        ev["queryStringParameters"] = dict(params)
    if raw_body is not None:
        ev["body"] = raw_body
    return ev


def call(handler: Any, ev: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = handler(ev, Context())
    return response["statusCode"], json.loads(response["body"]), response["headers"]


def test_post_query_with_variables_and_operation_name(handler: Any) -> None:
    status, body, headers = call(handler, event("POST", body={"query": "{ hello }"}))
    assert (status, body, headers["content-type"]) == (200, {"data": {"hello": "Hello world!"}}, "application/json")
    query = "query A($n: String) { hello(name: $n) } query B($a: Int!) { add(a: $a, b: 2) }"
    assert call(handler, event("POST", body={"query": query, "variables": {"n": "Ada"}, "operationName": "A"}))[
        :2] == (200, {"data": {"hello": "Hello Ada!"}})
    assert call(handler, event("POST", body={"query": query, "variables": '{"a": 40}', "operationName": "B"}))[
        :2] == (200, {"data": {"add": 42}})


def test_get_query_with_json_encoded_variables(handler: Any) -> None:
    params = {"query": "query($n: String) { hello(name: $n) }", "variables": json.dumps({"n": "GET"})}
    assert call(handler, event("GET", params=params))[:2] == (200, {"data": {"hello": "Hello GET!"}})
    # from queryStringParameters alone (no rawQueryString)
    ev = event("GET", params={"query": "{ add(a: 1, b: 1) }"})
    ev["rawQueryString"] = ""
    assert call(handler, ev)[:2] == (200, {"data": {"add": 2}})


def test_mutations_run_over_post_only(handler: Any) -> None:
    mutation = 'mutation { setGreeting(text: "Hi") }'
    status, body, headers = call(handler, event("GET", params={"query": mutation}))
    assert status == 405 and headers["allow"] == "POST"
    assert body == {"errors": [{"message": "Can only perform a mutation operation from a POST request."}]}
    assert call(handler, event("POST", body={"query": "{ hello }"}))[1]["data"]["hello"] == "Hello world!"
    assert call(handler, event("POST", body={"query": mutation}))[:2] == (200, {"data": {"setGreeting": "Hi"}})
    assert call(handler, event("POST", body={"query": "{ hello }"}))[1]["data"]["hello"] == "Hi world!"
    status, body, headers = call(handler, event("PUT", body={"query": "{ hello }"}))
    assert (status, headers["allow"]) == (405, "GET, POST") and body["errors"][0]["message"].startswith("GraphQL only")


def test_resolver_errors_are_graphql_errors(handler: Any) -> None:
    status, body, _ = call(handler, event("POST", body={"query": "{ hello fail }"}))
    assert status == 200
    assert body["data"] == {"hello": "Hello world!", "fail": None}
    assert body["errors"] == [{"message": "boom", "locations": [{"line": 1, "column": 9}], "path": ["fail"]}]


@pytest.mark.parametrize(("ev", "message"), [
    (event("POST", body="{not json"), "The request body is not valid JSON"),
    (event("POST", body=""), "The request body is missing"),
    (event("POST", body=[1, 2]), "The request body must be a JSON object"),
    (event("POST", body={"variables": {}}), "Must provide a query string."),
    (event("POST", body={"query": "   "}), "Must provide a query string."),
    (event("GET"), "Must provide a query string."),
    (event("POST", body={"query": "{ hello }", "variables": "{bad"}), "Variables are invalid JSON"),
    (event("POST", body={"query": "{ hello }", "variables": [1]}), "Variables must be a JSON object."),
    (event("GET", params={"query": "{ hello }", "variables": "nope"}), "Variables are invalid JSON"),
    (event("POST", body={"query": "{ hello }", "operationName": 5}), "operationName must be a string."),
    (event("POST", body={"query": "query A { hello } query B { hello }"}), "Must provide operation name"),
    (event("POST", body={"query": "query A { hello }", "operationName": "Z"}), "Unknown operation named 'Z'."),
])
def test_unparseable_requests_are_400(handler: Any, ev: dict[str, Any], message: str) -> None:
    status, body, headers = call(handler, ev)
    assert status == 400 and headers["content-type"] == "application/json"
    (error,) = body["errors"]
    assert error["message"].startswith(message), error
    assert "data" not in body


def test_bad_base64_is_400(handler: Any) -> None:
    ev = event("POST", body={"query": "{ hello }"})
    ev.update(isBase64Encoded=True, body="%%%")
    assert call(handler, ev)[0] == 400


def test_syntax_validation_and_variable_errors_are_400(handler: Any) -> None:
    status, body, _ = call(handler, event("POST", body={"query": "{ hello"}))
    assert status == 400 and body["errors"][0]["message"].startswith("Syntax Error")
    assert body["errors"][0]["locations"] == [{"line": 1, "column": 8}]
    status, body, _ = call(handler, event("POST", body={"query": "{ nope }"}))
    assert status == 400 and body["errors"][0]["message"] == "Cannot query field 'nope' on type 'Query'."
    status, body, _ = call(handler, event("POST", body={"query": "query($a: Int!) { add(a: $a, b: 1) }",
                                                        "variables": {"a": "x"}}))
    assert status == 400 and "$a" in body["errors"][0]["message"] and "data" not in body
    status, body, _ = call(handler, event("POST", body={"query": "query($a: Int!) { add(a: $a, b: 1) }"}))
    assert status == 400 and "to be provided" in body["errors"][0]["message"]


def test_base64_and_application_graphql_bodies(handler: Any) -> None:
    assert call(handler, event("POST", body={"query": "{ add(a: 2, b: 3) }"}, b64=True))[:2] == (
        200, {"data": {"add": 5}})
    assert call(handler, event("POST", body="{ hello }", content_type="application/graphql; charset=utf-8"))[:2] == (
        200, {"data": {"hello": "Hello world!"}})


def test_resolvers_see_the_event_and_the_context(handler: Any) -> None:
    assert call(handler, event("POST", body={"query": "{ sourceIp requestId slow }"}))[:2] == (
        200, {"data": {"sourceIp": "203.0.113.9", "requestId": "req-42", "slow": "awaited"}})


def test_a_graphql_schema_object_works_too() -> None:
    schema = GraphQLSchema(query=GraphQLObjectType("Query", {
        "ping": GraphQLField(GraphQLString, resolve=lambda obj, info: "pong"),
        "who": GraphQLField(GraphQLString)}))
    h = make_handler(schema, {"Query": {"who": lambda obj, info: info.context["event"]["rawPath"]}})
    assert call(h, event("GET", params={"query": "{ ping who }"}))[:2] == (200, {"data": {"ping": "pong", "who": "/"}})


def test_bad_schemas_and_resolver_maps_fail_at_make_time() -> None:
    with pytest.raises(ValueError, match="'Nope' is not an object type"):
        make_handler(SDL, {"Nope": {"x": lambda obj, info: 1}})
    with pytest.raises(ValueError, match=r"Query\.nope is not a field"):
        make_handler(SDL, {"Query": {"nope": lambda obj, info: 1}})
    with pytest.raises(TypeError, match="must be callable"):
        make_handler(SDL, {"Query": {"hello": "not a function"}})
    with pytest.raises(TypeError, match="GraphQLSchema or SDL"):
        make_handler(42)  # type: ignore[arg-type]
    from graphql import GraphQLSyntaxError

    with pytest.raises(GraphQLSyntaxError):
        make_handler("type Query {")


# --- the example's server -----------------------------------------------------------------------


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    saved = sys.modules.pop("server", None)
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    try:
        yield importlib.import_module("server")
    finally:
        sys.modules.pop("server", None)
        if saved is not None:
            sys.modules["server"] = saved


def test_example_server(example: Any) -> None:
    h = example.handler
    status, body, _ = call(h, event("POST", body={
        "query": "mutation($c: String!) { createNote(content: $c) { id content } }", "variables": {"c": "hi"}}))
    assert status == 200
    note = body["data"]["createNote"]
    assert note["content"] == "hi"
    assert call(h, event("GET", params={"query": "{ listNotes { id content } whoami }"}))[:2] == (
        200, {"data": {"listNotes": [note], "whoami": "203.0.113.9"}})
    status, body, _ = call(h, event("POST", body={"query": 'mutation { createNote(content: " ") { id } }'}))
    assert (status, body["data"], body["errors"][0]["message"]) == (200, None, "content must not be empty")
    assert call(h, event("POST", body={"query": f'mutation {{ deleteNote(id: "{note["id"]}") }}'}))[1] == {
        "data": {"deleteNote": True}}


def test_example_app_declares_the_graphql_api(root: Path) -> None:
    path = EXAMPLE_SRC.parent / "app.py"
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": "example_graphql_app"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    app, api = namespace["app"], namespace["api"]
    assert isinstance(api, GraphQLApi) and api.routes == ["GET /", "POST /"]
    assert api.server_function.handler == "src/server.handler"
    assert "Api/integration/server" in app.resources()


def test_a_handler_file_named_graphql_gets_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "graphql.py").write_text("from sstdirect.graphql import make_handler\n")
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "graphql" or k.startswith("graphql.")
             or k == "sstdirect.graphql"}
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ImportError, match="rename that file"):
            importlib.import_module("graphql")
    finally:
        for k in [k for k in sys.modules if k == "graphql" or k.startswith("graphql.") or k == "sstdirect.graphql"]:
            sys.modules.pop(k)
        sys.modules.update(saved)
