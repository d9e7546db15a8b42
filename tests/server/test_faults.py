"""Injected AWS faults (botocore event hooks on the injected session): bounded retries, and clear failures."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from sstdirect import Api, App, DeployError


@pytest.fixture
def session(aws: boto3.Session) -> boto3.Session:
    return aws


def inject(session: boto3.Session, operation: str, code: str, message: str, times: int,
           status: int = 400) -> Counter[str]:
    """Make the next ``times`` calls of ``operation`` ("lambda.CreateFunction") fail with ``code``."""
    seen: Counter[str] = Counter()

    def fail(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        seen["calls"] += 1
        if seen["failed"] >= times:
            return None
        seen["failed"] += 1
        http = AWSResponse("https://fault.invalid", status, {}, None)
        return http, {"Error": {"Code": code, "Message": message},
                      "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}}

    session.events.register(f"before-call.{operation}", fail)
    return seen


def make_app(session: boto3.Session, root: Path) -> tuple[App, Api]:
    (root / "src").mkdir(exist_ok=True)
    for name in ("a", "b"):
        (root / "src" / f"{name}.py").write_text(f"def main(e, c):\n    return {name!r}\n")
    app = App("faults", stage="dev", session=session, root=root)
    return app, Api(app, "Api", routes={"GET /a": "src/a.main", "GET /b": "src/b.main"})


@pytest.mark.parametrize(("operation", "code", "message", "status"), [
    ("lambda.CreateFunction", "InvalidParameterValueException",
     "The role defined for the function cannot be assumed by Lambda.", 400),
    ("lambda.UpdateFunctionCode", "ResourceConflictException",
     "The operation cannot be performed at this time. An update is in progress for resource: x", 409),
    ("apigatewayv2.ReimportApi", "ConflictException",
     "Unable to complete operation due to concurrent modification. Please try again later.", 409),
    ("iam.PutRolePolicy", "NoSuchEntity", "The role with name x cannot be found.", 404),
])
def test_transient_faults_are_retried_and_reported(session: boto3.Session, tmp_path: Path, operation: str,
                                                   code: str, message: str, status: int) -> None:
    app, api = make_app(session, tmp_path)
    if operation == "lambda.UpdateFunctionCode":
        app.deploy()
        (tmp_path / "src" / "a.py").write_text("def main(e, c):\n    return 'changed'\n")
    seen = inject(session, operation, code, message, times=2, status=status)
    retried: list[tuple[str, str, int]] = []
    result = app.deploy(on_retry=lambda op, c, n: retried.append((op, c, n)))
    assert seen["failed"] == 2
    assert result.retries[f"{operation}:{code}"] == 2
    assert len(retried) == 2 and all(r[:2] == (operation, code) for r in retried)
    assert app.diff().is_empty and isinstance(api.url, str)


@pytest.mark.parametrize(("operation", "code", "message", "status"), [
    ("route53.ChangeResourceRecordSets", "PriorRequestNotComplete",
     "The request was rejected because Route 53 was still processing a prior request.", 400),
    ("apigatewayv2.CreateApiMapping", "ConflictException",
     "Unable to complete operation due to concurrent modification. Please try again later.", 409),
    ("lambda.UpdateFunctionConfiguration", "ResourceConflictException",
     "The operation cannot be performed at this time. The function is currently in the following state: Pending", 409),
])
def test_transient_faults_of_a_custom_domain_deploy_are_retried(session: boto3.Session, tmp_path: Path,
                                                                  operation: str, code: str, message: str,
                                                                  status: int) -> None:
    session.client("route53").create_hosted_zone(Name="example.com", CallerReference="faults")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("def main(e, c):\n    return 'a'\n")

    def build(timeout: int) -> App:
        app = App("faults", stage="dev", session=session, root=tmp_path)
        Api(app, "Api", custom_domain="api.example.com",
            routes={"GET /a": {"function": {"handler": "src/a.main", "timeout": timeout}}})
        return app

    if operation == "lambda.UpdateFunctionConfiguration":
        build(10).deploy()
    seen = inject(session, operation, code, message, times=2, status=status)
    retried: list[tuple[str, str, int]] = []
    app = build(20)
    result = app.deploy(on_retry=lambda op, c, n: retried.append((op, c, n)))
    assert seen["failed"] == 2 and result.retries[f"{operation}:{code}"] == 2
    assert [r[:2] for r in retried if r[1] == code] == [(operation, code)] * 2
    assert app.diff().is_empty
    assert len(session.client("apigatewayv2").get_api_mappings(DomainName="api.example.com")["Items"]) == 1


def test_a_permanent_fault_stops_with_a_deploy_error_and_the_next_deploy_completes(
        session: boto3.Session, tmp_path: Path) -> None:
    app, _ = make_app(session, tmp_path)
    seen = inject(session, "apigatewayv2.CreateStage", "AccessDeniedException", "not allowed", times=1, status=403)
    with pytest.raises(DeployError) as info:
        app.deploy()
    err = info.value
    assert (err.address, err.operation, err.code) == ("Api/stage", "apigatewayv2.CreateStage", "AccessDeniedException")
    assert "Api/stage" in str(err) and "AccessDeniedException" in str(err)
    assert seen["calls"] == 1  # not retried
    recorded = json.loads(app.state_path.read_text())["resources"]
    assert recorded["Api/api"]["status"] == "created"  # what succeeded before it is in the lockfile
    assert recorded["Api/stage"]["status"] == "creating"
    result = app.deploy()  # the fault is gone: the next deploy completes, without duplicates
    assert {c.address for c in result.changes} >= {"Api/stage"}
    assert len(session.client("apigatewayv2").get_apis()["Items"]) == 1
    assert app.diff().is_empty


def test_unimplemented_operation_fails_fast_not_retried(session: boto3.Session, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.apigatewayv2.responses import ApiGatewayV2Response

    app, _ = make_app(session, tmp_path)

    def missing(self: Any) -> Any:
        raise NotImplementedError("create_stage")

    monkeypatch.setattr(ApiGatewayV2Response, "create_stage", missing)
    with pytest.raises(DeployError) as info:
        app.deploy()
    assert info.value.code == "NotImplemented" and "does not implement" in str(info.value)


# -- throttling on the wire, across whole deploys of the examples ----------------------------------

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# how each service says "slow down" (service id as botocore names it in events → status, code, body style)
THROTTLE = {
    "iam": (400, "Throttling", "xml"),
    "sts": (400, "Throttling", "xml"),
    "route-53": (400, "Throttling", "xml"),
    "cloudwatch-logs": (400, "ThrottlingException", "json"),
    "acm": (400, "ThrottlingException", "json"),
}
TOO_MANY = (429, "TooManyRequestsException", "json")  # API Gateway, Lambda, Cognito


class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


class Throttler:
    """A ``before-send`` hook: every ``every``-th request of each operation is answered, without reaching
    the embedded AWS, by that service's throttling error (deterministic, so a retry goes through).
    Registered last, so it answers requests sstdirect's own pacing has let go, as AWS would."""

    def __init__(self, every: int = 3):
        self.every = every
        self.seen: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()

    def __call__(self, event_name: str = "", request: Any = None, **_: Any) -> AWSResponse | None:
        _, service, operation = event_name.split(".", 2)
        if b"attempt=1" not in (request.headers.get("amz-sdk-request") or b"attempt=1"):
            return None  # botocore's retry of a throttled request goes through (with concurrent requests
            # of the same operation, it could otherwise be the next every-th one and be throttled again)
        self.seen[f"{service}.{operation}"] += 1
        if self.seen[f"{service}.{operation}"] % self.every:
            return None
        status, code, style = THROTTLE.get(service, TOO_MANY)
        self.throttled[code] += 1
        if style == "xml":
            body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>Rate exceeded"
                    f"</Message></Error><RequestId>x</RequestId></ErrorResponse>").encode()
            headers = {"Content-Type": "text/xml"}
        else:
            body = json.dumps({"__type": code, "message": "Rate exceeded"}).encode()
            headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code}
        return AWSResponse("https://throttled.invalid", status, headers, _Raw(body))


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retry backoff (up to 20 s for throttling) shortened to 10 ms: the test is about counts."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.01)


