"""Corrections to API Gateway v2 operations moto 5.2.5 implements differently from AWS.

* ``DeleteApi`` / ``DeleteRoute`` / ``DeleteIntegration`` / ``DeleteAuthorizer`` / ``DeleteStage``
  of a missing id: moto silently succeeds; AWS answers ``NotFoundException`` (404).
* ``UpdateAuthorizer`` / ``UpdateIntegration`` of a missing id: moto raises a bare ``KeyError``
  (HTTP 500 in server mode); AWS answers ``NotFoundException``.
* ``CreateStage`` with a name the API already has: moto overwrites the stage; AWS answers
  ``ConflictException`` (409).
* ``DeleteDomainName`` of a domain that has API mappings: moto crashes ("dictionary changed size
  during iteration"); AWS deletes the domain and its mappings.
* ``UpdateRoute`` clearing fields: moto ignores ``AuthorizationScopes=[]`` and keeps the authorizer
  after ``AuthorizationType="NONE"``. AWS detaches the authorizer when the type becomes ``NONE``
  (the documented way to remove one) or ``AWS_IAM``; ``AuthorizerId=""`` clears the id;
  ``AuthorizationScopes=[]`` clears the scopes; and ``AuthorizerId`` sent without
  ``AuthorizationType`` is ``BadRequestException`` ("Unable to update route. Authorizer type is
  invalid or null.", as reported against AWS in hashicorp/terraform-provider-aws#35821).
* ``UpdateIntegration`` ``RequestParameters``: moto replaces the whole map; AWS merges it, and a
  key whose new value is ``""`` is removed.
* ``ReimportApi`` of an HTTP API (OpenAPI 3, JSON or YAML): moto makes a route key of
  ``x-amazon-apigateway-any-method`` instead of ``ANY``, knows no ``$default`` path, drops the
  integration's timeout, ignores ``security`` and tags, and deletes the API's stages. Here, as AWS
  documents the import: ``x-amazon-apigateway-any-method`` is ``ANY``, the path ``$default`` is the
  ``$default`` route (paths and methods become route keys by
  :meth:`sstdirect.routekey.RouteKey.from_openapi`; a path its grammar refuses is ``BadRequestException``),
  ``x-amazon-apigateway-integration`` gives type, URI, method, payload format
  version and timeout, a ``security`` requirement on a scheme whose ``x-amazon-apigateway-authtype`` is
  ``awsSigv4`` makes the route ``AWS_IAM`` (any other scheme is refused: the embedded AWS does not import
  authorizers), ``x-amazon-apigateway-cors`` sets CORS (and its absence removes it), ``info.title`` the
  name, ``x-amazon-apigateway-tag-value`` tags are added; the routes, integrations, authorizers and
  models are replaced and the stages kept. Imported integrations have no description.
"""

from __future__ import annotations

from typing import Any

from moto.apigatewayv2.exceptions import APIGatewayV2Error, BadRequestException
from moto.apigatewayv2.models import Api, ApiGatewayV2Backend, Integration, Route, Stage

from ...routekey import OPENAPI_METHODS, RouteKey
from .apigatewayv2 import StageNotFoundNamed


class StageAlreadyExists(APIGatewayV2Error):
    code = 409

    def __init__(self, stage_name: str):
        super().__init__("ConflictException", f"Stage {stage_name} already exists")


def _must_exist(getter_name: str, id_name: str, original: Any) -> Any:
    """Wrap an ``Api`` method whose first argument is an id so it first looks the id up, which
    raises moto's NotFoundException for a missing one. moto passes the id by position or by name."""

    def method(self: Api, *args: Any, **kwargs: Any) -> Any:
        item_id = args[0] if args else kwargs[id_name]
        getattr(self, getter_name)(item_id)
        return original(self, *args, **kwargs)

    method.__name__ = original.__name__
    return method


def _wrap_delete_api(original: Any) -> Any:
    def delete_api(self: ApiGatewayV2Backend, api_id: str) -> None:
        self.get_api(api_id)
        original(self, api_id)

    return delete_api


def _wrap_create_stage(original: Any) -> Any:
    def create_stage(self: Api, config: dict[str, Any]) -> Stage:
        if config.get("stageName") in self.stages:
            raise StageAlreadyExists(config["stageName"])
        return original(self, config)

    return create_stage


def delete_stage(self: Api, stage_name: str) -> None:
    if stage_name not in self.stages:
        raise StageNotFoundNamed(stage_name)
    del self.stages[stage_name]


def delete_domain_name(self: ApiGatewayV2Backend, domain_name: str) -> None:
    self.get_domain_name(domain_name)
    for mapping_id in [mid for mid, m in self.api_mappings.items() if m.domain_name == domain_name]:
        del self.api_mappings[mapping_id]
    del self.domain_names[domain_name]


