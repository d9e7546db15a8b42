"""Lambda (``CUSTOM`` / ``REQUEST``) authorizers of HTTP APIs, pure: their events, their answers, a cache.

* :func:`authorizer_event` - the authorizer's event, payload 2.0 (``type``, ``routeArn``, ``identitySource``
  as a list, the request as a 2.0 event without its body) or 1.0 (``methodArn``, ``identitySource`` and
  ``authorizationToken`` as comma-joined strings, the request as a 1.0 event without its body, its
  ``pathParameters`` and ``stageVariables`` ``{}`` when empty, not ``null``).
* :func:`decide` - the authorizer's result → :class:`Decision`: a simple response (``{"isAuthorized": bool,
  "context": {...}}``, when the authorizer enables simple responses) or an IAM policy response
  (``{"principalId", "policyDocument": {"Statement": [...]}, "context"}``) evaluated against the route's
  ``execute-api`` ARN (explicit Deny wins, then any Allow; ``*`` and ``?`` wildcards). A result that is
  neither is :class:`InvalidAuthorizerResponse` (the gateway answers 500).
* :class:`ResultCache` - results kept for the authorizer's TTL, keyed by the identity source values.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from . import auth_policy

AUTHORIZER_TIMEOUT_S = 10.0  # "authorizer response timeout 10000 ms" (SEMANTICS.md §8)


class InvalidAuthorizerResponse(ValueError):
    """The authorizer answered something that is neither a simple nor an IAM policy response."""


def authorizer_event(version: str, request_event: dict[str, Any], arn: str,
                     identity: Sequence[str]) -> dict[str, Any]:
    """The authorizer's event built from the integration event of the same request (2.0 or 1.0 shape)."""
    event = {k: v for k, v in request_event.items() if k not in ("body", "isBase64Encoded")}
    if version == "2.0":
        event.update(version="2.0", type="REQUEST", routeArn=arn, identitySource=list(identity))
        order = ("version", "type", "routeArn", "identitySource", "routeKey", "rawPath", "rawQueryString")
    else:
        joined = ",".join(identity)
        event.update(version="1.0", type="REQUEST", methodArn=arn, identitySource=joined,
                     authorizationToken=joined)
        # {} when empty (SEMANTICS.md §11; aws-lambda-go apigw-v2-custom-authorizer-v1-request.json,
        # powertools apiGatewayAuthorizerRequestEvent.json), where the integration's 1.0 event has null
        for key in ("pathParameters", "stageVariables"):
            event[key] = event.get(key) or {}
        order = ("version", "type", "methodArn", "identitySource", "authorizationToken", "resource", "path",
                 "httpMethod")
    return {**{k: event[k] for k in order if k in event}, **event}


@dataclass(frozen=True)
class Decision:
    """What an authorizer decided: ``allowed``, and the ``context`` (None when it returned none) and
    ``principal_id`` passed on to the integration."""

    allowed: bool
    context: dict[str, Any] | None = None
    principal_id: str | None = None


@dataclass(frozen=True)
class _Answer:
    """A validated authorizer result, kept by the cache and decided per route."""

    simple: bool
    authorized: bool = False
    statements: tuple[dict[str, Any], ...] = ()
    context: dict[str, Any] | None = None
    principal_id: str | None = None


def parse_answer(result: Any, simple: bool) -> _Answer:
    """Check a result's shape (:class:`InvalidAuthorizerResponse` when wrong)."""
    if not isinstance(result, dict):
        raise InvalidAuthorizerResponse(f"the authorizer returned {type(result).__name__}, not an object")
    context = result.get("context")
    if context is not None and not isinstance(context, dict):
        raise InvalidAuthorizerResponse("context must be an object")
    if simple:
        authorized = result.get("isAuthorized")
        if not isinstance(authorized, bool):
            raise InvalidAuthorizerResponse("a simple response needs isAuthorized: true or false")
        return _Answer(True, authorized=authorized, context=context)
    document = result.get("policyDocument")
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        raise InvalidAuthorizerResponse("an IAM policy response needs policyDocument.Statement")
    principal = result.get("principalId")
    return _Answer(False, statements=tuple(statements), context=context,
                   principal_id=str(principal) if principal is not None else None)


def decide(answer: _Answer, arn: str) -> Decision:
    """Allow or deny ``arn`` (the route's ``execute-api`` ARN) by the authorizer's answer."""
    if answer.simple:
        return Decision(answer.authorized, answer.context)
    return Decision(auth_policy.decide(answer.statements, arn), answer.context, answer.principal_id)


class ResultCache:
    """Authorizer answers by ``(authorizer id, identity source values)``, each kept ``ttl_s`` seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._items: dict[tuple[str, tuple[str, ...]], tuple[float, _Answer]] = {}
        self._lock = threading.Lock()

    def get(self, authorizer_id: str, identity: Sequence[str]) -> _Answer | None:
        with self._lock:
            item = self._items.get((authorizer_id, tuple(identity)))
            if item is None:
                return None
            if self.clock() >= item[0]:
                del self._items[(authorizer_id, tuple(identity))]
                return None
            return item[1]

    def put(self, authorizer_id: str, identity: Sequence[str], answer: _Answer, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        with self._lock:
            self._items[(authorizer_id, tuple(identity))] = (self.clock() + ttl_s, answer)
