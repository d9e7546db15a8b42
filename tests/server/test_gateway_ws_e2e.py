"""The local gateway's WebSocket APIs end to end over real sockets: LocalCloud + deploy +
``cloud.serve(app)`` + the ``websockets`` client library and a boto3 ``apigatewaymanagementapi`` client.

One cloud and one gateway per module: the chat example (copied) and a small app of test handlers that
write every event they get to a folder, so the tests can check what handlers saw and when.
"""

from __future__ import annotations

import asyncio
import json
import re
import runpy
import shutil
import socket
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from sstdirect import App, WebSocketApi
from sstdirect.local import LocalCloud
from sstdirect.local.gateway._worker import EXECUTE_API_ENV
from sstdirect.overrides import Overrides, declaring

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FRAME = r'\{"message": "%s", "connectionId":"[A-Za-z0-9]{15}=", "requestId":"[A-Za-z0-9_\-]{15}="\}'

SAVE = """
    import json, os

    def save(event, kind=None):
        ctx = event["requestContext"]
        name = f"{ctx['connectionId']}.{kind or ctx['eventType']}.{ctx.get('messageId', '')}.json"
        folder = os.environ["EVENTS_DIR"]
        with open(os.path.join(folder, ".tmp-" + name), "w") as f:  # written whole, then renamed
            json.dump(event, f)
        os.replace(os.path.join(folder, ".tmp-" + name), os.path.join(folder, name))
"""
HANDLERS = {
    "save.py": SAVE,
    "connect.py": """
        from save import save

        def main(event, context):
            save(event)
            query = event.get("queryStringParameters") or {}
            if "boom" in query:
                raise RuntimeError("boom")
            if "status" in query:
                return {"statusCode": int(query["status"]), "body": "refused"}
            if "protocol" in query:
                return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": query["protocol"]}}
            if "selfpost" in query:  # the upgrade is pending: posting to itself must be GoneException
                import boto3
                from botocore.exceptions import ClientError

                ctx = event["requestContext"]
                client = boto3.client("apigatewaymanagementapi",
                                      endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}")
                try:
                    client.post_to_connection(ConnectionId=ctx["connectionId"], Data=b"early")
                except ClientError as exc:
                    return {"statusCode": 200 if exc.response["Error"]["Code"] == "GoneException" else 500}
                return {"statusCode": 409}
            return {"statusCode": 200}
    """,
    "disconnect.py": """
        from save import save

        def main(event, context):
            save(event)
            return {"statusCode": 200}
    """,
    "echo.py": """
        import json

        def main(event, context):
            return {"statusCode": 200, "body": json.dumps(event)}
    """,
    "default.py": """
        def main(event, context):
            return {"statusCode": 200, "body": "default:" + event["body"]}
    """,
    "oneway.py": """
        from save import save

        def main(event, context):
            save(event)
            return {"statusCode": 200, "body": "never sent"}
    """,
    "boom.py": """
        def main(event, context):
            raise RuntimeError("boom")
    """,
    "whoami.py": """
        import boto3

        def main(event, context):
            ctx = event["requestContext"]
            client = boto3.client("apigatewaymanagementapi",
                                  endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}")
            info = client.get_connection(ConnectionId=ctx["connectionId"])
            client.post_to_connection(ConnectionId=ctx["connectionId"],
                                      Data=("ip:" + info["Identity"]["SourceIp"]).encode())
            return {"statusCode": 200}
    """,
    "auth.py": """
        from save import save

        def main(event, context):
            save(event, "AUTHORIZER")
            token = event["headers"]["Authorization"]
            if token == "crash":
                raise RuntimeError("the authorizer crashed")
            effect = "Allow" if token.startswith("allow") else "Deny"
            return {"principalId": "user-" + token,
                    "policyDocument": {"Version": "2012-10-17", "Statement": [
                        {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}]},
                    "context": {"token": token, "room": (event.get("queryStringParameters") or {}).get("room", ""),
                                "level": 3}}
    """,
}


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


