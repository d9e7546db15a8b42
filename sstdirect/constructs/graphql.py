"""``GraphQLApi``: an HTTP ``Api`` that serves one GraphQL server function, as SST v2's construct.

``GET {root_path}`` and ``POST {root_path}`` (no ``ANY``, so a CORS preflight is never behind an
authorizer) share **one** function and **one** integration (``{id}/integration/server``); each
route has its own route and invoke permission. Everything else (authorizers, defaults, CORS,
access logs, custom domains, outputs) is :class:`~sstdirect.constructs.api.Api`'s.
:func:`sstdirect.graphql.make_handler` turns a graphql-core schema into such a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .api import Api
from .base import check_options
from .function import Function
from .routes import parse_route_key

if TYPE_CHECKING:
    from .base import ConstructHost

GRAPHQL_OPTIONS = ("server", "root_path", "authorizers", "defaults", "cors", "access_log", "custom_domain")
SERVER_INTEGRATION = "server"


class GraphQLApi(Api):
    """A GraphQL server on an HTTP API. See API.md's "GraphQLApi" section."""

    kind = "GraphQLApi"

    def __init__(
        self,
        app: ConstructHost,
        id: str,
        server: Any = None,
        root_path: str = "/",
        authorizers: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        cors: Any = True,
        access_log: Any = True,
        custom_domain: Any = None,
        **unknown: Any,
    ):
        label = f"{self.kind} {id!r}"
        if "routes" in unknown:
            raise ConfigError(f"{label}: routes= cannot be used: a GraphQLApi has exactly the routes "
                              f"GET and POST {root_path!r}, served by server= (use an Api for other routes)")
        check_options(label, unknown, GRAPHQL_OPTIONS)
        if server is None:
            raise ConfigError(f"{label}: server is required: the GraphQL handler, e.g. server='src/graphql.handler'")
        if not isinstance(root_path, str) or not root_path.startswith("/") or "{" in root_path or "}" in root_path:
            raise ConfigError(f"{label}: root_path must be a path such as '/' or '/graphql', not {root_path!r}")
        self._sealed = False
        super().__init__(app, id, authorizers=authorizers, defaults=defaults, cors=cors, access_log=access_log,
                         custom_domain=custom_domain)
        path = parse_route_key(self.label, f"GET {root_path}").path
        self.root_path = path
        self.server_function: Function = Function.from_value(
            app, f"{self.construct_id}-server", server, self.defaults.get("function"), f"{self.label} server")
        super().add_routes({f"GET {path}": self.server_function, f"POST {path}": self.server_function})
        self._sealed = True

    def add_routes(self, routes: Mapping[str, Any]) -> None:
        if getattr(self, "_sealed", True) and routes:
            raise ConfigError(f"{self.label}: a GraphQLApi has exactly the routes GET and POST "
                              f"{self.root_path!r}; use an Api for other routes")
        super().add_routes(routes)

    def _integration_suffix(self, route_key: str) -> str:
        return SERVER_INTEGRATION

    def _functions(self) -> list[Function]:
        return list({id(f): f for f in super()._functions()}.values())
