"""What an AWS failure or request is: the retry table and the predicates every caller shares.

- :data:`TRANSIENT`: the errors :meth:`~sstdirect.aws.Aws.call` retries beyond botocore's own retries
  (:func:`is_transient`). Lambda refusing a role IAM has not propagated yet is not in it: the propagation
  gate (:mod:`sstdirect.aws.propagation`) retries that one.
- :func:`is_not_found` (reads and deletes treat it as "gone"; :meth:`~sstdirect.aws.Aws.get_or_none`
  and its siblings are where providers meet it) and :func:`is_already_exists` (a create that lost its
  answer, or a name taken).
- :func:`is_mutating` (a write) and :func:`botocore_attempt` (botocore resending a request).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

# (service or "*" for every service, error code, message fragment or "", operations it applies to or None for all)
TRANSIENT: tuple[tuple[str, str, str, frozenset[str] | None], ...] = (
    # throttling, under the codes each service uses (API Gateway, Lambda, Cognito: HTTP 429
    # TooManyRequestsException; IAM, Route 53, STS: Throttling; Logs, ACM, AppSync: ThrottlingException)
    ("*", "TooManyRequestsException", "", None),
    ("*", "ThrottlingException", "", None),
    ("*", "Throttling", "", None),
    ("*", "RequestLimitExceeded", "", None),
    ("lambda", "ResourceConflictException", "in progress", None),
    ("lambda", "ResourceConflictException", "Pending", None),
    # API Gateway's transient conflict says "concurrent modification ... try again"; a duplicate
    # route key is also a ConflictException and must not be retried.
    ("apigatewayv2", "ConflictException", "try again", None),
    ("apigateway", "ConflictException", "try again", None),
    # a CloudWatch role just made is refused by UpdateAccount until IAM has propagated it
    ("apigateway", "BadRequestException", "does not have required permissions", frozenset({"UpdateAccount"})),
    # ... and a WebSocket stage that logs may not see the account setting at once
    ("apigatewayv2", "BadRequestException", "role ARN must be set", frozenset({"CreateStage", "UpdateStage"})),
    ("iam", "NoSuchEntity", "", frozenset({"PutRolePolicy", "UpdateAssumeRolePolicy", "TagRole"})),
    ("iam", "ConcurrentModification", "", None),
    ("route53", "PriorRequestNotComplete", "", None),
    ("appsync", "ConcurrentModificationException", "", None),
    ("logs", "OperationAbortedException", "", None),
)

THROTTLING = frozenset(code for svc, code, _, _ in TRANSIENT if svc == "*")

# The codes under which services say an object does not exist.
NOT_FOUND = frozenset({"NotFoundException", "ResourceNotFoundException", "NoSuchEntity", "NoSuchHostedZone", "404"})

MUTATING_PREFIXES = (
    "Create", "Update", "Delete", "Put", "Add", "Remove", "Tag", "Untag", "Attach", "Detach",
    "Set", "Start", "Request", "Change", "Import", "Reimport", "Publish", "Associate", "Disassociate",
    "Admin",
)


def error_code(exc: BaseException) -> str:
    """AWS's error code of ``exc`` (``"NotImplemented"`` for an operation the endpoint lacks, else the
    exception's class name)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    if isinstance(exc, NotImplementedError):
        return "NotImplemented"
    return type(exc).__name__


def error_message(exc: BaseException) -> str:
    """AWS's error message of ``exc`` ("" for anything but a ClientError)."""
    return str(exc.response.get("Error", {}).get("Message", "")) if isinstance(exc, ClientError) else ""


def is_transient(service: str, operation: str, exc: BaseException) -> bool:
    """Whether ``exc`` from ``service.operation`` is worth retrying beyond botocore's own retries."""
    if not isinstance(exc, ClientError):
        return False
    code = error_code(exc)
    message = error_message(exc).lower()
    return any(svc in (service, "*") and c == code and fragment.lower() in message and (ops is None or operation in ops)
               for svc, c, fragment, ops in TRANSIENT)


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` says the resource does not exist (deletes and reads treat it as 'gone')."""
    return error_code(exc) in NOT_FOUND


def is_already_exists(exc: BaseException) -> bool:
    """Whether ``exc`` refuses a create because an object of that name or key already exists (Lambda's
    "Function already exist" / "statement id already exists", IAM's EntityAlreadyExists, Logs'
    ResourceAlreadyExistsException, API Gateway's ConflictException for a taken route key or stage name)."""
    code = error_code(exc)
    if code in {"EntityAlreadyExists", "ResourceAlreadyExistsException", "AlreadyExistsException"}:
        return True
    message = str(exc).lower()
    if code == "ResourceConflictException":
        return "already exist" in message
    return code == "ConflictException" and "try again" not in message


def is_mutating(call_key: str) -> bool:
    """Whether a ``"service.Operation"`` key names a write."""
    return call_key.split(".", 1)[-1].startswith(MUTATING_PREFIXES)


def botocore_attempt(request: Any) -> tuple[str, int] | None:
    """``(invocation id, attempt)`` of a request botocore is retrying (attempt > 1), else None."""
    headers = getattr(request, "headers", None)
    if headers is None:
        return None
    raw = headers.get("amz-sdk-request") or b""
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    fields = dict(part.strip().split("=", 1) for part in text.split(";") if "=" in part)
    try:
        attempt = int(fields.get("attempt", "1"))
    except ValueError:
        return None
    if attempt <= 1:
        return None
    invocation = headers.get("amz-sdk-invocation-id") or b""
    return (invocation.decode() if isinstance(invocation, bytes) else str(invocation)), attempt
