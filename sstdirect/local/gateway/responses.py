"""A Lambda result → the HTTP response an HTTP API sends (SEMANTICS.md §1.4, §1.5), and the gateway's
own error responses (§2, §8), pure.

Every response the gateway makes carries an ``apigw-requestid`` header (§2.2); its own error bodies
are compact JSON with ``content-type: application/json``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from .messages import HttpResponse

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # "Payload size 10 MB" (§8)
MAX_LAMBDA_PAYLOAD = 6 * 1024 * 1024  # Lambda's synchronous request/response limit (§8)


def gateway_error(status: int, message: str, request_id: str = "") -> HttpResponse:
    """``{"message": ...}`` as API Gateway writes it (compact JSON)."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    headers = [("content-type", "application/json")]
    if request_id:
        headers.append(("apigw-requestid", request_id))
    return HttpResponse(status, headers, body)


def not_found(request_id: str = "") -> HttpResponse:
    return gateway_error(404, "Not Found", request_id)


def internal_error(request_id: str = "") -> HttpResponse:
    """Lambda error, function timeout, crash or invalid proxy response: 500 for HTTP APIs (§8)."""
    return gateway_error(500, "Internal Server Error", request_id)


def service_unavailable(request_id: str = "") -> HttpResponse:
    """The integration timed out (30 s for HTTP APIs): 503 (§8)."""
    return gateway_error(503, "Service Unavailable", request_id)


def too_large(request_id: str = "") -> HttpResponse:
    """Request body over 10 MB, or an event over Lambda's 6 MB: 413 (INFERRED message, §8)."""
    return gateway_error(413, "Request Entity Too Large", request_id)


class InvalidResponse(ValueError):
    """The Lambda result is not a valid proxy response (→ 500)."""


def _status(value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidResponse("statusCode must be an integer")
    if isinstance(value, str) and value.strip().isdigit():  # lenient, as Lambda runtimes are (INFERRED)
        value = int(value)
    if not isinstance(value, int) or not 100 <= value <= 599:
        raise InvalidResponse(f"statusCode {value!r} is not an HTTP status")
    return value


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidResponse(f"header {name!r} has a {type(value).__name__} value")


def _body_bytes(body: Any, b64: Any) -> bytes:
    if body is None:
        return b""
    if not isinstance(body, str):
        raise InvalidResponse(f"body must be a string, not {type(body).__name__}")
    if b64 is True:  # decoded only when isBase64Encoded is true (§1.4)
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidResponse("isBase64Encoded is true but body is not base64") from exc
    return body.encode("utf-8")


def _headers(result: dict[str, Any]) -> list[tuple[str, str]]:
    headers = result.get("headers") or {}
    if not isinstance(headers, dict):
        raise InvalidResponse("headers must be an object")
    return [(str(k), _scalar(k, v)) for k, v in headers.items()]


def response_v2(result: Any, request_id: str = "") -> HttpResponse:
    """Interpret a payload-2.0 result (already JSON-decoded). Raises :class:`InvalidResponse`.

    A dict with ``statusCode`` is the full form; anything else is "inferred": 200,
    ``application/json``, body = the JSON text (a string is sent unquoted). ``cookies`` become one
    ``Set-Cookie`` each (before any ``Set-Cookie`` in ``headers``), unknown keys are ignored.
    """
    if not isinstance(result, dict) or "statusCode" not in result:
        body = result if isinstance(result, str) else json.dumps(result)
        return _with_id(HttpResponse(200, [("content-type", "application/json")], body.encode()), request_id)
    status = _status(result["statusCode"])
    headers = _headers(result)
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise InvalidResponse("cookies must be a list of strings")
    headers = [("set-cookie", c) for c in cookies] + headers
    body = _body_bytes(result.get("body"), result.get("isBase64Encoded"))
    return _with_id(HttpResponse(status, headers, body), request_id)


def response_v1(result: Any, request_id: str = "") -> HttpResponse:
    """Interpret a payload-1.0 result: it must be the full form with ``statusCode`` (§1.5).
    ``multiValueHeaders`` values are sent as repeated headers, after ``headers`` for other names."""
    if not isinstance(result, dict) or "statusCode" not in result:
        raise InvalidResponse("a payload 1.0 response needs statusCode")
    status = _status(result["statusCode"])
    headers = _headers(result)
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(multi, dict):
        raise InvalidResponse("multiValueHeaders must be an object")
    for name, values in multi.items():
        if not isinstance(values, list):
            raise InvalidResponse(f"multiValueHeaders[{name!r}] must be a list")
        headers = [(k, v) for k, v in headers if k.lower() != str(name).lower()]
        headers += [(str(name), _scalar(name, v)) for v in values]
    body = _body_bytes(result.get("body"), result.get("isBase64Encoded"))
    return _with_id(HttpResponse(status, headers, body), request_id)


def _with_id(response: HttpResponse, request_id: str) -> HttpResponse:
    if request_id:
        response.headers.append(("apigw-requestid", request_id))
    return response
