"""Read what was deployed: an HTTP API's routes, integrations, authorizers, CORS and stage (a
WebSocket API's: :func:`read_ws_api`) from the embedded AWS's apigatewayv2, and each target
function's handler, timeout, memory and environment from its Lambda; the function's code folder
comes from the App's ``Function`` constructs, matched by function name. So what is served is what
was deployed."""

from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from .contract import FUNCTION, ServedApp, served
from .deployed import ApiConfig, AuthorizerConfig, Integration, RouteConfig
from .websocket import WS_INTEGRATION_TIMEOUT_MS, WsApiConfig, WsRoute
from .workers import FunctionSpec


def code_dirs(app: ServedApp) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """``{function physical name: (code_dir, lambda_handler, more sys.path roots)}`` for every Function."""
    ctx = app.expand_context()
    out: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for construct in served(app, FUNCTION):
        loc = construct.location
        roots = () if loc.import_root is None else (str(loc.import_root),)
        out[construct.physical_name(ctx)] = (str(loc.code_dir), loc.lambda_handler, roots)
    return out


def _function_name(uri: str) -> str:
    """An integration URI (a function ARN or an ``.../functions/ARN/invocations`` URI) → its name."""
    if "/functions/" in uri:
        uri = uri.split("/functions/", 1)[1].split("/invocations", 1)[0]
    parts = uri.split(":")
    if len(parts) >= 7 and parts[5] == "function":
        return parts[6]
    return uri


def read_api(apigw: Any, api_id: str, region: str) -> tuple[ApiConfig, set[str]]:
    """An :class:`ApiConfig` for ``api_id`` and the names of the functions its routes and their Lambda
    authorizers call."""
    api = apigw.get_api(ApiId=api_id)
    if api.get("ProtocolType") != "HTTP":
        raise ConfigError(f"API {api_id} is a {api.get('ProtocolType')} API; the local gateway serves HTTP APIs "
                          f"only for now")
    integrations = {i["IntegrationId"]: i for i in _all(apigw, "get_integrations", ApiId=api_id)}
    authorizers = {a["AuthorizerId"]: read_authorizer(a) for a in _all(apigw, "get_authorizers", ApiId=api_id)}
    stages = _all(apigw, "get_stages", ApiId=api_id)
    stage = next((s for s in stages if s["StageName"] == "$default"), stages[0] if stages else None)
    routes: dict[str, RouteConfig] = {}
    functions: set[str] = set()
    account = "123456789012"
    for route in _all(apigw, "get_routes", ApiId=api_id):
        target = route.get("Target") or ""
        integration = None
        raw = integrations.get(target.split("/", 1)[1]) if target.startswith("integrations/") else None
        if raw is not None and raw.get("IntegrationType") == "AWS_PROXY":
            uri = raw.get("IntegrationUri") or ""
            name = _function_name(uri)
            if uri.startswith("arn:") and len(uri.split(":")) > 4 and uri.split(":")[4]:
                account = uri.split(":")[4]
            integration = Integration(name, raw.get("PayloadFormatVersion") or "2.0",
                                      int(raw.get("TimeoutInMillis") or 30000))
            functions.add(name)
        authorizer = authorizers.get(route.get("AuthorizerId") or "")
        kind = route.get("AuthorizationType") or "NONE"
        if authorizer is not None and authorizer.function_name and kind == "CUSTOM":
            functions.add(authorizer.function_name)
        routes[route["RouteKey"]] = RouteConfig(
            key=route["RouteKey"], integration=integration, authorization_type=kind,
            authorizer=authorizer if kind in ("JWT", "CUSTOM") else None,
            authorization_scopes=tuple(route.get("AuthorizationScopes") or ()),
        )
    config = ApiConfig(
        api_id=api_id, name=api.get("Name", ""), region=region, account_id=account,
        stage=stage["StageName"] if stage else "$default",
        cors=dict(api["CorsConfiguration"]) if api.get("CorsConfiguration") else None,
        routes=routes, stage_variables=dict((stage or {}).get("StageVariables") or {}),
    )
    return config, functions


def read_authorizer(raw: dict[str, Any]) -> AuthorizerConfig:
    """An :class:`AuthorizerConfig` from one ``GetAuthorizers`` item."""
    jwt = raw.get("JwtConfiguration") or {}
    uri = raw.get("AuthorizerUri") or ""
    return AuthorizerConfig(
        authorizer_id=raw["AuthorizerId"], name=raw.get("Name", ""), authorizer_type=raw.get("AuthorizerType", "JWT"),
        identity_sources=tuple(raw.get("IdentitySource") or ()),
        issuer=jwt.get("Issuer") or "", audience=tuple(jwt.get("Audience") or ()),
        function_name=_function_name(uri) if uri else None,
        payload_format_version=raw.get("AuthorizerPayloadFormatVersion") or "2.0",
        simple_responses=bool(raw.get("EnableSimpleResponses")),
        ttl_s=int(raw.get("AuthorizerResultTtlInSeconds") or 0),
    )


