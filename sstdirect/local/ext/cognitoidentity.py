"""Cognito identity-pool operations that moto 5.2.5 lacks or gets wrong.

Added operations (shapes and error codes from botocore's ``cognito-identity`` model):

* ``SetIdentityPoolRoles``: sets the pool's ``Roles`` (``authenticated`` / ``unauthenticated``
  → role ARN) and ``RoleMappings`` (identity provider → ``{"Type": "Token" | "Rules",
  "AmbiguousRoleResolution": "AuthenticatedRole" | "Deny", "RulesConfiguration": {"Rules":
  [{"Claim", "MatchType", "Value", "RoleARN"}]}}``). Like AWS it *replaces* both maps (an empty
  ``Roles`` detaches every role; omitted ``RoleMappings`` clears them). Checked as the model
  documents: a role key other than ``authenticated``/``unauthenticated``, more than 2 roles,
  more than 10 role mappings, a mapping type or match type outside its enum, a ``Token`` or
  ``Rules`` mapping without ``AmbiguousRoleResolution``, and a ``Rules`` mapping without 1-400
  rules are ``InvalidParameterException``. Empty response body, as AWS.
* ``GetIdentityPoolRoles``: ``IdentityPoolId``, ``Roles`` (``{}`` when none are set) and
  ``RoleMappings`` (only when some are set).

Both answer ``ResourceNotFoundException`` for an identity pool that does not exist.

Changed operation:

* ``GetCredentialsForIdentity``: moto handed every identity the same fixed key pair
  (``TESTACCESSKEY12345`` / ``ABCSECRETKEY``) belonging to no one. When the identity's pool has a role
  for it (``authenticated`` when ``Logins`` are given, else ``unauthenticated``), the credentials are
  now an STS session of that role (moto's ``AssumeRole``, session name ``CognitoIdentityCredentials``
  as on AWS): a unique key pair whose caller is ``arn:aws:sts::{account}:assumed-role/{role}/
  CognitoIdentityCredentials``. :func:`issued_identity` tells, for such an access key id, the identity
  it was issued to (``{"amr", "identityId", "identityPoolId"}``), which the local gateway reports in
  ``requestContext.authorizer.iam.cognitoIdentity``. Without a role, moto's fixed pair is kept.

Fixed operation:

* ``UpdateIdentityPool``: moto kept the old ``IdentityPoolName`` (AWS renames the pool) and
  failed with a bare ``KeyError`` (HTTP 500) for an unknown pool id; it now renames and answers
  ``ResourceNotFoundException``.

The roles live on moto's ``CognitoIdentityPool`` object, so ``DeleteIdentityPool`` and
``/moto-api/reset`` drop them with the pool. The JSON protocol routes every operation through the
URL moto already serves (``POST /`` with ``X-Amz-Target``), so the response-class methods are
enough, in-process and in server mode alike.
"""

from __future__ import annotations

import json
from typing import Any

from moto.cognitoidentity.exceptions import ResourceNotFoundError
from moto.cognitoidentity.models import CognitoIdentityBackend, CognitoIdentityPool
from moto.cognitoidentity.responses import CognitoIdentityResponse
from moto.core.exceptions import JsonRESTError

ROLE_KEYS = ("authenticated", "unauthenticated")
MAPPING_TYPES = ("Token", "Rules")
AMBIGUOUS_RESOLUTIONS = ("AuthenticatedRole", "Deny")
MATCH_TYPES = ("Equals", "Contains", "StartsWith", "NotEqual")
MAX_ROLE_MAPPINGS = 10
MAX_RULES = 400


class InvalidParameterException(JsonRESTError):
    def __init__(self, message: str):
        super().__init__(error_type="InvalidParameterException", message=message)


# --- models ---------------------------------------------------------------------------------


def _pool(backend: CognitoIdentityBackend, identity_pool_id: str) -> CognitoIdentityPool:
    pool = backend.identity_pools.get(identity_pool_id)
    if pool is None:
        raise ResourceNotFoundError(identity_pool_id)
    return pool


def _check_roles(roles: Any) -> dict[str, str]:
    if not isinstance(roles, dict):
        raise InvalidParameterException("Roles must be a map of role type to role ARN")
    if len(roles) > len(ROLE_KEYS):
        raise InvalidParameterException("1 validation error detected: Value at 'roles' failed to satisfy "
                                        "constraint: Member must have length less than or equal to 2")
    for key, arn in roles.items():
        if key not in ROLE_KEYS:
            raise InvalidParameterException(
                f"1 validation error detected: Value '{key}' at 'roles' failed to satisfy constraint: "
                "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
                "(un)?authenticated]")
        if not isinstance(arn, str) or not arn.startswith("arn:"):
            raise InvalidParameterException(f"Invalid role ARN for {key}: {arn!r}")
    return dict(roles)


