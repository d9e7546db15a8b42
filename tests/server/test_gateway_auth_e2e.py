"""Authorizers end to end over real sockets: LocalCloud + deploy + ``cloud.serve(app)`` + urllib.

One cloud and one module-wide deployment of three apps: the ``api-auth-cognito`` example (a Cognito user
pool authorizer and an IAM route), the ``api-auth-jwt`` example pointed at a local OIDC issuer (a tiny HTTP
server serving discovery + JWKS of a key made here), and a small app with Lambda authorizers.
"""

from __future__ import annotations

import base64
import json
import os
import re
import runpy
import shutil
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from jwt_issuer import BlackHole, Issuer

from sstdirect import Api, App
from sstdirect.local import LocalCloud
from sstdirect.overrides import Overrides, declaring

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
AUDIENCE = "https://api.example.com"
PASSWORD = "Corr3ct-Horse!"

AUTHORIZERS = {
    "simple.py": """
        import uuid

        def main(event, context):
            token = event["headers"].get("authorization")
            if token == "boom":
                raise RuntimeError("authorizer crashed")
            return {"isAuthorized": token.startswith("let-me-in"),
                    "context": {"user": "u-" + token, "n": 7, "nonce": uuid.uuid4().hex}}
    """,
    "policy.py": """
        def main(event, context):
            effect = "Allow" if event["authorizationToken"] == "allow" else "Deny"
            base = event["methodArn"].split("/", 1)[0]
            return {"principalId": "p-1", "context": {"tier": "gold"},
                    "policyDocument": {"Version": "2012-10-17", "Statement": [
                        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": [base + "/*/GET/*"]}]}}
    """,
    "echo.py": """
        import json

        def main(event, context):
            return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
    """,
    "context.py": """
        import json

        def main(event, context):
            return {"statusCode": 200, "body": json.dumps(event["requestContext"])}
    """,
}


def _request(method: str, url: str, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    req = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    try:
        with OPENER.open(req, timeout=30) as r:
            status, hdrs, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    try:
        return status, hdrs, json.loads(raw) if raw else None
    except ValueError:
        return status, hdrs, raw.decode()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("auth")
    for name in ("api-auth-cognito", "api-auth-jwt"):
        shutil.copytree(EXAMPLES / name, tmp / name)
    src = tmp / "lambda-auth" / "src"
    src.mkdir(parents=True)
    for name, code in AUTHORIZERS.items():
        (src / name).write_text(textwrap.dedent(code))
    issuer = Issuer()
    oidc = issuer.serve()
    hole = BlackHole()  # an issuer that accepts connections and never answers
    saved_env = {k: os.environ.get(k) for k in ("ISSUER", "AUDIENCE")}
    os.environ.update(ISSUER=issuer.url, AUDIENCE=AUDIENCE)
    try:
        with LocalCloud() as cloud:
            cloud.reset()
            with declaring(Overrides(endpoint_url=cloud.endpoint_url, region=cloud.region, session=cloud.session(),
                                     state_dir=str(tmp / "state"))):
                cognito = runpy.run_path(str(tmp / "api-auth-cognito" / "app.py"), run_name="__example__")
                cognito["app"].deploy()
                jwt_app = runpy.run_path(str(tmp / "api-auth-jwt" / "app.py"), run_name="__example__")
                jwt_app["app"].deploy()
                app = App("lambdaauth", stage="dev", root=tmp / "lambda-auth")
                api = Api(app, "Api", authorizers={
                    "simple": {"type": "lambda", "function": "src/simple.main", "response_types": ["simple"]},
                    "cached": {"type": "lambda", "function": "src/simple.main", "response_types": ["simple"],
                               "results_cache_ttl": 300},
                    "policy": {"type": "lambda", "function": "src/policy.main"},
                    "down": {"type": "jwt", "jwt": {"issuer": hole.url, "audience": [AUDIENCE]}},
                    "up": {"type": "jwt", "jwt": {"issuer": issuer.url, "audience": [AUDIENCE]}},
                }, routes={
                    "GET /simple": {"function": "src/echo.main", "authorizer": "simple"},
                    "GET /cached": {"function": "src/echo.main", "authorizer": "cached"},
                    "GET /policy": {"function": "src/echo.main", "authorizer": "policy"},
                    "POST /policy": {"function": "src/echo.main", "authorizer": "policy"},
                    "GET /down": {"function": "src/echo.main", "authorizer": "down"},
                    "GET /up": {"function": "src/echo.main", "authorizer": "up"},
                    "GET /iam": {"function": "src/context.main", "authorizer": "iam"},
                })
                app.deploy()
            with cloud.serve(cognito["app"]) as cgw, cloud.serve(jwt_app["app"]) as jgw, cloud.serve(app) as lgw:
                yield {"cloud": cloud, "cognito": cognito, "issuer": issuer, "hole": hole,
                       "cognito_url": cgw.url(cognito["api"]), "jwt_url": jgw.url(jwt_app["api"]),
                       "lambda_url": lgw.url(api)}
    finally:
        oidc.shutdown()
        hole.close()
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def user(served: dict[str, Any]) -> dict[str, str]:
    """A Cognito user signed up and signed in on the embedded AWS with the app's own client."""
    auth = served["cognito"]["auth"]
    idp = served["cloud"].client("cognito-idp")
    email = "alice@example.com"
    idp.admin_create_user(UserPoolId=auth.user_pool_id, Username=email, TemporaryPassword="Temp-Passw0rd!",
                          UserAttributes=[{"Name": "email", "Value": email}], MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=auth.user_pool_id, Username=email, Password=PASSWORD, Permanent=True)
    tokens = idp.initiate_auth(ClientId=auth.user_pool_client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})["AuthenticationResult"]
    return {"email": email, "id": tokens["IdToken"], "access": tokens["AccessToken"]}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _moto_signed(**claims: Any) -> str:
    """A token signed with the embedded AWS's own Cognito key (so only the claims can be wrong)."""
    from moto.utilities.utils import load_resource

    key = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})


