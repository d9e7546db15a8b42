"""Injected AWS faults (botocore event hooks on the injected session): bounded retries, and clear failures."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from sstdirect import Api, App, DeployError


@pytest.fixture
def session(aws: boto3.Session) -> boto3.Session:
    return aws


def inject(session: boto3.Session, operation: str, code: str, message: str, times: int,
           status: int = 400) -> Counter[str]:
    """Make the next ``times`` calls of ``operation`` ("lambda.CreateFunction") fail with ``code``."""
    seen: Counter[str] = Counter()

    def fail(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        seen["calls"] += 1
        if seen["failed"] >= times:
            return None
        seen["failed"] += 1
        http = AWSResponse("https://fault.invalid", status, {}, None)
        return http, {"Error": {"Code": code, "Message": message},
                      "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}}

    session.events.register(f"before-call.{operation}", fail)
    return seen


def make_app(session: boto3.Session, root: Path) -> tuple[App, Api]:
    (root / "src").mkdir(exist_ok=True)
    for name in ("a", "b"):
        (root / "src" / f"{name}.py").write_text(f"def main(e, c):\n    return {name!r}\n")
    app = App("faults", stage="dev", session=session, root=root)
    return app, Api(app, "Api", routes={"GET /a": "src/a.main", "GET /b": "src/b.main"})


@pytest.mark.parametrize(("operation", "code", "message", "status"), [
    ("lambda.CreateFunction", "InvalidParameterValueException",
     "The role defined for the function cannot be assumed by Lambda.", 400),
    ("lambda.UpdateFunctionCode", "ResourceConflictException",
     "The operation cannot be performed at this time. An update is in progress for resource: x", 409),
    ("apigatewayv2.CreateRoute", "ConflictException",
     "Unable to complete operation due to concurrent modification. Please try again later.", 409),
    ("iam.PutRolePolicy", "NoSuchEntity", "The role with name x cannot be found.", 404),
])
def test_transient_faults_are_retried_and_reported(session: boto3.Session, tmp_path: Path, operation: str,
                                                   code: str, message: str, status: int) -> None:
    app, api = make_app(session, tmp_path)
    if operation == "lambda.UpdateFunctionCode":
        app.deploy()
        (tmp_path / "src" / "a.py").write_text("def main(e, c):\n    return 'changed'\n")
    seen = inject(session, operation, code, message, times=2, status=status)
    retried: list[tuple[str, str, int]] = []
    result = app.deploy(on_retry=lambda op, c, n: retried.append((op, c, n)))
    assert seen["failed"] == 2
    assert result.retries[f"{operation}:{code}"] == 2
    assert len(retried) == 2 and all(r[:2] == (operation, code) for r in retried)
    assert app.diff().is_empty and isinstance(api.url, str)


def test_a_permanent_fault_stops_with_a_deploy_error_and_the_next_deploy_completes(
        session: boto3.Session, tmp_path: Path) -> None:
    app, _ = make_app(session, tmp_path)
    seen = inject(session, "apigatewayv2.CreateStage", "AccessDeniedException", "not allowed", times=1, status=403)
    with pytest.raises(DeployError) as info:
        app.deploy()
    err = info.value
    assert (err.address, err.operation, err.code) == ("Api/stage", "apigatewayv2.CreateStage", "AccessDeniedException")
    assert "Api/stage" in str(err) and "AccessDeniedException" in str(err)
    assert seen["calls"] == 1  # not retried
    recorded = json.loads(app.state_path.read_text())["resources"]
    assert recorded["Api/api"]["status"] == "created"  # what succeeded before it is in the lockfile
    assert recorded["Api/stage"]["status"] == "creating"
    result = app.deploy()  # the fault is gone: the next deploy completes, without duplicates
    assert {c.address for c in result.changes} >= {"Api/stage"}
    assert len(session.client("apigatewayv2").get_apis()["Items"]) == 1
    assert app.diff().is_empty


def test_unimplemented_operation_fails_fast_not_retried(session: boto3.Session, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    app, _ = make_app(session, tmp_path)

    def missing(self: Any) -> Any:
        raise NotImplementedError("create_stage")

    monkeypatch.setattr(ApiGatewayV2Response, "create_stage", missing)
    with pytest.raises(DeployError) as info:
        app.deploy()
    assert info.value.code == "NotImplemented" and "does not implement" in str(info.value)