def _check_role_mappings(mappings: Any) -> dict[str, Any]:
    if mappings is None:
        return {}
    if not isinstance(mappings, dict):
        raise InvalidParameterException("RoleMappings must be a map of identity provider to role mapping")
    if len(mappings) > MAX_ROLE_MAPPINGS:
        raise InvalidParameterException("1 validation error detected: Value at 'roleMappings' failed to satisfy "
                                        "constraint: Member must have length less than or equal to 10")
    for provider, mapping in mappings.items():
        kind = mapping.get("Type")
        if kind not in MAPPING_TYPES:
            raise InvalidParameterException(
                f"1 validation error detected: Value '{kind}' at 'roleMappings.{provider}.member.type' failed "
                "to satisfy constraint: Member must satisfy enum value set: [Token, Rules]")
        resolution = mapping.get("AmbiguousRoleResolution")
        if resolution is None:
            raise InvalidParameterException(
                f"AmbiguousRoleResolution must be specified for role mapping type {kind} ({provider})")
        if resolution not in AMBIGUOUS_RESOLUTIONS:
            raise InvalidParameterException(
                f"1 validation error detected: Value '{resolution}' at "
                f"'roleMappings.{provider}.member.ambiguousRoleResolution' failed to satisfy constraint: "
                "Member must satisfy enum value set: [AuthenticatedRole, Deny]")
        if kind == "Rules":
            rules = (mapping.get("RulesConfiguration") or {}).get("Rules")
            if not rules or len(rules) > MAX_RULES:
                raise InvalidParameterException(
                    f"RulesConfiguration with 1 to {MAX_RULES} rules is required for role mapping type "
                    f"Rules ({provider})")
            for rule in rules:
                if rule.get("MatchType") not in MATCH_TYPES:
                    raise InvalidParameterException(
                        f"1 validation error detected: Value '{rule.get('MatchType')}' at 'matchType' failed "
                        "to satisfy constraint: Member must satisfy enum value set: "
                        "[Equals, Contains, StartsWith, NotEqual]")
    return dict(mappings)


def set_identity_pool_roles(
    self: CognitoIdentityBackend, identity_pool_id: str, roles: Any, role_mappings: Any
) -> None:
    pool = _pool(self, identity_pool_id)
    checked_roles = _check_roles(roles)
    checked_mappings = _check_role_mappings(role_mappings)
    pool.__dict__["_ext_roles"] = checked_roles
    pool.__dict__["_ext_role_mappings"] = checked_mappings


def get_identity_pool_roles(self: CognitoIdentityBackend, identity_pool_id: str) -> dict[str, Any]:
    pool = _pool(self, identity_pool_id)
    out: dict[str, Any] = {"IdentityPoolId": identity_pool_id, "Roles": dict(pool.__dict__.get("_ext_roles", {}))}
    mappings = pool.__dict__.get("_ext_role_mappings")
    if mappings:
        out["RoleMappings"] = mappings
    return out


def _wrap_update_identity_pool(original: Any) -> Any:
    def update_identity_pool(self: CognitoIdentityBackend, identity_pool_id: str, identity_pool_name: str,
                             *args: Any, **kwargs: Any) -> str:
        pool = _pool(self, identity_pool_id)
        result = original(self, identity_pool_id, identity_pool_name, *args, **kwargs)
        if identity_pool_name and identity_pool_name != pool.identity_pool_name:
            pool.identity_pool_name = identity_pool_name
            result = pool.to_json()
        return result

    return update_identity_pool


def _identity_pool_of(backend: CognitoIdentityBackend, identity_id: str) -> str | None:
    for pool_id, entry in backend.pools_identities.items():
        if any(i.get("IdentityId") == identity_id for i in entry.get("Identities", [])):
            return pool_id
    return None