def _unauthorized(status: int, headers: Any, body: Any) -> None:
    assert (status, body) == (401, {"message": "Unauthorized"})
    assert headers["www-authenticate"].startswith("Bearer")


# --- Cognito user pool authorizer -----------------------------------------------------------------


def test_cognito_user_reaches_the_protected_route(served: dict[str, Any], user: dict[str, str]) -> None:
    url = f"{served['cognito_url']}/private"
    status, _, body = _request("GET", url, _bearer(user["id"]))
    assert (status, body) == (200, {"message": f"Hello {user['email']}!"})  # the email claim, from the event
    status, _, body = _request("GET", url, {"Authorization": user["access"]})  # client_id, no aud; no "Bearer "
    assert status == 200 and body["message"].startswith("Hello ")
    assert _request("GET", f"{served['cognito_url']}/public")[::2] == (200, "Hello stranger!")


def test_cognito_refusals(served: dict[str, Any], user: dict[str, str]) -> None:
    url = f"{served['cognito_url']}/private"
    status, headers, body = _request("GET", url)
    _unauthorized(status, headers, body)
    assert headers["www-authenticate"] == "Bearer"
    header, payload, signature = user["id"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "email": "mallory@example.com"}).encode())
    _unauthorized(*_request("GET", url, _bearer(f"{header}.{forged.rstrip(b'=').decode()}.{signature}")))
    expired = _moto_signed(**{**claims, "exp": int(time.time()) - 60, "iat": int(time.time()) - 3700})
    status, headers, body = _request("GET", url, _bearer(expired))
    _unauthorized(status, headers, body)
    assert "expired" in headers["www-authenticate"]
    # a real token of the same pool, but for another app client: another audience
    auth = served["cognito"]["auth"]
    idp = served["cloud"].client("cognito-idp")
    other = idp.create_user_pool_client(UserPoolId=auth.user_pool_id, ClientName="other",
                                        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    tokens = idp.initiate_auth(ClientId=other["UserPoolClient"]["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": user["email"], "PASSWORD": PASSWORD})
    status, headers, body = _request("GET", url, _bearer(tokens["AuthenticationResult"]["IdToken"]))
    _unauthorized(status, headers, body)
    assert 'error_description="the token does not have a valid audience"' in headers["www-authenticate"]


# --- IAM (SigV4) ------------------------------------------------------------------------------------


def _sigv4(url: str, access_key: str, secret: str, token: str | None = None, presign: bool = False) -> dict[str, Any]:
    request = AWSRequest(method="GET", url=url)
    creds = Credentials(access_key, secret, token)
    (SigV4QueryAuth(creds, "execute-api", "us-east-1") if presign
     else SigV4Auth(creds, "execute-api", "us-east-1")).add_auth(request)
    return {"url": request.url, "headers": dict(request.headers.items())}


def test_iam_route_with_the_clouds_credentials(served: dict[str, Any]) -> None:
    url = f"{served['cognito_url']}/iam"
    creds = served["cloud"].credentials
    for presign in (False, True):
        signed = _sigv4(url, creds.access_key_id, creds.secret_access_key, presign=presign)
        status, _, body = _request("GET", signed["url"], signed["headers"])
        assert (status, body) == (200, {"message": "Hello arn:aws:iam::123456789012:user/sstdirect-local!"})
    signed = _sigv4(url, creds.access_key_id, "wrong-secret")
    assert _request("GET", signed["url"], signed["headers"])[::2] == (403, {"message": "Forbidden"})
    assert _request("GET", url)[::2] == (403, {"message": "Forbidden"})


def test_iam_event_of_the_clouds_own_key_pair_names_an_iam_user(served: dict[str, Any]) -> None:
    """The key pair one deploys with belongs to an IAM user: ``userArn`` ``arn:aws:iam::ACCT:user/NAME`` and
    ``callerId``/``userId`` ``AIDA…`` (IAM User Guide, "IAM identifiers", unique-id prefixes); local before:
    ``arn:aws:sts::ACCT:user/moto`` with the access key id as ``callerId``. The ``apiId`` is 10 lower-case
    letters and digits, the host's first label (``lsw1ro4ipb`` in aws-powertools/powertools-lambda-typescript
    ``tests/events/apigw-http/jwt-authorizer-auth.json``)."""
    creds = served["cloud"].credentials
    signed = _sigv4(f"{served['lambda_url']}/iam", creds.access_key_id, creds.secret_access_key)
    status, _, context = _request("GET", signed["url"], signed["headers"])
    assert status == 200, context
    iam = context["authorizer"]["iam"]
    assert iam["userArn"] == "arn:aws:iam::123456789012:user/sstdirect-local"
    assert iam["callerId"] == iam["userId"] and re.fullmatch(r"AIDA[A-Z2-7]{17}", iam["userId"])
    assert iam["accessKey"] == creds.access_key_id and iam["cognitoIdentity"] is None
    me = served["cloud"].client("sts").get_caller_identity()
    assert (me["Arn"], me["UserId"]) == (iam["userArn"], iam["userId"])
    assert re.fullmatch(r"[a-z0-9]{10}", context["apiId"]) and context["domainPrefix"] == context["apiId"]


def test_iam_event_of_identity_pool_credentials_carries_the_sign_in(served: dict[str, Any],
                                                                   user: dict[str, str]) -> None:
    """``authorizer.iam.cognitoIdentity.amr`` of a user-pool identity: ``authenticated``, the provider, and
    ``{provider}:CognitoSignIn:{sub}`` -- what ``$context.identity.cognitoAuthenticationProvider`` joins (API
    Gateway developer guide, "Customize HTTP API access logs"); local before: only the first two."""
    auth, cloud = served["cognito"]["auth"], served["cloud"]
    provider = f"cognito-idp.us-east-1.amazonaws.com/{auth.user_pool_id}"
    identity = cloud.client("cognito-identity")
    logins = {provider: user["id"]}
    identity_id = identity.get_id(IdentityPoolId=auth.identity_pool_id, Logins=logins)["IdentityId"]
    creds = identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]
    role = "dev-api-auth-cognito-Auth-AuthRole"
    cloud.client("iam").put_role_policy(RoleName=role, PolicyName="invoke-lambdaauth", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
                                                "Resource": "arn:aws:execute-api:us-east-1:*:*/*/GET/iam"}]}))
    signed = _sigv4(f"{served['lambda_url']}/iam", creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"])
    status, _, context = _request("GET", signed["url"], signed["headers"])
    assert status == 200, context
    sub = jwt.decode(user["id"], options={"verify_signature": False})["sub"]
    assert context["authorizer"]["iam"]["cognitoIdentity"] == {
        "amr": ["authenticated", provider, f"{provider}:CognitoSignIn:{sub}"],
        "identityId": identity_id, "identityPoolId": auth.identity_pool_id}


def test_iam_route_with_identity_pool_credentials(served: dict[str, Any], user: dict[str, str]) -> None:
    auth = served["cognito"]["auth"]
    identity = served["cloud"].client("cognito-identity")
    logins = {f"cognito-idp.us-east-1.amazonaws.com/{auth.user_pool_id}": user["id"]}
    identity_id = identity.get_id(IdentityPoolId=auth.identity_pool_id, Logins=logins)["IdentityId"]
    creds = identity.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]
    assert creds["AccessKeyId"] != "TESTACCESSKEY12345"  # a key pair of its own, not moto's fixed one
    url = f"{served['cognito_url']}/iam"
    signed = _sigv4(url, creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"])
    status, _, body = _request("GET", signed["url"], signed["headers"])
    role = "dev-api-auth-cognito-Auth-AuthRole"
    assert (status, body) == (200, {"message": f"Hello arn:aws:sts::123456789012:assumed-role/{role}/"
                                               f"CognitoIdentityCredentials!"})
    signed = _sigv4(url, creds["AccessKeyId"], "not-the-secret", creds["SessionToken"])
    assert _request("GET", signed["url"], signed["headers"])[::2] == (403, {"message": "Forbidden"})
    signed = _sigv4(url, creds["AccessKeyId"], creds["SecretKey"])  # no session token
    assert _request("GET", signed["url"], signed["headers"])[::2] == (403, {"message": "Forbidden"})
    signed = _sigv4(url, creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"], presign=True)
    assert _request("GET", signed["url"], signed["headers"])[0] == 200


def test_iam_route_checks_the_callers_policies(served: dict[str, Any], user: dict[str, str]) -> None:
    """Guests' role has no execute-api permission (only signed-in users' has, attach_permissions_for_auth_users);
    an IAM user may call the route once a policy of its own allows it."""
    auth, cloud = served["cognito"]["auth"], served["cloud"]
    url = f"{served['cognito_url']}/iam"
    identity = cloud.client("cognito-identity")
    guest = identity.get_id(IdentityPoolId=auth.identity_pool_id)["IdentityId"]
    creds = identity.get_credentials_for_identity(IdentityId=guest)["Credentials"]
    signed = _sigv4(url, creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"])
    assert _request("GET", signed["url"], signed["headers"])[::2] == (403, {"message": "Forbidden"})

    iam = cloud.client("iam")
    iam.create_user(UserName="bob")
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    signed = _sigv4(url, key["AccessKeyId"], key["SecretAccessKey"])
    assert _request("GET", signed["url"], signed["headers"])[::2] == (403, {"message": "Forbidden"})
    api_id = served["cognito"]["api"].id
    iam.put_user_policy(UserName="bob", PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke",
                                                "Resource": f"arn:aws:execute-api:us-east-1:*:{api_id}/*/GET/iam"}]}))
    signed = _sigv4(url, key["AccessKeyId"], key["SecretAccessKey"])
    status, _, body = _request("GET", signed["url"], signed["headers"])
    assert (status, body) == (200, {"message": "Hello arn:aws:iam::123456789012:user/bob!"})


