"""Failures that are not kills — a denied, throttled-out or lost call — leave the lockfile equal to AWS, and
the next run converges (issue 12). The exhaustive sweep is tests/crash/test_fault_matrix.py; these are the cases
the review found, each one named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from sstdirect import Api, App, DeployError, WebSocketApi
from tests.inventory import duplicates, inventory

HANDLER = "def main(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"


def deny(session: boto3.Session, operation: str, code: str = "AccessDeniedException") -> list[int]:
    """Answer every call of ``operation`` ("apigatewayv2.DeleteApi") with ``code``; returns the call count."""
    seen: list[int] = []

    def fail(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        seen.append(1)
        http = AWSResponse("https://fault.invalid", 403, {}, None)
        return http, {"Error": {"Code": code, "Message": f"not allowed: {operation}"},
                      "ResponseMetadata": {"HTTPStatusCode": 403, "HTTPHeaders": {}}}

    session.events.register(f"before-call.{operation}", fail, unique_id=f"deny-{operation}")
    return seen


def allow(session: boto3.Session, operation: str) -> None:
    session.events.unregister(f"before-call.{operation}", unique_id=f"deny-{operation}")


def ws_app(session: boto3.Session, root: Path) -> App:
    (root / "src").mkdir(exist_ok=True)
    for name in ("connect", "disconnect", "send"):
        (root / "src" / f"{name}.py").write_text(HANDLER)
    app = App("chat", stage="dev", session=session, root=root)
    WebSocketApi(app, "Ws", routes={"$connect": "src/connect.main", "$disconnect": "src/disconnect.main",
                                    "sendMessage": "src/send.main"})
    return app


def client(session: boto3.Session) -> Any:
    return lambda service: session.client(service)


def recorded_types(app: App) -> list[str]:
    data = json.loads(Path(app.state_path).read_text())
    return sorted(r["type"] for r in data["resources"].values())


def test_a_remove_whose_api_delete_is_denied_keeps_the_api_children_in_the_lockfile(
        aws: boto3.Session, tmp_path: Path) -> None:
    app = ws_app(aws, tmp_path)
    app.deploy()
    before = inventory(client(aws))
    seen = deny(aws, "apigatewayv2.DeleteApi")
    with pytest.raises(DeployError) as err:
        app.remove()
    assert seen and "AccessDenied" in str(err.value)
    # AWS still holds the API with its routes, integrations and stage: so does the lockfile
    types = recorded_types(app)
    for kind, n in (("apigatewayv2.Api", 1), ("apigatewayv2.Route", 3), ("apigatewayv2.Integration", 3),
                    ("apigatewayv2.Stage", 1)):
        assert types.count(kind) == n, (kind, types)
    allow(aws, "apigatewayv2.DeleteApi")
    # the next deploy converges: no second stage, route or integration, and nothing left to do
    app.deploy()
    after = inventory(client(aws))
    assert not duplicates(after)
    assert after == before
    assert app.diff().is_empty
    app.remove()
    left = {k: n for k, n in inventory(client(aws)).items() if k[0] != "role" or "chat" in k[1]}
    assert not left


def http_app(session: boto3.Session, root: Path, routes: list[str]) -> App:
    (root / "src").mkdir(exist_ok=True)
    app = App("notes", stage="dev", session=session, root=root)
    table = {}
    for key in routes:
        name = key.split()[1].strip("/").replace("/", "_") or "root"
        (root / "src" / f"{name}.py").write_text(HANDLER)
        table[key] = f"src/{name}.main"
    Api(app, "Api", routes=table)
    return app


def test_a_route_made_by_hand_on_an_owned_api_is_shown_and_deleted(aws: boto3.Session, tmp_path: Path) -> None:
    app = http_app(aws, tmp_path, ["GET /a"])
    app.deploy()
    clean = inventory(client(aws))
    gw = aws.client("apigatewayv2")
    (api,) = gw.get_apis()["Items"]
    integration = gw.create_integration(ApiId=api["ApiId"], IntegrationType="HTTP_PROXY", IntegrationMethod="GET",
                                        IntegrationUri="https://example.com", PayloadFormatVersion="1.0")
    gw.create_route(ApiId=api["ApiId"], RouteKey="GET /by-hand", Target=f"integrations/{integration['IntegrationId']}")
    plan = app.diff()
    assert sorted((c.action.value, c.address) for c in plan.changes) == [
        ("delete", "Api/api/stray/integration/" + integration["IntegrationId"]),
        ("delete", "Api/api/stray/route/GET /by-hand")]
    app.deploy()
    assert inventory(client(aws)) == clean
    assert app.diff().is_empty


def test_an_older_lockfile_put_back_converges_without_a_second_copy(aws: boto3.Session, tmp_path: Path) -> None:
    """Serial 7 restored while AWS is at a later serial: nothing is made twice, the dropped route's objects
    that the old lockfile never knew are deleted, and diff() is then empty."""
    old_state = tmp_path / "old.json"
    app = http_app(aws, tmp_path, ["GET /a"])
    app.deploy()
    old_state.write_bytes(Path(app.state_path).read_bytes())
    app = http_app(aws, tmp_path, ["GET /a", "GET /b"])
    app.deploy()
    clean = inventory(client(aws))
    Path(app.state_path).write_bytes(old_state.read_bytes())  # the restored lockfile knows only GET /a
    app = http_app(aws, tmp_path, ["GET /a", "GET /b"])
    app.deploy()
    assert inventory(client(aws)) == clean and not duplicates(clean)
    assert app.diff().is_empty
    app.remove()
    assert not [k for k in inventory(client(aws)) if "notes" in str(k)]


def test_the_whole_api_lost_from_a_restored_lockfile_is_adopted_not_made_twice(
        aws: boto3.Session, tmp_path: Path) -> None:
    old_state = tmp_path / "old.json"
    app = http_app(aws, tmp_path, ["GET /a"])
    Function = __import__("sstdirect").Function
    (tmp_path / "src" / "solo.py").write_text(HANDLER)
    Function(app, "Solo", handler="src/solo.main")
    app.deploy()
    # a lockfile from before the Api existed: only the function
    data = json.loads(Path(app.state_path).read_text())
    data["resources"] = {a: r for a, r in data["resources"].items() if a.startswith("Solo")}
    old_state.write_text(json.dumps(data))
    clean = inventory(client(aws))
    Path(app.state_path).write_text(old_state.read_text())
    app = http_app(aws, tmp_path, ["GET /a"])
    Function(app, "Solo", handler="src/solo.main")
    app.deploy()
    after = inventory(client(aws))
    assert after == clean, duplicates(after)
    assert app.diff().is_empty
