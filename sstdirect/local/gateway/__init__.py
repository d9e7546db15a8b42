"""The local gateway: serves deployed HTTP and WebSocket APIs on loopback with API Gateway's semantics.

A pure core (no I/O, unit-tested without sockets) shared by the real server and in-process callers:

* :mod:`.routing` - compile deployed route keys, pick the route for a request (SEMANTICS.md §2).
* :mod:`.events` - an HTTP request → a Lambda proxy event, payload 2.0 or 1.0 (§1.1, §1.2, §1.5).
* :mod:`.responses` - a Lambda result → an HTTP response (§1.4, §1.5) and the gateway's own errors (§8).
* :mod:`.cors` - preflight answers and CORS headers on responses (§5).
* :mod:`.pipeline` - :class:`HttpGateway`: one deployed API's request pipeline, given an ``invoke`` callable.
* :mod:`.websocket` - a WebSocket API (§6): route selection, events, ``$connect`` results, limits, and
  :class:`WsGateway`, its pipeline; :mod:`.connections` - its ``@connections`` API (§6.4).

With I/O: :mod:`.config` reads the deployed configuration from the embedded AWS, :mod:`.workers`
runs handlers in warm worker processes, :mod:`.server` puts HTTP APIs on ``ThreadingHTTPServer``\\ s and
WebSocket APIs on :mod:`.ws_server`'s event loop.

AppSync APIs, and JWT / IAM / Lambda authorizer checks, come next (see :mod:`.pipeline` for what an
authorized route answers meanwhile, and :func:`.websocket.unverified` for ``$connect``).
"""

from __future__ import annotations

from .messages import HttpRequest, HttpResponse

__all__ = ["HttpRequest", "HttpResponse"]
