"""Who is calling a local AppSync API: the request's authorization mode, checked, and the ``identity``
resolvers see (SEMANTICS.md §7.1, §7.3). Pure given a JWKS cache, a credentials lookup and a Lambda ``invoke``.

A request picks its mode by what it carries, among the API's default and additional modes:
``x-api-key`` → ``API_KEY``; an ``Authorization`` JWT whose ``iss`` is a configured Cognito user pool
(``AMAZON_COGNITO_USER_POOLS``) or OIDC issuer (``OPENID_CONNECT``); any other ``Authorization`` value →
``AWS_LAMBDA`` when configured; a SigV4 ``Authorization`` → ``AWS_IAM``. A missing, wrong or expired
credential is :class:`Unauthorized` (401 with AppSync's ``UnauthorizedException`` body).

The checks themselves are the HTTP API authorizers': JWTs with :func:`.auth_jwt.verify` against the shared
:class:`.auth_jwt.JwksCache` (one key-rotation behaviour for both), SigV4 with :func:`.auth_iam.verify_sigv4`
(``service="appsync"``) against an :data:`.auth_iam.Lookup`: on the local gateway every key pair the
embedded AWS hands out (its own, identity-pool credentials, IAM users' keys and STS sessions). This module
keeps what is AppSync's own: how a mode is picked, the audience rules, the error messages and ``identity``.
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import auth_iam, auth_jwt
from .deployed import Invoke
from .messages import HttpRequest

DEFAULT_MESSAGE = "You are not authorized to make this call."
# INFERRED: AppSync's messages for a bad or expired user-pool / OIDC token.
BAD_TOKEN_MESSAGE = "Valid authorization header not provided."
EXPIRED_TOKEN_MESSAGE = "Token has expired."
COGNITO_ISSUER = "https://cognito-idp.{region}.amazonaws.com/{pool}"
AUTHORIZER_TIMEOUT_S = 10.0
SIGV4_SERVICE = "appsync"
SIGV4_MAX_SKEW = datetime.timedelta(minutes=15)  # AWS services refuse a signature more than 15 minutes off
GRAPHQL_ACTION = "appsync:GraphQL"


class Unauthorized(Exception):
    """The request is refused: HTTP 401 ``{"errors":[{"errorType":"UnauthorizedException","message":...}]}``."""

    def __init__(self, message: str = DEFAULT_MESSAGE):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class AuthProvider:
    """One authorization mode of the API as deployed (``mode`` is AppSync's ``authenticationType``)."""

    mode: str
    user_pool: dict[str, Any] | None = None    # userPoolId, awsRegion, appIdClientRegex, defaultAction
    oidc: dict[str, Any] | None = None         # issuer, clientId, iatTTL, authTTL
    authorizer_function: str | None = None     # AWS_LAMBDA: the function name
    identity_validation_expression: str | None = None
    result_ttl_s: int = 0                      # AWS_LAMBDA: authorizerResultTtlInSeconds


@dataclass
class Principal:
    """An authorized caller: its ``mode``, the ``identity`` resolvers see, its Cognito ``groups``, the
    fields a Lambda authorizer denied (``Type.field``) and, for an IAM caller, its policy ``statements``
    (None: unrestricted, the embedded AWS's own key pair)."""

    mode: str
    identity: dict[str, Any] | None
    groups: tuple[str, ...] = ()
    denied_fields: frozenset[str] = field(default_factory=frozenset)
    default_action: str = "ALLOW"
    statements: tuple[dict[str, Any], ...] | None = None


# --- the authenticator -------------------------------------------------------------------------


class Authenticator:
    """Checks a request against an API's modes. ``jwks`` finds token issuers' keys (on the local gateway
    Cognito issuers resolve to the embedded AWS); ``api_keys`` is ``{key id: expires epoch seconds}``, read
    again with ``reload_keys`` when a request carries a key it does not know; ``credentials`` finds the
    secret (and who it is) of the access key a SigV4 request is signed with."""

    def __init__(self, providers: list[AuthProvider], api_keys: dict[str, int], *, jwks: auth_jwt.JwksCache,
                 invoke: Invoke, api_id: str = "", account_id: str = "", clock: Callable[[], float] = time.time,
                 reload_keys: Callable[[], dict[str, int]] | None = None,
                 credentials: auth_iam.Lookup | None = None, region: str = "us-east-1"):
        self.providers = providers
        self.modes = {p.mode: p for p in providers}
        self.default_mode = providers[0].mode if providers else "API_KEY"
        self.api_keys = api_keys
        self.jwks = jwks
        self.invoke = invoke
        self.api_id = api_id
        self.account_id = account_id
        self.clock = clock
        self.reload_keys = reload_keys
        self.credentials: auth_iam.Lookup = credentials or (lambda access_key_id: None)
        self.region = region
        self._authorized: dict[str, tuple[float, Principal]] = {}  # Lambda authorizer results by token

    def authenticate(self, headers: dict[str, Any], source_ips: list[str], request: dict[str, Any],
                     http: HttpRequest | None = None) -> Principal:
        """The caller of a request (``headers`` lower-cased; ``request`` is the GraphQL body, for a Lambda
        authorizer's ``requestContext``; ``http`` the request as sent, for SigV4). Raises :class:`Unauthorized`."""
        api_key = _first(headers.get("x-api-key"))
        token = _first(headers.get("authorization"))
        if api_key is not None and "API_KEY" in self.modes:
            return self._api_key(api_key)
        if token:
            if token.startswith("AWS4-HMAC-SHA256") and "AWS_IAM" in self.modes and http is not None:
                return self._iam(http, source_ips)
            bearer = auth_jwt.bearer_token(token) or ""
            issuer = auth_jwt.unverified_issuer(bearer)
            if issuer is not None:
                provider = self._jwt_provider(issuer)
                if provider is not None:
                    return self._jwt(provider, bearer, issuer, source_ips)
            if "AWS_LAMBDA" in self.modes:
                return self._lambda(self.modes["AWS_LAMBDA"], token, headers, request)
        raise Unauthorized()

    def _api_key(self, key: str) -> Principal:
        if key not in self.api_keys and self.reload_keys is not None:  # a key made since the gateway started
            self.api_keys = self.reload_keys()
        expires = self.api_keys.get(key)
        if expires is None or expires <= self.clock():  # an expired key is refused like a wrong one
            raise Unauthorized()
        return Principal("API_KEY", None)  # "The identity field isn't populated" (§7.1)

    def _iam(self, http: HttpRequest, source_ips: list[str]) -> Principal:
        now = datetime.datetime.fromtimestamp(self.clock(), datetime.UTC)
        try:
            caller = auth_iam.verify_sigv4(http, self.region, self.credentials, now=now, service=SIGV4_SERVICE,
                                           max_skew=SIGV4_MAX_SKEW)
        except auth_iam.IamDenied:
            raise Unauthorized() from None
        cognito = caller.cognito_identity or {}
        amr = cognito.get("amr") or []
        return Principal("AWS_IAM", {
            "accountId": caller.account_id, "cognitoIdentityPoolId": cognito.get("identityPoolId"),
            "cognitoIdentityId": cognito.get("identityId"), "sourceIp": source_ips, "username": caller.user_id,
            "userArn": caller.user_arn, "cognitoIdentityAuthType": amr[0] if amr else None,
            "cognitoIdentityAuthProvider": ",".join(amr[1:]) or None}, statements=caller.statements)

    def _jwt_provider(self, issuer: str) -> AuthProvider | None:
        for provider in self.providers:
            if provider.mode == "AMAZON_COGNITO_USER_POOLS" and provider.user_pool:
                pool = provider.user_pool
                if issuer == COGNITO_ISSUER.format(region=pool.get("awsRegion"), pool=pool.get("userPoolId")):
                    return provider
            if provider.mode == "OPENID_CONNECT" and provider.oidc and issuer == provider.oidc.get("issuer"):
                return provider
        return None

    def _jwt(self, provider: AuthProvider, token: str, issuer: str, source_ips: list[str]) -> Principal:
        try:  # signature, iss, exp/nbf; the audience is matched below, AppSync's way
            claims = auth_jwt.verify(token, issuer, None, self.jwks, now=self.clock())
        except auth_jwt.JwtDenied as exc:
            raise Unauthorized(EXPIRED_TOKEN_MESSAGE if exc.expired else BAD_TOKEN_MESSAGE) from None
        audiences = auth_jwt.token_audiences(claims)  # aud, or an access token's client_id
        if provider.mode == "AMAZON_COGNITO_USER_POOLS":
            pool = provider.user_pool or {}
            regex = pool.get("appIdClientRegex")
            if regex and not any(re.fullmatch(regex, str(a)) for a in audiences):
                raise Unauthorized()
            groups = tuple(claims.get("cognito:groups") or ())
            default_action = pool.get("defaultAction") or "ALLOW"
            identity = {
                "sub": claims.get("sub"), "issuer": issuer,
                "username": claims.get("cognito:username") or claims.get("username"),
                "claims": claims, "sourceIp": source_ips, "defaultAuthStrategy": default_action,
                "groups": list(groups) or None,
            }
            return Principal(provider.mode, identity, groups, default_action=default_action)
        client_id = (provider.oidc or {}).get("clientId")
        if client_id and client_id not in audiences:
            raise Unauthorized()
        return Principal(provider.mode, {"claims": claims, "issuer": issuer, "sub": claims.get("sub")})

    def _lambda(self, provider: AuthProvider, token: str, headers: dict[str, Any],
                request: dict[str, Any]) -> Principal:
        pattern = provider.identity_validation_expression
        if pattern and not re.fullmatch(pattern, token):
            raise Unauthorized()
        if not provider.authorizer_function:
            raise Unauthorized("the API's Lambda authorizer function is not served locally")
        event = {
            "authorizationToken": token,
            "requestContext": {"apiId": self.api_id, "accountId": self.account_id,
                               "requestId": request.get("requestId"), "queryString": request.get("query"),
                               "operationName": request.get("operationName"),
                               "variables": request.get("variables") or {}},
            "requestHeaders": {k: v for k, v in headers.items() if isinstance(v, str)},
        }
        cached = self._authorized.get(token)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        outcome = self.invoke(provider.authorizer_function, event, AUTHORIZER_TIMEOUT_S)
        result = outcome.result if outcome.status == "ok" else None
        if not isinstance(result, dict) or result.get("isAuthorized") is not True:
            raise Unauthorized()
        denied = frozenset(_field_name(f) for f in result.get("deniedFields") or [] if isinstance(f, str))
        context = result.get("resolverContext")
        principal = Principal("AWS_LAMBDA", {"resolverContext": context if isinstance(context, dict) else {}},
                              denied_fields=denied)
        ttl = result.get("ttlOverride", provider.result_ttl_s)
        if isinstance(ttl, int | float) and not isinstance(ttl, bool) and ttl > 0:
            # cached by token for ttlOverride or the API's TTL, as AppSync does; INFERRED: denials are not cached
            self._authorized[token] = (self.clock() + ttl, principal)
        return principal


def _field_name(value: str) -> str:
    """``Type.field``, or an ARN ``arn:aws:appsync:...:apis/ID/types/Type/fields/field`` → ``Type.field``."""
    match = re.search(r"/types/([^/]+)/fields/([^/]+)$", value)
    return f"{match.group(1)}.{match.group(2)}" if match else value


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        return value[0] if value else None
    return value
