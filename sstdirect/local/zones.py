"""Local mode only: the Route 53 hosted zones an app's custom domains need, made in the embedded AWS.

On real AWS a missing zone is the user's to create (the deploy's preflight stops with a ConfigError, see
:func:`sstdirect.constructs.domain.preflight_domain`); a fresh embedded AWS holds none, so ``deploy --local``
and ``dev`` create each missing one (a public zone of exactly that name) before deploying, and say so.
Never call this against real AWS.
"""

from __future__ import annotations

import uuid
from typing import Any


def ensure_local_zones(app: Any) -> list[str]:
    """Create, in the (embedded) AWS ``app`` points at, every hosted zone its custom domains name that is
    missing; the names of the zones created, in construct order."""
    zones = [d.hosted_zone for c in app.constructs if (d := getattr(c, "custom_domain", None)) is not None
             and getattr(d, "hosted_zone", None)]
    if not zones:
        return []
    aws = app.aws()
    created: list[str] = []
    for zone in dict.fromkeys(zones):
        if not _public_zone_exists(aws, zone):
            aws.call("route53", "create_hosted_zone", Name=zone, CallerReference=f"sstdirect-local-{uuid.uuid4()}",
                     HostedZoneConfig={"Comment": "created by sstdirect for local mode", "PrivateZone": False})
            created.append(zone)
    return created


def _public_zone_exists(aws: Any, name: str) -> bool:
    """A public zone named exactly ``name`` exists (the preflight's test, ``resources.domains.find_public_zone``,
    which ``sstdirect.local`` cannot import: ``resources`` imports ``local`` through ``credentials``)."""
    out = aws.call("route53", "list_hosted_zones_by_name", DNSName=name, MaxItems="100")
    return any((z.get("Name") or "").lower().rstrip(".") == name and not (z.get("Config") or {}).get("PrivateZone")
               for z in out.get("HostedZones", []))
