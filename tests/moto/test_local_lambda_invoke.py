"""The embedded Lambda's ``Invoke`` runs the deployed code (both modes: ``mock_aws`` and ``LocalCloud``).

Function errors are checked against the AWS doc "AWS Lambda function errors in Python"
(https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html): status 200, ``FunctionError: Unhandled``
and the payload ``{"errorMessage", "errorType", "requestId", "stackTrace"}``, whose ``stackTrace`` lists
``'  File "/var/task/error_function.py", line 2, in lambda_handler\\n    return x + 10\\n'``-like frames (the
runtime's ``traceback.format_list``, from the handler's frame down). A timeout's payload is
``{"errorMessage": "<ISO time> <request id> Task timed out after 3.00 seconds"}``, as Lambda reports it.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

CODE = '''
import json, os, time

def handler(event, context):
    if event.get("raise"):
        raise ValueError("bad " + event["raise"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("touch"):
        open(event["touch"], "w").write(context.aws_request_id)
    print("hello from", context.function_name)
    if event.get("spam"):
        print("x" * event["spam"])
    if event.get("boto3"):
        import boto3
        conf = boto3.client("lambda").get_function_configuration(FunctionName=context.function_name)
        return {"memory": conf["MemorySize"]}
    return {"event": event, "var": os.environ.get("MY_VAR"), "memory": context.memory_limit_in_mb,
            "name": context.function_name, "arn": context.invoked_function_arn, "rid": context.aws_request_id,
            "remaining": context.get_remaining_time_in_millis(), "pid": os.getpid(), "version": VERSION}

VERSION = 1
'''
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _zip(code: str = CODE) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app/fn.py", code)
    return buffer.getvalue()


@pytest.fixture
def lam(clients: Any) -> Any:
    role = clients("iam").create_role(RoleName="invoke", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    client = clients("lambda")
    client.create_function(FunctionName="fn", Runtime="python3.12", Role=role, Handler="app/fn.handler",
                           Code={"ZipFile": _zip()}, Timeout=2, MemorySize=256,
                           Environment={"Variables": {"MY_VAR": "v"}})
    return client


def _call(lam: Any, event: dict[str, Any], **kwargs: Any) -> tuple[dict[str, Any], Any]:
    response = lam.invoke(FunctionName="fn", Payload=json.dumps(event).encode(), **kwargs)
    raw = response["Payload"].read()
    return response, json.loads(raw) if raw else None


def test_request_response_runs_the_code_with_its_environment_and_context(lam: Any) -> None:
    response, result = _call(lam, {"a": 1})
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert result["event"] == {"a": 1} and result["var"] == "v"
    assert result["memory"] == "256" and result["name"] == "fn"
    assert result["arn"] == lam.get_function_configuration(FunctionName="fn")["FunctionArn"]
    assert re.fullmatch(UUID, result["rid"]) and 0 < result["remaining"] <= 2000
    _, again = _call(lam, {})
    assert again["pid"] == result["pid"] and again["rid"] != result["rid"]  # warm, a new request id


def test_a_raising_handler_is_an_unhandled_function_error(lam: Any) -> None:
    response, error = _call(lam, {"raise": "input"}, LogType="Tail")
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert error["errorMessage"] == "bad input" and error["errorType"] == "ValueError"
    assert re.fullmatch(UUID, error["requestId"])
    frame = error["stackTrace"][0]
    assert frame.startswith('  File "') and 'fn.py", line 6, in handler\n' in frame
    assert frame.endswith('raise ValueError("bad " + event["raise"])\n') and len(error["stackTrace"]) == 1
    log = base64.b64decode(response["LogResult"]).decode()
    assert f"START RequestId: {error['requestId']} Version: $LATEST" in log and "ValueError: bad input" in log
    assert _call(lam, {})[1]["version"] == 1  # the worker stays warm


def test_past_its_timeout_the_function_fails_as_lambda_reports_it(lam: Any) -> None:
    began = time.monotonic()
    response, error = _call(lam, {"sleep": 10}, LogType="Tail")
    assert time.monotonic() - began < 6
    assert response["FunctionError"] == "Unhandled" and set(error) == {"errorMessage"}
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z {UUID} Task timed out after 2\.\d\d seconds",
                        error["errorMessage"]), error
    log = base64.b64decode(response["LogResult"]).decode()
    assert log.rstrip("\n").endswith(error["errorMessage"]) and "REPORT RequestId:" in log
    assert _call(lam, {})[0]["StatusCode"] == 200  # a fresh worker serves the next one


def test_log_tail_is_the_last_4_kb_with_lambdas_lines(lam: Any) -> None:
    response, result = _call(lam, {}, LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    rid = result["rid"]
    assert log.startswith(f"START RequestId: {rid} Version: $LATEST\nhello from fn\nEND RequestId: {rid}\n")
    assert re.search(rf"REPORT RequestId: {rid}\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB"
                     r"\tMax Memory Used: \d+ MB\t\n$", log), log
    assert "LogResult" not in lam.invoke(FunctionName="fn", Payload=b"{}")  # only with LogType=Tail
    response, _ = _call(lam, {"spam": 10000}, LogType="Tail")
    tail = base64.b64decode(response["LogResult"])
    assert len(tail) == 4096 and tail.startswith(b"xxx") and b"REPORT RequestId:" in tail


def test_event_runs_in_the_background_and_dry_run_not_at_all(lam: Any, tmp_path: Path) -> None:
    dry = tmp_path / "dry"
    response, payload = _call(lam, {"touch": str(dry)}, InvocationType="DryRun")
    assert response["StatusCode"] == 204 and payload is None
    marker = tmp_path / "event"
    began = time.monotonic()
    response, payload = _call(lam, {"touch": str(marker), "sleep": 0.5}, InvocationType="Event")
    assert response["StatusCode"] == 202 and payload is None and time.monotonic() - began < 0.5
    while not marker.exists() and time.monotonic() - began < 10:
        time.sleep(0.05)
    assert marker.exists() and not dry.exists()


def test_new_code_and_configuration_take_effect(lam: Any) -> None:
    assert _call(lam, {})[1]["version"] == 1
    lam.update_function_code(FunctionName="fn", ZipFile=_zip(CODE.replace("VERSION = 1", "VERSION = 2")))
    assert _call(lam, {})[1]["version"] == 2
    lam.update_function_configuration(FunctionName="fn", Environment={"Variables": {"MY_VAR": "w"}})
    assert _call(lam, {})[1]["var"] == "w"


def test_a_handler_reaches_the_embedded_aws(lam: Any) -> None:
    assert _call(lam, {"boto3": True})[1] == {"memory": 256}


def test_bad_requests(lam: Any) -> None:
    with pytest.raises(ClientError) as info:
        lam.invoke(FunctionName="fn", Payload=b"not json")
    assert info.value.response["Error"]["Code"] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as info:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
