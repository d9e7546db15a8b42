"""Adoption before create: never a second copy of one address.

A lockfile that is stale (restored from a backup, put back from version control, hand-edited) may not
record an object that AWS holds for one of the app's addresses. Where AWS keeps names unique (a
function, a role, a log group, a permission's statement id) the create is refused and the executor
adopts the object then (:meth:`Executor._create`). Where it does not (APIs, integrations, authorizers,
user pools and their clients, identity pools, certificates) the create would succeed and make a second
copy, and a child created beside one that a stray delete is removing (a route of the same key) would
race it: so before planning such a create, the object is looked for, tagged or described with this
address, exactly as an interrupted create is found again (:meth:`Provider.find_all`), and adopted.

Reads only; lookups of an API's children reuse refresh's listings (:meth:`Aws.shared_reads`).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..state import Record, held_ids
from .errors import wrap_aws_error
from .plan import Action, Plan
from .planner import record_lookup, recorded_props
from .resource import Created, Resource, provider_for
from .values import contains_unknown, digest, freeze, resolve

if TYPE_CHECKING:
    from ..aws import Aws


def lookup_props(res: Resource, records: Mapping[str, Record], pseudo: Mapping[str, Any]) -> dict[str, Any] | None:
    """``res``'s props resolved against ``records`` with unknown values as None, or None when one of the
    fields that identify the object (its provider's ``replace_on``: an integration's API, a route's key)
    is still unknown — then the object cannot exist yet."""
    props = resolve(res.props, record_lookup(records, pseudo))
    provider = provider_for(res.type)
    if any(contains_unknown(props.get(key)) for key in provider.replace_on):
        return None
    return {key: None if contains_unknown(value) else value for key, value in props.items()}


def adopt_before_create(aws: Aws, desired: Mapping[str, Resource], records: Mapping[str, Record], plan: Plan,
                        pseudo: Mapping[str, Any], salt: str, workers: int = 8) -> dict[str, Record]:
    """Records of the existing objects the creates of ``plan`` would duplicate, by address (adopted as
    created: the next plan compares them with what AWS reports and updates
    what differs; fields AWS does not report are taken as looked for). Only types whose provider sets
    ``adopt_before_create`` are looked up; ``salt`` is the lockfile's secret salt."""
    taken = held_ids(records.values())
    wanted: list[tuple[str, dict[str, Any]]] = []
    for change in plan.changes:
        if change.action is not Action.CREATE or change.address not in desired:
            continue
        res = desired[change.address]
        if not provider_for(res.type).adopt_before_create:
            continue
        props = lookup_props(res, records, pseudo)
        if props is not None:
            wanted.append((change.address, props))

    def find(item: tuple[str, dict[str, Any]]) -> tuple[str, Created | None]:
        address, props = item
        res = desired[address]
        exclude = frozenset(taken[res.type])
        with wrap_aws_error(address, "find"):
            found = [c for c in provider_for(res.type).find_all(aws, freeze(props), exclude=exclude)
                     if c.physical_id not in exclude]
        return address, found[0] if found else None

    if not wanted:
        return {}
    props_of = dict(wanted)
    adopted: dict[str, Record] = {}
    with ThreadPoolExecutor(max_workers=min(workers, len(wanted))) as pool:
        for address, found in pool.map(find, wanted):
            if found is None or found.physical_id in taken[desired[address].type]:
                continue  # two addresses cannot adopt one object
            res = desired[address]
            taken[res.type].add(found.physical_id)
            # recorded as looked for: the next plan compares what AWS reports and updates what differs
            recorded = recorded_props(provider_for(res.type), dict(props_of[address]), salt)
            adopted[address] = Record(res.type, address, "created", found.physical_id, dict(found.attrs), recorded,
                                      digest(recorded), sorted(res.depends_on))
    return adopted