def _login_amr(logins: dict[str, str]) -> list[str]:
    """The ``amr`` entries after ``authenticated`` for ``logins`` (provider → token): each provider, then for a
    user pool ``{provider}:CognitoSignIn:{sub}`` with the token's ``sub`` (API Gateway's logging-variables page,
    ``$context.identity.cognitoAuthenticationProvider``). The token is read, not verified (moto's ``GetId``
    checks none either); one without a readable ``sub`` adds only its provider."""
    out = sorted(logins)
    for provider in sorted(logins):
        sub = _unverified_claims(logins[provider]).get("sub") if provider.startswith("cognito-idp.") else None
        if isinstance(sub, str) and sub:
            out.append(f"{provider}:CognitoSignIn:{sub}")
    return out


def _unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified; ``{}`` when ``token`` is not one."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, AttributeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def get_credentials_for_identity_with_role(self: CognitoIdentityBackend, identity_id: str,
                                           logins: dict[str, str] | None = None) -> str:
    """Credentials of the identity's role as an STS session (see the module docstring)."""
    from moto.sts.models import sts_backends

    pool_id = _identity_pool_of(self, identity_id)
    pool = self.identity_pools.get(pool_id) if pool_id else None
    roles = pool.__dict__.get("_ext_roles", {}) if pool is not None else {}
    kind = "authenticated" if logins else "unauthenticated"
    role_arn = roles.get(kind)
    if pool_id is None or not role_arn:
        return _ORIGINAL_GET_CREDENTIALS(self, identity_id)  # type: ignore[misc]
    session = sts_backends[self.account_id]["aws"].assume_role(
        region_name=self.region_name, role_session_name="CognitoIdentityCredentials", role_arn=role_arn,
        policy="", duration=3600, external_id="")
    amr = [kind, *_login_amr(logins or {})]
    self.__dict__.setdefault("_ext_issued", {})[session.access_key_id] = {
        "amr": amr, "identityId": identity_id, "identityPoolId": pool_id}
    return json.dumps({
        "Credentials": {"AccessKeyId": session.access_key_id, "SecretKey": session.secret_access_key,
                        "SessionToken": session.session_token, "Expiration": session.expiration.timestamp()},
        "IdentityId": identity_id,
    })


def issued_identity(access_key_id: str) -> dict[str, Any] | None:
    """``{"amr", "identityId", "identityPoolId"}`` of credentials an identity pool issued, else None."""
    from moto.cognitoidentity.models import cognitoidentity_backends

    for account_id in list(cognitoidentity_backends.keys()):
        for backend in list(cognitoidentity_backends[account_id].values()):
            found = backend.__dict__.get("_ext_issued", {}).get(access_key_id)
            if found is not None:
                return {**found, "amr": list(found["amr"])}
    return None


def handle_get_credentials_for_identity(self: CognitoIdentityResponse) -> str:
    return self.backend.get_credentials_for_identity(self._get_param("IdentityId"), self._get_param("Logins"))


_ORIGINAL_GET_CREDENTIALS = CognitoIdentityBackend.get_credentials_for_identity


# --- response handlers (installed on CognitoIdentityResponse) --------------------------------


def handle_set_identity_pool_roles(self: CognitoIdentityResponse) -> str:
    self.backend.set_identity_pool_roles(
        self._get_param("IdentityPoolId"), self._get_param("Roles"), self._get_param("RoleMappings")
    )
    return ""


def handle_get_identity_pool_roles(self: CognitoIdentityResponse) -> str:
    return json.dumps(self.backend.get_identity_pool_roles(self._get_param("IdentityPoolId")))


BACKEND_METHODS = {
    "set_identity_pool_roles": set_identity_pool_roles,
    "get_identity_pool_roles": get_identity_pool_roles,
    "get_credentials_for_identity": get_credentials_for_identity_with_role,
}

# moto resolves the X-Amz-Target header to a snake_case method name on the response class
# on every request, so adding the methods is enough (no URL line: ``POST /`` is already served).
RESPONSE_METHODS = {
    "set_identity_pool_roles": handle_set_identity_pool_roles,
    "get_identity_pool_roles": handle_get_identity_pool_roles,
    "get_credentials_for_identity": handle_get_credentials_for_identity,
}


def install() -> None:
    """Add the operations above to moto (call once; ``ext.install`` guards that)."""
    for name, method in BACKEND_METHODS.items():
        setattr(CognitoIdentityBackend, name, method)
    for name, handler in RESPONSE_METHODS.items():
        setattr(CognitoIdentityResponse, name, handler)
    CognitoIdentityBackend.update_identity_pool = _wrap_update_identity_pool(  # type: ignore[method-assign]
        CognitoIdentityBackend.update_identity_pool
    )
