"""From the lockfile and AWS to a plan: refresh, adopt what a create would duplicate, record strays.

1. :func:`~sstdirect.engine.refresh.refresh` resolves interrupted creates and observes every record;
2. the plan's creates of types AWS does not keep unique are looked for first and adopted
   (:mod:`sstdirect.engine.adopt`), level by level: an adopted API makes its routes' lookups possible;
3. the children of every container the app keeps that no record claims are recorded as strays, and
   the objects tagged as the app's that no record claims as orphans (:mod:`sstdirect.engine.strays`),
   so the plan deletes them. Orphans are left by a lockfile older than AWS, and their listings cost a
   page per 50 objects of some types (log groups by prefix), so they are looked for on evidence only:
   a stray found, or a ``.bak`` newer than the lockfile (``suspect_stale``) -- a lockfile put back whose
   dropped route left its function, role and log group has that route as a stray of its API.

Reads only: the listings are made once for all three (:meth:`Aws.shared_reads`). The adoptions and
strays are in the returned snapshot (``adopted``, ``strays``); ``deploy`` saves them before it runs the
plan, ``diff`` only shows the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .adopt import adopt_before_create
from .plan import Plan
from .planner import make_plan
from .refresh import ATTRS_KEY, Snapshot, observe, refresh
from .resource import Resource
from .strays import find_orphans, find_strays

if TYPE_CHECKING:
    from ..aws import Aws
    from ..state import State

# An API, then its authorizers and integrations, then its routes: a few rounds find every level.
MAX_ADOPTION_ROUNDS = 4


def survey(aws: Aws, state: State, desired: Mapping[str, Resource], pseudo: Mapping[str, Any], *, read: bool,
           app: str, stage: str, suspect_stale: bool = False, resolve: bool = True) -> tuple[Plan, Snapshot]:
    """The plan of a deploy and the snapshot it was made from; with ``read=False`` only interrupted creates
    are resolved (no adoption, no strays: those need AWS's listings), and with ``resolve=False`` not even
    they (no request at all)."""

    def plan() -> Plan:
        return make_plan(desired, snapshot.records, snapshot.observed, pseudo, app=app, stage=stage,
                         secret_salt=state.secret_salt)

    with aws.shared_reads():
        snapshot = refresh(aws, state, read=read, resolve=resolve)
        result = plan()
        if not read:
            return result, snapshot
        for _ in range(MAX_ADOPTION_ROUNDS):
            found = adopt_before_create(aws, desired, snapshot.records, result, pseudo, state.secret_salt)
            if not found:
                break
            for address, rec in found.items():
                old = snapshot.records.get(address)
                if old is not None:  # a record whose object is gone: its old objects still go
                    rec.deposed = list(old.deposed)
            observed = observe(aws, found)
            for address, seen in observed.items():
                if seen is not None and ATTRS_KEY in seen:
                    found[address].attrs.update(seen.pop(ATTRS_KEY))
            snapshot.records.update(found)
            snapshot.adopted.update(found)
            assert snapshot.observed is not None
            snapshot.observed.update(observed)
            result = plan()
        # the containers the app keeps: a container it drops is deleted with its children
        kept = [a for a in snapshot.records if a in desired and (snapshot.observed or {}).get(a)]
        strays = find_strays(aws, snapshot.records, kept)
        if strays or suspect_stale:
            strays.update(find_orphans(aws, snapshot.records, desired, app=app, stage=stage))
        if strays:
            snapshot.records.update(strays)
            snapshot.strays.update(strays)
            result = plan()
    return result, snapshot
