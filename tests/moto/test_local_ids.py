"""Ids and identities the embedded AWS hands out look like AWS's, in both modes (``mock_aws`` after
``install()``, and a ``LocalCloud`` server): API ids, the cloud's own caller, IAM user ids, and the ``amr`` of
identity-pool credentials.

Recorded shapes compared against:

* HTTP API ``apiId`` ``lsw1ro4ipb`` (aws-powertools/powertools-lambda-typescript
  ``tests/events/apigw-http/jwt-authorizer-auth.json``, a real capture) and WebSocket ``apiId`` ``dl7ptocha9``
  (aws/aws-lambda-go ``events/testdata/apigw-websocket-request-disconnect.json``, a real capture): 10 lower-case
  letters and digits, the host's first label.
* AppSync ``apiId`` ``lxz775lwdrgcndgz3nurvac7oa`` (AWS CDK ``aws_appsync.GraphqlApi.apiId`` documentation), 26
  lower-case letters and digits, and the endpoint ``https://{apiId}.appsync-api.{region}.amazonaws.com/graphql``.
* IAM unique ids: ``AIDA`` for users, ``AROA`` for roles, 21 characters (IAM User Guide, "IAM identifiers",
  "Understanding unique ID prefixes"); a user's ARN is ``arn:aws:iam::{account}:user/{name}``.
* ``$context.identity.cognitoAuthenticationProvider`` of a user-pool identity is
  ``cognito-idp.{region}.amazonaws.com/{pool},cognito-idp.{region}.amazonaws.com/{pool}:CognitoSignIn:{sub}``
  (API Gateway developer guide, "Customize HTTP API access logs", http-api-logging-variables.html); the 2.0
  ``authorizer.iam.cognitoIdentity.amr`` carries the same after ``authenticated`` (shared/SEMANTICS.md §11).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

Clients = Callable[..., Any]
ACCOUNT = "123456789012"
REGION = "us-east-1"
POOL_PROVIDER = f"cognito-idp.{REGION}.amazonaws.com/{REGION}_pool"


@pytest.fixture
def aws(clients: Clients) -> Clients:
    return clients


@pytest.mark.parametrize("protocol", ["HTTP", "WEBSOCKET"])
def test_http_and_websocket_api_ids_are_ten_lowercase_alphanumerics(aws: Clients, protocol: str) -> None:
    gw = aws("apigatewayv2")
    extra = {"RouteSelectionExpression": "$request.body.action"} if protocol == "WEBSOCKET" else {}
    created = gw.create_api(Name="ids", ProtocolType=protocol, Tags={"app": "ids"}, **extra)
    api_id = created["ApiId"]
    assert re.fullmatch(r"[a-z0-9]{10}", api_id), api_id  # moto: 8 lower-case letters
    assert created["ApiEndpoint"].split("://", 1)[1].split(".", 1)[0] == api_id
    assert gw.get_api(ApiId=api_id)["ApiId"] == api_id
    arn = f"arn:aws:apigateway:{REGION}::/apis/{api_id}"
    assert gw.get_tags(ResourceArn=arn)["Tags"] == {"app": "ids"}  # the tags follow the new id
    assert len({gw.create_api(Name=f"n{i}", ProtocolType=protocol, **extra)["ApiId"] for i in range(5)}) == 5


def test_appsync_api_id_is_26_characters_and_the_endpoints_host(aws: Clients) -> None:
    appsync = aws("appsync")
    api = appsync.create_graphql_api(name="ids", authenticationType="API_KEY", tags={"app": "ids"})["graphqlApi"]
    api_id = api["apiId"]
    assert re.fullmatch(r"[a-z0-9]{26}", api_id), api_id  # moto: a UUID
    assert api["uris"]["GRAPHQL"] == f"https://{api_id}.appsync-api.{REGION}.amazonaws.com/graphql"
    assert api["uris"]["REALTIME"] == f"wss://{api_id}.appsync-realtime-api.{REGION}.amazonaws.com/graphql"
    assert api["arn"] == f"arn:aws:appsync:{REGION}:{ACCOUNT}:apis/{api_id}"
    assert appsync.get_graphql_api(apiId=api_id)["graphqlApi"]["uris"] == api["uris"]
    assert appsync.list_tags_for_resource(resourceArn=api["arn"])["tags"] == {"app": "ids"}


def test_the_clouds_own_caller_is_an_iam_user(aws: Clients) -> None:
    """moto named ``arn:aws:sts::{account}:user/moto`` with ``UserId`` an access key id; STS and the gateway's
    principal lookup now agree on one IAM user."""
    from sstdirect.local.ext.principals import CLOUD_USER_NAME, EmbeddedPrincipals

    me = aws("sts").get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{CLOUD_USER_NAME}"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", me["UserId"]), me["UserId"]
    principal = EmbeddedPrincipals("testing", "testing", ACCOUNT)("testing")
    assert principal is not None and (principal.user_arn, principal.user_id) == (me["Arn"], me["UserId"])


def test_iam_user_ids_start_with_aida(aws: Clients) -> None:
    from sstdirect.local.ext.principals import EmbeddedPrincipals

    iam = aws("iam")
    user = iam.create_user(UserName="bob")["User"]
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", user["UserId"]), user["UserId"]  # moto: 20 lower-case characters
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    principal = EmbeddedPrincipals("testing", "testing", ACCOUNT)(key["AccessKeyId"])
    assert principal is not None and principal.user_id == user["UserId"]
    assert principal.user_arn == f"arn:aws:iam::{ACCOUNT}:user/bob"


def _token(sub: str) -> str:
    """An unsigned JWT carrying ``sub`` (the identity pool reads the claim; moto's GetId checks no token)."""
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'kid': 'dummy'})}.{part({'sub': sub, 'token_use': 'id'})}.sig"


def test_identity_pool_credentials_carry_the_user_pool_sign_in_in_amr(aws: Clients) -> None:
    from sstdirect.local.ext.cognitoidentity import issued_identity
    from sstdirect.local.ext.principals import EmbeddedPrincipals
    from sstdirect.local.gateway.auth import caller_identity
    from sstdirect.local.gateway.auth_iam import iam_context

    ci, iam = aws("cognito-identity"), aws("iam")
    pool = ci.create_identity_pool(IdentityPoolName="ids", AllowUnauthenticatedIdentities=True)["IdentityPoolId"]
    role = iam.create_role(RoleName="auth", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": role})
    sub = "d2f50444-8d2a-4b0b-9a53-1e2c3d4e5f60"
    logins = {POOL_PROVIDER: _token(sub)}
    identity_id = ci.get_id(IdentityPoolId=pool, Logins=logins)["IdentityId"]
    creds = ci.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)["Credentials"]
    expected_amr = ["authenticated", POOL_PROVIDER, f"{POOL_PROVIDER}:CognitoSignIn:{sub}"]
    assert issued_identity(creds["AccessKeyId"])["amr"] == expected_amr  # local before: only the first two

    principal = EmbeddedPrincipals("testing", "testing", ACCOUNT)(creds["AccessKeyId"])
    assert principal is not None
    assert iam_context(principal)["iam"]["cognitoIdentity"]["amr"] == expected_amr  # 2.0 authorizer.iam
    v1 = caller_identity(principal)  # 1.0 / WebSocket requestContext.identity
    assert v1["cognitoAuthenticationType"] == "authenticated"
    assert v1["cognitoAuthenticationProvider"] == f"{POOL_PROVIDER},{POOL_PROVIDER}:CognitoSignIn:{sub}"