# --- third-party JWT issuer (OIDC discovery over HTTP) ------------------------------------------------


def test_jwt_issuer_round_trip(served: dict[str, Any]) -> None:
    issuer: Issuer = served["issuer"]
    url = f"{served['jwt_url']}/private"
    status, _, body = _request("GET", url, _bearer(issuer.token(aud=AUDIENCE, sub="auth0|42")))
    assert (status, body) == (200, {"sub": "auth0|42", "scopes": ["read:notes", "write:notes"]})
    assert "/.well-known/openid-configuration" in issuer.requests and "/jwks.json" in issuer.requests
    status, _, body = _request("GET", url, _bearer(issuer.token(aud=AUDIENCE, scope="write:notes")))
    assert (status, body) == (403, {"message": "Forbidden"})


@pytest.mark.parametrize(("case", "make"), [
    ("alg none", lambda i: i.unsigned_token(aud=AUDIENCE)),
    ("HS256 with the public key", lambda i: i.hs256_with_public_key(aud=AUDIENCE)),
    ("unknown kid", lambda i: i.token(aud=AUDIENCE, headers={"kid": "rotated-away"})),
    ("wrong iss", lambda i: i.token(aud=AUDIENCE, iss="https://evil.example.com/")),
    ("nbf in the future", lambda i: i.token(aud=AUDIENCE, nbf=int(time.time()) + 600)),
    ("expired", lambda i: i.token(aud=AUDIENCE, exp=int(time.time()) - 5)),
    ("other audience", lambda i: i.token(aud="https://other.example.com")),
    ("another key, same kid", lambda i: Issuer(i.url, i.kid).token(aud=AUDIENCE)),
])
def test_jwt_security_refusals(served: dict[str, Any], case: str, make: Any) -> None:
    _unauthorized(*_request("GET", f"{served['jwt_url']}/private", _bearer(make(served["issuer"]))))


