"""Custom domains: ACM certificates, Route 53 records, API Gateway v2 domain names and API mappings.

Types: ``acm.Certificate``, ``acm.CertificateValidation`` (a wait, nothing made), ``route53.RecordSet``,
``apigatewayv2.DomainName``, ``apigatewayv2.ApiMapping``. The construct side (parsing, pre-flight,
expansion) is :mod:`sstdirect.constructs.domain`.

Hosted zones are never created, changed or deleted: they are looked up by name (a public zone of
exactly that name) and records are written with UPSERT; a record's delete removes exactly that
record (name and type), as Route 53 holds it.
"""

from __future__ import annotations

import functools
import logging
import time
import weakref
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import WaiterError

from ..aws import Aws, error_code
from ..aws.waiters import WaitTimedOut, wait
from ..engine.plan import ReplaceOrder
from ..engine.resource import Created, Provider
from ..engine.spec import OMIT, Spec, Text, resource_spec
from ..engine.values import FrozenDict
from ..errors import DeployError
from ..state import Record
from .common import plain, tag_list

log = logging.getLogger("sstdirect")

# Bounds of the validation wait (module attributes so tests and callers can tune them); the other waits are
# waiter models: ``acm.CertificateValidationRecord`` and ``acm.CertificateDeleted`` in :mod:`sstdirect.aws.waiters`.
VALIDATION_TIMEOUT_S = 45 * 60.0  # DNS validation usually takes minutes; give up after 45
VALIDATION_SCHEDULE = ((1.0, 10), (5.0, 12))  # (delay s, polls) chunks of the waiter; the last one repeats


def _progress(aws: Aws, operation: str, status: str, attempt: int) -> None:
    """Report a long wait through the deploy's retry hook (the CLI prints it) and the log."""
    log.info("waiting: %s is %s (poll %d)", operation, status, attempt)
    if aws.on_retry is not None:
        aws.on_retry(operation, status, attempt)


def _norm(name: Any) -> Any:
    """DNS names compare without case and without the trailing dot."""
    return name.lower().rstrip(".") if isinstance(name, str) else name


# -- lookups shared with the construct's pre-flight --------------------------------------------


@dataclass
class ZoneLookup:
    zone_id: str | None
    private_only: bool = False
    ambiguous: list[str] = field(default_factory=list)


_ZONES: weakref.WeakKeyDictionary[Aws, dict[str, str]] = weakref.WeakKeyDictionary()


def find_public_zone(aws: Aws, name: str) -> ZoneLookup:
    """The public hosted zone named exactly ``name`` (one ListHostedZonesByName, cached per deploy)."""
    cache = _ZONES.setdefault(aws, {})
    if name in cache:
        return ZoneLookup(cache[name])
    out = aws.call("route53", "list_hosted_zones_by_name", DNSName=name, MaxItems="100")
    matches = [z for z in out.get("HostedZones", []) if _norm(z.get("Name")) == name]
    public = [z["Id"].rsplit("/", 1)[-1] for z in matches if not (z.get("Config") or {}).get("PrivateZone")]
    if len(public) == 1:
        cache[name] = public[0]
        return ZoneLookup(public[0])
    return ZoneLookup(None, private_only=bool(matches) and not public, ambiguous=public if len(public) > 1 else [])


def zone_id_for(aws: Aws, name: str) -> str:
    found = find_public_zone(aws, name)
    if found.zone_id is None:
        raise DeployError(f"the Route 53 public hosted zone {name!r} was not found (or is ambiguous)",
                          operation="route53.ListHostedZonesByName", code="NoSuchHostedZone")
    return found.zone_id


def describe_certificate(aws: Aws, arn: str) -> dict[str, Any] | None:
    """The certificate, or None if there is none (or ``arn`` is no certificate ARN: ValidationException)."""
    try:
        return aws.get_or_none("acm", "describe_certificate", "Certificate", CertificateArn=arn)
    except Exception as exc:
        if error_code(exc) == "ValidationException":
            return None
        raise



