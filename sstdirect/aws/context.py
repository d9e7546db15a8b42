"""The executor step a call is made for, and how a wait before its first write gives the worker back.

The executor runs each attempt of a step inside :func:`step_context`. Until the step's first write
succeeds, a wait (an API Gateway pacing slot, the IAM-propagation gate) longer than a moment is not
slept: :func:`wait_or_defer` raises :class:`NotYet` and the executor re-queues the step with that
not-before time. After a write, or outside a step, it sleeps.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass


class NotYet(Exception):
    """The current executor step cannot usefully send its first write before ``until`` (monotonic).

    Raised only inside a :func:`step_context` whose step has made no write yet, so re-running the step
    from the start is safe; the executor re-queues it with that not-before time instead of holding a
    worker thread while it waits. Outside a step context :class:`~sstdirect.aws.Aws` sleeps instead.
    """

    def __init__(self, until: float, reason: str) -> None:
        super().__init__(f"not before {until:.3f} ({reason})")
        self.until = until
        self.reason = reason


@dataclass
class StepContext:
    """What :class:`~sstdirect.aws.Aws` knows of the executor step running in this thread (kept across re-runs)."""

    wrote: bool = False  # a write of this attempt succeeded: the step can no longer be re-run
    slot: float | None = None  # an API Gateway pacing slot reserved by an earlier attempt
    first_refused: float | None = None  # when the IAM-propagation error was first seen (budget)

    @property
    def deferrable(self) -> bool:
        return not self.wrote


_STEP: contextvars.ContextVar[StepContext | None] = contextvars.ContextVar("sstdirect_step", default=None)


@contextlib.contextmanager
def step_context(ctx: StepContext) -> Iterator[StepContext]:
    """Run one attempt of an executor step: :class:`~sstdirect.aws.Aws` may raise :class:`NotYet` until it writes."""
    ctx.wrote = False
    token = _STEP.set(ctx)
    try:
        yield ctx
    finally:
        _STEP.reset(token)


def current_step() -> StepContext | None:
    """The step this thread runs an attempt of (None outside :func:`step_context`)."""
    return _STEP.get()


def wrote() -> None:
    """A write of the current step succeeded: from now on it waits in place."""
    ctx = _STEP.get()
    if ctx is not None:
        ctx.wrote = True


def wait_or_defer(until: float, ctx: StepContext | None, reason: str) -> None:
    """Wait until ``until`` (monotonic): sleep, or raise :class:`NotYet` in a step that has not written yet."""
    delay = until - time.monotonic()
    if delay <= 0:
        return
    if ctx is not None and ctx.deferrable:
        raise NotYet(until, reason)
    time.sleep(delay)