def test_black_hole_issuer_costs_only_its_own_route(served: dict[str, Any]) -> None:
    """Two JWT routes of one API: /down's issuer accepts connections and never answers, /up's is served.
    Asked concurrently over real sockets, /up answers at once while /down's key fetch hangs; /down's
    requests share one fetch (one connection) and cost one 1.5 s timeout, then 401 saying why; within the
    negative-cache window the next /down is refused at once, nothing sent."""
    issuer, hole = served["issuer"], served["hole"]
    base = served["lambda_url"]
    results: dict[str, tuple[int, Any, float]] = {}

    def call(name: str, path: str) -> None:
        started = time.monotonic()
        status, headers, _ = _request("GET", f"{base}{path}", _bearer(issuer.token(aud=AUDIENCE)))
        results[name] = (status, headers.get("www-authenticate"), time.monotonic() - started)

    call("warm", "/up")  # the route's function started once: what is timed below is the authorizer
    assert results["warm"][0] == 200, results
    slow = [threading.Thread(target=call, args=(f"down{i}", "/down")) for i in range(3)]
    for thread in slow:
        thread.start()
    assert hole.accepted.wait(10), "the black-hole issuer was never asked"
    fast = [threading.Thread(target=call, args=(f"up{i}", "/up")) for i in range(3)]
    for thread in fast:
        thread.start()
    for thread in fast + slow:
        thread.join(30)
    reached = 'Bearer scope="" error="invalid_token" error_description="the issuer could not be reached"'
    for i in range(3):
        status, _, elapsed = results[f"up{i}"]
        assert status == 200 and elapsed < 1.0, results
        status, challenge, elapsed = results[f"down{i}"]
        assert (status, challenge) == (401, reached), results
        assert elapsed < 1.5 + 1.0, results
    assert hole.connections == 1
    call("again", "/down")
    assert results["again"][:2] == (401, reached) and results["again"][2] < 0.5, results
    assert hole.connections == 1


