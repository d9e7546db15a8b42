"""Tests of sstdirect.local.ext's Cognito additions, through boto3, in both modes - in-process
``moto.mock_aws`` after ``install()``, and against a ``LocalCloud`` server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

Clients = Callable[..., Any]
ACCOUNT = "123456789012"
NO_RETRY = Config(retries={"mode": "standard", "max_attempts": 1})
AUTH_ARN = f"arn:aws:iam::{ACCOUNT}:role/auth"
UNAUTH_ARN = f"arn:aws:iam::{ACCOUNT}:role/unauth"
MISSING_POOL = "us-east-1:00000000-0000-0000-0000-000000000000"


@pytest.fixture
def aws(clients: Clients) -> Clients:
    """The shared dual-mode client factory (conftest ``clients``), under this module's name."""
    return clients


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def identity_pool(ci: Any, name: str = "pool") -> str:
    return ci.create_identity_pool(IdentityPoolName=name, AllowUnauthenticatedIdentities=True)["IdentityPoolId"]


# --- cognito-identity: SetIdentityPoolRoles / GetIdentityPoolRoles ----------------------------


def test_set_and_get_identity_pool_roles_round_trip(aws: Clients) -> None:
    ci = aws("cognito-identity")
    pool_id = identity_pool(ci)
    assert ci.get_identity_pool_roles(IdentityPoolId=pool_id)["Roles"] == {}

    response = ci.set_identity_pool_roles(IdentityPoolId=pool_id,
                                          Roles={"authenticated": AUTH_ARN, "unauthenticated": UNAUTH_ARN})
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    roles = ci.get_identity_pool_roles(IdentityPoolId=pool_id)
    assert roles["IdentityPoolId"] == pool_id
    assert roles["Roles"] == {"authenticated": AUTH_ARN, "unauthenticated": UNAUTH_ARN}
    assert "RoleMappings" not in roles

    # the maps are replaced, not merged; an empty Roles detaches every role
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": UNAUTH_ARN})
    assert ci.get_identity_pool_roles(IdentityPoolId=pool_id)["Roles"] == {"authenticated": UNAUTH_ARN}
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={})
    assert ci.get_identity_pool_roles(IdentityPoolId=pool_id)["Roles"] == {}

    # roles belong to their pool
    other = identity_pool(ci, "other")
    assert ci.get_identity_pool_roles(IdentityPoolId=other)["Roles"] == {}


def test_role_mappings_round_trip(aws: Clients) -> None:
    ci = aws("cognito-identity")
    pool_id = identity_pool(ci)
    provider = "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc:client"
    mappings = {
        provider: {"Type": "Rules", "AmbiguousRoleResolution": "Deny", "RulesConfiguration": {"Rules": [
            {"Claim": "custom:team", "MatchType": "Equals", "Value": "admins", "RoleARN": AUTH_ARN}]}},
        "graph.facebook.com": {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"},
    }
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": AUTH_ARN}, RoleMappings=mappings)
    roles = ci.get_identity_pool_roles(IdentityPoolId=pool_id)
    assert roles["RoleMappings"] == mappings

    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": AUTH_ARN})  # omitted: cleared
    assert "RoleMappings" not in ci.get_identity_pool_roles(IdentityPoolId=pool_id)


@pytest.mark.parametrize(("roles", "mappings"), [
    ({"admin": AUTH_ARN}, None),
    ({"authenticated": AUTH_ARN}, {"graph.facebook.com": {"Type": "Token"}}),  # no AmbiguousRoleResolution
    ({"authenticated": AUTH_ARN}, {"graph.facebook.com": {"Type": "Claims", "AmbiguousRoleResolution": "Deny"}}),
    ({"authenticated": AUTH_ARN}, {"graph.facebook.com": {"Type": "Token", "AmbiguousRoleResolution": "Allow"}}),
    ({"authenticated": AUTH_ARN}, {"graph.facebook.com": {"Type": "Rules", "AmbiguousRoleResolution": "Deny"}}),
    ({"authenticated": AUTH_ARN}, {"graph.facebook.com": {
        "Type": "Rules", "AmbiguousRoleResolution": "Deny", "RulesConfiguration": {"Rules": [
            {"Claim": "c", "MatchType": "Like", "Value": "v", "RoleARN": AUTH_ARN}]}}}),
], ids=["role key", "no resolution", "mapping type", "resolution value", "rules missing", "match type"])
def test_set_identity_pool_roles_rejects_what_the_model_forbids(aws: Clients, roles: Any, mappings: Any) -> None:
    ci = aws("cognito-identity")
    pool_id = identity_pool(ci)
    params: dict[str, Any] = {"IdentityPoolId": pool_id, "Roles": roles}
    if mappings is not None:
        params["RoleMappings"] = mappings
    assert error_code(lambda: ci.set_identity_pool_roles(**params)) == "InvalidParameterException"
    assert ci.get_identity_pool_roles(IdentityPoolId=pool_id)["Roles"] == {}  # nothing was stored


def test_identity_pool_roles_of_a_missing_pool_are_not_found(aws: Clients) -> None:
    ci = aws("cognito-identity")
    assert error_code(lambda: ci.get_identity_pool_roles(IdentityPoolId=MISSING_POOL)) == "ResourceNotFoundException"
    assert error_code(lambda: ci.set_identity_pool_roles(
        IdentityPoolId=MISSING_POOL, Roles={"authenticated": AUTH_ARN})) == "ResourceNotFoundException"

    pool_id = identity_pool(ci)
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": AUTH_ARN})
    ci.delete_identity_pool(IdentityPoolId=pool_id)
    assert error_code(lambda: ci.get_identity_pool_roles(IdentityPoolId=pool_id)) == "ResourceNotFoundException"


# --- cognito-identity: UpdateIdentityPool ----------------------------------------------------


def test_credentials_for_identity_are_a_session_of_the_pools_role(aws: Clients) -> None:
    from sstdirect.local.ext.cognitoidentity import issued_identity

    ci = aws("cognito-identity")
    pool = identity_pool(ci)
    iam = aws("iam")
    iam.create_role(RoleName="auth", AssumeRolePolicyDocument="{}")
    iam.create_role(RoleName="unauth", AssumeRolePolicyDocument="{}")
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles={"authenticated": AUTH_ARN, "unauthenticated": UNAUTH_ARN})
    logins = {"cognito-idp.us-east-1.amazonaws.com/us-east-1_pool": "a-token"}
    signed_in = ci.get_id(IdentityPoolId=pool, Logins=logins)["IdentityId"]
    guest = ci.get_id(IdentityPoolId=pool)["IdentityId"]
    creds = ci.get_credentials_for_identity(IdentityId=signed_in, Logins=logins)["Credentials"]
    guest_creds = ci.get_credentials_for_identity(IdentityId=guest)["Credentials"]
    assert creds["AccessKeyId"] != guest_creds["AccessKeyId"] and creds["SecretKey"] != guest_creds["SecretKey"]
    assert issued_identity(creds["AccessKeyId"]) == {
        "amr": ["authenticated", "cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"],
        "identityId": signed_in, "identityPoolId": pool}
    assert issued_identity(guest_creds["AccessKeyId"])["amr"] == ["unauthenticated"]
    import boto3

    me = boto3.client("sts", region_name="us-east-1", endpoint_url=aws("sts").meta.endpoint_url,
                      aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretKey"],
                      aws_session_token=creds["SessionToken"], config=NO_RETRY).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/auth/CognitoIdentityCredentials"


