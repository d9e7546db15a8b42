"""Lambda behaviour moto 5.2.5 gets wrong for the calls the provisioner makes.

* ``AddPermission`` with a ``StatementId`` the function's policy already holds: moto stores the
  statement twice; AWS answers ``ResourceConflictException`` (HTTP 409) and keeps the policy as is.
  The check sits in moto's ``Policy.add_statement``, which both the Docker and the Docker-less
  (``use_docker: false``) Lambda backends use, so it covers layer-version permissions too.
"""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.policy import Policy


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


def install() -> None:
    """Apply the corrections above to moto (call once; ``ext.install`` guards that)."""
    Policy.add_statement = _wrap_add_statement(Policy.add_statement)  # type: ignore[method-assign]
