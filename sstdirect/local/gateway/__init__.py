"""The local gateway: serves deployed HTTP APIs on loopback with API Gateway's semantics.

A pure core (no I/O, unit-tested without sockets) shared by the real server and in-process callers:

* :mod:`.routing` - compile deployed route keys, pick the route for a request (SEMANTICS.md §2).
* :mod:`.events` - an HTTP request → a Lambda proxy event, payload 2.0 or 1.0 (§1.1, §1.2, §1.5).
* :mod:`.responses` - a Lambda result → an HTTP response (§1.4, §1.5) and the gateway's own errors (§8).
* :mod:`.cors` - preflight answers and CORS headers on responses (§5).
* :mod:`.pipeline` - :class:`HttpGateway`: one deployed API's request pipeline, given an ``invoke`` callable.

With I/O: :mod:`.config` reads the deployed configuration from the embedded AWS, :mod:`.workers`
runs handlers in warm worker processes, :mod:`.server` puts it all on ``ThreadingHTTPServer``\\ s.

This first slice serves HTTP APIs only; WebSocket and AppSync APIs, and JWT / IAM / Lambda
authorizer checks, come next (see :mod:`.pipeline` for what an authorized route answers meanwhile).
"""

from __future__ import annotations

from .messages import HttpRequest, HttpResponse

__all__ = ["HttpRequest", "HttpResponse"]
