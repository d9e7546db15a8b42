"""Client-side pacing of the services that share API Gateway's account-level control-plane bucket.

:class:`Pacing` is a hook of :class:`~sstdirect.aws.Aws` (see :class:`~sstdirect.aws.client.CallHook`): on
each client of :data:`PACED_SERVICES` it registers, as botocore event handlers, a ``before-send`` that
waits for a slot of a :class:`TokenBucket` (a little below 10/s, burst 40) so no request is spent on a
429, and a ``needs-retry`` that empties the bucket when AWS throttled anyway. In an executor step that
has not written yet, a long wait for a slot gives the worker back (:class:`~sstdirect.aws.context.NotYet`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .context import NotYet, current_step
from .errors import botocore_attempt

# Services sharing API Gateway's account-level control-plane bucket (10 req/s, burst 40; it "can't be
# increased"). Pacing a little below 10/s: pacing at exactly 10/s still drew throttles (PERF.md).
PACED_SERVICES = ("apigateway", "apigatewayv2")
APIGATEWAY_RATE = 9.5
APIGATEWAY_BURST = 40
# A step that would wait longer than this for its pacing slot gives its worker back (NotYet).
DEFER_AFTER_S = 0.3


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


class Pacing:
    """The pacing hook: one :class:`TokenBucket` for every client of :data:`PACED_SERVICES`."""

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket

    @classmethod
    def default(cls, rate: float | None = None, burst: int | None = None) -> Pacing | None:
        """The hook at ``rate``/``burst`` (default :data:`APIGATEWAY_RATE`/:data:`APIGATEWAY_BURST`, read
        when called); None for rate 0 (unpaced)."""
        rate = APIGATEWAY_RATE if rate is None else rate
        burst = APIGATEWAY_BURST if burst is None else burst
        return cls(TokenBucket(rate, burst)) if rate else None

    def attach(self, aws: object, service: str, client: Any) -> None:
        if service in PACED_SERVICES:
            # first: ahead of any handler that answers the request itself (in-process moto)
            client.meta.events.register_first("before-send", self._pace)
            client.meta.events.register("needs-retry", self._throttled)

    def around(self, aws: object, service: str, operation: str, params: dict[str, Any], send: Any) -> Any:
        return send()

    def _pace(self, request: Any = None, **_: Any) -> None:
        """before-send of a paced service: wait for a slot of the bucket (botocore's retries too).

        In an executor step that has not written yet, a long wait gives the worker back: the slot
        stays booked for the step's next attempt. A botocore retry waits in place instead, so that it
        stays a retry (counted in ``Aws.retries``, reported to ``on_retry``) rather than a new request."""
        ctx = current_step()
        if ctx is not None and ctx.slot is not None:
            at, ctx.slot = ctx.slot, None
        else:
            at = self.bucket.reserve()
        delay = at - time.monotonic()
        if delay > DEFER_AFTER_S and ctx is not None and ctx.deferrable and botocore_attempt(request) is None:
            ctx.slot = at
            raise NotYet(at, "API Gateway pacing")
        if delay > 0:
            time.sleep(delay)

    def _throttled(self, response: Any = None, **_: Any) -> None:
        """needs-retry of a paced service: a 429 means AWS's bucket is empty (another client, or a
        deploy just before this one, used it): empty ours too, so what follows is paced at the rate."""
        http = response[0] if isinstance(response, tuple) and response else None
        if getattr(http, "status_code", None) == 429:
            self.bucket.drain()
