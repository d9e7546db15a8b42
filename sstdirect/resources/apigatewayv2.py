"""API Gateway v2: APIs, integrations, routes and stages (``apigatewayv2.*``).

Refresh is batched: one GetApis for every API, and one GetIntegrations / GetRoutes / GetStages per
API, however many of them the app has.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from ..aws import Aws, is_not_found
from ..engine.resource import Created, Owned, Provider, Stray, register, tagged_for
from ..engine.values import FrozenDict
from ..state import Record
from .common import first, gone_is_fine, plain

SERVICE = "apigatewayv2"


def _by_api(
    aws: Aws, records: Mapping[str, Record], method: str,
    observe: Callable[[str, dict[str, Any]], tuple[str, dict]],
) -> dict[str, dict[str, Any] | None]:
    """Read the children of each API with one paginated list call per API."""
    groups: dict[str, dict[str, Record]] = defaultdict(dict)
    for address, rec in records.items():
        groups[rec.props.get("api_id", "")][address] = rec
    out: dict[str, dict[str, Any] | None] = {}
    for api_id, recs in groups.items():
        seen = dict(observe(api_id, item) for item in _children(aws, method, api_id))
        for address, rec in recs.items():
            found = seen.get(rec.physical_id or "")
            out[address] = None if found is None else {**found, "api_id": api_id}
    return out


def _children(aws: Aws, method: str, api_id: str) -> list[dict[str, Any]]:
    """The integrations / routes / ... of an API (none if the API is gone): one paginated list call, made
    once inside :meth:`Aws.shared_reads` however many readers ask (refresh, the strays, the lookups
    before a create)."""

    def read() -> list[dict[str, Any]]:
        try:
            return aws.paginate(SERVICE, method, "Items", ApiId=api_id)
        except Exception as exc:
            if is_not_found(exc):
                return []
            raise

    return aws.shared(f"{SERVICE}.{method}:{api_id}", read)


def _apis(aws: Aws) -> list[dict[str, Any]]:
    """Every API (HTTP and WebSocket) of the region: GetApis, once inside :meth:`Aws.shared_reads`."""
    return aws.shared(f"{SERVICE}.get_apis", lambda: aws.paginate(SERVICE, "get_apis", "Items"))


def _cors_params(cors: Any) -> dict[str, Any]:
    return {"CorsConfiguration": plain(cors)} if cors else {}


@register
class ApiProvider(Provider):
    """props: ``name``, ``protocol_type`` (HTTP | WEBSOCKET), ``cors`` (AWS's CorsConfiguration shape,
    or None), ``route_selection_expression`` (WebSocket only, else None), ``tags``.
    attrs: ``id``, ``endpoint``, ``arn``, ``execution_arn``."""

    type = "apigatewayv2.Api"
    adopt_before_create = True
    start_priority = 1
    replace_on = frozenset({"protocol_type"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        params: dict[str, Any] = {"Name": props["name"], "ProtocolType": props["protocol_type"],
                                  "Tags": plain(props["tags"]), **_cors_params(props.get("cors"))}
        if props.get("route_selection_expression"):
            params["RouteSelectionExpression"] = props["route_selection_expression"]
        api = aws.call(SERVICE, "create_api", **params)
        return Created(api["ApiId"], self._attrs(aws, api))

    def _attrs(self, aws: Aws, api: Mapping[str, Any]) -> dict[str, Any]:
        api_id = api["ApiId"]
        return {
            "id": api_id,
            "endpoint": api.get("ApiEndpoint") or f"https://{api_id}.execute-api.{aws.region}.amazonaws.com",
            "arn": f"arn:aws:apigateway:{aws.region}::/apis/{api_id}",
            "execution_arn": f"arn:aws:execute-api:{aws.region}:{aws.account_id}:{api_id}",
        }

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        apis = {a["ApiId"]: a for a in _apis(aws)}
        return {address: _observed_api(apis.get(rec.physical_id or "")) for address, rec in records.items()}

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        return self.read_many(aws, {record.address: record})[record.address]

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        api_id = record.physical_id
        params: dict[str, Any] = {}
        if "name" in changed:
            params["Name"] = props["name"]
        if "route_selection_expression" in changed and props.get("route_selection_expression"):
            params["RouteSelectionExpression"] = props["route_selection_expression"]
        if "cors" in changed:
            if props.get("cors"):
                params.update(_cors_params(props["cors"]))
            else:
                with gone_is_fine():
                    aws.call(SERVICE, "delete_cors_configuration", ApiId=api_id)
        if params:
            aws.call(SERVICE, "update_api", ApiId=api_id, **params)
        if "tags" in changed:
            aws.call(SERVICE, "tag_resource", ResourceArn=record.attrs["arn"], Tags=plain(props["tags"]))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        with gone_is_fine():
            aws.call(SERVICE, "delete_api", ApiId=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        """An API with this name and this resource's ``sstdirect:id`` tag, not one of ``exclude``."""
        return first(self.find_all(aws, props, exclude))

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        tag = props["tags"].get("sstdirect:id")
        return [Created(api["ApiId"], self._attrs(aws, api)) for api in _apis(aws)
                if api.get("Name") == props["name"] and (api.get("Tags") or {}).get("sstdirect:id") == tag
                and api["ApiId"] not in exclude]

    def strays(self, aws: Aws, record: Record, claimed: frozenset[str],
               records: Mapping[str, Record]) -> list[Stray]:
        """Routes, integrations, authorizers and stages of this API that no record claims (one list each)."""
        api_id = record.physical_id or ""
        out: list[Stray] = []
        for i in _children(aws, "get_integrations", api_id):
            if i["IntegrationId"] not in claimed:
                out.append(Stray(IntegrationProvider.type, i["IntegrationId"], {"api_id": api_id},
                                 f"integration/{i.get('Description') or i['IntegrationId']}"))
        for a in _children(aws, "get_authorizers", api_id):
            if a["AuthorizerId"] not in claimed:
                out.append(Stray(AuthorizerProvider.type, a["AuthorizerId"], {"api_id": api_id},
                                 f"authorizer/{a.get('Name') or a['AuthorizerId']}"))
        for r in _children(aws, "get_routes", api_id):
            if r["RouteId"] not in claimed:
                uses = tuple(x for x in ((r.get("Target") or "").removeprefix("integrations/"), r.get("AuthorizerId"))
                             if x)
                out.append(Stray(RouteProvider.type, r["RouteId"], {"api_id": api_id}, f"route/{r['RouteKey']}", uses))
        for st in _children(aws, "get_stages", api_id):
            if f"{api_id}/{st['StageName']}" not in claimed:
                out.append(Stray(StageProvider.type, f"{api_id}/{st['StageName']}",
                                 {"api_id": api_id, "name": st["StageName"]}, f"stage/{st['StageName']}"))
        return out

    def owned(self, aws: Aws, app: str, stage: str, skip: frozenset[str] = frozenset()) -> list[Owned]:
        """One GetApis: APIs (HTTP and WebSocket) carry their tags in the listing."""
        return [Owned((api.get("Tags") or {}).get("sstdirect:id", ""), api["ApiId"])
                for api in _apis(aws) if api["ApiId"] not in skip and tagged_for(api.get("Tags"), app, stage)]


