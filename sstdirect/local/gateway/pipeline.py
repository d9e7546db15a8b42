""":class:`HttpGateway`: one deployed HTTP API's request pipeline, pure given an ``invoke`` callable.

``handle(request)`` does what API Gateway does, in its order: the 10 MB limit (413), the CORS
preflight (204, before routing), route selection (404 ``{"message":"Not Found"}``), the route's
authorization, the Lambda event (payload 2.0 or 1.0), the invocation, the response interpretation
(an invalid result, an error or a function timeout → 500; the integration timeout → 503), and the
CORS headers. Tests call it directly (the in-process client); the server calls it per request.

Authorization in this slice (honest, never a silent pass): JWT, Lambda (``CUSTOM``) and IAM
authorizers are **not verified yet**. A request without the credential the authorizer reads gets
what AWS sends for a missing one (JWT and Lambda: 401 ``{"message":"Unauthorized"}``, JWT with a
``www-authenticate`` header; IAM: 403 ``{"message":"Forbidden"}``); a request that carries one is
refused with 501 ``{"message":"... authorizers are not supported by the local gateway yet"}`` rather
than let through unchecked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import cors as cors_mod
from .events import Context, event_v1, event_v2, new_request_id
from .messages import HttpRequest, HttpResponse
from .responses import (
    MAX_LAMBDA_PAYLOAD,
    MAX_REQUEST_BYTES,
    InvalidResponse,
    gateway_error,
    internal_error,
    not_found,
    response_v1,
    response_v2,
    service_unavailable,
    too_large,
)
from .routing import Match, RouteTable

_log = logging.getLogger("sstdirect.local.gateway")


@dataclass(frozen=True)
class Integration:
    """An ``AWS_PROXY`` Lambda integration as deployed."""

    function_name: str
    payload_format_version: str = "2.0"
    timeout_ms: int = 30000


@dataclass(frozen=True)
class RouteConfig:
    key: str
    integration: Integration | None
    authorization_type: str = "NONE"  # NONE | JWT | CUSTOM | AWS_IAM
    identity_sources: tuple[str, ...] = ()


@dataclass
class ApiConfig:
    """What the gateway serves for one HTTP API (read from the embedded AWS by :mod:`.config`)."""

    api_id: str
    name: str = ""
    region: str = "us-east-1"
    account_id: str = "123456789012"
    stage: str = "$default"
    cors: dict[str, Any] | None = None
    routes: dict[str, RouteConfig] = field(default_factory=dict)
    stage_variables: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """What an invocation gave: ``result`` (JSON-decoded) when ``status == "ok"``; else ``"error"``
    (the handler raised, its worker died, or the function timed out) or ``"timeout"`` (the
    integration's own timeout passed first). For a handler that raised, ``error_type`` and
    ``error_message`` are Lambda's ``errorType`` (the exception class) and ``errorMessage``."""

    status: str
    result: Any = None
    error: str = ""
    error_type: str = ""
    error_message: str = ""


Invoke = Callable[[str, dict[str, Any], float], Outcome]  # (function_name, event, timeout_s) → Outcome


class HttpGateway:
    def __init__(self, config: ApiConfig, invoke: Invoke):
        self.config = config
        self.invoke = invoke
        self.table = RouteTable(list(config.routes))

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id()
        cors = self.config.cors
        if cors is not None and cors_mod.is_preflight(request) and len(request.body) <= MAX_REQUEST_BYTES:
            response = cors_mod.preflight(cors, request, request_id)  # before routing, never the Lambda
        else:
            response = self._handle(request, request_id)
            if cors is not None:
                cors_mod.apply(cors, request, response)
        if request.method == "HEAD":
            response.headers = [(k, v) for k, v in response.headers if k.lower() != "content-length"]
            response.headers.append(("content-length", str(len(response.body))))
            response.body = b""
        return response

    def _handle(self, request: HttpRequest, request_id: str) -> HttpResponse:
        if len(request.body) > MAX_REQUEST_BYTES:
            return too_large(request_id)
        match = self.table.match(request.method, request.raw_path)
        if match is None:
            return not_found(request_id)
        route = self.config.routes[match.route_key]
        denied = self._authorize(route, request, request_id)
        if denied is not None:
            return denied
        if route.integration is None:  # a route with no target: nothing to call (INFERRED 404 as AWS)
            return not_found(request_id)
        return self._integrate(route.integration, request, match, request_id)

    def _authorize(self, route: RouteConfig, request: HttpRequest, request_id: str) -> HttpResponse | None:
        kind = route.authorization_type
        if kind == "NONE":
            return None
        if kind == "AWS_IAM":
            signed = request.header("authorization") is not None or "X-Amz-Signature=" in request.raw_query
            if not signed:
                return gateway_error(403, "Forbidden", request_id)
        else:
            sources = route.identity_sources or (("$request.header.Authorization",) if kind == "JWT" else ())
            if sources and any(_identity(request, s) in (None, "") for s in sources):
                response = gateway_error(401, "Unauthorized", request_id)
                if kind == "JWT":
                    response.headers.append(("www-authenticate", 'Bearer'))
                return response
        what = {"AWS_IAM": "IAM", "JWT": "JWT", "CUSTOM": "Lambda"}.get(kind, kind)
        _log.warning("route %s needs a %s authorizer, which the local gateway does not verify yet: refused with 501",
                     route.key, what)
        return gateway_error(501, f"{what} authorizers are not supported by the local gateway yet", request_id)

    def _integrate(self, integration: Integration, request: HttpRequest, match: Match,
                   request_id: str) -> HttpResponse:
        ctx = Context(api_id=self.config.api_id, region=self.config.region, account_id=self.config.account_id,
                      stage=self.config.stage, match=match, request_id=request_id,
                      stage_variables=self.config.stage_variables)
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


def _identity(request: HttpRequest, source: str) -> str | None:
    """The value of an identity source such as ``$request.header.Authorization`` (None if absent)."""
    source = source.strip()
    if source.startswith("$request.header."):
        return request.header(source[len("$request.header."):])
    if source.startswith("$request.querystring."):
        from .events import query_pairs

        name = source[len("$request.querystring."):]
        values = [v for k, v in query_pairs(request.raw_query) if k == name]
        return ",".join(values) if values else None
    return "?"  # a context or stage variable: present as far as this slice can tell
