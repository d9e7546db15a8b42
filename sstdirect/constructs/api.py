"""``Api``: an HTTP API (API Gateway v2) with Lambda routes, authorizers, CORS and access logs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine.resource import Resource
from ..engine.values import Fmt, Ref
from ..errors import ConfigError
from ..naming import physical_name, short_hash, slug
from ..resources.apigatewayv2 import ApiSpec, IntegrationSpec, RouteSpec, StageSpec, integration_target
from ..resources.awslambda import PermissionSpec
from ..resources.logs import LogGroupSpec
from .authorizers import AuthorizerConfig, parse_authorizers
from .base import Construct, ExpandContext, all_or_nothing, check_options, is_one_of
from .domain import domain_resources, parse_custom_domain, preflight_domain
from .function import Function
from .options import HTTP_ACCESS_LOG_FORMAT, access_log_config, cors_config
from .routes import RouteKey, check_conflicts, parse_route_key

if TYPE_CHECKING:
    from .base import ConstructHost

API_OPTIONS = ("routes", "authorizers", "defaults", "cors", "access_log", "custom_domain")
DEFAULTS_OPTIONS = ("function", "authorizer", "authorization_scopes", "payload_format_version")
ROUTE_OPTIONS = ("function", "authorizer", "authorization_scopes", "payload_format_version")
PAYLOAD_VERSIONS = ("1.0", "2.0")


@dataclass
class RouteConfig:
    key: RouteKey
    function: Function
    authorizer: str
    authorization_scopes: tuple[str, ...]
    payload_format_version: str


class Api(Construct):
    """An HTTP API. See API.md's "Api" section for every option and default."""

    kind = "Api"
    protocol = "HTTP"
    served_as = "http"

    def __init__(
        self,
        app: ConstructHost,
        id: str,
        routes: Mapping[str, Any] | None = None,
        authorizers: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        cors: Any = True,
        access_log: Any = True,
        custom_domain: Any = None,
        **unknown: Any,
    ):
        super().__init__(app, id)
        check_options(self.label, unknown, API_OPTIONS)
        if defaults is not None and not isinstance(defaults, Mapping):
            raise ConfigError(f"{self.label}: defaults must be a dict like {{'function': {{'timeout': 20}}}}, "
                              f"not {defaults!r}")
        defaults = dict(defaults or {})
        check_options(f"{self.label} defaults", defaults, DEFAULTS_OPTIONS)
        self.custom_domain = parse_custom_domain(self.label, custom_domain, region=app.region)
        self.cors = cors_config(self.label, cors)
        self.access_log = access_log_config(self.label, access_log, HTTP_ACCESS_LOG_FORMAT)
        self.defaults = defaults  # before the authorizers: their functions take defaults["function"] too
        self.authorizers: dict[str, AuthorizerConfig] = parse_authorizers(
            self, {} if authorizers is None else authorizers)
        self._default_auth = self._check_authorizer("defaults", defaults.get("authorizer", "none"))
        self._default_scopes = self._check_scopes("defaults", defaults.get("authorization_scopes", []))
        self._default_payload = self._check_payload("defaults", defaults.get("payload_format_version", "2.0"))
        self._routes: dict[str, RouteConfig] = {}
        self.add_routes({} if routes is None else routes)

    # -- configuration -----------------------------------------------------------------------

    def _check_authorizer(self, where: str, name: Any) -> str:
        if is_one_of(name, ("none", "iam", *self.authorizers)):
            return name
        known = ", ".join(["'none'", "'iam'", *(repr(n) for n in self.authorizers)])
        what = "unknown authorizer" if isinstance(name, str) else "authorizer must be a name (a string), not"
        raise ConfigError(f"{self.label} {where}: {what} {name!r}; use one of {known} "
                          f"(authorizers are declared in authorizers={{...}})")

    def _check_scopes(self, where: str, scopes: Any) -> tuple[str, ...]:
        if isinstance(scopes, str) or not isinstance(scopes, list | tuple) or not all(
                isinstance(s, str) for s in scopes):
            raise ConfigError(f"{self.label} {where}: authorization_scopes must be a list of strings")
        return tuple(scopes)

    def _check_payload(self, where: str, version: Any) -> str:
        if version not in PAYLOAD_VERSIONS:
            raise ConfigError(f"{self.label} {where}: payload_format_version must be '1.0' or '2.0', not {version!r}")
        return version

    def add_routes(self, routes: Mapping[str, Any]) -> None:
        """Add routes (``{"GET /notes": handler | props | {"function": ...} | Function}``)."""
        if not isinstance(routes, Mapping):
            raise ConfigError(f"{self.label}: routes must be a dict of route key → handler, e.g. "
                              f"{{'GET /notes': 'src/list.main'}}, not {type(routes).__name__}")
        keys: dict[str, tuple[RouteKey, Any]] = {}
        for raw_key, value in routes.items():
            key = parse_route_key(self.label, raw_key)
            if key.key in self._routes or key.key in keys:
                raise ConfigError(f"{self.label}: duplicate route {key.key!r} (from {raw_key!r}); each route "
                                  f"key may appear once")
            keys[key.key] = (key, value)
        check_conflicts(self.label, [*(r.key for r in self._routes.values()), *(k for k, _ in keys.values())])
        parsed: dict[str, RouteConfig] = {}
        with all_or_nothing(self.app):  # a bad route leaves no function of the routes before it registered
            for name, (key, value) in keys.items():
                parsed[name] = self._route(key, value, f"{self.label} route {name!r}")
        self._routes.update(parsed)

    def _route(self, key: RouteKey, value: Any, label: str) -> RouteConfig:
        options: Mapping[str, Any] = {}
        fn_value = value
        if isinstance(value, Mapping) and "function" in value:
            options = value
            check_options(label, options, ROUTE_OPTIONS)
            fn_value = value["function"]
        elif isinstance(value, Mapping) and set(value) & (set(ROUTE_OPTIONS) - {"function"}):
            raise ConfigError(f"{label}: a route dict with {sorted(set(value) & set(ROUTE_OPTIONS))} needs a "
                              f"'function' key (the handler, props or Function)")
        fn = Function.from_value(self.app, self._function_id(key), fn_value, self.defaults.get("function"), label)
        authorizer = self._check_authorizer(label, options.get("authorizer", self._default_auth))
        scopes = (self._check_scopes(label, options["authorization_scopes"])
                  if "authorization_scopes" in options else self._default_scopes)
        payload = self._check_payload(label, options.get("payload_format_version", self._default_payload))
        return RouteConfig(key, fn, authorizer, scopes, payload)

    def _function_id(self, key: RouteKey) -> str:
        """``{api}-{slug of the key}`` (``Api-GET-notes-id``). Distinct keys can share a slug (``GET /a-b`` and
        ``GET /a/b``, ``GET /{id}`` and ``GET /id``): a key whose slug is taken gets a short hash of itself
        appended, so the route declared first keeps its name (and its deployed function)."""
        plain = f"{self.construct_id}-{slug(key.key)}"
        return plain if self.app.construct(plain) is None else f"{plain}-{short_hash(key.key)}"

    def attach_permissions(self, permissions: list[Any]) -> None:
        """Grant ``permissions`` to every function of this API (now and added later)."""
        for route in self._routes.values():
            route.function.attach_permissions(permissions)

    @property
    def routes(self) -> list[str]:
        """The normalized route keys."""
        return list(self._routes)

    def get_function(self, route_key: str) -> Function:
        key = parse_route_key(self.label, route_key).key
        try:
            return self._routes[key].function
        except KeyError:
            raise ConfigError(f"{self.label} has no route {key!r}; routes: {', '.join(self._routes)}") from None

    def payload_format_version(self, route_key: str) -> str:
        """``"2.0"`` or ``"1.0"``: the event format route ``route_key``'s integration sends its function."""
        self.get_function(route_key)  # ConfigError for an unknown route
        return self._routes[parse_route_key(self.label, route_key).key].payload_format_version

    # -- outputs -----------------------------------------------------------------------------

    @property
    def api_address(self) -> str:
        return f"{self.construct_id}/api"

    @property
    def id(self) -> Any:
        return self._output("id", Ref(self.api_address, "id"))

    @property
    def url(self) -> Any:
        return self._output("url", Ref(self.api_address, "endpoint"))

    @property
    def arn(self) -> Any:
        return self._output("arn", Ref(self.api_address, "arn"))

    @property
    def execution_arn(self) -> Any:
        return self._output("execution_arn", Ref(self.api_address, "execution_arn"))

    @property
    def custom_domain_url(self) -> str | None:
        """``https://{domain}`` or ``https://{domain}/{path}/`` (known before deploy), else None."""
        return self.custom_domain.url() if self.custom_domain else None

    def _grant_statement(self) -> dict[str, Any]:
        return {"Effect": "Allow", "Action": "execute-api:Invoke",
                "Resource": Fmt.of("{arn}/*", arn=Ref(self.api_address, "execution_arn"))}

    def _outputs(self, attr: Any) -> dict[str, Any]:
        return {"url": attr(self.api_address, "endpoint"), "id": attr(self.api_address, "id"),
                "arn": attr(self.api_address, "arn"), "execution_arn": attr(self.api_address, "execution_arn"),
                "routes": self.routes, "custom_domain_url": self.custom_domain_url}

    # -- expansion ---------------------------------------------------------------------------

    def _a(self, *parts: str) -> str:
        return "/".join([self.construct_id, *parts])

    def _api_resources(self, ctx: ExpandContext) -> list[Resource]:
        api = Resource.of(self.api_address, ApiSpec(
            name=physical_name(ctx.stage, ctx.app, self.construct_id, max_len=128),
            protocol_type=self.protocol,
            cors=self.cors,
            route_selection_expression=None,
            tags=ctx.tags(self.api_address),
        ))
        return [api]

    def _stage_resources(self, ctx: ExpandContext, stage_name: str) -> list[Resource]:
        api_id = Ref(self.api_address, "id")
        out: list[Resource] = []
        access_log = None
        if self.access_log is not None:
            dest: Any = self.access_log["destination_arn"]
            if dest is None:
                log_name = Fmt.of("/aws/vendedlogs/apis/{name}-{api_id}/{stage}",
                                  name=physical_name(ctx.stage, ctx.app, self.construct_id, max_len=256),
                                  api_id=api_id, stage="default" if stage_name == "$default" else stage_name)
                group = Resource.of(self._a("access-log"), LogGroupSpec(
                    name=log_name, retention_days=self.access_log["retention_days"],
                    tags=ctx.tags(self._a("access-log"))))
                out.append(group)
                dest = Ref(group.address, "arn")
            access_log = {"DestinationArn": dest, "Format": self.access_log["format"]}
        out.append(Resource.of(self._a("stage"), StageSpec(
            api_id=api_id, name=stage_name, auto_deploy=True, access_log=access_log, tags=ctx.tags(self._a("stage")))))
        return out

    def _integration(self, ctx: ExpandContext, suffix: str, fn: Function, payload: str | None) -> Resource:
        address = self._a("integration", suffix)
        return Resource.of(address, IntegrationSpec(
            api_id=Ref(self.api_address, "id"),
            integration_type="AWS_PROXY",
            integration_uri=fn.arn(ctx),
            integration_method="POST",  # Lambda is always invoked with POST (AWS reports it)
            payload_format_version=payload,
            timeout_ms=30000 if self.protocol == "HTTP" else 29000,
            description=address,
        ))

    def _permission(self, ctx: ExpandContext, suffix: str, fn: Function, source_suffix: str) -> Resource:
        return Resource.of(self._a("permission", suffix), PermissionSpec(
            function_name=Ref(fn.function_address, "name"),
            statement_id=f"sstdirect-{slug(suffix)[:60]}-{short_hash(self._a(suffix))}",
            principal="apigateway.amazonaws.com",
            action="lambda:InvokeFunction",
            source_arn=Fmt.of("{arn}" + source_suffix.replace("{", "{{").replace("}", "}}"),
                              arn=Ref(self.api_address, "execution_arn")),
        ))

    def _route_auth(self, route: RouteConfig) -> dict[str, Any]:
        if route.authorizer == "none":
            return {"authorization_type": "NONE", "authorizer_id": None, "authorization_scopes": ()}
        if route.authorizer == "iam":
            return {"authorization_type": "AWS_IAM", "authorizer_id": None, "authorization_scopes": ()}
        spec = self.authorizers[route.authorizer]
        return {
            "authorization_type": spec.route_authorization_type,
            "authorizer_id": Ref(spec.address, "id"),
            "authorization_scopes": route.authorization_scopes if spec.route_authorization_type == "JWT" else (),
        }

    def _resources(self, ctx: ExpandContext) -> list[Resource]:
        out = self._api_resources(ctx)
        out += self._stage_resources(ctx, "$default")
        for spec in self.authorizers.values():
            out += spec.resources(ctx, self)
        integrations: dict[str, Resource] = {}
        for key, route in self._routes.items():
            suffix = self._integration_suffix(key)
            integration = integrations.get(suffix)
            if integration is None:  # routes of one suffix share one integration (GraphQLApi)
                integration = self._integration(ctx, suffix, route.function, route.payload_format_version)
                integrations[suffix] = integration
                out.append(integration)
            out.append(Resource.of(self._a("route", key), RouteSpec(
                api_id=Ref(self.api_address, "id"),
                route_key=key,
                target=integration_target(Ref(integration.address, "id")),
                **self._route_auth(route),
            )))
            out.append(self._permission(ctx, key, route.function, route.key.source_arn_suffix()))
        if self.custom_domain is not None:
            out += domain_resources(ctx, self.custom_domain, prefix=self._a("domain"),
                                    api_id=Ref(self.api_address, "id"), stage=Ref(self._a("stage"), "name"))
        return out

    def _integration_suffix(self, route_key: str) -> str:
        """The integration a route targets (``integration/{suffix}``): its own, unless a subclass shares one."""
        return route_key

    def _preflight(self, aws: Any) -> None:
        """Reads before any write: the custom domain's hosted zone / certificate exist (ConfigError)."""
        if self.custom_domain is not None:
            preflight_domain(aws, self.custom_domain, self.label)

    def _functions(self) -> list[Function]:
        fns = [r.function for r in self._routes.values()]
        fns += [a.function for a in self.authorizers.values() if a.function is not None]
        return fns
