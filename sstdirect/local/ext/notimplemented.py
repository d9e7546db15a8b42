"""Server mode: an operation the embedded AWS does not implement answers HTTP 501, never 500.

moto's server answers an operation it has a URL for but no handler with a ``NotImplementedError``
(an HTML 500 page, which botocore retries for seconds), and an operation whose URL it does not
know with an HTML 404 (which a caller could mistake for "resource not found"). Both become:

* HTTP **501**, header ``x-amzn-ErrorType: NotImplemented``, and an error body in the service's
  protocol - JSON ``{"__type": "NotImplemented", "message": ...}`` for JSON and REST-JSON services,
  ``<ErrorResponse><Error><Code>NotImplemented</Code>...`` for query and REST-XML services - so
  botocore raises a ``ClientError`` with code ``NotImplemented`` and the message
  ``"sstdirect LocalCloud: <service>.<Operation> is not implemented by the embedded AWS"``.
  botocore retries neither 501 nor that code, in legacy or standard mode.

A 404 is rewritten only when Flask found no route *and* the request names a botocore operation;
any other 404 is left alone. The hook is a Flask error handler registered on every per-service app
the server builds (:func:`create_backend_app` wraps moto's factory of the same name).
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from flask import Flask, Response

ERROR_CODE = "NotImplemented"
STATUS = 501

_log = logging.getLogger("sstdirect.local")

# The botocore services a moto backend app (or a SigV4 signing name) may serve, when they differ.
_EXTRA_SERVICES: dict[str, tuple[str, ...]] = {"apigateway": ("apigatewayv2",)}
_MOTO_MESSAGE = re.compile(r"The (\w+) action has not been implemented")


def message(service: str, operation: str) -> str:
    """The error message for an unimplemented ``service.Operation``."""
    return f"sstdirect LocalCloud: {service}.{operation} is not implemented by the embedded AWS"


def create_backend_app(service: str) -> Flask:
    """moto's ``create_backend_app`` plus the 501 error handlers (a drop-in replacement)."""
    from moto.moto_server.werkzeug_app import create_backend_app as moto_create_backend_app

    app = moto_create_backend_app(service)  # type: ignore[arg-type]

    def on_not_implemented(exc: NotImplementedError) -> Response:
        return _not_implemented(service, exc)

    def on_not_found(exc: Exception) -> Any:
        from flask import request

        if request.url_rule is not None:  # a handler raised it: not ours to rewrite
            return exc
        identified = _identify_operation(service)
        return exc if identified is None else _answer(*identified)

    app.register_error_handler(NotImplementedError, on_not_implemented)
    app.register_error_handler(404, on_not_found)
    return app


def _not_implemented(backend: str, exc: NotImplementedError) -> Response:
    identified = _identify_operation(backend)
    if identified is None:
        action = _MOTO_MESSAGE.search(str(exc))
        operation = "".join(p.title() for p in action.group(1).split("_")) if action else "<unknown>"
        identified = (backend, operation)
    return _answer(*identified)


def _candidate_services(backend: str, authorization: str) -> list[str]:
    names: list[str] = []
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", authorization)
    for name in ([scope.group(1)] if scope else []) + [backend]:
        for candidate in (name, *_EXTRA_SERVICES.get(name, ())):
            if candidate not in names:
                names.append(candidate)
    return names


def _identify_operation(backend: str) -> tuple[str, str] | None:
    """(botocore service name, operation name) the current request addresses, if any."""
    from flask import request
    from moto.core.request import normalize_request
    from moto.core.routing import get_service_router

    moto_request = normalize_request(request)  # type: ignore[arg-type]
    for service in _candidate_services(backend, request.headers.get("Authorization", "")):
        try:
            operation, _ = get_service_router(service).match(moto_request)
        except Exception:  # unknown service or no matching operation
            continue
        return service, operation.name
    return None


def _protocol(service: str) -> str:
    try:
        from moto.core.utils import get_service_model

        return str(get_service_model(service).protocol)
    except Exception:
        return "json"


def _answer(service: str, operation: str) -> Response:
    from flask import Response

    text = message(service, operation)
    _log.warning("%s", text)
    headers = {"x-amzn-ErrorType": ERROR_CODE}
    if _protocol(service) in ("query", "ec2", "rest-xml"):
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{ERROR_CODE}</Code><Message>{escape(text)}</Message></Error>"
            "<RequestId>sstdirect-local</RequestId></ErrorResponse>"
        )
        return Response(body, status=STATUS, headers=headers, content_type="text/xml")
    body = json.dumps({"__type": ERROR_CODE, "message": text, "Message": text})
    return Response(body, status=STATUS, headers=headers, content_type="application/json")
