"""Routes and integrations of a new HTTP API in O(1) API Gateway calls: one ``ReimportApi``.

API Gateway's control plane allows 10 requests a second per account (burst 40, "can't be increased"),
so an API made route by route (``CreateIntegration`` + ``CreateRoute`` each) takes at least
``(2N + 2 - 40) / 10`` seconds: 16 s for 100 routes. When a deploy creates an HTTP API together with
its routes, the executor instead creates the API (``CreateApi``, tags and all), then puts every eligible
route and its integration in one OpenAPI 3 body (``ReimportApi``), then reads the route ids and their
integration ids back with ``GetRoutes``. Two requests however many routes; each route and integration is
still a resource of its own in the lockfile, and every later change goes route by route, exactly.

Eligible (:func:`import_groups`): a route of an HTTP API created in the same plan, with no authorizer
(``NONE`` or ``AWS_IAM``), whose target names an integration (:func:`~.apigatewayv2.targeted_integration`)
created in the same plan, targeted by this route alone,
with an ``integration_uri`` no other imported integration has, and whose props refer to nothing but the
API and the integration. Every other child of the API created in the plan (routes with an authorizer,
authorizers, the stage, ...) waits for the import, which overwrites the API's definition.

The import is a batch-create plug-in (:data:`HTTP_API_IMPORT`, see :mod:`sstdirect.engine.batch`).
Crash safety: the executor saves intent records for every member before ``ReimportApi``. If the process dies after
AWS made them, the next deploy finds each route by its route key and each integration by its URI among
the API's integrations that carry no sstdirect description (:class:`IntegrationProvider.find_all`), never
one another record owns (see :mod:`sstdirect.engine.refresh`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..aws import Aws
from ..engine.batch import BatchCreate
from ..engine.resource import Created, Resource
from ..engine.values import Ref, refs_in
from ..routekey import RouteKey
from .apigatewayv2 import SERVICE, ApiSpec, IntegrationSpec, RouteSpec, targeted_integration
from .common import plain

#: The fewest routes worth an import (one route costs two calls either way).
MIN_ROUTES = 2


@dataclass(frozen=True)
class ImportGroup:
    """The routes (and their integrations) of the API at ``api`` that one ``ReimportApi`` creates, and
    the other resources created in the same plan that must wait for it (the import overwrites the API)."""

    api: str
    routes: tuple[str, ...]  # route addresses, in route-key order
    integrations: tuple[str, ...]  # the integration of each route, same order
    waiting: tuple[str, ...]

    @property
    def address(self) -> str:
        """The address a failed import is reported against: the API's."""
        return self.api

    @property
    def members(self) -> tuple[str, ...]:
        return self.integrations + self.routes


def import_groups(desired: Mapping[str, Resource], creating: Iterable[str],
                  changing: Iterable[str] = ()) -> list[ImportGroup]:
    """The import groups of a plan: ``desired`` is every declared resource, ``creating`` the addresses
    the plan creates (not replaces), ``changing`` every other address it creates, updates or replaces
    (those of them that use a group's API wait for its import too). Pure: no AWS call."""
    creating = set(creating)
    changing = set(changing) | creating
    by_type: dict[str, list[Resource]] = {}
    for address in sorted(creating):
        by_type.setdefault(desired[address].type, []).append(desired[address])
    targets: dict[str, int] = {}  # integration address -> how many declared routes target it
    for res in desired.values():
        if res.type == RouteSpec.resource_type:
            for address in refs_in(RouteSpec.from_props(res.props).target):
                targets[address] = targets.get(address, 0) + 1
    groups = []
    for api in by_type.get(ApiSpec.resource_type, []):
        if ApiSpec.from_props(api.props).protocol_type != "HTTP":
            continue
        api_id = Ref(api.address, "id")
        pairs: list[tuple[Resource, Resource]] = []
        keys: dict[str, str] = {}  # route address -> its route key
        uris: set[Any] = set()
        for route in by_type.get(RouteSpec.resource_type, []):
            integration = _eligible_integration(route, api_id, desired, creating, targets)
            uri = integration and IntegrationSpec.from_props(integration.props).integration_uri
            if integration is not None and uri not in uris:
                uris.add(uri)
                pairs.append((route, integration))
                keys[route.address] = RouteSpec.from_props(route.props).route_key
        if len(pairs) < MIN_ROUTES:
            continue
        pairs.sort(key=lambda p: keys[p[0].address])
        members = {r.address for pair in pairs for r in pair}
        waiting = tuple(sorted(a for a in changing - members - {api.address}
                               if a in desired and api.address in desired[a].depends_on))
        groups.append(ImportGroup(api.address, tuple(r.address for r, _ in pairs),
                                  tuple(i.address for _, i in pairs), waiting))
    return groups


