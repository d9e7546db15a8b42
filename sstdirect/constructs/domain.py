"""Custom domains of API constructs: parsing ``custom_domain=``, the pre-flight reads, and expansion.

Used by :class:`~sstdirect.constructs.api.Api` (and meant for ``WebSocketApi``): the construct
parses its option with :func:`parse_custom_domain` (pure; every error bad on its face is a
ConfigError here), checks what only AWS can tell with :func:`preflight_domain` (reads only; a
missing hosted zone or certificate is a ConfigError before any write) and adds
:func:`domain_resources` to its resources.

Resources, under ``{construct}/domain/``:

* ``certificate`` (``acm.Certificate``): requested with DNS validation, unless ``certificate_arn``;
* ``validation-record`` (``route53.RecordSet``): the certificate's validation CNAME, UPSERTed;
* ``validation`` (``acm.CertificateValidation``): waits until the certificate is ISSUED;
* ``name`` (``apigatewayv2.DomainName``): REGIONAL, TLS_1_2, dualstack;
* ``mapping`` (``apigatewayv2.ApiMapping``): ``path`` as the mapping key;
* ``record-a`` / ``record-aaaa`` (``route53.RecordSet``): alias records to the domain's regional
  target, unless ``is_external_domain``.

Their references order deletes too: mapping and alias records go before the domain name, the
domain name before the validation, the validation before its record and the certificate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine.resource import Resource
from ..engine.values import Ref
from ..errors import ConfigError
from ..resources.domains import (
    ApiMappingSpec,
    CertificateSpec,
    CertificateValidationSpec,
    DomainNameSpec,
    RecordSetSpec,
    describe_certificate,
    domain_name_props,
    dualstack_supported,
    find_public_zone,
)
from .base import ExpandContext, check_options

if TYPE_CHECKING:
    from ..aws import Aws

CUSTOM_DOMAIN_OPTIONS = ("domain_name", "hosted_zone", "path", "certificate_arn", "is_external_domain")

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")  # \Z: "$" accepts a final newline
_PATH = re.compile(r"^[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*\Z")
_CERT_ARN = re.compile(r"^arn:aws[a-z-]*:acm:([a-z0-9-]+):(\d{12}):certificate/[A-Za-z0-9-]+\Z")
# ACM: the certificate's first (common) name may have at most 64 characters
ACM_MAX_DOMAIN = 64


@dataclass(frozen=True)
class CustomDomain:
    """A parsed ``custom_domain=``. ``hosted_zone`` is None for an external domain (no DNS writes)."""

    domain_name: str
    hosted_zone: str | None
    path: str | None
    certificate_arn: str | None
    is_external_domain: bool

    def url(self, scheme: str = "https") -> str:
        """``https://{domain}`` or ``https://{domain}/{path}/``."""
        return f"{scheme}://{self.domain_name}/{self.path}/" if self.path else f"{scheme}://{self.domain_name}"


def _check_domain(label: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{label}: custom_domain {key} must be a domain name string such as 'api.example.com', "
                          f"not {value!r}")
    if value != value.lower():
        raise ConfigError(f"{label}: custom_domain {key} {value!r} must be lower case: use {value.lower()!r}")
    if value.endswith("."):
        raise ConfigError(f"{label}: custom_domain {key} {value!r}: write it without the trailing dot "
                          f"({value.rstrip('.')!r})")
    labels = value.split(".")
    bad = [part for part in labels if not _LABEL.match(part)]
    if len(labels) < 2 or bad or len(value) > 253 or labels[-1].isdigit():
        why = (f"label {bad[0]!r} is not valid (1-63 letters, digits or '-', not starting or ending with '-')"
               if bad else "a domain needs at least two labels, at most 253 characters, and a non-numeric "
                           "top-level label")
        raise ConfigError(f"{label}: custom_domain {key} {value!r} is not a valid domain name: {why}")
    return value


def default_hosted_zone(domain_name: str) -> str:
    """SST's rule: the domain minus its first label when it has more than two labels."""
    labels = domain_name.split(".")
    return ".".join(labels[1:]) if len(labels) > 2 else domain_name


