"""Sessions, clients, calls, pagination and call counting: :class:`Aws`, the one way sstdirect talks to AWS.

- clients are made once per service from one ``boto3.Session`` (a given one, or one built from
  ``profile``/``region``), with ``endpoint_url`` applied to every service (the embedded AWS);
- every HTTP request is counted per ``"service.Operation"`` in :attr:`Aws.calls`;
- throttling is retried by botocore's ``standard`` mode; :meth:`Aws.call` adds bounded tenacity
  retries for what botocore does not retry (:data:`~sstdirect.aws.errors.TRANSIENT`) and for throttling
  that outlasts botocore's attempts; every retry, botocore's and tenacity's, is reported to ``on_retry``
  and counted in :attr:`Aws.retries` (``"service.Operation:ErrorCode"``);
- an operation the endpoint does not implement fails at once (never retried);
- what concerns some services only is a :class:`CallHook`: pacing API Gateway
  (:mod:`~sstdirect.aws.pacing`) and the IAM-propagation gate (:mod:`~sstdirect.aws.propagation`);
- a not-found answer is met in one place: :meth:`Aws.get_or_none`, :meth:`Aws.paginate_or_empty`,
  :meth:`Aws.delete_if_exists`;
- inside :meth:`Aws.shared_reads` a read named by a key (``ListFunctions``) is made once and shared;
- credentials are resolved once, before the first client is built (no request): with none configured,
  an ``endpoint_url`` served by a sstdirect ``LocalCloud`` signs with that cloud's key pair, and
  :meth:`Aws.require_credentials` (or a request sent without any) is a ConfigError naming the fixes
  (:mod:`sstdirect.credentials`).
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

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

from .. import credentials as creds_mod
from . import context
from .errors import THROTTLING, botocore_attempt, error_code, is_mutating, is_not_found, is_transient
from .pacing import Pacing
from .propagation import Propagation

RetryHook = Callable[[str, str, int], None]


class CallHook(Protocol):
    """A concern of some services, attached to every :class:`Aws` (:class:`~sstdirect.aws.pacing.Pacing`,
    :class:`~sstdirect.aws.propagation.Propagation`): the generic call knows no service by name."""

    def attach(self, aws: Aws, service: str, client: Any) -> None:
        """Register botocore event handlers on the client of ``service``, just made."""

    def around(self, aws: Aws, service: str, operation: str, params: dict[str, Any],
               send: Callable[[], Any]) -> Any:
        """Make the call ``send()`` (the request with its retries): once, or waiting and retrying as the
        hook's service needs. Hooks that do not govern the call return ``send()``."""


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
        (default :data:`~sstdirect.aws.pacing.APIGATEWAY_RATE`/``APIGATEWAY_BURST``; rate 0: unpaced)."""
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
        pacing = Pacing.default(apigateway_rate, apigateway_burst)
        self.hooks: tuple[CallHook, ...] = (*((pacing,) if pacing else ()), Propagation())
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
                    for hook in self.hooks:
                        hook.attach(self, service, client)
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
            retry = botocore_attempt(request)
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
        """Call ``client(service).method(**params)`` with bounded retries of transient errors, through the
        :attr:`hooks` (the first one outermost)."""
        operation = _operation_name(self.client(service), method)

        def send() -> Any:
            return self._call(service, method, operation, params)

        for hook in reversed(self.hooks):
            send = _through(hook, self, service, operation, params, send)
        return send()

    def _call(self, service: str, method: str, op_name: str, params: dict[str, Any]) -> Any:
        fn = getattr(self.client(service), method)

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
            result = retrying(fn, **params)
        except NoCredentialsError:  # botocore refused to sign: nothing was sent
            raise self._no_credentials() from None
        except (ClientError, NotImplementedError) as exc:
            exc.sstdirect_operation = f"{service}.{op_name}"  # type: ignore[union-attr]
            raise
        if is_mutating(f"{service}.{op_name}"):
            context.wrote()
        return result

    def get_or_none(self, service: str, method: str, key: str | None = None, /, **params: Any) -> Any:
        """:meth:`call`'s answer (its ``key`` member, if given), or None when AWS answers that the object
        does not exist (:func:`~sstdirect.aws.errors.is_not_found`). Every other error is raised."""
        try:
            response = self.call(service, method, **params)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        return response if key is None else response[key]

    def delete_if_exists(self, service: str, method: str, /, **params: Any) -> bool:
        """A delete (or detach, or reset) whose object being gone already is success: False if it was."""
        return self.get_or_none(service, method, **params) is not None

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

    def paginate_or_empty(self, service: str, method: str, key: str, /, **params: Any) -> list[Any]:
        """:meth:`paginate`, or no items when AWS answers that the parent object does not exist (the
        children of an API that is gone are gone with it)."""
        try:
            return self.paginate(service, method, key, **params)
        except Exception as exc:
            if is_not_found(exc):
                return []
            raise

    def wait(self, service: str, waiter: str, /, *, delay: float = 1, max_attempts: int = 60, **params: Any) -> None:
        """Run botocore's waiter ``waiter`` with the given bounds."""
        self.client(service).get_waiter(waiter).wait(
            WaiterConfig={"Delay": delay, "MaxAttempts": max_attempts}, **params
        )

    def total_calls(self, kinds: Iterable[str] | None = None) -> int:
        return sum(v for k, v in self.calls.items() if kinds is None or k in kinds)


def _through(hook: CallHook, aws: Aws, service: str, operation: str, params: dict[str, Any],
             send: Callable[[], Any]) -> Callable[[], Any]:
    return lambda: hook.around(aws, service, operation, params, send)


def _operation_name(client: Any, method: str) -> str:
    """``create_function`` → ``CreateFunction`` (botocore's own mapping)."""
    mapping = getattr(client.meta, "method_to_api_mapping", {})
    return mapping.get(method, method)