async def recv(ws: ClientConnection, timeout: float = 20) -> str:
    message = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(message, str)
    return message


def wait_for_file(folder: Path, pattern: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(folder.glob(pattern))
        if found:
            return json.loads(found[0].read_text())
        time.sleep(0.05)
    raise AssertionError(f"no {pattern} in {folder} after {timeout}s")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("wsgateway")
    shutil.copytree(EXAMPLES / "websocket", tmp / "websocket")
    src = tmp / "tests-app" / "src"
    src.mkdir(parents=True)
    for name, code in HANDLERS.items():
        (src / name).write_text(textwrap.dedent(code))
    events = tmp / "events"
    events.mkdir()
    with LocalCloud() as cloud:
        cloud.reset()  # moto's state is process-wide: other modules may have deployed already
        with declaring(Overrides(endpoint_url=cloud.endpoint_url, region=cloud.region, session=cloud.session(),
                                 state_dir=str(tmp / "state"))):
            chat = runpy.run_path(str(tmp / "websocket" / "app.py"), run_name="__example__")
            chat["app"].deploy()
            app = App("wstests", stage="test", root=tmp / "tests-app")
            ws = WebSocketApi(app, "Ws", defaults={"function": {"environment": {"EVENTS_DIR": str(events)}}},
                              routes={"$connect": "src/connect.main", "$disconnect": "src/disconnect.main",
                                      "$default": "src/default.main", "echo": "src/echo.main",
                                      "oneway": "src/oneway.main", "boom": "src/boom.main",
                                      "whoami": "src/whoami.main"})
            # $connect guarded the way API.md declares it: a Lambda authorizer, or IAM
            guarded_routes = {"$connect": "src/connect.main", "$default": "src/oneway.main",
                              "$disconnect": "src/disconnect.main"}
            env = {"function": {"environment": {"EVENTS_DIR": str(events)}}}
            guarded = WebSocketApi(app, "Guarded", routes=guarded_routes, defaults=env,
                                   authorizer={"type": "lambda", "function": {"handler": "src/auth.main",
                                                                              **env["function"]}})
            iam_guarded = WebSocketApi(app, "IamGuarded", routes=guarded_routes, defaults=env, authorizer="iam")
            app.deploy()
            # two-way routes: a $default route response, as a user would add it with the AWS API
            apigw = cloud.client("apigatewayv2")
            for route in apigw.get_routes(ApiId=ws.id)["Items"]:
                if route["RouteKey"] in ("echo", "$default"):
                    apigw.update_route(ApiId=ws.id, RouteId=route["RouteId"],
                                       RouteResponseSelectionExpression="$default")
                    apigw.create_route_response(ApiId=ws.id, RouteId=route["RouteId"], RouteResponseKey="$default")
        with cloud.serve(chat["app"]) as chat_gw, cloud.serve(app) as gw:
            creds = cloud.credentials
            management = boto3.client("apigatewaymanagementapi", endpoint_url=gw.management_endpoint(ws),
                                      region_name=cloud.region, aws_access_key_id=creds.access_key_id,
                                      aws_secret_access_key=creds.secret_access_key)
            yield {"cloud": cloud, "gw": gw, "ws": ws, "url": gw.url(ws), "guarded": gw.url(guarded),
                   "guarded_id": guarded.id, "iam_guarded": gw.url(iam_guarded),
                   "chat": chat_gw.url(chat["ws"]), "events": events, "management": management}


async def connection_id(ws: ClientConnection) -> str:
    await ws.send(json.dumps({"action": "echo"}))
    return str(json.loads(await recv(ws))["requestContext"]["connectionId"])


def test_two_gateways_on_one_cloud_both_tell_the_workers_their_connections(served: dict[str, Any]) -> None:
    """The chat app and this app are served by two gateways sharing the cloud's workers: a worker started
    after the second gateway must still know where the chat API's ``@connections`` listen (the second used
    to overwrite the first's entry: a chat message then went to the real execute-api host)."""
    known = json.loads(served["cloud"].workers.extra_env[EXECUTE_API_ENV])
    chat_port, port = (int(served[k].split(":")[2].split("/")[0]) for k in ("chat", "url"))
    assert {f"http://127.0.0.1:{chat_port}", f"http://127.0.0.1:{port}"} <= set(known.values()), known


def test_urls(served: dict[str, Any]) -> None:
    gw, ws = served["gw"], served["ws"]
    port = int(served["url"].split(":")[2].split("/")[0])
    assert served["url"] == f"ws://127.0.0.1:{port}/test"
    assert gw.management_endpoint(ws) == f"http://127.0.0.1:{port}/test"
    assert gw.urls["Ws"] == served["url"] and gw.urls["Guarded"] == served["guarded"]
    assert served["chat"].endswith("/dev")


def test_chat_every_client_receives_the_message(served: dict[str, Any]) -> None:
    async def scenario() -> None:
        clients = [await connect(served["chat"]) for _ in range(3)]
        await clients[0].send(json.dumps({"action": "sendMessage", "data": "hello"}))
        assert [await recv(c) for c in clients] == ["hello"] * 3
        await clients[2].close()  # $disconnect forgets it: the next message reaches the other two only
        await asyncio.sleep(0.5)
        await clients[1].send(json.dumps({"action": "sendMessage", "data": {"n": 2}}))
        assert [await recv(c) for c in clients[:2]] == ['{"n": 2}'] * 2
        # the chat has no $default route: an unknown action gets the Forbidden frame, the connection stays
        await clients[0].send(json.dumps({"action": "nope"}))
        assert re.fullmatch(FRAME % "Forbidden", await recv(clients[0]))
        await clients[0].send("not json")
        assert re.fullmatch(FRAME % "Forbidden", await recv(clients[0]))
        await clients[0].send(json.dumps({"action": "sendMessage", "data": "still open"}))
        assert [await recv(c) for c in clients[:2]] == ["still open"] * 2
        for c in clients[:2]:
            await c.close()

    run(scenario())


def test_connect_event_and_message_event_over_the_wire(served: dict[str, Any]) -> None:
    async def scenario() -> tuple[dict[str, Any], str]:
        async with connect(served["url"] + "?QueryString1=queryValue1&QueryString1=b",
                           additional_headers={"HeaderAuth1": "headerValue1"}, user_agent_header="tests/1") as ws:
            await ws.send(json.dumps({"action": "echo", "x": 1}))
            return json.loads(await recv(ws)), ws.request.headers["Sec-WebSocket-Key"]

    message, key = run(scenario())
    ctx = message["requestContext"]
    api_id = served["ws"].id
    domain = f"{api_id}.execute-api.us-east-1.amazonaws.com"
    assert set(message) == {"requestContext", "body", "isBase64Encoded"}
    assert json.loads(message["body"]) == {"action": "echo", "x": 1} and message["isBase64Encoded"] is False
    assert set(ctx) == {"routeKey", "messageId", "eventType", "extendedRequestId", "requestTime", "messageDirection",
                        "stage", "connectedAt", "requestTimeEpoch", "identity", "requestId", "domainName",
                        "connectionId", "apiId"}
    assert (ctx["routeKey"], ctx["eventType"], ctx["messageDirection"], ctx["stage"], ctx["domainName"],
            ctx["apiId"]) == ("echo", "MESSAGE", "IN", "test", domain, api_id)
    assert ctx["identity"] == {"sourceIp": "127.0.0.1", "userAgent": "tests/1"}
    assert len(ctx["connectionId"]) == 16 and ctx["connectionId"].endswith("=")

    connect_event = wait_for_file(served["events"], f"{ctx['connectionId']}.CONNECT.*")
    cctx = connect_event["requestContext"]
    assert cctx["connectedAt"] == ctx["connectedAt"] and "messageId" not in cctx
    assert (cctx["routeKey"], cctx["eventType"]) == ("$connect", "CONNECT")
    headers = connect_event["headers"]
    assert headers["Host"] == domain and headers["Sec-WebSocket-Key"] == key
    assert headers["HeaderAuth1"] == "headerValue1" and headers["Sec-WebSocket-Version"] == "13"
    assert (headers["X-Forwarded-Proto"], headers["X-Forwarded-Port"]) == ("https", "443")
    assert connect_event["multiValueHeaders"]["Host"] == [domain]
    assert connect_event["queryStringParameters"] == {"QueryString1": "b"}
    assert connect_event["multiValueQueryStringParameters"] == {"QueryString1": ["queryValue1", "b"]}
    assert "body" not in connect_event and connect_event["isBase64Encoded"] is False


def test_rejected_connect(served: dict[str, Any]) -> None:
    async def status(query: str) -> int:
        with pytest.raises(InvalidStatus) as info:
            await connect(served["url"] + query)
        return info.value.response.status_code

    assert run(status("?status=401")) == 401
    assert run(status("?status=500")) == 500
    assert run(status("?boom=1")) == 502
    assert run(status("?status=301")) == 301


def test_subprotocol_returned_by_connect(served: dict[str, Any]) -> None:
    async def scenario() -> str | None:
        async with connect(served["url"] + "?protocol=chat", subprotocols=["chat"]) as ws:  # type: ignore[list-item]
            return ws.subprotocol

    assert run(scenario()) == "chat"


def test_posting_during_connect_is_gone(served: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with connect(served["url"] + "?selfpost=1") as ws:  # 409/500 from $connect would reject
            await ws.send("after")
            assert await recv(ws) == "default:after"  # the first frame: "early" was never delivered

    run(scenario())


def test_idle_connection_closed_with_1001(served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from sstdirect.local.gateway import ws_server

    monkeypatch.setattr(ws_server, "IDLE_TIMEOUT_S", 0.5)  # 10 minutes on AWS

    async def scenario() -> str:
        ws = await connect(served["url"])
        cid = await connection_id(ws)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1001, "Going away")
        return cid

    cid = run(scenario())
    assert wait_for_file(served["events"], f"{cid}.DISCONNECT.*")["requestContext"]["disconnectStatusCode"] == 1001


def test_routes_default_one_way_and_errors(served: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with connect(served["url"]) as ws:
            await ws.send(json.dumps({"action": "unknown"}))
            assert await recv(ws) == 'default:{"action": "unknown"}'
            await ws.send("plain text")
            assert await recv(ws) == "default:plain text"
            await ws.send(json.dumps({"action": "boom"}))
            assert re.fullmatch(FRAME % "Internal server error", await recv(ws))
            await ws.send(json.dumps({"action": "oneway"}))  # ran, but its body is not sent back
            cid = await connection_id(ws)
            wait_for_file(served["events"], f"{cid}.MESSAGE.*")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.5)

    run(scenario())


def test_disconnect_runs_after_close_with_the_close_code(served: dict[str, Any]) -> None:
    async def scenario() -> str:
        ws = await connect(served["url"])
        cid = await connection_id(ws)
        await ws.close(code=4001, reason="bye")
        return cid

    cid = run(scenario())
    event = wait_for_file(served["events"], f"{cid}.DISCONNECT.*")
    ctx = event["requestContext"]
    assert (ctx["routeKey"], ctx["eventType"], ctx["disconnectStatusCode"], ctx["disconnectReason"]) == (
        "$disconnect", "DISCONNECT", 4001, "bye")
    assert set(event) == {"headers", "multiValueHeaders", "requestContext", "isBase64Encoded"}
    assert event["headers"]["Host"] == f"{served['ws'].id}.execute-api.us-east-1.amazonaws.com"


def test_connections_api_from_outside(served: dict[str, Any]) -> None:
    management = served["management"]

    async def scenario() -> None:
        ws = await connect(served["url"], user_agent_header="agent/2")
        cid = await connection_id(ws)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: management.post_to_connection(ConnectionId=cid, Data=b"hi there"))
        assert await recv(ws) == "hi there"
        info = await loop.run_in_executor(None, lambda: management.get_connection(ConnectionId=cid))
        assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "agent/2"}
        assert info["ConnectedAt"].year >= 2024 and info["LastActiveAt"] >= info["ConnectedAt"]
        response = await loop.run_in_executor(None, lambda: management.delete_connection(ConnectionId=cid))
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        wait_for_file(served["events"], f"{cid}.DISCONNECT.*")
        for call in (lambda: management.post_to_connection(ConnectionId=cid, Data=b"x"),
                     lambda: management.get_connection(ConnectionId=cid),
                     lambda: management.delete_connection(ConnectionId=cid)):
            with pytest.raises(ClientError) as gone:
                await loop.run_in_executor(None, call)
            error = gone.value.response
            assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == ("GoneException", 410)
            assert type(gone.value).__name__ == "GoneException"

    run(scenario())


