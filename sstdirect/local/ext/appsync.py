"""AppSync operations that moto 5.2.5 lacks or gets wrong.

Added operations (shapes, status codes and error codes from botocore's ``appsync`` model; every
one answers ``NotFoundException`` (404) for a GraphQL API that does not exist):

* ``CreateDataSource`` / ``GetDataSource`` / ``ListDataSources`` / ``UpdateDataSource`` /
  ``DeleteDataSource``: ``dataSourceArn`` is ``{apiArn}/datasources/{name}``; a name outside
  ``[_A-Za-z][_0-9A-Za-z]*``, a duplicate name, or an ``AWS_LAMBDA`` / ``AMAZON_DYNAMODB`` /
  ``HTTP`` source without its ``lambdaConfig`` / ``dynamodbConfig`` / ``httpConfig`` is
  ``BadRequestException``; a missing name is ``NotFoundException``. An update replaces every
  field (``type`` is required, as in the model).
* ``CreateResolver`` / ``GetResolver`` / ``ListResolvers`` (per type) / ``UpdateResolver`` /
  ``DeleteResolver``: ``resolverArn`` is ``{apiArn}/types/{type}/resolvers/{field}``; ``kind``
  defaults to ``UNIT``. A second resolver on a field is ``BadRequestException`` ("Only one
  resolver is allowed per field."); a type that the API's schema does not define, a
  ``dataSourceName`` that does not exist, or a pipeline function id that does not exist is
  ``NotFoundException``; a ``UNIT`` resolver without a data source is ``BadRequestException``.
  moto's ``/types/(?P<type_name>.+)`` URL pattern (GetType) swallowed the resolver URLs; it is
  narrowed to one path segment and the resolver URLs are routed explicitly.
* ``CreateFunction`` / ``GetFunction`` / ``ListFunctions`` / ``UpdateFunction`` /
  ``DeleteFunction`` (pipeline functions): ``functionId`` is 26 lowercase letters and digits,
  ``functionArn`` is ``{apiArn}/functions/{id}``; the data source must exist
  (``NotFoundException``).

The list operations page with ``maxResults`` (0-25, as the model; 0 or none means 10) and ``nextToken``.

Fixed operations:

* ``CreateApiKey`` / ``UpdateApiKey``: ``expires`` must be 1 to 365 days ahead
  (``ApiKeyValidityOutOfBoundsException``; moto checked only the minimum) and is rounded down
  to the hour as AWS documents; ``deletes`` is 60 days after ``expires`` (moto: equal); the key
  id looks like AWS's (``da2-`` + 26 lowercase letters and digits; moto: 6 hex characters).
* ``CreateApiKey`` / ``ListApiKeys`` / ``UpdateApiKey`` / ``DeleteApiKey``, ``StartSchemaCreation``
  / ``GetSchemaCreationStatus``, ``GetType``, ``UpdateGraphqlApi`` and ``DeleteGraphqlApi``:
  a missing API or key answers ``NotFoundException`` (moto: a bare ``KeyError``, HTTP 500, or an
  empty list). ``GetSchemaCreationStatus`` of an API without a schema is ``NOT_APPLICABLE``.
* ``CreateGraphqlApi`` / ``GetGraphqlApi`` / ``ListGraphqlApis`` / ``UpdateGraphqlApi``: ``uris``
  are AWS-style (``https://{apiId}.appsync-api.<region>.amazonaws.com/graphql`` and the
  ``wss://...appsync-realtime-api...`` one); moto answered ``http://graphql.uri``. The ``apiId`` is
  26 lowercase letters and digits, the endpoint's host prefix, as on AWS (moto: a UUID).
* ``GetIntrospectionSchema``: ``SDL`` with ``includeDirectives`` is the deployed definition with its
  applied ``@aws_*`` directives, followed by AppSync's scalars and directives it does not define
  (moto's introspection round trip dropped the applied directives, and its prelude lacked ``AWSDate``
  and ``@aws_lambda``, so a schema using them could not be read back).
* ``UpdateGraphqlApi`` replaces the authorization settings like AWS (moto kept the old
  ``additionalAuthenticationProviders`` / user pool / OIDC / Lambda configs when they were
  omitted or empty, so an additional provider could never be removed).

State lives on moto's ``GraphqlAPI`` objects (``_ext_*`` attributes), so ``DeleteGraphqlApi`` and
``/moto-api/reset`` drop it with the API.
"""

