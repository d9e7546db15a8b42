"""The one boundary to AWS. Every AWS request sstdirect makes goes through an :class:`Aws` object.

One job per module:

- :mod:`.client`: :class:`Aws` (sessions, clients, calls with bounded retries, pagination, call counting,
  shared reads, credentials) and the :class:`~.client.CallHook` interface through which the concerns of
  some services are attached to it;
- :mod:`.errors`: the retry table and the predicates (:func:`is_transient`, :func:`is_not_found`,
  :func:`is_already_exists`, :func:`is_mutating`);
- :mod:`.pacing`: API Gateway's requests paced under its account bucket (:class:`TokenBucket`);
- :mod:`.propagation`: Lambda's calls naming a role gated by the role's age (:class:`PropagationGate`);
- :mod:`.context`: the executor step a call is made for (:class:`StepContext`, :func:`step_context`), and
  :class:`NotYet`, by which a step that waits before its first write gives its worker back;
- :mod:`.waiters`: sstdirect's own waits as botocore waiter models (data).
"""

from __future__ import annotations

from .client import DEFAULT_PAGE_TOKENS, PAGE_TOKENS, Aws, CallHook, RetryHook, page_tokens
from .context import NotYet, StepContext, current_step, step_context, wait_or_defer
from .errors import (
    MUTATING_PREFIXES,
    NOT_FOUND,
    THROTTLING,
    TRANSIENT,
    botocore_attempt,
    error_code,
    is_already_exists,
    is_mutating,
    is_not_found,
    is_transient,
)
from .pacing import APIGATEWAY_BURST, APIGATEWAY_RATE, DEFER_AFTER_S, PACED_SERVICES, Pacing, TokenBucket
from .propagation import PROPAGATION_FRAGMENTS, Propagation, PropagationGate, is_propagation

__all__ = [
    "APIGATEWAY_BURST",
    "APIGATEWAY_RATE",
    "DEFAULT_PAGE_TOKENS",
    "DEFER_AFTER_S",
    "MUTATING_PREFIXES",
    "NOT_FOUND",
    "PACED_SERVICES",
    "PAGE_TOKENS",
    "PROPAGATION_FRAGMENTS",
    "THROTTLING",
    "TRANSIENT",
    "Aws",
    "CallHook",
    "NotYet",
    "Pacing",
    "Propagation",
    "PropagationGate",
    "RetryHook",
    "StepContext",
    "TokenBucket",
    "botocore_attempt",
    "current_step",
    "error_code",
    "is_already_exists",
    "is_mutating",
    "is_not_found",
    "is_propagation",
    "is_transient",
    "page_tokens",
    "step_context",
    "wait_or_defer",
]