def test_credentials_for_identity_without_roles_keep_motos_fixed_pair(aws: Clients) -> None:
    ci = aws("cognito-identity")
    identity = ci.get_id(IdentityPoolId=identity_pool(ci))["IdentityId"]
    assert ci.get_credentials_for_identity(IdentityId=identity)["Credentials"]["AccessKeyId"] == "TESTACCESSKEY12345"


def test_update_identity_pool_renames_and_a_missing_pool_is_not_found(aws: Clients) -> None:
    ci = aws("cognito-identity")
    pool_id = identity_pool(ci, "before")
    updated = ci.update_identity_pool(IdentityPoolId=pool_id, IdentityPoolName="after",
                                      AllowUnauthenticatedIdentities=False,
                                      CognitoIdentityProviders=[{"ProviderName": "p", "ClientId": "c"}])
    described = ci.describe_identity_pool(IdentityPoolId=pool_id)
    for shown in (updated, described):
        assert shown["IdentityPoolName"] == "after"
        assert shown["AllowUnauthenticatedIdentities"] is False
        assert shown["CognitoIdentityProviders"] == [{"ProviderName": "p", "ClientId": "c"}]
    assert error_code(lambda: ci.update_identity_pool(
        IdentityPoolId=MISSING_POOL, IdentityPoolName="x",
        AllowUnauthenticatedIdentities=True)) == "ResourceNotFoundException"


# --- cognito-idp: UpdateUserPool -------------------------------------------------------------


def test_update_user_pool_keeps_what_it_cannot_change_and_renames(aws: Clients) -> None:
    idp = aws("cognito-idp")
    pool = idp.create_user_pool(PoolName="before", UsernameAttributes=["email"],
                                UsernameConfiguration={"CaseSensitive": False}, AutoVerifiedAttributes=["email"],
                                UserPoolTags={"k": "v"})["UserPool"]
    alias_pool = idp.create_user_pool(PoolName="alias", AliasAttributes=["email", "preferred_username"])["UserPool"]

    idp.update_user_pool(UserPoolId=pool["Id"], PoolName="after",
                         LambdaConfig={"PreSignUp": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"})
    idp.update_user_pool(UserPoolId=alias_pool["Id"], UserPoolTags={"k": "w"})

    after = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert after["Name"] == "after"
    assert after["UsernameAttributes"] == ["email"]
    assert after["UsernameConfiguration"] == {"CaseSensitive": False}
    assert after["LambdaConfig"] == {"PreSignUp": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"}
    # what the request left out is reset, as AWS documents
    assert "AutoVerifiedAttributes" not in after and "UserPoolTags" not in after
    assert after["LastModifiedDate"] >= pool["LastModifiedDate"]
    assert {p["Name"] for p in idp.list_user_pools(MaxResults=60)["UserPools"]} == {"after", "alias"}

    alias_after = idp.describe_user_pool(UserPoolId=alias_pool["Id"])["UserPool"]
    assert alias_after["AliasAttributes"] == ["email", "preferred_username"] and alias_after["Name"] == "alias"
    assert alias_after["UserPoolTags"] == {"k": "w"}

    assert error_code(lambda: idp.update_user_pool(UserPoolId="us-east-1_missing")) == "ResourceNotFoundException"