def _load_example(name: str, cloud: Any, session: boto3.Session, state_dir: Path) -> App:
    import runpy

    from sstdirect.overrides import Overrides, declaring

    with declaring(Overrides(session=session, endpoint_url=cloud.endpoint_url, state_dir=str(state_dir))) as scope:
        runpy.run_path(str(EXAMPLES / name / "app.py"), run_name="__example__")
    (app,) = scope.apps
    return app


@pytest.mark.parametrize(("example", "every", "codes"), [
    ("rest-api", 3, {"TooManyRequestsException", "Throttling", "ThrottlingException"}),
    ("api-auth-cognito", 3, {"TooManyRequestsException", "Throttling"}),
    # a small app calls most operations once: throttle every 2nd call (the retry is the 3rd), which
    # reaches Route 53 (Throttling) and ACM (ThrottlingException)
    ("custom-domain", 2, {"Throttling", "ThrottlingException"}),
])
def test_throttling_on_a_fraction_of_calls_is_retried_and_reported(
        local_cloud: Any, fast_backoff: None, tmp_path: Path, example: str, every: int, codes: set[str]) -> None:
    local_cloud.reset()
    session = local_cloud.session()
    if example == "custom-domain":
        local_cloud.client("route53").create_hosted_zone(Name="example.com", CallerReference="throttle")
    app = _load_example(example, local_cloud, session, tmp_path)
    throttler = Throttler(every=every)
    session.events.register_last("before-send", throttler)  # after pacing: AWS answers what was sent
    reported: list[tuple[str, str, int]] = []
    result = app.deploy(on_retry=lambda op, code, n: reported.append((op, code, n)))

    assert codes <= set(throttler.throttled), (throttler.throttled, throttler.seen)
    # every throttled request was retried, and each retry is in DeployResult.retries and on_retry
    throttle_retries = {k: v for k, v in result.retries.items() if k.rsplit(":", 1)[1] in THROTTLE_CODES}
    assert sum(throttle_retries.values()) == sum(throttler.throttled.values()) >= 4
    assert sorted(f"{op}:{code}" for op, code, _ in reported if code in THROTTLE_CODES) == sorted(
        Counter(throttle_retries).elements())
    assert all(n <= 2 for op, code, n in reported)  # bounded: one throttle, one retry
    # the deploy is complete and made nothing twice
    gw = local_cloud.client("apigatewayv2")
    assert len(gw.get_apis()["Items"]) == len([a for a in app.resources().values() if a.type == "apigatewayv2.Api"])
    for api in gw.get_apis()["Items"]:
        routes = [r["RouteKey"] for r in gw.get_routes(ApiId=api["ApiId"])["Items"]]
        assert len(routes) == len(set(routes))
    assert app.diff().is_empty  # (diff's own reads are throttled too)
    removed = app.remove(force=True)
    assert sum(removed.retries.values()) > 0
    assert gw.get_apis()["Items"] == [] and local_cloud.client("lambda").list_functions()["Functions"] == []


