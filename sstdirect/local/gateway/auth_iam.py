"""IAM (``AWS_IAM``) authorization of HTTP API routes (SEMANTICS.md §4): SigV4 checked for real.

:func:`verify_sigv4` recomputes the signature of a request (the ``Authorization`` header form or the
presigned ``X-Amz-*`` query form) with botocore's own SigV4 signer and the secret that a
:data:`Lookup` finds for the access key id; anything wrong (unsigned, unknown key, wrong secret,
another service or region, a date outside ±5 minutes, an expired presigned URL or one whose ``X-Amz-Expires``
is not 0 to 604800 decimal digits) is :class:`IamDenied`
(the gateway answers 403 ``{"message":"Forbidden"}``; it then also checks the principal's own policies
allow ``execute-api:Invoke`` on the route, see :mod:`.auth_policy`). :func:`iam_context` is the
``requestContext.authorizer.iam`` block of a verified :class:`Principal` (§1.3). The local AppSync's
``AWS_IAM`` mode uses the same check (``service="appsync"``, see :mod:`.appsync_auth`).

The local gateway's :data:`Lookup` is its embedded AWS's ``principal`` (the
:class:`~.contract.EmbeddedAws` protocol; ``sstdirect.local.ext.principals`` answers it from moto's backends).
"""

from __future__ import annotations

import datetime
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from .messages import HttpRequest

SERVICE = "execute-api"
MAX_SKEW = datetime.timedelta(minutes=5)  # §4: a ±5 min X-Amz-Date window (EMU guidance)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_ALGORITHM = "AWS4-HMAC-SHA256"
# "The minimum value you can set is 1, and the maximum is 604800 (seven days)" (S3 API reference,
# sigv4-query-string-auth.html): a SigV4 signing key is valid for seven days, whatever the service
MAX_EXPIRES_S = 604800
_QUERY_ERROR = "AuthorizationQueryParametersError"  # S3's error code for a bad X-Amz-* query parameter


class IamDenied(Exception):
    """The request is not signed by a known principal (→ 403 ``{"message":"Forbidden"}``). ``code`` is the
    error type AWS's own SigV4 front answers with (``x-amzn-ErrorType``, as the ``@connections`` API
    shows it): ``MissingAuthenticationTokenException`` (unsigned), ``IncompleteSignatureException``,
    ``UnrecognizedClientException`` (an unknown key or a missing session token),
    ``AuthorizationQueryParametersError`` (a bad ``X-Amz-Expires``, S3's code: INFERRED for execute-api), else
    ``InvalidSignatureException`` (wrong secret, changed request, expired, another service or region)."""

    def __init__(self, reason: str, code: str = "InvalidSignatureException"):
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class Principal:
    """Whom a key pair belongs to, as ``requestContext.authorizer.iam`` reports it (§1.3)."""

    access_key: str
    secret_key: str
    account_id: str
    user_arn: str
    user_id: str
    cognito_identity: dict[str, Any] | None = field(default=None, hash=False)
    # temporary credentials (STS sessions) need their session token (X-Amz-Security-Token) too
    session_token: str | None = field(default=None, compare=False)
    # the principal's identity-policy statements; None: unrestricted (the cloud's own key pair)
    statements: tuple[dict[str, Any], ...] | None = field(default=None, hash=False, compare=False)


Lookup = Callable[[str], Principal | None]  # access key id → its principal (None when unknown)


def iam_context(principal: Principal) -> dict[str, Any]:
    """``{"iam": {...}}`` (§1.3): ``callerId`` and ``userId`` are the principal's id, as in the capture."""
    return {"iam": {"accessKey": principal.access_key, "accountId": principal.account_id,
                    "callerId": principal.user_id, "cognitoIdentity": principal.cognito_identity,
                    "principalOrgId": None, "userArn": principal.user_arn, "userId": principal.user_id}}


@dataclass(frozen=True)
class _Signed:
    access_key: str
    date: str  # yyyymmdd of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # X-Amz-Date
    presigned: bool
    expires_s: int | None = None


def _parse(request: HttpRequest) -> _Signed:
    auth = request.header("authorization")
    query = _query(request.raw_query)
    if auth is not None:
        if not auth.startswith(_ALGORITHM + " "):
            raise IamDenied("the Authorization header is not AWS4-HMAC-SHA256")
        parts = dict(p.strip().partition("=")[::2] for p in auth[len(_ALGORITHM):].split(","))
        credential, signed, signature = parts.get("Credential"), parts.get("SignedHeaders"), parts.get("Signature")
        timestamp = request.header("x-amz-date")
        presigned, expires = False, None
    elif "X-Amz-Signature" in query:
        if query.get("X-Amz-Algorithm") != _ALGORITHM:
            raise IamDenied("X-Amz-Algorithm is not AWS4-HMAC-SHA256")
        credential, signed, signature = query.get("X-Amz-Credential"), query.get("X-Amz-SignedHeaders"), \
            query.get("X-Amz-Signature")
        timestamp = query.get("X-Amz-Date")
        presigned = True
        expires = _expires_s(query.get("X-Amz-Expires"))
    else:
        raise IamDenied("the request is not signed", "MissingAuthenticationTokenException")
    if not (credential and signed and signature and timestamp):
        raise IamDenied("the signature is incomplete (Credential, SignedHeaders, Signature and X-Amz-Date)",
                        "IncompleteSignatureException")
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise IamDenied("the credential scope is malformed", "IncompleteSignatureException")
    headers = tuple(h.strip().lower() for h in signed.split(";") if h.strip())
    if "host" not in headers:
        raise IamDenied("the host header is not signed")
    return _Signed(scope[0], scope[1], scope[2], scope[3], headers, signature, timestamp, presigned, expires)


