"""Turning AWS failures into DeployError (resource, operation, AWS's error code)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import error_code
from ..errors import DeployError, SstDirectError


@contextlib.contextmanager
def wrap_aws_error(address: str, action: str) -> Iterator[None]:
    """Re-raise an AWS failure inside the block as a DeployError naming ``address``."""
    try:
        yield
    except SstDirectError:
        raise
    except (ClientError, BotoCoreError, NotImplementedError) as exc:
        operation = getattr(exc, "sstdirect_operation", "") or _operation_of(exc)
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "") if isinstance(exc, ClientError) else str(exc)
        if isinstance(exc, NotImplementedError):
            message = f"the AWS endpoint does not implement this operation ({exc or 'NotImplementedError'})"
        raise DeployError(
            f"{action} {address} failed: {operation or 'AWS'} returned {code}: {message}",
            address=address,
            operation=operation,
            code=code,
        ) from exc


def _operation_of(exc: BaseException) -> str:
    return str(getattr(exc, "operation_name", "") or "")
