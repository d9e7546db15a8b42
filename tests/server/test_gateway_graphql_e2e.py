"""GraphQL served locally, end to end over real sockets: LocalCloud + deploy + ``cloud.serve(app)`` + urllib.

One cloud and one gateway per module: the appsync example (copied), an AppSync test app (failing and
templated resolvers, a NONE data source, an additional Cognito user-pool mode with a real token of the
embedded Cognito), the graphql example and a ``GraphQLApi`` app whose server is built with
``sstdirect.graphql.make_handler`` (neither with a requirements.txt, so no PyPI install: the local worker
uses the installed graphql-core).
"""

from __future__ import annotations

import base64
import json
import re
import runpy
import shutil
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sstdirect import App, AppSyncApi, Cognito, GraphQLApi
from sstdirect.local import LocalCloud
from sstdirect.overrides import Overrides, declaring

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
PASSWORD = "Correct-h0rse-battery!"

SCHEMA = """
type Item { id: ID! title: String n: Int }
type ItemPage { items: [Item] nextToken: String }
type Mutation {
  putItem(id: ID!, title: String!, n: Int): Item
  bump(id: ID!): Item
  deleteItem(id: ID!): Item
}
type Query {
  getItem(id: ID!): Item
  listItems(limit: Int, nextToken: String): ItemPage
  boom: String
  denied: String
  echo(msg: String, n: Int): AWSJSON
  doubled(x: Int!): Int
  greet(name: String!): String
  greetBoom: String
  unsupported: String
  whoami: AWSJSON @aws_cognito_user_pools
  both: String @aws_api_key @aws_cognito_user_pools
  signed: AWSJSON @aws_iam
}
"""
RESOLVERS = """
class UnauthorizedException(Exception):
    pass


def boom(event, context):
    raise ValueError("no notes today")


def denied(event, context):
    raise UnauthorizedException("the secret reason")


def echo(event, context):
    return event


def greet(event, context):
    if event.get("name") is None:
        raise RuntimeError("greet needs a name")
    return {"text": "hello " + event["name"]}
"""
KEY_ARG = '{"id": $util.dynamodb.toDynamoDBJson($ctx.args.id)}'
RAISE_OR_RESULT = "#if($ctx.error)$util.error($ctx.error.message, $ctx.error.type)#end\n$util.toJson($ctx.result)"


def dynamodb(request: str) -> dict[str, Any]:
    return {"data_source": "table", "request_mapping": {"inline": '{"version": "2018-05-29", ' + request + "}"},
            "response_mapping": {"inline": RAISE_OR_RESULT}}


DYNAMODB_RESOLVERS = {
    "Query getItem": dynamodb(f'"operation": "GetItem", "key": {KEY_ARG}'),
    "Query listItems": dynamodb('"operation": "Scan", "limit": $util.defaultIfNull($ctx.args.limit, 20), '
                                '"nextToken": $util.toJson($ctx.args.nextToken)'),
    "Mutation putItem": dynamodb(f'"operation": "PutItem", "key": {KEY_ARG}, '
                                 '"attributeValues": $util.dynamodb.toMapValuesJson({"title": $ctx.args.title, '
                                 '"n": $util.defaultIfNull($ctx.args.n, 0)}), '
                                 '"condition": {"expression": "attribute_not_exists(id)"}'),
    "Mutation bump": dynamodb(f'"operation": "UpdateItem", "key": {KEY_ARG}, "update": {{"expression": '
                              '"ADD n :one", "expressionValues": {":one": {"N": "1"}}}'),
    "Mutation deleteItem": dynamodb(f'"operation": "DeleteItem", "key": {KEY_ARG}'),
}
GRAPHQL_SERVER = """
from sstdirect.graphql import make_handler

NOTES = []


def add(obj, info, content):
    note = {"id": str(len(NOTES) + 1), "content": content}
    NOTES.append(note)
    return note


handler = make_handler(
    "type Note { id: ID! content: String! } "
    "type Query { notes: [Note!]! } type Mutation { addNote(content: String!): Note! }",
    {"Query": {"notes": lambda obj, info: NOTES}, "Mutation": {"addNote": add}},
)
"""


