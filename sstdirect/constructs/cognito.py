"""``Cognito``: a user pool, its app client, Lambda triggers, and an identity pool with IAM roles.

Defaults are SST v2's (which are CDK's ``UserPool`` / ``UserPoolClient`` defaults plus SST's
choices); see API.md's "Cognito" section:

- ``login`` (default ``["username"]``) is mapped as CDK maps ``signInAliases``: only ``email`` /
  ``phone`` → ``UsernameAttributes``; with ``username`` → ``AliasAttributes`` (``email``,
  ``phone_number``, ``preferred_username``; ``preferred_username`` needs ``username``). E-mail and
  phone are auto-verified when used to sign in. Usernames are case-insensitive; self sign-up is on;
  CDK's verification messages and account recovery (verified phone, then verified e-mail).
- The app client has no secret and allows admin/user password, SRP and refresh-token auth.
- ``identity_pool=True`` (default): an identity pool allowing unauthenticated identities, with the
  user pool's client as its provider, and authenticated / unauthenticated roles that trust
  ``cognito-identity.amazonaws.com`` on ``aud`` (this identity pool) and ``amr``. Both roles may
  ``mobileanalytics:PutEvents`` (a service with no resource-level permissions: ``*``) and the Cognito Sync
  actions an identity's own credentials can call, on the caller's own identity in this identity pool (SST
  grants ``cognito-sync:*`` on ``*``, which would let any guest reconfigure every identity pool's sync
  settings; see :func:`base_statements`), plus what
  ``attach_permissions_for_auth_users`` / ``attach_permissions_for_unauth_users`` add.
- ``triggers={"pre_sign_up": handler | props | Function, ...}``: each trigger function may be
  invoked by ``cognito-idp.amazonaws.com`` from this user pool only.

``app.remove()`` never deletes a user pool that has users unless ``force=True``
(:meth:`sstdirect.resources.cognito.UserPoolProvider.check_remove`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..engine.resource import Resource
from ..engine.values import Fmt, Ref
from ..errors import ConfigError, did_you_mean
from ..naming import physical_name, short_hash
from ..resources.awslambda import PermissionSpec
from ..resources.cognito import IdentityPoolRolesSpec, IdentityPoolSpec, UserPoolClientSpec, UserPoolSpec
from ..resources.iam import RoleSpec
from .base import Construct, ExpandContext, Output, check_options
from .function import Function
from .permissions import statements

if TYPE_CHECKING:
    from .base import ConstructHost

COGNITO_OPTIONS = ("login", "identity_pool", "triggers", "defaults")
DEFAULTS_OPTIONS = ("function",)
LOGINS = ("email", "phone", "username", "preferred_username")
DEFAULT_LOGIN = ("username",)
# SST's trigger keys (snake_case) → the user pool's LambdaConfig keys.
TRIGGERS = {
    "pre_sign_up": "PreSignUp",
    "post_confirmation": "PostConfirmation",
    "pre_token_generation": "PreTokenGeneration",
    "custom_message": "CustomMessage",
    "define_auth_challenge": "DefineAuthChallenge",
    "create_auth_challenge": "CreateAuthChallenge",
    "verify_auth_challenge_response": "VerifyAuthChallengeResponse",
    "pre_authentication": "PreAuthentication",
    "post_authentication": "PostAuthentication",
    "user_migration": "UserMigration",
}
EXPLICIT_AUTH_FLOWS = ("ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH",
                       "ALLOW_USER_SRP_AUTH")
# CDK's UserPool defaults (userVerification, accountRecovery).
VERIFICATION = {
    "DefaultEmailOption": "CONFIRM_WITH_CODE",
    "EmailMessage": "The verification code to your new account is {####}",
    "EmailSubject": "Verify your new account",
    "SmsMessage": "The verification code to your new account is {####}",
}
ACCOUNT_RECOVERY = ({"Name": "verified_phone_number", "Priority": 1}, {"Name": "verified_email", "Priority": 2})


# The Cognito Sync operations an identity pool's own credentials may call on their own identity, as the
# Cognito Sync API Reference (botocore's cognito-sync service model) documents each one: "can be called
# with temporary user credentials provided by Cognito Identity" — DeleteDataset, DescribeDataset,
# DescribeIdentityUsage, ListDatasets, ListRecords, UpdateRecords — or "can only be called with temporary
# credentials provided by Cognito Identity" — RegisterDevice, SubscribeToDataset, UnsubscribeFromDataset.
# Every other operation (BulkPublish, the identity pool's configuration, usage and events) "can only be
# called with developer credentials", and the permission-only QueryRecords / SetDatasetConfiguration back
# no operation: none is granted. Each action's resource type (identity or dataset, see the Service
# Authorization Reference, https://docs.aws.amazon.com/service-authorization/latest/reference/
# list_amazoncognitosync.html) is covered by the two ARNs below.
COGNITO_SYNC_ACTIONS = tuple(f"cognito-sync:{op}" for op in (
    "DeleteDataset", "DescribeDataset", "DescribeIdentityUsage", "ListDatasets", "ListRecords", "RegisterDevice",
    "SubscribeToDataset", "UnsubscribeFromDataset", "UpdateRecords"))


def base_statements(identity_pool_id: Any) -> list[dict[str, Any]]:
    """SST v2's base policy of both identity-pool roles, least privilege: SST's ``cognito-sync:*`` on ``*``
    becomes the named actions an identity's own credentials can call (:data:`COGNITO_SYNC_ACTIONS`), on the
    caller's own identity (and its datasets) in this identity pool only.

    ``mobileanalytics:PutEvents`` supports no resource-level permissions, so it keeps ``*``.
    """
    identity = Fmt.of("arn:aws:cognito-sync:{region}:{account}:identitypool/{pool}/identity/"
                      "${{cognito-identity.amazonaws.com:sub}}", region=Ref("aws", "region"),
                      account=Ref("aws", "account_id"), pool=identity_pool_id)
    return [{"Effect": "Allow", "Action": "mobileanalytics:PutEvents", "Resource": "*"},
            {"Effect": "Allow", "Action": list(COGNITO_SYNC_ACTIONS),
             "Resource": [identity, Fmt.of("{identity}/*", identity=identity)]}]


_ATTRIBUTE = {"email": "email", "phone": "phone_number", "preferred_username": "preferred_username"}


def sign_in_config(label: str, login: Any) -> dict[str, Any]:
    """``login=`` → ``{"username_attributes", "alias_attributes", "auto_verified_attributes"}`` (CDK's
    mapping of ``signInAliases``; lists sorted, which is also CDK's order)."""
    if isinstance(login, str) or not isinstance(login, list | tuple) or not login:
        raise ConfigError(f"{label}: login must be a non-empty list of {', '.join(map(repr, LOGINS))}, "
                          f"e.g. login=['email']")
    for value in login:
        if value not in LOGINS:
            hint = did_you_mean(value, LOGINS) if isinstance(value, str) else "valid: " + ", ".join(LOGINS)
            raise ConfigError(f"{label}: unknown login {value!r}; {hint}")
    given = set(login)
    if "preferred_username" in given and "username" not in given:
        raise ConfigError(f"{label}: login 'preferred_username' needs 'username' too "
                          f"(login=['username', 'preferred_username'])")
    if "username" in given:
        aliases = sorted(_ATTRIBUTE[v] for v in given - {"username"})
        username_attributes, alias_attributes = None, aliases or None
    else:
        username_attributes, alias_attributes = sorted(_ATTRIBUTE[v] for v in given), None
    verified = sorted(_ATTRIBUTE[v] for v in given & {"email", "phone"})
    return {"username_attributes": username_attributes, "alias_attributes": alias_attributes,
            "auto_verified_attributes": verified}


class Cognito(Construct):
    """A Cognito user pool with an app client, optional triggers and an identity pool.

    See API.md's "Cognito" section for every option and default.
    """

    kind = "Cognito"

    def __init__(
        self,
        app: ConstructHost,
        id: str,
        login: list[str] | tuple[str, ...] = DEFAULT_LOGIN,
        identity_pool: bool = True,
        triggers: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        **unknown: Any,
    ):
        super().__init__(app, id)
        check_options(self.label, unknown, COGNITO_OPTIONS)
        if defaults is not None and not isinstance(defaults, Mapping):
            raise ConfigError(f"{self.label}: defaults must be a dict like {{'function': {{'timeout': 20}}}}, "
                              f"not {defaults!r}")
        defaults = dict(defaults or {})
        check_options(f"{self.label} defaults", defaults, DEFAULTS_OPTIONS)
        if not isinstance(identity_pool, bool):
            raise ConfigError(f"{self.label}: identity_pool must be True or False, not {identity_pool!r}")
        if triggers is not None and not isinstance(triggers, Mapping):
            raise ConfigError(f"{self.label}: triggers must be a dict of trigger → handler, "
                              f"e.g. {{'pre_sign_up': 'src/pre.main'}}")
        self.login = tuple(login) if isinstance(login, list | tuple) else login
        self._sign_in = sign_in_config(self.label, login)
        self.identity_pool = identity_pool
        self.defaults = defaults
        check_options(self.label, triggers or {}, TRIGGERS, what="trigger")
        self._triggers: dict[str, Function] = {
            key: Function.from_value(app, f"{self.construct_id}-{key}", value, defaults.get("function"),
                                     f"{self.label} trigger {key!r}")
            for key, value in (triggers or {}).items()
        }
        self._auth_permissions: list[Any] = []
        self._unauth_permissions: list[Any] = []

    # -- configuration -----------------------------------------------------------------------

    def _check_identity_pool(self, what: str) -> None:
        if not self.identity_pool:
            raise ConfigError(f"{self.label}: {what} needs the identity pool (its IAM roles); remove "
                              f"identity_pool=False")

    def attach_permissions_for_auth_users(self, permissions: list[Any]) -> None:
        """Grant ``permissions`` (SST's forms; ``[api]`` → ``execute-api:Invoke`` on that API) to
        the role of signed-in identities. Grants of several calls add up."""
        self._check_identity_pool("attach_permissions_for_auth_users")
        statements(f"{self.label} attach_permissions_for_auth_users", permissions)
        self._auth_permissions.extend(permissions)

    def attach_permissions_for_unauth_users(self, permissions: list[Any]) -> None:
        """Grant ``permissions`` to the role of unauthenticated (guest) identities."""
        self._check_identity_pool("attach_permissions_for_unauth_users")
        statements(f"{self.label} attach_permissions_for_unauth_users", permissions)
        self._unauth_permissions.extend(permissions)

    def get_function(self, trigger: str) -> Function | None:
        """The function of trigger ``trigger`` (``"pre_sign_up"``), or None."""
        check_options(self.label, {trigger: None}, TRIGGERS, what="trigger")
        return self._triggers.get(trigger)

    # -- addresses and outputs ---------------------------------------------------------------

    def _a(self, part: str) -> str:
        return f"{self.construct_id}/{part}"

    @property
    def user_pool_address(self) -> str:
        """The address of the user pool resource: how an authorizer recognises ``user_pool_id``."""
        return self._a("user-pool")

    @property
    def user_pool_client_address(self) -> str:
        return self._a("user-pool-client")

    @property
    def identity_pool_address(self) -> str:
        return self._a("identity-pool")

    def _role_address(self, kind: str) -> str:
        return self._a(f"{kind}-role")

    def owns_user_pool_id(self, value: Any) -> bool:
        """Whether ``value`` is this construct's ``user_pool_id`` (before or after deploy)."""
        if isinstance(value, Output):
            value = value.value
        if isinstance(value, Ref):
            return value.address == self.user_pool_address and value.attr == "id"
        if isinstance(value, str):
            return value == (self.app.deployed_outputs(self.construct_id) or {}).get("user_pool_id")
        return False

    @classmethod
    def owning(cls, app: ConstructHost, user_pool_id: Any) -> Cognito | None:
        """The Cognito construct of ``app`` whose ``user_pool_id`` ``user_pool_id`` is, if any."""
        for construct in app.constructs:
            if isinstance(construct, cls) and construct.owns_user_pool_id(user_pool_id):
                return construct
        return None

    @property
    def id(self) -> Any:
        """The AWS id of what this construct made: the user pool's id."""
        return self.user_pool_id

    @property
    def user_pool_id(self) -> Any:
        return self._output("user_pool_id", Ref(self.user_pool_address, "id"))

    @property
    def user_pool_arn(self) -> Any:
        return self._output("user_pool_arn", Ref(self.user_pool_address, "arn"))

    @property
    def user_pool_client_id(self) -> Any:
        return self._output("user_pool_client_id", Ref(self.user_pool_client_address, "id"))

    @property
    def identity_pool_id(self) -> Any:
        if not self.identity_pool:
            return None
        return self._output("identity_pool_id", Ref(self.identity_pool_address, "id"))

    @property
    def authenticated_role_arn(self) -> Any:
        if not self.identity_pool:
            return None
        return self._output("authenticated_role_arn", Ref(self._role_address("auth"), "arn"))

    @property
    def unauthenticated_role_arn(self) -> Any:
        if not self.identity_pool:
            return None
        return self._output("unauthenticated_role_arn", Ref(self._role_address("unauth"), "arn"))

    def _outputs(self, attr: Any) -> dict[str, Any]:
        with_identity = self.identity_pool
        return {
            "user_pool_id": attr(self.user_pool_address, "id"),
            "user_pool_arn": attr(self.user_pool_address, "arn"),
            "user_pool_client_id": attr(self.user_pool_client_address, "id"),
            "identity_pool_id": attr(self.identity_pool_address, "id") if with_identity else None,
            "authenticated_role_arn": attr(self._role_address("auth"), "arn") if with_identity else None,
            "unauthenticated_role_arn": attr(self._role_address("unauth"), "arn") if with_identity else None,
        }

    # -- expansion ---------------------------------------------------------------------------

    def _resources(self, ctx: ExpandContext) -> list[Resource]:
        pool = Resource.of(self.user_pool_address, UserPoolSpec(
            name=physical_name(ctx.stage, ctx.app, self.construct_id, max_len=128),
            **self._sign_in,
            case_sensitive=False,
            allow_admin_create_user_only=False,
            verification=VERIFICATION,
            account_recovery=ACCOUNT_RECOVERY,
            # a ref (not the ARN computed ahead) so each function exists before the pool names it
            lambda_config={TRIGGERS[key]: Ref(fn.function_address, "arn") for key, fn in self._triggers.items()},
            tags=ctx.tags(self.user_pool_address),
        ))
        client = Resource.of(self.user_pool_client_address, UserPoolClientSpec(
            user_pool_id=Ref(pool.address, "id"),
            name=physical_name(ctx.stage, ctx.app, self.construct_id, max_len=128),
            generate_secret=False,
            explicit_auth_flows=EXPLICIT_AUTH_FLOWS,
            supported_identity_providers=("COGNITO",),
        ))
        out = [pool, client]
        for key, fn in self._triggers.items():
            out.append(Resource.of(self._a(f"permission/{key}"), PermissionSpec(
                function_name=Ref(fn.function_address, "name"),
                statement_id=f"sstdirect-cognito-{key.replace('_', '-')}-{short_hash(self._a(key))}",
                principal="cognito-idp.amazonaws.com",
                action="lambda:InvokeFunction",
                source_arn=Ref(pool.address, "arn"),
            )))
        if self.identity_pool:
            out += self._identity_resources(ctx)
        return out

    def _identity_resources(self, ctx: ExpandContext) -> list[Resource]:
        identity = Resource.of(self.identity_pool_address, IdentityPoolSpec(
            name=physical_name(ctx.stage, ctx.app, self.construct_id, max_len=128),
            allow_unauthenticated=True,
            cognito_identity_providers=[{
                "ProviderName": Fmt.of("cognito-idp.{region}.amazonaws.com/{pool}", region=Ref("aws", "region"),
                                       pool=Ref(self.user_pool_address, "id")),
                "ClientId": Ref(self.user_pool_client_address, "id"),
                "ServerSideTokenCheck": False,
            }],
            tags=ctx.tags(self.identity_pool_address),
        ))
        roles = []
        for kind, amr, part, permissions in (("auth", "authenticated", "AuthRole", self._auth_permissions),
                                             ("unauth", "unauthenticated", "UnauthRole", self._unauth_permissions)):
            address = self._role_address(kind)
            label = f"{self.label} attach_permissions_for_{kind}_users"
            roles.append(Resource.of(address, RoleSpec(
                name=physical_name(ctx.stage, ctx.app, self.construct_id, part, max_len=64),
                assume_role_policy={
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {"cognito-identity.amazonaws.com:aud": Ref(identity.address, "id")},
                            "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": amr},
                        },
                    }],
                },
                policy={"Version": "2012-10-17",
                        "Statement": [*base_statements(Ref(identity.address, "id")), *statements(label, permissions)]},
                tags=ctx.tags(address))))
        attachment = Resource.of(self._a("identity-pool-roles"), IdentityPoolRolesSpec(
            identity_pool_id=Ref(identity.address, "id"),
            roles={"authenticated": Ref(roles[0].address, "arn"), "unauthenticated": Ref(roles[1].address, "arn")},
        ))
        return [identity, *roles, attachment]

    def _functions(self) -> list[Function]:
        return list(self._triggers.values())