def _observed_api(api: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if api is None:
        return None
    return {
        "name": api.get("Name"),
        "protocol_type": api.get("ProtocolType"),
        "cors": api.get("CorsConfiguration") or None,
        "route_selection_expression": (
            api.get("RouteSelectionExpression") if api.get("ProtocolType") == "WEBSOCKET" else None),
    }


INTEGRATION_FIELDS = {
    "integration_type": "IntegrationType",
    "integration_uri": "IntegrationUri",
    "integration_method": "IntegrationMethod",
    "payload_format_version": "PayloadFormatVersion",
    "timeout_ms": "TimeoutInMillis",
    "description": "Description",
}


@register
class IntegrationProvider(Provider):
    """props: ``api_id``, ``integration_type``, ``integration_uri``, ``integration_method`` (or None),
    ``payload_format_version``, ``timeout_ms``, ``description`` (the logical address: how an
    interrupted create is found again). attrs: ``id``."""

    type = "apigatewayv2.Integration"
    adopt_before_create = True
    deleted_with = "apigatewayv2.Api"
    replace_on = frozenset({"api_id"})

    def _params(self, props: FrozenDict, fields: Any = None) -> dict[str, Any]:
        return {api: props[f] for f, api in INTEGRATION_FIELDS.items()
                if (fields is None or f in fields) and props.get(f) is not None}

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        out = aws.call(SERVICE, "create_integration", ApiId=props["api_id"], **self._params(props))
        return Created(out["IntegrationId"], {"id": out["IntegrationId"]})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        """``description`` is not observed: it only marks which address made the integration (an imported
        one has none, see :mod:`.apigatewayv2_import`), so it is compared with the lockfile."""
        return _by_api(aws, records, "get_integrations", lambda _, i: (i["IntegrationId"], {
            f: i.get(api) for f, api in INTEGRATION_FIELDS.items() if f != "description"}))

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        return self.read_many(aws, {record.address: record})[record.address]

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        aws.call(SERVICE, "update_integration", ApiId=props["api_id"], IntegrationId=record.physical_id,
                 **self._params(props, changed))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        with gone_is_fine():
            aws.call(SERVICE, "delete_integration", ApiId=record.props["api_id"],
                     IntegrationId=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        """The integration of this API whose description is this address, not one of ``exclude``."""
        return first(self.find_all(aws, props, exclude))

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        """Those whose description is this address; else the one an import made (no sstdirect description)
        with this URI (an import gives each integration a URI of its own)."""
        items = [i for i in _children(aws, "get_integrations", props["api_id"]) if i["IntegrationId"] not in exclude]
        found = [i for i in items if i.get("Description") == props["description"]]
        if not found:
            found = [i for i in items if i.get("IntegrationUri") == props["integration_uri"]
                     and "/integration/" not in (i.get("Description") or "")][:1]
        return [Created(i["IntegrationId"], {"id": i["IntegrationId"]}) for i in found]


@register
class RouteProvider(Provider):
    """props: ``api_id``, ``route_key``, ``target`` (``integrations/{id}``), ``authorization_type``
    (always sent, so removing auth takes effect), ``authorizer_id`` (or None),
    ``authorization_scopes`` (tuple). attrs: ``id``."""

    type = "apigatewayv2.Route"
    adopt_before_create = True
    deleted_with = "apigatewayv2.Api"
    replace_on = frozenset({"api_id", "route_key"})

    def _params(self, props: FrozenDict) -> dict[str, Any]:
        params: dict[str, Any] = {"Target": props["target"], "AuthorizationType": props["authorization_type"]}
        if props.get("authorizer_id"):
            params["AuthorizerId"] = props["authorizer_id"]
        if props.get("authorization_scopes") is not None:
            params["AuthorizationScopes"] = list(props["authorization_scopes"])
        return params

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        out = aws.call(SERVICE, "create_route", ApiId=props["api_id"], RouteKey=props["route_key"],
                       **self._params(props))
        return Created(out["RouteId"], {"id": out["RouteId"]})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return _by_api(aws, records, "get_routes", lambda _, r: (r["RouteId"], {
            "route_key": r.get("RouteKey"),
            "target": r.get("Target"),
            "authorization_type": r.get("AuthorizationType") or "NONE",
            "authorizer_id": r.get("AuthorizerId") or None,
            "authorization_scopes": r.get("AuthorizationScopes") or [],
        }))

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        return self.read_many(aws, {record.address: record})[record.address]

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        aws.call(SERVICE, "update_route", ApiId=props["api_id"], RouteId=record.physical_id,
                 RouteKey=props["route_key"], **self._params(props))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        with gone_is_fine():
            aws.call(SERVICE, "delete_route", ApiId=record.props["api_id"], RouteId=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        for item in _children(aws, "get_routes", props["api_id"]):
            if item.get("RouteKey") == props["route_key"] and item["RouteId"] not in exclude:
                return Created(item["RouteId"], {"id": item["RouteId"]})
        return None


@register
class StageProvider(Provider):
    """props: ``api_id``, ``name``, ``auto_deploy``, ``access_log`` (``{"DestinationArn", "Format"}``
    or None), ``tags``. attrs: ``name``."""

    type = "apigatewayv2.Stage"
    adopt_before_create = True
    deleted_with = "apigatewayv2.Api"
    replace_on = frozenset({"api_id", "name"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        params: dict[str, Any] = {"AutoDeploy": props["auto_deploy"], "Tags": plain(props["tags"])}
        if props.get("access_log"):
            params["AccessLogSettings"] = plain(props["access_log"])
        aws.call(SERVICE, "create_stage", ApiId=props["api_id"], StageName=props["name"], **params)
        return Created(f"{props['api_id']}/{props['name']}", {"name": props["name"]})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return _by_api(aws, records, "get_stages", lambda api_id, s: (f"{api_id}/{s['StageName']}", {
            "name": s["StageName"],
            "auto_deploy": bool(s.get("AutoDeploy")),
            "access_log": s.get("AccessLogSettings") or None,
        }))

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        return self.read_many(aws, {record.address: record})[record.address]

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if "auto_deploy" in changed:
            params["AutoDeploy"] = props["auto_deploy"]
        if "access_log" in changed:
            if props.get("access_log"):
                params["AccessLogSettings"] = plain(props["access_log"])
            else:
                with gone_is_fine():
                    aws.call(SERVICE, "delete_access_log_settings", ApiId=props["api_id"], StageName=props["name"])
        if params:
            aws.call(SERVICE, "update_stage", ApiId=props["api_id"], StageName=props["name"], **params)
        if "tags" in changed:
            arn = f"arn:aws:apigateway:{aws.region}::/apis/{props['api_id']}/stages/{props['name']}"
            aws.call(SERVICE, "tag_resource", ResourceArn=arn, Tags=plain(props["tags"]))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        with gone_is_fine():
            aws.call(SERVICE, "delete_stage", ApiId=record.props["api_id"], StageName=record.props["name"])

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        if not any(st.get("StageName") == props["name"] for st in _children(aws, "get_stages", props["api_id"])):
            return None
        return Created(f"{props['api_id']}/{props['name']}", {"name": props["name"]})


AUTHORIZER_FIELDS = {
    "name": "Name",
    "authorizer_type": "AuthorizerType",
    "identity_source": "IdentitySource",
    "jwt_configuration": "JwtConfiguration",
    "authorizer_uri": "AuthorizerUri",
    "authorizer_payload_format_version": "AuthorizerPayloadFormatVersion",
    "enable_simple_responses": "EnableSimpleResponses",
    "result_ttl": "AuthorizerResultTtlInSeconds",
}


@register
class AuthorizerProvider(Provider):
    """props: ``api_id``, ``name``, ``authorizer_type`` (JWT | REQUEST), ``identity_source``,
    ``jwt_configuration`` (``{"Issuer", "Audience"}``) or the Lambda fields ``authorizer_uri``,
    ``authorizer_payload_format_version``, ``enable_simple_responses``, ``result_ttl``. attrs: ``id``."""

    type = "apigatewayv2.Authorizer"
    adopt_before_create = True
    deleted_with = "apigatewayv2.Api"
    replace_on = frozenset({"api_id", "authorizer_type"})

    def _params(self, props: FrozenDict) -> dict[str, Any]:
        return {api: plain(props[f]) for f, api in AUTHORIZER_FIELDS.items() if props.get(f) is not None}

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        out = aws.call(SERVICE, "create_authorizer", ApiId=props["api_id"], **self._params(props))
        return Created(out["AuthorizerId"], {"id": out["AuthorizerId"]})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return _by_api(aws, records, "get_authorizers", lambda _, a: (a["AuthorizerId"], {
            f: a.get(api) for f, api in AUTHORIZER_FIELDS.items()}))

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        return self.read_many(aws, {record.address: record})[record.address]

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        aws.call(SERVICE, "update_authorizer", ApiId=props["api_id"], AuthorizerId=record.physical_id,
                 **self._params(props))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        with gone_is_fine():
            aws.call(SERVICE, "delete_authorizer", ApiId=record.props["api_id"], AuthorizerId=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        """The authorizer of this API with this name, not one of ``exclude``: a replaced authorizer
        (a change of type) keeps its name, so the old one and the new one share it until the old is deleted."""
        return first(self.find_all(aws, props, exclude))

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        return [Created(a["AuthorizerId"], {"id": a["AuthorizerId"]})
                for a in _children(aws, "get_authorizers", props["api_id"])
                if a.get("Name") == props["name"] and a["AuthorizerId"] not in exclude]
