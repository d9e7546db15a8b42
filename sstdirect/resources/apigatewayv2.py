"""API Gateway v2: APIs, integrations, routes and stages (``apigatewayv2.*``).

Refresh is batched: one GetApis for every API, and one GetIntegrations / GetRoutes / GetStages per
API, however many of them the app has.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, Literal

from ..aws import Aws
from ..engine.resource import Created, Owned, Provider, Stray, tagged_for
from ..engine.spec import Spec, Text, resource_spec
from ..engine.values import Fmt, FrozenDict, Ref
from ..state import Record
from .common import plain

SERVICE = "apigatewayv2"

#: How a route names the integration it calls (AWS's ``Target``): written by :func:`integration_target` only.
INTEGRATION_TARGET = "integrations/{id}"


def integration_target(integration: Ref) -> Fmt:
    """A route's ``target`` prop: the integration whose id ``integration`` refers to."""
    return Fmt.of(INTEGRATION_TARGET, id=integration)


def targeted_integration(target: Any) -> Ref | None:
    """The ref to the integration a route's ``target`` prop names, when :func:`integration_target` made it;
    None for any other value (a literal target, another form)."""
    if not isinstance(target, Fmt) or len(target.args) != 1:
        return None
    ref = target.args[0][1]
    return ref if isinstance(ref, Ref) and target == integration_target(ref) else None


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

    return aws.shared(f"{SERVICE}.{method}:{api_id}",
                      lambda: aws.paginate_or_empty(SERVICE, method, "Items", ApiId=api_id))


def _apis(aws: Aws) -> list[dict[str, Any]]:
    """Every API (HTTP and WebSocket) of the region: GetApis, once inside :meth:`Aws.shared_reads`."""
    return aws.shared(f"{SERVICE}.get_apis", lambda: aws.paginate(SERVICE, "get_apis", "Items"))


def _cors_params(cors: Any) -> dict[str, Any]:
    return {"CorsConfiguration": plain(cors)} if cors else {}


@resource_spec("apigatewayv2.Api")
class ApiSpec(Spec):
    name: str
    protocol_type: Literal["HTTP", "WEBSOCKET"]
    cors: Mapping[str, Any] | None = None  # AWS's CorsConfiguration shape
    route_selection_expression: str | None = None  # WebSocket only
    tags: Mapping[str, str]


