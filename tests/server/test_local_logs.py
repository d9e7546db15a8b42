"""Logs where AWS puts them: a deployed app served by LocalCloud writes each invocation's log to
``/aws/lambda/{name}`` (START / END / REPORT around what the handler printed) and each request's access-log line
to its stage's log group, in the stage's format; ``sstdirect logs`` reads them back; ``dev`` prints a line per
request and prefixes handler output with the function's name.

One cloud and one deployed app for the module (handlers written into a temporary folder).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from devrun import dev
from websockets.sync.client import connect

from sstdirect.cli import _load_apps, main
from sstdirect.local import LocalCloud
from sstdirect.local.gateway.access_log import render
from sstdirect.local.gateway.logwriter import MAX_BATCH_EVENTS, batches
from sstdirect.logs_command import LogGroup, filter_pattern, parse_since, stream
from sstdirect.overrides import Overrides, declaring

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")
CUSTOM = "$context.requestId $context.httpMethod $context.path $context.status $context.routeKey $context.nothing"

APP = '''
from pathlib import Path

from sstdirect import Api, App, WebSocketApi

app = App("logsapp", stage="dev", root=Path(__file__).parent)
api = Api(app, "Api", routes={"GET /hello": "src/hello.main", "GET /boom": "src/boom.main"})
plain = Api(app, "Plain", routes={"GET /hi": "src/hello.main"}, access_log=CUSTOM_FORMAT)
chat = WebSocketApi(app, "Chat", routes={"$connect": "src/hello.main", "$default": "src/hello.main"})
'''

HANDLERS = {
    "hello.py": """
        def main(event, context):
            print("hello from handler", context.aws_request_id)
            return {"statusCode": 200, "body": context.aws_request_id}
    """,
    "boom.py": """
        def main(event, context):
            raise RuntimeError("kaboom")
    """,
}


def _get(url: str) -> tuple[int, Any, str]:
    try:
        with OPENER.open(url, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("logs")
    (root / "src").mkdir()
    for name, code in HANDLERS.items():
        (root / "src" / name).write_text(textwrap.dedent(code))
    (root / "app.py").write_text(APP.replace("CUSTOM_FORMAT", repr(CUSTOM)))
    with LocalCloud() as cloud:
        cloud.reset()
        overrides = Overrides(endpoint_url=cloud.endpoint_url, region=cloud.region, session=cloud.session(),
                              state_dir=str(root / "state"))
        with declaring(overrides):
            [app] = _load_apps(str(root / "app.py"), overrides)
            app.deploy()
        api, plain, chat = app.construct("Api"), app.construct("Plain"), app.construct("Chat")
        with cloud.serve(app) as gw:
            yield {"cloud": cloud, "gw": gw, "app": app, "file": root / "app.py", "overrides": overrides,
                   "url": gw.url(api), "plain": gw.url(plain), "logs": cloud.client("logs"), "ws": gw.url(chat),
                   "ws_access": _access_group(cloud, chat.id),
                   "fn": f"/aws/lambda/{api.get_function('GET /hello').physical_name(app.expand_context())}",
                   "access": _access_group(cloud, api.id), "plain_access": _access_group(cloud, plain.id)}


def _access_group(cloud: LocalCloud, api_id: str) -> str:
    [stage] = cloud.client("apigatewayv2").get_stages(ApiId=api_id)["Items"]
    return stage["AccessLogSettings"]["DestinationArn"].split(":log-group:", 1)[1]


def _events(served: dict[str, Any], group: str) -> list[dict[str, Any]]:
    assert served["gw"].flush_logs()
    return served["logs"].filter_log_events(logGroupName=group)["events"]


def test_invocation_log_in_function_group(served: dict[str, Any]) -> None:
    status, _, request_id = _get(served["url"] + "/hello")
    assert status == 200
    events = [e for e in _events(served, served["fn"]) if request_id in e["message"]]
    messages = [e["message"] for e in events]
    assert messages[0] == f"START RequestId: {request_id} Version: $LATEST\n"
    assert messages[1] == f"hello from handler {request_id}\n"
    assert messages[2] == f"END RequestId: {request_id}\n"
    assert re.match(rf"^REPORT RequestId: {request_id}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
                    r"Memory Size: \d+ MB\tMax Memory Used: \d+ MB\t\n$", messages[3])
    assert len(messages) == 4
    assert {e["logStreamName"] for e in events} == {events[0]["logStreamName"]}
    assert STREAM.match(events[0]["logStreamName"])


def test_handler_error_traceback_in_log(served: dict[str, Any]) -> None:
    status, _, _ = _get(served["url"] + "/boom")
    assert status == 500
    group = served["fn"].replace("GET-hello", "GET-boom")
    text = "".join(e["message"] for e in _events(served, group))
    assert "RuntimeError: kaboom" in text and text.startswith("START RequestId: ") and "REPORT RequestId: " in text


def test_default_access_log_line_per_request(served: dict[str, Any]) -> None:
    before = len(_events(served, served["access"]))
    _, headers, lambda_id = _get(served["url"] + "/hello?x=1")
    missing, _, _ = _get(served["url"] + "/nowhere")
    lines = [json.loads(e["message"]) for e in _events(served, served["access"])][before:]
    assert len(lines) == 2
    hit, miss = lines
    assert hit["requestId"] == headers["apigw-requestid"] and hit["httpMethod"] == "GET"
    assert (hit["path"], hit["routeKey"], hit["status"]) == ("/hello", "GET /hello", 200)
    assert hit["integrationRequestId"] == lambda_id and hit["integrationStatus"] == "200"
    assert isinstance(hit["responseLatency"], int) and hit["ip"] == "127.0.0.1"
    assert hit["userAgent"].startswith("Python-urllib")
    assert re.match(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$", hit["requestTime"])
    assert (miss["status"], miss["routeKey"], miss["integrationRequestId"]) == (missing, "-", "-") == (404, "-", "-")


def test_custom_access_log_format(served: dict[str, Any]) -> None:
    _, headers, _ = _get(served["plain"] + "/hi")
    [message] = [e["message"] for e in _events(served, served["plain_access"])
                 if headers["apigw-requestid"] in e["message"]]
    assert message == f"{headers['apigw-requestid']} GET /hi 200 GET /hi -"


def test_websocket_access_log_line_per_route_invocation(served: dict[str, Any]) -> None:
    with connect(served["ws"], proxy=None) as ws:
        ws.send("hi")
        time.sleep(0.5)  # $default has no route response: nothing comes back
    lines = [json.loads(e["message"]) for e in _events(served, served["ws_access"])]
    connect_line = next(line for line in lines if line["eventType"] == "CONNECT")
    message = next(line for line in lines if line["eventType"] == "MESSAGE")
    assert (connect_line["routeKey"], connect_line["status"]) == ("$connect", 200)
    assert (message["routeKey"], message["status"]) == ("$default", 200)
    assert message["connectionId"] == connect_line["connectionId"] != "-"
    assert message["integrationRequestId"] not in ("-", connect_line["integrationRequestId"])


def _cli(served: dict[str, Any], *args: str) -> list[str]:
    assert served["gw"].flush_logs()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), declaring(served["overrides"]):
        assert main(["logs", str(served["file"]), *args]) == 0
    return out.getvalue().splitlines()


def test_logs_command_reads_function_and_access_logs(served: dict[str, Any]) -> None:
    _, headers, request_id = _get(served["url"] + "/hello")
    lines = _cli(served, "Api")
    assert any(f"START RequestId: {request_id}" in line for line in lines)
    assert any(f"hello from handler {request_id}" in line for line in lines)
    assert any(headers["apigw-requestid"] in line and line.split()[1] == "Api" for line in lines)
    route = _cli(served, "GET /hello")
    assert any(f"hello from handler {request_id}" in line for line in route)
    assert not any(headers["apigw-requestid"] in line for line in route)  # a route: its function's log only
    assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z ", route[0])


def test_logs_command_filter_and_since(served: dict[str, Any]) -> None:
    _, _, request_id = _get(served["url"] + "/hello")
    # the access-log line is queued once the response is sent: wait until the request's five lines (START,
    # the handler's, END, REPORT, the access line) are all in, so that "--since 0s" races with none of them
    deadline = time.monotonic() + 10
    while len(_cli(served, "--filter", request_id)) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    filtered = _cli(served, "--filter", f"hello from handler {request_id}")
    assert len(filtered) == 1 and request_id in filtered[0]
    assert _cli(served, "--since", "0s", "--filter", request_id) == []
    assert len(_cli(served, "--since", "5m", "--filter", request_id)) >= 4


def test_logs_command_json_and_bad_input(served: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    _, _, request_id = _get(served["url"] + "/hello")
    rows = _cli(served, "GET /hello", "--json", "--filter", f"from handler {request_id}")
    [row] = [json.loads(line) for line in rows]
    assert row["group"] == served["fn"] and row["construct"] and STREAM.match(row["stream"])
    with declaring(served["overrides"]):
        assert main(["logs", str(served["file"]), "NoSuchThing"]) == 2
        assert main(["logs", str(served["file"]), "--since", "soon"]) == 2
    assert "NoSuchThing" in capsys.readouterr().err


def test_follow_sees_new_events(served: dict[str, Any]) -> None:
    seen: list[str] = []
    done = threading.Event()
    group = LogGroup("Api", served["fn"])

    def follow() -> None:
        for event in stream(served["logs"], [group], 0, filter_pattern("hello from handler"), True, poll_s=0.1,
                            stop=done.is_set):
            seen.append(event.message)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    time.sleep(0.3)
    _, _, request_id = _get(served["url"] + "/hello")
    deadline = time.monotonic() + 10
    while not any(request_id in m for m in seen) and time.monotonic() < deadline:
        time.sleep(0.1)
    done.set()
    thread.join(5)
    assert any(request_id in m for m in seen)


def test_dev_prints_request_lines_and_prefixed_handler_output(served: dict[str, Any]) -> None:
    with dev(served["file"], width=300) as out:
        url = re.search(r"Api\s+(http://127\.0\.0\.1:\d+)", out.getvalue()).group(1)
        _, _, request_id = _get(url + "/hello")
        function = served["fn"].removeprefix("/aws/lambda/")
        deadline = time.monotonic() + 10
        while request_id not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        text = out.getvalue()
        assert re.search(rf"^GET /hello 200 \d+ ms → {re.escape(function)}$", text, re.M), text
        assert f"[{function}] hello from handler {request_id}" in text, text


# --- pure parts --------------------------------------------------------------------------------------------


def test_render_substitutes_context_variables() -> None:
    variables = {"requestId": "r1", "integration.status": 200, "status": 404, "identity.sourceIp": "1.2.3.4",
                 "empty": ""}
    assert render("$context.requestId $context.status", variables) == "r1 404"
    assert render('{"s":"$context.integration.status","x":"$context.integration.nope"}', variables) == \
        '{"s":"200","x":"-"}'
    assert render("$context.identity.sourceIp. $context.empty $context.missing", variables) == "1.2.3.4. - -"


def test_batches_respect_put_log_events_limits() -> None:
    events = [(i, "x") for i in range(MAX_BATCH_EVENTS + 5)][::-1]
    cut = batches(events)
    assert [len(b) for b in cut] == [MAX_BATCH_EVENTS, 5] and cut[0][0][0] == 0  # in time order
    big = batches([(1, "y" * 600_000), (2, "z" * 600_000)])
    assert len(big) == 2


def test_parse_since() -> None:
    assert (parse_since("10m"), parse_since("30s"), parse_since("2h"), parse_since("1d"), parse_since("5")) == \
        (600, 30, 7200, 86400, 300)