def _carries(listed: Mapping[str, Any], tags: Mapping[str, str]) -> bool:
    """Whether a ListTagsForCertificate answer has ``tags``' identity tags."""
    have = {t["Key"]: t.get("Value") for t in listed.get("Tags", [])}
    return all(have.get(k) == tags.get(k) for k in ("sstdirect:app", "sstdirect:stage", "sstdirect:id"))

@functools.cache
def dualstack_supported() -> bool:
    """Whether this botocore's API Gateway v2 model has ``DomainNameConfiguration.IpAddressType``.

    Read with botocore's loader alone: a botocore session would read the AWS config, and an
    ``AWS_PROFILE`` that names no profile would fail the app's expansion (which needs no AWS at all)."""
    from botocore.loaders import create_loader
    from botocore.model import ServiceModel

    model = ServiceModel(create_loader().load_service_model("apigatewayv2", "service-2"), "apigatewayv2")
    return "IpAddressType" in model.shape_for("DomainNameConfiguration").members


def domain_name_props(certificate_arn: Any) -> dict[str, Any]:
    """The configuration props of a REGIONAL domain (``ip_address_type`` only where botocore has it)."""
    props: dict[str, Any] = {"certificate_arn": certificate_arn, "endpoint_type": "REGIONAL",
                             "security_policy": "TLS_1_2"}
    if dualstack_supported():
        props["ip_address_type"] = "dualstack"
    return props


# -- ACM ------------------------------------------------------------------------------------


def _validation_record(aws: Aws, arn: str) -> dict[str, str]:
    """The DNS validation record of a single-name certificate, polled until ACM has made it (the waiter
    ``acm.CertificateValidationRecord``)."""
    try:
        cert = wait(aws, "acm", "CertificateValidationRecord", CertificateArn=arn)["Certificate"]
    except WaitTimedOut as exc:
        raise WaiterError(name="CertificateValidationRecord",
                          reason=f"ACM gave certificate {arn} no DNS validation record within {exc.schedule_s:.0f} s",
                          last_response=exc.last_response) from None
    rr = next(o["ResourceRecord"] for o in cert.get("DomainValidationOptions", []) if o.get("ResourceRecord"))
    return {"validation_record_name": _norm(rr["Name"]), "validation_record_type": rr["Type"],
            "validation_record_value": _norm(rr["Value"])}


