"""A handler built with a third-party framework that parses API Gateway v2 events (aws-lambda-powertools'
``APIGatewayHttpResolver``) routed through the real local gateway, path parameters included.

Skipped when aws-lambda-powertools is not installed (it is not a dependency of sstdirect).
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aws_lambda_powertools")

from sstdirect import Api, App, packaging
from sstdirect.local import LocalCloud

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

HANDLER = """
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

    app = APIGatewayHttpResolver()

    @app.get("/todos/<todo_id>")
    def get_todo(todo_id: str):
        event: APIGatewayProxyEventV2 = app.current_event
        return {"id": todo_id, "q": event.get_query_string_value("q"), "cookies": event.cookies,
                "route": event.route_key, "ip": event.request_context.http.source_ip}

    @app.post("/todos")
    def create():
        return {"created": app.current_event.json_body}, 201

    def handler(event, context):
        return app.resolve(event, context)
"""


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("powertools")
    (root / "src").mkdir()
    (root / "src" / "todos.py").write_text(textwrap.dedent(HANDLER))
    # Declared as it must be for AWS (a missing one is a ConfigError); pip is skipped here (CI installs
    # nothing from the network), the local gateway's workers import the package installed in this venv.
    (root / "src" / "requirements.txt").write_text("aws-lambda-powertools\n")
    with LocalCloud() as cloud, pytest.MonkeyPatch.context() as patch:
        patch.setattr(packaging.deps, "run_pip",
                      lambda args, *, cwd: subprocess.CompletedProcess(args, 0, "", ""))
        cloud.reset()
        app = App("pt", root=root, endpoint_url=cloud.endpoint_url, session=cloud.session(),
                  state=str(Path(root) / "state.json"))
        api = Api(app, "Api", routes={"ANY /todos/{proxy+}": "src/todos.handler", "POST /todos": "src/todos.handler"})
        app.deploy()
        with cloud.serve(app) as gw:
            yield gw.url(api)


def _call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_powertools_resolver_routes(url: str) -> None:
    status, body = _call("GET", f"{url}/todos/42?q=a%20b", headers={"Cookie": "s=1"})
    assert status == 200
    assert body == {"id": "42", "q": "a b", "cookies": ["s=1"], "route": "ANY /todos/{proxy+}", "ip": "127.0.0.1"}
    status, body = _call("POST", f"{url}/todos", {"title": "x"}, headers={"content-type": "application/json"})
    assert (status, body) == (201, {"created": {"title": "x"}})
    status, _ = _call("GET", f"{url}/todos/42/extra")  # the gateway routes it; powertools has no such route
    assert status == 404