from __future__ import annotations

import json
import re
import string
from datetime import datetime, timedelta
from typing import Any

from moto.appsync import urls as appsync_urls
from moto.appsync.exceptions import (
    ApiKeyValidityOutOfBoundsException,
    AppSyncExceptions,
    GraphqlAPINotFound,
)
from moto.appsync.models import AppSyncBackend, GraphqlAPI, GraphqlAPIKey, GraphqlSchema
from moto.appsync.responses import AppSyncResponse
from moto.core.common_models import BaseModel
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import unix_time, utcfromtimestamp, utcnow
from moto.moto_api._internal import mock_random as random

NAME_PATTERN = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
REQUIRED_CONFIG = {"AWS_LAMBDA": "lambdaConfig", "AMAZON_DYNAMODB": "dynamodbConfig", "HTTP": "httpConfig",
                   "AMAZON_ELASTICSEARCH": "elasticsearchConfig",
                   "AMAZON_OPENSEARCH_SERVICE": "openSearchServiceConfig",
                   "AMAZON_EVENTBRIDGE": "eventBridgeConfig"}
DATA_SOURCE_FIELDS = ("description", "serviceRoleArn", "dynamodbConfig", "lambdaConfig", "elasticsearchConfig",
                      "openSearchServiceConfig", "httpConfig", "relationalDatabaseConfig", "eventBridgeConfig",
                      "metricsConfig")
RESOLVER_FIELDS = ("dataSourceName", "requestMappingTemplate", "responseMappingTemplate", "kind", "pipelineConfig",
                   "syncConfig", "cachingConfig", "maxBatchSize", "runtime", "code", "metricsConfig")
FUNCTION_FIELDS = ("name", "description", "dataSourceName", "requestMappingTemplate", "responseMappingTemplate",
                   "functionVersion", "syncConfig", "maxBatchSize", "runtime", "code")
MAX_PAGE = 25
DEFAULT_PAGE = 10
KEY_MIN_DAYS, KEY_MAX_DAYS, KEY_DELETE_AFTER_DAYS = 1, 365, 60


class NotFoundException(AppSyncExceptions):
    code = 404

    def __init__(self, message: str):
        super().__init__("NotFoundException", message)


class BadRequestException(AppSyncExceptions):
    code = 400

    def __init__(self, message: str):
        super().__init__("BadRequestException", message)


def _random_id(length: int) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(random.choice(alphabet) for _ in range(length))


def _check_name(what: str, name: Any) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise BadRequestException(f"{what} {name!r} is invalid: it must match [_A-Za-z][_0-9A-Za-z]*")


# --- models ---------------------------------------------------------------------------------


class DataSource(BaseModel):
    def __init__(self, api: GraphqlAPI, name: str, type_: str, fields: dict[str, Any]):
        self.arn = f"{api.arn}/datasources/{name}"
        self.name = name
        self.update(type_, fields)

    def update(self, type_: str, fields: dict[str, Any]) -> None:
        self.type = type_
        self.fields = {k: fields[k] for k in DATA_SOURCE_FIELDS if fields.get(k) is not None}

    def to_json(self) -> dict[str, Any]:
        return {"dataSourceArn": self.arn, "name": self.name, "type": self.type, **self.fields}


class Resolver(BaseModel):
    def __init__(self, api: GraphqlAPI, type_name: str, field_name: str, fields: dict[str, Any]):
        self.arn = f"{api.arn}/types/{type_name}/resolvers/{field_name}"
        self.type_name = type_name
        self.field_name = field_name
        self.update(fields)

    def update(self, fields: dict[str, Any]) -> None:
        self.fields = {k: fields[k] for k in RESOLVER_FIELDS if fields.get(k) is not None}
        self.fields.setdefault("kind", "UNIT")

    def to_json(self) -> dict[str, Any]:
        return {"typeName": self.type_name, "fieldName": self.field_name, "resolverArn": self.arn, **self.fields}


