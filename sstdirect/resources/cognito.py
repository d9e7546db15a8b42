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

from ..aws import Aws
from ..engine.resource import Created, Owned, Provider, tagged_for
from ..engine.spec import Spec, Text, resource_spec
from ..engine.values import FrozenDict
from ..naming import name_prefix
from ..state import Record
from .common import plain

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


@resource_spec("cognito.UserPool")
class UserPoolSpec(Spec):
    """Sign-in (set at creation only): ``username_attributes``, ``alias_attributes`` (sorted, or None) and
    ``case_sensitive``."""

    name: str
    username_attributes: tuple[str, ...] | None = None
    alias_attributes: tuple[str, ...] | None = None
    case_sensitive: bool = False
    auto_verified_attributes: tuple[str, ...] = ()  # sorted
    allow_admin_create_user_only: bool = False  # False: self sign-up
    verification: Mapping[str, str]  # VerificationMessageTemplate
    account_recovery: tuple[Mapping[str, Any], ...]  # RecoveryMechanisms
    lambda_config: Mapping[str, Text]  # LambdaConfig: trigger key → function ARN
    tags: Mapping[str, str]


class UserPoolProvider(Provider):
    """A :class:`UserPoolSpec`. attrs: ``id``, ``arn``, ``name``."""

    spec = UserPoolSpec
    adopt_before_create = True
    replace_on = frozenset({"username_attributes", "alias_attributes", "case_sensitive"})

    def _settings(self, pool: UserPoolSpec) -> dict[str, Any]:
        """What CreateUserPool and UpdateUserPool both take: the full desired configuration."""
        verification = plain(pool.verification)
        return {
            "AutoVerifiedAttributes": list(pool.auto_verified_attributes),
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": pool.allow_admin_create_user_only},
            "VerificationMessageTemplate": verification,
            "EmailVerificationMessage": verification["EmailMessage"],
            "EmailVerificationSubject": verification["EmailSubject"],
            "SmsVerificationMessage": verification["SmsMessage"],
            "AccountRecoverySetting": {"RecoveryMechanisms": plain(pool.account_recovery)},
            "LambdaConfig": plain(pool.lambda_config),
            "MfaConfiguration": "OFF",
            "UserPoolTags": plain(pool.tags),
        }

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = UserPoolSpec.from_props(props)
        params: dict[str, Any] = {"PoolName": spec.name, **self._settings(spec),
                                  "UsernameConfiguration": {"CaseSensitive": spec.case_sensitive}}
        if spec.username_attributes:
            params["UsernameAttributes"] = list(spec.username_attributes)
        if spec.alias_attributes:
            params["AliasAttributes"] = list(spec.alias_attributes)
        pool = aws.call(IDP, "create_user_pool", **params)["UserPool"]
        return Created(pool["Id"], _pool_attrs(pool))

    def _describe(self, aws: Aws, pool_id: str) -> dict[str, Any] | None:
        return aws.get_or_none(IDP, "describe_user_pool", "UserPool", UserPoolId=pool_id)

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        pool = self._describe(aws, record.physical_id or "")
        return None if pool is None else _observed_pool(pool)

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return _read_each(records, lambda rec: self.read(aws, rec))

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        spec = UserPoolSpec.from_props(props)
        aws.call(IDP, "update_user_pool", UserPoolId=record.physical_id, PoolName=spec.name, **self._settings(spec))
        return {"name": spec.name}

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(IDP, "delete_user_pool", UserPoolId=record.physical_id)

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        """The pools with this name and this resource's ``sstdirect:id`` tag."""
        spec = UserPoolSpec.from_record(props)
        tag = spec.tags.get("sstdirect:id")
        out = []
        for summary in aws.paginate(IDP, "list_user_pools", "UserPools", MaxResults=60):
            if summary.get("Name") != spec.name or summary["Id"] in exclude:
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
        listed = aws.get_or_none(IDP, "list_users", UserPoolId=record.physical_id, Limit=1)
        if not (listed or {}).get("Users"):  # gone already, or no users
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


@resource_spec("cognito.UserPoolClient")
class UserPoolClientSpec(Spec):
    user_pool_id: Text
    name: str
    generate_secret: bool = False  # always False here: a secret can only be chosen at creation
    explicit_auth_flows: tuple[str, ...]  # sorted
    supported_identity_providers: tuple[str, ...] = ("COGNITO",)


class UserPoolClientProvider(Provider):
    """A :class:`UserPoolClientSpec`. attrs: ``id`` (a client id is not a secret; a client secret is never
    read or recorded)."""

    spec = UserPoolClientSpec
    adopt_before_create = True
    replace_on = frozenset({"user_pool_id", "generate_secret"})

    def _settings(self, client: UserPoolClientSpec) -> dict[str, Any]:
        return {"ClientName": client.name, "ExplicitAuthFlows": list(client.explicit_auth_flows),
                "SupportedIdentityProviders": list(client.supported_identity_providers)}

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = UserPoolClientSpec.from_props(props)
        client = aws.call(IDP, "create_user_pool_client", UserPoolId=spec.user_pool_id,
                          GenerateSecret=spec.generate_secret, **self._settings(spec))["UserPoolClient"]
        return Created(client["ClientId"], {"id": client["ClientId"]})

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        pool_id = record.props.get("user_pool_id", "")
        client = aws.get_or_none(IDP, "describe_user_pool_client", "UserPoolClient", UserPoolId=pool_id,
                                 ClientId=record.physical_id)
        if client is None:
            return None
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
        spec = UserPoolClientSpec.from_props(props)
        aws.call(IDP, "update_user_pool_client", UserPoolId=spec.user_pool_id, ClientId=record.physical_id,
                 **self._settings(spec))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(IDP, "delete_user_pool_client", UserPoolId=record.props["user_pool_id"],
                             ClientId=record.physical_id)

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        spec = UserPoolClientSpec.from_record(props)
        clients = aws.paginate_or_empty(IDP, "list_user_pool_clients", "UserPoolClients",
                                        UserPoolId=spec.user_pool_id, MaxResults=60)
        return [Created(client["ClientId"], {"id": client["ClientId"]}) for client in clients
                if client.get("ClientName") == spec.name and client["ClientId"] not in exclude]


