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
- an operation the endpoint does not implement fails at once (never retried);
- ``apigateway``/``apigatewayv2`` requests are paced client-side under API Gateway's account bucket
  (:class:`TokenBucket`, a little below 10/s, burst 40) so no request is spent on a 429;
- Lambda's IAM-propagation error ("The role defined for the function cannot be assumed by Lambda") is
  polled with a short bounded step, gated by the age of the role (:class:`PropagationGate`), and a
  step of the executor that waits for it, or for a pacing slot, before its first write gives its
  worker back (:class:`NotYet`, see :func:`step_context`);
- inside :meth:`Aws.shared_reads` a read named by a key (``ListFunctions``) is made once and shared;
- credentials are resolved once, before the first client is built (no request): with none configured,
  an ``endpoint_url`` served by a sstdirect ``LocalCloud`` signs with that cloud's key pair, and
  :meth:`Aws.require_credentials` (or a request sent without any) is a ConfigError naming the fixes
  (:mod:`sstdirect.credentials`).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from . import credentials as creds_mod

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


PROPAGATION_FRAGMENTS = ("cannot be assumed", "role defined for the function")


def is_propagation(service: str, exc: BaseException) -> bool:
    """Lambda refusing a role IAM has not propagated yet (HTTP 400 InvalidParameterValueException)."""
    if service != "lambda" or not isinstance(exc, ClientError) or error_code(exc) != "InvalidParameterValueException":
        return False
    message = str(exc.response.get("Error", {}).get("Message", "")).lower()
    return any(fragment in message for fragment in PROPAGATION_FRAGMENTS)


class NotYet(Exception):
    """The current executor step cannot usefully send its first write before ``until`` (monotonic).

    Raised only inside a :func:`step_context` whose step has made no write yet, so re-running the step
    from the start is safe; the executor re-queues it with that not-before time instead of holding a
    worker thread while it waits. Outside a step context :class:`Aws` sleeps instead.
    """

    def __init__(self, until: float, reason: str) -> None:
        super().__init__(f"not before {until:.3f} ({reason})")
        self.until = until
        self.reason = reason


@dataclass
class StepContext:
    """What :class:`Aws` knows of the executor step running in this thread (kept across re-runs)."""

    wrote: bool = False  # a write of this attempt succeeded: the step can no longer be re-run
    slot: float | None = None  # an API Gateway pacing slot reserved by an earlier attempt
    first_refused: float | None = None  # when the IAM-propagation error was first seen (budget)

    @property
    def deferrable(self) -> bool:
        return not self.wrote


_STEP: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("sstdirect_step", default=None)


@contextlib.contextmanager
def step_context(ctx: StepContext) -> Iterator[StepContext]:
    """Run one attempt of an executor step: :class:`Aws` may raise :class:`NotYet` until it writes."""
    ctx.wrote = False
    token = _STEP.set(ctx)
    try:
        yield ctx
    finally:
        _STEP.reset(token)