class AppSyncFunction(BaseModel):
    def __init__(self, api: GraphqlAPI, fields: dict[str, Any]):
        self.function_id = _random_id(26)
        self.arn = f"{api.arn}/functions/{self.function_id}"
        self.update(fields)

    def update(self, fields: dict[str, Any]) -> None:
        self.fields = {k: fields[k] for k in FUNCTION_FIELDS if fields.get(k) is not None}

    def to_json(self) -> dict[str, Any]:
        return {"functionId": self.function_id, "functionArn": self.arn, **self.fields}


def _data_sources(api: GraphqlAPI) -> dict[str, DataSource]:
    return api.__dict__.setdefault("_ext_data_sources", {})


def _resolvers(api: GraphqlAPI) -> dict[tuple[str, str], Resolver]:
    return api.__dict__.setdefault("_ext_resolvers", {})


def _functions(api: GraphqlAPI) -> dict[str, AppSyncFunction]:
    return api.__dict__.setdefault("_ext_functions", {})


def _schema_type_names(api: GraphqlAPI) -> set[str]:
    """Object types (and type extensions) the API's schema defines; empty without a schema."""
    schema = api.graphql_schema
    if schema is None or schema.status != "SUCCESS":
        return set()
    from graphql import parse
    from graphql.language.ast import ObjectTypeDefinitionNode, ObjectTypeExtensionNode

    return {d.name.value for d in parse(schema.definition).definitions
            if isinstance(d, ObjectTypeDefinitionNode | ObjectTypeExtensionNode)}


# --- backend methods (installed on AppSyncBackend) -------------------------------------------


def _api(backend: AppSyncBackend, api_id: str) -> GraphqlAPI:
    api = backend.graphql_apis.get(api_id)
    if api is None:
        raise GraphqlAPINotFound(api_id)
    return api


def _check_data_source(type_: Any, fields: dict[str, Any]) -> None:
    config = REQUIRED_CONFIG.get(type_)
    if config and not fields.get(config):
        raise BadRequestException(f"{config} is required for a data source of type {type_}")


def create_data_source(self: AppSyncBackend, api_id: str, name: str, type_: str, fields: dict[str, Any]) -> DataSource:
    api = _api(self, api_id)
    _check_name("Data source name", name)
    if name in _data_sources(api):
        raise BadRequestException(f"Data source with name {name} already exists.")
    _check_data_source(type_, fields)
    source = DataSource(api, name, type_, fields)
    _data_sources(api)[name] = source
    return source


def get_data_source(self: AppSyncBackend, api_id: str, name: str) -> DataSource:
    source = _data_sources(_api(self, api_id)).get(name)
    if source is None:
        raise NotFoundException(f"Data source {name} not found.")
    return source


def list_data_sources(self: AppSyncBackend, api_id: str) -> list[DataSource]:
    return list(_data_sources(_api(self, api_id)).values())


def update_data_source(self: AppSyncBackend, api_id: str, name: str, type_: str, fields: dict[str, Any]) -> DataSource:
    source = self.get_data_source(api_id, name)
    _check_data_source(type_, fields)
    source.update(type_, fields)
    return source


def delete_data_source(self: AppSyncBackend, api_id: str, name: str) -> None:
    self.get_data_source(api_id, name)
    del _data_sources(_api(self, api_id))[name]


def _check_resolver(backend: AppSyncBackend, api: GraphqlAPI, type_name: str, fields: dict[str, Any]) -> None:
    if type_name not in _schema_type_names(api):
        raise NotFoundException(f"Type {type_name} not found.")
    kind = fields.get("kind") or "UNIT"
    if kind not in ("UNIT", "PIPELINE"):
        raise BadRequestException(f"Invalid resolver kind {kind}")
    source = fields.get("dataSourceName")
    if kind == "UNIT" and not source:
        raise BadRequestException("A UNIT resolver requires a data source.")
    if source and source not in _data_sources(api):
        raise NotFoundException(f"No data source found named {source}")
    if kind == "PIPELINE":
        for function_id in (fields.get("pipelineConfig") or {}).get("functions") or []:
            if function_id not in _functions(api):
                raise NotFoundException(f"No function found with id {function_id}")