# --- identity pools -------------------------------------------------------------------------


@resource_spec("cognito.IdentityPool")
class IdentityPoolSpec(Spec):
    name: str
    allow_unauthenticated: bool = True
    cognito_identity_providers: tuple[Mapping[str, Any], ...]  # AWS's shape: ProviderName, ClientId, ...
    tags: Mapping[str, str]


class IdentityPoolProvider(Provider):
    """An :class:`IdentityPoolSpec`. attrs: ``id``."""

    spec = IdentityPoolSpec
    adopt_before_create = True

    def _params(self, props: FrozenDict) -> dict[str, Any]:
        pool = IdentityPoolSpec.from_props(props)
        return {"IdentityPoolName": pool.name, "AllowUnauthenticatedIdentities": pool.allow_unauthenticated,
                "CognitoIdentityProviders": plain(pool.cognito_identity_providers),
                "IdentityPoolTags": plain(pool.tags)}

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        pool = aws.call(IDENTITY, "create_identity_pool", **self._params(props))
        return Created(pool["IdentityPoolId"], {"id": pool["IdentityPoolId"]})

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        pool = aws.get_or_none(IDENTITY, "describe_identity_pool", IdentityPoolId=record.physical_id)
        if pool is None:
            return None
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
        aws.delete_if_exists(IDENTITY, "delete_identity_pool", IdentityPoolId=record.physical_id)

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        """The identity pools with this name and this resource's ``sstdirect:id`` tag."""
        spec = IdentityPoolSpec.from_record(props)
        tag = spec.tags.get("sstdirect:id")
        out = []
        for summary in aws.paginate(IDENTITY, "list_identity_pools", "IdentityPools", MaxResults=60):
            if summary.get("IdentityPoolName") != spec.name or summary["IdentityPoolId"] in exclude:
                continue
            pool = aws.get_or_none(IDENTITY, "describe_identity_pool", IdentityPoolId=summary["IdentityPoolId"])
            if pool is not None and (pool.get("IdentityPoolTags") or {}).get("sstdirect:id") == tag:
                out.append(Created(pool["IdentityPoolId"], {"id": pool["IdentityPoolId"]}))
        return out

    def owned(self, aws: Aws, app: str, stage: str, skip: frozenset[str] = frozenset()) -> list[Owned]:
        """One ListIdentityPools (names only), then a DescribeIdentityPool of each named like this app's."""
        prefix = name_prefix(stage, app)
        out = []
        for summary in aws.paginate(IDENTITY, "list_identity_pools", "IdentityPools", MaxResults=60):
            if not (summary.get("IdentityPoolName") or "").startswith(prefix) or summary["IdentityPoolId"] in skip:
                continue
            pool = aws.get_or_none(IDENTITY, "describe_identity_pool", IdentityPoolId=summary["IdentityPoolId"])
            tags = (pool or {}).get("IdentityPoolTags") or {}
            if pool is not None and tagged_for(tags, app, stage):
                out.append(Owned(tags.get("sstdirect:id", ""), pool["IdentityPoolId"]))
        return out


@resource_spec("cognito.IdentityPoolRoles")
class IdentityPoolRolesSpec(Spec):
    identity_pool_id: Text
    roles: Mapping[str, Text]  # {"authenticated": arn, "unauthenticated": arn}


class IdentityPoolRolesProvider(Provider):
    """An :class:`IdentityPoolRolesSpec`. The physical id is the identity pool's id; deleting detaches every
    role (``Roles={}``), as CloudFormation's role attachment does."""

    spec = IdentityPoolRolesSpec
    replace_on = frozenset({"identity_pool_id"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = IdentityPoolRolesSpec.from_props(props)
        aws.call(IDENTITY, "set_identity_pool_roles", IdentityPoolId=spec.identity_pool_id, Roles=plain(spec.roles))
        return Created(spec.identity_pool_id, {})

    def _roles(self, aws: Aws, identity_pool_id: str) -> dict[str, Any] | None:
        found = aws.get_or_none(IDENTITY, "get_identity_pool_roles", IdentityPoolId=identity_pool_id)
        return None if found is None else found.get("Roles") or {}

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        roles = self._roles(aws, record.physical_id or "")
        if not roles:  # the pool is gone, or its roles were detached outside sstdirect
            return None
        return {"identity_pool_id": record.physical_id, "roles": roles}

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return _read_each(records, lambda rec: self.read(aws, rec))

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        aws.call(IDENTITY, "set_identity_pool_roles", IdentityPoolId=record.physical_id,
                 Roles=plain(IdentityPoolRolesSpec.from_props(props).roles))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(IDENTITY, "set_identity_pool_roles", IdentityPoolId=record.physical_id, Roles={})

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        spec = IdentityPoolRolesSpec.from_record(props)
        roles = self._roles(aws, spec.identity_pool_id)
        if roles and roles == dict(plain(spec.roles)):
            return Created(spec.identity_pool_id, {})
        return None
