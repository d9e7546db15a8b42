"""IAM policy evaluation for ``execute-api:Invoke`` on a route (pure): the route's ARN (SEMANTICS.md §4)
and whether a set of policy statements allows it (an explicit Deny wins, then any Allow; no match is an
implicit deny). Used for Lambda authorizers' policy answers and for IAM callers' own policies."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

_log = logging.getLogger("sstdirect.local.gateway")
INVOKE = "execute-api:Invoke"


def route_arn(region: str, account_id: str, api_id: str, stage: str, method: str, path: str) -> str:
    """``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{path without its leading /}`` (§4)."""
    return f"arn:aws:execute-api:{region}:{account_id}:{api_id}/{stage}/{method}/{path.lstrip('/')}"


def matches(patterns: Any, value: str, ignore_case: bool) -> bool:
    """IAM wildcards: ``*`` any run of characters (``/`` included), ``?`` one character. Actions match
    case-insensitively (IAM's rule), resource ARNs case-sensitively."""
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list):
        return False
    flags = re.IGNORECASE if ignore_case else 0
    return any(isinstance(p, str) and re.fullmatch(_glob(p), value, flags) is not None for p in patterns)


def _glob(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def _applies(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "NotAction" in statement:
        acted = not matches(statement["NotAction"], action, ignore_case=True)
    else:
        acted = matches(statement.get("Action"), action, ignore_case=True)
    if "NotResource" in statement:
        return acted and not matches(statement["NotResource"], resource, ignore_case=False)
    return acted and matches(statement.get("Resource"), resource, ignore_case=False)


def decide(statements: Iterable[dict[str, Any]], resource: str, action: str = INVOKE) -> bool:
    """Whether ``statements`` allow ``action`` on ``resource``. Conditions cannot be evaluated locally: an
    Allow with a ``Condition`` is not honoured and a Deny with one is (INFERRED: refuse rather than let
    through what AWS might refuse)."""
    allowed = False
    for statement in statements:
        if not _applies(statement, action, resource):
            continue
        effect = str(statement.get("Effect", "")).lower()
        if effect == "deny":
            return False
        if effect == "allow":
            if "Condition" in statement:
                _log.warning("a policy statement allowing %s on %s has a Condition, which the local gateway "
                             "cannot evaluate: not honoured", action, resource)
                continue
            allowed = True
    return allowed


def statements_of(document: Any) -> list[dict[str, Any]]:
    """The statements of a policy document (a dict, or its JSON text, possibly URL-encoded)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            document = json.loads(unquote(document))
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    return [s for s in statements or [] if isinstance(s, dict)]
