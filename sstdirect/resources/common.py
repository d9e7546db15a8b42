"""Small helpers shared by providers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from ..aws import is_not_found


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` → ``[{"Key": "k", "Value": "v"}]`` (IAM, ...)."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


@contextlib.contextmanager
def gone_is_fine() -> Iterator[None]:
    """Swallow 'not found' errors: a delete of something already gone succeeded."""
    try:
        yield
    except Exception as exc:
        if not is_not_found(exc):
            raise


def first(found: list[Any]) -> Any:
    """The first of ``find_all``'s answers, or None (what ``find`` returns)."""
    return found[0] if found else None


def plain(value: Any) -> Any:
    """Spec data (FrozenDict/tuples) → plain dicts/lists for boto3."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value
