"""The IAM-propagation gate: when to (re)send a Lambda call naming a role IAM may not have propagated yet.

:class:`Propagation` is a hook of :class:`~sstdirect.aws.Aws` (see :class:`~sstdirect.aws.client.CallHook`):

- on the IAM client it registers an ``after-call.iam.CreateRole`` event handler: the role's birth time;
- it sends the Lambda calls that name a ``Role`` (CreateFunction, UpdateFunctionConfiguration) itself:
  each waits for its turn at the :class:`PropagationGate`, and Lambda's refusal ("The role defined for
  the function cannot be assumed by Lambda") is retried, a short bounded step apart, within the
  ``Aws``'s retry budget, each retry counted in ``Aws.retries`` and reported to ``on_retry``. In an
  executor step that has not written yet, a wait gives the worker back
  (:class:`~sstdirect.aws.context.NotYet`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Protocol

from botocore.exceptions import ClientError

from .context import current_step, wait_or_defer
from .errors import error_code, error_message

PROPAGATION_FRAGMENTS = ("cannot be assumed", "role defined for the function")


def is_propagation(service: str, exc: BaseException) -> bool:
    """Lambda refusing a role IAM has not propagated yet (HTTP 400 InvalidParameterValueException)."""
    if service != "lambda" or not isinstance(exc, ClientError) or error_code(exc) != "InvalidParameterValueException":
        return False
    message = error_message(exc).lower()
    return any(fragment in message for fragment in PROPAGATION_FRAGMENTS)


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


class Retrying(Protocol):
    """What the hook needs of the :class:`~sstdirect.aws.Aws` it is attached to (read at each call)."""

    retries: Counter[str]
    on_retry: Callable[[str, str, int], None] | None
    retry_budget_s: float


class Propagation:
    """The propagation hook: roles' birth times from IAM's client, Lambda's role-naming calls sent through the gate."""

    def __init__(self, gate: PropagationGate | None = None) -> None:
        self.gate = gate or PropagationGate()

    def attach(self, aws: Retrying, service: str, client: Any) -> None:
        if service == "iam":
            client.meta.events.register("after-call.iam.CreateRole", self._born)

    def _born(self, http_response: Any = None, parsed: Any = None, **_: Any) -> None:
        """after-call of iam.CreateRole: the role exists from now on (its propagation starts)."""
        if getattr(http_response, "status_code", 500) < 300 and isinstance(parsed, dict):
            name = (parsed.get("Role") or {}).get("RoleName")
            if name:
                self.gate.born(name, time.monotonic())

    def around(self, aws: Retrying, service: str, operation: str, params: dict[str, Any],
               send: Callable[[], Any]) -> Any:
        """``send()``, through the gate when it is a Lambda call naming a role (see the module doc)."""
        if service != "lambda" or "Role" not in params:
            return send()
        role = params.get("Role")
        ctx = current_step()
        started = time.monotonic()
        attempt = 0
        while True:
            at = self.gate.not_before(role)
            if at > 0:  # not this create's turn to probe: wait (or give the worker back) and ask again
                wait_or_defer(at, ctx, "IAM propagation")
                continue
            sent = time.monotonic()
            try:
                result = send()
            except Exception as exc:
                if not is_propagation(service, exc):
                    self.gate.answered(role, sent)  # neither accepted nor refused for its role: learn nothing
                    raise
                retry_at = self.gate.refused(role, sent)
                attempt += 1
                first = started if ctx is None else (ctx.first_refused or sent)
                if ctx is not None:
                    ctx.first_refused = first
                if time.monotonic() - first > aws.retry_budget_s:
                    raise
                aws.retries[f"{service}.{operation}:{error_code(exc)}"] += 1
                if aws.on_retry:
                    aws.on_retry(f"{service}.{operation}", error_code(exc), attempt)
                wait_or_defer(retry_at, ctx, "IAM propagation")
                continue
            self.gate.accepted(role, sent)
            return result
