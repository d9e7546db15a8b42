"""Tests of sstdirect.local.LocalCloud: lifecycle, clients, the 501 answer for unimplemented
operations, ACM issuance, Docker-less Lambda, reset, and two clouds in one process."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sstdirect.local import Credentials, LocalCloud

STANDARD_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})
ACCOUNT = "123456789012"


def test_attributes_and_clients(local_cloud: LocalCloud) -> None:
    assert local_cloud.endpoint_url == f"http://127.0.0.1:{local_cloud.port}"
    assert local_cloud.credentials == Credentials("testing", "testing")
    assert local_cloud.region == "us-east-1"
    session = local_cloud.session()
    assert session.region_name == "us-east-1"
    assert session.get_credentials().access_key == "testing"
    via_session = session.client("sts", endpoint_url=local_cloud.endpoint_url)
    assert via_session.get_caller_identity()["Account"] == ACCOUNT
    client = local_cloud.client("sts")
    assert client.meta.endpoint_url == local_cloud.endpoint_url
    assert client.get_caller_identity()["Account"] == ACCOUNT


def test_start_does_not_hang_and_stop_frees_the_port() -> None:
    cloud = LocalCloud()
    assert not cloud.running
    with pytest.raises(RuntimeError, match="not running"):
        _ = cloud.endpoint_url

    began = time.perf_counter()
    with cloud:
        elapsed = time.perf_counter() - began
        port = cloud.port
        assert cloud.start() is cloud  # already running: a no-op
        assert cloud.client("sts").get_caller_identity()["Account"] == ACCOUNT
    assert elapsed < 20.0, elapsed  # a hang guard, not a speed test (the benchmark measures speed)
    assert not cloud.running
    cloud.stop()  # already stopped: a no-op
    with socket.socket() as probe:  # another server can listen there now (as servers do, past TIME_WAIT)
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
        probe.listen()


def test_pinned_port_and_port_in_use() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        began = time.perf_counter()
        with pytest.raises(OSError):
            LocalCloud(port=busy).start()
        assert time.perf_counter() - began < 20.0  # a busy port fails instead of waiting forever
    with LocalCloud(port=busy) as cloud:
        assert cloud.endpoint_url == f"http://127.0.0.1:{busy}"


def test_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="latency"):
        LocalCloud(latency=0.05)
    with pytest.raises(ValueError):
        LocalCloud(port=70000)
    with pytest.raises(ValueError):
        LocalCloud(acm_validation_wait=-1)


def test_session_ignores_a_missing_aws_profile(local_cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "sstdirect-no-such-profile")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)

    assert local_cloud.client("sts").get_caller_identity()["Account"] == ACCOUNT


def test_importing_sstdirect_local_imports_neither_moto_nor_boto3() -> None:
    # The parent package may import boto3 itself; sstdirect.local must add neither moto nor boto3.
    code = (
        "import sys, sstdirect; before = set(sys.modules); import sstdirect.local; "
        "print(sorted(m for m in ('moto', 'boto3', 'botocore', 'flask') if m in set(sys.modules) - before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- unimplemented operations: 501 NotImplemented, one request, no retries --------------------


def _count_requests(client: Any) -> list[int]:
    sent: list[int] = []
    client.meta.events.register("before-send", lambda **_: sent.append(1))
    return sent


UNIMPLEMENTED: dict[str, tuple[str, str, Callable[[Any], Any]]] = {
    # moto has the URL but no handler (NotImplementedError inside moto).
    "handler-missing": ("apigatewayv2", "GetModels", lambda c: c.get_models(ApiId="abc")),
    # moto does not know the URL at all (a routing 404 inside moto).
    "url-unknown": (
        "apigatewayv2",
        "ExportApi",
        lambda c: c.export_api(ApiId="abc", OutputType="JSON", Specification="OAS30"),
    ),
    # JSON protocol (X-Amz-Target) and query protocol (XML errors).
    "json-protocol": (
        "logs",
        "GetLogAnomalyDetector",
        lambda c: c.get_log_anomaly_detector(anomalyDetectorArn=f"arn:aws:logs:us-east-1:{ACCOUNT}:x"),
    ),
    "query-protocol": (
        "sts",
        "DecodeAuthorizationMessage",
        lambda c: c.decode_authorization_message(EncodedMessage="x"),
    ),
}


@pytest.mark.parametrize("case", list(UNIMPLEMENTED))
def test_unimplemented_operation_fails_fast_with_501(local_cloud: LocalCloud, case: str) -> None:
    service, operation, call = UNIMPLEMENTED[case]
    client = local_cloud.client(service, config=STANDARD_RETRIES)
    sent = _count_requests(client)

    with pytest.raises(ClientError) as exc_info:
        call(client)

    response = exc_info.value.response
    assert response["Error"]["Code"] == "NotImplemented"
    assert response["Error"]["Message"] == (
        f"sstdirect LocalCloud: {service}.{operation} is not implemented by the embedded AWS"
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    assert sent == [1]  # one request, never retried: that is what "fails fast" means


def test_a_real_not_found_stays_a_not_found(local_cloud: LocalCloud) -> None:
    client = local_cloud.client("apigatewayv2", config=STANDARD_RETRIES)
    with pytest.raises(ClientError) as exc_info:
        client.get_api(ApiId="nope")
    assert exc_info.value.response["Error"]["Code"] == "NotFoundException"


# --- ACM, Lambda without Docker, reset ---------------------------------------------------------


def test_acm_certificate_is_issued_after_the_validation_wait() -> None:
    with LocalCloud(acm_validation_wait=0.3) as cloud:
        acm = cloud.client("acm")
        arn = acm.request_certificate(DomainName="api.example.com", ValidationMethod="DNS")["CertificateArn"]
        assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "PENDING_VALIDATION"
        time.sleep(0.4)
        assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def test_lambda_runs_without_docker(local_cloud: LocalCloud) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = local_cloud.client("iam").create_role(RoleName="nodocker", AssumeRolePolicyDocument=json.dumps(trust))
    lam = local_cloud.client("lambda")
    lam.create_function(
        FunctionName="nodocker",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": _zip()},
    )

    result = lam.invoke(FunctionName="nodocker", Payload=b'{"hello": 1}')

    assert result["StatusCode"] == 200
    assert "FunctionError" not in result
    assert json.loads(result["Payload"].read()) == {"hello": 1}


def test_reset_clears_resources_and_extension_state(local_cloud: LocalCloud) -> None:
    gw = local_cloud.client("apigatewayv2")
    api_id = gw.create_api(Name="notes", ProtocolType="HTTP")["ApiId"]
    gw.create_deployment(ApiId=api_id)

    local_cloud.reset()

    assert gw.get_apis()["Items"] == []
    with pytest.raises(ClientError):
        gw.get_deployments(ApiId=api_id)


# --- two clouds in one process ---------------------------------------------------------------


def test_two_clouds_share_state_and_restore_moto_settings() -> None:
    from moto import settings
    from moto.core.config import default_user_config

    acm_wait_before = settings.ACM_VALIDATION_WAIT
    lambda_before = default_user_config.get("lambda")

    with LocalCloud(acm_validation_wait=5) as first, LocalCloud(acm_validation_wait=7) as second:
        assert first.port != second.port
        current_wait = settings.ACM_VALIDATION_WAIT
        assert current_wait == 7  # the most recently started cloud's wait
        assert default_user_config["lambda"]["use_docker"] is False
        api_id = first.client("apigatewayv2").create_api(Name="shared", ProtocolType="HTTP")["ApiId"]
        assert second.client("apigatewayv2").get_api(ApiId=api_id)["Name"] == "shared"
        second.stop()
        current_wait = settings.ACM_VALIDATION_WAIT
        assert current_wait == 5
        assert first.client("apigatewayv2").get_api(ApiId=api_id)["Name"] == "shared"
        first.reset()

    restored_wait = settings.ACM_VALIDATION_WAIT
    assert restored_wait == acm_wait_before
    assert default_user_config.get("lambda") == lambda_before


def test_concurrent_requests_to_one_service_never_break_the_embedded_aws(clients: Any) -> None:
    """moto's backends are not thread-safe: IAM's GetAccountAuthorizationDetails iterating the roles while
    other requests create and delete roles answered 500 ("dictionary changed size during iteration"),
    which botocore cannot even parse; in-process (``mock_aws``), the role writes themselves failed. The embedded
    AWS serves one request at a time per service (the server) or at all (in-process)."""
    import threading

    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    errors: list[BaseException] = []
    iams = [clients("iam") for _ in range(6)]  # made here: creating boto3 clients is not thread-safe
    writing = threading.Event()

    def writer(t: int) -> None:
        iam = iams[t]
        try:
            for n in range(80):
                iam.create_role(RoleName=f"race-{t}-{n}", AssumeRolePolicyDocument=trust)
                if n % 2:
                    iam.delete_role(RoleName=f"race-{t}-{n}")
                writing.set()
        except BaseException as exc:
            errors.append(exc)

    def reader(r: int) -> None:
        iam = iams[3 + r]
        writing.wait(10)
        try:
            for _ in range(60):
                iam.get_account_authorization_details(Filter=["Role"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(3)]
    threads += [threading.Thread(target=reader, args=(r,)) for r in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    roles = {r["RoleName"] for page in iams[0].get_paginator("list_roles").paginate()
             for r in page["Roles"] if r["RoleName"].startswith("race-")}
    assert roles == {f"race-{t}-{n}" for t in range(3) for n in range(0, 80, 2)}
