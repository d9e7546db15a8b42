"""Refresh: read what the lockfile names from AWS, in batches, and resolve interrupted creates.

Reads only: this module never changes AWS or the lockfile. The result, a :class:`Snapshot`, is what
the planner diffs against; ``deploy`` then persists the adoptions it found.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from ..aws import Aws
from ..state import Record, State, held_ids
from .errors import wrap_aws_error
from .resource import ATTRS_KEY, provider_for
from .values import freeze

log = logging.getLogger("sstdirect")


@dataclass
class Snapshot:
    """The lockfile's records as AWS has them now.

    ``records``: a copy of the state's records, interrupted creates resolved (adopted ones now
    ``created``; ones not found dropped, since nothing was made). ``observed``: props read from AWS
    (``None`` = gone), or ``None`` for the whole map when AWS was not read. ``attrs``: attrs read
    from AWS that the lockfile should remember (:data:`~sstdirect.engine.resource.ATTRS_KEY`).
    ``strays``: unclaimed children of recorded containers, recorded for deletion
    (:mod:`sstdirect.engine.survey`).
    """

    records: dict[str, Record]
    observed: dict[str, dict[str, Any] | None] | None
    adopted: dict[str, Record] = field(default_factory=dict)
    strays: dict[str, Record] = field(default_factory=dict)
    dropped: set[str] = field(default_factory=set)
    attrs: dict[str, dict[str, Any]] = field(default_factory=dict)


def refresh(aws: Aws, state: State, *, read: bool = True, resolve: bool = True, workers: int = 8) -> Snapshot:
    """Resolve intent records (unless ``resolve`` is False: a diff that sends nothing; they then plan as
    creates) and, if ``read``, observe every record."""
    with state.lock:
        records = dict(state.resources)
    snapshot = Snapshot(records=records, observed=None)
    owned = held_ids(records.values())
    for address, rec in list(records.items()):
        if rec.status != "creating" or not resolve:
            continue
        provider = provider_for(rec.type)
        # Never adopt an object a record already holds: the deposed old one of a replacement (it may share
        # the new one's name), nor another address's.
        excluded = frozenset(owned[rec.type])
        with wrap_aws_error(address, "find"):
            candidates = [c for c in provider.find_all(aws, freeze(rec.props), exclude=excluded)
                          if c.physical_id not in excluded]
        found = candidates[0] if candidates else None
        if found is None:
            if rec.deposed:  # the replaced object is still there and must still be deleted
                records[address] = replace(rec, status="creating", physical_id=None)
            else:
                snapshot.dropped.add(address)
                del records[address]
            continue
        # More than one: the create ran more than once (a lost response retried). Keep one; the others are
        # orphans, recorded as old objects of this address so that the deploy deletes them (diff shows it),
        # unless the type guards its deletions (a user pool: reported, never deleted on a guess).
        orphans = [Record(rec.type, address, "created", c.physical_id, dict(c.attrs), dict(rec.props), rec.props_hash,
                          list(rec.depends_on)) for c in candidates[1:]]
        if orphans and provider.guards_removal:
            log.warning("%s: %s also match(es) it and %s left alone; delete by hand if unused", address,
                        ", ".join(o.physical_id or "" for o in orphans), "is" if len(orphans) == 1 else "are")
            orphans = []
        adopted = replace(rec, status="created", physical_id=found.physical_id, attrs=dict(found.attrs),
                          deposed=[*rec.deposed, *orphans])
        owned[rec.type].update(c.physical_id for c in candidates)
        records[address] = adopted
        snapshot.adopted[address] = adopted
    if read:
        snapshot.observed = observe(aws, {a: r for a, r in records.items() if r.status == "created"},
                                    workers=workers)
        for address, observed in snapshot.observed.items():
            if observed is not None and ATTRS_KEY in observed:
                snapshot.attrs[address] = observed.pop(ATTRS_KEY)
        for address, rec in records.items():
            if rec.status != "created":
                snapshot.observed[address] = None
    return snapshot


def observe(aws: Aws, records: Mapping[str, Record], *, workers: int = 8) -> dict[str, dict[str, Any] | None]:
    """Observed props per address, one batched ``read_many`` per resource type, types in parallel
    (a list call several types need, e.g. ``ListFunctions``, is made once: :meth:`Aws.shared_reads`)."""
    by_type: dict[str, dict[str, Record]] = defaultdict(dict)
    for address, rec in records.items():
        by_type[rec.type][address] = rec

    def read(type_: str) -> dict[str, dict[str, Any] | None]:
        with wrap_aws_error(f"{len(by_type[type_])} {type_} resource(s)", "read"):
            return provider_for(type_).read_many(aws, by_type[type_])

    observed: dict[str, dict[str, Any] | None] = {}
    if not by_type:
        return observed
    with aws.shared_reads(), ThreadPoolExecutor(max_workers=min(workers, len(by_type))) as pool:
        for result in pool.map(read, sorted(by_type, key=lambda t: (-provider_for(t).read_priority, t))):
            observed.update(result)
    return observed
