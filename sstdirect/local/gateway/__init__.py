"""The local gateway: serves deployed HTTP and WebSocket APIs with API Gateway's semantics and AppSync
APIs with AppSync's, on loopback.

A pure core (no I/O, unit-tested without sockets) shared by the real server and in-process callers:

* :mod:`.routing` - compile deployed route keys, pick the route for a request (SEMANTICS.md §2).
* :mod:`.events` - an HTTP request → a Lambda proxy event, payload 2.0 or 1.0 (§1.1, §1.2, §1.5).
* :mod:`.responses` - a Lambda result → an HTTP response (§1.4, §1.5) and the gateway's own errors (§8).
* :mod:`.cors` - preflight answers and CORS headers on responses (§5).
* :mod:`.pipeline` - :class:`HttpGateway`: one deployed API's request pipeline, given an ``invoke`` callable.
* :mod:`.auth` - a route's authorizer before the integration: :mod:`.auth_jwt` (JWT signatures against the
  issuer's JWKS through OIDC discovery, §3), :mod:`.auth_iam` (SigV4 with botocore's signer, §4) and
  :mod:`.auth_lambda` (Lambda authorizer events, simple and IAM-policy answers, the TTL cache).
* :mod:`.websocket` - a WebSocket API (§6): route selection, events, ``$connect`` results, limits, and
  :class:`WsGateway`, its pipeline, whose ``$connect`` authorizer (Lambda REQUEST or IAM) is checked by
  :mod:`.auth` as HTTP routes' are; :mod:`.connections` - its ``@connections`` API (§6.4), SigV4-verified
  by the same :mod:`.auth_iam`.

AppSync (SEMANTICS.md §7), pure as well: :mod:`.appsync` (:class:`AppSyncGateway`: ``POST /graphql``
executed with graphql-core, direct Lambda and mapping-template resolvers), :mod:`.vtl` (Velocity
templates with ``$util`` / ``$ctx``), :mod:`.appsync_auth` (API key, Cognito, OIDC, IAM, Lambda modes, on
the HTTP APIs' :mod:`.auth_jwt` / :mod:`.auth_iam` verifiers).

:mod:`.deployed` holds what they serve (routes, integrations, authorizers; the ``Invoke`` callable's types),
:mod:`.contract` what the gateway needs from outside: the embedded AWS and the app, as protocols passed in
(``LocalCloud.serve(app)``), so the gateway imports neither.

With I/O: :mod:`.config` and :mod:`.appsync_config` read the deployed configuration (routes, integrations,
authorizers, CORS, stage; AppSync schema, resolvers, data sources) from the embedded AWS, :mod:`.workers`
runs handlers (and Lambda authorizers) in warm worker processes, :mod:`.server` (and
:mod:`.appsync_server`, which wires AppSync APIs) put HTTP and AppSync APIs on :mod:`.http11`'s servers (h11
framing) and WebSocket APIs on
:mod:`.ws_server`'s event loop. JWKS documents are fetched over HTTP(S); the embedded AWS's Cognito issuers
are resolved to its own JWKS, and SigV4 is checked against the key pairs the embedded AWS hands out (its
own, Cognito identity pools', IAM users', STS sessions').
"""

from __future__ import annotations

from .messages import HttpRequest, HttpResponse

__all__ = ["HttpRequest", "HttpResponse"]
