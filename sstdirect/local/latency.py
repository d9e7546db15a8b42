"""The latency model of the embedded AWS (``LocalCloud(latency=...)``), applied at the server.

:class:`LatencyModel` holds the figures of ``PERF.md``: a read (GET, ``Get*``/``List*``/``Describe*``)
takes 60 ms, any other request 120 ms, Lambda ``CreateFunction``/``UpdateFunctionCode`` 400 ms; a
Lambda ``CreateFunction`` whose role was created less than ``propagation_s`` (6 s) ago is refused with
AWS's real error (HTTP 400 ``InvalidParameterValueException`` "The role defined for the function
cannot be assumed by Lambda."); every ``apigateway`` request (REST v1 and HTTP/WebSocket v2 alike)
draws from one token bucket of 10 requests/s and a burst of 40, and a request that finds it empty is
answered HTTP 429 ``TooManyRequestsException`` in API Gateway's JSON error shape.

:class:`LatencyMiddleware` is WSGI middleware around the server's app, so every client pointed at the
cloud sees the same world. It identifies each request's service (the SigV4 credential scope) and
operation (``X-Amz-Target``, ``Action=`` or botocore's REST URI templates, matched once per service),
sleeps the request's latency in the request's own thread (concurrent requests sleep concurrently),
injects the faults above, and appends a :class:`RequestRecord` to its log, model or not.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

__all__ = ["LatencyMiddleware", "LatencyModel", "RequestRecord", "is_read", "summarize"]

PROPAGATION_MESSAGE = "The role defined for the function cannot be assumed by Lambda."
THROTTLE_MESSAGE = "Too Many Requests"
READ_PREFIXES = ("Get", "List", "Describe")

# SigV4 signing names whose botocore model has another name, or that serve several models
_SIGNING_TO_SERVICES: dict[str, tuple[str, ...]] = {
    "apigateway": ("apigatewayv2", "apigateway"),
    "execute-api": ("apigateway",),
    "cognito-idp": ("cognito-idp",),
    "cognito-identity": ("cognito-identity",),
}


def _default_operation_s() -> Mapping[str, float]:
    return {"lambda.CreateFunction": 0.400, "lambda.UpdateFunctionCode": 0.400}


@dataclass(frozen=True)
class LatencyModel:
    """PERF.md's model; every figure is settable, e.g. ``LatencyModel(propagation_s=0)``.

    * ``read_s`` / ``write_s``: latency of a read / any other request.
    * ``operation_s``: per-operation overrides, keyed ``"service.Operation"`` (botocore names).
    * ``propagation_s``: IAM propagation P seen by Lambda ``CreateFunction`` (0 disables it).
    * ``apigateway_rate`` / ``apigateway_burst``: the shared API Gateway token bucket (rate 0 or
      ``None`` burst disables it).
    * ``reject_s``: latency of a request the model refuses (a 429 or the propagation error).
    """

    read_s: float = 0.060
    write_s: float = 0.120
    operation_s: Mapping[str, float] = field(default_factory=_default_operation_s, hash=False)
    propagation_s: float = 6.0
    apigateway_rate: float = 10.0
    apigateway_burst: int | None = 40
    reject_s: float = 0.060

    def __post_init__(self) -> None:
        for name in ("read_s", "write_s", "propagation_s", "apigateway_rate", "reject_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"LatencyModel.{name} must be a number >= 0, got {value!r}")
        if self.apigateway_burst is not None and (not isinstance(self.apigateway_burst, int)
                                                  or self.apigateway_burst < 1):
            raise ValueError(f"LatencyModel.apigateway_burst must be an int >= 1 or None, "
                             f"got {self.apigateway_burst!r}")
        for key, value in self.operation_s.items():
            if "." not in key or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"LatencyModel.operation_s needs 'service.Operation': seconds >= 0, "
                                 f"got {key!r}: {value!r}")
        object.__setattr__(self, "operation_s", dict(self.operation_s))

    @classmethod
    def default(cls) -> LatencyModel:
        """PERF.md's defaults."""
        return cls()

    @classmethod
    def zero(cls, **overrides: Any) -> LatencyModel:
        """No latency, no propagation; the API Gateway bucket stays unless overridden."""
        values: dict[str, Any] = {"read_s": 0.0, "write_s": 0.0, "operation_s": {}, "propagation_s": 0.0,
                                  "reject_s": 0.0}
        values.update(overrides)
        return cls(**values)

    @property
    def throttles(self) -> bool:
        return self.apigateway_rate > 0 and self.apigateway_burst is not None

    def latency(self, service: str, operation: str, method: str) -> float:
        """Seconds a successful ``service.operation`` request takes."""
        override = self.operation_s.get(f"{service}.{operation}")
        if override is not None:
            return float(override)
        return self.read_s if is_read(operation, method) else self.write_s


