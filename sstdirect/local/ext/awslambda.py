"""Lambda behaviour moto 5.2.5 gets wrong for the calls the provisioner makes.

* ``AddPermission`` with a ``StatementId`` the function's policy already holds: moto stores the
  statement twice; AWS answers ``ResourceConflictException`` (HTTP 409) and keeps the policy as is.
  The check sits in moto's ``Policy.add_statement``, which both the Docker and the Docker-less
  (``use_docker: false``) Lambda backends use, so it covers layer-version permissions too.
* ``RevisionId``: moto reports none for a function and keeps its policy's apart. On AWS a function
  (``$LATEST``) has one revision id, returned by ``GetFunctionConfiguration``/``ListFunctions`` and
  by ``GetPolicy``, that changes on every code, configuration or policy change (``AddPermission``,
  ``RemovePermission``); sstdirect's refresh relies on that to skip ``GetPolicy`` of unchanged functions.
  (LocalStack's parity tests against AWS found the same: "the revision id of the policy actually
  corresponds to the one of the function version", localstack/localstack#7482.)
* ``ListFunctions`` pages: moto returns every function in one answer. AWS "returns a maximum of 50
  items in each response, even if you set the number higher" (``MaxItems``, 1-10000) and a
  ``NextMarker`` for the rest. Here: by function name, ``min(MaxItems, 50)`` a page, an opaque marker.
* ``Invoke``: moto runs the code only in Docker, and without Docker echoes the payload. Here it runs the
  deployed code in the local gateway's warm workers (:mod:`sstdirect.local.ext.lambda_invoke`), for every
  invocation type, with ``LogType=Tail`` and Lambda's function errors.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction
from moto.awslambda.policy import Policy
from moto.awslambda.responses import LambdaResponse
from moto.moto_api._internal import mock_random
from moto.utilities.aws_headers import amz_crc32


class StatementIdAlreadyExists(LambdaClientError):
    code = 409

    def __init__(self, statement_id: str) -> None:
        super().__init__(
            "ResourceConflictException",
            f"The statement id ({statement_id}) provided already exists. Please provide a new "
            "statement id, or remove the existing statement.",
        )


def _wrap_add_statement(original: Any) -> Any:
    def add_statement(self: Policy, raw: str, qualifier: str | None = None) -> tuple[Any, str]:
        statement_id = json.loads(raw).get("StatementId")
        if statement_id and any(s.get("Sid") == statement_id for s in self.statements):
            raise StatementIdAlreadyExists(statement_id)
        return original(self, raw, qualifier)

    return add_statement


def _revision(fn: Any) -> str:
    """The function's revision id (made on first use: moto's functions have none)."""
    revision = getattr(fn, "_sstdirect_revision", None)
    if revision is None:
        revision = fn._sstdirect_revision = str(mock_random.uuid4())
    return revision


def _bump(fn: Any) -> None:
    fn._sstdirect_revision = str(mock_random.uuid4())
    if getattr(fn, "policy", None) is not None:
        fn.policy.revision = fn._sstdirect_revision


def _function_of(policy: Policy) -> Any:
    return policy.parent if isinstance(policy.parent, LambdaFunction) else None


def _wrap_policy_change(original: Any) -> Any:
    def change(self: Policy, *args: Any, **kwargs: Any) -> Any:
        fn = _function_of(self)
        if fn is not None:
            self.revision = _revision(fn)  # a RevisionId precondition compares against the function's
        result = original(self, *args, **kwargs)
        if fn is not None:
            _bump(fn)
            if isinstance(result, tuple):
                result = (result[0], fn._sstdirect_revision)
        return result

    return change


def _wrap_get_policy(original: Any) -> Any:
    def get_policy(self: Policy) -> dict[str, Any]:
        policy = original(self)
        fn = _function_of(self)
        if fn is not None:
            policy["RevisionId"] = _revision(fn)
        return policy

    return get_policy


def _wrap_configuration(original: Any) -> Any:
    def get_configuration(self: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        config = original(self, *args, **kwargs)
        config["RevisionId"] = _revision(self)
        return config

    return get_configuration


def _wrap_update(original: Any) -> Any:
    def update(self: Any, *args: Any, **kwargs: Any) -> Any:
        _bump(self)  # before: the update's response (its configuration) carries the new id
        return original(self, *args, **kwargs)

    return update


LIST_FUNCTIONS_PAGE = 50


class InvalidParameterValue(LambdaClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidParameterValueException", message)


def _list_functions(self: LambdaResponse) -> str:
    """``ListFunctions`` at most :data:`LIST_FUNCTIONS_PAGE` a page (see module docstring)."""
    query = self.querystring
    version = query.get("FunctionVersion", [None])[0]
    try:
        wanted = int(query.get("MaxItems", [LIST_FUNCTIONS_PAGE])[0])
    except ValueError:
        wanted = 0
    if not 1 <= wanted <= 10000:
        raise InvalidParameterValue("1 validation error detected: Value at 'maxItems' failed to satisfy "
                                    "constraint: Member must have value between 1 and 10000")
    marker = query.get("Marker", [None])[0]
    start: tuple[str, ...] = ()
    if marker:
        try:
            start = tuple(base64.urlsafe_b64decode(marker.encode()).decode().split("\0"))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise InvalidParameterValue(f"Invalid marker: {marker}") from None

    def key(fn: Any) -> tuple[str, ...]:  # a name and a version (several with FunctionVersion=ALL)
        return fn.function_name, str(getattr(fn, "version", ""))

    functions = sorted((fn for fn in self.backend.list_functions(version) if key(fn) >= start), key=key)
    size = min(wanted, LIST_FUNCTIONS_PAGE)
    page: dict[str, Any] = {"Functions": [fn.get_configuration() for fn in functions[:size]]}
    if len(functions) > size:  # the next page starts at the next function
        page["NextMarker"] = base64.urlsafe_b64encode("\0".join(key(functions[size])).encode()).decode()
    return json.dumps(page)


class InvalidRequestContent(LambdaClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestContentException", message)


class TooManyRequests(LambdaClientError):
    code = 429

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")


INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


@amz_crc32
def _invoke(self: LambdaResponse) -> tuple[int, dict[str, str], bytes]:
    """``Invoke`` running the deployed code (see :mod:`sstdirect.local.ext.lambda_invoke`)."""
    from urllib.parse import unquote

    from . import lambda_invoke

    name = unquote(self.path.rsplit("/", 2)[-2])
    fn = self.backend.get_function(name, self.querystring.get("Qualifier", [None])[0])  # unknown → 404
    invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    if invocation_type not in INVOCATION_TYPES:
        raise InvalidParameterValue(f"1 validation error detected: Value '{invocation_type}' at 'invocationType' "
                                    f"failed to satisfy constraint: Member must satisfy enum value set: "
                                    f"[Event, RequestResponse, DryRun]")
    payload = self.body if isinstance(self.body, bytes) else (self.body or "").encode()
    try:
        if payload.strip():
            json.loads(payload)
    except ValueError:
        raise InvalidRequestContent("Could not parse request body into json: Could not parse payload into "
                                    "json") from None
    request = getattr(self, "normalized_request", None)  # a LocalCloud request's environ names its workers
    workers = lambda_invoke.workers_for(getattr(request, "environ", None))
    try:
        status, headers, body = lambda_invoke.answer(workers, fn, payload, invocation_type,
                                                     self.headers.get("X-Amz-Log-Type") or "")
    except lambda_invoke.TooManyRequests:
        raise TooManyRequests() from None
    return status, {**headers, "status": str(status)}, body  # moto takes the status from the headers


def install() -> None:
    """Apply the corrections above to moto (call once; ``ext.install`` guards that)."""
    Policy.add_statement = _wrap_add_statement(  # type: ignore[method-assign]
        _wrap_policy_change(Policy.add_statement))
    Policy.del_statement = _wrap_policy_change(Policy.del_statement)  # type: ignore[method-assign]
    Policy.get_policy = _wrap_get_policy(Policy.get_policy)  # type: ignore[method-assign]
    LambdaFunction.get_configuration = _wrap_configuration(  # type: ignore[method-assign]
        LambdaFunction.get_configuration)
    LambdaFunction.update_configuration = _wrap_update(  # type: ignore[method-assign]
        LambdaFunction.update_configuration)
    LambdaFunction.update_function_code = _wrap_update(  # type: ignore[method-assign]
        LambdaFunction.update_function_code)
    LambdaResponse.list_functions = _list_functions  # type: ignore[method-assign]
    LambdaResponse.invoke = _invoke  # type: ignore[method-assign]