def test_handler_management_client_built_the_aws_way(served: dict[str, Any]) -> None:
    async def scenario() -> str:
        async with connect(served["url"]) as ws:
            await ws.send(json.dumps({"action": "whoami"}))
            return await recv(ws)

    assert run(scenario()) == "ip:127.0.0.1"


def test_post_too_large_is_413(served: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with connect(served["url"]) as ws:
            cid = await connection_id(ws)
            loop = asyncio.get_running_loop()
            with pytest.raises(ClientError) as info:
                await loop.run_in_executor(None, lambda: served["management"].post_to_connection(
                    ConnectionId=cid, Data=b"x" * (131072 + 1)))
            assert info.value.response["Error"]["Code"] == "PayloadTooLargeException"
            assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
            await loop.run_in_executor(None, lambda: served["management"].post_to_connection(
                ConnectionId=cid, Data=b"y" * 131072))
            assert await recv(ws) == "y" * 131072

    run(scenario())


@pytest.mark.parametrize(("send", "code"), [
    pytest.param(lambda ws: ws.send("x" * (32 * 1024 + 1)), 1009, id="frame over 32 KB"),
    pytest.param(lambda ws: ws.send(["x" * 30000] * 5), 1009, id="message over 128 KB in 30 KB frames"),
    pytest.param(lambda ws: ws.send(b"\x00\x01"), 1003, id="binary frame"),
])
def test_limits_and_close_codes(served: dict[str, Any], send: Any, code: int) -> None:
    async def scenario() -> str:
        ws = await connect(served["url"])
        cid = await connection_id(ws)
        await send(ws)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == code
        return cid

    cid = run(scenario())
    event = wait_for_file(served["events"], f"{cid}.DISCONNECT.*")
    assert event["requestContext"]["disconnectStatusCode"] == code


def test_fragmented_message_under_the_limit(served: dict[str, Any]) -> None:
    async def scenario() -> str:
        async with connect(served["url"]) as ws:
            await ws.send(["a" * 30000] * 4)  # 120 KB in four frames: one message
            return await recv(ws)

    assert run(scenario()) == "default:" + "a" * 120000


# --- $connect authorizers and @connections' SigV4 ---------------------------------------------


async def refused_status(url: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as info:
        await connect(url, **kwargs)
    return info.value.response.status_code


def saved(folder: Path, pattern: str) -> set[Path]:
    """The event files written whole (``save`` writes ``.tmp-*`` first, then renames)."""
    return {p for p in folder.glob(pattern) if not p.name.startswith(".tmp-")}


def find_saved(folder: Path, pattern: str, predicate: Any, timeout: float = 20) -> dict[str, Any]:
    """The one saved event matching ``pattern`` and ``predicate`` (waiting for it to be written)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in (json.loads(p.read_text()) for p in saved(folder, pattern)) if predicate(e)]
        if found or time.monotonic() > deadline:
            assert len(found) == 1, found
            return found[0]
        time.sleep(0.05)


def test_lambda_authorizer_allows_and_its_context_is_on_every_event(served: dict[str, Any]) -> None:
    token = f"allow-{time.monotonic_ns()}"

    async def scenario() -> None:
        async with connect(served["guarded"] + "?room=blue", additional_headers={"Authorization": token}) as ws:
            await ws.send("hello")  # $default: one-way, saves its event

    run(scenario())
    folder = served["events"]
    authorizer_event = find_saved(folder, "*.AUTHORIZER.*", lambda e: e["headers"]["Authorization"] == token)
    cid = authorizer_event["requestContext"]["connectionId"]
    assert (authorizer_event["type"], authorizer_event["methodArn"]) == (
        "REQUEST", f"arn:aws:execute-api:us-east-1:123456789012:{served['guarded_id']}/test/$connect")
    assert authorizer_event["queryStringParameters"] == {"room": "blue"}
    assert authorizer_event["requestContext"]["eventType"] == "CONNECT"
    assert "authorizer" not in authorizer_event["requestContext"]
    expected = {"principalId": f"user-{token}", "token": token, "room": "blue", "level": 3}
    connect_event = wait_for_file(folder, f"{cid}.CONNECT.*")
    message_event = wait_for_file(folder, f"{cid}.MESSAGE.*")
    disconnect_event = wait_for_file(folder, f"{cid}.DISCONNECT.*")
    for event in (connect_event, message_event, disconnect_event):
        authorizer = dict(event["requestContext"]["authorizer"])
        assert isinstance(authorizer.pop("integrationLatency"), int) and authorizer == expected
    assert message_event["body"] == "hello"


@pytest.mark.parametrize(("headers", "status"), [
    pytest.param({}, 401, id="no identity"),
    pytest.param({"Authorization": "deny"}, 403, id="deny"),
    pytest.param({"Authorization": "crash"}, 500, id="authorizer crashes"),
])
def test_lambda_authorizer_refusals(served: dict[str, Any], headers: dict[str, str], status: int) -> None:
    before = saved(served["events"], "*.CONNECT.*")
    assert run(refused_status(served["guarded"], additional_headers=headers)) == status
    time.sleep(0.2)
    assert saved(served["events"], "*.CONNECT.*") == before  # $connect itself never ran


def test_a_failing_pipeline_refuses_the_handshake_with_500(served: dict[str, Any],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(route: Any, request: Any, event: Any) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(served["gw"].ws_gateways[served["guarded_id"]], "authorize", broken)
    headers = {"Authorization": "allow-me"}
    assert run(refused_status(served["guarded"], additional_headers=headers)) == 500
    monkeypatch.undo()

    async def allowed() -> None:
        async with connect(served["guarded"], additional_headers=headers):
            pass

    run(allowed())


def presigned(url: str, creds: Any, secret: str | None = None) -> str:
    """``url`` presigned for execute-api (what IAM WebSocket clients do: browsers cannot set headers)."""
    aws = AWSRequest(method="GET", url=url.replace("ws://", "http://", 1))
    SigV4QueryAuth(Credentials(creds.access_key_id, secret or creds.secret_access_key), "execute-api", "us-east-1",
                   expires=300).add_auth(aws)
    return aws.url.replace("http://", "ws://", 1)


def test_iam_connect_presigned_and_header_signed(served: dict[str, Any]) -> None:
    creds = served["cloud"].credentials
    url = served["iam_guarded"]
    aws = AWSRequest(method="GET", url=url.replace("ws://", "http://", 1))
    SigV4Auth(Credentials(creds.access_key_id, creds.secret_access_key), "execute-api", "us-east-1").add_auth(aws)
    signed_headers = {k: v for k, v in aws.headers.items() if k.lower() in ("authorization", "x-amz-date")}

    async def scenario(target: str, headers: dict[str, str], body: str) -> None:
        async with connect(target, additional_headers=headers, user_agent_header="iam/1") as ws:
            await ws.send(body)  # $default: one-way, saves its event

    for target, headers in ((presigned(url + "?room=1", creds), {}), (url, signed_headers)):
        body = f"hello {time.monotonic_ns()}"
        run(scenario(target, headers, body))
        message = find_saved(served["events"], "*.MESSAGE.*", lambda e, body=body: e["body"] == body)
        connect_event = wait_for_file(served["events"], f"{message['requestContext']['connectionId']}.CONNECT.*")
        for event in (connect_event, message):
            identity = event["requestContext"]["identity"]
            assert (identity["accessKey"], identity["userArn"], identity["accountId"]) == (
                creds.access_key_id, "arn:aws:iam::123456789012:user/sstdirect-local", "123456789012")
            assert (identity["sourceIp"], identity["userAgent"]) == ("127.0.0.1", "iam/1")
            assert "authorizer" not in event["requestContext"]


def test_iam_connect_refusals(served: dict[str, Any]) -> None:
    creds = served["cloud"].credentials
    url = served["iam_guarded"]
    assert run(refused_status(url)) == 403
    assert run(refused_status(presigned(url, creds, secret="wrong"))) == 403
    assert run(refused_status(url, additional_headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x"})) == 403


def management(served: dict[str, Any], key: str, secret: str) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=served["gw"].management_endpoint(served["ws"]),
                        region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret)


def test_connections_api_verifies_the_signature(served: dict[str, Any]) -> None:
    creds = served["cloud"].credentials
    iam = served["cloud"].client("iam")
    user = f"ops-{time.monotonic_ns()}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]

    async def scenario() -> None:
        async with connect(served["url"]) as ws:
            cid = await connection_id(ws)
            loop = asyncio.get_running_loop()

            async def post(client: Any, data: bytes) -> str:
                try:
                    await loop.run_in_executor(None, lambda: client.post_to_connection(ConnectionId=cid, Data=data))
                except ClientError as exc:
                    assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403
                    return str(exc.response["Error"]["Code"])
                return "ok"

            assert await post(management(served, creds.access_key_id, "wrong-secret"), b"x") == (
                "InvalidSignatureException")
            assert await post(management(served, "AKIAUNKNOWN0000000", "x"), b"x") == "UnrecognizedClientException"
            # an IAM user's own policies must allow execute-api:ManageConnections
            ops = management(served, key["AccessKeyId"], key["SecretAccessKey"])
            assert await post(ops, b"x") == "ForbiddenException"
            resource = f"arn:aws:execute-api:us-east-1:123456789012:{served['ws'].id}/*/POST/@connections/*"
            iam.put_user_policy(UserName=user, PolicyName="manage", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": "execute-api:ManageConnections", "Resource": resource}]}))
            assert await post(ops, b"from ops") == "ok"
            assert await post(management(served, creds.access_key_id, creds.secret_access_key), b"from cloud") == "ok"
            assert [await recv(ws), await recv(ws)] == ["from ops", "from cloud"]  # the refused never arrived

    run(scenario())


def test_garbage_never_kills_the_server(served: dict[str, Any]) -> None:
    port = int(served["url"].split(":")[2].split("/")[0])
    for payload in (b"\x16\x03\x01\x02\x00garbage\r\n\r\n", b"GET /test HTTP/1.1\r\n\r\n", b"POST /test HTTP/1.1\r\n"
                    b"Content-Length: 3\r\n\r\nabc", b"GET /x" + b"x" * 20000 + b" HTTP/1.1\r\n\r\n",
                    b"DELETE /test/@connections/abc HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"GET / HTTP/1.1"):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass

    async def still_serving() -> str:
        async with connect(served["url"]) as ws:
            await ws.send("ok?")
            return await recv(ws)

    assert run(still_serving()) == "default:ok?"


def test_wrong_stage_on_connections_api(served: dict[str, Any]) -> None:
    creds = served["cloud"].credentials
    endpoint = served["gw"].management_endpoint(served["ws"]).rsplit("/", 1)[0] + "/prod"
    client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=creds.access_key_id, aws_secret_access_key=creds.secret_access_key)
    with pytest.raises(ClientError) as info:
        client.post_to_connection(ConnectionId="abc=", Data=b"x")
    assert info.value.response["Error"]["Code"] == "ForbiddenException"
    assert info.value.response["Error"]["Message"] == (
        "No method found matching route prod/@connections/abc= for http method POST.")
