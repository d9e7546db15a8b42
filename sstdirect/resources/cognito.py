"""Cognito: user pools, their app clients, identity pools and identity-pool role attachments.

Types: ``cognito.UserPool``, ``cognito.UserPoolClient``, ``cognito.IdentityPool``,
``cognito.IdentityPoolRoles``. A trigger's invoke permission is a ``lambda.Permission``.

Updates send the **whole** desired configuration: ``UpdateUserPool``, ``UpdateUserPoolClient`` and
``UpdateIdentityPool`` reset every setting the request leaves out to AWS's default.

Refresh: Cognito has no batch read that returns a pool's configuration (``ListUserPools``,
``ListUserPoolClients`` and ``ListIdentityPools`` return ids and names only), so each pool,
client and identity pool is read with one Describe call, and each role attachment with one
``GetIdentityPoolRoles``, run in parallel when there are several.

Removal safety: :meth:`UserPoolProvider.check_remove` says why a user pool must not be deleted
(it has users) unless forced; ``remove`` asks it for every user pool before deleting anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..aws import Aws, is_not_found
from ..engine.resource import Created, Owned, Provider, register, tagged_for
from ..engine.values import FrozenDict
from ..naming import name_prefix
from ..state import Record
from .common import first, gone_is_fine, plain

IDP = "cognito-idp"
IDENTITY = "cognito-identity"

# The LambdaConfig keys the Cognito construct manages (the trigger keys of SST v2).
TRIGGER_KEYS = ("PreSignUp", "PostConfirmation", "PreTokenGeneration", "CustomMessage", "DefineAuthChallenge",
                "CreateAuthChallenge", "VerifyAuthChallengeResponse", "PreAuthentication", "PostAuthentication",
                "UserMigration")


def _read_each(records: Mapping[str, Record], read: Callable[[Record], dict[str, Any] | None]
               ) -> dict[str, dict[str, Any] | None]:
    if len(records) <= 1:
        return {address: read(rec) for address, rec in records.items()}
    with ThreadPoolExecutor(max_workers=min(8, len(records))) as pool:
        return dict(pool.map(lambda item: (item[0], read(item[1])), records.items()))


def _sorted(values: Any) -> list[Any] | None:
    return sorted(values) if values else None


# --- user pools -----------------------------------------------------------------------------


@register
class UserPoolProvider(Provider):
    """props: ``name``; sign-in (set at creation only): ``username_attributes``, ``alias_attributes``
    (sorted lists or None), ``case_sensitive``; ``auto_verified_attributes`` (sorted list),
    ``allow_admin_create_user_only`` (False = self sign-up), ``verification``
    (VerificationMessageTemplate), ``account_recovery`` (RecoveryMechanisms), ``lambda_config``
    (LambdaConfig trigger key → function ARN), ``tags``. attrs: ``id``, ``arn``, ``name``."""

    type = "cognito.UserPool"
    adopt_before_create = True
    replace_on = frozenset({"username_attributes", "alias_attributes", "case_sensitive"})

    def _settings(self, props: FrozenDict) -> dict[str, Any]:
        """What CreateUserPool and UpdateUserPool both take: the full desired configuration."""
        verification = plain(props["verification"])
        return {
            "AutoVerifiedAttributes": list(props["auto_verified_attributes"]),
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": props["allow_admin_create_user_only"]},
            "VerificationMessageTemplate": verification,
            "EmailVerificationMessage": verification["EmailMessage"],
            "EmailVerificationSubject": verification["EmailSubject"],
            "SmsVerificationMessage": verification["SmsMessage"],
            "AccountRecoverySetting": {"RecoveryMechanisms": plain(props["account_recovery"])},
            "LambdaConfig": plain(props["lambda_config"]),
            "MfaConfiguration": "OFF",
            "UserPoolTags": plain(props["tags"]),
        }

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        params: dict[str, Any] = {"PoolName": props["name"], **self._settings(props),
                                  "UsernameConfiguration": {"CaseSensitive": props["case_sensitive"]}}
        if props.get("username_attributes"):
            params["UsernameAttributes"] = list(props["username_attributes"])
        if props.get("alias_attributes"):
            params["AliasAttributes"] = list(props["alias_attributes"])
        pool = aws.call(IDP, "create_user_pool", **params)["UserPool"]
        return Created(pool["Id"], _pool_attrs(pool))

    def _describe(self, aws: Aws, pool_id: str) -> dict[str, Any] | None:
        try:
            return aws.call(IDP, "describe_user_pool", UserPoolId=pool_id)["UserPool"]
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        pool = self._describe(aws, record.physical_id or "")
        return None if pool is None else _observed_pool(pool)

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return _read_each(records, lambda rec: self.read(aws, rec))

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        aws.call(IDP, "update_user_pool", UserPoolId=record.physical_id, PoolName=props["name"],
                 **self._settings(props))
        return {"name": props["name"]}

    def delete(self, aws: Aws, record: Record) -> None:
        with gone_is_fine():
            aws.call(IDP, "delete_user_pool", UserPoolId=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        """A pool with this name and this resource's ``sstdirect:id`` tag."""
        return first(self.find_all(aws, props, exclude))

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        tag = props["tags"].get("sstdirect:id")
        out = []
        for summary in aws.paginate(IDP, "list_user_pools", "UserPools", MaxResults=60):
            if summary.get("Name") != props["name"] or summary["Id"] in exclude:
                continue
            pool = self._describe(aws, summary["Id"])
            if pool is not None and (pool.get("UserPoolTags") or {}).get("sstdirect:id") == tag:
                out.append(Created(pool["Id"], _pool_attrs(pool)))
        return out

    def owned(self, aws: Aws, app: str, stage: str, skip: frozenset[str] = frozenset()) -> list[Owned]:
        """One ListUserPools (names only), then a DescribeUserPool of each pool named like this app's."""
        prefix = name_prefix(stage, app)
        out = []
        for summary in aws.paginate(IDP, "list_user_pools", "UserPools", MaxResults=60):
            if not (summary.get("Name") or "").startswith(prefix) or summary["Id"] in skip:
                continue
            pool = self._describe(aws, summary["Id"])
            tags = (pool or {}).get("UserPoolTags") or {}
            if pool is not None and tagged_for(tags, app, stage):
                out.append(Owned(tags.get("sstdirect:id", ""), pool["Id"]))
        return out

    def check_remove(self, aws: Aws, record: Record, force: bool) -> str | None:
        """Why ``remove`` must not delete this pool (it has users), or None when it may.

        One ``ListUsers`` with ``Limit=1`` (exact, unlike ``EstimatedNumberOfUsers``); a pool
        already gone may be "removed". ``force=True`` always allows it.
        """
        if force or not record.physical_id:
            return None
        try:
            users = aws.call(IDP, "list_users", UserPoolId=record.physical_id, Limit=1).get("Users") or []
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        if not users:
            return None
        name = record.attrs.get("name") or record.props.get("name") or record.physical_id
        return (f"user pool {name} ({record.physical_id}, {record.address}) has users; remove deletes them "
                f"only with force=True (CLI: --force)")


