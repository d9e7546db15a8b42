"""Small helpers shared by providers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` → ``[{"Key": "k", "Value": "v"}]`` (IAM, ...)."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def plain(value: Any) -> Any:
    """Spec data (FrozenDict/tuples) → plain dicts/lists for boto3."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value
