"""Who is calling a local AppSync API: the request's authorization mode, checked, and the ``identity``
resolvers see (SEMANTICS.md §7.1, §7.3). Pure given three callables (the clock, a JWKS fetcher, a
Lambda ``invoke``).

A request picks its mode by what it carries, among the API's default and additional modes:
``x-api-key`` → ``API_KEY``; an ``Authorization`` JWT whose ``iss`` is a configured Cognito user pool
(``AMAZON_COGNITO_USER_POOLS``) or OIDC issuer (``OPENID_CONNECT``); any other ``Authorization`` value →
``AWS_LAMBDA`` when configured; a SigV4 ``Authorization`` → ``AWS_IAM``, verified against the embedded AWS's
credentials. A missing, wrong or expired credential is :class:`Unauthorized` (401 with AppSync's
``UnauthorizedException`` body).

:func:`verify_jwt` (RS256 signature against a JWKS, ``iss``, ``exp``/``nbf``) and :func:`verify_sigv4`
are small standalone checks meant to be shared with the HTTP API's authorizers.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .messages import HttpRequest
from .pipeline import Invoke

DEFAULT_MESSAGE = "You are not authorized to make this call."
# INFERRED: AppSync's messages for a bad or expired user-pool / OIDC token.
BAD_TOKEN_MESSAGE = "Valid authorization header not provided."
EXPIRED_TOKEN_MESSAGE = "Token has expired."
COGNITO_ISSUER = "https://cognito-idp.{region}.amazonaws.com/{pool}"
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
AUTHORIZER_TIMEOUT_S = 10.0
SIGV4_MAX_SKEW_S = 15 * 60  # AWS refuses a signature more than 15 minutes off
_SIGV4 = re.compile(r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
                    r"(?P<service>[^/]+)/aws4_request,\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
                    r"Signature=(?P<signature>[0-9a-f]{64})\s*$")


class Unauthorized(Exception):
    """The request is refused: HTTP 401 ``{"errors":[{"errorType":"UnauthorizedException","message":...}]}``."""

    def __init__(self, message: str = DEFAULT_MESSAGE):
        super().__init__(message)
        self.message = message


class InvalidToken(Exception):
    """:func:`verify_jwt` refused the token (``expired`` tells an expired one apart, ``unknown_key`` one
    whose ``kid`` is not in the JWKS)."""

    def __init__(self, message: str, expired: bool = False, unknown_key: bool = False):
        super().__init__(message)
        self.expired = expired
        self.unknown_key = unknown_key


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
    """An authorized caller: its ``mode``, the ``identity`` resolvers see, its Cognito ``groups`` and the
    fields a Lambda authorizer denied (``Type.field``)."""

    mode: str
    identity: dict[str, Any] | None
    groups: tuple[str, ...] = ()
    denied_fields: frozenset[str] = field(default_factory=frozenset)
    default_action: str = "ALLOW"


# --- JWT ---------------------------------------------------------------------------------------


def verify_jwt(token: str, jwks: dict[str, Any], issuer: str, now: float | None = None) -> dict[str, Any]:
    """The claims of ``token`` if it is an RSA-signed JWT whose ``kid`` is in ``jwks``, whose signature
    verifies, whose ``iss`` is exactly ``issuer`` and which is not expired (``exp``) or early (``nbf``).
    Raises :class:`InvalidToken`. Audience checks are the caller's (they differ per service)."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"not a JWT: {exc}") from None
    alg = header.get("alg")
    if alg not in RSA_ALGORITHMS:
        raise InvalidToken(f"algorithm {alg!r} is not RSA")
    keys = [k for k in jwks.get("keys") or [] if k.get("kid") == header.get("kid")]
    if not keys:
        raise InvalidToken(f"no key with kid {header.get('kid')!r} in the issuer's JWKS", unknown_key=True)
    try:
        key = jwt.PyJWK.from_dict(keys[0], algorithm=alg).key
        claims = jwt.decode(token, key, algorithms=[alg], issuer=issuer,
                            options={"verify_aud": False, "require": ["exp", "iss"], "verify_exp": now is None})
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired", expired=True) from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None
    if now is not None and float(claims["exp"]) <= now:
        raise InvalidToken("the token has expired", expired=True)
    return claims


