"""An HTTP request → the Lambda proxy event an HTTP API sends (SEMANTICS.md §1), pure.

``Context`` carries what the gateway knows beyond the request (API id, region, account, stage,
the matched route, request id and time); :func:`event_v2` and :func:`event_v1` build the event.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from .messages import HttpRequest
from .routing import Match

# §11 (verified against AWS by an emulator's maintainers, ministack PR #766): which request bodies reach
# Lambda as text: text/*, application/json, application/xml, application/javascript. Everything else
# (``*+json``, application/graphql, form data, no content-type) is base64. §1.2's older recommended
# default also treated +json and graphql as text; §11's recorded fact wins.
_TEXT_TYPES = ("application/json", "application/xml", "application/javascript")

# Hop-by-hop headers are the connection's, not the request's: API Gateway's own front end consumes
# them (INFERRED: the real captures never show them).
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer",
                         "transfer-encoding", "upgrade"})

# §11: payload 1.0 keeps the client's header names as sent, but the headers API Gateway itself sets are
# Title-Case in every real capture (``Host``, ``User-Agent``, ``Content-Length``, ``X-Amzn-Trace-Id``,
# ``X-Forwarded-*``); payload 2.0 lower-cases every name.
_GATEWAY_NAMES = {n.lower(): n for n in ("Content-Length", "Host", "User-Agent", "X-Amzn-Trace-Id",
                                          "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto")}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def new_request_id() -> str:
    """A 16-character base64-like id like the real ``"ZhMpgigvDoEEPlg="`` (§1.2)."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode()


def new_trace_id(epoch_s: float) -> str:
    return f"Root=1-{int(epoch_s):08x}-{os.urandom(12).hex()}"


def clf_time(epoch_ms: int) -> str:
    """``21/Apr/2020:15:08:21 +0000`` (CLF, UTC)."""
    t = time.gmtime(epoch_ms / 1000)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


@dataclass
class Context:
    """What the event needs besides the request."""

    api_id: str
    region: str = "us-east-1"
    account_id: str = "123456789012"
    stage: str = "$default"
    match: Match | None = None
    request_id: str = field(default_factory=new_request_id)
    epoch_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    stage_variables: dict[str, str] = field(default_factory=dict)
    # what the route's authorizer let through (see .auth.Verdict): requestContext.authorizer in 2.0
    # and 1.0, and the 1.0 requestContext.identity fields of an IAM caller
    authorizer: dict[str, Any] | None = None
    authorizer_v1: dict[str, Any] | None = None
    identity: dict[str, Any] = field(default_factory=dict)

    @property
    def domain_name(self) -> str:
        return f"{self.api_id}.execute-api.{self.region}.amazonaws.com"

    @property
    def route_key(self) -> str:
        return self.match.route_key if self.match else "$default"

    @property
    def path_parameters(self) -> dict[str, str]:
        return dict(self.match.path_parameters) if self.match else {}


def is_text(content_type: str | None) -> bool:
    """Whether a request body of this content type reaches Lambda as text (§11)."""
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime.startswith("text/") or mime in _TEXT_TYPES


def _body(request: HttpRequest) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    if is_text(request.header("content-type")):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass  # not valid UTF-8 text after all: send it as base64 (INFERRED)
    return base64.b64encode(request.body).decode("ascii"), True


def gateway_headers(request: HttpRequest, ctx: Context) -> list[tuple[str, str]]:
    """The request's headers as API Gateway forwards them in payload 1.0: the client's names as sent, the
    ones the gateway sets in Title-Case (§11), hop-by-hop dropped, ``Host`` set to the execute-api host,
    and the ``X-Forwarded-*`` / ``X-Amzn-Trace-Id`` it adds. Payload 2.0 lower-cases them all."""
    out: list[tuple[str, str]] = []
    forwarded_for = None
    for name, value in request.headers:
        lower = name.lower()
        if lower in _HOP_BY_HOP or lower in ("host", "x-forwarded-port", "x-forwarded-proto"):
            continue
        if lower == "x-forwarded-for":
            forwarded_for = value if forwarded_for is None else f"{forwarded_for}, {value}"
            continue
        out.append((_GATEWAY_NAMES.get(lower, name), value))
    if not any(n == "Content-Length" for n, _ in out):  # the real GET captures have content-length 0
        out.append(("Content-Length", str(len(request.body))))
    out.append(("Host", ctx.domain_name))
    if not any(n == "X-Amzn-Trace-Id" for n, _ in out):
        out.append(("X-Amzn-Trace-Id", new_trace_id(ctx.epoch_ms / 1000)))
    chain = f"{forwarded_for}, {request.source_ip}" if forwarded_for else request.source_ip
    out += [("X-Forwarded-For", chain), ("X-Forwarded-Port", "443"), ("X-Forwarded-Proto", "https")]
    return out