def read_function(lambda_client: Any, name: str,
                  code: dict[str, tuple[str, str, tuple[str, ...]]]) -> FunctionSpec | None:
    """The :class:`FunctionSpec` of a deployed function, or None when the app has no code for it."""
    if name not in code:
        return None
    conf = lambda_client.get_function_configuration(FunctionName=name)
    code_dir, fallback_handler, roots = code[name]
    return FunctionSpec(
        name=name, code_dir=code_dir, handler=conf.get("Handler") or fallback_handler,
        timeout_s=float(conf.get("Timeout") or 3), memory_mb=int(conf.get("MemorySize") or 128),
        arn=conf.get("FunctionArn", ""),
        environment=dict((conf.get("Environment") or {}).get("Variables") or {}), path=roots,
    )


def _all(client: Any, method: str, key: str = "Items", token_key: str = "NextToken",
             **kwargs: Any) -> list[dict[str, Any]]:
    """Every item under ``key`` of every page of ``client.method(**kwargs)``, following ``token_key``
    (API Gateway's ``Items`` / ``NextToken``; AppSync's lists say ``nextToken``)."""
    items: list[dict[str, Any]] = []
    token = None
    while True:
        page = getattr(client, method)(**kwargs, **({token_key: token} if token else {}))
        items += page.get(key, [])
        token = page.get(token_key)
        if not token:
            return items


def read_ws_api(apigw: Any, api_id: str, region: str) -> tuple[WsApiConfig, set[str]]:
    """A :class:`WsApiConfig` for the WebSocket API ``api_id`` (route selection expression, routes,
    integrations, ``$connect`` authorization, stage) and the names of the functions it calls.

    A route is two-way when its ``RouteResponseSelectionExpression`` is ``$default`` (§6.1). AWS also
    needs the ``$default`` route response itself; moto has no GetRouteResponses to list it, so the
    expression alone decides here (INFERRED)."""
    api = apigw.get_api(ApiId=api_id)
    if api.get("ProtocolType") != "WEBSOCKET":
        raise ConfigError(f"API {api_id} is a {api.get('ProtocolType')} API, not a WebSocket API")
    integrations = {i["IntegrationId"]: i for i in _all(apigw, "get_integrations", ApiId=api_id)}
    authorizers = {a["AuthorizerId"]: read_authorizer(a) for a in _all(apigw, "get_authorizers", ApiId=api_id)}
    stages = _all(apigw, "get_stages", ApiId=api_id)
    routes: dict[str, WsRoute] = {}
    functions: set[str] = set()
    account = "123456789012"
    for route in _all(apigw, "get_routes", ApiId=api_id):
        target = route.get("Target") or ""
        raw = integrations.get(target.split("/", 1)[1]) if target.startswith("integrations/") else None
        integration = None
        if raw is not None and raw.get("IntegrationType") == "AWS_PROXY":
            uri = raw.get("IntegrationUri") or ""
            name = _function_name(uri)
            if uri.startswith("arn:") and len(uri.split(":")) > 4 and uri.split(":")[4]:
                account = uri.split(":")[4]
            integration = Integration(name, "1.0", int(raw.get("TimeoutInMillis") or WS_INTEGRATION_TIMEOUT_MS))
            functions.add(name)
        kind = route.get("AuthorizationType") or "NONE"
        authorizer = authorizers.get(route.get("AuthorizerId") or "") if kind == "CUSTOM" else None
        if authorizer is not None and authorizer.function_name:
            functions.add(authorizer.function_name)
        routes[route["RouteKey"]] = WsRoute(
            key=route["RouteKey"], integration=integration,
            two_way=route.get("RouteResponseSelectionExpression") == "$default",
            authorization_type=kind, authorizer=authorizer,
        )
    if not stages:
        raise ConfigError(f"WebSocket API {api_id} has no stage: deploy the app before serving it")
    stage = stages[0]
    config = WsApiConfig(
        api_id=api_id, stage=stage["StageName"],
        route_selection_expression=api.get("RouteSelectionExpression") or "$request.body.action",
        region=region, account_id=account, routes=routes,
        stage_variables=dict(stage.get("StageVariables") or {}),
    )
    return config, functions