def create_resolver(self: AppSyncBackend, api_id: str, type_name: str, field_name: str,
                    fields: dict[str, Any]) -> Resolver:
    api = _api(self, api_id)
    _check_name("Field name", field_name)
    if (type_name, field_name) in _resolvers(api):
        raise BadRequestException("Only one resolver is allowed per field.")
    _check_resolver(self, api, type_name, fields)
    resolver = Resolver(api, type_name, field_name, fields)
    _resolvers(api)[(type_name, field_name)] = resolver
    return resolver


def get_resolver(self: AppSyncBackend, api_id: str, type_name: str, field_name: str) -> Resolver:
    resolver = _resolvers(_api(self, api_id)).get((type_name, field_name))
    if resolver is None:
        raise NotFoundException(f"No resolver found for {type_name}.{field_name}.")
    return resolver


def list_resolvers(self: AppSyncBackend, api_id: str, type_name: str) -> list[Resolver]:
    return [r for (t, _), r in _resolvers(_api(self, api_id)).items() if t == type_name]


def update_resolver(self: AppSyncBackend, api_id: str, type_name: str, field_name: str,
                    fields: dict[str, Any]) -> Resolver:
    resolver = self.get_resolver(api_id, type_name, field_name)
    _check_resolver(self, _api(self, api_id), type_name, fields)
    resolver.update(fields)
    return resolver


def delete_resolver(self: AppSyncBackend, api_id: str, type_name: str, field_name: str) -> None:
    self.get_resolver(api_id, type_name, field_name)
    del _resolvers(_api(self, api_id))[(type_name, field_name)]


def _check_function(api: GraphqlAPI, fields: dict[str, Any]) -> None:
    _check_name("Function name", fields.get("name"))
    source = fields.get("dataSourceName")
    if source not in _data_sources(api):
        raise NotFoundException(f"No data source found named {source}")


def create_appsync_function(self: AppSyncBackend, api_id: str, fields: dict[str, Any]) -> AppSyncFunction:
    api = _api(self, api_id)
    _check_function(api, fields)
    function = AppSyncFunction(api, fields)
    _functions(api)[function.function_id] = function
    return function


def get_appsync_function(self: AppSyncBackend, api_id: str, function_id: str) -> AppSyncFunction:
    function = _functions(_api(self, api_id)).get(function_id)
    if function is None:
        raise NotFoundException(f"Function {function_id} not found.")
    return function


def list_appsync_functions(self: AppSyncBackend, api_id: str) -> list[AppSyncFunction]:
    return list(_functions(_api(self, api_id)).values())


def update_appsync_function(self: AppSyncBackend, api_id: str, function_id: str,
                            fields: dict[str, Any]) -> AppSyncFunction:
    function = self.get_appsync_function(api_id, function_id)
    _check_function(_api(self, api_id), fields)
    function.update(fields)
    return function


def delete_appsync_function(self: AppSyncBackend, api_id: str, function_id: str) -> None:
    self.get_appsync_function(api_id, function_id)
    del _functions(_api(self, api_id))[function_id]


BACKEND_METHODS: dict[str, Any] = {
    "create_data_source": create_data_source,
    "get_data_source": get_data_source,
    "list_data_sources": list_data_sources,
    "update_data_source": update_data_source,
    "delete_data_source": delete_data_source,
    "create_resolver": create_resolver,
    "get_resolver": get_resolver,
    "list_resolvers": list_resolvers,
    "update_resolver": update_resolver,
    "delete_resolver": delete_resolver,
    "create_appsync_function": create_appsync_function,
    "get_appsync_function": get_appsync_function,
    "list_appsync_functions": list_appsync_functions,
    "update_appsync_function": update_appsync_function,
    "delete_appsync_function": delete_appsync_function,
}


# --- fixes of moto's own backend methods ---------------------------------------------------------


