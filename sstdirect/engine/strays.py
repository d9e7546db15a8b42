"""Strays: the children of a recorded container (an API's routes, integrations, authorizers, stages) that
no record claims.

They are made by hand, left by an older version of the app whose lockfile was lost or restored, or by a
create whose answer never came back. Each is recorded under ``{parent address}/stray/{label}`` so that
the planner, which deletes every record the app does not declare, shows it (``diff``) and deletes it
(``deploy``); ``state rebuild`` records them the same way. Reads only: one listing per container and
child kind, shared with refresh's own reads inside :meth:`~sstdirect.aws.Aws.shared_reads`.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from ..state import Record
from .errors import wrap_aws_error
from .resource import Provider, Stray, provider_for

if TYPE_CHECKING:
    from ..aws import Aws


def has_children(type_: str) -> bool:
    """Whether records of ``type_`` are containers whose children :func:`find_strays` lists."""
    return type(provider_for(type_)).strays is not Provider.strays


def find_strays(aws: Aws, records: Mapping[str, Record], parents: list[str] | None = None,
                workers: int = 8) -> dict[str, Record]:
    """Records of the unclaimed children of ``parents`` (default: every recorded container), each
    depending on its parent and on the strays or records it uses (a route is deleted before its
    integration). A physical id held by any record, live or deposed, is claimed."""
    claimed = frozenset(obj.physical_id for rec in records.values() for obj in (rec, *rec.deposed)
                        if obj.physical_id)
    parents = [a for a in (records if parents is None else parents)
               if records[a].status == "created" and has_children(records[a].type)]

    def children(parent: str) -> tuple[str, list[Stray]]:
        rec = records[parent]
        with wrap_aws_error(parent, "list children"):
            return parent, provider_for(rec.type).strays(aws, rec, claimed)

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
