"""The Cognito construct on moto (in-process ``mock_aws`` + sstdirect's extensions): what AWS holds."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from sstdirect import Api, App, Cognito, DeployError, Function
from sstdirect.aws import Aws, is_mutating
from sstdirect.constructs.cognito import sign_in_config
from sstdirect.engine.resource import provider_for
from sstdirect.engine.values import freeze

REGION = "us-east-1"
ACCOUNT = "123456789012"
HANDLER = "def main(event, context):\n    return event\n"
PASSWORD = "Sup3r-secret!"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    for name in ("pre", "post", "list", "other"):
        (tmp_path / "src" / f"{name}.py").write_text(HANDLER)
    return tmp_path


def make_app(session: boto3.Session, root: Path) -> App:
    return App("notes", stage="dev", session=session, root=root)


def writes(calls: Any) -> dict[str, int]:
    return {k: v for k, v in calls.items() if is_mutating(k)}


def jwt_payload(token: str) -> dict[str, Any]:
    """The claims of a JWT, decoded without verification."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def the_pool(aws: boto3.Session) -> dict[str, Any]:
    (summary,) = aws.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]
    return aws.client("cognito-idp").describe_user_pool(UserPoolId=summary["Id"])["UserPool"]


def the_provider(aws: boto3.Session) -> Aws:
    return Aws(region=REGION, session=aws)


def base(aws: boto3.Session) -> list[dict[str, Any]]:
    """Both identity-pool roles' base grant: SST's, with cognito-sync narrowed to the actions an identity's own
    credentials can call, on the caller's own identity (see tests/moto/test_security.py for where they come from)."""
    (pool,) = aws.client("cognito-identity").list_identity_pools(MaxResults=10)["IdentityPools"]
    identity = (f"arn:aws:cognito-sync:{REGION}:{ACCOUNT}:identitypool/{pool['IdentityPoolId']}/identity/"
                "${cognito-identity.amazonaws.com:sub}")
    return [{"Effect": "Allow", "Action": "mobileanalytics:PutEvents", "Resource": "*"},
            {"Effect": "Allow", "Action": [f"cognito-sync:{a}" for a in (
                "DeleteDataset", "DescribeDataset", "DescribeIdentityUsage", "ListDatasets", "ListRecords",
                "RegisterDevice", "SubscribeToDataset", "UnsubscribeFromDataset", "UpdateRecords")],
             "Resource": [identity, f"{identity}/*"]}]


