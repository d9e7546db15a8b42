"""Authorizers of HTTP APIs: ``user_pool``, ``jwt`` and ``lambda`` (pure parsing + expansion)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..engine.resource import Resource
from ..engine.values import Fmt, Ref
from ..errors import ConfigError
from ..naming import short_hash, slug
from ..resources.apigatewayv2 import AuthorizerSpec
from ..resources.awslambda import PermissionSpec
from .base import ExpandContext, check_options, is_one_of, is_text, text_list
from .function import Function

if TYPE_CHECKING:
    from .base import ConstructHost


class AuthorizedApi(Protocol):
    """What an authorizer needs of the HTTP API it belongs to (:class:`~sstdirect.constructs.api.Api`)."""

    app: ConstructHost
    construct_id: str
    label: str
    api_address: str
    defaults: Mapping[str, Any]


AUTHORIZER_OPTIONS = {
    "jwt": ("type", "jwt", "identity_source"),
    "user_pool": ("type", "user_pool", "identity_source"),
    "lambda": ("type", "function", "response_types", "results_cache_ttl", "identity_source"),
}
RESERVED = ("none", "iam")


@dataclass
class AuthorizerConfig:
    name: str
    address: str
    authorizer_type: str  # JWT | REQUEST
    route_authorization_type: str  # JWT | CUSTOM
    identity_source: tuple[str, ...]
    issuer: Any = None
    audience: tuple[Any, ...] = ()
    function: Function | None = None
    simple_responses: bool = False
    payload_format_version: str | None = None
    ttl: int = 0

    def resources(self, ctx: ExpandContext, api: AuthorizedApi) -> list[Resource]:
        common = {"api_id": Ref(api.api_address, "id"), "name": self.name, "authorizer_type": self.authorizer_type,
                  "identity_source": self.identity_source}
        if self.authorizer_type == "JWT":
            spec = AuthorizerSpec(**common, jwt_configuration={"Issuer": self.issuer, "Audience": list(self.audience)})
        else:
            assert self.function is not None
            spec = AuthorizerSpec(
                **common,
                authorizer_uri=Fmt.of("arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{fn}/invocations",
                                      region=Ref("aws", "region"), fn=self.function.arn(ctx)),
                authorizer_payload_format_version=self.payload_format_version,
                enable_simple_responses=self.simple_responses,
                result_ttl=self.ttl)
        out = [Resource.of(self.address, spec)]
        if self.function is not None:
            address = f"{api.construct_id}/permission/authorizer/{self.name}"
            out.append(Resource.of(address, PermissionSpec(
                function_name=Ref(self.function.function_address, "name"),
                # unique per API: one Function may be the authorizer of several APIs (one policy, one Sid each)
                statement_id=f"sstdirect-authorizer-{slug(self.name)[:60]}-{short_hash(address)}",
                principal="apigateway.amazonaws.com",
                action="lambda:InvokeFunction",
                source_arn=Fmt.of("{arn}/authorizers/{id}", arn=Ref(api.api_address, "execution_arn"),
                                  id=Ref(self.address, "id")),
            )))
        return out


def _identity_source(label: str, value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value or not all(
            isinstance(v, str) and v.startswith(("$request.", "$context.", "$stageVariables.", "route.request."))
            for v in value):
        raise ConfigError(f"{label}: identity_source must be a non-empty list like "
                          f"['$request.header.Authorization']")
    return tuple(value)


def parse_authorizers(api: AuthorizedApi, authorizers: Mapping[str, Any]) -> dict[str, AuthorizerConfig]:
    if not isinstance(authorizers, Mapping):
        raise ConfigError(f"{api.label}: authorizers must be a dict of name → authorizer config, e.g. "
                          f"{{'auth': {{'type': 'lambda', 'function': 'src/auth.main'}}}}, not "
                          f"{type(authorizers).__name__}")
    out: dict[str, AuthorizerConfig] = {}
    default_source = ("$request.header.Authorization",)
    for name, conf in authorizers.items():
        label = f"{api.label} authorizer {name!r}"
        if name in RESERVED:
            raise ConfigError(f"{label}: {name!r} is reserved (it means {'no auth' if name == 'none' else 'AWS_IAM'} "
                              f"on a route); give the authorizer another name")
        if not isinstance(name, str) or not name or len(name) > 128:
            raise ConfigError(f"{label}: an authorizer name must be a non-empty string")
        if not isinstance(conf, Mapping) or not is_one_of(conf.get("type"), AUTHORIZER_OPTIONS):
            got = f"not {conf.get('type')!r}" if isinstance(conf, Mapping) else f"a dict, not {type(conf).__name__}"
            raise ConfigError(f"{label}: needs 'type' of 'user_pool', 'jwt' or 'lambda' ({got}), e.g. "
                              f"{{'type': 'jwt', 'jwt': {{'issuer': 'https://...', 'audience': [...]}}}}")
        kind = conf["type"]
        check_options(label, conf, AUTHORIZER_OPTIONS[kind])
        address = f"{api.construct_id}/authorizer/{name}"
        source = _identity_source(label, conf.get("identity_source"), default_source)
        if kind == "jwt":
            jwt = conf.get("jwt")
            if not isinstance(jwt, Mapping) or not jwt.get("issuer"):
                raise ConfigError(f"{label}: a jwt authorizer needs jwt={{'issuer': 'https://...', "
                                  f"'audience': [...]}}")
            check_options(f"{label} jwt", jwt, ("issuer", "audience"))
            issuer = jwt["issuer"]
            if not (issuer.startswith(("https://", "http://")) if isinstance(issuer, str) else is_text(issuer)):
                raise ConfigError(f"{label}: jwt issuer must be the issuer's URL, e.g. "
                                  f"'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc', not {issuer!r}")
            audience = jwt.get("audience")
            audience = () if audience is None else text_list(label, "jwt audience", audience, "['my-client-id']",
                                                             single=True)
            out[name] = AuthorizerConfig(name, address, "JWT", "JWT", source, issuer=issuer, audience=audience)
        elif kind == "user_pool":
            pool = conf.get("user_pool")
            if not isinstance(pool, Mapping) or not pool.get("id"):
                raise ConfigError(f"{label}: a user_pool authorizer needs user_pool={{'id': ..., "
                                  f"'client_ids': [...]}}")
            check_options(f"{label} user_pool", pool, ("id", "client_ids", "region"))
            if not is_text(pool["id"]):
                raise ConfigError(f"{label}: user_pool id must be a user pool id such as auth.user_pool_id or "
                                  f"'us-east-1_abc123', not {pool['id']!r}")
            if pool.get("region") is not None and not is_text(pool["region"]):
                raise ConfigError(f"{label}: user_pool region must be a region name such as 'us-east-1', "
                                  f"not {pool['region']!r}")
            client_ids = pool.get("client_ids")
            if client_ids is not None:
                client_ids = text_list(label, "user_pool client_ids", client_ids, "[auth.user_pool_client_id]")
            if not client_ids:  # a Cognito construct's user_pool_id: its own client by default
                from .cognito import Cognito

                owner = Cognito.owning(api.app, pool["id"])
                client_ids = [owner.user_pool_client_id] if owner is not None else None
            if not client_ids:
                raise ConfigError(f"{label}: user_pool needs client_ids (the app clients whose tokens "
                                  f"are accepted)")
            region = pool.get("region") or Ref("aws", "region")
            issuer = Fmt.of("https://cognito-idp.{region}.amazonaws.com/{pool}", region=region, pool=pool["id"])
            out[name] = AuthorizerConfig(name, address, "JWT", "JWT", source, issuer=issuer,
                                       audience=tuple(client_ids))
        else:
            response_types = conf.get("response_types", ["iam"])
            if not isinstance(response_types, list | tuple) or list(response_types) not in (["iam"], ["simple"]):
                raise ConfigError(f"{label}: response_types must be ['iam'] or ['simple'], not {response_types!r}")
            simple = list(response_types) == ["simple"]
            ttl = conf.get("results_cache_ttl", 0)
            if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 3600:
                raise ConfigError(f"{label}: results_cache_ttl must be seconds between 0 and 3600")
            if "function" not in conf:
                raise ConfigError(f"{label}: a lambda authorizer needs function= (a handler, props or Function)")
            fn = Function.from_value(api.app, f"{api.construct_id}-authorizer-{slug(name)}", conf["function"],
                                     api.defaults.get("function"), label)
            out[name] = AuthorizerConfig(name, address, "REQUEST", "CUSTOM", source, function=fn,
                                       simple_responses=simple, payload_format_version="2.0" if simple else "1.0",
                                       ttl=ttl)
    return out
