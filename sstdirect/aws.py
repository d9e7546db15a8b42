"""The one boundary to AWS: sessions, clients, pagination, call counting and retries.

Every AWS request sstdirect makes goes through an :class:`Aws` object:

- clients are made once per service from one ``boto3.Session`` (a given one, or one built from
  ``profile``/``region``), with ``endpoint_url`` applied to every service (the embedded AWS);
- every HTTP request is counted per ``"service.Operation"`` in :attr:`Aws.calls`;
- throttling is retried by botocore's ``standard`` mode; :meth:`Aws.call` adds bounded tenacity
  retries for what botocore does not retry (IAM propagation seen by Lambda, updates in progress,
  API Gateway conflicts, IAM read-after-write) and for throttling that outlasts botocore's attempts;
  every retry, botocore's and tenacity's, is reported to ``on_retry`` and counted in
  :attr:`Aws.retries` (``"service.Operation:ErrorCode"``);
- an operation the endpoint does not implement fails at once (never retried).
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

RetryHook = Callable[[str, str, int], None]

# (service or "*" for every service, error code, message fragment or "", operations it applies to or None for all)
TRANSIENT: tuple[tuple[str, str, str, frozenset[str] | None], ...] = (
    # throttling, under the codes each service uses (API Gateway, Lambda, Cognito: HTTP 429
    # TooManyRequestsException; IAM, Route 53, STS: Throttling; Logs, ACM, AppSync: ThrottlingException)
    ("*", "TooManyRequestsException", "", None),
    ("*", "ThrottlingException", "", None),
    ("*", "Throttling", "", None),
    ("*", "RequestLimitExceeded", "", None),
    ("lambda", "InvalidParameterValueException", "cannot be assumed", None),
    ("lambda", "InvalidParameterValueException", "role defined for the function", None),
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


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    if isinstance(exc, NotImplementedError):
        return "NotImplemented"
    return type(exc).__name__


def is_transient(service: str, operation: str, exc: BaseException) -> bool:
    """Whether ``exc`` from ``service.operation`` is worth retrying beyond botocore's own retries."""
    if not isinstance(exc, ClientError):
        return False
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", ""))
    for svc, c, fragment, ops in TRANSIENT:
        if (svc in (service, "*") and c == code and fragment.lower() in message.lower()
                and (ops is None or operation in ops)):
            return True
    return False


def is_not_found(exc: BaseException) -> bool:
    """Whether ``exc`` says the resource does not exist (deletes and reads treat it as 'gone')."""
    code = error_code(exc)
    return code in {
        "NotFoundException",
        "ResourceNotFoundException",
        "NoSuchEntity",
        "NoSuchHostedZone",
        "404",
    }