def role_docs(aws: boto3.Session, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    iam = aws.client("iam")
    trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    policy = iam.get_role_policy(RoleName=name, PolicyName="sstdirect")["PolicyDocument"]
    return trust, policy


# --- what a deploy makes -----------------------------------------------------------------------


def test_deploy_makes_the_user_pool_client_identity_pool_and_roles(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    auth = Cognito(app, "Auth", login=["email"])
    result = app.deploy()
    idp, identity = aws.client("cognito-idp"), aws.client("cognito-identity")

    pool = the_pool(aws)
    assert pool["Name"] == "dev-notes-Auth"
    assert pool["UsernameAttributes"] == ["email"] and "AliasAttributes" not in pool
    assert pool["UsernameConfiguration"] == {"CaseSensitive": False}
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is False  # self sign-up
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["UserPoolTags"] == {"sstdirect:app": "notes", "sstdirect:stage": "dev",
                                    "sstdirect:id": "Auth/user-pool"}
    assert pool["VerificationMessageTemplate"]["EmailSubject"] == "Verify your new account"
    assert pool["AccountRecoverySetting"]["RecoveryMechanisms"] == [
        {"Priority": 1, "Name": "verified_phone_number"}, {"Priority": 2, "Name": "verified_email"}]
    assert pool["LambdaConfig"] == {}

    (summary,) = idp.list_user_pool_clients(UserPoolId=pool["Id"])["UserPoolClients"]
    client = idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=summary["ClientId"])["UserPoolClient"]
    assert "ClientSecret" not in client
    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
                                                   "ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH"]

    (ip_summary,) = identity.list_identity_pools(MaxResults=60)["IdentityPools"]
    ip = identity.describe_identity_pool(IdentityPoolId=ip_summary["IdentityPoolId"])
    assert ip["IdentityPoolName"] == "dev-notes-Auth" and ip["AllowUnauthenticatedIdentities"] is True
    assert ip["CognitoIdentityProviders"] == [{
        "ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{pool['Id']}", "ClientId": client["ClientId"],
        "ServerSideTokenCheck": False}]
    assert ip["IdentityPoolTags"]["sstdirect:id"] == "Auth/identity-pool"

    # outputs: plain str after deploy, recorded for app.outputs
    assert auth.user_pool_id == pool["Id"] == auth.id
    assert auth.user_pool_arn == pool["Arn"] == f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool['Id']}"
    assert auth.user_pool_client_id == client["ClientId"]
    assert auth.identity_pool_id == ip["IdentityPoolId"]
    assert auth.authenticated_role_arn == f"arn:aws:iam::{ACCOUNT}:role/dev-notes-Auth-AuthRole"
    assert auth.unauthenticated_role_arn == f"arn:aws:iam::{ACCOUNT}:role/dev-notes-Auth-UnauthRole"
    assert result.outputs["Auth"] == app.outputs["Auth"] == {
        "user_pool_id": pool["Id"], "user_pool_arn": pool["Arn"], "user_pool_client_id": client["ClientId"],
        "identity_pool_id": ip["IdentityPoolId"], "authenticated_role_arn": auth.authenticated_role_arn,
        "unauthenticated_role_arn": auth.unauthenticated_role_arn}
    assert all(isinstance(v, str) for v in result.outputs["Auth"].values())

    roles = identity.get_identity_pool_roles(IdentityPoolId=ip["IdentityPoolId"])
    assert roles["Roles"] == {"authenticated": auth.authenticated_role_arn,
                              "unauthenticated": auth.unauthenticated_role_arn}

    for name, amr in (("dev-notes-Auth-AuthRole", "authenticated"), ("dev-notes-Auth-UnauthRole", "unauthenticated")):
        trust, policy = role_docs(aws, name)
        assert trust["Statement"] == [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": ip["IdentityPoolId"]},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr},
            },
        }], name
        assert policy["Statement"] == base(aws), name  # SST's base grant (narrowed) and nothing wider

    # the lockfile records ids, never a secret
    lock = app.state_path.read_text()
    recorded = json.loads(lock)["resources"]["Auth/user-pool-client"]
    assert recorded["attrs"] == {"id": client["ClientId"]} and recorded["props"]["generate_secret"] is False
    assert "ClientSecret" not in lock


