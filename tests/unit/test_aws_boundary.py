"""The AWS boundary without AWS: botocore's Stubber answers. Not-found met once (``get_or_none`` and its
siblings), the waiter models driven poll by poll (their intervals and attempt counts), the propagation
hook learning a role's birth from IAM's ``after-call`` event, and the providers' ``read``/``find`` defaults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, WaiterError
from botocore.stub import Stubber

from sstdirect.aws import Aws, Propagation
from sstdirect.aws import waiters as waiters_module
from sstdirect.engine.resource import Created, Provider
from sstdirect.engine.values import freeze
from sstdirect.errors import DeployError
from sstdirect.state import Record

ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"
TAGS = {"sstdirect:app": "notes", "sstdirect:stage": "dev", "sstdirect:id": "Api/domain/certificate"}


@pytest.fixture
def aws() -> Aws:
    return Aws(region="us-east-1", session=boto3.Session(region_name="us-east-1", aws_access_key_id="k",
                                                         aws_secret_access_key="s"))


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every sleep of the test, recorded instead of slept (botocore's waiter and sstdirect's)."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


@pytest.fixture
def stub(aws: Aws) -> Iterator[Any]:
    """``stub(service)``: a Stubber on the Aws's client of that service (every answer consumed at the end)."""
    stubbers: dict[str, Stubber] = {}

    def make(service: str) -> Stubber:
        if service not in stubbers:
            stubbers[service] = Stubber(aws.client(service))
            stubbers[service].activate()
        return stubbers[service]

    yield make
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


# -- not-found, met once -------------------------------------------------------------------------


def test_get_or_none_is_none_for_a_not_found_and_raises_anything_else(aws: Aws, stub: Any) -> None:
    iam = stub("iam")
    iam.add_response("get_role", {"Role": {"Path": "/", "RoleName": "r", "RoleId": "AROAEXAMPLEEXAMPLE01",
                                           "Arn": "arn:aws:iam::1:role/r", "CreateDate": "2024-01-01"}})
    iam.add_client_error("get_role", "NoSuchEntity", "The role cannot be found")
    iam.add_client_error("get_role", "AccessDenied", "not allowed")
    assert aws.get_or_none("iam", "get_role", "Role", RoleName="r")["RoleName"] == "r"
    assert aws.get_or_none("iam", "get_role", "Role", RoleName="r") is None
    with pytest.raises(ClientError, match="AccessDenied"):
        aws.get_or_none("iam", "get_role", RoleName="r")


def test_delete_if_exists_and_paginate_or_empty(aws: Aws, stub: Any) -> None:
    lam = stub("lambda")
    lam.add_response("delete_function", {})
    lam.add_client_error("delete_function", "ResourceNotFoundException", "Function not found")
    assert aws.delete_if_exists("lambda", "delete_function", FunctionName="f") is True
    assert aws.delete_if_exists("lambda", "delete_function", FunctionName="f") is False
    v2 = stub("apigatewayv2")
    v2.add_response("get_routes", {"Items": [{"RouteId": "r1", "RouteKey": "GET /"}], "NextToken": "t"})
    v2.add_response("get_routes", {"Items": [{"RouteId": "r2", "RouteKey": "GET /b"}]})
    v2.add_client_error("get_routes", "NotFoundException", "Invalid API identifier specified")
    assert [r["RouteId"] for r in aws.paginate_or_empty("apigatewayv2", "get_routes", "Items", ApiId="a")] == [
        "r1", "r2"]
    assert aws.paginate_or_empty("apigatewayv2", "get_routes", "Items", ApiId="gone") == []


# -- the waiter models ---------------------------------------------------------------------------


def _status(status: str, details: str = "") -> dict[str, Any]:
    return {"status": status, **({"details": details} if details else {})}


def test_schema_upload_is_polled_fast_then_slower_until_it_succeeds(aws: Aws, stub: Any, sleeps: list[float]) -> None:
    from sstdirect.resources.appsync import SchemaProvider

    appsync = stub("appsync")
    appsync.add_response("start_schema_creation", {"status": "PROCESSING"})
    for answer in ("PROCESSING", "PROCESSING", "PROCESSING", "SUCCESS"):
        appsync.add_response("get_schema_creation_status", _status(answer), {"apiId": "api1"})
    created = SchemaProvider().create(aws, freeze({"api_id": "api1", "sha256": "x", "definition": "type Q { a: Int }"}))
    assert created.physical_id == "api1"
    assert sleeps == [0.1, 0.2, 0.5]