@pytest.mark.parametrize("expires", [604801, 10**30, -1, "+60", "abc"])
def test_iam_route_refuses_absurd_presigned_expiry(served: dict[str, Any], expires: Any) -> None:
    """Presigned by botocore with that X-Amz-Expires (so the signature is right): 403, never 500 or a drop."""
    creds = served["cloud"].credentials
    request = AWSRequest(method="GET", url=f"{served['cognito_url']}/iam")
    SigV4QueryAuth(Credentials(creds.access_key_id, creds.secret_access_key), "execute-api", "us-east-1",
                   expires=expires).add_auth(request)
    assert _request("GET", request.url)[::2] == (403, {"message": "Forbidden"})


# --- Lambda authorizers -----------------------------------------------------------------------------


def test_lambda_authorizer_simple_responses(served: dict[str, Any]) -> None:
    url = f"{served['lambda_url']}/simple"
    status, _, first = _request("GET", url, {"Authorization": "let-me-in"})
    assert status == 200 and {k: first["lambda"][k] for k in ("user", "n")} == {"user": "u-let-me-in", "n": 7}
    second = _request("GET", url, {"Authorization": "let-me-in"})[2]
    assert second["lambda"]["nonce"] != first["lambda"]["nonce"]  # TTL 0: asked every time
    assert _request("GET", url, {"Authorization": "nope"})[::2] == (403, {"message": "Forbidden"})
    assert _request("GET", url)[::2] == (401, {"message": "Unauthorized"})
    assert _request("GET", url, {"Authorization": "boom"})[::2] == (500, {"message": "Internal Server Error"})


def test_lambda_authorizer_iam_policy_responses(served: dict[str, Any]) -> None:
    url = f"{served['lambda_url']}/policy"
    status, _, body = _request("GET", url, {"Authorization": "allow"})
    assert (status, body) == (200, {"lambda": {"tier": "gold"}})
    assert _request("POST", url, {"Authorization": "allow"})[::2] == (403, {"message": "Forbidden"})  # GET only
    assert _request("GET", url, {"Authorization": "deny"})[::2] == (403, {"message": "Forbidden"})


def test_lambda_authorizer_results_cached_for_the_ttl(served: dict[str, Any]) -> None:
    url = f"{served['lambda_url']}/cached"
    first = _request("GET", url, {"Authorization": "let-me-in-cached"})
    second = _request("GET", url, {"Authorization": "let-me-in-cached"})
    assert first[0] == second[0] == 200 and first[2] == second[2]  # the same nonce: the cached answer
    other = _request("GET", url, {"Authorization": "let-me-in-other"})
    assert other[0] == 200 and other[2]["lambda"]["nonce"] != first[2]["lambda"]["nonce"]  # another identity
