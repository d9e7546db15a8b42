"""The ``@connections`` management API of a served WebSocket API (SEMANTICS.md §6.4), pure given the
open connections: ``POST`` (200, send ``Data``), ``GET`` (200, camelCase JSON), ``DELETE`` (204, close),
``410 GoneException`` for an unknown or closed connection, in the wire form botocore's rest-json parser
reads (``x-amzn-ErrorType`` header), so a boto3 ``apigatewaymanagementapi`` client works unchanged.

Requests must be SigV4-signed (signing name ``execute-api``), checked by the same verifier as ``AWS_IAM``
routes (:meth:`.auth.Authorizers.principal`): the caller's key pair must be one the embedded AWS hands out
(``LocalCloud.credentials``, which handlers' boto3 uses inside workers, IAM users', STS sessions',
Cognito identity pools') and its own policies must allow ``execute-api:ManageConnections`` on
``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/@connections/{id}``. A refusal is 403 with
the error type AWS's SigV4 front sends (``MissingAuthenticationTokenException``,
``UnrecognizedClientException``, ``InvalidSignatureException``, ...; ``ForbiddenException`` when a policy
denies), which botocore reports as ``ClientError`` with that code.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote

from .auth import Authorizers
from .auth_iam import IamDenied
from .events import new_request_id
from .messages import HttpRequest, HttpResponse
from .websocket import CLOSE_NORMAL, MAX_POST_BYTES, Connection, WsApiConfig

MANAGE_CONNECTIONS = "execute-api:ManageConnections"
# what AWS answers for each SigV4 refusal (the message of a policy denial is the reason itself)
_SIGV4_MESSAGES = {
    "MissingAuthenticationTokenException": "Missing Authentication Token",
    "IncompleteSignatureException": "Authorization header requires 'Credential', 'Signature', 'SignedHeaders' "
                                    "and 'X-Amz-Date' (or the X-Amz-* query parameters).",
    "UnrecognizedClientException": "The security token included in the request is invalid.",
    "InvalidSignatureException": "The request signature we calculated does not match the signature you provided. "
                                 "Check your AWS Secret Access Key and signing method. Consult the service "
                                 "documentation for details.",
}

_log = logging.getLogger("sstdirect.local.gateway")


class Peer(Protocol):
    """An open client connection as the management API needs it (the server's connection object)."""

    info: Connection

    @property
    def is_open(self) -> bool: ...

    def send(self, data: bytes) -> bool:
        """Queue ``data`` to the client; False when its unsent buffer is full."""
        ...

    def close(self, code: int, reason: str) -> None: ...


def iso8601(epoch_ms: int) -> str:
    """``2024-01-20T11:54:57.419Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms / 1000)) + f".{epoch_ms % 1000:03d}Z"


def aws_error(status: int, code: str, message: str | None, request_id: str) -> HttpResponse:
    """An error botocore parses: the code in ``x-amzn-ErrorType``, the body ``{"message": ...}``."""
    body = json.dumps({"message": message}).encode() if message is not None else b"{}"
    return HttpResponse(status, [("content-type", "application/json"), ("x-amzn-ErrorType", code),
                                 ("x-amzn-RequestId", request_id)], body)


def gone(request_id: str) -> HttpResponse:
    """410, as AWS sends it: the error type header and no message (§6.4)."""
    return aws_error(410, "GoneException", None, request_id)


@dataclass(frozen=True)
class Target:
    """A parsed ``/{stage}/@connections/{id}`` path."""

    stage: str
    connection_id: str


def parse_path(raw_path: str) -> Target | None:
    """``/{stage}/@connections/{id}`` (either part may be percent-encoded, ``%40connections``) → Target."""
    parts = raw_path.split("/")
    if len(parts) != 4 or parts[0] != "" or unquote(parts[2]) != "@connections" or not parts[3]:
        return None
    return Target(unquote(parts[1]), unquote(parts[3]))


def is_management_path(raw_path: str) -> bool:
    """Whether a request path addresses ``@connections`` at all (the server routes it here)."""
    return "/@connections" in unquote(raw_path)


def connection_arn(config: WsApiConfig, method: str, connection_id: str) -> str:
    """The resource ``execute-api:ManageConnections`` is checked on."""
    return (f"arn:aws:execute-api:{config.region}:{config.account_id}:{config.api_id}/{config.stage}/{method}/"
            f"@connections/{connection_id}")


def refusal(request: HttpRequest, config: WsApiConfig, target: Target, auth: Authorizers,
            request_id: str) -> HttpResponse | None:
    """The 403 of a request that is not signed by a principal allowed to manage the connection, else None."""
    try:
        auth.principal(request, config.region, connection_arn(config, request.method, target.connection_id),
                       MANAGE_CONNECTIONS)
    except IamDenied as denied:
        _log.info("@connections %s %s refused: %s", request.method, request.raw_path, denied)
        return aws_error(403, denied.code, _SIGV4_MESSAGES.get(denied.code, str(denied)), request_id)
    return None


def handle(request: HttpRequest, config: WsApiConfig, find: dict[str, Peer], auth: Authorizers) -> HttpResponse:
    """Answer one management request; ``find`` maps connection ids to the open connections, ``auth``
    verifies its SigV4 signature."""
    request_id = new_request_id()
    target = parse_path(request.raw_path)
    if target is None or target.stage != config.stage or request.method not in ("POST", "GET", "DELETE"):
        # the real answer to a wrong stage or path (§6.4); the status is undocumented (INFERRED 403)
        route = request.raw_path.lstrip("/")
        return aws_error(403, "ForbiddenException",
                         f"No method found matching route {unquote(route)} for http method {request.method}.",
                         request_id)
    refused = refusal(request, config, target, auth, request_id)
    if refused is not None:
        return refused
    peer = find.get(target.connection_id)
    if peer is None or not peer.is_open:
        return gone(request_id)
    if request.method == "POST":
        if len(request.body) > MAX_POST_BYTES:
            return aws_error(413, "PayloadTooLargeException", "Request Entity Too Large", request_id)
        if not peer.send(request.body):
            return aws_error(429, "LimitExceededException", "Rate exceeded or the WebSocket client side buffer "
                             "is full", request_id)
        peer.info.last_active_ms = int(time.time() * 1000)
        return HttpResponse(200, [("content-type", "application/json"), ("x-amzn-RequestId", request_id)], b"")
    if request.method == "GET":
        info = peer.info
        body = {"connectedAt": iso8601(info.connected_at_ms),
                "identity": {"sourceIp": info.source_ip, "userAgent": info.user_agent or ""},
                "lastActiveAt": iso8601(info.last_active_ms)}
        return HttpResponse(200, [("content-type", "application/json"), ("x-amzn-RequestId", request_id)],
                            json.dumps(body).encode())
    peer.close(CLOSE_NORMAL, "")
    return HttpResponse(204, [("x-amzn-RequestId", request_id)], b"")