def _expires_s(value: str | None) -> int:
    """A presigned URL's ``X-Amz-Expires``: decimal digits only (no sign, no spaces, no ``_``, no other
    script's digits), at most :data:`MAX_EXPIRES_S`; anything else is :class:`IamDenied` with S3's own words
    (the only SigV4 front whose answers are on record; execute-api's are not documented, INFERRED)."""
    if value is None or value == "":
        raise IamDenied("X-Amz-Expires is missing", _QUERY_ERROR)
    if value.startswith("-") and value[1:].isascii() and value[1:].isdigit():
        raise IamDenied("X-Amz-Expires must be non-negative", _QUERY_ERROR)
    if not (value.isascii() and value.isdigit()):
        raise IamDenied("X-Amz-Expires should be a number", _QUERY_ERROR)
    if len(value.lstrip("0")) > len(str(MAX_EXPIRES_S)) or int(value) > MAX_EXPIRES_S:  # no 10**30 → int
        raise IamDenied("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires "
                        f"must be less than {MAX_EXPIRES_S} seconds", _QUERY_ERROR)
    return int(value)


def _same(a: str, b: str) -> bool:
    """Constant-time equality of two strings of any characters (``hmac.compare_digest`` refuses non-ASCII
    ``str``, which a client controls: an ``é`` in a signature must be a refusal, not a crash)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _query(raw_query: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in raw_query.split("&") if raw_query else ():
        key, _, value = pair.partition("=")
        out[unquote(key)] = unquote(value)
    return out


class _Verifier(SigV4Auth):
    """botocore's SigV4 signer, told which headers the client signed and how it hashed the payload."""

    def __init__(self, credentials: Credentials, region: str, signed: _Signed):
        super().__init__(credentials, signed.service, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        out = HTTPHeaders()
        for name in self._signed.signed_headers:
            for value in request.headers.get_all(name) or []:
                out[name] = value
        return out

    def payload(self, request: AWSRequest) -> str:
        return UNSIGNED_PAYLOAD if self.unsigned_payload else super().payload(request)

    unsigned_payload = False


def verify_sigv4(request: HttpRequest, region: str, lookup: Lookup, now: datetime.datetime | None = None,
                 service: str = SERVICE, max_skew: datetime.timedelta = MAX_SKEW) -> Principal:
    """The :class:`Principal` that signed ``request`` for ``service`` (``execute-api``; AppSync passes
    ``appsync``) in ``region``, with ``X-Amz-Date`` within ``max_skew`` of ``now``, or :class:`IamDenied`."""
    signed = _parse(request)
    if signed.service != service or signed.region != region:
        raise IamDenied(f"signed for {signed.service} in {signed.region}, not {service} in {region}")
    try:
        when = datetime.datetime.strptime(signed.timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)
    except ValueError:
        raise IamDenied("X-Amz-Date is not yyyymmddThhmmssZ") from None
    if signed.timestamp[:8] != signed.date:
        raise IamDenied("the credential scope's date is not X-Amz-Date's")
    now = now or datetime.datetime.now(datetime.UTC)
    # differences of two datetimes never overflow (X-Amz-Date may be year 1 or 9999; when ± a delta may)
    if signed.presigned:
        if not (-max_skew <= now - when <= datetime.timedelta(seconds=signed.expires_s or 0)):
            raise IamDenied("the presigned URL has expired")
    elif abs(now - when) > max_skew:
        raise IamDenied(f"X-Amz-Date is more than {max_skew.total_seconds() / 60:g} minutes away")
    principal = lookup(signed.access_key)
    if principal is None:
        raise IamDenied(f"unknown access key {signed.access_key}", "UnrecognizedClientException")
    if principal.session_token is not None:
        token = request.header("x-amz-security-token") or _query(request.raw_query).get("X-Amz-Security-Token")
        if not token or not _same(token, principal.session_token):
            raise IamDenied("temporary credentials without their session token", "UnrecognizedClientException")
    query = request.raw_query
    if signed.presigned:
        query = "&".join(p for p in query.split("&") if not p.startswith("X-Amz-Signature="))
    headers = [(name, value) for name, value in request.headers if name.lower() in signed.signed_headers]
    url = f"http://{request.header('host') or ''}{request.raw_path}" + (f"?{query}" if query else "")
    aws_request = AWSRequest(method=request.method, url=url, data=request.body)
    for name, value in headers:
        aws_request.headers[name] = value  # HTTPHeaders keeps repeated names, as the signer saw them
    aws_request.context["timestamp"] = signed.timestamp
    verifier = _Verifier(Credentials(principal.access_key, principal.secret_key), region, signed)
    # a presigned URL hashes the (empty) body as botocore does, or says UNSIGNED-PAYLOAD as S3's do
    for verifier.unsigned_payload in (False, True) if signed.presigned else (False,):
        canonical = verifier.canonical_request(aws_request)
        expected = verifier.signature(verifier.string_to_sign(aws_request, canonical), aws_request)
        if _same(expected, signed.signature):
            return principal
    raise IamDenied("the signature does not match (wrong secret key, or the request was changed)")
