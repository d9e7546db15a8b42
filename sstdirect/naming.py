"""Physical names: ``{stage}-{app}-{id}``, sanitized, truncated with a short hash where AWS limits length."""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def slug(text: str) -> str:
    """``"GET /notes/{id}"`` → ``"GET-notes-id"``: only letters, digits, ``-`` and ``_``."""
    return _UNSAFE.sub("-", text).strip("-") or "root"


def short_hash(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def physical_name(stage: str, app: str, *parts: str, max_len: int = 64) -> str:
    """``{stage}-{app}-{parts...}``; if longer than ``max_len``, cut and end with a hash of the whole."""
    name = "-".join(slug(p) for p in (stage, app, *parts))
    if len(name) <= max_len:
        return name
    digest = short_hash(name)
    return f"{name[: max_len - len(digest) - 1]}-{digest}"


def name_prefix(stage: str, app: str) -> str:
    """How every physical name of ``app`` at ``stage`` starts (``physical_name`` never cuts into it)."""
    return f"{slug(stage)}-{slug(app)}-"