THROTTLE_CODES = {"TooManyRequestsException", "Throttling", "ThrottlingException"}


def test_cli_progress_shows_each_retry(local_cloud: Any, fast_backoff: None, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from sstdirect import cli
    from sstdirect.overrides import Overrides, declaring

    local_cloud.reset()
    session = local_cloud.session()
    throttler = Throttler(every=3)
    session.events.register_last("before-send", throttler)  # after pacing: AWS answers what was sent
    with declaring(Overrides(session=session, endpoint_url=local_cloud.endpoint_url, state_dir=str(tmp_path))):
        assert cli.main(["deploy", str(EXAMPLES / "rest-api" / "app.py")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    shown = out.count("↻ retrying ")
    assert shown == sum(throttler.throttled.values()) > 5
    assert "after TooManyRequestsException (attempt 2)" in out and "after Throttling (attempt 2)" in out


@pytest.mark.parametrize(("service", "operation", "code", "message", "transient"), [
    ("iam", "CreateRole", "Throttling", "Rate exceeded", True),
    ("route53", "ChangeResourceRecordSets", "Throttling", "Rate exceeded", True),
    ("route53", "ChangeResourceRecordSets", "PriorRequestNotComplete", "still processing", True),
    ("logs", "CreateLogGroup", "ThrottlingException", "Rate exceeded", True),
    ("cognito-idp", "CreateUserPool", "TooManyRequestsException", "Too many requests", True),
    ("apigatewayv2", "CreateRoute", "ConflictException", "Route with key GET /a already exists", False),
    ("lambda", "CreateFunction", "ResourceConflictException", "Function already exist", False),
    ("iam", "CreateRole", "AccessDenied", "not allowed", False),
])
def test_which_errors_are_transient(service: str, operation: str, code: str, message: str, transient: bool) -> None:
    from botocore.exceptions import ClientError

    from sstdirect.aws import is_transient

    exc = ClientError({"Error": {"Code": code, "Message": message}}, operation)
    assert is_transient(service, operation, exc) is transient


def test_botocore_retries_are_read_from_the_attempt_header() -> None:
    from types import SimpleNamespace

    from sstdirect.aws import botocore_attempt

    def request(value: bytes | None) -> Any:
        headers = {"amz-sdk-invocation-id": b"abc"} | ({"amz-sdk-request": value} if value else {})
        return SimpleNamespace(headers=headers)

    assert botocore_attempt(request(b"attempt=1; max=6")) is None
    assert botocore_attempt(request(b"ttl=20250101T000000Z; attempt=3; max=6")) == ("abc", 3)
    assert botocore_attempt(request(None)) is None and botocore_attempt(None) is None