def is_read(operation: str, method: str = "") -> bool:
    """A read: a GET, or an operation named ``Get*``/``List*``/``Describe*``."""
    return method.upper() == "GET" or operation.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered. ``t`` is seconds since the log began (monotonic clock)."""

    t: float
    service: str
    operation: str
    method: str
    path: str
    status: int
    fault: str | None = None  # "throttle" | "propagation" | None
    latency_s: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.service}.{self.operation}"

    @property
    def read(self) -> bool:
        return is_read(self.operation, self.method)


def summarize(records: Iterable[RequestRecord]) -> dict[str, Any]:
    """Counts of a request log: total, by operation, mutating vs read, 429s, propagation faults."""
    records = [r for r in records if r.service != "moto-api"]
    by_op = Counter(r.key for r in records)
    return {
        "total": len(records),
        "reads": sum(1 for r in records if r.read),
        "mutating": sum(1 for r in records if not r.read),
        "throttled_429": sum(1 for r in records if r.status == 429),
        "propagation_faults": sum(1 for r in records if r.fault == "propagation"),
        "injected_faults": sum(1 for r in records if r.fault),
        "errors": sum(1 for r in records if r.status >= 400),
        "by_operation": dict(sorted(by_op.items())),
    }


# --- identifying a request's operation ---------------------------------------------------------


class _RestMatcher:
    """method + path → operation name of one or more botocore REST services, built once."""

    def __init__(self, services: Iterable[str], loader: Callable[[str], Any]) -> None:
        rules: list[tuple[int, int, str, re.Pattern[str], tuple[str, ...], str, str]] = []
        for service in services:
            try:
                model = loader(service)
            except Exception:
                continue
            if model.protocol not in ("rest-json", "rest-xml"):
                continue
            for name in model.operation_names:
                http = model.operation_model(name).http
                uri = http.get("requestUri", "/")
                path, _, query = uri.partition("?")
                pattern = ""
                literal = 0
                for part in re.split(r"(\{[^}]+\})", path):
                    if part.startswith("{"):
                        pattern += "(.+)" if part.endswith("+}") else "([^/]+)"
                    else:
                        pattern += re.escape(part)
                        literal += len(part)
                keys = tuple(q.split("=", 1)[0] for q in query.split("&") if q)
                rules.append((len(keys), literal, http.get("method", "POST").upper(),
                              re.compile(pattern + "/?$"), keys, service, name))
        rules.sort(key=lambda r: (-r[0], -r[1]))
        self.rules = rules

    def match(self, method: str, path: str, query: Mapping[str, Any]) -> tuple[str, str] | None:
        for _, _, m, regex, keys, service, name in self.rules:
            if m == method and regex.match(path) and all(k in query for k in keys):
                return service, name
        return None


class _Identifier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rest: dict[str, _RestMatcher] = {}
        self._session: Any = None

    def _model(self, service: str) -> Any:
        if self._session is None:
            import botocore.session

            from .botocore_loader import shared_loader

            session = botocore.session.Session()
            session.register_component("data_loader", shared_loader())
            self._session = session
        return self._session.get_service_model(service)

    def rest(self, signing: str) -> _RestMatcher:
        matcher = self._rest.get(signing)
        if matcher is None:
            with self._lock:
                matcher = self._rest.get(signing)
                if matcher is None:
                    matcher = _RestMatcher(_SIGNING_TO_SERVICES.get(signing, (signing,)), self._model)
                    self._rest[signing] = matcher
        return matcher


_CREDENTIAL = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")


# --- the middleware ------------------------------------------------------------------------------


class LatencyMiddleware:
    """WSGI middleware: log every request and, with a model, apply it (see module docstring)."""

    def __init__(self, app: Callable[..., Any], model: LatencyModel | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.app = app
        self.model = model
        self.sleep = sleep
        self._identify = _Identifier()
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._began = time.monotonic()
        self._roles: dict[str, float] = {}
        burst = model.apigateway_burst if model else None
        self._tokens = float(burst or 0)
        self._refilled = time.monotonic()

    # -- log --------------------------------------------------------------------------------

    @property
    def log(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def clear(self) -> None:
        """Empty the log and forget role creation times (the token bucket keeps its state)."""
        with self._lock:
            self._log.clear()
            self._roles.clear()

    def role_created(self, name: str) -> float | None:
        with self._lock:
            return self._roles.get(name)

    # -- the bucket -------------------------------------------------------------------------

    def _take_token(self) -> bool:
        model = self.model
        assert model is not None and model.apigateway_burst is not None
        with self._lock:
            now = time.monotonic()
            self._tokens = min(float(model.apigateway_burst),
                               self._tokens + (now - self._refilled) * model.apigateway_rate)
            self._refilled = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    # -- WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "/") or "/"
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)
        service, operation, form, body = self._identify_request(environ, method, path)
        model = self.model
        fault: str | None = None
        delay = 0.0
        if model is not None:
            if service in ("apigateway", "apigatewayv2") and model.throttles and not self._take_token():
                fault = "throttle"
            elif (service == "lambda" and operation == "CreateFunction" and model.propagation_s > 0):
                created = self.role_created(_role_name(body))
                if created is not None and time.monotonic() - created < model.propagation_s:
                    fault = "propagation"
            delay = model.reject_s if fault else model.latency(service, operation, method)
            if delay > 0:
                self.sleep(delay)
            if fault is None and service == "lambda" and operation == "CreateFunction" \
                    and model.propagation_s > 0:  # the role may have been created while we slept
                created = self.role_created(_role_name(body))
                if created is not None and time.monotonic() - created < model.propagation_s:
                    fault = "propagation"
        if fault == "throttle":
            return self._respond(start_response, service, operation, method, path, fault, delay, 429,
                                 "TooManyRequestsException", THROTTLE_MESSAGE)
        if fault == "propagation":
            return self._respond(start_response, service, operation, method, path, fault, delay, 400,
                                 "InvalidParameterValueException", PROPAGATION_MESSAGE)

        status_holder: list[int] = []

        def capture(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            status_holder.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        result = self.app(environ, capture)
        status = status_holder[0] if status_holder else 0
        if service == "iam" and operation == "CreateRole" and 200 <= status < 300:
            name = (form.get("RoleName") or [""])[0]
            if name:
                with self._lock:
                    self._roles[name] = time.monotonic()
        self._record(service, operation, method, path, status, None, delay)
        return result

    def _respond(self, start_response: Callable[..., Any], service: str, operation: str, method: str,
                 path: str, fault: str, delay: float, status: int, code: str, message: str) -> list[bytes]:
        body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
        reason = {429: "Too Many Requests", 400: "Bad Request"}[status]
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
                   ("x-amzn-RequestId", "sstdirect-local"), ("Content-Length", str(len(body)))]
        start_response(f"{status} {reason}", headers)
        self._record(service, operation, method, path, status, fault, delay)
        return [body]

    def _record(self, service: str, operation: str, method: str, path: str, status: int,
                fault: str | None, delay: float) -> None:
        with self._lock:
            self._log.append(RequestRecord(round(time.monotonic() - self._began, 6), service, operation,
                                           method, path, status, fault, delay))

    def _identify_request(self, environ: dict[str, Any], method: str,
                          path: str) -> tuple[str, str, dict[str, list[str]], bytes]:
        """(botocore service, operation, form/query params, body when it was needed)."""
        scope = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        signing = scope.group(1) if scope else "unknown"
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        form: dict[str, list[str]] = dict(query)
        body = b""
        content_type = environ.get("CONTENT_TYPE", "")
        wants_body = "x-www-form-urlencoded" in content_type or (
            signing == "lambda" and method == "POST" and re.search(r"/functions/?$", path))
        if wants_body:
            body = _read_body(environ)
            if "x-www-form-urlencoded" in content_type:
                for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
                    form.setdefault(k, v)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service = _SIGNING_TO_SERVICES.get(signing, (signing,))[0]
        if target:
            return service, target.rsplit(".", 1)[-1], form, body
        if "Action" in form:
            return service, form["Action"][0], form, body
        matched = self._identify.rest(signing).match(method, path, query)
        if matched:
            return matched[0], matched[1], form, body
        return service, f"{method} {path}", form, body


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None or length <= 0:
        return b""
    body = stream.read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _role_name(body: bytes) -> str:
    try:
        role = json.loads(body or b"{}").get("Role", "")
    except (ValueError, AttributeError):
        return ""
    return str(role).rsplit("/", 1)[-1]