class Aws:
    """Sessions, clients and calls for one deploy (thread-safe)."""

    def __init__(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        session: boto3.Session | None = None,
        max_pool_connections: int = 64,
        retry_budget_s: float = 120.0,
        on_retry: RetryHook | None = None,
    ):
        self.session = session or boto3.Session(profile_name=profile, region_name=region)
        self.region = region or self.session.region_name or "us-east-1"
        self.endpoint_url = endpoint_url
        self.calls: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.on_retry = on_retry
        self.retry_budget_s = retry_budget_s
        self._config = Config(
            region_name=self.region,
            retries={"mode": "standard", "max_attempts": 6},
            max_pool_connections=max_pool_connections,
            connect_timeout=10,
            read_timeout=60,
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._account_id: str | None = None
        self._errors: dict[str, str] = {}  # invocation id → the error botocore may retry
        self._local = threading.local()

    # -- clients -----------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """The (shared, thread-safe) boto3 client of ``service``, counting every request it sends."""
        client = self._clients.get(service)
        if client is None:
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    client = self.session.client(service, endpoint_url=self.endpoint_url, config=self._config)
                    client.meta.events.register("before-send", self._counter(service))
                    client.meta.events.register("needs-retry", self._last_error)
                    self._clients[service] = client
        return client

    def _counter(self, service: str) -> Callable[..., None]:
        def count(event_name: str = "", request: Any = None, **_: Any) -> None:
            key = f"{service}.{event_name.rsplit('.', 1)[-1]}"
            self.calls[key] += 1
            # botocore's own retry of this request (standard mode numbers attempts in a header)
            retry = _botocore_attempt(request)
            if retry is not None:
                invocation, attempt = retry
                code = self._errors.pop(invocation, "") or "retry"
                self.retries[f"{key}:{code}"] += 1
                if is_mutating(key) and code not in THROTTLING:  # a throttled request was not carried out
                    getattr(self._local, "resent", []).append(key)
                if self.on_retry:
                    self.on_retry(key, code, attempt - 1)

        return count

    def _last_error(self, response: Any = None, caught_exception: Any = None, request_dict: Any = None,
                    **_: Any) -> None:
        """Remember why botocore may retry a request, for the count of its retry (keyed by invocation id)."""
        invocation = ((request_dict or {}).get("context") or {}).get("retries", {}).get("invocation-id")
        if invocation is None:
            return
        if caught_exception is not None:
            self._errors[invocation] = type(caught_exception).__name__
        elif response is not None and len(response) > 1 and isinstance(response[1], dict):
            code = response[1].get("Error", {}).get("Code")
            if code:
                self._errors[invocation] = str(code)

    @contextlib.contextmanager
    def resent_writes(self) -> Iterator[list[str]]:
        """The writes botocore sent again in this thread inside the block. A create sent again after a
        lost response or a server error may have been done twice (AWS does not keep every name unique)."""
        resent: list[str] = []
        outer = getattr(self._local, "resent", None)
        self._local.resent = resent
        try:
            yield resent
        finally:
            self._local.resent = outer if outer is not None else []
            if outer is not None:
                outer.extend(resent)

    @property
    def account_id(self) -> str:
        if self._account_id is None:
            self._account_id = self.call("sts", "get_caller_identity")["Account"]
        return self._account_id

    @account_id.setter
    def account_id(self, value: str) -> None:
        self._account_id = value

    # -- calls -------------------------------------------------------------------------------

    def call(self, service: str, method: str, /, **params: Any) -> Any:
        """Call ``client(service).method(**params)`` with bounded retries of transient errors."""
        fn = getattr(self.client(service), method)
        op_name = _operation_name(self.client(service), method)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            code = error_code(exc) if exc else ""
            self.retries[f"{service}.{op_name}:{code}"] += 1
            if self.on_retry:
                self.on_retry(f"{service}.{op_name}", code, state.attempt_number)

        retrying = Retrying(
            retry=retry_if_exception(lambda e: is_transient(service, op_name, e)),
            wait=wait_exponential(multiplier=0.25, max=1.0) + wait_random(0, 0.1),
            stop=stop_after_delay(self.retry_budget_s),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn, **params)
        except (ClientError, NotImplementedError) as exc:
            exc.sstdirect_operation = f"{service}.{op_name}"  # type: ignore[union-attr]
            raise

    def paginate(self, service: str, method: str, key: str, /, **params: Any) -> list[Any]:
        """Every item under ``key`` across all pages of ``method``."""
        client = self.client(service)
        if client.can_paginate(method):
            items: list[Any] = []
            for page in client.get_paginator(method).paginate(**params):
                items.extend(page.get(key, []))
            return items
        items = []
        token_key = "NextToken"
        while True:
            page = self.call(service, method, **params)
            items.extend(page.get(key, []))
            token = page.get(token_key)
            if not token:
                return items
            params[token_key] = token

    def wait(self, service: str, waiter: str, /, *, delay: float = 1, max_attempts: int = 60, **params: Any) -> None:
        """Run botocore's waiter ``waiter`` with the given bounds."""
        self.client(service).get_waiter(waiter).wait(
            WaiterConfig={"Delay": delay, "MaxAttempts": max_attempts}, **params
        )

    def total_calls(self, kinds: Iterable[str] | None = None) -> int:
        return sum(v for k, v in self.calls.items() if kinds is None or k in kinds)


def _botocore_attempt(request: Any) -> tuple[str, int] | None:
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


def _operation_name(client: Any, method: str) -> str:
    """``create_function`` → ``CreateFunction`` (botocore's own mapping)."""
    mapping = getattr(client.meta, "method_to_api_mapping", {})
    return mapping.get(method, method)


MUTATING_PREFIXES = (
    "Create", "Update", "Delete", "Put", "Add", "Remove", "Tag", "Untag", "Attach", "Detach",
    "Set", "Start", "Request", "Change", "Import", "Reimport", "Publish", "Associate", "Disassociate",
    "Admin",
)


def is_mutating(call_key: str) -> bool:
    """Whether a ``"service.Operation"`` key names a write."""
    return call_key.split(".", 1)[-1].startswith(MUTATING_PREFIXES)