class ApiProvider(Provider):
    """An :class:`ApiSpec`. attrs: ``id``, ``endpoint``, ``arn``, ``execution_arn``."""

    spec = ApiSpec
    adopt_before_create = True
    start_priority = 1
    replace_on = frozenset({"protocol_type"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = ApiSpec.from_props(props)
        params: dict[str, Any] = {"Name": spec.name, "ProtocolType": spec.protocol_type, "Tags": plain(spec.tags),
                                  **_cors_params(spec.cors)}
        if spec.route_selection_expression:
            params["RouteSelectionExpression"] = spec.route_selection_expression
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

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        api_id, spec = record.physical_id, ApiSpec.from_props(props)
        params: dict[str, Any] = {}
        if "name" in changed:
            params["Name"] = spec.name
        if "route_selection_expression" in changed and spec.route_selection_expression:
            params["RouteSelectionExpression"] = spec.route_selection_expression
        if "cors" in changed:
            if spec.cors:
                params.update(_cors_params(spec.cors))
            else:
                aws.delete_if_exists(SERVICE, "delete_cors_configuration", ApiId=api_id)
        if params:
            aws.call(SERVICE, "update_api", ApiId=api_id, **params)
        if "tags" in changed:
            aws.call(SERVICE, "tag_resource", ResourceArn=record.attrs["arn"], Tags=plain(spec.tags))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(SERVICE, "delete_api", ApiId=record.physical_id)

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        """APIs with this name and this resource's ``sstdirect:id`` tag, not one of ``exclude``."""
        spec = ApiSpec.from_record(props)
        tag = spec.tags.get("sstdirect:id")
        return [Created(api["ApiId"], self._attrs(aws, api)) for api in _apis(aws)
                if api.get("Name") == spec.name and (api.get("Tags") or {}).get("sstdirect:id") == tag
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


@resource_spec("apigatewayv2.Integration")
class IntegrationSpec(Spec):
    api_id: Text
    integration_type: Literal["AWS_PROXY", "AWS", "HTTP", "HTTP_PROXY", "MOCK"] = "AWS_PROXY"
    integration_uri: Text
    integration_method: str | None = None
    payload_format_version: str | None = None
    timeout_ms: int
    description: str  # the logical address: how an interrupted create is found again


class IntegrationProvider(Provider):
    """An :class:`IntegrationSpec`. attrs: ``id``."""

    spec = IntegrationSpec
    adopt_before_create = True
    deleted_with = "apigatewayv2.Api"
    replace_on = frozenset({"api_id"})

    def _params(self, integration: IntegrationSpec, fields: Any = None) -> dict[str, Any]:
        return {api: getattr(integration, f) for f, api in INTEGRATION_FIELDS.items()
                if (fields is None or f in fields) and getattr(integration, f) is not None}

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = IntegrationSpec.from_props(props)
        out = aws.call(SERVICE, "create_integration", ApiId=spec.api_id, **self._params(spec))
        return Created(out["IntegrationId"], {"id": out["IntegrationId"]})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        """``description`` is not observed: it only marks which address made the integration (an imported
        one has none, see :mod:`.apigatewayv2_import`), so it is compared with the lockfile."""
        return _by_api(aws, records, "get_integrations", lambda _, i: (i["IntegrationId"], {
            f: i.get(api) for f, api in INTEGRATION_FIELDS.items() if f != "description"}))

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        spec = IntegrationSpec.from_props(props)
        aws.call(SERVICE, "update_integration", ApiId=spec.api_id, IntegrationId=record.physical_id,
                 **self._params(spec, changed))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(SERVICE, "delete_integration", ApiId=record.props["api_id"],
                             IntegrationId=record.physical_id)

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        """The integrations of this API, not one of ``exclude``, whose description is this address; else the
        one an import made (no sstdirect description) with this URI (an import gives each integration a URI
        of its own)."""
        spec = IntegrationSpec.from_record(props)
        items = [i for i in _children(aws, "get_integrations", spec.api_id) if i["IntegrationId"] not in exclude]
        found = [i for i in items if i.get("Description") == spec.description]
        if not found:
            found = [i for i in items if i.get("IntegrationUri") == spec.integration_uri
                     and "/integration/" not in (i.get("Description") or "")][:1]
        return [Created(i["IntegrationId"], {"id": i["IntegrationId"]}) for i in found]


@resource_spec("apigatewayv2.Route")
class RouteSpec(Spec):
    """``authorization_type`` is always sent, so removing auth takes effect."""

    api_id: Text
    route_key: str
    target: Text  # :func:`integration_target`
    authorization_type: Literal["NONE", "AWS_IAM", "JWT", "CUSTOM"] = "NONE"
    authorizer_id: Text | None = None
    authorization_scopes: tuple[str, ...] = ()


class RouteProvider(Provider):
    """A :class:`RouteSpec`. attrs: ``id``."""

    spec = RouteSpec
    adopt_before_create = True
    deleted_with = "apigatewayv2.Api"
    replace_on = frozenset({"api_id", "route_key"})

    def _params(self, route: RouteSpec) -> dict[str, Any]:
        params: dict[str, Any] = {"Target": route.target, "AuthorizationType": route.authorization_type}
        if route.authorizer_id:
            params["AuthorizerId"] = route.authorizer_id
        if route.authorization_scopes is not None:
            params["AuthorizationScopes"] = list(route.authorization_scopes)
        return params

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = RouteSpec.from_props(props)
        out = aws.call(SERVICE, "create_route", ApiId=spec.api_id, RouteKey=spec.route_key, **self._params(spec))
        return Created(out["RouteId"], {"id": out["RouteId"]})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return _by_api(aws, records, "get_routes", lambda _, r: (r["RouteId"], {
            "route_key": r.get("RouteKey"),
            "target": r.get("Target"),
            "authorization_type": r.get("AuthorizationType") or "NONE",
            "authorizer_id": r.get("AuthorizerId") or None,
            "authorization_scopes": r.get("AuthorizationScopes") or [],
        }))

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        spec = RouteSpec.from_props(props)
        aws.call(SERVICE, "update_route", ApiId=spec.api_id, RouteId=record.physical_id, RouteKey=spec.route_key,
                 **self._params(spec))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(SERVICE, "delete_route", ApiId=record.props["api_id"], RouteId=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        spec = RouteSpec.from_record(props)
        for item in _children(aws, "get_routes", spec.api_id):
            if item.get("RouteKey") == spec.route_key and item["RouteId"] not in exclude:
                return Created(item["RouteId"], {"id": item["RouteId"]})
        return None


@resource_spec("apigatewayv2.Stage")
class StageSpec(Spec):
    api_id: Text
    name: str
    auto_deploy: bool = True
    access_log: Mapping[str, Any] | None = None  # {"DestinationArn", "Format"}
    tags: Mapping[str, str]


class StageProvider(Provider):
    """A :class:`StageSpec`. attrs: ``name``."""

    spec = StageSpec
    adopt_before_create = True
    deleted_with = "apigatewayv2.Api"
    replace_on = frozenset({"api_id", "name"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = StageSpec.from_props(props)
        params: dict[str, Any] = {"AutoDeploy": spec.auto_deploy, "Tags": plain(spec.tags)}
        if spec.access_log:
            params["AccessLogSettings"] = plain(spec.access_log)
        aws.call(SERVICE, "create_stage", ApiId=spec.api_id, StageName=spec.name, **params)
        return Created(f"{spec.api_id}/{spec.name}", {"name": spec.name})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return _by_api(aws, records, "get_stages", lambda api_id, s: (f"{api_id}/{s['StageName']}", {
            "name": s["StageName"],
            "auto_deploy": bool(s.get("AutoDeploy")),
            "access_log": s.get("AccessLogSettings") or None,
        }))

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        spec, params = StageSpec.from_props(props), {}
        if "auto_deploy" in changed:
            params["AutoDeploy"] = spec.auto_deploy
        if "access_log" in changed:
            if spec.access_log:
                params["AccessLogSettings"] = plain(spec.access_log)
            else:
                aws.delete_if_exists(SERVICE, "delete_access_log_settings", ApiId=spec.api_id, StageName=spec.name)
        if params:
            aws.call(SERVICE, "update_stage", ApiId=spec.api_id, StageName=spec.name, **params)
        if "tags" in changed:
            arn = f"arn:aws:apigateway:{aws.region}::/apis/{spec.api_id}/stages/{spec.name}"
            aws.call(SERVICE, "tag_resource", ResourceArn=arn, Tags=plain(spec.tags))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(SERVICE, "delete_stage", ApiId=record.props["api_id"], StageName=record.props["name"])

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        spec = StageSpec.from_record(props)
        if not any(st.get("StageName") == spec.name for st in _children(aws, "get_stages", spec.api_id)):
            return None
        return Created(f"{spec.api_id}/{spec.name}", {"name": spec.name})


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


@resource_spec("apigatewayv2.Authorizer")
class AuthorizerSpec(Spec):
    """A JWT authorizer has ``jwt_configuration`` (``{"Issuer", "Audience"}``); a Lambda (REQUEST) one the
    ``authorizer_*``, ``enable_simple_responses`` and ``result_ttl`` fields (None where an API lacks them)."""

    api_id: Text
    name: str
    authorizer_type: Literal["JWT", "REQUEST"]
    identity_source: tuple[str, ...]
    jwt_configuration: Mapping[str, Any] | None = None
    authorizer_uri: Text | None = None
    authorizer_payload_format_version: str | None = None
    enable_simple_responses: bool | None = None
    result_ttl: int | None = None


class AuthorizerProvider(Provider):
    """An :class:`AuthorizerSpec`. attrs: ``id``."""

    spec = AuthorizerSpec
    adopt_before_create = True
    deleted_with = "apigatewayv2.Api"
    replace_on = frozenset({"api_id", "authorizer_type"})

    def _params(self, authorizer: AuthorizerSpec) -> dict[str, Any]:
        return {api: plain(getattr(authorizer, f)) for f, api in AUTHORIZER_FIELDS.items()
                if getattr(authorizer, f) is not None}

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = AuthorizerSpec.from_props(props)
        out = aws.call(SERVICE, "create_authorizer", ApiId=spec.api_id, **self._params(spec))
        return Created(out["AuthorizerId"], {"id": out["AuthorizerId"]})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        return _by_api(aws, records, "get_authorizers", lambda _, a: (a["AuthorizerId"], {
            f: a.get(api) for f, api in AUTHORIZER_FIELDS.items()}))

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        spec = AuthorizerSpec.from_props(props)
        aws.call(SERVICE, "update_authorizer", ApiId=spec.api_id, AuthorizerId=record.physical_id,
                 **self._params(spec))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(SERVICE, "delete_authorizer", ApiId=record.props["api_id"],
                             AuthorizerId=record.physical_id)

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        """The authorizers of this API with this name, not one of ``exclude``: a replaced authorizer
        (a change of type) keeps its name, so the old one and the new one share it until the old is deleted."""
        spec = AuthorizerSpec.from_record(props)
        return [Created(a["AuthorizerId"], {"id": a["AuthorizerId"]})
                for a in _children(aws, "get_authorizers", spec.api_id)
                if a.get("Name") == spec.name and a["AuthorizerId"] not in exclude]
