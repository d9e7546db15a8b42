"""AppSync: GraphQL APIs, their schema, API keys, data sources and resolvers (``appsync.*``).

Refresh is batched: one ListGraphqlApis for every API; one GetSchemaCreationStatus, ListApiKeys
and ListDataSources per API; one ListResolvers per API and type, however many resources the app
has.

API key values are secrets: AppSync's key *id* is the key itself, so the lockfile records only a
fingerprint (a sha256 of the id), and the key is found again by listing the API's keys.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any, Literal

from ..aws import Aws
from ..aws.waiters import WaitFailed, WaitTimedOut, wait
from ..engine.resource import Created, Owned, Provider, tagged_for
from ..engine.spec import Spec, Text, resource_spec
from ..engine.values import FrozenDict
from ..errors import DeployError
from ..state import Record
from .common import plain

SERVICE = "appsync"
DAY = 86400
# An API key is replaced when it expires within this many days (or half its lifetime if shorter).
KEY_RENEW_WITHIN_DAYS = 7


def _list_per_api(
    aws: Aws, records: Mapping[str, Record], method: str, key: str,
    observe: Callable[[str, dict[str, Any], Record], tuple[str, dict[str, Any]]],
    group: Callable[[Record], tuple[str, dict[str, Any]]] | None = None,
) -> dict[str, dict[str, Any] | None]:
    """Read children with one paginated list call per API (and per ``group`` parameters)."""
    groups: dict[tuple[str, str], dict[str, Record]] = defaultdict(dict)
    params_of: dict[tuple[str, str], dict[str, Any]] = {}
    for address, rec in records.items():
        api_id = rec.props.get("api_id", "")
        label, params = group(rec) if group else ("", {})
        groups[(api_id, label)][address] = rec
        params_of[(api_id, label)] = params
    out: dict[str, dict[str, Any] | None] = {}
    for (api_id, label), recs in groups.items():
        # the API is gone: its children with it
        items = aws.paginate_or_empty(SERVICE, method, key, apiId=api_id, **params_of[(api_id, label)])
        for address, rec in recs.items():
            seen = dict(observe(api_id, item, rec) for item in items)
            found = seen.get(rec.physical_id or "")
            out[address] = None if found is None else {**found, "api_id": api_id}
    return out


def _project(observed: Any, recorded: Any) -> Any:
    """``observed`` limited to the keys sstdirect sets (AWS may add fields of its own), recursively;
    an empty value is None."""
    if isinstance(recorded, Mapping) and isinstance(observed, Mapping):
        return {k: _project(observed.get(k), v) for k, v in recorded.items()}
    if isinstance(recorded, list | tuple) and isinstance(observed, list | tuple) and len(recorded) == len(observed):
        return [_project(o, r) for o, r in zip(observed, recorded, strict=True)]
    return observed if observed not in (None, "", {}, []) else None


# --- GraphQL API --------------------------------------------------------------------------------

AUTH_CONFIGS = {"user_pool_config": "userPoolConfig", "open_id_connect_config": "openIDConnectConfig",
                "lambda_authorizer_config": "lambdaAuthorizerConfig"}


AuthenticationType = Literal["API_KEY", "AWS_IAM", "AMAZON_COGNITO_USER_POOLS", "OPENID_CONNECT", "AWS_LAMBDA"]


@resource_spec("appsync.GraphqlApi")
class GraphqlApiSpec(Spec):
    """The default authorization mode's config is AWS's shape (or None); each additional provider is AWS's
    AdditionalAuthenticationProvider."""

    name: str
    authentication_type: AuthenticationType
    user_pool_config: Mapping[str, Any] | None = None
    open_id_connect_config: Mapping[str, Any] | None = None
    lambda_authorizer_config: Mapping[str, Any] | None = None
    additional_authentication_providers: tuple[Mapping[str, Any], ...] = ()
    tags: Mapping[str, str]


def _api_params(api: GraphqlApiSpec) -> dict[str, Any]:
    params: dict[str, Any] = {"name": api.name, "authenticationType": api.authentication_type}
    for field, key in AUTH_CONFIGS.items():
        if getattr(api, field):
            params[key] = plain(getattr(api, field))
    if api.additional_authentication_providers:
        params["additionalAuthenticationProviders"] = plain(api.additional_authentication_providers)
    return params


class GraphqlApiProvider(Provider):
    """A :class:`GraphqlApiSpec`. attrs: ``id``, ``arn``, ``url`` (``uris["GRAPHQL"]``), ``realtime_url``."""

    spec = GraphqlApiSpec

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = GraphqlApiSpec.from_props(props)
        api = aws.call(SERVICE, "create_graphql_api", tags=plain(spec.tags), **_api_params(spec))["graphqlApi"]
        return Created(api["apiId"], self._attrs(api))

    @staticmethod
    def _attrs(api: Mapping[str, Any]) -> dict[str, Any]:
        uris = api.get("uris") or {}
        return {"id": api["apiId"], "arn": api["arn"], "url": uris.get("GRAPHQL"),
                "realtime_url": uris.get("REALTIME")}

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        apis = {a["apiId"]: a for a in aws.paginate(SERVICE, "list_graphql_apis", "graphqlApis")}
        out: dict[str, dict[str, Any] | None] = {}
        for address, rec in records.items():
            api = apis.get(rec.physical_id or "")
            out[address] = None if api is None else self._observed(api, rec)
        return out

    @staticmethod
    def _observed(api: Mapping[str, Any], rec: Record) -> dict[str, Any]:
        observed: dict[str, Any] = {"name": api.get("name"), "authentication_type": api.get("authenticationType")}
        for field, key in AUTH_CONFIGS.items():
            observed[field] = _project(api.get(key), rec.props.get(field))
        recorded_extra = rec.props.get("additional_authentication_providers") or []
        observed["additional_authentication_providers"] = (
            _project(api.get("additionalAuthenticationProviders"), recorded_extra) or [])
        observed["tags"] = _project(api.get("tags") or {}, rec.props.get("tags") or {}) or {}
        return observed

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        spec, attrs = GraphqlApiSpec.from_props(props), {}
        if changed - {"tags"}:  # UpdateGraphqlApi replaces the settings: send them all
            api = aws.call(SERVICE, "update_graphql_api", apiId=record.physical_id, **_api_params(spec))
            attrs = self._attrs(api["graphqlApi"])
        if "tags" in changed:
            aws.call(SERVICE, "tag_resource", resourceArn=record.attrs["arn"], tags=plain(spec.tags))
        return attrs

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(SERVICE, "delete_graphql_api", apiId=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        """An API with this name and this resource's ``sstdirect:id`` tag."""
        spec = GraphqlApiSpec.from_record(props)
        tag = spec.tags.get("sstdirect:id")
        for api in aws.paginate(SERVICE, "list_graphql_apis", "graphqlApis"):
            if (api.get("name") == spec.name and (api.get("tags") or {}).get("sstdirect:id") == tag
                    and api["apiId"] not in exclude):
                return Created(api["apiId"], self._attrs(api))
        return None

    def owned(self, aws: Aws, app: str, stage: str, skip: frozenset[str] = frozenset()) -> list[Owned]:
        """One ListGraphqlApis: the listing carries each API's tags."""
        return [Owned((api.get("tags") or {}).get("sstdirect:id", ""), api["apiId"])
                for api in aws.paginate(SERVICE, "list_graphql_apis", "graphqlApis")
                if api["apiId"] not in skip and tagged_for(api.get("tags"), app, stage)]


