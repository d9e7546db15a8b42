"""``sstdirect invoke`` and ``sstdirect token``, run as a user runs them: a child process on an APP.py file, against
one shared embedded AWS (``--endpoint-url``) whose Lambda runs the deployed code, or the CLI's own ``--local`` cloud.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_cli import one_line, run, unique

from sstdirect.local import LocalCloud

DEAD_ENDPOINT = "http://127.0.0.1:9"  # nothing listens: any AWS call would fail (exit 1), not exit 2

APP = """\
from pathlib import Path

from sstdirect import Api, App, Cognito, Function

app = App({name!r}, stage="dev", root=Path(__file__).parent)
api = Api(app, "Api", routes={{
    "GET /notes/{{id}}": "src/echo.main",
    "POST /legacy": {{"function": "src/echo.main", "payload_format_version": "1.0"}},
}})
Function(app, "Worker", handler="src/echo.main")
Function(app, "Boom", handler="src/boom.main")
Cognito(app, "Auth", identity_pool=False)
"""

TWO_POOLS = """\
from pathlib import Path

from sstdirect import App, Cognito

app = App("twopools", stage="dev", root=Path(__file__).parent)
Cognito(app, "Users", identity_pool=False)
Cognito(app, "Admins", identity_pool=False)
"""

ECHO = "def main(event, context):\n    print('echo handler ran')\n    return event\n"
BOOM = "def main(event, context):\n    raise ValueError('nope: ' + str(event.get('why')))\n"


def _write(root: Path, name: str) -> None:
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "echo.py").write_text(ECHO)
    (root / "src" / "boom.py").write_text(BOOM)
    (root / "APP.py").write_text(APP.format(name=name))


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory, local_cloud: LocalCloud) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("invoke")
    _write(root, unique("inv"))
    proc = run(root, "deploy", "APP.py", "--endpoint-url", local_cloud.endpoint_url, "--json")
    assert proc.returncode == 0, proc.stderr
    yield {"root": root, "url": local_cloud.endpoint_url, "outputs": json.loads(proc.stdout)["outputs"]}


def _cli(deployed: dict[str, Any], *args: str) -> Any:
    proc = run(deployed["root"], *args, "--endpoint-url", deployed["url"])
    assert proc.returncode == 0, proc.stderr
    return proc


# --- invoke ----------------------------------------------------------------------------------------------


def test_invoke_function_with_payload_runs_the_code(deployed: dict[str, Any]) -> None:
    result = json.loads(_cli(deployed, "invoke", "APP.py", "Worker", "--payload", '{"a": [1, 2]}', "--json").stdout)
    assert result["status"] == 200 and result["function_error"] is None
    assert result["payload"] == {"a": [1, 2]}
    assert "START RequestId:" in result["log_tail"] and "echo handler ran" in result["log_tail"]
    # without --json: the response on stdout, the log tail on stderr
    plain = _cli(deployed, "invoke", "APP.py", "Worker", "--payload", '{"b": true}')
    assert json.loads(plain.stdout) == {"b": True}
    assert "echo handler ran" in plain.stderr


def test_invoke_route_sends_its_sample_event(deployed: dict[str, Any]) -> None:
    result = json.loads(_cli(deployed, "invoke", "APP.py", "GET /notes/{id}", "--json").stdout)
    event = result["payload"]  # the echo handler returns the event it got
    assert event["version"] == "2.0" and event["routeKey"] == "GET /notes/{id}"
    assert event["rawPath"] == "/notes/id" and event["pathParameters"] == {"id": "id"}
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["apiId"] == deployed["outputs"]["Api"]["id"]


def test_invoke_route_with_event_file(deployed: dict[str, Any]) -> None:
    (deployed["root"] / "ev.json").write_text('{"from": "file"}')
    result = json.loads(_cli(deployed, "invoke", "APP.py", "post  /legacy", "--event", "ev.json", "--json").stdout)
    assert result["payload"] == {"from": "file"}


def test_sample_prints_the_routes_event_without_invoking(deployed: dict[str, Any]) -> None:
    # a dead endpoint: --sample asks AWS nothing
    proc = run(deployed["root"], "invoke", "APP.py", "POST /legacy", "--sample", "--endpoint-url", DEAD_ENDPOINT)
    assert proc.returncode == 0, proc.stderr
    event = json.loads(proc.stdout)
    assert event["version"] == "1.0" and event["httpMethod"] == "POST" and event["path"] == "/legacy"
    assert event["resource"] == "/legacy" and json.loads(event["body"]) == {"sample": True}
    assert event["requestContext"]["apiId"] == deployed["outputs"]["Api"]["id"]


def test_function_error_exits_1_with_the_error_payload(deployed: dict[str, Any]) -> None:
    proc = run(deployed["root"], "invoke", "APP.py", "Boom", "--payload", '{"why": "because"}',
               "--endpoint-url", deployed["url"])
    assert proc.returncode == 1, proc.stderr
    payload = json.loads(proc.stdout)
    assert payload["errorType"] == "ValueError" and payload["errorMessage"] == "nope: because"
    assert "FunctionFailed" in proc.stderr and "Unhandled" in proc.stderr
    as_json = run(deployed["root"], "invoke", "APP.py", "Boom", "--json", "--endpoint-url", deployed["url"])
    assert as_json.returncode == 1
    result = json.loads(as_json.stdout)
    assert result["function_error"] == "Unhandled" and result["payload"]["errorType"] == "ValueError"


def test_invoke_bad_input_exits_2_before_any_aws_call(deployed: dict[str, Any]) -> None:
    unknown = run(deployed["root"], "invoke", "APP.py", "GET /nope", "--endpoint-url", DEAD_ENDPOINT)
    assert unknown.returncode == 2, unknown.stderr
    message = one_line(unknown.stderr)
    assert "no function or route 'GET /nope'" in message and "Worker" in message and "GET /notes/{id}" in message
    bad_json = run(deployed["root"], "invoke", "APP.py", "Worker", "--payload", "{oops", "--endpoint-url",
                   DEAD_ENDPOINT)
    assert bad_json.returncode == 2 and "--payload is not JSON" in one_line(bad_json.stderr)


def test_invoke_local_deploys_into_a_throwaway_cloud_first(tmp_path: Path) -> None:
    _write(tmp_path, unique("invloc"))
    proc = run(tmp_path, "invoke", "APP.py", "Worker", "--local", "--payload", '{"local": 1}', "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["payload"] == {"local": 1}


# --- token -----------------------------------------------------------------------------------------------


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_token_creates_then_reuses_a_confirmed_user(deployed: dict[str, Any], local_cloud: LocalCloud) -> None:
    first = json.loads(_cli(deployed, "token", "APP.py", "--user", "alice", "--json").stdout)
    assert first["created"] is True and first["username"] == "alice" and first["pool"] == "Auth"
    claims = _claims(first["id_token"])
    assert claims["cognito:username"] == "alice" and claims["sub"] == first["sub"]
    assert _claims(first["access_token"])["sub"] == first["sub"] and first["refresh_token"]
    pool_id = deployed["outputs"]["Auth"]["user_pool_id"]
    user = local_cloud.client("cognito-idp").admin_get_user(UserPoolId=pool_id, Username="alice")
    assert user["UserStatus"] == "CONFIRMED"

    second = json.loads(_cli(deployed, "token", "APP.py", "--user", "alice", "--json").stdout)
    assert second["created"] is False and second["sub"] == first["sub"]
    assert _claims(second["id_token"])["sub"] == first["sub"]
    plain = _cli(deployed, "token", "APP.py")  # the default user, printed whole for copying
    assert "username: test-user" in plain.stdout and "id_token: ey" in plain.stdout


def test_token_bad_input_exits_2_before_any_aws_call(tmp_path: Path, deployed: dict[str, Any]) -> None:
    (tmp_path / "TWO.py").write_text(TWO_POOLS)
    two = run(tmp_path, "token", "TWO.py", "--endpoint-url", DEAD_ENDPOINT)
    assert two.returncode == 2, two.stderr
    assert "pick one with --pool: Users, Admins" in one_line(two.stderr)
    unknown = run(deployed["root"], "token", "APP.py", "--pool", "Nope", "--endpoint-url", DEAD_ENDPOINT)
    assert unknown.returncode == 2 and "--pool takes one of: Auth" in one_line(unknown.stderr)
    undeployed = run(tmp_path, "token", "TWO.py", "--pool", "Users", "--endpoint-url", DEAD_ENDPOINT)
    assert undeployed.returncode == 2 and "is not deployed" in one_line(undeployed.stderr)


def test_sample_of_websocket_routes(tmp_path: Path) -> None:
    _write(tmp_path, "unused")
    (tmp_path / "WS.py").write_text(
        "from pathlib import Path\n\nfrom sstdirect import App, WebSocketApi\n\n"
        "app = App('wssample', stage='dev', root=Path(__file__).parent)\n"
        "WebSocketApi(app, 'Chat', routes={'$connect': 'src/echo.main', 'send': 'src/echo.main'})\n")
    connect = run(tmp_path, "invoke", "WS.py", "$connect", "--sample", "--endpoint-url", DEAD_ENDPOINT)
    assert connect.returncode == 0, connect.stderr
    context = json.loads(connect.stdout)["requestContext"]
    assert context["routeKey"] == "$connect" and context["eventType"] == "CONNECT" and context["stage"] == "dev"
    send = json.loads(run(tmp_path, "invoke", "WS.py", "send", "--sample", "--endpoint-url", DEAD_ENDPOINT).stdout)
    assert send["requestContext"]["eventType"] == "MESSAGE" and json.loads(send["body"]) == {"action": "send"}