def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"content-type": "application/json", **(headers or {})})
    try:
        with OPENER.open(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("graphql")
    shutil.copytree(EXAMPLES / "appsync", tmp / "appsync")
    shutil.copytree(EXAMPLES / "graphql", tmp / "graphql")
    (tmp / "graphql" / "src" / "requirements.txt").unlink()  # no PyPI install: the local worker has graphql-core
    root = tmp / "tests-app"
    (root / "src").mkdir(parents=True)
    (root / "schema.graphql").write_text(SCHEMA)
    (root / "src" / "resolvers.py").write_text(textwrap.dedent(RESOLVERS))
    (root / "src" / "gqlserver.py").write_text(textwrap.dedent(GRAPHQL_SERVER))
    with LocalCloud() as cloud:
        cloud.reset()  # moto's state is process-wide: other modules may have deployed "notes" already
        with declaring(Overrides(endpoint_url=cloud.endpoint_url, region=cloud.region, session=cloud.session(),
                                 state_dir=str(tmp / "state"))):
            notes = runpy.run_path(str(tmp / "appsync" / "app.py"), run_name="__example__")
            notes["app"].deploy()
            example_gql = runpy.run_path(str(tmp / "graphql" / "app.py"), run_name="__example__")
            example_gql["app"].deploy()
            app = App("gqltests", stage="dev", root=root)
            auth = Cognito(app, "Auth", login=["email"], identity_pool=False)
            api = AppSyncApi(app, "Graphql", schema="schema.graphql", data_sources={
                "boom": "src/resolvers.boom", "denied": "src/resolvers.denied", "echo": "src/resolvers.echo",
                "greet": "src/resolvers.greet", "none": {"type": "none"},
                "table": {"type": "dynamodb", "table": "gql-items"},
            }, resolvers={**DYNAMODB_RESOLVERS,
                "Query boom": "boom", "Query denied": "denied", "Query echo": "echo", "Query whoami": "echo",
                "Query signed": "echo",
                "Query both": {"data_source": "none", "request_mapping": {"inline": '{"payload": "ok"}'},
                               "response_mapping": {"inline": "$util.toJson($ctx.result)"}},
                "Query doubled": {"data_source": "none", "request_mapping": {
                    "inline": '#set($d = $ctx.args.x * 2)\n{"version": "2018-05-29", "payload": {"v": $d}}'},
                    "response_mapping": {"inline": "$util.toJson($ctx.result.v)"}},
                "Query greet": {"data_source": "greet", "request_mapping": {
                    "inline": '{"version": "2018-05-29", "operation": "Invoke", '
                              '"payload": {"name": $util.toJson($ctx.args.name)}}'},
                    "response_mapping": {"inline": "$util.toJson($ctx.result.text)"}},
                "Query greetBoom": {"data_source": "greet", "request_mapping": {
                    "inline": '{"version": "2018-05-29", "operation": "Invoke", "payload": {}}'},
                    "response_mapping": {"inline": "#if($ctx.error)$util.error($ctx.error.message, $ctx.error.type)"
                                                   "#end\n$util.toJson($ctx.result)"}},
                "Query unsupported": {"data_source": "none", "request_mapping": {
                    "inline": '{"payload": $util.transform.toDynamoDBFilterExpression($ctx.args)}'},
                    "response_mapping": {"inline": "null"}},
            }, authorization={"default": "api_key", "additional": ["user_pool", "iam"],
                              "user_pool": {"id": auth.user_pool_id}})
            gql = GraphQLApi(app, "Gql", server="src/gqlserver.handler")
            cloud.client("dynamodb").create_table(
                TableName="gql-items", BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
            app.deploy()
            idp = cloud.client("cognito-idp")
            idp.admin_create_user(UserPoolId=auth.user_pool_id, Username="ada@example.com",
                                  MessageAction="SUPPRESS", TemporaryPassword="Tempor4ry-pass!")
            idp.admin_set_user_password(UserPoolId=auth.user_pool_id, Username="ada@example.com",
                                        Password=PASSWORD, Permanent=True)
            tokens = idp.admin_initiate_auth(
                UserPoolId=auth.user_pool_id, ClientId=auth.user_pool_client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": "ada@example.com", "PASSWORD": PASSWORD})["AuthenticationResult"]
            notes_key, key = notes["api"].api_key, api.api_key
        with cloud.serve(notes["app"]) as notes_gw, cloud.serve(app) as gw, \
                cloud.serve(example_gql["app"]) as example_gw:
            yield {"cloud": cloud, "notes": notes_gw.url(notes["api"]), "notes_key": notes_key, "notes_gw": notes_gw,
                   "notes_api": notes["api"], "url": gw.url(api), "key": key, "gw": gw, "api": api, "auth": auth,
                   "tokens": tokens, "gql": gw.url(gql), "example_gql": example_gw.url(example_gql["api"])}


def test_example_query_and_mutation_with_the_api_key(served: dict[str, Any]) -> None:
    url, key = served["notes"], {"x-api-key": served["notes_key"]}
    assert url.startswith("http://127.0.0.1:") and url.endswith("/graphql")
    status, body = _post(url, {"query": "mutation Add($n: NoteInput!) { createNote(note: $n) { id content } }",
                               "variables": {"n": {"id": "n1", "content": "hello"}}}, key)
    assert (status, body) == (200, {"data": {"createNote": {"id": "n1", "content": "hello"}}})
    status, body = _post(url, {"query": '{ listNotes { id content } one: getNoteById(noteId: "n1") { content } }'},
                         key)
    assert status == 200
    assert body == {"data": {"listNotes": [{"id": "n1", "content": "hello"}], "one": {"content": "hello"}}}
    assert served["notes_gw"].api_keys(served["notes_api"]) == [served["notes_key"]]


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "da2-wrong"}], ids=["missing", "wrong"])
def test_no_or_a_wrong_api_key_is_401(served: dict[str, Any], headers: dict[str, str]) -> None:
    status, body = _post(served["notes"], {"query": "{ listNotes { id } }"}, headers)
    assert status == 401
    assert body == {"errors": [{"errorType": "UnauthorizedException",
                                "message": "You are not authorized to make this call."}]}


