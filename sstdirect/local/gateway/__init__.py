"""The local gateway: serves deployed HTTP APIs with API Gateway's semantics and AppSync APIs with AppSync's.

A pure core (no I/O, unit-tested without sockets) shared by the real server and in-process callers:

* :mod:`.routing` - compile deployed route keys, pick the route for a request (SEMANTICS.md §2).
* :mod:`.events` - an HTTP request → a Lambda proxy event, payload 2.0 or 1.0 (§1.1, §1.2, §1.5).
* :mod:`.responses` - a Lambda result → an HTTP response (§1.4, §1.5) and the gateway's own errors (§8).
* :mod:`.cors` - preflight answers and CORS headers on responses (§5).
* :mod:`.pipeline` - :class:`HttpGateway`: one deployed API's request pipeline, given an ``invoke`` callable.

AppSync (SEMANTICS.md §7), pure as well: :mod:`.appsync` (:class:`AppSyncGateway`: ``POST /graphql``
executed with graphql-core, direct Lambda and mapping-template resolvers), :mod:`.vtl` (Velocity
templates with ``$util`` / ``$ctx``), :mod:`.appsync_auth` (API key, Cognito, OIDC, Lambda modes).

With I/O: :mod:`.config` and :mod:`.appsync_config` read the deployed configuration from the embedded
AWS, :mod:`.workers` runs handlers in warm worker processes, :mod:`.server` (and :mod:`.appsync_server`)
put it all on ``ThreadingHTTPServer``\\ s.

WebSocket APIs, and JWT / IAM / Lambda authorizer checks on HTTP APIs, come next (see :mod:`.pipeline`
for what an authorized route answers meanwhile).
"""

from __future__ import annotations

from .messages import HttpRequest, HttpResponse

__all__ = ["HttpRequest", "HttpResponse"]