def _requires_api(original: Any) -> Any:
    """Wrap a backend method taking ``api_id`` so a missing GraphQL API is NotFoundException."""

    def method(self: AppSyncBackend, *args: Any, **kwargs: Any) -> Any:
        api_id = kwargs.get("api_id", args[0] if args else None)
        _api(self, api_id)
        return original(self, *args, **kwargs)

    method.__name__ = original.__name__
    method.__doc__ = original.__doc__
    method.__wrapped__ = original  # type: ignore[attr-defined]
    return method


def get_introspection_schema(self: GraphqlSchema, format_: str, include_directives: bool) -> str:
    """AppSync's schema as deployed plus its own scalars and directives: SDL with directives is the
    definition itself (moto printed it through an introspection round trip, which drops the applied
    ``@aws_*`` directives, and its prelude lacked ``AWSDate`` and ``@aws_lambda``)."""
    from graphql import build_client_schema, introspection_from_schema, parse, print_ast, print_schema

    from ..gateway.appsync import build_appsync_schema, prelude_for

    if format_ not in ("SDL", "JSON"):
        raise BadRequestException(f"Invalid format {format_} given")
    if format_ == "SDL" and include_directives:
        return print_ast(parse(self.definition)) + "\n\n" + prelude_for(self.definition) + "\n"
    data = introspection_from_schema(build_appsync_schema(self.definition), descriptions=False)
    if not include_directives:
        data["__schema"]["directives"] = []
    return print_schema(build_client_schema(data)) if format_ == "SDL" else json.dumps(data)


def get_schema_creation_status(self: AppSyncBackend, api_id: str) -> tuple[str, str | None]:
    api = _api(self, api_id)
    if api.graphql_schema is None:
        return "NOT_APPLICABLE", None
    return api.get_schema_status()


def get_type(self: AppSyncBackend, api_id: str, type_name: str, type_format: str) -> Any:
    api = _api(self, api_id)
    if api.graphql_schema is None or api.graphql_schema.get_type(type_name) is None:
        raise NotFoundException(f"Type {type_name} not found.")
    return api.get_type(type_name, type_format)


def update_graphql_api(self: AppSyncBackend, api_id: str, name: str, log_config: Any, authentication_type: str,
                       user_pool_config: Any, open_id_connect_config: Any,
                       additional_authentication_providers: Any, xray_enabled: bool,
                       lambda_authorizer_config: Any) -> GraphqlAPI:
    api = _api(self, api_id)
    api.name = name or api.name
    api.authentication_type = authentication_type or api.authentication_type
    api.additional_authentication_providers = additional_authentication_providers or None
    api.user_pool_config = user_pool_config
    api.open_id_connect_config = open_id_connect_config
    api.lambda_authorizer_config = lambda_authorizer_config
    if log_config:
        api.log_config = log_config
    if xray_enabled is not None:
        api.xray_enabled = xray_enabled
    return api


def _api_key(backend: AppSyncBackend, api_id: str, key_id: str) -> GraphqlAPIKey:
    key = _api(backend, api_id).api_keys.get(key_id)
    if key is None:
        raise NotFoundException(f"API key {key_id} not found.")
    return key


API_ID_LENGTH = 26