def verify_sigv4(request: HttpRequest, secrets: Mapping[str, str], service: str, region: str,
                 now: float | None = None) -> str:
    """The access key id whose secret (``secrets[key id]``) signed ``request`` with Signature Version 4
    for ``service`` in ``region``, the signed headers as sent, within 15 minutes of ``now``.
    Raises :class:`InvalidToken`."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    match = _SIGV4.match(request.header("authorization") or "")
    if match is None:
        raise InvalidToken("not a SigV4 Authorization header")
    if (match["service"], match["region"]) != (service, region):
        raise InvalidToken(f"signed for {match['service']} in {match['region']}, not {service} in {region}")
    secret = secrets.get(match["key"])
    if secret is None:
        raise InvalidToken(f"unknown access key {match['key']}")
    stamp = request.header("x-amz-date") or ""
    try:
        signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise InvalidToken("missing or malformed x-amz-date") from None
    if stamp[:8] != match["date"] or abs((time.time() if now is None else now) - signed_at) > SIGV4_MAX_SKEW_S:
        raise InvalidToken("the signature's date is outside the allowed window", expired=True)
    headers = {name: request.header(name) for name in match["signed"].split(";")}
    if any(value is None for value in headers.values()):
        raise InvalidToken("a signed header is missing")
    query = f"?{request.raw_query}" if request.raw_query else ""
    aws_request = AWSRequest(method=request.method, url=f"http://{headers.get('host') or 'localhost'}"
                             f"{request.raw_path}{query}", data=request.body, headers=headers)
    aws_request.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(match["key"], secret, request.header("x-amz-security-token")), service, region)
    expected = signer.signature(signer.string_to_sign(aws_request, signer.canonical_request(aws_request)), aws_request)
    if not hmac.compare_digest(expected, match["signature"]):
        raise InvalidToken("the signature does not match")
    return match["key"]


def unverified_issuer(token: str) -> str | None:
    """The ``iss`` claim of a JWT, unverified (to pick the provider), or None if it is not a JWT."""
    import jwt

    try:
        iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return iss if isinstance(iss, str) else None


class JwksCache:
    """``get(url)``: a JWKS document, fetched once per URL with ``fetch`` (``refresh=True`` fetches again, for a
    token whose ``kid`` the cached keys lack); thread-safe."""

    def __init__(self, fetch: Callable[[str], dict[str, Any]]):
        self._fetch = fetch
        self._docs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, url: str, refresh: bool = False) -> dict[str, Any]:
        with self._lock:
            doc = None if refresh else self._docs.get(url)
        if doc is None:
            doc = self._fetch(url)
            with self._lock:
                self._docs[url] = doc
        return doc


# --- the authenticator -------------------------------------------------------------------------


class Authenticator:
    """Checks a request against an API's modes. ``jwks_url(issuer)`` maps a token issuer to the URL of
    its keys (Cognito issuers → the embedded AWS); ``api_keys`` is ``{key id: expires epoch seconds}``, read
    again with ``reload_keys`` when a request carries a key it does not know; ``iam_users`` are the
    credentials SigV4 requests may be signed with."""

    def __init__(self, providers: list[AuthProvider], api_keys: dict[str, int], *, jwks: JwksCache,
                 jwks_url: Callable[[str], str], invoke: Invoke, api_id: str = "", account_id: str = "",
                 clock: Callable[[], float] = time.time, reload_keys: Callable[[], dict[str, int]] | None = None,
                 iam_users: Mapping[str, tuple[str, dict[str, Any]]] | None = None, region: str = "us-east-1"):
        self.providers = providers
        self.modes = {p.mode: p for p in providers}
        self.default_mode = providers[0].mode if providers else "API_KEY"
        self.api_keys = api_keys
        self.jwks = jwks
        self.jwks_url = jwks_url
        self.invoke = invoke
        self.api_id = api_id
        self.account_id = account_id
        self.clock = clock
        self.reload_keys = reload_keys
        self.iam_users = dict(iam_users or {})  # {access key id: (secret, {accountId, userArn, username})}
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
            issuer = unverified_issuer(token.removeprefix("Bearer ").strip())
            if issuer is not None:
                provider = self._jwt_provider(issuer)
                if provider is not None:
                    return self._jwt(provider, token.removeprefix("Bearer ").strip(), issuer, source_ips)
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
        secrets = {key: secret for key, (secret, _) in self.iam_users.items()}
        try:
            key = verify_sigv4(http, secrets, "appsync", self.region, now=self.clock())
        except InvalidToken:
            raise Unauthorized() from None
        who = self.iam_users[key][1]
        return Principal("AWS_IAM", {
            "accountId": who.get("accountId"), "cognitoIdentityPoolId": None, "cognitoIdentityId": None,
            "sourceIp": source_ips, "username": who.get("username"), "userArn": who.get("userArn"),
            "cognitoIdentityAuthType": None, "cognitoIdentityAuthProvider": None})

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
        claims = None
        for refresh in (False, True):
            try:
                jwks = self.jwks.get(self.jwks_url(issuer), refresh=refresh)
            except Exception as exc:
                raise Unauthorized(f"{BAD_TOKEN_MESSAGE} (the issuer's keys could not be read: {exc})") from None
            try:
                claims = verify_jwt(token, jwks, issuer, now=self.clock())
                break
            except InvalidToken as exc:
                if refresh or not exc.unknown_key:
                    raise Unauthorized(EXPIRED_TOKEN_MESSAGE if exc.expired else BAD_TOKEN_MESSAGE) from None
        assert claims is not None
        audience = claims.get("aud") if claims.get("token_use") != "access" else claims.get("client_id")
        if provider.mode == "AMAZON_COGNITO_USER_POOLS":
            regex = (provider.user_pool or {}).get("appIdClientRegex")
            if regex and not re.fullmatch(regex, str(audience or "")):
                raise Unauthorized()
            groups = tuple(claims.get("cognito:groups") or ())
            identity = {
                "sub": claims.get("sub"), "issuer": issuer,
                "username": claims.get("cognito:username") or claims.get("username"),
                "claims": claims, "sourceIp": source_ips,
                "defaultAuthStrategy": (provider.user_pool or {}).get("defaultAction") or "ALLOW",
                "groups": list(groups) or None,
            }
            return Principal(provider.mode, identity, groups,
                             default_action=(provider.user_pool or {}).get("defaultAction") or "ALLOW")
        client_id = (provider.oidc or {}).get("clientId")
        if client_id and client_id not in ([audience] if isinstance(audience, str) else list(audience or ())):
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
