"""CORS for HTTP APIs with a ``CorsConfiguration`` (SEMANTICS.md §5), pure.

* A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered by
  the gateway with 204 and no body, once its route's authorizer (if any) let it through (the pipeline
  routes it first, §5); the CORS headers are added only when the origin, the method and the requested
  headers are all allowed (else the browser blocks it). The status is undocumented: 204 is the
  recommended default (INFERRED, as ministack).
* On every other response, CORS headers from the backend are removed; when the request's ``Origin``
  is allowed, ``Access-Control-Allow-Origin`` (``*`` for ``["*"]``, else the origin echoed),
  ``-Expose-Headers`` and ``-Allow-Credentials`` are added.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .messages import HttpRequest, HttpResponse


def is_preflight(request: HttpRequest) -> bool:
    return (request.method == "OPTIONS" and request.header("origin") is not None
            and request.header("access-control-request-method") is not None)


def origin_allowed(cors: Mapping[str, Any], origin: str) -> bool:
    for allowed in cors.get("AllowOrigins") or []:
        if allowed == "*":
            return True
        if allowed in ("https://*", "http://*"):
            if origin.lower().startswith(allowed[:-1]):
                return True
        elif allowed.lower() == origin.lower():
            return True
    return False


def _allow_origin(cors: Mapping[str, Any], origin: str) -> str:
    return "*" if list(cors.get("AllowOrigins") or []) == ["*"] else origin


def preflight(cors: Mapping[str, Any], request: HttpRequest, request_id: str = "") -> HttpResponse:
    """The gateway's answer to a preflight (call only when :func:`is_preflight`)."""
    response = HttpResponse(204, [("apigw-requestid", request_id)] if request_id else [])
    origin = request.header("origin") or ""
    method = (request.header("access-control-request-method") or "").strip().upper()
    wanted = [h.strip().lower() for h in (request.header("access-control-request-headers") or "").split(",")
              if h.strip()]
    methods = [m.upper() for m in cors.get("AllowMethods") or []]
    allow_headers = [h.lower() for h in cors.get("AllowHeaders") or []]
    # "if you don't specify AllowMethods and AllowHeaders to be either values or *, you can't match"
    if not methods or not origin_allowed(cors, origin):
        return response
    if "*" not in methods and method not in methods:
        return response
    if wanted and "*" not in allow_headers and not all(h in allow_headers for h in wanted):
        return response
    headers = [
        ("access-control-allow-origin", _allow_origin(cors, origin)),
        ("access-control-allow-methods", ",".join(cors.get("AllowMethods") or [])),
        ("access-control-allow-headers", ",".join(cors.get("AllowHeaders") or [])),
    ]
    if cors.get("MaxAge") is not None:
        headers.append(("access-control-max-age", str(cors["MaxAge"])))
    if cors.get("AllowCredentials"):
        headers.append(("access-control-allow-credentials", "true"))
    response.headers = headers + response.headers
    return response


def apply(cors: Mapping[str, Any], request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Strip the backend's CORS headers; add the configured ones when the origin is allowed."""
    response.without(lambda name: name.startswith("access-control-"))
    origin = request.header("origin")
    if origin is None or not origin_allowed(cors, origin):
        return response
    response.headers.append(("access-control-allow-origin", _allow_origin(cors, origin)))
    if cors.get("ExposeHeaders"):
        response.headers.append(("access-control-expose-headers", ",".join(cors["ExposeHeaders"])))
    if cors.get("AllowCredentials"):
        response.headers.append(("access-control-allow-credentials", "true"))
    return response
