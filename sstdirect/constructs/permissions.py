"""SST's permission forms → IAM policy statements."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..engine.values import Fmt, Ref
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
                raise ConfigError(f"{label}: permission statement has unknown key(s) {sorted(map(repr, unknown))}; "
                                  f"use IAM's keys (Effect, Action, Resource, Condition)")
            if "Action" not in st and "NotAction" not in st:
                raise ConfigError(f"{label}: permission statement {dict(p)!r} needs 'Action'")
            st.setdefault("Effect", "Allow")
            st.setdefault("Resource", "*")
            _check_statement(label, st)
            out.append(st)
        else:
            raise ConfigError(f"{label}: cannot grant {p!r}; use a service name, an action, a construct "
                              f"or an IAM statement dict")
    return out


def _names(value: Any) -> bool:
    """A string (or a value known after deploy) or a non-empty list of them: IAM's Action / Resource forms."""
    def one(v: Any) -> bool:
        return (isinstance(v, str) and bool(v)) or isinstance(v, Ref | Fmt) or hasattr(v, "__sstdirect_ref__")

    return one(value) or (isinstance(value, list | tuple) and bool(value) and all(one(v) for v in value))


def _check_statement(label: str, st: Mapping[str, Any]) -> None:
    """The IAM statement's values have IAM's types (else IAM refuses the policy mid-deploy)."""
    if st["Effect"] not in ("Allow", "Deny"):
        raise ConfigError(f"{label}: permission statement Effect must be 'Allow' or 'Deny', not {st['Effect']!r}")
    for key in ("Action", "NotAction", "Resource", "NotResource"):
        if key in st and not _names(st[key]):
            raise ConfigError(f"{label}: permission statement {key} must be a string or a list of strings "
                              f"(e.g. 's3:GetObject' or ['arn:aws:s3:::bucket/*']), not {st[key]!r}")
    if "Condition" in st and not isinstance(st["Condition"], Mapping):
        raise ConfigError(f"{label}: permission statement Condition must be a dict, not {st['Condition']!r}")
    if "Sid" in st and not (isinstance(st["Sid"], str) and st["Sid"].isalnum()):
        raise ConfigError(f"{label}: permission statement Sid must be letters and digits, not {st['Sid']!r}")
    if "Principal" in st and not (isinstance(st["Principal"], Mapping) or st["Principal"] == "*"):
        raise ConfigError(f"{label}: permission statement Principal must be '*' or a dict, not {st['Principal']!r}")
