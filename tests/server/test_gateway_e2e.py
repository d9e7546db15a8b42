"""The local gateway end to end over real sockets: LocalCloud + deploy + ``cloud.serve(app)`` + urllib.

One cloud, two deployed apps (the rest-api example, copied, and a small app of test handlers) and
one gateway per module, so the module stays fast.
"""

from __future__ import annotations

import json
import runpy
import shutil
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sstdirect import Api, App
from sstdirect.local import LocalCloud
from sstdirect.overrides import Overrides, declaring

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy

HANDLERS = {
    "boom.py": """
        def main(event, context):
            raise RuntimeError("boom")
    """,
    "die.py": """
        import os

        def main(event, context):
            os._exit(3)
    """,
    "slow.py": """
        import time

        def main(event, context):
            time.sleep(float((event.get("queryStringParameters") or {}).get("s", "5")))
            return {"statusCode": 200, "body": "done"}
    """,
    "counter.py": """
        import os

        COUNT = 0

        def main(event, context):
            global COUNT
            COUNT += 1
            return {"count": COUNT, "pid": os.getpid()}
    """,
    "whoami.py": """
        import os

        import boto3

        def main(event, context):
            ident = boto3.client("sts").get_caller_identity()
            return {"account": ident["Account"], "arn": ident["Arn"],
                    "env": {k: os.environ.get(k) for k in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "GREETING",
                                                            "AWS_ENDPOINT_URL")},
                    "context": {"request_id": context.aws_request_id, "name": context.function_name,
                                "memory": context.memory_limit_in_mb, "arn": context.invoked_function_arn,
                                "remaining": context.get_remaining_time_in_millis()}}
    """,
    "big.py": """
        def main(event, context):
            return {"statusCode": 200, "body": "x" * (6 * 1024 * 1024 + 1)}
    """,
    "echo.py": """
        def main(event, context):
            return {"statusCode": 200, "headers": {"content-type": "application/json"},
                    "cookies": ["s=1; Path=/", "t=2"], "body": __import__("json").dumps(event)}
    """,
}