def test_an_expired_api_key_is_401(served: dict[str, Any]) -> None:
    auth = served["gw"].gateway(served["api"]).auth
    query = {"query": "{ doubled(x: 2) }"}
    assert _post(served["url"], query, {"x-api-key": served["key"]})[0] == 200
    auth.clock = lambda: time.time() + 366 * 86400  # past the key's 365 days
    try:
        status, body = _post(served["url"], query, {"x-api-key": served["key"]})
    finally:
        auth.clock = time.time
    assert status == 401 and body["errors"][0]["errorType"] == "UnauthorizedException"


def test_a_lambda_that_raises_is_a_graphql_error_with_http_200(served: dict[str, Any]) -> None:
    status, body = _post(served["url"], {"query": "query {\n  boom\n  doubled(x: 21)\n}"},
                         {"x-api-key": served["key"]})
    assert status == 200
    assert body["data"] == {"boom": None, "doubled": 42}
    assert body["errors"] == [{"path": ["boom"], "data": None, "errorType": "ValueError", "errorInfo": None,
                               "locations": [{"line": 2, "column": 3, "sourceName": None}],
                               "message": "no notes today"}]
    status, body = _post(served["url"], {"query": "{ denied }"}, {"x-api-key": served["key"]})
    assert status == 200 and body["errors"][0]["errorType"] == "UnauthorizedException"
    assert body["errors"][0]["message"] == "You are not authorized to make this call."


def test_direct_lambda_resolver_gets_appsyncs_context(served: dict[str, Any]) -> None:
    query = 'query Q($m: String) { echo(msg: $m, n: 3) }'
    status, body = _post(served["url"], {"query": query, "variables": {"m": "hi"}},
                         {"x-api-key": served["key"], "X-Custom": "c1", "Cookie": "secret=1"})
    assert status == 200, body
    event = json.loads(body["data"]["echo"])
    assert set(event) == {"arguments", "identity", "source", "request", "info", "prev", "stash"}
    assert event["arguments"] == {"msg": "hi", "n": 3}
    assert event["identity"] is None and event["source"] is None and event["prev"] is None and event["stash"] == {}
    assert event["info"] == {"selectionSetList": [], "selectionSetGraphQL": "", "parentTypeName": "Query",
                             "fieldName": "echo", "variables": {"m": "hi"}}
    headers = event["request"]["headers"]
    assert headers["x-custom"] == "c1" and "cookie" not in headers and headers["x-api-key"] == served["key"]
    assert headers["host"].endswith(".appsync-api.us-east-1.amazonaws.com")
    assert event["request"]["domainName"] is None