def test_schema_rejected_is_a_deploy_error_carrying_appsyncs_details(aws: Aws, stub: Any, sleeps: list[float]) -> None:
    from sstdirect.resources.appsync import SchemaProvider

    appsync = stub("appsync")
    appsync.add_response("start_schema_creation", {"status": "PROCESSING"})
    appsync.add_response("get_schema_creation_status", _status("PROCESSING"))
    appsync.add_response("get_schema_creation_status", _status("FAILED", "Syntax Error: Expected Name"))
    with pytest.raises(DeployError, match="was rejected: Syntax Error: Expected Name") as info:
        SchemaProvider().create(aws, freeze({"api_id": "api1", "sha256": "x", "definition": "type Q {"}))
    assert (info.value.code, info.value.operation) == ("SchemaCreationFailed", "appsync.StartSchemaCreation")


def test_schema_still_processing_after_the_whole_schedule_is_a_timeout(
        aws: Aws, stub: Any, sleeps: list[float]) -> None:
    """38 polls, the intervals of the loop the waiter replaced: 0.1, 0.2, 0.5, 1, 1, 2, 2, then 3 s (~97 s)."""
    from sstdirect.resources.appsync import SchemaProvider

    appsync = stub("appsync")
    appsync.add_response("start_schema_creation", {"status": "PROCESSING"})
    for _ in range(38):
        appsync.add_response("get_schema_creation_status", _status("PROCESSING"))
    with pytest.raises(DeployError, match="is still PROCESSING after waiting; deploy again") as info:
        SchemaProvider().create(aws, freeze({"api_id": "api1", "sha256": "x", "definition": "type Q { a: Int }"}))
    assert info.value.code == "SchemaCreationTimeout"
    assert sleeps == [0.1, 0.2, 0.5, 1.0, 1.0, 2.0, 2.0, *([3.0] * 30)]


def _certificate(record: bool) -> dict[str, Any]:
    option: dict[str, Any] = {"DomainName": "api.example.com"}
    if record:
        option["ResourceRecord"] = {"Name": "_x.api.example.com.", "Type": "CNAME", "Value": "_y.acm-validations.aws."}
    return {"Certificate": {"CertificateArn": ARN, "DomainName": "api.example.com",
                            "DomainValidationOptions": [option]}}


def test_validation_record_is_polled_until_acm_has_made_it(aws: Aws, stub: Any, sleeps: list[float]) -> None:
    from sstdirect.resources.domains import _validation_record

    acm = stub("acm")
    acm.add_response("describe_certificate", {"Certificate": {"CertificateArn": ARN}})  # no options yet
    acm.add_response("describe_certificate", _certificate(record=False))
    acm.add_response("describe_certificate", _certificate(record=True))
    assert _validation_record(aws, ARN) == {"validation_record_name": "_x.api.example.com",
                                            "validation_record_type": "CNAME",
                                            "validation_record_value": "_y.acm-validations.aws"}
    assert sleeps == [0.5, 1.0]


def test_validation_record_never_made_is_a_waiter_error_after_63_polls(
        aws: Aws, stub: Any, sleeps: list[float]) -> None:
    from sstdirect.resources.domains import _validation_record

    acm = stub("acm")
    for _ in range(63):
        acm.add_response("describe_certificate", _certificate(record=False))
    with pytest.raises(WaiterError, match="no DNS validation record within 121 s") as info:
        _validation_record(aws, ARN)
    assert info.value.kwargs["name"] == "CertificateValidationRecord"
    assert sleeps == [0.5, 1.0, 1.5, *([2.0] * 59)]


def _certificate_record() -> Record:
    return Record("acm.Certificate", "Api/domain/certificate", physical_id=ARN,
                  props={"domain_name": "api.example.com", "tags": TAGS})


def _tagged(acm: Stubber) -> None:
    acm.add_response("list_tags_for_certificate", {"Tags": [{"Key": k, "Value": v} for k, v in TAGS.items()]})


