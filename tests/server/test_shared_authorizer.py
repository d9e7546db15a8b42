"""One Function as the Lambda authorizer of several APIs (issue 12).

Lambda keeps one resource policy per function, and ``AddPermission`` refuses a statement id the policy
already holds ("The statement id (...) provided already exists", ``ResourceConflictException``; the
embedded AWS answers the same, see ``tests/moto/test_local_ext.py``). So every invoke permission sstdirect adds
needs an id that is unique on its function — not just within its API: the authorizer's id was
``sstdirect-authorizer-{name}``, and a second API with an authorizer of that name failed the deploy.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from sstdirect import Api, App, AppSyncApi, Cognito, Function, WebSocketApi
from sstdirect.aws import is_mutating

if TYPE_CHECKING:
    from sstdirect.local import LocalCloud

AUTH = "def main(event, context):\n    return {'isAuthorized': True}\n"
OK = "def main(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "auth.py").write_text(AUTH)
    (tmp_path / "src" / "ok.py").write_text(OK)
    (tmp_path / "schema.graphql").write_text("type Query { a: String }\n")
    return tmp_path


def shared_app(root: Path, **session: Any) -> tuple[App, Function]:
    """Two HTTP APIs whose authorizers have the same name and one WebSocket API, all on one Function."""
    app = App("shared", stage="dev", root=root, **session)
    fn = Function(app, "Auth", handler="src/auth.main")
    authorizers = {"auth": {"type": "lambda", "function": fn, "response_types": ["simple"]}}
    for name in ("One", "Two"):
        Api(app, name, authorizers=authorizers, routes={"GET /x": {"function": "src/ok.main", "authorizer": "auth"}})
    WebSocketApi(app, "Ws", authorizer={"type": "lambda", "function": fn}, routes={"$connect": "src/ok.main"})
    return app, fn


def test_every_invoke_permission_of_one_function_has_its_own_statement_id(root: Path) -> None:
    """Offline: one Function behind every construct that grants invoke permissions (HTTP and WebSocket
    authorizers, routes, an AppSync authorizer and data source, a Cognito trigger)."""
    app, fn = shared_app(root, session=boto3.Session(region_name="us-east-1", aws_access_key_id="x",
                                                     aws_secret_access_key="y"))
    for name in ("Three", "Four"):
        Api(app, name, authorizers={"auth": {"type": "lambda", "function": fn}}, routes={"GET /x": fn})
    WebSocketApi(app, "Ws2", authorizer={"type": "lambda", "function": fn}, routes={"$connect": fn})
    AppSyncApi(app, "Sync", schema="schema.graphql", data_sources={"ds": fn},
               authorization={"default": "lambda", "function": fn})
    Cognito(app, "Users", triggers={"pre_sign_up": fn})
    permissions = [r for r in app.resources().values()
                   if r.type == "lambda.Permission" and r.props["function_name"].address == fn.function_address]
    ids = Counter(r.props["statement_id"] for r in permissions)
    assert len(permissions) >= 9
    assert [sid for sid, n in ids.items() if n > 1] == []
    assert all(len(sid) <= 100 for sid in ids)  # Lambda's StatementId: 1-100 characters


def test_two_apis_and_a_websocket_api_share_one_authorizer_function(root: Path, local_cloud: LocalCloud) -> None:
    """A real deploy to the embedded AWS (failed before with ResourceConflictException on AddPermission)."""
    cloud = local_cloud
    cloud.reset()
    app, _ = shared_app(root, session=cloud.session(), endpoint_url=cloud.endpoint_url)
    result = app.deploy()

    lam = cloud.client("lambda")
    name = result.outputs["Auth"]["name"]
    policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert len(by_sid) == len(policy["Statement"]) == 3  # one per API
    arns = sorted(s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in by_sid.values())
    for api in ("One", "Two", "Ws"):  # each scoped to its own API's authorizer
        api_id = result.outputs[api]["id"]
        assert sum(f":{api_id}/authorizers/" in arn for arn in arns) == 1, (api, arns)

    again = app.deploy()  # converged: nothing to change, nothing written
    assert again.changes == [] and not [op for op in again.api_calls if is_mutating(op)]
    assert app.diff().changes == []
