"""Tests of the latency model of the embedded AWS (``LocalCloud(latency=...)``): they count
requests and faults, never time."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sstdirect import Api, App
from sstdirect.local import LatencyModel, LocalCloud, summarize
from sstdirect.local.latency import PROPAGATION_MESSAGE

NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                             "Principal": {"Service": "lambda.amazonaws.com"}}]})


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def main(event, context):\n    return {}\n")
    return buf.getvalue()


def _create_function(cloud: LocalCloud, role_arn: str, name: str) -> Any:
    return cloud.client("lambda", config=NO_RETRY).create_function(
        FunctionName=name, Runtime="python3.12", Role=role_arn, Handler="index.main", Code={"ZipFile": _zip()})


def test_model_defaults_and_overrides() -> None:
    model = LatencyModel.default()
    assert (model.read_s, model.write_s, model.propagation_s) == (0.060, 0.120, 6.0)
    assert (model.apigateway_rate, model.apigateway_burst) == (10.0, 40)
    assert model.latency("lambda", "CreateFunction", "POST") == 0.4
    assert model.latency("lambda", "UpdateFunctionCode", "PUT") == 0.4
    assert model.latency("lambda", "GetFunction", "GET") == 0.06
    assert model.latency("iam", "CreateRole", "POST") == 0.12
    assert model.latency("iam", "ListRoles", "POST") == 0.06
    assert LatencyModel(propagation_s=0).propagation_s == 0
    assert LatencyModel(operation_s={"iam.CreateRole": 1.0}).latency("iam", "CreateRole", "POST") == 1.0
    with pytest.raises(ValueError):
        LatencyModel(read_s=-1)
    with pytest.raises(TypeError):
        LocalCloud(latency=0.05)
    assert LocalCloud(latency=True).latency == LatencyModel.default()
    assert LocalCloud().latency is None


def test_burst_beyond_the_bucket_is_throttled_with_api_gateways_429() -> None:
    model = LatencyModel.zero(apigateway_burst=5, apigateway_rate=0.01)  # no refill within the test
    with LocalCloud(latency=model) as cloud:
        v2 = cloud.client("apigatewayv2", config=NO_RETRY)
        v1 = cloud.client("apigateway", config=NO_RETRY)
        for _ in range(3):
            v2.get_apis()
        v1.get_rest_apis()
        v2.create_api(Name="a", ProtocolType="HTTP")  # 5 tokens: v1 and v2 share the bucket
        with pytest.raises(ClientError) as caught:
            v2.get_apis()
        assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        with pytest.raises(ClientError) as caught_v1:
            v1.get_rest_apis()
        assert caught_v1.value.response["Error"]["Code"] == "TooManyRequestsException"
        cloud.client("iam", config=NO_RETRY).list_roles()  # other services are not throttled
        summary = cloud.request_summary()
    assert summary["throttled_429"] == 2
    assert summary["by_operation"]["apigatewayv2.GetApis"] == 4
    assert summary["by_operation"]["apigatewayv2.CreateApi"] == 1
    assert summary["by_operation"]["apigateway.GetRestApis"] == 2
    assert summary["by_operation"]["iam.ListRoles"] == 1
    assert summary["mutating"] == 1 and summary["reads"] == 7


def test_create_function_right_after_create_role_gets_the_propagation_error() -> None:
    with LocalCloud(latency=LatencyModel.zero(propagation_s=600)) as cloud:
        role = cloud.client("iam").create_role(RoleName="fresh", AssumeRolePolicyDocument=TRUST)["Role"]
        with pytest.raises(ClientError) as caught:
            _create_function(cloud, role["Arn"], "f1")
        error = caught.value.response["Error"]
        assert error["Code"] == "InvalidParameterValueException"
        assert error["Message"] == PROPAGATION_MESSAGE
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert cloud.request_summary()["propagation_faults"] == 1
    with LocalCloud(latency=LatencyModel.zero(propagation_s=0)) as cloud:
        role = cloud.client("iam").create_role(RoleName="fresh2", AssumeRolePolicyDocument=TRUST)["Role"]
        _create_function(cloud, role["Arn"], "f2")
        assert cloud.request_summary()["propagation_faults"] == 0


def _app(root: Path, cloud: LocalCloud, routes: int = 2) -> App:
    (root / "src").mkdir(exist_ok=True)
    handlers = {}
    for i in range(routes):
        (root / "src" / f"r{i}.py").write_text("def main(event, context):\n    return {'statusCode': 200}\n")
        handlers[f"GET /r{i}"] = f"src/r{i}.main"
    app = App("lat", stage="t", root=root, endpoint_url=cloud.endpoint_url, session=cloud.session())
    Api(app, "Api", routes=handlers)
    return app


def test_deploy_survives_propagation_and_the_log_matches_its_calls(tmp_path: Path) -> None:
    with LocalCloud(latency=LatencyModel.zero(propagation_s=1.0)) as cloud:
        cloud.reset()
        result = _app(tmp_path, cloud).deploy()
        summary = cloud.request_summary()
    retried = sum(v for k, v in result.retries.items() if k.startswith("lambda.CreateFunction:"))
    assert summary["propagation_faults"] >= 1
    assert retried == summary["propagation_faults"]
    assert summary["total"] == sum(result.api_calls.values())
    assert summary["by_operation"] == dict(sorted(result.api_calls.items()))
    assert summary["throttled_429"] == 0


def test_no_model_injects_nothing(tmp_path: Path) -> None:
    with LocalCloud() as cloud:
        cloud.reset()
        result = _app(tmp_path, cloud).deploy()
        log = cloud.request_log
    summary = summarize(log)
    assert summary["injected_faults"] == 0 and summary["throttled_429"] == 0
    assert all(r.latency_s == 0 for r in log)
    assert not result.retries
    assert summary["total"] == sum(result.api_calls.values())


def test_cli_latency_needs_local(tmp_path: Path) -> None:
    from sstdirect.cli import main

    assert main(["deploy", str(tmp_path / "app.py"), "--latency"]) == 2
