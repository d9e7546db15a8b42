"""The exception tree of sstdirect.

::

    SstDirectError
    ├── ConfigError        bad input; nothing was written (and nothing called when bad on its face)
    ├── StateLockedError   another process holds the lockfile; names the holder
    ├── StateError         the lockfile cannot be used; it is never overwritten
    └── DeployError        an AWS failure after retries; names resource, operation and error code

The CLI maps them to exit codes: ConfigError 2, StateLockedError 3, everything else 1.
"""

from __future__ import annotations


class SstDirectError(Exception):
    """Base class of every error sstdirect raises on purpose."""

    exit_code = 1


class ConfigError(SstDirectError, ValueError):
    """Bad input: raised before any AWS write (before any call when the input is bad on its face)."""

    exit_code = 2


class StateLockedError(SstDirectError):
    """Another process holds the lockfile's lock. ``holder`` describes it (pid, host, operation, time)."""

    exit_code = 3

    def __init__(self, message: str, holder: dict | None = None):
        super().__init__(message)
        self.holder = holder or {}


class StateError(SstDirectError):
    """The lockfile cannot be read or does not belong to this app; the file is left untouched."""


class DeployError(SstDirectError):
    """An AWS call failed after retries.

    ``address`` is the resource's logical address, ``operation`` the AWS operation
    (``"lambda.CreateFunction"``) and ``code`` AWS's error code.
    """

    def __init__(self, message: str, *, address: str = "", operation: str = "", code: str = ""):
        super().__init__(message)
        self.address = address
        self.operation = operation
        self.code = code


def did_you_mean(key: str, valid: list[str] | tuple[str, ...] | set[str]) -> str:
    """A hint for an unknown option ``key``: its snake_case spelling or the closest valid option."""
    import difflib
    import re

    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
    if snake != key and snake in valid:
        return f"use {snake!r} (snake_case), not {key!r}"
    close = difflib.get_close_matches(snake, sorted(valid), n=1, cutoff=0.5)
    if close:
        return f"did you mean {close[0]!r}?"
    return "valid options: " + ", ".join(sorted(valid))
