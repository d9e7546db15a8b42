"""A route's authorization, as API Gateway does it before the integration (SEMANTICS.md §3, §4, §8).

:class:`Authorizers` dispatches on the route's ``AuthorizationType`` to :mod:`.auth_jwt` (``JWT``),
:mod:`.auth_iam` (``AWS_IAM``) and :mod:`.auth_lambda` (``CUSTOM``), and answers a :class:`Verdict`:
either the response that refuses the request (JWT: 401 ``{"message":"Unauthorized"}`` with
``www-authenticate``, 403 on scopes; IAM: 403 ``{"message":"Forbidden"}``; Lambda: 401 for a missing
identity source, 403 for a deny, 500 when the authorizer fails) or the ``requestContext.authorizer``
value the integration sees (§1.3), in its payload 2.0 and 1.0 forms. The same checks guard a WebSocket
API's ``$connect`` (§6.2, :meth:`Authorizers.check_connect`) and, SigV4 alone, its ``@connections`` API
(:meth:`Authorizers.principal`, used by :mod:`.connections`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from . import auth_iam, auth_jwt, auth_lambda, auth_policy
from .deployed import AuthorizerConfig, Invoke, RouteConfig
from .events import Context, event_v1, event_v2, query_pairs
from .messages import HttpRequest, HttpResponse
from .responses import gateway_error, internal_error

if TYPE_CHECKING:
    from .contract import EmbeddedAws

_log = logging.getLogger("sstdirect.local.gateway")
DEFAULT_JWT_SOURCE = "$request.header.Authorization"  # §3.1: the emulator's default (CDK's)


@dataclass
class Verdict:
    """``response`` when the request is refused; else what the integration's event carries:
    ``authorizer`` (2.0), ``authorizer_v1`` (1.0; None leaves the key out) and ``identity`` (1.0
    ``requestContext.identity`` fields an IAM caller fills in)."""

    response: HttpResponse | None = None
    authorizer: dict[str, Any] | None = None
    authorizer_v1: dict[str, Any] | None = None
    identity: dict[str, Any] = field(default_factory=dict)


class Authorizers:
    """Checks routes' authorizers: JWTs against ``jwks``, SigV4 against ``credentials``, Lambda
    authorizers through the gateway's ``invoke`` (their answers cached in ``cache`` for their TTL).
    :meth:`check` is an HTTP API route's, :meth:`check_connect` a WebSocket API's ``$connect``,
    :meth:`principal` the SigV4 + IAM policy check alone (also ``@connections``')."""

    def __init__(self, jwks: auth_jwt.JwksCache | None = None, credentials: auth_iam.Lookup | None = None,
                 cache: auth_lambda.ResultCache | None = None):
        self.jwks = jwks or auth_jwt.JwksCache()
        self.credentials: auth_iam.Lookup = credentials or (lambda access_key_id: None)
        self.cache = cache or auth_lambda.ResultCache()

    def check(self, route: RouteConfig, request: HttpRequest, ctx: Context, invoke: Invoke) -> Verdict:
        kind = route.authorization_type
        if kind == "NONE":
            return Verdict()
        arn = _route_arn(request, ctx)
        if kind == "AWS_IAM":
            return self._iam(request, ctx, arn)
        authorizer = route.authorizer
        if authorizer is None:  # a JWT/CUSTOM route whose authorizer is gone: refuse, never pass (INFERRED)
            _log.warning("route %s is %s but names no authorizer: refused", route.key, kind)
            return Verdict(internal_error(ctx.request_id))
        if kind == "JWT":
            return self._jwt(route, authorizer, request, ctx)

        def event(identity: list[str]) -> dict[str, Any]:
            version = authorizer.payload_format_version
            base = (event_v1 if version == "1.0" else event_v2)(request, replace(ctx, authorizer=None))
            return auth_lambda.authorizer_event(version, base, arn, identity)

        verdict = self._lambda(authorizer, request, ctx, invoke, arn, event)
        if verdict.response is None:
            # payload 1.0 of an HTTP API behind a Lambda authorizer: the reserved claims / scopes placeholders
            # come first, null (SEMANTICS.md §11, a real 2024 capture); WebSocket events have neither
            verdict.authorizer_v1 = {"claims": None, "scopes": None, **(verdict.authorizer_v1 or {})}
        return verdict

    def check_connect(self, kind: str, authorizer: AuthorizerConfig | None, request: HttpRequest, ctx: Context,
                      event: dict[str, Any], invoke: Invoke) -> Verdict:
        """A WebSocket API's ``$connect`` (SEMANTICS.md §6.2), ``request`` being the upgrade request:
        ``AWS_IAM`` (SigV4, the header or the presigned query form, and the caller's policies on
        ``event["methodArn"]``) or ``CUSTOM`` (a REQUEST authorizer called with ``event``, the ``$connect``
        event plus ``type`` and ``methodArn``; it answers an IAM policy). The verdict's ``authorizer_v1``
        is the connection's ``requestContext.authorizer`` (the context's keys, ``principalId`` and the
        authorizer's ``integrationLatency``), ``identity`` an IAM caller's ``requestContext.identity`` fields."""
        arn = str(event["methodArn"])
        if kind == "AWS_IAM":
            return self._iam(request, ctx, arn)
        if kind != "CUSTOM" or authorizer is None:  # JWT cannot be deployed on $connect; a CUSTOM with none
            _log.warning("$connect of %s is %s with no Lambda authorizer: refused", ctx.api_id, kind)
            return Verdict(internal_error(ctx.request_id))
        started = time.monotonic()
        verdict = self._lambda(authorizer, request, ctx, invoke, arn, lambda identity: event)
        if verdict.response is None:
            # requestContext.authorizer of REST-style (1.0) events, with the call's latency, as AWS shows it
            verdict.authorizer_v1 = {**(verdict.authorizer_v1 or {}),
                                     "integrationLatency": int((time.monotonic() - started) * 1000)}
        return verdict

    def principal(self, request: HttpRequest, region: str, arn: str,
                  action: str = auth_policy.INVOKE) -> auth_iam.Principal:
        """Who signed ``request`` (SigV4, :func:`.auth_iam.verify_sigv4`), provided their own policies
        allow ``action`` on ``arn``; else :class:`.auth_iam.IamDenied`."""
        principal = auth_iam.verify_sigv4(request, region, self.credentials)
        if principal.statements is not None and not auth_policy.decide(principal.statements, arn, action):
            raise auth_iam.IamDenied(f"User: {principal.user_arn} is not authorized to perform: {action} on "
                                     f"resource: {arn}", "ForbiddenException")
        return principal

    def _jwt(self, route: RouteConfig, authorizer: AuthorizerConfig, request: HttpRequest, ctx: Context) -> Verdict:
        source = (authorizer.identity_sources or (DEFAULT_JWT_SOURCE,))[0]
        try:
            token = auth_jwt.bearer_token(identity_value(request, source, ctx))
            claims = auth_jwt.verify(token, authorizer.issuer, authorizer.audience, self.jwks)
            scopes = auth_jwt.check_scopes(claims, route.authorization_scopes)
        except auth_jwt.JwtDenied as denied:
            _log.info("%s %s: JWT refused (%d): %s", request.method, request.raw_path, denied.status,
                      denied.description or "no token")
            if denied.status == 403:
                return Verdict(gateway_error(403, "Forbidden", ctx.request_id))
            response = gateway_error(401, "Unauthorized", ctx.request_id)
            response.headers.append(("www-authenticate", denied.www_authenticate or "Bearer"))
            return Verdict(response)
        rendered = auth_jwt.claims_context(claims)
        return Verdict(authorizer={"jwt": {"claims": rendered, "scopes": scopes}},
                       authorizer_v1={"claims": rendered, "scopes": scopes})

    def _iam(self, request: HttpRequest, ctx: Context, arn: str) -> Verdict:
        try:
            principal = self.principal(request, ctx.region, arn)
        except auth_iam.IamDenied as denied:
            _log.info("%s %s: IAM refused: %s", request.method, request.raw_path, denied)
            return Verdict(gateway_error(403, "Forbidden", ctx.request_id))
        return Verdict(authorizer=auth_iam.iam_context(principal), identity=caller_identity(principal))

    def _lambda(self, authorizer: AuthorizerConfig, request: HttpRequest, ctx: Context, invoke: Invoke, arn: str,
                event: Callable[[list[str]], dict[str, Any]]) -> Verdict:
        """A Lambda authorizer: 401 for a missing identity source (not called), its cached answer or
        ``event(identity values)`` sent to it, then its decision on ``arn`` (403 on a deny, 500 when it failed)."""
        values = [identity_value(request, s, ctx) for s in authorizer.identity_sources]
        if any(v in (None, "") for v in values):
            return Verdict(gateway_error(401, "Unauthorized", ctx.request_id))
        identity = [v for v in values if v is not None]
        cacheable = authorizer.ttl_s > 0 and bool(identity)
        key = f"{ctx.api_id}/{authorizer.authorizer_id}"
        answer = self.cache.get(key, identity) if cacheable else None
        if answer is None:
            answer = self._invoke_authorizer(authorizer, event(identity), invoke)
            if answer is None:
                return Verdict(internal_error(ctx.request_id))
            if cacheable:
                self.cache.put(key, identity, answer, authorizer.ttl_s)
        decision = auth_lambda.decide(answer, arn)
        if not decision.allowed:
            return Verdict(gateway_error(403, "Forbidden", ctx.request_id))
        # payload 1.0: the context's keys (and principalId) sit directly in requestContext.authorizer,
        # as REST APIs do (INFERRED)
        v1 = {**(decision.context or {})}
        if decision.principal_id is not None:
            v1["principalId"] = decision.principal_id
        return Verdict(authorizer={"lambda": decision.context}, authorizer_v1=v1)

    @staticmethod
    def _invoke_authorizer(authorizer: AuthorizerConfig, event: dict[str, Any], invoke: Invoke) -> Any:
        """The authorizer's validated answer, or None when it failed (logged; → 500, §8)."""
        if authorizer.function_name is None:
            _log.warning("authorizer %s has no function", authorizer.name or authorizer.authorizer_id)
            return None
        outcome = invoke(authorizer.function_name, event, auth_lambda.AUTHORIZER_TIMEOUT_S)
        if outcome.status != "ok":
            _log.warning("authorizer %s failed: %s", authorizer.function_name, outcome.error or outcome.status)
            return None
        try:
            return auth_lambda.parse_answer(outcome.result, authorizer.simple_responses)
        except auth_lambda.InvalidAuthorizerResponse as exc:
            _log.warning("authorizer %s returned an invalid response: %s", authorizer.function_name, exc)
            return None


def caller_identity(principal: auth_iam.Principal) -> dict[str, Any]:
    """An IAM caller's fields of a REST-style (payload 1.0, WebSocket) ``requestContext.identity`` (INFERRED
    for HTTP APIs' payload 1.0: as REST APIs fill them in)."""
    cognito = principal.cognito_identity or {}
    amr = cognito.get("amr") or []
    return {"accessKey": principal.access_key, "accountId": principal.account_id,
            "caller": principal.user_id, "user": principal.user_id, "userArn": principal.user_arn,
            "cognitoIdentityId": cognito.get("identityId"),
            "cognitoIdentityPoolId": cognito.get("identityPoolId"),
            "cognitoAuthenticationType": amr[0] if amr else None,
            "cognitoAuthenticationProvider": (",".join(amr[1:]) or None)}


def _route_arn(request: HttpRequest, ctx: Context) -> str:
    return auth_policy.route_arn(ctx.region, ctx.account_id, ctx.api_id, ctx.stage, request.method, request.raw_path)


def local_authorizers(cloud: EmbeddedAws) -> Authorizers:
    """The :class:`Authorizers` of an embedded AWS: Cognito issuers resolved to its own JWKS, SigV4 checked
    against the key pairs it hands out (``cloud.principal``)."""
    return Authorizers(auth_jwt.JwksCache(auth_jwt.cognito_resolver(cloud.endpoint_url)), cloud.principal)


_CONTEXT_VALUES = {
    "requestId": lambda r, c: c.request_id, "routeKey": lambda r, c: c.route_key, "stage": lambda r, c: c.stage,
    "apiId": lambda r, c: c.api_id, "accountId": lambda r, c: c.account_id, "domainName": lambda r, c: c.domain_name,
    "httpMethod": lambda r, c: r.method, "path": lambda r, c: r.raw_path,
    "identity.sourceIp": lambda r, c: r.source_ip, "identity.userAgent": lambda r, c: r.header("user-agent"),
}


_WEBSOCKET_SOURCES = (("route.request.", "$request."), ("stageVariables.", "$stageVariables."),
                      ("context.", "$context."))


def identity_value(request: HttpRequest, source: str, ctx: Context) -> str | None:
    """The value of an identity source (``$request.header.X``, ``$request.querystring.x``,
    ``$stageVariables.x``, ``$context.x``; a WebSocket API's ``route.request.header.X``,
    ``route.request.querystring.x``, ``stageVariables.x``, ``context.x``), or None when the request does
    not have it."""
    source = source.strip()
    for websocket, http in _WEBSOCKET_SOURCES:
        if source.startswith(websocket):
            source = http + source[len(websocket):]
            break
    if source.startswith("$request.header."):
        return request.header(source[len("$request.header."):])
    if source.startswith("$request.querystring."):
        name = source[len("$request.querystring."):]
        values = [v for k, v in query_pairs(request.raw_query) if k == name]
        return ",".join(values) if values else None
    if source.startswith("$stageVariables."):
        return ctx.stage_variables.get(source[len("$stageVariables."):])
    if source.startswith("$context."):
        getter = _CONTEXT_VALUES.get(source[len("$context."):])
        if getter is None:
            _log.warning("identity source %s is not known to the local gateway: treated as missing", source)
            return None
        return getter(request, ctx)
    return None