def test_a_user_signs_in_and_gets_tokens_of_the_pool_and_client(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    auth = Cognito(app, "Auth", login=["email"], identity_pool=False)
    app.deploy()
    idp = aws.client("cognito-idp")
    idp.admin_create_user(UserPoolId=auth.user_pool_id, Username="ada@example.com", MessageAction="SUPPRESS",
                          TemporaryPassword="Tempor4ry-pass!")
    idp.admin_set_user_password(UserPoolId=auth.user_pool_id, Username="ada@example.com", Password=PASSWORD,
                                Permanent=True)

    tokens = idp.admin_initiate_auth(UserPoolId=auth.user_pool_id, ClientId=auth.user_pool_client_id,
                                     AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": "ada@example.com", "PASSWORD": PASSWORD})
    result = tokens["AuthenticationResult"]
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{auth.user_pool_id}"
    id_claims, access_claims = jwt_payload(result["IdToken"]), jwt_payload(result["AccessToken"])
    assert id_claims["iss"] == access_claims["iss"] == issuer
    assert id_claims["aud"] == auth.user_pool_client_id and id_claims["token_use"] == "id"
    assert access_claims["client_id"] == auth.user_pool_client_id and access_claims["token_use"] == "access"
    assert id_claims["email"] == "ada@example.com"


def test_api_user_pool_authorizer_defaults_to_the_cognito_client(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    auth = Cognito(app, "Auth", login=["email"])
    api = Api(app, "Api", routes={"GET /notes": "src/list.main"},
              authorizers={"pool": {"type": "user_pool", "user_pool": {"id": auth.user_pool_id}}},
              defaults={"authorizer": "pool"})
    app.deploy()
    gw = aws.client("apigatewayv2")
    (authorizer,) = gw.get_authorizers(ApiId=api.id)["Items"]
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["JwtConfiguration"] == {
        "Audience": [auth.user_pool_client_id],
        "Issuer": f"https://cognito-idp.{REGION}.amazonaws.com/{auth.user_pool_id}"}
    (route,) = gw.get_routes(ApiId=api.id)["Items"]
    assert route["AuthorizationType"] == "JWT" and route["AuthorizerId"] == authorizer["AuthorizerId"]

    # after deploy the outputs are plain str: the pool id is still recognised as this construct's
    api2 = Api(app, "Api2", routes={"GET /x": "src/list.main"},
               authorizers={"pool": {"type": "user_pool", "user_pool": {"id": auth.user_pool_id}}})
    ctx = app.expand_context()
    (res,) = [r for r in api2._resources(ctx) if r.type == "apigatewayv2.Authorizer"]
    assert list(res.props["jwt_configuration"]["Audience"]) == [auth.user_pool_client_id]


def test_auth_and_unauth_permissions_are_scoped_and_add_up(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    auth = Cognito(app, "Auth", login=["email"])
    notes = Api(app, "Notes", routes={"GET /notes": "src/list.main"})
    files = Api(app, "Files", routes={"GET /files": "src/other.main"})
    auth.attach_permissions_for_auth_users([notes])
    auth.attach_permissions_for_auth_users([files])
    auth.attach_permissions_for_unauth_users(["s3:GetObject"])
    app.deploy()

    _, auth_policy = role_docs(aws, "dev-notes-Auth-AuthRole")
    assert auth_policy["Statement"] == [
        *base(aws),
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{notes.execution_arn}/*"},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": f"{files.execution_arn}/*"},
    ]
    assert notes.execution_arn == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{notes.id}"
    _, unauth_policy = role_docs(aws, "dev-notes-Auth-UnauthRole")
    assert unauth_policy["Statement"] == [*base(aws), {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]


def test_triggers_are_wired_with_scoped_invoke_permissions(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    auth = Cognito(app, "Auth", login=["email"],
                   triggers={"pre_sign_up": "src/pre.main",
                             "post_confirmation": {"handler": "src/post.main", "timeout": 30}},
                   defaults={"function": {"memory_size": 256}})
    app.deploy()
    lam = aws.client("lambda")
    pool = the_pool(aws)
    pre, post = auth.get_function("pre_sign_up"), auth.get_function("post_confirmation")
    assert isinstance(pre, Function) and isinstance(post, Function)
    assert pool["LambdaConfig"] == {"PreSignUp": pre.function_arn, "PostConfirmation": post.function_arn}
    assert pre.function_arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{pre.function_name}"
    post_conf = lam.get_function_configuration(FunctionName=post.function_name)
    assert (post_conf["Timeout"], post_conf["MemorySize"]) == (30, 256)  # the trigger's own props win
    assert lam.get_function_configuration(FunctionName=pre.function_name)["MemorySize"] == 256

    for fn in (pre, post):
        (statement,) = json.loads(lam.get_policy(FunctionName=fn.function_name)["Policy"])["Statement"]
        assert statement["Principal"] == {"Service": "cognito-idp.amazonaws.com"}
        assert statement["Action"] == "lambda:InvokeFunction"
        assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == auth.user_pool_arn == pool["Arn"]


# --- reconcile ---------------------------------------------------------------------------------


def test_redeploy_is_a_no_op_with_zero_writes(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    auth = Cognito(app, "Auth", login=["email"], triggers={"pre_sign_up": "src/pre.main"})
    api = Api(app, "Api", routes={"GET /notes": "src/list.main"},
              authorizers={"pool": {"type": "user_pool", "user_pool": {"id": auth.user_pool_id}}})
    auth.attach_permissions_for_auth_users([api])
    app.deploy()

    app2 = make_app(aws, root)
    auth2 = Cognito(app2, "Auth", login=["email"], triggers={"pre_sign_up": "src/pre.main"})
    api2 = Api(app2, "Api", routes={"GET /notes": "src/list.main"},
               authorizers={"pool": {"type": "user_pool", "user_pool": {"id": auth2.user_pool_id}}})
    auth2.attach_permissions_for_auth_users([api2])
    result = app2.deploy()
    assert result.changes == [] and writes(result.api_calls) == {}
    for op in ("cognito-idp.DescribeUserPool", "cognito-idp.DescribeUserPoolClient",
               "cognito-identity.DescribeIdentityPool", "cognito-identity.GetIdentityPoolRoles"):
        assert result.api_calls[op] == 1, op
    assert app2.diff().is_empty
    assert app2.deploy(refresh=False).api_calls == {}


def test_changes_update_in_place_and_keep_the_sign_in_settings(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    auth = Cognito(app, "Auth", login=["email"], triggers={"pre_sign_up": "src/pre.main"})
    app.deploy()
    pool_id = auth.user_pool_id

    app2 = make_app(aws, root)
    auth2 = Cognito(app2, "Auth", login=["email"],
                    triggers={"pre_sign_up": "src/pre.main", "post_confirmation": "src/post.main"})
    auth2.attach_permissions_for_unauth_users(["s3"])
    result = app2.deploy()
    assert writes(result.api_calls) == {
        "cognito-idp.UpdateUserPool": 1, "iam.PutRolePolicy": 2,  # the new function's role + the guest role
        "iam.CreateRole": 1, "logs.CreateLogGroup": 1, "lambda.CreateFunction": 1, "lambda.AddPermission": 1}
    assert auth2.user_pool_id == pool_id
    pool = the_pool(aws)
    # UpdateUserPool was sent the whole configuration: nothing it cannot change was lost
    assert set(pool["LambdaConfig"]) == {"PreSignUp", "PostConfirmation"}
    assert pool["UsernameAttributes"] == ["email"] and pool["UsernameConfiguration"] == {"CaseSensitive": False}
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["UserPoolTags"]["sstdirect:id"] == "Auth/user-pool"
    assert pool["VerificationMessageTemplate"]["EmailSubject"] == "Verify your new account"
    _, policy = role_docs(aws, "dev-notes-Auth-UnauthRole")
    assert policy["Statement"] == [*base(aws), {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]
    assert app2.deploy().changes == []

    # the sign-in attributes cannot be changed in place: the pool is replaced
    app3 = make_app(aws, root)
    auth3 = Cognito(app3, "Auth", login=["username", "email"],
                    triggers={"pre_sign_up": "src/pre.main", "post_confirmation": "src/post.main"})
    plan = app3.diff()
    replaced = {c.address: c.changed for c in plan.changes if c.action.value == "replace"}
    assert replaced["Auth/user-pool"] == ("alias_attributes", "username_attributes")
    app3.deploy()
    pool = the_pool(aws)  # the old pool is gone
    assert pool["Id"] == auth3.user_pool_id != pool_id
    assert pool["AliasAttributes"] == ["email"] and "UsernameAttributes" not in pool
    idp = aws.client("cognito-idp")
    assert [c["ClientId"] for c in idp.list_user_pool_clients(UserPoolId=pool["Id"])["UserPoolClients"]] == [
        auth3.user_pool_client_id]
    ip = aws.client("cognito-identity").describe_identity_pool(IdentityPoolId=auth3.identity_pool_id)
    assert ip["CognitoIdentityProviders"][0]["ClientId"] == auth3.user_pool_client_id
    assert ip["CognitoIdentityProviders"][0]["ProviderName"].endswith(f"/{pool['Id']}")
    statement = json.loads(aws.client("lambda").get_policy(
        FunctionName=auth3.get_function("pre_sign_up").function_name)["Policy"])["Statement"]
    assert [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in statement] == [pool["Arn"]]
    assert app3.deploy().changes == []


def test_turning_the_identity_pool_off_deletes_it_and_its_roles(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    Cognito(app, "Auth", login=["email"])
    app.deploy()
    app2 = make_app(aws, root)
    auth2 = Cognito(app2, "Auth", login=["email"], identity_pool=False)
    result = app2.deploy()
    assert {c.address for c in result.changes} == {
        "Auth/identity-pool", "Auth/identity-pool-roles", "Auth/auth-role", "Auth/unauth-role"}
    assert aws.client("cognito-identity").list_identity_pools(MaxResults=60)["IdentityPools"] == []
    assert aws.client("iam").list_roles()["Roles"] == []
    assert auth2.identity_pool_id is None and auth2.authenticated_role_arn is None
    assert app2.outputs["Auth"]["identity_pool_id"] is None


def test_interrupted_creates_are_found_again(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    Cognito(app, "Auth", login=["email"])
    app.deploy()
    state = app._state_file().load(app="notes", stage="dev", region=REGION)
    client = the_provider(aws)
    for address in ("Auth/user-pool", "Auth/user-pool-client", "Auth/identity-pool", "Auth/identity-pool-roles"):
        rec = state.resources[address]
        found = provider_for(rec.type).find(client, freeze(rec.props))
        assert found is not None and found.physical_id == rec.physical_id, address
        assert found.attrs == rec.attrs, address


# --- remove ------------------------------------------------------------------------------------


def test_remove_leaves_no_pool_identity_pool_or_role(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    Cognito(app, "Auth", login=["email"], triggers={"pre_sign_up": "src/pre.main"})
    app.deploy()
    app.remove()
    assert aws.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"] == []
    assert aws.client("cognito-identity").list_identity_pools(MaxResults=60)["IdentityPools"] == []
    assert aws.client("iam").list_roles()["Roles"] == []
    assert aws.client("lambda").list_functions()["Functions"] == []
    assert not app.state_path.exists()


def add_user(aws: boto3.Session, pool_id: str) -> None:
    aws.client("cognito-idp").admin_create_user(UserPoolId=pool_id, Username="ada@example.com",
                                                MessageAction="SUPPRESS", TemporaryPassword="Tempor4ry-pass!")


def test_check_remove_refuses_a_pool_with_users_unless_forced(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    auth = Cognito(app, "Auth", login=["email"], identity_pool=False)
    app.deploy()
    rec = app._state_file().load(app="notes", stage="dev", region=REGION).resources["Auth/user-pool"]
    provider, client = provider_for("cognito.UserPool"), the_provider(aws)
    assert provider.check_remove(client, rec, False) is None  # no users yet

    add_user(aws, auth.user_pool_id)
    reason = provider.check_remove(client, rec, False)
    assert reason is not None and "dev-notes-Auth" in reason and auth.user_pool_id in reason and "force" in reason
    assert provider.check_remove(client, rec, True) is None
    writes_before = writes(client.calls)
    assert writes_before == {} and set(client.calls) == {"cognito-idp.ListUsers"}

    aws.client("cognito-idp").delete_user_pool(UserPoolId=auth.user_pool_id)
    assert provider.check_remove(client, rec, False) is None  # already gone: nothing to protect


def test_app_remove_stops_before_deleting_anything_when_a_pool_has_users(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    auth = Cognito(app, "Auth", login=["email"], triggers={"pre_sign_up": "src/pre.main"})
    app.deploy()
    add_user(aws, auth.user_pool_id)
    lock_before = app.state_path.read_text()

    with pytest.raises(DeployError) as info:
        app.remove()
    assert "dev-notes-Auth" in str(info.value) and auth.user_pool_id in str(info.value)
    # nothing was deleted, and the lockfile still records everything
    assert len(aws.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]) == 1
    assert len(aws.client("cognito-identity").list_identity_pools(MaxResults=60)["IdentityPools"]) == 1
    assert len(aws.client("iam").list_roles()["Roles"]) == 3
    assert len(aws.client("lambda").list_functions()["Functions"]) == 1
    assert app.state_path.read_text() == lock_before

    app.remove(force=True)
    assert aws.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"] == []
    assert aws.client("iam").list_roles()["Roles"] == []
    assert not app.state_path.exists()


def test_deploy_stops_before_replacing_or_dropping_a_pool_with_users(aws: boto3.Session, root: Path) -> None:
    app = make_app(aws, root)
    auth = Cognito(app, "Auth", login=["email"])
    app.deploy()
    pool_id = auth.user_pool_id
    add_user(aws, pool_id)
    lock_before = app.state_path.read_text()

    replaced = make_app(aws, root)
    Cognito(replaced, "Auth", login=["username"])  # a login change replaces the pool
    with pytest.raises(DeployError) as info:
        replaced.deploy()
    assert info.value.address == "Auth/user-pool"
    assert pool_id in str(info.value) and info.value.code == "DeletionRefused"
    dropped = make_app(aws, root)  # the construct is gone from the app: its pool would be deleted
    with pytest.raises(DeployError):
        dropped.deploy()
    assert [p["Id"] for p in aws.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]] == [pool_id]
    assert app.state_path.read_text() == lock_before

    replaced.deploy(force=True)
    (pool,) = aws.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]
    assert pool["Id"] != pool_id


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(("login", "expected"), [
    (["email"], (["email"], None, ["email"])),
    (["phone"], (["phone_number"], None, ["phone_number"])),
    (["phone", "email"], (["email", "phone_number"], None, ["email", "phone_number"])),
    (["username"], (None, None, [])),
    (["username", "email"], (None, ["email"], ["email"])),
    (["username", "preferred_username"], (None, ["preferred_username"], [])),
    (["email", "username", "phone", "preferred_username"],
     (None, ["email", "phone_number", "preferred_username"], ["email", "phone_number"])),
])
def test_login_maps_as_cdk_sign_in_aliases(login: list[str], expected: tuple[Any, ...]) -> None:
    config = sign_in_config("Cognito 'Auth'", login)
    assert (config["username_attributes"], config["alias_attributes"], config["auto_verified_attributes"]) == expected


def test_default_login_is_username(tmp_path: Path) -> None:
    app = App("notes", stage="dev", root=tmp_path)
    auth = Cognito(app, "Auth")
    (pool,) = [r for r in auth._resources(app.expand_context()) if r.type == "cognito.UserPool"]
    assert (pool.props["username_attributes"], pool.props["alias_attributes"]) == (None, None)
    assert pool.props["auto_verified_attributes"] == ()


def _no_identity_pool_grant(a: App) -> Any:
    return Cognito(a, "Auth", identity_pool=False).attach_permissions_for_auth_users(["s3"])


H = "src/pre.main"
CASES: list[tuple[str, Callable[[App], Any], tuple[str, ...]]] = [
    ("unknown login", lambda a: Cognito(a, "Auth", login=["emial"]), ("Cognito 'Auth'", "login 'emial'", "'email'")),
    ("camelCase login", lambda a: Cognito(a, "Auth", login=["username", "preferredUsername"]),
     ("preferred_username",)),
    ("preferred_username alone", lambda a: Cognito(a, "Auth", login=["preferred_username"]),
     ("'preferred_username' needs 'username'",)),
    ("empty login", lambda a: Cognito(a, "Auth", login=[]), ("login must be a non-empty list",)),
    ("login as a string", lambda a: Cognito(a, "Auth", login="email"), ("login must be a non-empty list",)),
    ("unknown trigger", lambda a: Cognito(a, "Auth", triggers={"before_sign_up": H}),
     ("unknown trigger 'before_sign_up'",)),
    ("camelCase trigger", lambda a: Cognito(a, "Auth", triggers={"preSignUp": H}),
     ("unknown trigger 'preSignUp'", "'pre_sign_up' (snake_case)")),
    ("camelCase identityPool", lambda a: Cognito(a, "Auth", identityPool=False), ("'identity_pool' (snake_case)",)),
    ("camelCase userPool", lambda a: Cognito(a, "Auth", cdk={"userPool": {}}), ("unknown option 'cdk'",)),
    ("identity_pool not a bool", lambda a: Cognito(a, "Auth", identity_pool="yes"), ("identity_pool must be True",)),
    ("unknown defaults key", lambda a: Cognito(a, "Auth", defaults={"functions": {}}), ("'function'",)),
    ("triggers not a dict", lambda a: Cognito(a, "Auth", triggers=["src/pre.main"]), ("triggers must be a dict",)),
    ("trigger handler missing", lambda a: Cognito(a, "Auth", triggers={"pre_sign_up": "src/nope.main"}),
     ("trigger 'pre_sign_up'", "nope")),
    ("trigger camelCase prop", lambda a: Cognito(a, "Auth", triggers={"pre_sign_up": {"handler": H, "memorySize": 1}}),
     ("memory_size",)),
    ("bad grant", lambda a: Cognito(a, "Auth").attach_permissions_for_auth_users(["not a perm"]), ("permission",)),
    ("bad unauth grant", lambda a: Cognito(a, "Auth").attach_permissions_for_unauth_users("s3"), ("must be a list",)),
    ("grant without identity pool", _no_identity_pool_grant, ("identity_pool=False",)),
    ("plain pool id needs client_ids", lambda a: (Cognito(a, "Auth"), Api(a, "Api", authorizers={
        "pool": {"type": "user_pool", "user_pool": {"id": "us-east-1_abc"}}})), ("client_ids",)),
]


@pytest.mark.parametrize(("case", "build", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_config_error_before_any_aws_call(
    case: str, build: Callable[[App], Any], expected: tuple[str, ...], config_error_check: Any, root: Path
) -> None:
    config_error_check(root, build, expected)
