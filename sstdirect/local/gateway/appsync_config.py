"""Read a deployed AppSync API from the embedded AWS: its schema (``GetIntrospectionSchema``, SDL with
directives), data sources, resolvers (unit and pipeline, with their mapping templates and runtime),
pipeline functions, authorization modes and API keys. So what is served is what was deployed."""

from __future__ import annotations

from functools import partial
from typing import Any

from .appsync import AppSyncConfig, DataSource, Resolver, Step
from .appsync_auth import AuthProvider
from .config import _all, _function_name

_pages = partial(_all, token_key="nextToken")  # AppSync's lists page with nextToken


def read_appsync(client: Any, api_id: str, region: str) -> tuple[AppSyncConfig, list[AuthProvider], set[str]]:
    """``(config, auth providers (default first), names of the functions it calls)`` of API ``api_id``."""
    api = client.get_graphql_api(apiId=api_id)["graphqlApi"]
    arn_parts = (api.get("arn") or "").split(":")
    account = arn_parts[4] if len(arn_parts) > 4 and arn_parts[4] else "123456789012"
    sdl = client.get_introspection_schema(apiId=api_id, format="SDL", includeDirectives=True)["schema"].read().decode()
    uri = (api.get("uris") or {}).get("GRAPHQL") or f"https://{api_id}.appsync-api.{region}.amazonaws.com/graphql"
    host = uri.split("://", 1)[-1].split("/", 1)[0]
    functions: set[str] = set()
    sources: dict[str, DataSource] = {}
    for item in _pages(client, "list_data_sources", "dataSources", apiId=api_id):
        name = None
        if item.get("type") == "AWS_LAMBDA":
            name = _function_name((item.get("lambdaConfig") or {}).get("lambdaFunctionArn") or "")
            functions.add(name)
        table = item.get("dynamodbConfig") or {}
        sources[item["name"]] = DataSource(item["name"], item.get("type") or "NONE", name, table.get("tableName"),
                                           table.get("awsRegion"))
    pipeline_functions = {f["functionId"]: f for f in _pages(client, "list_functions", "functions", apiId=api_id)}
    resolvers: dict[tuple[str, str], Resolver] = {}
    for type_name in _object_types(sdl):
        for item in _pages(client, "list_resolvers", "resolvers", apiId=api_id, typeName=type_name):
            resolver = _resolver(item, pipeline_functions)
            resolvers[(resolver.type_name, resolver.field_name)] = resolver
    providers = [_provider(api.get("authenticationType") or "API_KEY", api)]
    providers += [_provider(p.get("authenticationType") or "", p) for p in api.get("additionalAuthenticationProviders")
                  or []]
    for provider in providers:
        if provider.authorizer_function:
            functions.add(provider.authorizer_function)
    config = AppSyncConfig(api_id=api_id, name=api.get("name", ""), region=region, account_id=account, sdl=sdl,
                           host=host, data_sources=sources, resolvers=resolvers)
    return config, providers, functions


def read_api_keys(client: Any, api_id: str) -> dict[str, int]:
    """``{key id: expires (epoch seconds)}`` of the API's keys."""
    return {k["id"]: int(k.get("expires") or 0) for k in _pages(client, "list_api_keys", "apiKeys", apiId=api_id)}


def _resolver(item: dict[str, Any], pipeline_functions: dict[str, dict[str, Any]]) -> Resolver:
    type_name, field_name = item["typeName"], item["fieldName"]
    label = f"resolver {type_name}.{field_name}"
    runtime = (item.get("runtime") or {}).get("name") or ("APPSYNC_JS" if item.get("code") else None)
    if item.get("kind") == "PIPELINE":
        steps = []
        for function_id in (item.get("pipelineConfig") or {}).get("functions") or []:
            fn = pipeline_functions.get(function_id) or {}
            steps.append(Step(
                label=f"function {fn.get('name', function_id)} of {label}", data_source=fn.get("dataSourceName"),
                request_template=fn.get("requestMappingTemplate"), response_template=fn.get("responseMappingTemplate"),
                runtime=(fn.get("runtime") or {}).get("name") or ("APPSYNC_JS" if fn.get("code") else None),
                max_batch_size=int(fn.get("maxBatchSize") or 0)))
        return Resolver(type_name, field_name, "PIPELINE", functions=tuple(steps),
                        before_template=item.get("requestMappingTemplate"),
                        after_template=item.get("responseMappingTemplate"), runtime=runtime)
    unit = Step(label=label, data_source=item.get("dataSourceName"),
                request_template=item.get("requestMappingTemplate"),
                response_template=item.get("responseMappingTemplate"), runtime=runtime,
                max_batch_size=int(item.get("maxBatchSize") or 0))
    return Resolver(type_name, field_name, "UNIT", unit=unit, runtime=runtime)


def _provider(mode: str, settings: dict[str, Any]) -> AuthProvider:
    lam = settings.get("lambdaAuthorizerConfig") or {}
    return AuthProvider(
        mode=mode, user_pool=settings.get("userPoolConfig"), oidc=settings.get("openIDConnectConfig"),
        authorizer_function=_function_name(lam["authorizerUri"]) if lam.get("authorizerUri") else None,
        identity_validation_expression=lam.get("identityValidationExpression"),
        result_ttl_s=int(lam.get("authorizerResultTtlInSeconds") or 0))


def _object_types(sdl: str) -> list[str]:
    from graphql import parse
    from graphql.language import ast as g

    return sorted({d.name.value for d in parse(sdl).definitions
                   if isinstance(d, g.ObjectTypeDefinitionNode | g.ObjectTypeExtensionNode)})