def _wrap_graphql_api_init(original: Any) -> Any:
    """Give every new GraphQL API an AWS-style :data:`API_ID_LENGTH`-character id (its ARN follows)."""

    def __init__(self: GraphqlAPI, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        old_id, self.api_id = self.api_id, _random_id(API_ID_LENGTH)
        self.arn = self.arn.replace(f"apis/{old_id}", f"apis/{self.api_id}")

    return __init__


def _uris(api: GraphqlAPI) -> dict[str, str]:
    """AWS-style endpoints, whose host prefix is the API's id (moto: ``http://graphql.uri``)."""
    return {"GRAPHQL": f"https://{api.api_id}.appsync-api.{api.region}.amazonaws.com/graphql",
            "REALTIME": f"wss://{api.api_id}.appsync-realtime-api.{api.region}.amazonaws.com/graphql"}


def _with_uris(original: Any) -> Any:
    """Wrap a GraphqlApi handler so every ``graphqlApi`` it returns carries :func:`_uris`."""

    def method(self: AppSyncResponse) -> Any:
        result = original(self)
        body = getattr(result, "result", None)
        if isinstance(body, dict):
            for api_json in [body.get("graphqlApi"), *(body.get("graphqlApis") or [])]:
                api = self.appsync_backend.graphql_apis.get((api_json or {}).get("apiId"))
                if api is not None:
                    api_json["uris"] = _uris(api)
        return result

    method.__name__ = original.__name__
    return method


def _wrap_api_key_init(original: Any) -> Any:
    def __init__(self: GraphqlAPIKey, description: str, expires: datetime | None) -> None:
        original(self, description, expires)
        self.key_id = f"da2-{_random_id(26)}"

    return __init__


# --- response handlers (installed on AppSyncResponse) ----------------------------------------


def _page(response: AppSyncResponse, items: list[Any], key: str) -> ActionResult:
    """An AWS-style page of ``items`` under ``key`` (``nextToken`` is an offset)."""
    max_results = response._get_param("maxResults")
    token = response._get_param("nextToken")
    try:
        start = int(token) if token else 0
        size = int(max_results) if max_results else DEFAULT_PAGE
    except (TypeError, ValueError) as exc:
        raise BadRequestException("Invalid nextToken or maxResults.") from exc
    if start < 0 or not 0 <= size <= MAX_PAGE:
        raise BadRequestException("Invalid nextToken or maxResults.")
    size = size or DEFAULT_PAGE
    result: dict[str, Any] = {key: [item.to_json() for item in items[start:start + size]]}
    if start + size < len(items):
        result["nextToken"] = str(start + size)
    return ActionResult(result)


def _fields(response: AppSyncResponse, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: response._get_param(name) for name in names}


def handle_create_data_source(self: AppSyncResponse) -> ActionResult:
    source = self.appsync_backend.create_data_source(
        self._get_param("apiId"), self._get_param("name"), self._get_param("type"), _fields(self, DATA_SOURCE_FIELDS))
    return ActionResult({"dataSource": source.to_json()})


def handle_get_data_source(self: AppSyncResponse) -> ActionResult:
    source = self.appsync_backend.get_data_source(self._get_param("apiId"), self._get_param("name"))
    return ActionResult({"dataSource": source.to_json()})


def handle_list_data_sources(self: AppSyncResponse) -> ActionResult:
    return _page(self, self.appsync_backend.list_data_sources(self._get_param("apiId")), "dataSources")


def handle_update_data_source(self: AppSyncResponse) -> ActionResult:
    source = self.appsync_backend.update_data_source(
        self._get_param("apiId"), self._get_param("name"), self._get_param("type"), _fields(self, DATA_SOURCE_FIELDS))
    return ActionResult({"dataSource": source.to_json()})


def handle_delete_data_source(self: AppSyncResponse) -> ActionResult:
    self.appsync_backend.delete_data_source(self._get_param("apiId"), self._get_param("name"))
    return EmptyResult()


def handle_create_resolver(self: AppSyncResponse) -> ActionResult:
    resolver = self.appsync_backend.create_resolver(
        self._get_param("apiId"), self._get_param("typeName"), self._get_param("fieldName"),
        _fields(self, RESOLVER_FIELDS))
    return ActionResult({"resolver": resolver.to_json()})


def handle_get_resolver(self: AppSyncResponse) -> ActionResult:
    resolver = self.appsync_backend.get_resolver(
        self._get_param("apiId"), self._get_param("typeName"), self._get_param("fieldName"))
    return ActionResult({"resolver": resolver.to_json()})


def handle_list_resolvers(self: AppSyncResponse) -> ActionResult:
    resolvers = self.appsync_backend.list_resolvers(self._get_param("apiId"), self._get_param("typeName"))
    return _page(self, resolvers, "resolvers")


def handle_update_resolver(self: AppSyncResponse) -> ActionResult:
    resolver = self.appsync_backend.update_resolver(
        self._get_param("apiId"), self._get_param("typeName"), self._get_param("fieldName"),
        _fields(self, RESOLVER_FIELDS))
    return ActionResult({"resolver": resolver.to_json()})


def handle_delete_resolver(self: AppSyncResponse) -> ActionResult:
    self.appsync_backend.delete_resolver(
        self._get_param("apiId"), self._get_param("typeName"), self._get_param("fieldName"))
    return EmptyResult()


def handle_create_function(self: AppSyncResponse) -> ActionResult:
    function = self.appsync_backend.create_appsync_function(self._get_param("apiId"), _fields(self, FUNCTION_FIELDS))
    return ActionResult({"functionConfiguration": function.to_json()})


def handle_get_function(self: AppSyncResponse) -> ActionResult:
    function = self.appsync_backend.get_appsync_function(self._get_param("apiId"), self._get_param("functionId"))
    return ActionResult({"functionConfiguration": function.to_json()})


def handle_list_functions(self: AppSyncResponse) -> ActionResult:
    return _page(self, self.appsync_backend.list_appsync_functions(self._get_param("apiId")), "functions")


def handle_update_function(self: AppSyncResponse) -> ActionResult:
    function = self.appsync_backend.update_appsync_function(
        self._get_param("apiId"), self._get_param("functionId"), _fields(self, FUNCTION_FIELDS))
    return ActionResult({"functionConfiguration": function.to_json()})


def handle_delete_function(self: AppSyncResponse) -> ActionResult:
    self.appsync_backend.delete_appsync_function(self._get_param("apiId"), self._get_param("functionId"))
    return EmptyResult()


def _key_json(key: GraphqlAPIKey) -> dict[str, Any]:
    expires = int(unix_time(key.expires))
    return {"id": key.key_id, "description": key.description, "expires": expires,
            "deletes": expires + KEY_DELETE_AFTER_DAYS * 86400}


def _expires(response: AppSyncResponse) -> datetime | None:
    """The requested expiry, checked (1-365 days ahead) and rounded down to the hour, or None."""
    expires = response._get_param("expires")
    if not expires:
        return None
    now = int(unix_time())
    if expires < now + KEY_MIN_DAYS * 86400:
        raise ApiKeyValidityOutOfBoundsException(f"API key must be valid for a minimum of {KEY_MIN_DAYS} days.")
    if expires > now + KEY_MAX_DAYS * 86400:
        raise ApiKeyValidityOutOfBoundsException(f"API key must be valid for a maximum of {KEY_MAX_DAYS} days.")
    return utcfromtimestamp(expires - expires % 3600)


def _for_graphql_apis(original: Any) -> Any:
    """Wrap an API key handler: Events APIs (which share the operation) keep moto's handler."""

    def wrap(handler: Any) -> Any:
        def method(self: AppSyncResponse) -> ActionResult:
            if self._get_param("apiId") in self.appsync_backend.events_apis:
                return original(self)
            return handler(self)

        method.__name__ = handler.__name__
        return method

    return wrap


def handle_create_api_key(self: AppSyncResponse) -> ActionResult:
    api = _api(self.appsync_backend, self._get_param("apiId"))
    expires = _expires(self)
    if expires is None:  # AWS's default: 7 days, rounded down to the hour
        expires = utcnow().replace(minute=0, second=0, microsecond=0, tzinfo=None) + timedelta(days=7)
    key = api.create_api_key(self._get_param("description"), expires)
    return ActionResult({"apiKey": _key_json(key)})


class _KeyView:
    def __init__(self, key: GraphqlAPIKey):
        self.key = key

    def to_json(self) -> dict[str, Any]:
        return _key_json(self.key)


def handle_list_api_keys(self: AppSyncResponse) -> ActionResult:
    api = _api(self.appsync_backend, self._get_param("apiId"))
    return _page(self, [_KeyView(k) for k in api.api_keys.values()], "apiKeys")


def handle_update_api_key(self: AppSyncResponse) -> ActionResult:
    api_id, key_id = self._get_param("apiId"), self._get_param("id")
    key = _api_key(self.appsync_backend, api_id, key_id)
    key.update(self._get_param("description"), _expires(self))
    return ActionResult({"apiKey": _key_json(key)})


def handle_delete_api_key(self: AppSyncResponse) -> ActionResult:
    api_id, key_id = self._get_param("apiId"), self._get_param("id")
    _api_key(self.appsync_backend, api_id, key_id)
    _api(self.appsync_backend, api_id).delete_api_key(key_id)
    return EmptyResult()


RESPONSE_METHODS: dict[str, Any] = {
    "create_data_source": handle_create_data_source,
    "get_data_source": handle_get_data_source,
    "list_data_sources": handle_list_data_sources,
    "update_data_source": handle_update_data_source,
    "delete_data_source": handle_delete_data_source,
    "create_resolver": handle_create_resolver,
    "get_resolver": handle_get_resolver,
    "list_resolvers": handle_list_resolvers,
    "update_resolver": handle_update_resolver,
    "delete_resolver": handle_delete_resolver,
    "create_function": handle_create_function,
    "get_function": handle_get_function,
    "list_functions": handle_list_functions,
    "update_function": handle_update_function,
    "delete_function": handle_delete_function,
}
KEY_HANDLERS: dict[str, Any] = {
    "create_api_key": handle_create_api_key,
    "list_api_keys": handle_list_api_keys,
    "update_api_key": handle_update_api_key,
    "delete_api_key": handle_delete_api_key,
}

API = "{0}/v1/apis/(?P<apiId>[^/]+)"
URL_PATHS = (
    API + "/datasources$",
    API + "/datasources/(?P<name>[^/]+)$",
    API + "/functions$",
    API + "/functions/(?P<functionId>[^/]+)$",
    API + "/types/(?P<typeName>[^/]+)/resolvers$",
    API + "/types/(?P<typeName>[^/]+)/resolvers/(?P<fieldName>[^/]+)$",
)
MOTO_TYPES_PATH = "{0}/v1/apis/(?P<api_id>[^/]+)/types/(?P<type_name>.+)$"
NARROW_TYPES_PATH = "{0}/v1/apis/(?P<api_id>[^/]+)/types/(?P<type_name>[^/]+)$"


def _route() -> None:
    """Narrow moto's GetType pattern to one segment and route the added URLs (in place: moto
    reads this dict on every in-process request, and once per server when it builds the app)."""
    paths = appsync_urls.url_paths
    handler = paths.pop(MOTO_TYPES_PATH, None) or AppSyncResponse.dispatch
    paths.setdefault(NARROW_TYPES_PATH, handler)
    for pattern in URL_PATHS:
        paths.setdefault(pattern, AppSyncResponse.dispatch)


def install() -> None:
    """Add the operations above to moto (call once; ``ext.install`` guards that)."""
    for name, method in BACKEND_METHODS.items():
        setattr(AppSyncBackend, name, method)
    for name, handler in RESPONSE_METHODS.items():
        setattr(AppSyncResponse, name, handler)
    for name, handler in KEY_HANDLERS.items():
        setattr(AppSyncResponse, name, _for_graphql_apis(getattr(AppSyncResponse, name))(handler))
    for name in ("start_schema_creation", "delete_graphql_api"):
        setattr(AppSyncBackend, name, _requires_api(getattr(AppSyncBackend, name)))
    AppSyncBackend.get_schema_creation_status = get_schema_creation_status  # type: ignore[method-assign]
    AppSyncBackend.get_type = get_type  # type: ignore[method-assign]
    GraphqlSchema.get_introspection_schema = get_introspection_schema  # type: ignore[method-assign]
    AppSyncBackend.update_graphql_api = update_graphql_api  # type: ignore[method-assign]
    for name in ("create_graphql_api", "get_graphql_api", "list_graphql_apis", "update_graphql_api"):
        setattr(AppSyncResponse, name, _with_uris(getattr(AppSyncResponse, name)))
    GraphqlAPIKey.__init__ = _wrap_api_key_init(GraphqlAPIKey.__init__)  # type: ignore[method-assign]
    GraphqlAPI.__init__ = _wrap_graphql_api_init(GraphqlAPI.__init__)  # type: ignore[method-assign]
    _route()