def test_appsync_api_id_is_the_endpoint_hosts_prefix(served: dict[str, Any]) -> None:
    """AppSync's ``apiId`` is 26 lower-case letters and digits and its endpoint is
    ``https://{apiId}.appsync-api.{region}.amazonaws.com/graphql`` (AWS CDK ``aws_appsync.GraphqlApi.apiId``:
    ``lxz775lwdrgcndgz3nurvac7oa``); local before: a UUID unrelated to the host."""
    api_id = served["api"].id
    assert re.fullmatch(r"[a-z0-9]{26}", api_id), api_id
    status, body = _post(served["url"], {"query": "{ echo(msg: \"x\", n: 1) }"}, {"x-api-key": served["key"]})
    assert status == 200, body
    assert json.loads(body["data"]["echo"])["request"]["headers"]["host"] == \
        f"{api_id}.appsync-api.us-east-1.amazonaws.com"


def test_mapping_templates_lambda_and_none_data_sources(served: dict[str, Any]) -> None:
    key = {"x-api-key": served["key"]}
    status, body = _post(served["url"], {"query": '{ greet(name: "Ada") doubled(x: 5) both }'}, key)
    assert (status, body) == (200, {"data": {"greet": "hello Ada", "doubled": 10, "both": "ok"}})
    status, body = _post(served["url"], {"query": "{ greetBoom }"}, key)
    assert status == 200 and body["data"] == {"greetBoom": None}
    assert body["errors"][0]["errorType"] == "Lambda:Unhandled"
    assert body["errors"][0]["message"] == "greet needs a name"


def test_an_unsupported_template_feature_is_an_error_naming_the_resolver(served: dict[str, Any]) -> None:
    status, body = _post(served["url"], {"query": "{ unsupported }"}, {"x-api-key": served["key"]})
    assert status == 200 and body["data"] == {"unsupported": None}
    message = body["errors"][0]["message"]
    assert "resolver Query.unsupported" in message and "$util.transform" in message and "not supported" in message


def test_user_pool_token_of_the_embedded_cognito(served: dict[str, Any]) -> None:
    tokens, auth = served["tokens"], served["auth"]
    bearer = {"authorization": tokens["IdToken"]}
    status, body = _post(served["url"], {"query": "{ whoami both }"}, bearer)
    assert status == 200, body
    identity = json.loads(body["data"]["whoami"])["identity"]
    issuer = f"https://cognito-idp.us-east-1.amazonaws.com/{auth.user_pool_id}"
    assert identity["issuer"] == issuer and identity["username"] == identity["claims"]["cognito:username"]
    assert identity["claims"]["aud"] == auth.user_pool_client_id and isinstance(identity["claims"]["exp"], int)
    assert identity["sourceIp"] == ["127.0.0.1"] and identity["defaultAuthStrategy"] == "ALLOW"
    assert body["data"]["both"] == "ok"
    # the access token works too; a field without @aws_cognito_user_pools is the default mode's only
    status, body = _post(served["url"], {"query": "{ whoami doubled(x: 1) }"},
                         {"authorization": tokens["AccessToken"]})
    assert status == 200 and body["data"]["doubled"] is None and body["data"]["whoami"]
    assert body["errors"][0]["errorType"] == "Unauthorized"
    assert body["errors"][0]["message"] == "Not Authorized to access doubled on type Query"
    # and the API key may not read the user-pool-only field
    status, body = _post(served["url"], {"query": "{ whoami }"}, {"x-api-key": served["key"]})
    assert status == 200 and body["data"] == {"whoami": None} and body["errors"][0]["errorType"] == "Unauthorized"


def test_bad_tampered_and_expired_tokens_are_401(served: dict[str, Any]) -> None:
    token = served["tokens"]["IdToken"]
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "email": "eve@example.com"}).encode()).rstrip(b"=")
    tampered = f"{head}.{forged.decode()}.{signature}"
    for bad in (tampered, "not-a-token"):
        status, body = _post(served["url"], {"query": "{ whoami }"}, {"authorization": bad})
        assert status == 401 and body["errors"][0]["errorType"] == "UnauthorizedException"
    auth = served["gw"].gateway(served["api"]).auth
    auth.clock = lambda: time.time() + 2 * 3600  # Cognito tokens live one hour
    try:
        status, body = _post(served["url"], {"query": "{ whoami }"}, {"authorization": token})
    finally:
        auth.clock = time.time
    assert (status, body["errors"][0]["message"]) == (401, "Token has expired.")