def _wrap_route_update(original: Any) -> Any:
    def update(self: Route, **kwargs: Any) -> None:
        authorization_type = kwargs.get("authorization_type")
        authorizer_id = kwargs.get("authorizer_id")
        scopes = kwargs.get("authorization_scopes")
        if authorizer_id and not authorization_type:
            raise BadRequestException("Unable to update route. Authorizer type is invalid or null.")
        original(self, **kwargs)
        if authorizer_id == "":
            self.authorizer_id = None
        if scopes is not None and not scopes:
            self.authorization_scopes = None
        if authorization_type in ("NONE", "AWS_IAM"):
            self.authorizer_id = None
            self.authorization_scopes = None

    return update


def _wrap_integration_update(original: Any) -> Any:
    def update(self: Integration, **kwargs: Any) -> None:
        changes = kwargs.get("request_parameters")
        if changes is not None:
            merged = {**(self.request_parameters or {}), **changes}
            kwargs["request_parameters"] = {key: value for key, value in merged.items() if value != ""}
        original(self, **kwargs)

    return update


def import_api(self: Api, body_str: str, fail_on_warnings: bool) -> None:
    """``ReimportApi`` of an HTTP API, as described in this module's docstring."""
    import yaml

    try:
        body = yaml.safe_load(body_str)  # JSON is YAML
    except yaml.YAMLError as exc:
        raise BadRequestException(f"Invalid OpenAPI definition: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("paths", {}), dict):
        raise BadRequestException("Invalid OpenAPI definition: no 'paths' object")
    schemes = ((body.get("components") or {}).get("securitySchemes") or {})
    imported: list[tuple[str, dict[str, Any], str]] = []
    for path, operations in body.get("paths", {}).items():
        for method, operation in (operations or {}).items():
            if method not in OPENAPI_METHODS:
                continue
            try:
                route_key = str(RouteKey.from_openapi(path, method))
            except ValueError as exc:
                raise BadRequestException(f"Invalid OpenAPI definition: {exc}") from None
            integration = (operation or {}).get("x-amazon-apigateway-integration")
            if not isinstance(integration, dict):
                raise BadRequestException(f"Route {route_key} has no x-amazon-apigateway-integration")
            auth = "NONE"
            for requirement in (operation or {}).get("security") or []:
                for name in requirement:
                    if (schemes.get(name) or {}).get("x-amazon-apigateway-authtype") != "awsSigv4":
                        raise BadRequestException(f"Security scheme {name!r} of route {route_key} is not supported "
                                                  "by the embedded AWS's import (only awsSigv4)")
                    auth = "AWS_IAM"
            imported.append((route_key, integration, auth))
    for items in (self.routes, self.integrations, self.authorizers, self.models):
        items.clear()
    for route_key, integration, auth in imported:
        made = self.create_integration(
            connection_type=integration.get("connectionType") or "INTERNET", description=None,  # type: ignore[arg-type]
            integration_method=integration.get("httpMethod"), integration_type=str(integration.get("type", "")).upper(),
            integration_uri=integration.get("uri"), payload_format_version=integration.get("payloadFormatVersion"),
            timeout_in_millis=integration.get("timeoutInMillis"))
        self.create_route(api_key_required=False, authorization_scopes=[], route_key=route_key,
                          target=f"integrations/{made.id}", authorization_type=auth)
    info = body.get("info") or {}
    if info.get("title"):
        self.name = info["title"]
    if info.get("version") is not None:
        self.version = str(info["version"])
    self.cors_configuration = body.get("x-amazon-apigateway-cors")
    tags = {t["name"]: t["x-amazon-apigateway-tag-value"] for t in body.get("tags") or []
            if isinstance(t, dict) and "x-amazon-apigateway-tag-value" in t}
    if tags:
        self.backend.tag_resource(self.arn, tags)


def install() -> None:
    """Apply the corrections above to moto's classes (call once; ``ext.install`` guards that)."""
    Api.delete_route = _must_exist("get_route", "route_id", Api.delete_route)  # type: ignore[method-assign]
    Api.delete_integration = _must_exist("get_integration", "integration_id", Api.delete_integration)  # type: ignore[method-assign]
    Api.delete_authorizer = _must_exist("get_authorizer", "authorizer_id", Api.delete_authorizer)  # type: ignore[method-assign]
    Api.update_authorizer = _must_exist("get_authorizer", "authorizer_id", Api.update_authorizer)  # type: ignore[method-assign]
    Api.update_integration = _must_exist("get_integration", "integration_id", Api.update_integration)  # type: ignore[method-assign]
    Api.delete_stage = delete_stage  # type: ignore[method-assign]
    Api.create_stage = _wrap_create_stage(Api.create_stage)  # type: ignore[method-assign]
    ApiGatewayV2Backend.delete_api = _wrap_delete_api(ApiGatewayV2Backend.delete_api)  # type: ignore[method-assign]
    ApiGatewayV2Backend.delete_domain_name = delete_domain_name  # type: ignore[method-assign]
    Route.update = _wrap_route_update(Route.update)  # type: ignore[method-assign]
    Integration.update = _wrap_integration_update(Integration.update)  # type: ignore[method-assign]
    Api.import_api = import_api  # type: ignore[method-assign]