def _eligible_integration(route: Resource, api_id: Ref, desired: Mapping[str, Resource], creating: set[str],
                          targets: Mapping[str, int]) -> Resource | None:
    spec = RouteSpec.from_props(route.props)
    if spec.api_id != api_id or spec.authorizer_id is not None or spec.authorization_type not in ("NONE", "AWS_IAM"):
        return None
    ref = targeted_integration(spec.target)
    if ref is None or ref.attr != "id" or ref.address not in creating or targets.get(ref.address) != 1:
        return None
    integration = desired[ref.address]
    if integration.type != IntegrationSpec.resource_type:
        return None
    target = IntegrationSpec.from_props(integration.props)
    if (target.api_id != api_id or target.integration_type != "AWS_PROXY"
            or refs_in(integration.props) != {api_id.address} or route.depends_on != {api_id.address, ref.address}):
        return None
    return integration


# --- the import ------------------------------------------------------------------------------------


def openapi_body(api: Mapping[str, Any], pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> dict[str, Any]:
    """The OpenAPI 3 document of an HTTP API (resolved ``api`` props) with these (route, integration)
    props, in API Gateway's extensions (``x-amazon-apigateway-integration`` / ``-any-method`` / ``-cors``
    / ``-authtype``; ``$default`` as a path)."""
    paths: dict[str, dict[str, Any]] = {}
    for route_props, integration_props in pairs:
        route, integration = RouteSpec.from_record(route_props), IntegrationSpec.from_record(integration_props)
        path, method = RouteKey.parse(route.route_key).to_openapi()
        operation: dict[str, Any] = {
            "x-amazon-apigateway-integration": {
                "type": "aws_proxy",
                "httpMethod": integration.integration_method or "POST",
                "uri": integration.integration_uri,
                "payloadFormatVersion": integration.payload_format_version,
                "timeoutInMillis": integration.timeout_ms,
                "connectionType": "INTERNET",
            },
            "responses": {"default": {"description": "Default response"}},
        }
        if route.authorization_type == "AWS_IAM":
            operation["security"] = [{"sigv4": []}]
        paths.setdefault(path, {})[method] = operation
    spec = ApiSpec.from_record(api)
    body: dict[str, Any] = {
        "openapi": "3.0.1",
        "info": {"title": spec.name, "version": "1"},
        "paths": paths,
        "tags": [{"name": k, "x-amazon-apigateway-tag-value": v} for k, v in sorted(plain(spec.tags).items())],
        "components": {"securitySchemes": {"sigv4": {
            "type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"}}},
    }
    if spec.cors:
        body["x-amazon-apigateway-cors"] = {k[0].lower() + k[1:]: v for k, v in plain(spec.cors).items()}
    return body


def run_import(aws: Aws, api_id: str, api: Mapping[str, Any],
               pairs: list[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> list[tuple[Created, Created]]:
    """``ReimportApi`` the routes of ``pairs`` into the new (empty) API ``api_id``, then read back each
    route's id and its integration's id (one ``GetRoutes``). Returns (route, integration) per pair."""
    aws.call(SERVICE, "reimport_api", ApiId=api_id, Body=json.dumps(openapi_body(api, pairs)), FailOnWarnings=False)
    routes = {r["RouteKey"]: r for r in aws.paginate(SERVICE, "get_routes", "Items", ApiId=api_id)}
    out = []
    for route_props, _ in pairs:
        key = RouteSpec.from_record(route_props).route_key
        found = routes.get(key)
        target = (found or {}).get("Target") or ""
        if found is None or not target.startswith("integrations/"):
            raise RuntimeError(f"ReimportApi of API {api_id} did not make route {key!r} "
                               f"with an integration (got {found!r})")
        integration_id = target.removeprefix("integrations/")
        out.append((Created(found["RouteId"], {"id": found["RouteId"]}),
                    Created(integration_id, {"id": integration_id})))
    return out


def create_imported(aws: Aws, group: ImportGroup, props: Callable[[str], Mapping[str, Any]],
                    lookup: Callable[[Ref], Any]) -> dict[str, Created]:
    """The batch runner: import ``group``'s routes and integrations into its (new) API; what was made, by
    address. A route's ``target`` is unknown until then: its props are those that resolve."""
    pairs = [(props(r), props(i)) for r, i in zip(group.routes, group.integrations, strict=True)]
    made = run_import(aws, lookup(Ref(group.api, "id")), props(group.api), pairs)
    out: dict[str, Created] = {}
    for (route, integration), r, i in zip(made, group.routes, group.integrations, strict=True):
        out[i], out[r] = integration, route
    return out


#: The plug-in, named in ``sstdirect.resources.BATCH_CREATES``.
HTTP_API_IMPORT = BatchCreate("apigatewayv2.import", import_groups, create_imported)
