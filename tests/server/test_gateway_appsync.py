"""The local AppSync's executor and authenticator (``AppSyncGateway``, ``Authenticator`` on the HTTP APIs'
shared JWT / SigV4 verifiers): pure, with fake Lambdas and a locally made RSA key; no AWS, no sockets."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from sstdirect.local.gateway import auth_iam, auth_jwt
from sstdirect.local.gateway.appsync import AppSyncConfig, AppSyncGateway, DataSource, Resolver, Step
from sstdirect.local.gateway.appsync_auth import Authenticator, AuthProvider
from sstdirect.local.gateway.messages import HttpRequest
from sstdirect.local.gateway.pipeline import Outcome

SDL = """
type Author { name: String! books: [String] }
type Note @aws_api_key @aws_oidc { id: ID! content: String! author: Author secret: String @aws_oidc }
type Query {
  note(id: ID!): Note @aws_api_key @aws_oidc
  notes: [Note!]!
  pipe(x: Int): AWSJSON
  early: String
  js: String
  table: String
  batched: String
  soft: String
  slow: String
  strict: String!
  admins: String @aws_cognito_user_pools(cognito_groups: ["admin"])
  members: String @aws_lambda @aws_api_key
  iam: String @aws_iam
  caller: AWSJSON @aws_iam
  old: String
  handled: String
}
type Mutation { add(content: String!): Note }
type Subscription { added: Note @aws_subscribe(mutations: ["add"]) }
"""
KEY = "da2-goodkey"
ISSUER = "https://issuer.example.com"


def unit(type_name: str, field: str, source: str, request: str | None = None, response: str | None = None,
         **kw: Any) -> Resolver:
    step = Step(f"resolver {type_name}.{field}", source, request, response, **kw)
    return Resolver(type_name, field, unit=step, runtime=kw.get("runtime"))


class Lambdas:
    """``invoke`` of the gateway: named Python functions, with every event recorded."""

    def __init__(self, functions: dict[str, Callable[[Any], Any]]):
        self.functions = functions
        self.events: list[tuple[str, Any]] = []

    def __call__(self, name: str, event: Any, timeout_s: float) -> Outcome:
        self.events.append((name, event))
        try:
            return Outcome("ok", result=json.loads(json.dumps(self.functions[name](event))))
        except TimeoutError:
            return Outcome("timeout", error="integration timeout")
        except Exception as exc:
            return Outcome("error", error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__,
                           error_message=str(exc))


class Boom(Exception):
    pass


def _raise(exc: BaseException) -> Any:
    raise exc


NOTE = {"id": "n1", "content": "hi", "author": {"name": "Ada"}, "secret": "s"}
LAMBDAS = {
    "notes-fn": lambda e: NOTE if e["info"]["fieldName"] == "note" else [NOTE],
    "author-fn": lambda e: {"name": e["source"]["author"]["name"].upper(), "books": ["b1"]},
    "add-fn": lambda e: _raise(Boom("cannot add")),
    "double-fn": lambda e: {"v": e["x"] * 2},
    "batch-fn": lambda e: [f"batch of {len(e)}"],
    "slow-fn": lambda e: _raise(TimeoutError()),
    "null-fn": lambda e: None,
    "authorizer-fn": lambda e: {"isAuthorized": e["authorizationToken"] == "let-me-in",
                                "resolverContext": {"user": "u1"}, "deniedFields": ["Query.notes"]},
}


def make_config() -> AppSyncConfig:
    sources = {name: DataSource(name, "AWS_LAMBDA", f"{name}-fn") for name in
               ("notes", "author", "add", "double", "batch", "slow", "null")}
    sources["none"] = DataSource("none", "NONE")
    sources["table"] = DataSource("table", "AMAZON_DYNAMODB")
    resolvers = [
        unit("Query", "note", "notes"), unit("Query", "notes", "notes"), unit("Note", "author", "author"),
        unit("Mutation", "add", "add"),
        Resolver("Query", "pipe", "PIPELINE", before_template='$util.qr($ctx.stash.put("seen", ["before"])){}',
                 after_template='$util.toJson({"final": $ctx.prev.result, "stash": $ctx.stash})', functions=(
                     Step("function double of resolver Query.pipe", "double",
                          '{"operation": "Invoke", "payload": {"x": $ctx.args.x}}', "$util.toJson($ctx.result.v)"),
                     Step("function again of resolver Query.pipe", "none",
                          '$util.qr($ctx.stash.seen.add("again")){"payload": $ctx.prev.result}',
                          "#set($r = $ctx.result + 1)$r"))),
        unit("Query", "early", "notes", "#return(\"early\")", "never"),
        unit("Query", "js", "notes", runtime="APPSYNC_JS"),
        unit("Query", "table", "table", '{"operation": "GetItem"}', "$util.toJson($ctx.result)"),
        unit("Query", "batched", "batch", max_batch_size=5),
        unit("Query", "soft", "none", '{"payload": "partial"}',
             '$util.appendError("careful", "Warning")$util.toJson($ctx.result)'),
        unit("Query", "slow", "slow"), unit("Query", "strict", "null"),
        unit("Query", "admins", "none", '{"payload": "admin only"}', "$util.toJson($ctx.result)"),
        unit("Query", "members", "none", '{"payload": "members"}', "$util.toJson($ctx.result)"),
        unit("Query", "old", "add", '{"version": "2017-02-28", "operation": "Invoke", "payload": {}}', '"ignored"'),
        unit("Query", "handled", "add", '{"version": "2018-05-29", "operation": "Invoke", "payload": {}}',
             '$util.toJson("handled: $ctx.error.message")'),
        unit("Query", "iam", "none", '{"payload": $util.toJson($ctx.identity)}', "$util.toJson($ctx.result.userArn)"),
        unit("Query", "caller", "none", '{"payload": $util.toJson($ctx.identity)}', "$util.toJson($ctx.result)"),
    ]
    return AppSyncConfig(api_id="api1", name="t", region="us-east-1", account_id="123456789012", sdl=SDL,
                         host="abc.appsync-api.us-east-1.amazonaws.com", data_sources=sources,
                         resolvers={(r.type_name, r.field_name): r for r in resolvers})


@pytest.fixture(scope="module")
def rsa_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def jwks(rsa_key: Any) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    return {"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]}


def token(key: Any, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "user-1", "aud": "client-1", "iat": now, "exp": now + 600, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


class Documents:
    """The ``fetch`` of a :class:`auth_jwt.JwksCache`: every issuer's discovery document points at
    ``{issuer}/jwks``, which ``serve(url)`` answers; every URL asked for is recorded."""

    def __init__(self, serve: Callable[[str], Any]):
        self.serve = serve
        self.urls: list[str] = []

    def __call__(self, url: str) -> Any:
        self.urls.append(url)
        if url.endswith("/.well-known/openid-configuration"):
            return {"jwks_uri": url.removesuffix("/.well-known/openid-configuration") + "/jwks"}
        return self.serve(url)


LOCAL = auth_iam.Principal("AKIDLOCAL", "local-secret", "123456789012", "arn:aws:iam::123456789012:user/me", "AIDA1")
FIELD_ARN = "arn:aws:appsync:us-east-1:123456789012:apis/api1/types/Query/fields/"
# identity-pool credentials: an STS session (its token must be sent) whose role may only read Query.caller
POOL = auth_iam.Principal(
    "ASIAPOOL", "pool-secret", "123456789012",
    "arn:aws:sts::123456789012:assumed-role/Unauth/CognitoIdentityCredentials", "AROAROLE:CognitoIdentityCredentials",
    {"amr": ["unauthenticated"], "identityId": "us-east-1:id-1", "identityPoolId": "us-east-1:pool-1"},
    session_token="pool-session", statements=({"Effect": "Allow", "Action": "appsync:GraphQL",
                                               "Resource": FIELD_ARN + "caller"},))


@pytest.fixture
def gateway(jwks: dict[str, Any]) -> tuple[AppSyncGateway, Lambdas]:
    lambdas = Lambdas(LAMBDAS)
    providers = [AuthProvider("API_KEY"),
                 AuthProvider("OPENID_CONNECT", oidc={"issuer": ISSUER, "clientId": "client-1"}),
                 AuthProvider("AMAZON_COGNITO_USER_POOLS", user_pool={"userPoolId": "us-east-1_pool",
                                                                      "awsRegion": "us-east-1"}),
                 AuthProvider("AWS_LAMBDA", authorizer_function="authorizer-fn",
                              identity_validation_expression="^let-.*"), AuthProvider("AWS_IAM")]
    auth = Authenticator(providers, {KEY: int(time.time()) + 86400, "da2-old": int(time.time()) - 1},
                         jwks=auth_jwt.JwksCache(fetch=Documents(lambda url: jwks)), invoke=lambdas, api_id="api1",
                         account_id="123456789012", credentials={"AKIDLOCAL": LOCAL, "ASIAPOOL": POOL}.get)
    return AppSyncGateway(make_config(), lambdas, auth), lambdas


def post(gw: AppSyncGateway, body: Any, headers: dict[str, str] | None = None, path: str = "/graphql",
         method: str = "POST") -> tuple[int, Any]:
    hdrs = list({"x-api-key": KEY, **(headers or {})}.items())
    hdrs = [(k, v) for k, v in hdrs if v is not None]
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = gw.handle(HttpRequest(method, path, headers=hdrs, body=raw, source_ip="10.0.0.9"))
    return response.status, json.loads(response.body) if response.body else None


def test_direct_resolvers_get_the_context_nested_fields_get_their_source(gateway: Any) -> None:
    gw, lambdas = gateway
    query = ('query Q($id: ID!) { note(id: $id) { id text: content author { name ...B } } } '
             'fragment B on Author { books }')
    status, body = post(gw, {"query": query, "variables": {"id": "n1"}},
                        {"x-forwarded-for": "1.1.1.1", "X-Multi": "a", "x-multi": "b", "cookie": "c=1"})
    assert status == 200 and body == {"data": {"note": {"id": "n1", "text": "hi",
                                                        "author": {"name": "ADA", "books": ["b1"]}}}}
    (name, event), (name2, nested) = lambdas.events
    assert name == "notes-fn" and name2 == "author-fn"
    assert event["arguments"] == {"id": "n1"} and event["source"] is None and event["identity"] is None
    assert event["info"]["selectionSetList"] == ["id", "text", "author", "author/name", "author/books"]
    assert event["info"]["selectionSetGraphQL"].startswith("{\n  id\n  text: content\n  author {")
    assert event["info"]["parentTypeName"] == "Query" and event["info"]["variables"] == {"id": "n1"}
    assert event["prev"] is None and event["stash"] == {}
    headers = event["request"]["headers"]
    assert headers["x-multi"] == ["a", "b"] and "cookie" not in headers
    assert headers["x-forwarded-for"] == "1.1.1.1, 10.0.0.9"
    assert headers["host"] == "abc.appsync-api.us-east-1.amazonaws.com"
    assert nested["source"] == NOTE and nested["info"]["parentTypeName"] == "Note"
    assert nested["info"]["selectionSetList"] == ["name", "books"]


def test_lambda_errors_keep_partial_data_and_http_200(gateway: Any) -> None:
    gw, _ = gateway
    status, body = post(gw, {"query": 'mutation { add(content: "x") { id } }'})
    assert status == 200 and body["data"] == {"add": None}
    assert body["errors"] == [{"path": ["add"], "data": None, "errorType": "Boom", "errorInfo": None,
                               "locations": [{"line": 1, "column": 12, "sourceName": None}],
                               "message": "cannot add"}]
    status, body = post(gw, {"query": "{ slow strict: strict }"})
    assert status == 200 and body["data"] is None  # a null non-null root field bubbles up to data
    kinds = {tuple(e["path"]): e for e in body["errors"]}
    assert kinds[("slow",)]["errorType"] == "ExecutionTimeout"
    assert "non-nullable" in kinds[("strict",)]["message"]


def test_pipeline_resolver_runs_its_functions_with_prev_and_stash(gateway: Any) -> None:
    gw, lambdas = gateway
    status, body = post(gw, {"query": "{ pipe(x: 20) }"})
    assert status == 200, body
    assert json.loads(body["data"]["pipe"]) == {"final": 41, "stash": {"seen": ["before", "again"]}}
    assert lambdas.events == [("double-fn", {"x": 20})]


def test_return_batch_and_append_error(gateway: Any) -> None:
    gw, lambdas = gateway
    status, body = post(gw, {"query": "{ early batched soft }"})
    assert status == 200
    assert body["data"] == {"early": "early", "batched": "batch of 1", "soft": "partial"}
    assert [(e["path"], e["errorType"], e["message"]) for e in body["errors"]] == [(["soft"], "Warning", "careful")]
    assert isinstance(lambdas.events[0][1], list) and lambdas.events[0][1][0]["info"]["fieldName"] == "batched"


@pytest.mark.parametrize(("field", "fragments"), [
    ("js", ("resolver Query.js", "APPSYNC_JS", "not supported by the local AppSync")),
    ("table", ("resolver Query.table", "AMAZON_DYNAMODB", "not supported by the local AppSync")),
])
def test_what_cannot_run_locally_is_an_error_naming_the_resolver(gateway: Any, field: str,
                                                                  fragments: tuple[str, ...]) -> None:
    status, body = post(gateway[0], {"query": f"{{ {field} }}"})
    assert status == 200 and body["data"] == {field: None}
    error = body["errors"][0]
    assert error["errorType"] == "LocalAppSync:Unsupported"
    for fragment in fragments:
        assert fragment in error["message"]


def test_request_errors(gateway: Any) -> None:
    gw, lambdas = gateway
    assert post(gw, b"nope")[0] == 400
    status, body = post(gw, {"query": "{ note { id } }"})  # missing required argument
    assert status == 400 and body["data"] is None and body["errors"][0]["path"] is None
    assert body["errors"][0]["message"].startswith("Validation error: ")
    status, body = post(gw, {"query": "{ note(id: "})
    assert status == 400 and body["errors"][0]["message"].startswith("Invalid Syntax: ")
    status, body = post(gw, {"query": "subscription { added { id } }"})
    assert status == 400 and "real-time WebSocket endpoint" in body["errors"][0]["message"]
    assert post(gw, {"query": "{ notes { id } }"}, path="/other")[0] == 404
    assert post(gw, {"query": "{ notes { id } }"}, method="GET")[0] == 405
    assert post(gw, b"", method="OPTIONS")[0] == 200
    assert lambdas.events == []


@pytest.mark.parametrize("headers", [{"x-api-key": None}, {"x-api-key": "da2-bad"}, {"x-api-key": "da2-old"}],
                         ids=["missing", "wrong", "expired"])
def test_api_key_failures_are_401(gateway: Any, headers: dict[str, Any]) -> None:
    status, body = post(gateway[0], {"query": "{ notes { id } }"}, headers)
    assert (status, body) == (401, {"errors": [{"errorType": "UnauthorizedException",
                                                "message": "You are not authorized to make this call."}]})


def test_oidc_token_identity_and_field_directives(gateway: Any, rsa_key: Any) -> None:
    gw, lambdas = gateway
    bearer = {"x-api-key": None, "authorization": "Bearer " + token(rsa_key, email="a@b.c")}
    status, body = post(gw, {"query": '{ note(id: "n1") { id secret } }'}, bearer)
    assert status == 200 and body == {"data": {"note": {"id": "n1", "secret": "s"}}}
    identity = lambdas.events[0][1]["identity"]
    assert identity["issuer"] == ISSUER and identity["sub"] == "user-1" and identity["claims"]["email"] == "a@b.c"
    assert isinstance(identity["claims"]["exp"], int)  # native JSON types (§7.1)
    # Note allows api_key and oidc, but its `secret` field only oidc; Query.notes has no directive: default only
    status, body = post(gw, {"query": '{ note(id: "n1") { id secret } }'})
    assert body["data"] == {"note": {"id": "n1", "secret": None}}
    assert body["errors"][0]["message"] == "Not Authorized to access secret on type Note"
    status, body = post(gw, {"query": "{ pipe(x: 1) }"}, bearer)
    assert body["data"] == {"pipe": None} and body["errors"][0]["errorType"] == "Unauthorized"
    status, body = post(gw, {"query": "{ __schema { queryType { name fields { name } } } }"}, bearer)
    assert status == 200 and body["data"]["__schema"]["queryType"]["name"] == "Query" and "errors" not in body


def test_bad_oidc_tokens(gateway: Any, rsa_key: Any) -> None:
    gw, _ = gateway
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cases = {
        "expired": (token(rsa_key, exp=int(time.time()) - 5), "Token has expired."),
        "other key": (token(other), "Valid authorization header not provided."),
        "other client": (token(rsa_key, aud="client-2"), "You are not authorized to make this call."),
    }
    for name, (bad, message) in cases.items():
        status, body = post(gw, {"query": "{ notes { id } }"}, {"x-api-key": None, "authorization": bad})
        assert (status, body["errors"][0]["message"]) == (401, message), name


def test_cognito_groups_from_the_user_pool(gateway: Any, rsa_key: Any) -> None:
    gw, _ = gateway
    pool_issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
    for groups, expected in ((["admin"], "admin only"), (["users"], None)):
        tok = token(rsa_key, iss=pool_issuer, **{"cognito:groups": groups, "cognito:username": "ada",
                                                 "token_use": "id"})
        status, body = post(gw, {"query": "{ admins }"}, {"x-api-key": None, "authorization": tok})
        assert status == 200 and body["data"] == {"admins": expected}


def test_lambda_authorizer(gateway: Any) -> None:
    gw, lambdas = gateway
    status, body = post(gw, {"query": "{ members }"}, {"x-api-key": None, "authorization": "let-me-in"})
    assert (status, body) == (200, {"data": {"members": "members"}})
    name, event = lambdas.events[0]
    assert name == "authorizer-fn" and event["authorizationToken"] == "let-me-in"
    assert event["requestContext"]["apiId"] == "api1" and event["requestContext"]["queryString"] == "{ members }"
    status, body = post(gw, {"query": "{ notes { id } }"}, {"x-api-key": None, "authorization": "let-me-in"})
    assert body["errors"][0]["message"] == "Not Authorized to access notes on type Query"  # deniedFields
    calls = len(lambdas.events)
    assert post(gw, {"query": "{ members }"}, {"x-api-key": None, "authorization": "let-me-out"})[0] == 401
    assert post(gw, {"query": "{ members }"}, {"x-api-key": None, "authorization": "nope"})[0] == 401
    assert len(lambdas.events) == calls + 1  # the validation expression refused "nope" without a call
    gw.auth.providers[3] = gw.auth.modes["AWS_LAMBDA"] = AuthProvider(
        "AWS_LAMBDA", authorizer_function="authorizer-fn", result_ttl_s=300)
    for _ in range(3):  # with a TTL the first answer is reused for that token
        assert post(gw, {"query": "{ members }"}, {"x-api-key": None, "authorization": "let-me-in"})[0] == 200
    assert len(lambdas.events) == calls + 2


def test_jwks_shared_cache_refetches_for_a_rotated_key(gateway: Any, rsa_key: Any, jwks: dict[str, Any]) -> None:
    """The HTTP APIs' :class:`auth_jwt.JwksCache`: keys fetched once per issuer; a kid the cached keys lack
    fetches them again (rotation), at most every ``REFRESH_AFTER_S``."""
    gw, _ = gateway
    now = [0.0]
    served = [{"keys": []}]  # before the rotation, the issuer's keys lack k1
    fetch = Documents(lambda url: served[-1])
    gw.auth.jwks = auth_jwt.JwksCache(fetch=fetch, clock=lambda: now[0])
    bearer = {"x-api-key": None, "authorization": token(rsa_key)}
    status, body = post(gw, {"query": '{ note(id: "n1") { id } }'}, bearer)
    assert (status, body["errors"][0]["message"]) == (401, "Valid authorization header not provided.")
    served.append(jwks)  # the issuer rotates its keys
    assert post(gw, {"query": '{ note(id: "n1") { id } }'}, bearer)[0] == 401  # fetched a moment ago: not again
    now[0] += auth_jwt.REFRESH_AFTER_S + 1
    for _ in range(3):
        status, body = post(gw, {"query": '{ note(id: "n1") { id } }'}, bearer)
        assert status == 200, body
    assert fetch.urls == [f"{ISSUER}/.well-known/openid-configuration", f"{ISSUER}/jwks"] * 2


def test_bearer_prefix_and_a_token_of_no_configured_issuer(gateway: Any, rsa_key: Any) -> None:
    gw, lambdas = gateway
    status, body = post(gw, {"query": '{ note(id: "n1") { id } }'},
                        {"x-api-key": None, "authorization": f"Bearer {token(rsa_key)}"})
    assert (status, body) == (200, {"data": {"note": {"id": "n1"}}})
    stranger = token(rsa_key, iss="https://stranger.example.com")  # not a configured issuer: Lambda mode's
    status, body = post(gw, {"query": "{ members }"}, {"x-api-key": None, "authorization": stranger})
    assert status == 401 and [name for name, _ in lambdas.events] == ["notes-fn"]  # refused by the expression


def signed(body: bytes, secret: str = "local-secret", when: float | None = None, key: str = "AKIDLOCAL",
           session_token: str | None = None, service: str = "appsync") -> HttpRequest:
    """A request signed by botocore's own SigV4 signer, as boto3 / AWS SDKs sign AppSync calls."""
    from unittest import mock

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url="http://127.0.0.1:4000/graphql", data=body,
                         headers={"content-type": "application/json"})
    signer = SigV4Auth(Credentials(key, secret, session_token), service, "us-east-1")
    if when is None:
        signer.add_auth(request)
    else:
        from datetime import UTC, datetime

        with mock.patch("botocore.auth.get_current_datetime", lambda: datetime.fromtimestamp(when, UTC)):
            signer.add_auth(request)
    headers = [("host", "127.0.0.1:4000"), *request.headers.items()]
    return HttpRequest("POST", "/graphql", headers=headers, body=body, source_ip="10.0.0.9")