def _pool_attrs(pool: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": pool["Id"], "arn": pool["Arn"], "name": pool["Name"]}


def _observed_pool(pool: Mapping[str, Any]) -> dict[str, Any]:
    template = pool.get("VerificationMessageTemplate") or {}
    lambda_config = pool.get("LambdaConfig") or {}
    return {
        "name": pool.get("Name"),
        "username_attributes": _sorted(pool.get("UsernameAttributes")),
        "alias_attributes": _sorted(pool.get("AliasAttributes")),
        "case_sensitive": bool((pool.get("UsernameConfiguration") or {}).get("CaseSensitive", True)),
        "auto_verified_attributes": sorted(pool.get("AutoVerifiedAttributes") or []),
        "allow_admin_create_user_only": bool(
            (pool.get("AdminCreateUserConfig") or {}).get("AllowAdminCreateUserOnly", False)),
        "verification": {k: template.get(k) for k in ("DefaultEmailOption", "EmailMessage", "EmailSubject",
                                                       "SmsMessage")},
        "account_recovery": sorted((pool.get("AccountRecoverySetting") or {}).get("RecoveryMechanisms") or [],
                                   key=lambda m: m.get("Priority", 0)),
        "lambda_config": {k: v for k, v in lambda_config.items() if k in TRIGGER_KEYS and v},
        "tags": pool.get("UserPoolTags") or {},
    }


# --- app clients ----------------------------------------------------------------------------


@register
class UserPoolClientProvider(Provider):
    """props: ``user_pool_id``, ``name``, ``generate_secret`` (always False here: a secret can only
    be chosen at creation), ``explicit_auth_flows`` (sorted), ``supported_identity_providers``.
    attrs: ``id`` (a client id is not a secret; a client secret is never read or recorded)."""

    type = "cognito.UserPoolClient"
    adopt_before_create = True
    replace_on = frozenset({"user_pool_id", "generate_secret"})

    def _settings(self, props: FrozenDict) -> dict[str, Any]:
        return {"ClientName": props["name"], "ExplicitAuthFlows": list(props["explicit_auth_flows"]),
                "SupportedIdentityProviders": list(props["supported_identity_providers"])}

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        client = aws.call(IDP, "create_user_pool_client", UserPoolId=props["user_pool_id"],
                          GenerateSecret=props["generate_secret"], **self._settings(props))["UserPoolClient"]
        return Created(client["ClientId"], {"id": client["ClientId"]})

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        pool_id = record.props.get("user_pool_id", "")
        try:
            client = aws.call(IDP, "describe_user_pool_client", UserPoolId=pool_id,
                              ClientId=record.physical_id)["UserPoolClient"]
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        return {
            "user_pool_id": client.get("UserPoolId"),
            "name": client.get("ClientName"),
            "generate_secret": bool(client.get("ClientSecret")),
            "explicit_auth_flows": sorted(client.get("ExplicitAuthFlows") or []),
            "supported_identity_providers": sorted(client.get("SupportedIdentityProviders") or []),
        }

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return _read_each(records, lambda rec: self.read(aws, rec))

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        aws.call(IDP, "update_user_pool_client", UserPoolId=props["user_pool_id"], ClientId=record.physical_id,
                 **self._settings(props))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        with gone_is_fine():
            aws.call(IDP, "delete_user_pool_client", UserPoolId=record.props["user_pool_id"],
                     ClientId=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        return first(self.find_all(aws, props, exclude))

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        out = []
        with gone_is_fine():
            for client in aws.paginate(IDP, "list_user_pool_clients", "UserPoolClients",
                                       UserPoolId=props["user_pool_id"], MaxResults=60):
                if client.get("ClientName") == props["name"] and client["ClientId"] not in exclude:
                    out.append(Created(client["ClientId"], {"id": client["ClientId"]}))
        return out


# --- identity pools -------------------------------------------------------------------------


@register
class IdentityPoolProvider(Provider):
    """props: ``name``, ``allow_unauthenticated``, ``cognito_identity_providers`` (AWS's shape:
    ``ProviderName``, ``ClientId``, ``ServerSideTokenCheck``), ``tags``. attrs: ``id``."""

    type = "cognito.IdentityPool"
    adopt_before_create = True

    def _params(self, props: FrozenDict) -> dict[str, Any]:
        return {"IdentityPoolName": props["name"], "AllowUnauthenticatedIdentities": props["allow_unauthenticated"],
                "CognitoIdentityProviders": plain(props["cognito_identity_providers"]),
                "IdentityPoolTags": plain(props["tags"])}

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        pool = aws.call(IDENTITY, "create_identity_pool", **self._params(props))
        return Created(pool["IdentityPoolId"], {"id": pool["IdentityPoolId"]})

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        try:
            pool = aws.call(IDENTITY, "describe_identity_pool", IdentityPoolId=record.physical_id)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        return {
            "name": pool.get("IdentityPoolName"),
            "allow_unauthenticated": bool(pool.get("AllowUnauthenticatedIdentities")),
            "cognito_identity_providers": [
                {"ClientId": p.get("ClientId"), "ProviderName": p.get("ProviderName"),
                 "ServerSideTokenCheck": bool(p.get("ServerSideTokenCheck", False))}
                for p in pool.get("CognitoIdentityProviders") or []],
            "tags": pool.get("IdentityPoolTags") or {},
        }

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return _read_each(records, lambda rec: self.read(aws, rec))

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        aws.call(IDENTITY, "update_identity_pool", IdentityPoolId=record.physical_id, **self._params(props))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        with gone_is_fine():
            aws.call(IDENTITY, "delete_identity_pool", IdentityPoolId=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        """An identity pool with this name and this resource's ``sstdirect:id`` tag."""
        return first(self.find_all(aws, props, exclude))

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        tag = props["tags"].get("sstdirect:id")
        out = []
        for summary in aws.paginate(IDENTITY, "list_identity_pools", "IdentityPools", MaxResults=60):
            if summary.get("IdentityPoolName") != props["name"] or summary["IdentityPoolId"] in exclude:
                continue
            try:
                pool = aws.call(IDENTITY, "describe_identity_pool", IdentityPoolId=summary["IdentityPoolId"])
            except Exception as exc:
                if is_not_found(exc):
                    continue
                raise
            if (pool.get("IdentityPoolTags") or {}).get("sstdirect:id") == tag:
                out.append(Created(pool["IdentityPoolId"], {"id": pool["IdentityPoolId"]}))
        return out

    def owned(self, aws: Aws, app: str, stage: str, skip: frozenset[str] = frozenset()) -> list[Owned]:
        """One ListIdentityPools (names only), then a DescribeIdentityPool of each named like this app's."""
        prefix = name_prefix(stage, app)
        out = []
        for summary in aws.paginate(IDENTITY, "list_identity_pools", "IdentityPools", MaxResults=60):
            if not (summary.get("IdentityPoolName") or "").startswith(prefix) or summary["IdentityPoolId"] in skip:
                continue
            try:
                pool = aws.call(IDENTITY, "describe_identity_pool", IdentityPoolId=summary["IdentityPoolId"])
            except Exception as exc:
                if is_not_found(exc):
                    continue
                raise
            tags = pool.get("IdentityPoolTags") or {}
            if tagged_for(tags, app, stage):
                out.append(Owned(tags.get("sstdirect:id", ""), pool["IdentityPoolId"]))
        return out


@register
class IdentityPoolRolesProvider(Provider):
    """props: ``identity_pool_id``, ``roles`` (``{"authenticated": arn, "unauthenticated": arn}``).
    The physical id is the identity pool's id; deleting detaches every role (``Roles={}``), as
    CloudFormation's role attachment does."""

    type = "cognito.IdentityPoolRoles"
    replace_on = frozenset({"identity_pool_id"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        aws.call(IDENTITY, "set_identity_pool_roles", IdentityPoolId=props["identity_pool_id"],
                 Roles=plain(props["roles"]))
        return Created(props["identity_pool_id"], {})

    def _roles(self, aws: Aws, identity_pool_id: str) -> dict[str, Any] | None:
        try:
            return aws.call(IDENTITY, "get_identity_pool_roles", IdentityPoolId=identity_pool_id).get("Roles") or {}
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        roles = self._roles(aws, record.physical_id or "")
        if not roles:  # the pool is gone, or its roles were detached outside sstdirect
            return None
        return {"identity_pool_id": record.physical_id, "roles": roles}

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return _read_each(records, lambda rec: self.read(aws, rec))

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        aws.call(IDENTITY, "set_identity_pool_roles", IdentityPoolId=record.physical_id,
                 Roles=plain(props["roles"]))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        with gone_is_fine():
            aws.call(IDENTITY, "set_identity_pool_roles", IdentityPoolId=record.physical_id, Roles={})

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        roles = self._roles(aws, props["identity_pool_id"])
        if roles and roles == dict(plain(props["roles"])):
            return Created(props["identity_pool_id"], {})
        return None
