""":class:`HttpGateway`: one deployed HTTP API's request pipeline, pure given an ``invoke`` callable.

``handle(request)`` does what API Gateway does, in its order: the 10 MB limit (413), route selection
(404 ``{"message":"Not Found"}``), the route's authorization, the Lambda event (payload 2.0 or 1.0), the
invocation, the response interpretation (an invalid result, an error or a function timeout → 500; the
integration timeout → 503), and the CORS headers. With CORS configured, a preflight is matched to a route
too and that route's authorizer runs (an unauthenticated preflight is refused, 401/403, as on AWS); one
that matches no route or passes is answered by the gateway (204) without invoking the integration
(SEMANTICS.md §5). Tests call it directly (the in-process client); the server calls it per request.

Authorization is :class:`.auth.Authorizers`' job (JWT signatures against the issuer's JWKS, SigV4
against the embedded AWS's credentials, Lambda authorizers through the same ``invoke``): a refused
request never reaches the integration, and what the authorizer let through is the event's
``requestContext.authorizer``.
"""

from __future__ import annotations

import json
import logging

from . import cors as cors_mod
from .auth import Authorizers
from .deployed import ApiConfig, Integration, Invoke, Outcome, RouteConfig
from .events import Context, event_v1, event_v2, new_request_id
from .messages import HttpRequest, HttpResponse
from .responses import (
    MAX_LAMBDA_PAYLOAD,
    MAX_REQUEST_BYTES,
    InvalidResponse,
    internal_error,
    not_found,
    response_v1,
    response_v2,
    service_unavailable,
    too_large,
)
from .routing import RouteTable

_log = logging.getLogger("sstdirect.local.gateway")

# the deployed configuration it serves, importable from here too
__all__ = ["ApiConfig", "HttpGateway", "Integration", "Invoke", "Outcome", "RouteConfig"]


class HttpGateway:
    """One API's pipeline; ``auth`` checks authorizers (by default with no credentials and no issuer
    resolution: the server passes the embedded AWS's, see :mod:`.server`)."""

    def __init__(self, config: ApiConfig, invoke: Invoke, auth: Authorizers | None = None):
        self.config = config
        self.invoke = invoke
        self.auth = auth or Authorizers()
        self.table = RouteTable(list(config.routes))

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        cors = self.config.cors
        preflight = cors is not None and cors_mod.is_preflight(request)
        response = self._handle(request, request_id, preflight)  # None only for such a preflight
        if cors is not None:  # a preflight the route's authorizer (if any) let through: never the Lambda
            response = (cors_mod.preflight(cors, request, request_id) if response is None
                        else cors_mod.apply(cors, request, response))
        if request.method == "HEAD":
            response.headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
            response.headers.append(("content-length", str(len(response.body))))
            response.body = b""
        return response

    def _handle(self, request: HttpRequest, request_id: str, preflight: bool = False) -> HttpResponse | None:
        """The response, or None for a ``preflight`` the gateway answers itself (no route, or authorized)."""
        if len(request.body) > MAX_REQUEST_BYTES:
            return too_large(request_id)
        match = self.table.match(request.method, request.raw_path)
        if match is None:
            return None if preflight else not_found(request_id)
        route = self.config.routes[match.route_key]
        ctx = Context(api_id=self.config.api_id, region=self.config.region, account_id=self.config.account_id,
                      stage=self.config.stage, match=match, request_id=request_id,
                      stage_variables=self.config.stage_variables)
        verdict = self.auth.check(route, request, ctx, self.invoke)
        if verdict.response is not None:
            return verdict.response
        if preflight:
            return None
        ctx.authorizer, ctx.authorizer_v1, ctx.identity = verdict.authorizer, verdict.authorizer_v1, verdict.identity
        if route.integration is None:  # a route with no target: nothing to call (INFERRED 404 as AWS)
            return not_found(request_id)
        return self._integrate(route.integration, request, ctx)

    def _integrate(self, integration: Integration, request: HttpRequest, ctx: Context) -> HttpResponse:
        request_id = ctx.request_id
        v1 = integration.payload_format_version == "1.0"
        event = (event_v1 if v1 else event_v2)(request, ctx)
        if len(json.dumps(event)) > MAX_LAMBDA_PAYLOAD:
            return too_large(request_id)
        outcome = self.invoke(integration.function_name, event, integration.timeout_ms / 1000)
        if outcome.status == "timeout":
            return service_unavailable(request_id)
        if outcome.status != "ok":
            _log.warning("%s %s: %s failed: %s", request.method, request.raw_path, integration.function_name,
                         outcome.error)
            return internal_error(request_id)
        try:
            return (response_v1 if v1 else response_v2)(outcome.result, request_id)
        except InvalidResponse as exc:
            _log.warning("%s returned an invalid response: %s", integration.function_name, exc)
            return internal_error(request_id)