def test_iam_sigv4_callers(gateway: Any) -> None:
    gw, _ = gateway
    body = json.dumps({"query": "{ iam }"}).encode()
    response = gw.handle(signed(body))
    assert (response.status, json.loads(response.body)) == (200, {"data": {"iam": "arn:aws:iam::123456789012:user/me"}})
    assert gw.handle(signed(body, when=time.time() - 600)).status == 200  # AWS's 15 minutes, not API Gateway's 5
    refused = [signed(body, secret="wrong"), signed(body, when=time.time() - 3600), signed(body, key="AKIDOTHER"),
               signed(body, service="execute-api")]
    tampered = signed(body)
    tampered.body = json.dumps({"query": "{ iam members }"}).encode()
    for request in [*refused, tampered]:
        response = gw.handle(request)
        assert response.status == 401 and json.loads(response.body)["errors"][0]["errorType"] == "UnauthorizedException"


def test_iam_identity_pool_credentials_and_their_policies(gateway: Any) -> None:
    """Credentials an identity pool issued (an STS session): accepted with their session token, ``identity``
    names the pool and the identity, and the role's policies decide which fields the caller may read."""
    gw, _ = gateway
    body = json.dumps({"query": "{ caller iam }"}).encode()
    response = gw.handle(signed(body, "pool-secret", key="ASIAPOOL", session_token="pool-session"))
    result = json.loads(response.body)
    assert response.status == 200 and result["data"]["iam"] is None
    assert [(e["path"], e["errorType"]) for e in result["errors"]] == [(["iam"], "Unauthorized")]  # no appsync:GraphQL
    assert json.loads(result["data"]["caller"]) == {
        "accountId": "123456789012", "cognitoIdentityPoolId": "us-east-1:pool-1", "cognitoIdentityId": "us-east-1:id-1",
        "sourceIp": ["10.0.0.9"], "username": "AROAROLE:CognitoIdentityCredentials",
        "userArn": "arn:aws:sts::123456789012:assumed-role/Unauth/CognitoIdentityCredentials",
        "cognitoIdentityAuthType": "unauthenticated", "cognitoIdentityAuthProvider": None}
    for request in (signed(body, "pool-secret", key="ASIAPOOL"),  # the session token left out
                    signed(body, "pool-secret", key="ASIAPOOL", session_token="another-session")):
        assert gw.handle(request).status == 401


def test_data_source_errors_by_template_version(gateway: Any) -> None:
    status, body = post(gateway[0], {"query": "{ old handled }"})
    assert status == 200 and body["data"] == {"old": None, "handled": "handled: cannot add"}
    assert [(e["path"], e["errorType"], e["message"]) for e in body["errors"]] == \
        [(["old"], "Lambda:Unhandled", "cannot add")]
