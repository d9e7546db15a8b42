"""From the lockfile and AWS to a plan: refresh, adopt what a create would duplicate, record strays.

1. :func:`~sstdirect.engine.refresh.refresh` resolves interrupted creates and observes every record;
2. the plan's creates of types AWS does not keep unique are looked for first and adopted
   (:mod:`sstdirect.engine.adopt`), level by level: an adopted API makes its routes' lookups possible;
3. the children of every recorded container that no record claims are recorded as strays
   (:mod:`sstdirect.engine.strays`), so the plan deletes them.

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
from .strays import find_strays

if TYPE_CHECKING:
    from ..aws import Aws
    from ..state import State

# An API, then its authorizers and integrations, then its routes: a few rounds find every level.
MAX_ADOPTION_ROUNDS = 4


def survey(aws: Aws, state: State, desired: Mapping[str, Resource], pseudo: Mapping[str, Any], *, read: bool,
           app: str, stage: str) -> tuple[Plan, Snapshot]:
    """The plan of a deploy and the snapshot it was made from; with ``read=False`` only interrupted creates
    are resolved (no adoption, no strays: those need AWS's listings)."""

    def plan() -> Plan:
        return make_plan(desired, snapshot.records, snapshot.observed, pseudo, app=app, stage=stage,
                         secret_salt=state.secret_salt)

    with aws.shared_reads():
        snapshot = refresh(aws, state, read=read)
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
        strays = find_strays(aws, snapshot.records, [a for a in snapshot.records if (snapshot.observed or {}).get(a)])
        if strays:
            snapshot.records.update(strays)
            snapshot.strays.update(strays)
            result = plan()
    return result, snapshot