def test_malformed_and_invalid_requests(served: dict[str, Any]) -> None:
    key = {"x-api-key": served["key"]}
    status, body = _post(served["url"], b"{not json", key)
    assert (status, body["errors"][0]["errorType"]) == (400, "MalformedHttpRequestException")
    status, body = _post(served["url"], {"query": "{ nope }"}, key)
    assert status == 400 and body["data"] is None and "nope" in body["errors"][0]["message"]


def test_graphql_api_query_and_mutation(served: dict[str, Any]) -> None:
    url = served["gql"]
    status, body = _post(url, {"query": 'mutation { addNote(content: "first") { id content } }'})
    assert (status, body) == (200, {"data": {"addNote": {"id": "1", "content": "first"}}})
    status, body = _post(url, {"query": "{ notes { id content } }"})
    assert (status, body) == (200, {"data": {"notes": [{"id": "1", "content": "first"}]}})
    with OPENER.open(f"{url}/?query=%7Bnotes%7Bcontent%7D%7D", timeout=30) as r:
        assert r.status == 200 and json.loads(r.read()) == {"data": {"notes": [{"content": "first"}]}}


def test_graphql_example_served_by_the_http_gateway(served: dict[str, Any]) -> None:
    url = served["example_gql"]
    status, body = _post(url, {"query": 'mutation { createNote(content: "hi") { id content } }'})
    assert status == 200 and body["data"]["createNote"]["content"] == "hi"
    note_id = body["data"]["createNote"]["id"]
    status, body = _post(url, {"query": "query { listNotes { id content } whoami }"})
    assert status == 200 and body["data"] == {"listNotes": [{"id": note_id, "content": "hi"}], "whoami": "127.0.0.1"}
    status, body = _post(url, {"query": 'mutation { createNote(content: " ") { id } }'})
    assert status == 200 and body["data"] is None and body["errors"][0]["message"] == "content must not be empty"


