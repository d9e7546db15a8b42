"""Small helpers for extending moto in its own style (imported only by ``install()``).

moto has no plugin API. An extension is a model method, a response-class method and, for an
operation whose URL moto does not know, a URL line. These helpers do the URL line; see
/work/shared/MOTO.md for why each hook works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def add_apigateway_url_paths(paths: dict[str, Callable[..., Any]]) -> None:
    """Route extra API Gateway v2 URL patterns (``{0}`` is moto's url base).

    API GW v1 and v2 share a host, so v2 requests are routed by the *v1* backend's
    ``url_paths`` (``moto.apigateway.urls`` copies v2's dict at import). The paths also go into
    v2's own dict so both stay consistent. In-process mocking re-reads the dict on every request;
    the server reads it once, when its Flask app for ``apigateway`` is built, so this must run
    before a server's first API Gateway request.
    """
    from moto.apigateway import urls as v1_urls
    from moto.apigatewayv2 import urls as v2_urls

    for url_paths in (v1_urls.url_paths, v2_urls.url_paths):
        for pattern, handler in paths.items():
            url_paths.setdefault(pattern, handler)