def _request(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
             timeout: float = 30) -> tuple[int, Any, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"content-type": "application/json", **(headers or {})} if data else dict(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with OPENER.open(req, timeout=timeout) as r:
            status, hdrs, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode()
    return status, hdrs, parsed


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("gateway")
    shutil.copytree(EXAMPLES / "rest-api", tmp / "rest-api")
    src = tmp / "tests-app" / "src"
    src.mkdir(parents=True)
    for name, code in HANDLERS.items():
        (src / name).write_text(textwrap.dedent(code))
    with LocalCloud() as cloud:
        cloud.reset()  # moto's state is process-wide: other modules may have deployed "notes" already
        with declaring(Overrides(endpoint_url=cloud.endpoint_url, region=cloud.region, session=cloud.session(),
                                 state_dir=str(tmp / "state"))):
            notes = runpy.run_path(str(tmp / "rest-api" / "app.py"), run_name="__example__")
            notes["app"].deploy()
            app = App("gwtests", stage="dev", root=tmp / "tests-app")
            api = Api(app, "Api", routes={
                "GET /boom": "src/boom.main",
                "GET /die": "src/die.main",
                "GET /slow": {"function": {"handler": "src/slow.main", "timeout": 1}},
                "GET /counter": "src/counter.main",
                "GET /big": "src/big.main",
                "GET /whoami": {"function": {"handler": "src/whoami.main", "environment": {"GREETING": "hi"}}},
                "ANY /echo/{proxy+}": "src/echo.main",
                "POST /v1": {"function": "src/echo.main", "payload_format_version": "1.0"},
            }, cors={"allow_origins": ["https://app.example.com"], "allow_methods": ["GET", "POST"],
                     "allow_headers": ["content-type"], "max_age": 300})
            app.deploy()
            # SEMANTICS.md §2.1's documented route table, each route a function of its own
            precedence = App("gwprecedence", stage="dev", root=tmp / "tests-app")
            precedence_api = Api(precedence, "Api", routes={key: "src/echo.main" for key in PRECEDENCE_ROUTES},
                                 cors=False)
            precedence.deploy()
        with cloud.serve(notes["app"]) as notes_gw, cloud.serve(app) as gw, cloud.serve(precedence) as pgw:
            yield {"cloud": cloud, "notes": notes_gw.url(notes["api"]), "tests": gw.url(api), "gw": gw, "api": api,
                   "precedence": pgw.url(precedence_api)}


PRECEDENCE_ROUTES = ["GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default"]


@pytest.mark.parametrize(("method", "path", "route_key", "params"), [
    ("GET", "/pets/dog/1", "GET /pets/dog/1", None),                   # static beats {id}
    ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
    ("GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
    ("POST", "/test/5", "ANY /{proxy+}", {"proxy": "test/5"}),          # greedy beats $default
    ("POST", "/pets/dog/1", "ANY /{proxy+}", {"proxy": "pets/dog/1"}),  # ANY takes the methods not defined
    ("DELETE", "/pets/dog/2", "ANY /{proxy+}", {"proxy": "pets/dog/2"}),
    ("GET", "/Pets/dog/1", "ANY /{proxy+}", {"proxy": "Pets/dog/1"}),   # case-sensitive
    ("GET", "/", "$default", None),                                     # a greedy variable needs a character
])
def test_route_precedence_over_the_wire(served: dict[str, Any], method: str, path: str, route_key: str,
                                        params: dict[str, str] | None) -> None:
    """SEMANTICS.md §2.1's table: the route each request selects, seen by the handler it reached."""
    status, _, event = _request(method, served["precedence"] + path)
    assert status == 200
    assert (event["routeKey"], event.get("pathParameters")) == (route_key, params)
    assert event["rawPath"] == path and event["requestContext"]["http"]["method"] == method


def test_notes_round_trip(served: dict[str, Any]) -> None:
    base = served["notes"]
    status, headers, body = _request("GET", f"{base}/notes")
    assert status == 200 and headers["content-type"] == "application/json"
    assert {n["noteId"] for n in body} >= {"id1", "id2"}
    assert headers["apigw-requestid"]
    status, _, created = _request("POST", f"{base}/notes", {"content": "new"})
    assert status == 201 and created["content"] == "new" and created["userId"] == "anonymous"
    status, _, body = _request("POST", f"{base}/notes", None)
    assert status == 400 and "missing" in body["error"]
    status, _, note = _request("GET", f"{base}/notes/id1")
    assert status == 200 and note["content"] == "Hello World!"
    status, _, note = _request("PUT", f"{base}/notes/id1", {"content": "changed"})
    assert status == 200 and note["content"] == "changed"
    # each route is its own function, with its own warm instance and memory, as on AWS
    status, _, body = _request("DELETE", f"{base}/notes/id2")
    assert (status, body) == (200, {"noteId": "id2", "deleted": True})
    assert _request("DELETE", f"{base}/notes/id2")[0] == 404
    status, _, body = _request("GET", f"{base}/notes/")  # no trailing-slash folding: $default answers
    assert status == 404 and body["error"] == "No route for GET /notes/"


def test_cors_preflight_and_headers(served: dict[str, Any]) -> None:
    status, headers, body = _request("OPTIONS", f"{served['tests']}/anything", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"})
    assert status == 204 and body is None
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-allow-methods"] == "GET,POST"
    assert headers["access-control-max-age"] == "300"
    status, headers, _ = _request("GET", f"{served['tests']}/counter", headers={"Origin": "https://app.example.com"})
    assert status == 200 and headers["access-control-allow-origin"] == "https://app.example.com"
    status, headers, _ = _request("GET", f"{served['notes']}/notes", headers={"Origin": "https://x.test"})
    assert headers["access-control-allow-origin"] == "*"


def test_not_found_without_default(served: dict[str, Any]) -> None:
    status, headers, body = _request("GET", f"{served['tests']}/nope")
    assert (status, body, headers["content-type"]) == (404, {"message": "Not Found"}, "application/json")


def test_errors_then_recovery(served: dict[str, Any]) -> None:
    base = served["tests"]
    assert _request("GET", f"{base}/boom")[::2] == (500, {"message": "Internal Server Error"})
    assert _request("GET", f"{base}/die")[::2] == (500, {"message": "Internal Server Error"})
    assert _request("GET", f"{base}/die")[::2] == (500, {"message": "Internal Server Error"})  # a fresh worker
    began = time.monotonic()
    assert _request("GET", f"{base}/slow")[::2] == (500, {"message": "Internal Server Error"})  # timeout 1 s
    assert time.monotonic() - began < 4
    assert _request("GET", f"{base}/slow?s=0")[::2] == (200, "done")  # a fresh worker after the kill
    assert _request("GET", f"{base}/counter")[0] == 200
    assert _request("GET", f"{base}/big")[::2] == (500, {"message": "Internal Server Error"})  # over 6 MB


def test_module_state_persists(served: dict[str, Any]) -> None:
    url = f"{served['tests']}/counter"
    first = _request("GET", url)[2]
    second = _request("GET", url)[2]
    assert second["count"] == first["count"] + 1 and second["pid"] == first["pid"]


def test_handler_reaches_the_embedded_aws(served: dict[str, Any]) -> None:
    status, _, body = _request("GET", f"{served['tests']}/whoami")
    assert status == 200
    assert body["account"] == "123456789012"
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "dev-gwtests-Api-GET-whoami" == body["context"]["name"]
    assert env["GREETING"] == "hi" and env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ENDPOINT_URL"] == served["cloud"].endpoint_url
    assert body["context"]["memory"] == "1024"
    assert body["context"]["arn"].endswith(":function:dev-gwtests-Api-GET-whoami")
    assert 0 < body["context"]["remaining"] <= 10_000


def test_event_over_the_wire(served: dict[str, Any]) -> None:
    status, headers, event = _request("POST", f"{served['tests']}/echo/a/b%20c?x=1&x=2", {"k": 1},
                                      headers={"Cookie": "a=1; b=2", "User-Agent": "gw-test"})
    assert status == 200
    assert headers.get_all("set-cookie") == ["s=1; Path=/", "t=2"]
    api_id = served["api"].id
    assert event["routeKey"] == "ANY /echo/{proxy+}" and event["pathParameters"] == {"proxy": "a/b c"}
    assert event["rawPath"] == "/echo/a/b c" and event["rawQueryString"] == "x=1&x=2"  # decoded (§11)
    assert event["queryStringParameters"] == {"x": "1,2"} and event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["host"] == f"{api_id}.execute-api.us-east-1.amazonaws.com"
    assert event["headers"]["x-forwarded-proto"] == "https" and event["headers"]["x-forwarded-port"] == "443"
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert json.loads(event["body"]) == {"k": 1} and event["isBase64Encoded"] is False
    assert event["requestContext"]["http"]["userAgent"] == "gw-test"
    assert event["requestContext"]["requestId"] == headers["apigw-requestid"]
    status, _, v1 = _request("POST", f"{served['tests']}/v1?a=1&a=2", {"k": 1})
    assert status == 200 and v1["version"] == "1.0" and v1["queryStringParameters"] == {"a": "2"}


def test_functions_do_not_block_each_other(served: dict[str, Any]) -> None:
    import threading

    base = served["tests"]
    slow = threading.Thread(target=_request, args=("GET", f"{base}/slow?s=2"))
    slow.start()
    time.sleep(0.1)
    began = time.monotonic()
    assert _request("GET", f"{base}/counter")[0] == 200
    assert _request("GET", f"{base}/slow?s=0")[0] == 200  # the same function, a second worker
    assert time.monotonic() - began < 1.5  # neither waited for the sleeping one
    slow.join()


def test_chunked_body_bad_length_and_too_large(served: dict[str, Any]) -> None:
    import http.client

    host, port = served["tests"].removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/echo/x", body=iter([b'{"a":', b" 1}"]), headers={"content-type": "application/json"},
                 encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 200 and json.loads(json.loads(response.read())["body"]) == {"a": 1}
    conn.close()
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", "/echo/x")
    conn.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    conn.endheaders()
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())) == (413, {"message": "Request Entity Too Large"})
    conn.close()
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", "/echo/x")
    conn.putheader("Content-Length", "abc")
    conn.endheaders()
    assert conn.getresponse().status == 400
    conn.close()


def test_in_process_client_and_pinned_port(served: dict[str, Any]) -> None:
    import socket

    from sstdirect.local.gateway import HttpRequest

    response = served["gw"].gateway(served["api"]).handle(HttpRequest("GET", "/counter"))
    assert response.status == 200 and json.loads(response.body)["count"] >= 1
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = served["api"].app
    with served["cloud"].serve(app, ports={served["api"]: port}) as gw:
        assert gw.url(served["api"]) == f"http://127.0.0.1:{port}"
        assert _request("GET", f"http://127.0.0.1:{port}/counter")[0] == 200