def _signed_post(url: str, key: str, secret: str, session_token: str | None = None) -> tuple[int, Any]:
    """POST ``{ signed }`` signed with SigV4 for ``appsync``, as an AWS SDK signs it."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps({"query": "{ signed }"}).encode()
    request = AWSRequest(method="POST", url=url, data=body, headers={"content-type": "application/json"})
    SigV4Auth(Credentials(key, secret, session_token), "appsync", "us-east-1").add_auth(request)
    req = urllib.request.Request(url, data=body, method="POST", headers=dict(request.headers.items()))
    try:
        with OPENER.open(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_iam_caller_signed_with_the_embedded_aws_credentials(served: dict[str, Any]) -> None:
    creds = served["cloud"].credentials
    status, body = _signed_post(served["url"], creds.access_key_id, creds.secret_access_key)
    assert status == 200, body
    identity = json.loads(body["data"]["signed"])["identity"]
    # the cloud's own key pair is an IAM user (aws/aws-lambda-go events/testdata/appsync-identity-iam.json:
    # userArn arn:aws:iam::ACCT:user/NAME), its id AIDA... (IAM User Guide, "IAM identifiers")
    assert identity["accountId"] == "123456789012"
    assert identity["userArn"] == "arn:aws:iam::123456789012:user/sstdirect-local"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", identity["username"]), identity["username"]
    assert identity["sourceIp"] == ["127.0.0.1"] and identity["cognitoIdentityPoolId"] is None
    assert _signed_post(served["url"], creds.access_key_id, "not-the-secret")[0] == 401


def test_iam_callers_with_identity_pool_credentials_and_iam_user_keys(served: dict[str, Any]) -> None:
    """Every key pair the embedded AWS hands out signs AppSync calls, as it signs HTTP API calls: an identity
    pool's guest credentials (with their session token) and an IAM user's access key, each allowed only
    what its own policies allow (``appsync:GraphQL`` on the field)."""
    cloud, url = served["cloud"], served["url"]
    iam, identity = cloud.client("iam"), cloud.client("cognito-identity")
    field_arn = f"arn:aws:appsync:us-east-1:123456789012:apis/{served['api'].id}/types/Query/fields/signed"
    allow = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "appsync:GraphQL", "Resource": field_arn}]})
    pool = identity.create_identity_pool(IdentityPoolName="gqlguests", AllowUnauthenticatedIdentities=True)
    trust = {"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
             "Action": "sts:AssumeRoleWithWebIdentity"}
    role = iam.create_role(RoleName="gql-guest", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [trust]}))["Role"]
    identity.set_identity_pool_roles(IdentityPoolId=pool["IdentityPoolId"], Roles={"unauthenticated": role["Arn"]})
    guest = identity.get_id(IdentityPoolId=pool["IdentityPoolId"])["IdentityId"]
    creds = identity.get_credentials_for_identity(IdentityId=guest)["Credentials"]
    status, body = _signed_post(url, creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"])
    assert status == 200 and body["data"] == {"signed": None}  # the role has no appsync:GraphQL permission yet
    assert body["errors"][0]["errorType"] == "Unauthorized"
    iam.put_role_policy(RoleName="gql-guest", PolicyName="graphql", PolicyDocument=allow)
    status, body = _signed_post(url, creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"])
    assert status == 200, body
    caller = json.loads(body["data"]["signed"])["identity"]
    assert caller["cognitoIdentityPoolId"] == pool["IdentityPoolId"] and caller["cognitoIdentityId"] == guest
    assert caller["cognitoIdentityAuthType"] == "unauthenticated"
    assert caller["userArn"] == "arn:aws:sts::123456789012:assumed-role/gql-guest/CognitoIdentityCredentials"
    assert _signed_post(url, creds["AccessKeyId"], creds["SecretKey"])[0] == 401  # no session token

    iam.create_user(UserName="gql-bob")
    key = iam.create_access_key(UserName="gql-bob")["AccessKey"]
    status, body = _signed_post(url, key["AccessKeyId"], key["SecretAccessKey"])
    assert status == 200 and body["data"] == {"signed": None}
    iam.put_user_policy(UserName="gql-bob", PolicyName="graphql", PolicyDocument=allow)
    status, body = _signed_post(url, key["AccessKeyId"], key["SecretAccessKey"])
    assert status == 200 and json.loads(body["data"]["signed"])["identity"]["userArn"] == \
        "arn:aws:iam::123456789012:user/gql-bob"
    assert _signed_post(url, key["AccessKeyId"], "not-the-secret")[0] == 401


def test_dynamodb_resolvers_on_the_embedded_dynamodb(served: dict[str, Any]) -> None:
    url, key = served["url"], {"x-api-key": served["key"]}

    def gql(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        status, body = _post(url, {"query": query, "variables": variables or {}}, key)
        assert status == 200, body
        return body

    put = "mutation P($id: ID!, $t: String!) { putItem(id: $id, title: $t, n: 1) { id title n } }"
    assert gql(put, {"id": "a", "t": "first"}) == {"data": {"putItem": {"id": "a", "title": "first", "n": 1}}}
    assert gql(put, {"id": "b", "t": "second"})["data"]["putItem"]["id"] == "b"
    # the same put again: the condition fails but the item already is what it writes (AppSync's default)
    assert gql(put, {"id": "a", "t": "first"}) == {"data": {"putItem": {"id": "a", "title": "first", "n": 1}}}
    body = gql(put, {"id": "a", "t": "changed"})
    assert body["data"] == {"putItem": None}
    assert body["errors"][0]["errorType"] == "DynamoDB:ConditionalCheckFailedException"
    assert gql('mutation { bump(id: "a") { n } }')["data"] == {"bump": {"n": 2}}
    assert gql('{ getItem(id: "a") { title n } }')["data"] == {"getItem": {"title": "first", "n": 2}}
    first = gql("{ listItems(limit: 1) { items { id } nextToken } }")["data"]["listItems"]
    assert len(first["items"]) == 1 and first["nextToken"]
    rest = gql("query L($t: String) { listItems(nextToken: $t) { items { id } nextToken } }",
               {"t": first["nextToken"]})["data"]["listItems"]
    assert {i["id"] for i in first["items"] + rest["items"]} == {"a", "b"} and rest["nextToken"] is None
    assert gql('mutation { deleteItem(id: "a") { title } }')["data"] == {"deleteItem": {"title": "first"}}
    assert gql('{ getItem(id: "a") { id } }')["data"] == {"getItem": None}
    item = served["cloud"].client("dynamodb").get_item(TableName="gql-items", Key={"id": {"S": "b"}})["Item"]
    assert item == {"id": {"S": "b"}, "title": {"S": "second"}, "n": {"N": "1"}}
