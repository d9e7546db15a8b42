"""``WebSocketApi``: a WebSocket API (API Gateway v2) with Lambda routes, as SST v2's construct.

Resources, under ``{id}/``: the API (``api``; route selection ``$request.body.action``), per route
an AWS_PROXY integration (``integration/{key}``), the route (``route/{key}``) and the Lambda
invoke permission (``permission/{key}``, SourceArn ``{execution_arn}/*/{key}``); the stage named
after the app stage (``stage``) with auto-deploy and, by default, access logs in SST's WebSocket
format into ``access-log``; the account's API Gateway CloudWatch role (``account-logging``, never
deleted: see :mod:`sstdirect.resources.apigateway`), which WebSocket logging needs; a Lambda
authorizer on ``$connect`` (``authorizer`` + its permission); a custom domain (``domain/...``).

Every route function may ``execute-api:ManageConnections`` on this API's ``@connections`` (to
answer through ``apigatewaymanagementapi``), and only on this API's.

The expansion reuses :class:`~sstdirect.constructs.api.Api`'s helpers (``_stage_resources``,
``_integration``, ``_permission``) without being an ``Api``: a WebSocket API has no HTTP routes,
CORS or payload versions, and whatever serves HTTP APIs must not take it for one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..engine.resource import Resource
from ..engine.values import Fmt, Ref
from ..errors import ConfigError
from ..naming import physical_name, short_hash, slug
from ..resources.apigateway import AccountCloudWatchRoleSpec
from ..resources.apigatewayv2 import ApiSpec, AuthorizerSpec, RouteSpec, integration_target
from ..resources.awslambda import PermissionSpec
from .api import Api
from .base import Construct, ExpandContext, all_or_nothing, check_options
from .domain import domain_resources, parse_custom_domain, preflight_domain
from .function import Function
from .options import access_log_config

if TYPE_CHECKING:
    from .base import ConstructHost

WEBSOCKET_OPTIONS = ("routes", "authorizer", "defaults", "access_log", "custom_domain")
DEFAULTS_OPTIONS = ("function",)
ROUTE_OPTIONS = ("function",)
AUTHORIZER_OPTIONS = ("type", "function", "identity_source")
SPECIAL_ROUTES = ("$connect", "$disconnect", "$default")
ROUTE_SELECTION_EXPRESSION = "$request.body.action"
DEFAULT_IDENTITY_SOURCE = ("route.request.header.Authorization",)
# WebSocket integrations take only payload format 1.0; AWS reports "1.0" whether or not it was sent,
# so it is declared (and sent) explicitly: the value read back then always equals the one declared.
PAYLOAD_FORMAT_VERSION = "1.0"

WEBSOCKET_ACCESS_LOG_FORMAT = (
    '{"requestTime":"$context.requestTime","requestId":"$context.requestId",'
    '"eventType":"$context.eventType","routeKey":"$context.routeKey","status":$context.status,'
    '"integrationRequestId":"$context.awsEndpointRequestId",'
    '"integrationStatus":"$context.integrationStatus",'
    '"integrationLatency":"$context.integrationLatency",'
    '"integrationServiceStatus":"$context.integration.integrationStatus",'
    '"ip":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent",'
    '"cognitoIdentityId":"$context.identity.cognitoIdentityId","connectedAt":"$context.connectedAt",'
    '"connectionId":"$context.connectionId"}'
)


def check_route_key(label: str, key: Any) -> str:
    """``$connect`` / ``$disconnect`` / ``$default``, or a custom key (non-empty, printable, no whitespace, not
    starting with ``$``)."""
    if not isinstance(key, str) or not key:
        raise ConfigError(f"{label}: route key {key!r} must be a non-empty string such as 'sendMessage'")
    if key.startswith("$") and key not in SPECIAL_ROUTES:
        raise ConfigError(f"{label}: route key {key!r} is not valid: the only keys starting with '$' are "
                          f"{', '.join(SPECIAL_ROUTES)}; a custom route is the message's action, e.g. "
                          f"'sendMessage'")
    if any(c.isspace() for c in key):
        raise ConfigError(f"{label}: route key {key!r} must not contain whitespace (it is matched against "
                          f"the message's 'action' value)")
    if not key.isprintable():
        raise ConfigError(f"{label}: route key {key!r} has a control character; use printable characters "
                          f"such as 'sendMessage'")
    return key


def _function_suffix(key: str) -> str:
    """A readable, collision-free name part: ``$connect`` → ``connect``, ``sendMessage`` as is; a
    custom key that a special key or another key could slug to as well gets a short hash."""
    s = slug(key)
    if key in SPECIAL_ROUTES:
        return s
    if s != key or s in ("connect", "disconnect", "default"):
        return f"{s}-{short_hash(key)}"
    return s


class WebSocketApi(Construct):
    """A WebSocket API. See API.md's "WebSocketApi" section for every option and default."""

    kind = "WebSocketApi"
    protocol = "WEBSOCKET"
    served_as = "websocket"
    cors = None

    # Api's expansion helpers work on any construct with these attributes.
    _a = Api._a
    api_address = Api.api_address
    _stage_resources = Api._stage_resources
    _integration = Api._integration
    _permission = Api._permission
    id = Api.id
    arn = Api.arn
    execution_arn = Api.execution_arn

    def __init__(
        self,
        app: ConstructHost,
        id: str,
        routes: Mapping[str, Any] | None = None,
        authorizer: Any = "none",
        defaults: Mapping[str, Any] | None = None,
        access_log: Any = True,
        custom_domain: Any = None,
        **unknown: Any,
    ):
        super().__init__(app, id)
        check_options(self.label, unknown, WEBSOCKET_OPTIONS)
        if defaults is not None and not isinstance(defaults, Mapping):
            raise ConfigError(f"{self.label}: defaults must be a dict like {{'function': {{...}}}}")
        self.defaults = dict(defaults or {})
        check_options(f"{self.label} defaults", self.defaults, DEFAULTS_OPTIONS)
        self.custom_domain = parse_custom_domain(self.label, custom_domain, region=app.region)
        self.access_log = access_log_config(self.label, access_log, WEBSOCKET_ACCESS_LOG_FORMAT)
        self.authorizer, self.authorizer_function, self.identity_source = self._parse_authorizer(authorizer)
        self._routes: dict[str, Function] = {}
        self.add_routes({} if routes is None else routes)

    # -- configuration -----------------------------------------------------------------------

    def _parse_authorizer(self, value: Any) -> tuple[str, Function | None, tuple[str, ...]]:
        label = f"{self.label} authorizer"
        if value in ("none", "iam", None):
            return value or "none", None, ()
        if not isinstance(value, Mapping) or value.get("type") != "lambda":
            raise ConfigError(f"{label}: must be 'none', 'iam' or {{'type': 'lambda', 'function': ..., "
                              f"'identity_source': [...]}}, not {value!r}")
        check_options(label, value, AUTHORIZER_OPTIONS)
        if "function" not in value:
            raise ConfigError(f"{label}: a lambda authorizer needs function= (a handler, props or Function)")
        source = value.get("identity_source")
        if source is None:
            source = DEFAULT_IDENTITY_SOURCE
        elif isinstance(source, str) or not isinstance(source, list | tuple) or not source or not all(
                isinstance(s, str) and s.startswith(("route.request.", "context.", "stageVariables."))
                for s in source):
            raise ConfigError(f"{label}: identity_source must be a non-empty list like "
                              f"['route.request.header.Authorization'] or ['route.request.querystring.token']")
        fn = Function.from_value(self.app, f"{self.construct_id}-authorizer", value["function"],
                                 self.defaults.get("function"), label)
        return "lambda", fn, tuple(source)

    def add_routes(self, routes: Mapping[str, Any]) -> None:
        """Add routes (``{"sendMessage": handler | props | {"function": ...} | Function}``)."""
        if not isinstance(routes, Mapping):
            raise ConfigError(f"{self.label}: routes must be a dict of route key → handler, e.g. "
                              f"{{'sendMessage': 'src/send.main'}}, not {type(routes).__name__}")
        parsed: dict[str, Function] = {}
        with all_or_nothing(self.app):  # a bad route leaves no function of the routes before it registered
            for key, value in routes.items():
                key = check_route_key(self.label, key)
                label = f"{self.label} route {key!r}"
                if key in self._routes:
                    raise ConfigError(f"{self.label}: duplicate route {key!r}; each route key may appear once")
                fn_value = value
                if isinstance(value, Mapping) and "function" in value:
                    check_options(label, value, ROUTE_OPTIONS)
                    fn_value = value["function"]
                parsed[key] = Function.from_value(self.app, f"{self.construct_id}-{_function_suffix(key)}",
                                                  fn_value, self.defaults.get("function"), label)
        for fn in parsed.values():
            statement = self._manage_connections_statement()
            if statement not in fn._permissions:
                fn.attach_permissions([statement])
        self._routes.update(parsed)

    def _manage_connections_statement(self) -> dict[str, Any]:
        return {"Effect": "Allow", "Action": "execute-api:ManageConnections",
                "Resource": Fmt.of("{arn}/*/*/@connections/*", arn=Ref(self.api_address, "execution_arn"))}

    def attach_permissions(self, permissions: list[Any]) -> None:
        """Grant ``permissions`` to every route function of this API."""
        for fn in {id(f): f for f in self._routes.values()}.values():
            fn.attach_permissions(permissions)

    @property
    def routes(self) -> list[str]:
        return list(self._routes)

    def get_function(self, route_key: str) -> Function:
        try:
            return self._routes[route_key]
        except KeyError:
            raise ConfigError(f"{self.label} has no route {route_key!r}; routes: {', '.join(self._routes)}") from None

    # -- outputs -----------------------------------------------------------------------------

    @property
    def stage_name(self) -> str:
        return self.app.stage

    def _endpoint(self, scheme: str, api_id: Any) -> Any:
        return f"{scheme}://{api_id}.execute-api.{self.app.region}.amazonaws.com/{self.stage_name}"

    def _endpoint_ref(self, scheme: str) -> Fmt:
        return Fmt.of(self._endpoint(scheme, "{id}"), id=Ref(self.api_address, "id"))

    @property
    def url(self) -> Any:
        """``wss://{id}.execute-api.{region}.amazonaws.com/{stage}``."""
        return self._output("url", self._endpoint_ref("wss"))

    @property
    def management_endpoint(self) -> Any:
        """``https://{id}.execute-api.{region}.amazonaws.com/{stage}``: boto3 ``apigatewaymanagementapi``'s
        ``endpoint_url``."""
        return self._output("management_endpoint", self._endpoint_ref("https"))

    @property
    def custom_domain_url(self) -> str | None:
        """``wss://{domain}`` or ``wss://{domain}/{path}/`` (known before deploy), else None."""
        return self.custom_domain.url("wss") if self.custom_domain else None

    def _grant_statement(self) -> dict[str, Any]:
        """Granting a WebSocketApi: invoke it and manage its connections (SST's grant)."""
        return {"Effect": "Allow", "Action": ["execute-api:Invoke", "execute-api:ManageConnections"],
                "Resource": Fmt.of("{arn}/*", arn=Ref(self.api_address, "execution_arn"))}

    def _outputs(self, attr: Any) -> dict[str, Any]:
        api_id = attr(self.api_address, "id")
        return {"url": self._endpoint("wss", api_id) if api_id else None,
                "management_endpoint": self._endpoint("https", api_id) if api_id else None,
                "id": api_id, "arn": attr(self.api_address, "arn"),
                "execution_arn": attr(self.api_address, "execution_arn"),
                "routes": self.routes, "custom_domain_url": self.custom_domain_url}

    # -- expansion ---------------------------------------------------------------------------

    def _route_auth(self, key: str) -> dict[str, Any]:
        if key != "$connect" or self.authorizer == "none":
            return {"authorization_type": "NONE", "authorizer_id": None, "authorization_scopes": ()}
        if self.authorizer == "iam":
            return {"authorization_type": "AWS_IAM", "authorizer_id": None, "authorization_scopes": ()}
        return {"authorization_type": "CUSTOM", "authorizer_id": Ref(self._a("authorizer"), "id"),
                "authorization_scopes": ()}

    def _authorizer_resources(self, ctx: ExpandContext) -> list[Resource]:
        fn = self.authorizer_function
        assert fn is not None
        authorizer = Resource.of(self._a("authorizer"), AuthorizerSpec(
            api_id=Ref(self.api_address, "id"),
            name=f"{self.construct_id}-authorizer",
            authorizer_type="REQUEST",
            identity_source=self.identity_source,
            jwt_configuration=None,
            authorizer_uri=Fmt.of("arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{fn}/invocations",
                                  region=Ref("aws", "region"), fn=fn.arn(ctx)),
            # payload versions, simple responses and result caching are HTTP API features
            authorizer_payload_format_version=None,
            enable_simple_responses=None,
            result_ttl=None,
        ))
        permission = Resource.of(self._a("permission", "authorizer"), PermissionSpec(
            function_name=Ref(fn.function_address, "name"),
            statement_id=f"sstdirect-authorizer-{short_hash(self._a('authorizer'))}",
            principal="apigateway.amazonaws.com",
            action="lambda:InvokeFunction",
            source_arn=Fmt.of("{arn}/authorizers/{id}", arn=Ref(self.api_address, "execution_arn"),
                              id=Ref(authorizer.address, "id")),
        ))
        return [authorizer, permission]

    def _resources(self, ctx: ExpandContext) -> list[Resource]:
        out = [Resource.of(self.api_address, ApiSpec(
            name=physical_name(ctx.stage, ctx.app, self.construct_id, max_len=128),
            protocol_type=self.protocol,
            cors=None,
            route_selection_expression=ROUTE_SELECTION_EXPRESSION,
            tags=ctx.tags(self.api_address),
        ))]
        stage_resources = self._stage_resources(ctx, self.stage_name)
        if self.access_log is not None:  # WebSocket logging needs the account's CloudWatch role first
            account = Resource.of(self._a("account-logging"), AccountCloudWatchRoleSpec())
            out.append(account)
            stage_resources = [replace(r, after=tuple(sorted({*r.after, account.address})))
                               if r.type == "apigatewayv2.Stage" else r for r in stage_resources]
        out += stage_resources
        if self.authorizer == "lambda":
            out += self._authorizer_resources(ctx)
        for key, fn in self._routes.items():
            integration = self._integration(ctx, key, fn, PAYLOAD_FORMAT_VERSION)
            out.append(integration)
            out.append(Resource.of(self._a("route", key), RouteSpec(
                api_id=Ref(self.api_address, "id"),
                route_key=key,
                target=integration_target(Ref(integration.address, "id")),
                **self._route_auth(key),
            )))
            out.append(self._permission(ctx, key, fn, f"/*/{key}"))
        if self.custom_domain is not None:
            out += domain_resources(ctx, self.custom_domain, prefix=self._a("domain"),
                                    api_id=Ref(self.api_address, "id"), stage=Ref(self._a("stage"), "name"))
        return out

    def _preflight(self, aws: Any) -> None:
        """Reads before any write: the custom domain's hosted zone / certificate exist (ConfigError)."""
        if self.custom_domain is not None:
            preflight_domain(aws, self.custom_domain, self.label)

    def _functions(self) -> list[Function]:
        fns = list({id(f): f for f in self._routes.values()}.values())
        if self.authorizer_function is not None:
            fns.append(self.authorizer_function)
        return fns