def event_path(request: HttpRequest, ctx: Context) -> str:
    """2.0 ``rawPath`` / ``requestContext.http.path`` and 1.0 ``path``: URL-decoded, as HTTP APIs deliver
    them (§11; e.g. ``/a%2Fb`` arrives as ``/a/b``), with the stage segment on a named stage (§1.2)."""
    path = unquote(request.raw_path)
    return path if ctx.stage == "$default" else f"/{ctx.stage}{path}"


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in pairs:
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name, []).append(value)
    return out


def query_pairs(raw_query: str) -> list[tuple[str, str]]:
    """Decoded ``(name, value)`` pairs; ``+`` decodes to a space (INFERRED, as form decoding does)."""
    return parse_qsl(raw_query, keep_blank_values=True)


def event_v2(request: HttpRequest, ctx: Context) -> dict[str, Any]:
    """The payload format 2.0 event (§1.1, §1.2): optional keys are left out, never ``null``."""
    headers = [(n.lower(), v) for n, v in gateway_headers(request, ctx)]
    cookies = [c.strip() for n, v in headers if n == "cookie" for c in v.split(";") if c.strip()]
    headers = [(n, v) for n, v in headers if n != "cookie"]
    raw_path = event_path(request, ctx)
    user_agent = next((v for n, v in headers if n == "user-agent"), "")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": ctx.route_key,
        "rawPath": raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = _joined(headers)
    query = query_pairs(request.raw_query)
    if query:
        event["queryStringParameters"] = _joined(query)
    event["requestContext"] = {
        "accountId": ctx.account_id,
        "apiId": ctx.api_id,
        **({"authorizer": ctx.authorizer} if ctx.authorizer is not None else {}),
        "domainName": ctx.domain_name,
        "domainPrefix": ctx.api_id,
        "http": {"method": request.method, "path": raw_path, "protocol": request.protocol,
                 "sourceIp": request.source_ip, "userAgent": user_agent},
        "requestId": ctx.request_id,
        "routeKey": ctx.route_key,
        "stage": ctx.stage,
        "time": clf_time(ctx.epoch_ms),
        "timeEpoch": ctx.epoch_ms,
    }
    body, b64 = _body(request)
    if body is not None:
        event["body"] = body
    if ctx.path_parameters:
        event["pathParameters"] = ctx.path_parameters
    if ctx.stage_variables:
        event["stageVariables"] = dict(ctx.stage_variables)
    event["isBase64Encoded"] = b64
    return event


def event_v1(request: HttpRequest, ctx: Context) -> dict[str, Any]:
    """The payload format 1.0 event of an HTTP API (§1.5): ``headers`` / ``queryStringParameters``
    keep the **last** value of a repeated name, ``multiValue*`` keep all; empty ``pathParameters``,
    ``stageVariables``, query maps and ``body`` are ``null``. Header names are as the client sent them,
    the gateway's own Title-Case (§11: the real captures; the payload-format page says lower-case, the
    captures win); ``path`` is URL-decoded; ``requestContext.identity.cognitoAmr`` is ``null`` unless an
    authorizer fills it (the real captures)."""
    headers = gateway_headers(request, ctx)
    query = query_pairs(request.raw_query)
    path = event_path(request, ctx)
    user_agent = next((v for n, v in headers if n == "User-Agent"), "")
    resource = ctx.match.route.parsed.path if ctx.match and not ctx.match.route.is_default else "$default"
    body, b64 = _body(request)
    identity = {"accessKey": None, "accountId": None, "caller": None, "cognitoAmr": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None, "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
                "principalOrgId": None, "sourceIp": request.source_ip, "user": None, "userAgent": user_agent,
                "userArn": None}
    identity.update(ctx.identity)
    return {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": request.method,
        "headers": dict(headers),
        "multiValueHeaders": _multi(headers),
        "queryStringParameters": dict(query) if query else None,
        "multiValueQueryStringParameters": _multi(query) if query else None,
        "requestContext": {
            "accountId": ctx.account_id,
            "apiId": ctx.api_id,
            **({"authorizer": ctx.authorizer_v1} if ctx.authorizer_v1 is not None else {}),
            "domainName": ctx.domain_name,
            "domainPrefix": ctx.api_id,
            "extendedRequestId": ctx.request_id,
            "httpMethod": request.method,
            "identity": identity,
            "path": path,
            "protocol": request.protocol,
            "requestId": ctx.request_id,
            "requestTime": clf_time(ctx.epoch_ms),
            "requestTimeEpoch": ctx.epoch_ms,
            "resourceId": ctx.route_key,
            "resourcePath": resource,
            "stage": ctx.stage,
        },
        "pathParameters": ctx.path_parameters or None,
        "stageVariables": dict(ctx.stage_variables) or None,
        "body": body,
        "isBase64Encoded": b64,
    }