class TokenBucket:
    """Client-side pacing: ``rate`` requests/s with a ``burst``; :meth:`reserve` books the next slot.

    A reservation may go into debt: the caller is told how long to wait for its slot, and later
    callers queue behind it, so concurrent threads get evenly spaced slots.
    """

    def __init__(self, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"pacing needs rate > 0 and burst >= 1, got {rate!r}/{burst!r}")
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take one token; return the monotonic time at which the request may be sent."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            return now if self._tokens >= 0 else now - self._tokens / self.rate

    def drain(self) -> None:
        """Forget any burst left (the server said its bucket is empty); booked slots stay."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(0.0, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now


class PropagationGate:
    """When to (re)try a ``CreateFunction`` whose role IAM may not have propagated yet.

    Roles created through this :class:`Aws` have a known birth time. Until the first refusal every
    create goes at once (propagation may already be over). A refusal at role age ``a`` proves
    propagation takes longer than ``a`` (``floor``): from then on one probe at a time, ``step_s``
    apart, by a role at least ``floor + step_s`` old, so Lambda sees about ``P / step_s`` doomed
    creates in all, not that many per function. A success at age ``a`` proves it can take no longer
    (``ceiling``): every role that old goes at once. A role of unknown age is retried ``step_s`` apart.

    A refusal comes back fast (Lambda refuses before it stores anything); a create that is accepted
    takes far longer (400 ms on the model). So a probe that has been out for twice the slowest refusal
    seen is presumed accepted: every role as old as it was goes at once, without waiting for its
    answer. Should it be refused after all, the presumption is dropped with it and probing resumes.
    """

    def __init__(self, step_s: float = 0.15) -> None:
        self.step_s = step_s
        self.floor = 0.0
        self.ceiling: float | None = None
        self.next_probe = 0.0
        self.slowest_refusal_s = 0.0
        self._born: dict[str, float] = {}
        self._out: dict[str, list[tuple[float, float]]] = {}  # role -> (sent, role age then) of creates out
        self._lock = threading.Lock()

    def born(self, role_name: str, at: float) -> None:
        with self._lock:
            self._born[role_name] = at

    def not_before(self, role_arn: str | None) -> float:
        """0.0: send a create with ``role_arn`` now (counted as the probe, if one is due); else the
        monotonic time at which to ask again."""
        with self._lock:
            name = _role_name(role_arn)
            born = self._born.get(name)
            if born is None or self.floor <= 0:
                return 0.0
            now = time.monotonic()
            if self.ceiling is not None and born + self.ceiling > now:
                return born + self.ceiling
            presumed = self.ceiling if self.ceiling is not None else self._presumed_ceiling(now)
            if presumed is None or born + presumed > now:
                at = max(born + self.floor + self.step_s, self.next_probe)
                if at > now:
                    return at if presumed is None else min(at, born + presumed)
                self.next_probe = now + self.step_s  # this create is the probe
            self._out.setdefault(name, []).append((now, now - born))
            return 0.0

    def _presumed_ceiling(self, now: float) -> float | None:
        """The youngest role age at which a create out longer than any refusal took was sent."""
        patience = max(2 * self.slowest_refusal_s, 0.05)
        ages = [age for creates in self._out.values() for sent, age in creates
                if now - sent > patience and age > self.floor]
        return min(ages) if ages else None

    def answered(self, role_arn: str | None, sent: float) -> None:
        """The create sent at ``sent`` is out no more (whatever its outcome)."""
        with self._lock:
            self._answered(_role_name(role_arn), sent)

    def _answered(self, name: str, sent: float) -> None:
        creates = self._out.get(name)
        if creates:
            creates.remove(min(creates, key=lambda c: abs(c[0] - sent)))

    def refused(self, role_arn: str | None, sent: float) -> float:
        """Record a refusal of a request sent at ``sent``; return when to ask again."""
        with self._lock:
            name = _role_name(role_arn)
            born = self._born.get(name)
            if born is None:
                return time.monotonic() + self.step_s
            self._answered(name, sent)
            self.slowest_refusal_s = max(self.slowest_refusal_s, time.monotonic() - sent)
            self.floor = max(self.floor, sent - born)
            if self.ceiling is not None and self.ceiling <= self.floor:
                self.ceiling = None  # propagation is not deterministic: forget the stale ceiling
            return max(born + self.floor + self.step_s, self.next_probe)

    def accepted(self, role_arn: str | None, sent: float) -> None:
        with self._lock:
            name = _role_name(role_arn)
            born = self._born.get(name)
            if born is None:
                return
            self._answered(name, sent)
            if sent - born > self.floor:
                self.ceiling = sent - born if self.ceiling is None else min(self.ceiling, sent - born)


def _role_name(role_arn: str | None) -> str:
    return (role_arn or "").rsplit("/", 1)[-1]


# Services sharing API Gateway's account-level control-plane bucket (10 req/s, burst 40; it "can't be
# increased"). Pacing a little below 10/s: pacing at exactly 10/s still drew throttles (PERF.md).
PACED_SERVICES = ("apigateway", "apigatewayv2")
APIGATEWAY_RATE = 9.5
APIGATEWAY_BURST = 40
# A step that would wait longer than this for its pacing slot gives its worker back (NotYet).
DEFER_AFTER_S = 0.3

# How list calls page, by service or "service.method": (request token, response token, "more pages" flag)
PAGE_TOKENS: dict[str, tuple[str, str, str | None]] = {
    "cognito-idp.list_users": ("PaginationToken", "PaginationToken", None),
    "lambda": ("Marker", "NextMarker", None),
    "iam": ("Marker", "Marker", "IsTruncated"),
    "logs": ("nextToken", "nextToken", None),
    "appsync": ("nextToken", "nextToken", None),
    "dynamodb.list_tables": ("ExclusiveStartTableName", "LastEvaluatedTableName", None),
}
DEFAULT_PAGE_TOKENS: tuple[str, str, str | None] = ("NextToken", "NextToken", None)


def page_tokens(service: str, method: str) -> tuple[str, str, str | None]:
    return PAGE_TOKENS.get(f"{service}.{method}") or PAGE_TOKENS.get(service) or DEFAULT_PAGE_TOKENS


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
        apigateway_rate: float | None = None,
        apigateway_burst: int | None = None,
    ):
        """``apigateway_rate``/``apigateway_burst``: client-side pacing of API Gateway requests
        (default :data:`APIGATEWAY_RATE`/:data:`APIGATEWAY_BURST`; rate 0: unpaced)."""
        self.session = session or creds_mod.make_session(profile, region)
        self.region = region or self.session.region_name or "us-east-1"
        self.endpoint_url = endpoint_url
        self.profile = profile
        self._session_given = session is not None
        self._credentials: Any = None
        self._credentials_resolved = False
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
        rate = APIGATEWAY_RATE if apigateway_rate is None else apigateway_rate
        burst = APIGATEWAY_BURST if apigateway_burst is None else apigateway_burst
        self.pacer = TokenBucket(rate, burst) if rate else None
        self.gate = PropagationGate()
        self._shared: dict[str, Any] | None = None
        self._shared_locks: dict[str, threading.Lock] = {}

    # -- clients -----------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """The (shared, thread-safe) boto3 client of ``service``, counting every request it sends."""
        client = self._clients.get(service)
        if client is None:
            with self._lock:  # one at a time: a boto3 Session is not thread-safe
                client = self._clients.get(service)
                if client is None:
                    with contextlib.suppress(BotoCoreError):  # unusable credentials: the request says so
                        self._resolve_credentials()
                    client = self.session.client(service, endpoint_url=self.endpoint_url, config=self._config)
                    client.meta.events.register("before-send", self._counter(service))
                    client.meta.events.register("needs-retry", self._last_error)
                    if self.pacer is not None and service in PACED_SERVICES:
                        # first: ahead of any handler that answers the request itself (in-process moto)
                        client.meta.events.register_first("before-send", self._pace)
                        client.meta.events.register("needs-retry", self._throttled)
                    self._clients[service] = client
        return client

    def _resolve_credentials(self) -> Any:
        """The session's credentials, resolved once (call with ``_lock`` held; no request to AWS).

        With none configured (no session or profile given, nothing in boto3's chain) and an
        ``endpoint_url`` served by a sstdirect ``LocalCloud``, the session becomes one signing with that
        cloud's key pair (API.md: "with no credentials configured uses the cloud's")."""
        if not self._credentials_resolved:
            found = self.session.get_credentials()
            if found is None and self.endpoint_url and not self._session_given and self.profile is None:
                pair = creds_mod.local_cloud_credentials(self.endpoint_url)
                if pair is not None:
                    self.session = boto3.Session(aws_access_key_id=pair[0], aws_secret_access_key=pair[1],
                                                 region_name=self.region)
                    found = self.session.get_credentials()
            self._credentials = found
            self._credentials_resolved = True
        return self._credentials

    def require_credentials(self) -> None:
        """ConfigError naming the fixes (``--local``, ``--profile``, ``AWS_PROFILE``) unless credentials
        can be found; sends no request. Operations that talk to AWS call it before they write anything.
        Once resolved (the first client built, e.g. by :meth:`prewarm`), it takes no lock."""
        if self._credentials_resolved:
            if self._credentials is None:
                raise self._no_credentials()
            return
        with self._lock:
            try:
                found = self._resolve_credentials()
            except BotoCoreError as exc:  # e.g. a key id without its secret, a failing credential_process
                raise self._no_credentials(str(exc)) from None
        if found is None:
            raise self._no_credentials()

    def _no_credentials(self, cause: str | None = None) -> Exception:
        return creds_mod.no_credentials(region=self.region, profile=self.profile, endpoint_url=self.endpoint_url,
                                        session_given=self._session_given, cause=cause)

    @contextlib.contextmanager
    def prewarm(self, services: Iterable[str]) -> Iterator[None]:
        """Within the block, build the clients of ``services`` in a background thread (no request is
        sent), so that building them (~0.1 s each: botocore loads and parses the service models)
        overlaps the block's own work, such as expanding and bundling the app; the thread is joined
        when the block ends. Clients are still built on demand."""
        services = tuple(services)

        def build() -> None:
            for service in services:
                try:
                    self.client(service)
                except Exception:  # on-demand creation reports it where it matters
                    return

        thread = threading.Thread(target=build, name="sstdirect-prewarm", daemon=True)
        if services:
            thread.start()
        try:
            yield
        finally:
            if services:
                thread.join()

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
    def _pace(self, request: Any = None, **_: Any) -> None:
        """before-send of a paced service: wait for a slot of the bucket (botocore's retries too).

        In an executor step that has not written yet, a long wait gives the worker back: the slot
        stays booked for the step's next attempt. A botocore retry waits in place instead, so that it
        stays a retry (counted in :attr:`retries`, reported to ``on_retry``) rather than a new request."""
        assert self.pacer is not None
        ctx = _STEP.get()
        if ctx is not None and ctx.slot is not None:
            at, ctx.slot = ctx.slot, None
        else:
            at = self.pacer.reserve()
        delay = at - time.monotonic()
        if delay > DEFER_AFTER_S and ctx is not None and ctx.deferrable and _botocore_attempt(request) is None:
            ctx.slot = at
            raise NotYet(at, "API Gateway pacing")
        if delay > 0:
            time.sleep(delay)

    def _throttled(self, response: Any = None, **_: Any) -> None:
        """needs-retry of a paced service: a 429 means AWS's bucket is empty (another client, or a
        deploy just before this one, used it): empty ours too, so what follows is paced at the rate."""
        http = response[0] if isinstance(response, tuple) and response else None
        if self.pacer is not None and getattr(http, "status_code", None) == 429:
            self.pacer.drain()

    @contextlib.contextmanager
    def shared_reads(self) -> Iterator[None]:
        """Within the block, :meth:`shared` makes each named read once (refresh and planning use it).
        A nested block shares the outer one's reads."""
        if self._shared is not None:
            yield
            return
        self._shared = {}
        try:
            yield
        finally:
            self._shared = None
            self._shared_locks.clear()

    def shared(self, key: str, read: Callable[[], Any]) -> Any:
        """``read()``, made once per key inside :meth:`shared_reads` (every time outside it)."""
        cache = self._shared
        if cache is None:
            return read()
        with self._lock:
            lock = self._shared_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in cache:
                cache[key] = read()
            return cache[key]

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
        """Call ``client(service).method(**params)`` with bounded retries of transient errors.

        Lambda's IAM-propagation error is retried here, gated by the role's age (see
        :class:`PropagationGate`); in an executor step that has not written yet, the wait is handed
        back to the executor as :class:`NotYet`."""
        op_name = _operation_name(self.client(service), method)
        if service != "lambda" or "Role" not in params:
            return self._call(service, method, op_name, params)
        role = params.get("Role")
        ctx = _STEP.get()
        started = time.monotonic()
        attempt = 0
        while True:
            at = self.gate.not_before(role)
            if at > 0:  # not this create's turn to probe: wait (or give the worker back) and ask again
                self._await(at, ctx, "IAM propagation")
                continue
            sent = time.monotonic()
            try:
                result = self._call(service, method, op_name, params)
            except Exception as exc:
                if not (isinstance(exc, ClientError) and is_propagation(service, exc)):
                    self.gate.answered(role, sent)  # neither accepted nor refused for its role: learn nothing
                    raise
                retry_at = self.gate.refused(role, sent)
                attempt += 1
                first = started if ctx is None else (ctx.first_refused or sent)
                if ctx is not None:
                    ctx.first_refused = first
                if time.monotonic() - first > self.retry_budget_s:
                    raise
                self.retries[f"{service}.{op_name}:{error_code(exc)}"] += 1
                if self.on_retry:
                    self.on_retry(f"{service}.{op_name}", error_code(exc), attempt)
                self._await(retry_at, ctx, "IAM propagation")
                continue
            self.gate.accepted(role, sent)
            return result

    def _await(self, until: float, ctx: StepContext | None, reason: str) -> None:
        delay = until - time.monotonic()
        if delay <= 0:
            return
        if ctx is not None and ctx.deferrable:
            raise NotYet(until, reason)
        time.sleep(delay)

    def _call(self, service: str, method: str, op_name: str, params: dict[str, Any]) -> Any:
        fn = getattr(self.client(service), method)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            code = error_code(exc) if exc else ""
            self.retries[f"{service}.{op_name}:{code}"] += 1
            if self.on_retry:
                self.on_retry(f"{service}.{op_name}", code, state.attempt_number)

        retrying = Retrying(
            retry=retry_if_exception(lambda e: is_transient(service, op_name, e) and not is_propagation(service, e)),
            wait=wait_exponential(multiplier=0.25, max=1.0) + wait_random(0, 0.1),
            stop=stop_after_delay(self.retry_budget_s),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            result = retrying(fn, **params)
        except NoCredentialsError:  # botocore refused to sign: nothing was sent
            raise self._no_credentials() from None
        except (ClientError, NotImplementedError) as exc:
            exc.sstdirect_operation = f"{service}.{op_name}"  # type: ignore[union-attr]
            raise
        if is_mutating(f"{service}.{op_name}"):
            ctx = _STEP.get()
            if ctx is not None:
                ctx.wrote = True
            if service == "iam" and op_name == "CreateRole":
                self.gate.born(params.get("RoleName", ""), time.monotonic())
        return result

    def paginate(self, service: str, method: str, key: str, /, **params: Any) -> list[Any]:
        """Every item under ``key`` across all pages of ``method`` (tokens: :data:`PAGE_TOKENS`).

        Pages are followed here rather than by botocore's paginators: the first use of those per
        service lists every service folder botocore ships (~460) and parses a pagination model, on a
        refresh's critical path."""
        input_token, output_token, more_results = page_tokens(service, method)
        items: list[Any] = []
        while True:
            page = self.call(service, method, **params)
            items.extend(page.get(key, []))
            token = page.get(output_token)
            if not token or (more_results and not page.get(more_results)):
                return items
            if token == params.get(input_token):  # as botocore's paginators do: never loop on one page
                raise RuntimeError(f"{service}.{method} answered the page token {token!r} twice")
            params[input_token] = token

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