def wait_certificate_issued(aws: Aws, arn: str) -> None:
    """botocore's ``certificate_validated`` waiter, in bounded chunks, reporting progress between them."""
    started = time.monotonic()
    polls = 0
    step = 0
    while True:
        delay, attempts = VALIDATION_SCHEDULE[min(step, len(VALIDATION_SCHEDULE) - 1)]
        remaining = VALIDATION_TIMEOUT_S - (time.monotonic() - started)
        attempts = max(1, min(attempts, int(remaining // delay) + 1))
        try:
            aws.wait("acm", "certificate_validated", delay=delay, max_attempts=attempts, CertificateArn=arn)
            return
        except WaiterError as exc:
            if "Max attempts exceeded" not in str(exc):
                cert = describe_certificate(aws, arn) or {}
                raise WaiterError(name="CertificateValidated",
                                  reason=f"certificate {arn} is {cert.get('Status', 'gone')}"
                                         f" ({cert.get('FailureReason', exc.kwargs.get('reason', ''))})",
                                  last_response=exc.last_response) from exc
            last = exc.last_response
        polls += attempts
        step += 1
        status = ((last or {}).get("Certificate") or {}).get("Status", "PENDING_VALIDATION")
        if time.monotonic() - started >= VALIDATION_TIMEOUT_S:
            raise WaiterError(
                name="CertificateValidated",
                reason=f"certificate {arn} is still {status} after {VALIDATION_TIMEOUT_S / 60:.0f} minutes; check "
                       f"that the hosted zone's NS records are the ones the domain's registrar delegates to",
                last_response=last or {})
        _progress(aws, "acm.certificate_validated", status, polls)


@resource_spec("acm.Certificate")
class CertificateSpec(Spec):
    domain_name: str
    tags: Mapping[str, str]


class CertificateProvider(Provider):
    """A :class:`CertificateSpec`. attrs: ``arn`` and the DNS validation record
    (``validation_record_name`` / ``_type`` / ``_value``, lower case, no trailing dot).

    Requested with DNS validation in the deploy's region. Only certificates tagged with this
    resource's ``sstdirect:id`` are ever deleted (a given ``certificate_arn`` is never a record)."""

    spec = CertificateSpec
    adopt_before_create = True
    replace_on = frozenset({"domain_name"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        cert = CertificateSpec.from_props(props)
        arn = aws.call("acm", "request_certificate", DomainName=cert.domain_name, ValidationMethod="DNS",
                       Tags=tag_list(cert.tags))["CertificateArn"]
        return Created(arn, {"arn": arn, **_validation_record(aws, arn)})

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        cert = describe_certificate(aws, record.physical_id or "")
        return None if cert is None else {"domain_name": cert.get("DomainName")}

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        if "tags" in changed:
            aws.call("acm", "add_tags_to_certificate", CertificateArn=record.physical_id,
                     Tags=tag_list(CertificateSpec.from_props(props).tags))
        return {}

    def _owned(self, aws: Aws, arn: str, tags: Mapping[str, str]) -> bool:
        return _carries(aws.call("acm", "list_tags_for_certificate", CertificateArn=arn), tags)

    def delete(self, aws: Aws, record: Record) -> None:
        """Delete the certificate if it carries this resource's tags, waiting while API Gateway still holds
        it (the waiter ``acm.CertificateDeleted``; on timeout, ACM's last ResourceInUseException)."""
        arn = record.physical_id or ""
        listed = aws.get_or_none("acm", "list_tags_for_certificate", CertificateArn=arn)
        if listed is None:
            return
        if not _carries(listed, record.props.get("tags") or {}):
            log.warning("not deleting certificate %s: it does not carry this resource's tags", arn)
            return
        try:
            wait(aws, "acm", "CertificateDeleted", CertificateArn=arn, on_wait=lambda answer, polls: _progress(
                aws, "acm.DeleteCertificate", answer.get("Error", {}).get("Code", ""), polls))
        except WaitTimedOut as exc:
            raise exc.last_error or exc from None

    def find_all(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> list[Created]:
        """The certificates for this name carrying this resource's tags (after an interrupted create)."""
        summaries = aws.paginate("acm", "list_certificates", "CertificateSummaryList",
                                 CertificateStatuses=["PENDING_VALIDATION", "ISSUED"])
        cert = CertificateSpec.from_record(props)
        arns = [s["CertificateArn"] for s in summaries if s.get("DomainName") == cert.domain_name]
        return [Created(arn, {"arn": arn, **_validation_record(aws, arn)}) for arn in arns
                if arn not in exclude and self._owned(aws, arn, cert.tags)]


@resource_spec("acm.CertificateValidation")
class CertificateValidationSpec(Spec):
    certificate_arn: Text


class CertificateValidationProvider(Provider):
    """A :class:`CertificateValidationSpec`. Its create waits until the certificate is ISSUED (botocore's
    ``certificate_validated`` waiter, bounded, progress reported through the retry hook); it makes
    nothing, so its delete does nothing. A certificate that is not ISSUED reads as gone (wait again).
    attrs: ``certificate_arn``."""

    spec = CertificateValidationSpec
    replace_on = frozenset({"certificate_arn"})
    # its delete is a no-op, so deleting first costs nothing; and the record it waits for is itself
    # replaced delete-first (a user replaced create-first would deadlock the executor)
    replace_order = ReplaceOrder.DELETE_FIRST

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        arn = CertificateValidationSpec.from_props(props).certificate_arn
        wait_certificate_issued(aws, arn)
        return Created(arn, {"certificate_arn": arn})

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        cert = describe_certificate(aws, record.physical_id or "")
        if cert is None or cert.get("Status") != "ISSUED":
            return None
        return {"certificate_arn": record.physical_id}

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        return None

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        arn = CertificateValidationSpec.from_record(props).certificate_arn
        cert = describe_certificate(aws, arn)
        if cert is None or cert.get("Status") != "ISSUED":
            return None
        return Created(arn, {"certificate_arn": arn})


# -- Route 53 -------------------------------------------------------------------------------


@resource_spec("route53.RecordSet")
class RecordSetSpec(Spec):
    """Either ``ttl`` + ``values`` or ``alias`` (``{"dns_name", "hosted_zone_id", "evaluate_target_health"}``)."""

    zone_name: str  # looked up: a public zone of exactly that name
    name: Text  # lower case, no trailing dot
    type: Literal["A", "AAAA", "CNAME"]
    ttl: int | None = None
    values: tuple[Text, ...] = ()
    alias: Mapping[str, Any] | None = None


class RecordSetProvider(Provider):
    """A :class:`RecordSetSpec`. attrs: ``zone_id``, ``name``, ``type``.

    Written with UPSERT (never CREATE); deleted by name and type as Route 53 holds the record."""

    spec = RecordSetSpec
    replace_on = frozenset({"zone_name", "name", "type"})
    # a record is identified by name and type: delete the old one before writing the new one
    replace_order = ReplaceOrder.DELETE_FIRST

    def _rrset(self, record: RecordSetSpec) -> dict[str, Any]:
        rrset: dict[str, Any] = {"Name": record.name, "Type": record.type}
        alias = record.alias
        if alias:
            rrset["AliasTarget"] = {"DNSName": alias["dns_name"], "HostedZoneId": alias["hosted_zone_id"],
                                    "EvaluateTargetHealth": bool(alias["evaluate_target_health"])}
        else:
            rrset["TTL"] = record.ttl
            rrset["ResourceRecords"] = [{"Value": v} for v in record.values]
        return rrset

    def _change(self, aws: Aws, zone_id: str, action: str, rrset: Mapping[str, Any]) -> None:
        aws.call("route53", "change_resource_record_sets", HostedZoneId=zone_id, ChangeBatch={
            "Comment": "sstdirect", "Changes": [{"Action": action, "ResourceRecordSet": plain(rrset)}]})

    def _live(self, aws: Aws, zone_id: str, name: str, rtype: str) -> dict[str, Any] | None:
        out = aws.get_or_none("route53", "list_resource_record_sets", HostedZoneId=zone_id,
                              StartRecordName=name, StartRecordType=rtype, MaxItems="1")
        for rr in (out or {}).get("ResourceRecordSets", []):
            if _norm(rr.get("Name", "").replace("\\052", "*")) == _norm(name) and rr.get("Type") == rtype \
                    and not rr.get("SetIdentifier"):
                return rr
        return None

    def _created(self, zone_id: str, record: RecordSetSpec) -> Created:
        return Created(f"{zone_id}/{record.name}/{record.type}",
                       {"zone_id": zone_id, "name": record.name, "type": record.type})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        record = RecordSetSpec.from_props(props)
        zone_id = zone_id_for(aws, record.zone_name)
        self._change(aws, zone_id, "UPSERT", self._rrset(record))
        return self._created(zone_id, record)

    def _observed(self, rr: Mapping[str, Any], was: Mapping[str, Any]) -> dict[str, Any]:
        """Props of a live record set; names equal to ``was``'s up to case and trailing dot keep its spelling."""
        if "AliasTarget" in rr:
            target = rr["AliasTarget"]
            old = was.get("alias") or {}
            dns = target.get("DNSName")
            return {"alias": {"dns_name": old.get("dns_name") if _norm(dns) == _norm(old.get("dns_name")) else dns,
                              "hosted_zone_id": target.get("HostedZoneId"),
                              "evaluate_target_health": bool(target.get("EvaluateTargetHealth"))},
                    "ttl": None, "values": []}
        old_values = list(was.get("values") or [])
        values = [v["Value"] for v in rr.get("ResourceRecords", [])]
        if sorted(_norm(v) for v in values) == sorted(_norm(v) for v in old_values):
            values = old_values
        return {"alias": None, "ttl": rr.get("TTL"), "values": values}

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        attrs = record.attrs
        rr = self._live(aws, attrs.get("zone_id", ""), attrs.get("name", ""), attrs.get("type", ""))
        return None if rr is None else self._observed(rr, record.props)

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        self._change(aws, record.attrs["zone_id"], "UPSERT", self._rrset(RecordSetSpec.from_props(props)))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        attrs = record.attrs
        rr = self._live(aws, attrs.get("zone_id", ""), attrs.get("name", ""), attrs.get("type", ""))
        if rr is None:
            return
        try:
            self._change(aws, attrs["zone_id"], "DELETE", rr)
        except Exception as exc:
            # deleted by someone else between the read and the change: gone is fine
            if not (error_code(exc) == "InvalidChangeBatch" and "not found" in str(exc)):
                raise

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        """An interrupted UPSERT that took effect: the record is there with the desired content."""
        record = RecordSetSpec.from_record(props)
        zone_id = zone_id_for(aws, record.zone_name)
        rr = self._live(aws, zone_id, record.name, record.type)
        want = {"alias": plain(record.alias), "ttl": record.ttl, "values": plain(record.values)}
        if rr is None or self._observed(rr, want) != want:
            return None
        return self._created(zone_id, record)


# -- API Gateway v2 -------------------------------------------------------------------------

SERVICE = "apigatewayv2"


@resource_spec("apigatewayv2.DomainName")
class DomainNameSpec(Spec):
    """A regional custom domain (see :func:`domain_name_props`)."""

    domain_name: str
    certificate_arn: Text
    endpoint_type: Literal["REGIONAL", "EDGE"] = "REGIONAL"
    security_policy: str = "TLS_1_2"
    ip_address_type: Literal["ipv4", "dualstack"] = OMIT  # left out where botocore's model lacks the field
    tags: Mapping[str, str]


def _domain_config(props: Mapping[str, Any]) -> dict[str, Any]:
    domain = DomainNameSpec.from_props(props)
    config = {"CertificateArn": domain.certificate_arn, "EndpointType": domain.endpoint_type,
              "SecurityPolicy": domain.security_policy}
    if domain.ip_address_type is not OMIT:
        config["IpAddressType"] = domain.ip_address_type
    return config


def _domain_attrs(aws: Aws, domain: Mapping[str, Any]) -> dict[str, Any]:
    name = domain["DomainName"]
    config = (domain.get("DomainNameConfigurations") or [{}])[0]
    return {"name": name, "arn": f"arn:aws:apigateway:{aws.region}::/domainnames/{name}",
            "target_domain": config.get("ApiGatewayDomainName"), "hosted_zone_id": config.get("HostedZoneId")}


class DomainNameProvider(Provider):
    """A :class:`DomainNameSpec`. attrs: ``name``, ``arn``, ``target_domain`` (ApiGatewayDomainName) and
    ``hosted_zone_id``."""

    spec = DomainNameSpec
    replace_on = frozenset({"domain_name", "endpoint_type"})
    replace_order = ReplaceOrder.DELETE_FIRST  # a domain name is unique in the region

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        """Create the domain name. If it already exists and carries this resource's ``sstdirect:id`` tag,
        it is ours: made by a create still in flight when an earlier deploy died, which landed after that
        deploy's intent record was looked for. It is adopted (and brought to ``props``); a domain name
        that is not ours stays a ``ConflictException``."""
        domain = DomainNameSpec.from_props(props)
        try:
            out = aws.call(SERVICE, "create_domain_name", DomainName=domain.domain_name,
                           DomainNameConfigurations=[_domain_config(props)], Tags=plain(domain.tags))
        except Exception as exc:
            found = self.find(aws, props) if error_code(exc) == "ConflictException" else None
            if found is None:
                raise
            out = aws.call(SERVICE, "update_domain_name", DomainName=domain.domain_name,
                           DomainNameConfigurations=[_domain_config(props)])
        return Created(domain.domain_name, _domain_attrs(aws, out))

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        domains = {d["DomainName"]: d for d in aws.paginate(SERVICE, "get_domain_names", "Items")}
        out: dict[str, dict[str, Any] | None] = {}
        for address, rec in records.items():
            domain = domains.get(rec.physical_id or "")
            if domain is None:
                out[address] = None
                continue
            config = (domain.get("DomainNameConfigurations") or [{}])[0]
            observed = {"domain_name": domain["DomainName"], "certificate_arn": config.get("CertificateArn"),
                        "endpoint_type": config.get("EndpointType"), "security_policy": config.get("SecurityPolicy")}
            if "ip_address_type" in rec.props:
                observed["ip_address_type"] = (config.get("IpAddressType") or "ipv4").lower()
            out[address] = observed
        return out

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        if changed - {"tags"}:
            out = aws.call(SERVICE, "update_domain_name", DomainName=record.physical_id,
                           DomainNameConfigurations=[_domain_config(props)])
            attrs = _domain_attrs(aws, out)
        if "tags" in changed:
            aws.call(SERVICE, "tag_resource", ResourceArn=record.attrs["arn"],
                     Tags=plain(DomainNameSpec.from_props(props).tags))
        return attrs

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(SERVICE, "delete_domain_name", DomainName=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        """The domain name, if it carries this resource's ``sstdirect:id`` tag (else it is not ours)."""
        spec = DomainNameSpec.from_record(props)
        domain = aws.get_or_none(SERVICE, "get_domain_name", DomainName=spec.domain_name)
        if domain is None or (domain.get("Tags") or {}).get("sstdirect:id") != spec.tags.get("sstdirect:id"):
            return None
        return Created(spec.domain_name, _domain_attrs(aws, domain))


@resource_spec("apigatewayv2.ApiMapping")
class ApiMappingSpec(Spec):
    domain_name: Text
    api_id: Text
    stage: Text
    api_mapping_key: str | None = None  # the construct's ``path``


class ApiMappingProvider(Provider):
    """An :class:`ApiMappingSpec`. Changes other than the domain go through UpdateApiMapping. attrs: ``id``."""

    spec = ApiMappingSpec
    replace_on = frozenset({"domain_name"})
    # its domain is replaced delete-first (which drops its mappings): follow it the same way
    replace_order = ReplaceOrder.DELETE_FIRST

    def _mappings(self, aws: Aws, domain_name: str) -> list[dict[str, Any]]:
        # the domain itself is gone: its mappings with it
        return aws.paginate_or_empty(SERVICE, "get_api_mappings", "Items", DomainName=domain_name)

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        mapping = ApiMappingSpec.from_props(props)
        params: dict[str, Any] = {"DomainName": mapping.domain_name, "ApiId": mapping.api_id, "Stage": mapping.stage}
        if mapping.api_mapping_key:
            params["ApiMappingKey"] = mapping.api_mapping_key
        out = aws.call(SERVICE, "create_api_mapping", **params)
        return Created(out["ApiMappingId"], {"id": out["ApiMappingId"]})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        groups: dict[str, dict[str, Record]] = defaultdict(dict)
        for address, rec in records.items():
            groups[rec.props.get("domain_name", "")][address] = rec
        out: dict[str, dict[str, Any] | None] = {}
        for domain_name, recs in groups.items():
            seen = {m["ApiMappingId"]: m for m in self._mappings(aws, domain_name)}
            for address, rec in recs.items():
                m = seen.get(rec.physical_id or "")
                out[address] = None if m is None else {
                    "domain_name": domain_name, "api_id": m.get("ApiId"), "stage": m.get("Stage"),
                    "api_mapping_key": m.get("ApiMappingKey") or None}
        return out

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        mapping = ApiMappingSpec.from_props(props)
        aws.call(SERVICE, "update_api_mapping", ApiMappingId=record.physical_id, DomainName=mapping.domain_name,
                 ApiId=mapping.api_id, Stage=mapping.stage, ApiMappingKey=mapping.api_mapping_key or "")
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists(SERVICE, "delete_api_mapping", ApiMappingId=record.physical_id,
                             DomainName=record.props["domain_name"])

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        mapping = ApiMappingSpec.from_record(props)
        for m in self._mappings(aws, mapping.domain_name):
            if (m.get("ApiId"), m.get("Stage"), m.get("ApiMappingKey") or None) == (
                    mapping.api_id, mapping.stage, mapping.api_mapping_key or None):
                return Created(m["ApiMappingId"], {"id": m["ApiMappingId"]})
        return None