# --- schema -------------------------------------------------------------------------------------


def schema_sha256(sdl: str) -> str:
    return hashlib.sha256(sdl.encode()).hexdigest()


@resource_spec("appsync.Schema")
class SchemaSpec(Spec):
    api_id: Text
    sha256: str  # of the SDL
    definition: str  # the SDL; transient: passed to create/update, never recorded


class SchemaProvider(Provider):
    """A :class:`SchemaSpec`. attrs: none. Uploaded with StartSchemaCreation and waited for
    (the waiter ``appsync.SchemaCreated`` of :mod:`sstdirect.aws.waiters`: a bounded poll of
    GetSchemaCreationStatus; FAILED is a DeployError carrying AppSync's error).
    AppSync has no DeleteSchema: the schema goes with its API."""

    spec = SchemaSpec
    replace_on = frozenset({"api_id"})
    transient_fields = frozenset({"definition"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        return Created(self._upload(aws, props), {})

    def _upload(self, aws: Aws, props: FrozenDict) -> str:
        """Upload the schema and wait for AppSync to take it; the API's id."""
        schema = SchemaSpec.from_props(props)
        api_id = schema.api_id
        aws.call(SERVICE, "start_schema_creation", apiId=api_id, definition=schema.definition.encode())
        try:
            wait(aws, SERVICE, "SchemaCreated", apiId=api_id)
        except WaitFailed as exc:
            details = exc.last_response.get("details") or ""
            raise DeployError(f"the GraphQL schema of AppSync API {api_id} was rejected: {details}",
                              operation="appsync.StartSchemaCreation", code="SchemaCreationFailed") from None
        except WaitTimedOut as exc:
            status = (exc.last_response or {}).get("status", "")
            raise DeployError(f"the GraphQL schema of AppSync API {api_id} is still {status} after waiting; "
                              f"deploy again to check on it", operation="appsync.GetSchemaCreationStatus",
                              code="SchemaCreationTimeout") from None
        return api_id

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        out: dict[str, dict[str, Any] | None] = {}
        for address, rec in records.items():
            api_id = rec.props.get("api_id", "")
            answer = aws.get_or_none(SERVICE, "get_schema_creation_status", apiId=api_id)
            if answer is None:
                out[address] = None
                continue
            status = answer.get("status")
            # a schema that failed or never arrived differs from the one recorded: upload it again
            ok = status in ("SUCCESS", "ACTIVE", "PROCESSING")
            out[address] = {"api_id": api_id, **({} if ok else {"sha256": None})}
        return out

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        self._upload(aws, props)
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        return None

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        return None  # an interrupted upload is simply uploaded again


# --- API key ------------------------------------------------------------------------------------


def fingerprint(key_id: str) -> str:
    """What the lockfile records of an API key (its id is the secret itself)."""
    return "sha256:" + hashlib.sha256(key_id.encode()).hexdigest()[:32]


def key_expiry(days: int, now: float | None = None) -> int:
    """``expires`` for a key valid ``days`` days, kept inside AppSync's 1-365 day bounds even after
    AppSync rounds it down to the hour and with a little clock skew."""
    now = time.time() if now is None else now
    wanted = int(now) + days * DAY
    return max(int(now) + DAY + 3600, min(wanted, int(now) + 365 * DAY - 300))


def renew_within_s(days: int) -> int:
    return min(KEY_RENEW_WITHIN_DAYS * DAY, days * DAY // 2)


@resource_spec("appsync.ApiKey")
class ApiKeySpec(Spec):
    api_id: Text
    description: str  # the logical address: how an interrupted create is found again
    expires_days: int
    expired: bool = False  # always False in the desired state


class ApiKeyProvider(Provider):
    """An :class:`ApiKeySpec`. attrs: ``fingerprint`` only: the key's value is never recorded.

    A refresh reports ``expired: True`` for a key that expires within 7 days (or within half its
    lifetime, if shorter), which replaces it (new key first, then the old one is deleted); a key
    that is gone is made again. Changing ``expires_days`` extends the key in place."""

    spec = ApiKeySpec
    replace_on = frozenset({"api_id", "expired"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = ApiKeySpec.from_props(props)
        key = aws.call(SERVICE, "create_api_key", apiId=spec.api_id, description=spec.description,
                       expires=key_expiry(spec.expires_days))["apiKey"]
        fp = fingerprint(key["id"])
        return Created(fp, {"fingerprint": fp})

    def _keys(self, aws: Aws, api_id: str) -> dict[str, dict[str, Any]]:
        """The API's keys by fingerprint (empty when the API is gone)."""
        keys = aws.paginate_or_empty(SERVICE, "list_api_keys", "apiKeys", apiId=api_id)
        return {fingerprint(k["id"]): k for k in keys}

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        by_api: dict[str, dict[str, Record]] = defaultdict(dict)
        for address, rec in records.items():
            by_api[rec.props.get("api_id", "")][address] = rec
        out: dict[str, dict[str, Any] | None] = {}
        now = time.time()
        for api_id, recs in by_api.items():
            keys = self._keys(aws, api_id)
            for address, rec in recs.items():
                key = keys.get(rec.physical_id or "")
                if key is None:
                    out[address] = None
                    continue
                days = int(rec.props.get("expires_days") or 7)
                expired = int(key.get("expires") or 0) < now + renew_within_s(days)
                out[address] = {"api_id": api_id, "expired": expired}
        return out

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        spec = ApiKeySpec.from_props(props)
        key = self._keys(aws, spec.api_id).get(record.physical_id or "")
        if key is None:
            raise DeployError(f"the API key of {record.address} is gone; deploy again to make a new one",
                              address=record.address, operation="appsync.UpdateApiKey", code="NotFoundException")
        if "expires_days" in changed or "description" in changed:
            aws.call(SERVICE, "update_api_key", apiId=spec.api_id, id=key["id"],
                     description=spec.description, expires=key_expiry(spec.expires_days))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        key = self._keys(aws, record.props["api_id"]).get(record.physical_id or "")
        if key is not None:
            aws.delete_if_exists(SERVICE, "delete_api_key", apiId=record.props["api_id"], id=key["id"])

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        spec = ApiKeySpec.from_record(props)
        mine = [k for k in self._keys(aws, spec.api_id).values() if k.get("description") == spec.description]
        if not mine:
            return None
        newest = max(mine, key=lambda k: int(k.get("expires") or 0))
        fp = fingerprint(newest["id"])
        return Created(fp, {"fingerprint": fp})


def read_api_key(aws: Aws, api_id: str, fp: str | None, description: str) -> str | None:
    """The value of an API key: the one with fingerprint ``fp``, else the newest with ``description``."""
    keys = aws.paginate(SERVICE, "list_api_keys", "apiKeys", apiId=api_id)
    for key in keys:
        if fp and fingerprint(key["id"]) == fp:
            return key["id"]
    mine = [k for k in keys if k.get("description") == description]
    return max(mine, key=lambda k: int(k.get("expires") or 0))["id"] if mine else None


# --- data sources -------------------------------------------------------------------------------

DATA_SOURCE_CONFIGS = {"lambda_config": "lambdaConfig", "dynamodb_config": "dynamodbConfig",
                       "http_config": "httpConfig"}


@resource_spec("appsync.DataSource")
class DataSourceSpec(Spec):
    """The config of its ``type`` is AWS's shape; the others are None."""

    api_id: Text
    name: str
    type: Literal["AWS_LAMBDA", "AMAZON_DYNAMODB", "HTTP", "NONE"]
    description: str | None = None
    service_role_arn: Text | None = None
    lambda_config: Mapping[str, Any] | None = None
    dynamodb_config: Mapping[str, Any] | None = None
    http_config: Mapping[str, Any] | None = None


def _data_source_params(props: FrozenDict) -> dict[str, Any]:
    source = DataSourceSpec.from_props(props)
    params: dict[str, Any] = {"apiId": source.api_id, "name": source.name, "type": source.type}
    if source.description:
        params["description"] = source.description
    if source.service_role_arn:
        params["serviceRoleArn"] = source.service_role_arn
    for field, key in DATA_SOURCE_CONFIGS.items():
        if getattr(source, field):
            params[key] = plain(getattr(source, field))
    return params


class DataSourceProvider(Provider):
    """A :class:`DataSourceSpec`. attrs: ``name``, ``arn``."""

    spec = DataSourceSpec
    replace_on = frozenset({"api_id", "name"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        source = aws.call(SERVICE, "create_data_source", **_data_source_params(props))["dataSource"]
        return Created(source["name"], {"name": source["name"], "arn": source.get("dataSourceArn")})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        def observe(api_id: str, s: dict[str, Any], rec: Record) -> tuple[str, dict[str, Any]]:
            observed = {"name": s.get("name"), "type": s.get("type"), "description": s.get("description") or None,
                        "service_role_arn": s.get("serviceRoleArn") or None}
            for field, api in DATA_SOURCE_CONFIGS.items():
                observed[field] = _project(s.get(api), rec.props.get(field))
            return s["name"], observed

        return _list_per_api(aws, records, "list_data_sources", "dataSources", observe)

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        source = aws.call(SERVICE, "update_data_source", **_data_source_params(props))["dataSource"]
        return {"name": source["name"], "arn": source.get("dataSourceArn")}

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(SERVICE, "delete_data_source", apiId=record.props["api_id"], name=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        spec = DataSourceSpec.from_record(props)
        source = aws.get_or_none(SERVICE, "get_data_source", "dataSource", apiId=spec.api_id, name=spec.name)
        if source is None:
            return None
        return Created(source["name"], {"name": source["name"], "arn": source.get("dataSourceArn")})


# --- resolvers ----------------------------------------------------------------------------------

RESOLVER_FIELDS = {"data_source_name": "dataSourceName", "kind": "kind",
                   "request_mapping_template": "requestMappingTemplate",
                   "response_mapping_template": "responseMappingTemplate"}


@resource_spec("appsync.Resolver")
class ResolverSpec(Spec):
    """The mapping templates are VTL text, or None: a direct Lambda resolver has neither."""

    api_id: Text
    type_name: str
    field_name: str
    data_source_name: Text
    kind: Literal["UNIT", "PIPELINE"] = "UNIT"
    request_mapping_template: str | None = None
    response_mapping_template: str | None = None


def _resolver_params(resolver: ResolverSpec) -> dict[str, Any]:
    params = {"apiId": resolver.api_id, "typeName": resolver.type_name, "fieldName": resolver.field_name}
    params.update({key: getattr(resolver, f) for f, key in RESOLVER_FIELDS.items() if getattr(resolver, f) is not None})
    return params


class ResolverProvider(Provider):
    """A :class:`ResolverSpec`. attrs: ``arn``."""

    spec = ResolverSpec
    replace_on = frozenset({"api_id", "type_name", "field_name"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = ResolverSpec.from_props(props)
        resolver = aws.call(SERVICE, "create_resolver", **_resolver_params(spec))["resolver"]
        return Created(f"{spec.type_name}.{spec.field_name}", {"arn": resolver.get("resolverArn")})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        def observe(api_id: str, r: dict[str, Any], rec: Record) -> tuple[str, dict[str, Any]]:
            observed = {"type_name": r.get("typeName"), "field_name": r.get("fieldName")}
            observed.update({f: r.get(api) or None for f, api in RESOLVER_FIELDS.items()})
            return f"{r.get('typeName')}.{r.get('fieldName')}", observed

        def by_type(rec: Record) -> tuple[str, dict[str, Any]]:
            type_name = rec.props.get("type_name", "")
            return type_name, {"typeName": type_name}

        return _list_per_api(aws, records, "list_resolvers", "resolvers", observe, group=by_type)

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        resolver = aws.call(SERVICE, "update_resolver", **_resolver_params(ResolverSpec.from_props(props)))["resolver"]
        return {"arn": resolver.get("resolverArn")}

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(SERVICE, "delete_resolver", apiId=record.props["api_id"],
                             typeName=record.props["type_name"], fieldName=record.props["field_name"])

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        spec = ResolverSpec.from_record(props)
        resolver = aws.get_or_none(SERVICE, "get_resolver", "resolver", apiId=spec.api_id,
                                   typeName=spec.type_name, fieldName=spec.field_name)
        if resolver is None:
            return None
        return Created(f"{spec.type_name}.{spec.field_name}", {"arn": resolver.get("resolverArn")})
