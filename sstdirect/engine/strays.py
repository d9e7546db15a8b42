"""Strays and orphans: objects of the app that no record claims.

- A stray is a child of a recorded container (an API's routes, integrations, authorizers, stages; a
  function's policy statements with sstdirect's prefix) that no record claims: made by hand, left by an
  older version of the app whose lockfile was lost or restored, or by a create whose answer never came
  back. Each is recorded under ``{parent address}/stray/{label}``.
- An orphan is a root object tagged as this app's and stage's (a function, role, log group, API, table...:
  :meth:`Provider.owned`) that no record claims: left when a lockfile older than AWS (restored from a
  backup or version control) no longer records an address the app has since dropped. It is recorded
  under the address its ``sstdirect:id`` tag names (or ``{address}/orphan/{physical id}`` when that
  address records another object).

The planner deletes every record the app does not declare, so both are shown (``diff``) and deleted
(``deploy``); ``state rebuild`` records strays the same way. Reads only: one listing per container and
child kind, and one per listable type, shared with refresh's own reads inside
:meth:`~sstdirect.aws.Aws.shared_reads`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ..state import Record
from .errors import wrap_aws_error
from .resource import Owned, Provider, Resource, Stray, provider_for, registered_types

if TYPE_CHECKING:
    from ..aws import Aws

log = logging.getLogger("sstdirect")


def has_children(type_: str) -> bool:
    """Whether records of ``type_`` are containers whose children :func:`find_strays` lists."""
    return type(provider_for(type_)).strays is not Provider.strays


def find_strays(aws: Aws, records: Mapping[str, Record], parents: list[str] | None = None,
                workers: int = 8) -> dict[str, Record]:
    """Records of the unclaimed children of ``parents`` (default: every recorded container), each
    depending on its parent and on the strays or records it uses (a route is deleted before its
    integration). A physical id held by any record, live or deposed, is claimed."""
    claimed = claimed_ids(records)
    parents = [a for a in (records if parents is None else parents)
               if records[a].status == "created" and has_children(records[a].type)]

    def children(parent: str) -> tuple[str, list[Stray]]:
        rec = records[parent]
        with wrap_aws_error(parent, "list children"):
            return parent, provider_for(rec.type).strays(aws, rec, claimed, records)

    if not parents:
        return {}
    with ThreadPoolExecutor(max_workers=min(workers, len(parents))) as pool:
        listed = list(pool.map(children, sorted(parents)))
    strays: list[tuple[str, str, Stray]] = []  # (parent address, stray address, stray)
    taken = set(records)
    for parent, found in listed:
        for stray in found:
            address = f"{parent}/stray/{stray.label}"
            if address in taken:  # two of one label
                address = f"{address}#{stray.physical_id}"
            taken.add(address)
            strays.append((parent, address, stray))
    by_physical = {rec.physical_id: a for a, rec in records.items() if rec.physical_id}
    by_physical.update({s.physical_id: a for _, a, s in strays})
    out: dict[str, Record] = {}
    for parent, address, stray in strays:
        uses = sorted({parent, *(by_physical[u] for u in stray.uses if u in by_physical)})
        out[address] = Record(stray.type, address, "created", stray.physical_id, {}, dict(stray.props), "", uses)
    return out


def claimed_ids(records: Mapping[str, Record]) -> frozenset[str]:
    """Every physical id a record holds, live or deposed."""
    return frozenset(obj.physical_id for rec in records.values() for obj in (rec, *rec.deposed) if obj.physical_id)


def scan_owned(aws: Aws, app: str, stage: str, types: set[str],
               skip: frozenset[str] = frozenset()) -> dict[str, list[Owned]]:
    """Objects tagged as ``app``'s at ``stage``, by resource type, for the ``types`` that can be listed
    (the types in parallel: one round of list calls), except those whose physical ids are in ``skip``."""

    def scan(type_: str) -> tuple[str, list[Owned] | None]:
        with wrap_aws_error(f"{type_} objects of {app}/{stage}", "list"):
            return type_, provider_for(type_).owned(aws, app, stage, skip)

    listable = sorted(t for t in types if type(provider_for(t)).owned is not Provider.owned)
    if not listable:
        return {}
    with ThreadPoolExecutor(max_workers=len(listable)) as pool:
        return {type_: found for type_, found in pool.map(scan, listable) if found}


def find_orphans(aws: Aws, records: Mapping[str, Record], desired: Mapping[str, Resource], *, app: str,
                 stage: str) -> dict[str, Record]:
    """Records of the objects tagged as this app's and stage's, of every listable type (the app may have
    dropped the last construct of a type), that no record claims (the lockfile is older than AWS).
    Left alone: an object tagged with a declared address not recorded yet (the create adopts it: names
    of these types are unique, or :mod:`~sstdirect.engine.adopt` did), and the types that guard their
    deletion (a user pool may hold users: logged for a human, never deleted so)."""
    claimed = claimed_ids(records)
    out: dict[str, Record] = {}
    for type_, objects in scan_owned(aws, app, stage, set(registered_types()), skip=claimed).items():
        for obj in objects:
            if obj.physical_id in claimed or (obj.address in desired and obj.address not in records):
                continue
            if provider_for(type_).guards_removal:
                log.warning("%s %s is tagged as %s/%s (%s) but not recorded; delete it by hand if it is not "
                            "needed", type_, obj.physical_id, app, stage, obj.address or "no sstdirect:id")
                continue
            address = obj.address if obj.address and obj.address not in records and obj.address not in desired \
                else f"{obj.address or type_}/orphan/{obj.physical_id}"
            out[address] = Record(type_, address, "created", obj.physical_id)
    return out