def test_certificate_in_use_is_deleted_once_released_reporting_each_wait(
        stub: Any, sleeps: list[float]) -> None:
    from sstdirect.resources.domains import CertificateProvider

    seen: list[tuple[str, str, int]] = []
    aws = Aws(region="us-east-1", on_retry=lambda op, code, n: seen.append((op, code, n)),
              session=boto3.Session(region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"))
    acm = Stubber(aws.client("acm"))
    with acm:
        _tagged(acm)
        acm.add_client_error("delete_certificate", "ResourceInUseException", "in use by a domain name")
        acm.add_client_error("delete_certificate", "ResourceInUseException", "in use by a domain name")
        acm.add_response("delete_certificate", {})
        CertificateProvider().delete(aws, _certificate_record())
        acm.assert_no_pending_responses()
    assert sleeps == [10.0, 10.0]
    assert seen == [("acm.DeleteCertificate", "ResourceInUseException", 1),
                    ("acm.DeleteCertificate", "ResourceInUseException", 2)]


def test_certificate_delete_gone_is_fine_and_other_errors_stand(aws: Aws, stub: Any, sleeps: list[float]) -> None:
    from sstdirect.resources.domains import CertificateProvider

    acm = stub("acm")
    acm.add_client_error("list_tags_for_certificate", "ResourceNotFoundException", "no such certificate")
    _tagged(acm)
    acm.add_client_error("delete_certificate", "ResourceNotFoundException", "gone in the meantime")
    _tagged(acm)
    acm.add_client_error("delete_certificate", "AccessDeniedException", "not allowed")
    provider = CertificateProvider()
    provider.delete(aws, _certificate_record())  # gone before the delete: nothing sent
    provider.delete(aws, _certificate_record())  # gone during it
    with pytest.raises(ClientError, match="AccessDeniedException"):
        provider.delete(aws, _certificate_record())
    assert sleeps == []


def test_certificate_still_in_use_after_ten_minutes_is_acms_own_error(aws: Aws, stub: Any, sleeps: list[float]) -> None:
    from sstdirect.resources.domains import CertificateProvider

    acm = stub("acm")
    _tagged(acm)
    for _ in range(61):
        acm.add_client_error("delete_certificate", "ResourceInUseException", "in use by a domain name")
    with pytest.raises(ClientError, match="ResourceInUseException") as info:
        CertificateProvider().delete(aws, _certificate_record())
    assert info.value.sstdirect_operation == "acm.DeleteCertificate"  # type: ignore[attr-defined]
    assert sleeps == [10.0] * 60


def test_a_waiter_raises_the_errors_no_acceptor_names(aws: Aws, stub: Any, sleeps: list[float]) -> None:
    stub("appsync").add_client_error("get_schema_creation_status", "NotFoundException", "no such API")
    with pytest.raises(ClientError, match="NotFoundException"):
        waiters_module.wait(aws, "appsync", "SchemaCreated", apiId="gone")


# -- the propagation hook and the providers' defaults ----------------------------------------------


def test_a_role_created_through_aws_is_born_for_the_gate(aws: Aws, stub: Any) -> None:
    """The gate learns a role's age from iam.CreateRole's after-call event; a refused role of unknown age
    is only retried a step later, one of known age as soon as it is older than the refusal proves."""
    (gate,) = [hook.gate for hook in aws.hooks if isinstance(hook, Propagation)]
    role = {"Path": "/", "RoleName": "fn-role", "RoleId": "AROAEXAMPLEEXAMPLE01",
            "Arn": "arn:aws:iam::1:role/fn-role", "CreateDate": "2024-01-01"}
    iam = stub("iam")
    iam.add_client_error("create_role", "EntityAlreadyExists", "exists")
    iam.add_response("create_role", {"Role": role})
    with pytest.raises(ClientError):
        aws.call("iam", "create_role", RoleName="fn-role", AssumeRolePolicyDocument="{}")
    assert "fn-role" not in gate._born
    before = time.monotonic()
    aws.call("iam", "create_role", RoleName="fn-role", AssumeRolePolicyDocument="{}")
    assert before <= gate._born["fn-role"] <= time.monotonic()


class _ReadsMany(Provider):
    type = "test.ReadsMany"

    def read_many(self, aws: Aws, records: Any) -> dict[str, dict[str, Any] | None]:
        return {address: {"seen": rec.physical_id} for address, rec in records.items()}

    def find_all(self, aws: Aws, props: Any, exclude: frozenset[str] = frozenset()) -> list[Created]:
        return [Created(p) for p in ("a", "b") if p not in exclude]


class _Neither(Provider):
    type = "test.Neither"


def test_read_defaults_to_read_many_and_find_to_the_first_of_find_all(aws: Aws) -> None:
    record = Record("test.ReadsMany", "x", physical_id="p")
    assert _ReadsMany().read(aws, record) == {"seen": "p"}
    assert _ReadsMany().find(aws, freeze({})).physical_id == "a"  # type: ignore[union-attr]
    assert _ReadsMany().find(aws, freeze({}), frozenset({"a"})).physical_id == "b"  # type: ignore[union-attr]
    assert _ReadsMany().find(aws, freeze({}), frozenset({"a", "b"})) is None
    assert _Neither().find(aws, freeze({})) is None and _Neither().find_all(aws, freeze({})) == []
    with pytest.raises(NotImplementedError, match="neither read nor read_many"):
        _Neither().read(aws, record)
