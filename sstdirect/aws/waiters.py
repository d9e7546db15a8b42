"""sstdirect's own waits, as botocore waiter models: the operation polled, its acceptors, the intervals and the
attempt counts are data (:data:`MODELS`, one version-2 model per service, as botocore ships
``waiters-2.json``), run by botocore's :class:`~botocore.waiter.Waiter`.

Two things botocore's own ``create_waiter_with_client`` cannot do, and how they are added:

- **polls go through** :meth:`Aws.call <sstdirect.aws.Aws.call>` (counted, retried when transient, errors
  tagged with their operation), not the bare client, whose ``NormalizedOperationMethod`` turns every
  error into a WaiterError "Unexpected error". Here an error reaches the acceptors only if one of them
  names its code; any other error is raised as :meth:`~sstdirect.aws.Aws.call` raised it.
- **a ramp**: botocore's waiter polls at one fixed ``delay``. A waiter's optional ``ramp`` key (sstdirect's
  own, ignored by botocore) lists ``[delay, polls]`` chunks polled first, each run as a botocore waiter
  with that Delay/MaxAttempts, the chunks ``delay`` apart; then ``delay``/``maxAttempts`` as botocore
  reads them. So a wait that is usually short is seen through fast and a long one is not polled hard.

:func:`wait` returns the last answer on success; a ``failure`` acceptor is :class:`WaitFailed`, a spent
schedule :class:`WaitTimedOut` (both botocore ``WaiterError`` s, with ``last_response``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore import xform_name
from botocore.exceptions import ClientError, WaiterError
from botocore.waiter import AcceptorConfig, Waiter, WaiterModel

from .errors import error_code

if TYPE_CHECKING:
    from .client import Aws

MODELS: dict[str, dict[str, Any]] = {
    "appsync": {"version": 2, "waiters": {
        # StartSchemaCreation's upload, processed asynchronously (seconds; ~100 s at most here)
        "SchemaCreated": {
            "operation": "GetSchemaCreationStatus",
            "ramp": [[0.1, 2], [0.2, 1], [0.5, 1], [1.0, 2], [2.0, 2]],
            "delay": 3, "maxAttempts": 30,
            "acceptors": [
                {"matcher": "path", "argument": "status", "expected": "SUCCESS", "state": "success"},
                {"matcher": "path", "argument": "status", "expected": "ACTIVE", "state": "success"},
                {"matcher": "path", "argument": "status", "expected": "FAILED", "state": "failure"},
            ],
        },
    }},
    "acm": {"version": 2, "waiters": {
        # ACM fills DomainValidationOptions[].ResourceRecord within seconds of RequestCertificate
        "CertificateValidationRecord": {
            "operation": "DescribeCertificate",
            "ramp": [[0.5, 2], [1.0, 1], [1.5, 1]],
            "delay": 2, "maxAttempts": 59,
            "acceptors": [
                {"matcher": "path", "expected": True, "state": "success",
                 "argument": "length(Certificate.DomainValidationOptions[?ResourceRecord] || `[]`) > `0`"},
            ],
        },
        # API Gateway releases a deleted domain's certificate asynchronously (minutes at most)
        "CertificateDeleted": {
            "operation": "DeleteCertificate",
            "delay": 10, "maxAttempts": 61,
            "acceptors": [
                {"matcher": "error", "expected": "ResourceInUseException", "state": "retry"},
                {"matcher": "error", "expected": "ResourceNotFoundException", "state": "success"},
                {"matcher": "error", "expected": False, "state": "success"},
            ],
        },
    }},
}


class WaitFailed(WaiterError):
    """A ``failure`` acceptor matched ``last_response``."""


class WaitTimedOut(WaiterError):
    """Every poll of the schedule was made, and none was a success or a failure. ``last_error``: the
    exception of the last poll, when it was an error an acceptor named (else None); ``schedule_s``: the
    time the schedule waits in all."""

    def __init__(self, name: str, reason: str, last_response: Any, last_error: ClientError | None,
                 schedule_s: float) -> None:
        super().__init__(name=name, reason=reason, last_response=last_response)
        self.last_error = last_error
        self.schedule_s = schedule_s


def schedule(service: str, name: str) -> list[tuple[float, int]]:
    """``(delay s, polls)`` chunks of the waiter, in the order they are polled."""
    spec = MODELS[service]["waiters"][name]
    return [(float(d), int(n)) for d, n in spec.get("ramp", ())] + [(float(spec["delay"]), int(spec["maxAttempts"]))]


def schedule_s(chunks: list[tuple[float, int]]) -> float:
    """The time a schedule sleeps in all: between its polls, none before the first."""
    return sum(delay * polls for delay, polls in chunks) - chunks[0][0]


def wait(aws: Aws, service: str, name: str, /, *, on_wait: Callable[[Mapping[str, Any], int], None] | None = None,
         **params: Any) -> Any:
    """Poll the waiter ``name`` of ``service`` with ``params`` until an acceptor says success; return that answer.

    ``on_wait(answer, polls)`` is told of each answer after which the waiter polls again (progress reports).
    Raises :class:`WaitFailed`, :class:`WaitTimedOut`, or the error of a poll that no acceptor names."""
    config = WaiterModel(copy.deepcopy(MODELS[service])).get_waiter(name)
    acceptors = config.acceptors
    method = xform_name(config.operation)
    named = {a.expected for a in acceptors if a.matcher == "error" and isinstance(a.expected, str)}
    any_error = any(a.matcher == "error" and a.expected is True for a in acceptors)
    chunks = schedule(service, name)
    total = sum(polls for _, polls in chunks)
    last: dict[str, Any] = {"polls": 0, "error": None, "response": None}

    def poll(**kwargs: Any) -> Any:
        try:
            response, last["error"] = aws.call(service, method, **kwargs), None
        except ClientError as exc:
            if not any_error and error_code(exc) not in named:
                raise
            response, last["error"] = exc.response, exc
        last["polls"] += 1
        last["response"] = response
        if on_wait is not None and last["polls"] < total and _state(acceptors, response) == "retry":
            on_wait(response, last["polls"])
        return response

    waiter = Waiter(name, config, poll)
    for i, (delay, polls) in enumerate(chunks):
        if i:
            time.sleep(delay)
        try:
            waiter.wait(WaiterConfig={"Delay": delay, "MaxAttempts": polls}, **params)
            return last["response"]
        except WaiterError as exc:
            if _state(acceptors, exc.last_response) == "failure":
                raise WaitFailed(name=name, reason=exc.kwargs.get("reason", ""),
                                 last_response=exc.last_response) from None
    raise WaitTimedOut(name, f"no success after {total} polls", last["response"], last["error"], schedule_s(chunks))


def _state(acceptors: list[AcceptorConfig], response: Any) -> str:
    """The state the first acceptor matching ``response`` names ("retry" if none does)."""
    return next((a.state for a in acceptors if a.matcher_func(response)), "retry")
