"""SST's permission forms → IAM policy statements."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

_ACTION = re.compile(r"^[a-z0-9-]+(:[A-Za-z0-9*?]+)?\Z")
_STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Principal"}
_LOWER = {"effect": "Effect", "actions": "Action", "resources": "Resource", "conditions": "Condition"}


def statements(label: str, permissions: Any) -> list[dict[str, Any]]:
    """IAM statements for a list of permissions.

    ``"*"`` → everything; ``"s3"`` → ``s3:*`` on ``*``; ``"s3:GetObject"`` as is on ``*``; a construct
    with ``_grant_statement()`` (an Api, ...) → a grant scoped to its ARN; a dict → an IAM statement
    (IAM's keys, or ``actions``/``resources``/``effect``).
    """
    if permissions is None:
        return []
    if not isinstance(permissions, list | tuple):
        raise ConfigError(f"{label}: permissions must be a list (e.g. ['s3', 'dynamodb:GetItem']), "
                          f"not {permissions!r}")
    out: list[dict[str, Any]] = []
    for p in permissions:
        if isinstance(p, str):
            if p == "*":
                out.append({"Effect": "Allow", "Action": "*", "Resource": "*"})
            elif _ACTION.match(p):
                action = p if ":" in p else f"{p}:*"
                out.append({"Effect": "Allow", "Action": action, "Resource": "*"})
            else:
                raise ConfigError(f"{label}: permission {p!r} is not a service ('s3') or an action "
                                  f"('s3:GetObject')")
        elif hasattr(p, "_grant_statement"):
            out.append(p._grant_statement())
        elif isinstance(p, Mapping):
            st = {_LOWER.get(k, k): v for k, v in p.items()}
            unknown = set(st) - _STATEMENT_KEYS
            if unknown:
                raise ConfigError(f"{label}: permission statement has unknown key(s) {sorted(unknown)}; "
                                  f"use IAM's keys (Effect, Action, Resource, Condition)")
            if "Action" not in st and "NotAction" not in st:
                raise ConfigError(f"{label}: permission statement {dict(p)!r} needs 'Action'")
            st.setdefault("Effect", "Allow")
            st.setdefault("Resource", "*")
            out.append(st)
        else:
            raise ConfigError(f"{label}: cannot grant {p!r}; use a service name, an action, a construct "
                              f"or an IAM statement dict")
    return out
