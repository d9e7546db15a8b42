"""Api custom domains on in-process moto: certificate, validation record, domain name, mapping, aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest

from sstdirect import Api, App
from sstdirect.aws import Aws, is_mutating
from sstdirect.constructs.domain import default_hosted_zone, parse_custom_domain
from sstdirect.errors import ConfigError, DeployError
from sstdirect.resources import domains

HANDLER = "def main(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
DOMAIN = "api.example.com"


@pytest.fixture
def zone(aws: boto3.Session) -> str:
    """The hosted zone example.com, with an unrelated record that must survive everything."""
    r53 = aws.client("route53")
    zone_id = r53.create_hosted_zone(Name="example.com", CallerReference="test")["HostedZone"]["Id"].split("/")[-1]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT",
        "ResourceRecordSet": {"Name": "www.example.com", "Type": "A", "TTL": 60,
                              "ResourceRecords": [{"Value": "192.0.2.1"}]}}]})
    return zone_id


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "list.py").write_text(HANDLER)
    return tmp_path


def make_app(session: boto3.Session, root: Path, custom_domain: Any = DOMAIN) -> tuple[App, Api]:
    app = App("notes", stage="dev", session=session, root=root)
    return app, Api(app, "Api", routes={"GET /notes": "src/list.main"}, custom_domain=custom_domain)


def records(session: boto3.Session, zone_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    rrs = session.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return {(r["Name"].rstrip("."), r["Type"]): r for r in rrs if r["Type"] not in ("NS", "SOA")}


def certificates(session: boto3.Session) -> list[dict[str, Any]]:
    return session.client("acm").list_certificates()["CertificateSummaryList"]


def domain_names(session: boto3.Session) -> list[dict[str, Any]]:
    return session.client("apigatewayv2").get_domain_names()["Items"]


def writes(api_calls: Any) -> dict[str, int]:
    return {k: v for k, v in api_calls.items() if is_mutating(k)}


def assert_domain_gone(session: boto3.Session, zone_id: str) -> None:
    assert certificates(session) == []
    assert domain_names(session) == []
    assert set(records(session, zone_id)) == {("www.example.com", "A")}  # the zone's own record stays
    assert session.client("route53").get_hosted_zone(Id=zone_id)["HostedZone"]["Name"] == "example.com."


# -- deploy -----------------------------------------------------------------------------------


def test_deploy_makes_certificate_validation_domain_mapping_and_aliases(
        aws: boto3.Session, zone: str, root: Path) -> None:
    app, api = make_app(aws, root)
    assert api.custom_domain_url == "https://api.example.com"
    result = app.deploy()
    gw = aws.client("apigatewayv2")

    (cert,) = certificates(aws)
    detail = aws.client("acm").describe_certificate(CertificateArn=cert["CertificateArn"])["Certificate"]
    assert detail["DomainName"] == DOMAIN and detail["Status"] == "ISSUED"
    tags = {t["Key"]: t["Value"] for t in
            aws.client("acm").list_tags_for_certificate(CertificateArn=cert["CertificateArn"])["Tags"]}
    assert tags == {"sstdirect:app": "notes", "sstdirect:stage": "dev", "sstdirect:id": "Api/domain/certificate"}

    (domain,) = domain_names(aws)
    (config,) = domain["DomainNameConfigurations"]
    assert domain["DomainName"] == DOMAIN
    assert (config["EndpointType"], config["SecurityPolicy"], config["CertificateArn"]) == (
        "REGIONAL", "TLS_1_2", cert["CertificateArn"])
    assert config["IpAddressType"] == "dualstack"  # botocore >= 1.40 has the field
    assert domain["Tags"]["sstdirect:id"] == "Api/domain/name"

    (mapping,) = gw.get_api_mappings(DomainName=DOMAIN)["Items"]
    assert (mapping["ApiId"], mapping["Stage"], mapping.get("ApiMappingKey") or "") == (api.id, "$default", "")

    rrs = records(aws, zone)
    (option,) = detail["DomainValidationOptions"]
    cname = rrs[(option["ResourceRecord"]["Name"].rstrip("."), "CNAME")]
    assert [v["Value"].rstrip(".") for v in cname["ResourceRecords"]] == [
        option["ResourceRecord"]["Value"].rstrip(".")]
    for rtype in ("A", "AAAA"):
        alias = rrs[(DOMAIN, rtype)]["AliasTarget"]
        assert alias["DNSName"].rstrip(".") == config["ApiGatewayDomainName"]
        assert alias["HostedZoneId"] == config["HostedZoneId"]
    assert set(rrs) == {("www.example.com", "A"), (DOMAIN, "A"), (DOMAIN, "AAAA"),
                        (option["ResourceRecord"]["Name"].rstrip("."), "CNAME")}

    assert result.outputs["Api"]["custom_domain_url"] == "https://api.example.com" == app.outputs["Api"][
        "custom_domain_url"]
    # UPSERT only, never CREATE; the zone is looked up, never written
    assert result.api_calls["route53.ChangeResourceRecordSets"] == 3
    assert not any(k.startswith("route53.") and k != "route53.ChangeResourceRecordSets" for k in writes(
        result.api_calls))

    again = app.deploy()
    assert again.changes == [] and writes(again.api_calls) == {}
    assert app.diff().is_empty


def test_upserts_never_create(aws: boto3.Session, zone: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    actions: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def spy(self: Any, operation: str, params: Any) -> Any:
        if operation == "ChangeResourceRecordSets":
            actions.extend(c["Action"] for c in params["ChangeBatch"]["Changes"])
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    app, _ = make_app(aws, root)
    app.deploy()
    assert actions == ["UPSERT"] * 3
    app.remove()
    assert actions == ["UPSERT"] * 3 + ["DELETE"] * 3


def test_path_sets_the_mapping_key_and_a_change_updates_the_mapping_only(
        aws: boto3.Session, zone: str, root: Path) -> None:
    app, api = make_app(aws, root, {"domain_name": DOMAIN, "path": "v1"})
    result = app.deploy()
    assert api.custom_domain_url == "https://api.example.com/v1/" == result.outputs["Api"]["custom_domain_url"]
    gw = aws.client("apigatewayv2")
    (mapping,) = gw.get_api_mappings(DomainName=DOMAIN)["Items"]
    assert mapping["ApiMappingKey"] == "v1"

    app2, _ = make_app(aws, root, {"domain_name": DOMAIN, "path": "/v2/"})  # surrounding slashes are dropped
    result = app2.deploy()
    assert [(c.action.value, c.address, c.changed) for c in result.changes] == [
        ("update", "Api/domain/mapping", ("api_mapping_key",))]
    assert writes(result.api_calls) == {"apigatewayv2.UpdateApiMapping": 1}
    (after,) = gw.get_api_mappings(DomainName=DOMAIN)["Items"]
    assert (after["ApiMappingId"], after["ApiMappingKey"]) == (mapping["ApiMappingId"], "v2")
    assert result.outputs["Api"]["custom_domain_url"] == "https://api.example.com/v2/"

    app3, api3 = make_app(aws, root, DOMAIN)  # no path any more: the key is cleared in place
    result = app3.deploy()
    assert writes(result.api_calls) == {"apigatewayv2.UpdateApiMapping": 1}
    assert (gw.get_api_mappings(DomainName=DOMAIN)["Items"][0].get("ApiMappingKey") or "") == ""
    assert api3.custom_domain_url == "https://api.example.com"


# -- removal ------------------------------------------------------------------------------------


def test_dropping_the_domain_removes_it_in_order_and_keeps_the_zone(
        aws: boto3.Session, zone: str, root: Path, calls: Any) -> None:
    app, _ = make_app(aws, root)
    app.deploy()
    calls.ops.clear()
    app2, api2 = make_app(aws, root, None)
    result = app2.deploy()
    assert {c.action.value for c in result.changes} == {"delete"}
    assert len(result.changes) == 7
    assert_domain_gone(aws, zone)
    assert aws.client("apigatewayv2").get_apis()["Items"]  # the API itself stays
    assert result.outputs["Api"]["custom_domain_url"] is None and api2.custom_domain_url is None

    ops = calls.writes()
    first = {op: ops.index(op) for op in reversed(ops)}
    last = {op: i for i, op in enumerate(ops)}
    assert last["apigatewayv2.DeleteApiMapping"] < first["apigatewayv2.DeleteDomainName"]
    # the three record deletes: A and AAAA before the domain name, the validation CNAME after it
    record_deletes = [i for i, op in enumerate(ops) if op == "route53.ChangeResourceRecordSets"]
    assert len(record_deletes) == 3
    assert sum(i < first["apigatewayv2.DeleteDomainName"] for i in record_deletes) == 2
    assert first["apigatewayv2.DeleteDomainName"] < first["acm.DeleteCertificate"]


def test_remove_deletes_everything_but_the_zone(aws: boto3.Session, zone: str, root: Path) -> None:
    app, _ = make_app(aws, root, {"domain_name": DOMAIN, "path": "v1"})
    app.deploy()
    app.remove()
    assert_domain_gone(aws, zone)
    assert aws.client("apigatewayv2").get_apis()["Items"] == []


def test_renaming_the_domain_replaces_it(aws: boto3.Session, zone: str, root: Path) -> None:
    app, _ = make_app(aws, root)
    app.deploy()
    app2, _ = make_app(aws, root, "api2.example.com")
    result = app2.deploy()
    assert {c.action.value for c in result.changes} == {"replace"}
    (cert,) = certificates(aws)
    assert cert["DomainName"] == "api2.example.com"
    (domain,) = domain_names(aws)
    assert domain["DomainName"] == "api2.example.com"
    assert aws.client("apigatewayv2").get_api_mappings(DomainName="api2.example.com")["Items"]
    rrs = records(aws, zone)
    assert ("api2.example.com", "A") in rrs and ("api2.example.com", "AAAA") in rrs
    assert (DOMAIN, "A") not in rrs and (DOMAIN, "AAAA") not in rrs
    assert sum(t == "CNAME" for _, t in rrs) == 1
    assert result.outputs["Api"]["custom_domain_url"] == "https://api2.example.com"
    assert app2.deploy().changes == []
    app2.remove()
    assert_domain_gone(aws, zone)


# -- given certificates and external DNS ---------------------------------------------------------


def issued_certificate(session: boto3.Session, name: str = DOMAIN) -> str:
    return session.client("acm").request_certificate(DomainName=name, ValidationMethod="DNS")["CertificateArn"]


def test_given_certificate_is_used_and_never_deleted(aws: boto3.Session, zone: str, root: Path) -> None:
    arn = issued_certificate(aws, "*.example.com")
    app, _ = make_app(aws, root, {"domain_name": DOMAIN, "certificate_arn": arn})
    result = app.deploy()
    assert "acm.RequestCertificate" not in result.api_calls
    assert domain_names(aws)[0]["DomainNameConfigurations"][0]["CertificateArn"] == arn
    rrs = records(aws, zone)
    assert set(rrs) == {("www.example.com", "A"), (DOMAIN, "A"), (DOMAIN, "AAAA")}  # no validation record
    app.remove()
    assert [c["CertificateArn"] for c in certificates(aws)] == [arn]
    assert domain_names(aws) == [] and set(records(aws, zone)) == {("www.example.com", "A")}


def test_switching_to_a_given_certificate_updates_the_domain_then_deletes_ours(
        aws: boto3.Session, zone: str, root: Path, calls: Any) -> None:
    app, _ = make_app(aws, root)
    app.deploy()
    (ours,) = certificates(aws)
    given = issued_certificate(aws, "*.example.com")
    app2, _ = make_app(aws, root, {"domain_name": DOMAIN, "certificate_arn": given})
    calls.ops.clear()
    result = app2.deploy()
    ops = calls.writes()
    assert ops.index("apigatewayv2.UpdateDomainName") < ops.index("acm.DeleteCertificate")  # never in use
    assert {(c.action.value, c.address) for c in result.changes} == {
        ("update", "Api/domain/name"), ("delete", "Api/domain/certificate"),
        ("delete", "Api/domain/validation-record"), ("delete", "Api/domain/validation")}
    assert domain_names(aws)[0]["DomainNameConfigurations"][0]["CertificateArn"] == given
    assert [c["CertificateArn"] for c in certificates(aws)] == [given] != [ours["CertificateArn"]]
    assert set(records(aws, zone)) == {("www.example.com", "A"), (DOMAIN, "A"), (DOMAIN, "AAAA")}


def test_external_domain_writes_no_dns(aws: boto3.Session, root: Path) -> None:
    arn = issued_certificate(aws)
    app, _ = make_app(aws, root, {"domain_name": DOMAIN, "is_external_domain": True, "certificate_arn": arn,
                                    "path": "v1"})
    result = app.deploy()
    assert not [k for k in result.api_calls if k.startswith("route53.")]  # not even a zone lookup
    assert {"acm.RequestCertificate"} & set(result.api_calls) == set()
    (domain,) = domain_names(aws)
    assert domain["DomainName"] == DOMAIN
    assert aws.client("apigatewayv2").get_api_mappings(DomainName=DOMAIN)["Items"][0]["ApiMappingKey"] == "v1"
    assert result.outputs["Api"]["custom_domain_url"] == "https://api.example.com/v1/"
    removed = app.remove()
    assert not [k for k in removed.api_calls if k.startswith("route53.")]
    assert domain_names(aws) == [] and len(certificates(aws)) == 1


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("custom_domain", "message"), [
    ("API.example.com", "must be lower case: use 'api.example.com'"),
    ({"domain_name": DOMAIN, "is_external_domain": True}, "needs certificate_arn"),
    ({"domainName": DOMAIN}, "use 'domain_name'"),
    ({"domain_name": DOMAIN, "hostedZone": "example.com"}, "use 'hosted_zone'"),
    ({"domain_name": DOMAIN, "isExternalDomain": True}, "use 'is_external_domain'"),
    ({"domain_name": DOMAIN, "certificateArn": "x"}, "use 'certificate_arn'"),
    ({"path": "v1"}, "needs 'domain_name'"),
    ("api..example.com", "not a valid domain name"),
    ("-api.example.com", "not a valid domain name"),
    ("api.example.com.", "without the trailing dot"),
    ("localhost", "at least two labels"),
    ("api_x.example.com", "not a valid domain name"),
    (42, "must be a domain name"),
    ({"domain_name": DOMAIN, "hosted_zone": "other.com"}, "is not inside hosted_zone 'other.com'"),
    ({"domain_name": DOMAIN, "hosted_zone": "Example.com"}, "must be lower case"),
    ({"domain_name": DOMAIN, "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"},
     "in the API's region us-east-1"),
    ({"domain_name": DOMAIN, "certificate_arn": "not-an-arn"}, "must be an ACM certificate ARN"),
    ({"domain_name": DOMAIN, "is_external_domain": "yes"}, "must be True or False"),
    ({"domain_name": DOMAIN, "is_external_domain": True, "hosted_zone": "example.com",
      "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"}, "cannot be used with"),
    ({"domain_name": DOMAIN, "path": "v1//x"}, "path 'v1//x' is not valid"),
    ("a" * 60 + ".example.com", "at most 64"),
])
def test_bad_input_is_a_config_error_with_no_aws_call(
        aws: boto3.Session, root: Path, calls: Any, custom_domain: Any, message: str) -> None:
    with pytest.raises(ConfigError, match="custom_domain") as err:
        make_app(aws, root, custom_domain)
    assert message in str(err.value)
    assert calls.ops == []


def test_missing_hosted_zone_fails_before_any_write(aws: boto3.Session, root: Path, calls: Any) -> None:
    aws.client("route53").create_hosted_zone(Name="example.org", CallerReference="other")
    calls.ops.clear()
    app, _ = make_app(aws, root, "api.notes.example.com")
    with pytest.raises(ConfigError, match=r"hosted zone 'notes.example.com' was not found") as err:
        app.deploy()
    assert "hosted_zone" in str(err.value) and "is_external_domain" in str(err.value)
    assert "route53.ListHostedZonesByName" in calls.ops
    assert calls.writes() == []
    with pytest.raises(ConfigError):
        app.deploy()
    assert calls.writes() == []


def test_private_zone_is_not_used(aws: boto3.Session, root: Path, calls: Any) -> None:
    aws.client("route53").create_hosted_zone(Name="example.com", CallerReference="private",
                                             HostedZoneConfig={"PrivateZone": True})  # moto needs no VPC
    calls.ops.clear()
    app, _ = make_app(aws, root)
    with pytest.raises(ConfigError, match="only a private zone"):
        app.deploy()
    assert calls.writes() == []


@pytest.mark.parametrize(("given", "message"), [
    ("arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000", "does not exist"),
    ("other.example.org", "covers ['other.example.org'], not 'api.example.com'"),
])
def test_unusable_given_certificate_fails_before_any_write(
        aws: boto3.Session, zone: str, root: Path, calls: Any, given: str, message: str) -> None:
    arn = given if given.startswith("arn:") else issued_certificate(aws, given)
    calls.ops.clear()
    app, _ = make_app(aws, root, {"domain_name": DOMAIN, "certificate_arn": arn})
    with pytest.raises(ConfigError) as err:
        app.deploy()
    assert message in str(err.value)
    assert calls.writes() == []


def test_parse_rules() -> None:
    assert default_hosted_zone("api.example.com") == "example.com"
    assert default_hosted_zone("example.com") == "example.com"
    assert default_hosted_zone("a.b.example.co.uk") == "b.example.co.uk"
    d = parse_custom_domain("Api", "example.com", region="us-east-1")
    assert d is not None and (d.hosted_zone, d.path, d.url()) == ("example.com", None, "https://example.com")
    d = parse_custom_domain("Api", {"domain_name": "a.b.example.com", "hosted_zone": "example.com",
                                    "path": "v1/x"}, region="us-east-1")
    assert d is not None and (d.hosted_zone, d.url()) == ("example.com", "https://a.b.example.com/v1/x/")
    assert parse_custom_domain("Api", None, region="us-east-1") is None


# -- the certificate wait -----------------------------------------------------------------------


def test_certificate_wait_is_bounded_and_reports_progress(
        aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.settings

    seen: list[tuple[str, str, int]] = []
    client = Aws(region="us-east-1", session=aws, on_retry=lambda op, code, n: seen.append((op, code, n)))
    monkeypatch.setattr(domains, "VALIDATION_SCHEDULE", ((0.05, 3),))
    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 0.3)
    arn = issued_certificate(aws)
    domains.wait_certificate_issued(client, arn)  # pending at first, then issued
    assert seen and seen[0][:2] == ("acm.certificate_validated", "PENDING_VALIDATION")

    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 3600)
    monkeypatch.setattr(domains, "VALIDATION_TIMEOUT_S", 0.2)
    arn = issued_certificate(aws, "slow.example.com")
    with pytest.raises(Exception, match="still PENDING_VALIDATION after"):
        domains.wait_certificate_issued(client, arn)


def test_a_certificate_that_never_validates_is_a_deploy_error_naming_the_wait(
        aws: boto3.Session, zone: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.settings

    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 3600)
    monkeypatch.setattr(domains, "VALIDATION_SCHEDULE", ((0.05, 2),))
    monkeypatch.setattr(domains, "VALIDATION_TIMEOUT_S", 0.1)
    app, _ = make_app(aws, root)
    with pytest.raises(DeployError, match="Api/domain/validation") as err:
        app.deploy()
    assert "PENDING_VALIDATION" in str(err.value)
    assert domain_names(aws) == []  # nothing was built on an unissued certificate
    # once the certificate is issued the next deploy finishes the job (the interrupted wait is adopted)
    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 0)
    result = app.deploy()
    assert {(c.action.value, c.address) for c in result.changes} == {
        ("create", f"Api/domain/{name}") for name in ("name", "mapping", "record-a", "record-aaaa")}
    assert len(certificates(aws)) == 1 and len(domain_names(aws)) == 1


# -- a create that landed after the deploy that sent it died ------------------------------------


def test_domain_name_created_by_a_dead_deploy_is_adopted_only_if_ours(aws: boto3.Session) -> None:
    """CreateDomainName still in flight when a deploy was killed can land after the next deploy looked
    for it (its intent record found nothing): that deploy's create then meets ConflictException. A domain
    name tagged as this resource is adopted; one that is not ours stays a conflict."""
    from sstdirect.engine.values import freeze

    client = Aws(region="us-east-1", session=aws)
    provider = domains.DomainNameProvider()
    props = freeze({"domain_name": DOMAIN, **domains.domain_name_props(issued_certificate(aws)),
                    "tags": {"sstdirect:app": "notes", "sstdirect:stage": "dev", "sstdirect:id": "Api/domain/name"}})
    first = provider.create(client, props)  # the request that landed late
    again = provider.create(client, props)
    assert again.physical_id == first.physical_id == DOMAIN
    assert again.attrs["target_domain"] == first.attrs["target_domain"]
    assert [d["DomainName"] for d in domain_names(aws)] == [DOMAIN]

    theirs = freeze({**props, "tags": {**props["tags"], "sstdirect:id": "Other/domain/name"}})
    with pytest.raises(botocore.exceptions.ClientError, match="ConflictException"):
        provider.create(client, theirs)