def parse_custom_domain(label: str, value: Any, *, region: str) -> CustomDomain | None:
    """``custom_domain=`` → :class:`CustomDomain` (or None). Pure: a ConfigError makes no AWS call."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"domain_name": value}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{label}: custom_domain must be a domain name ('api.example.com') or a dict of "
                          f"{', '.join(CUSTOM_DOMAIN_OPTIONS)}, not {type(value).__name__}")
    check_options(f"{label} custom_domain", value, CUSTOM_DOMAIN_OPTIONS)
    if "domain_name" not in value:
        raise ConfigError(f"{label}: custom_domain needs 'domain_name' (e.g. {{'domain_name': 'api.example.com'}})")
    domain = _check_domain(label, "domain_name", value["domain_name"])

    external = value.get("is_external_domain", False)
    if not isinstance(external, bool):
        raise ConfigError(f"{label}: custom_domain is_external_domain must be True or False, not {external!r}")

    cert = value.get("certificate_arn")
    if cert is not None:
        m = _CERT_ARN.match(cert) if isinstance(cert, str) else None
        if m is None:
            raise ConfigError(f"{label}: custom_domain certificate_arn must be an ACM certificate ARN "
                              f"(arn:aws:acm:REGION:ACCOUNT:certificate/ID), not {cert!r}")
        if m.group(1) != region:
            raise ConfigError(f"{label}: custom_domain certificate_arn is in {m.group(1)}, but a REGIONAL API "
                              f"Gateway domain needs a certificate in the API's region {region}; request or "
                              f"import one in {region}")
    elif external:
        raise ConfigError(f"{label}: custom_domain is_external_domain=True needs certificate_arn: sstdirect "
                          f"cannot validate a certificate for DNS it does not manage; create and validate one "
                          f"in ACM ({region}) and pass its ARN")
    elif len(domain) > ACM_MAX_DOMAIN:
        raise ConfigError(f"{label}: custom_domain domain_name {domain!r} has {len(domain)} characters; ACM "
                          f"certificates allow at most {ACM_MAX_DOMAIN}: use a shorter name or pass certificate_arn")

    zone = value.get("hosted_zone")
    if zone is not None:
        if external:
            raise ConfigError(f"{label}: custom_domain hosted_zone cannot be used with is_external_domain=True "
                              f"(an external domain's DNS is not in Route 53); remove one of them")
        zone = _check_domain(label, "hosted_zone", zone)
        if domain != zone and not domain.endswith("." + zone):
            raise ConfigError(f"{label}: custom_domain domain_name {domain!r} is not inside hosted_zone {zone!r}")
    elif not external:
        zone = default_hosted_zone(domain)

    path = value.get("path")
    if path is not None:
        if not isinstance(path, str):
            raise ConfigError(f"{label}: custom_domain path must be a string such as 'v1', not {path!r}")
        path = path.strip("/") or None
        if path is not None and not _PATH.match(path):
            raise ConfigError(f"{label}: custom_domain path {value['path']!r} is not valid: use segments of "
                              f"letters, digits, '.', '_', '~' or '-' separated by '/' (e.g. 'v1' or 'v1/notes')")
    return CustomDomain(domain, zone, path, cert, external)


# -- pre-flight: reads that validate AWS-dependent input before any write -----------------------


def preflight_domain(aws: Aws, domain: CustomDomain, label: str) -> None:
    """The hosted zone exists (a public zone of exactly that name) and a given certificate is usable."""
    if domain.certificate_arn is not None:
        cert = describe_certificate(aws, domain.certificate_arn)
        if cert is None:
            raise ConfigError(f"{label}: custom_domain certificate_arn {domain.certificate_arn!r} does not exist "
                              f"(in {aws.region}, for this account); request or import it in ACM, or omit "
                              f"certificate_arn to let sstdirect request one")
        status = cert.get("Status")
        if status != "ISSUED":
            raise ConfigError(f"{label}: custom_domain certificate {domain.certificate_arn!r} is {status}, not "
                              f"ISSUED; validate it in ACM first, or omit certificate_arn")
        names = [cert.get("DomainName", ""), *cert.get("SubjectAlternativeNames", [])]
        if not any(_covers(n, domain.domain_name) for n in names):
            raise ConfigError(f"{label}: custom_domain certificate {domain.certificate_arn!r} covers "
                              f"{sorted(set(names))}, not {domain.domain_name!r}; use a certificate for that name")
    if domain.hosted_zone is not None:
        found = find_public_zone(aws, domain.hosted_zone)
        if found.zone_id is None:
            if found.ambiguous:
                problem = f"is ambiguous: several public zones have that name ({', '.join(found.ambiguous)}); keep one"
            else:
                problem = "was not found" + (" (only a private zone of that name exists)" if found.private_only else "")
            raise ConfigError(
                f"{label}: custom_domain {domain.domain_name!r}: the Route 53 hosted zone {domain.hosted_zone!r} "
                f"{problem}. Create a public hosted zone {domain.hosted_zone!r} in "
                f"this account, pass the zone the domain belongs to as custom_domain={{'domain_name': "
                f"{domain.domain_name!r}, 'hosted_zone': '...'}}, or, for DNS hosted outside Route 53, "
                f"use is_external_domain=True with a certificate_arn. Nothing was changed."
            )


def _covers(cert_name: str, domain: str) -> bool:
    cert_name = cert_name.lower().rstrip(".")
    if cert_name.startswith("*."):
        head, _, rest = domain.partition(".")
        return bool(head) and rest == cert_name[2:]
    return cert_name == domain


# -- expansion ------------------------------------------------------------------------------


def domain_resources(ctx: ExpandContext, domain: CustomDomain, *, prefix: str, api_id: Any,
                     stage: Any) -> list[Resource]:
    """The resources of ``domain`` for the API ``api_id`` (a ref) and its ``stage`` (a ref or name)."""

    def a(name: str) -> str:
        return f"{prefix}/{name}"

    out: list[Resource] = []
    validation_after: tuple[str, ...] = ()
    if domain.certificate_arn is not None:
        certificate_arn: Any = domain.certificate_arn  # the user's: never made, never deleted
    else:
        cert = Resource.of(a("certificate"), CertificateSpec(domain_name=domain.domain_name,
                                                            tags=ctx.tags(a("certificate"))))
        record = Resource.of(a("validation-record"), RecordSetSpec(
            zone_name=domain.hosted_zone, name=Ref(cert.address, "validation_record_name"), type="CNAME", ttl=300,
            values=(Ref(cert.address, "validation_record_value"),), alias=None))
        validation = Resource.of(a("validation"), CertificateValidationSpec(certificate_arn=Ref(cert.address, "arn")),
                                 after=(record.address,))
        out += [cert, record, validation]
        certificate_arn = Ref(cert.address, "arn")  # the domain also uses the certificate directly
        validation_after = (validation.address,)

    name = Resource.of(a("name"), DomainNameSpec(domain_name=domain.domain_name, **domain_name_props(certificate_arn),
                                                 tags=ctx.tags(a("name"))), after=validation_after)
    out.append(name)
    out.append(Resource.of(a("mapping"), ApiMappingSpec(
        domain_name=Ref(name.address, "name"), api_id=api_id, stage=stage, api_mapping_key=domain.path)))
    if domain.hosted_zone is not None:
        for rtype in ("A", "AAAA") if dualstack_supported() else ("A",):  # AAAA only where the domain serves IPv6
            out.append(Resource.of(a(f"record-{rtype.lower()}"), RecordSetSpec(
                zone_name=domain.hosted_zone, name=domain.domain_name, type=rtype, ttl=None, values=(),
                alias={"dns_name": Ref(name.address, "target_domain"),
                       "hosted_zone_id": Ref(name.address, "hosted_zone_id"), "evaluate_target_health": False})))
    return out
