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
"""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction
from moto.awslambda.policy import Policy
from moto.moto_api._internal import mock_random


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
