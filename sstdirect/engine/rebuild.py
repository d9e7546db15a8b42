"""Lost lockfiles: notice an app's objects in AWS when there is no lockfile, and rebuild the lockfile.

Every object sstdirect makes carries the tags ``sstdirect:app``, ``sstdirect:stage`` and
``sstdirect:id`` (its address) where AWS can tag it, and a physical name that starts with
``{stage}-{app}-`` where it has a name. The root object of every construct (an HTTP or WebSocket
API, a function, a user pool, an identity pool, an AppSync API) can be listed by those tags:
:meth:`Provider.owned`.

- :func:`refuse_unrecorded` (deploy, when there is no lockfile): if AWS already holds such objects of
  this app and stage, a deploy would make them a second time (API ids are not names). It raises a
  StateError naming the recovery command before any write. Stopping, rather than adopting, is the
  default because adoption would have to guess which of several copies to keep.
- :func:`rebuild` (``sstdirect state rebuild APP.py`` / ``App.rebuild_state()``): for each resource
  the app declares, in dependency order, find the existing object with its provider's ``find`` (the
  lookup that also resolves interrupted creates: by tags, deterministic name, route key, description)
  and record it as created, with the app's props. Objects of this app and stage that are tagged but
  not claimed that way are recorded too, so the next deploy deletes them (``diff`` shows them first):
  an extra copy of a declared resource as a *deposed* object of its address, an object whose address
  the app no longer declares under that address; and the unclaimed children of recorded objects (an
  API's routes, integrations, authorizers and stages left from an older version of the app, or made by
  a create whose answer was lost) under ``{parent}/stray/{label}`` (:meth:`Provider.strays`). Types
  that guard their deletion (a user pool, which may hold users) are never recorded so: they are listed
  in ``RebuildResult.ignored`` for a human.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import StateError
from ..state import Record, State, held_ids
from .errors import wrap_aws_error
from .planner import record_lookup, recorded_props, topological_order
from .resource import Resource, provider_for
from .strays import find_strays, scan_owned
from .values import contains_unknown, digest, resolve

if TYPE_CHECKING:
    from ..aws import Aws


def rebuild_command(app_file: str = "APP.py", stage: str | None = None) -> str:
    return f"sstdirect state rebuild {app_file}" + (f" --stage {stage}" if stage else "")


def refuse_unrecorded(aws: Aws, app: str, stage: str, desired: Mapping[str, Resource], lockfile: Any) -> None:
    """With no lockfile: StateError (before any write) if AWS holds objects tagged as this app's at this stage."""
    found = scan_owned(aws, app, stage, {res.type for res in desired.values()})
    if not found:
        return
    listed = [f"{t} {o.physical_id} ({o.address or 'no sstdirect:id'})" for t, objs in found.items() for o in objs]
    shown = ", ".join(listed[:5]) + (f" and {len(listed) - 5} more" if len(listed) > 5 else "")
    raise StateError(
        f"there is no lockfile at {lockfile}, but AWS already holds {len(listed)} object(s) tagged as app "
        f"{app!r} stage {stage!r}: {shown}. A deploy now would make them a second time, so nothing was changed. "
        f"Rebuild the lockfile from AWS with `{rebuild_command(stage=stage)}` (Python: app.rebuild_state()), "
        f"then deploy; or restore the lockfile (or its .bak) if you have it."
    )


@dataclass
class RebuildResult:
    """What :func:`rebuild` recorded: ``found`` (address → physical id), ``missing`` (declared, not in AWS:
    the next deploy creates them) and ``extra`` (tagged objects not claimed by a declared resource, recorded
    so that the next deploy deletes them: ``(address, physical id)``) and ``ignored`` (tagged objects
    left alone: ``(type, address, physical id)``)."""

    state: State
    found: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)
    ignored: list[tuple[str, str, str]] = field(default_factory=list)


def rebuild(aws: Aws, app: str, stage: str, region: str, desired: Mapping[str, Resource]) -> RebuildResult:
    """A new State for ``app`` at ``stage`` that records what AWS holds of ``desired`` (reads only)."""
    with wrap_aws_error("the AWS account", "read"):  # a refused GetCallerIdentity is a DeployError too
        account = aws.account_id
    state = State(app=app, stage=stage, region=region, account=account)
    result = RebuildResult(state)
    records = state.resources
    lookup = record_lookup(records, {"account_id": account, "region": aws.region})

    taken = held_ids(records.values())
    for address in topological_order(desired):
        res = desired[address]
        provider = provider_for(res.type)
        props = resolve(res.props, lookup)
        if contains_unknown(props):  # what it refers to is not in AWS: it cannot be there either
            result.missing.append(address)
            continue
        with wrap_aws_error(address, "find"):  # never an object another address already holds
            found = provider.find(aws, props, exclude=frozenset(taken[res.type]))
        if found is None:
            result.missing.append(address)
            continue
        recorded = recorded_props(provider, props, state.secret_salt)
        records[address] = Record(res.type, address, "created", found.physical_id, dict(found.attrs), recorded,
                                  digest(recorded), sorted(res.depends_on))
        result.found[address] = found.physical_id
        taken[res.type].add(found.physical_id)

    strays = find_strays(aws, records)
    records.update(strays)
    result.extra.extend((address, rec.physical_id or "") for address, rec in strays.items())
    claimed = {(rec.type, rec.physical_id) for rec in records.values()}
    for type_, objects in scan_owned(aws, app, stage, {res.type for res in desired.values()}).items():
        for obj in objects:
            if (type_, obj.physical_id) in claimed:
                continue
            if provider_for(type_).guards_removal:
                result.ignored.append((type_, obj.address, obj.physical_id))  # may hold users: a human decides
                continue
            extra = Record(type_, obj.address, "created", obj.physical_id)
            live = records.get(obj.address)
            if live is not None and live.type == type_:
                extra.props, extra.props_hash = dict(live.props), live.props_hash
                live.deposed.append(extra)  # a second copy of a declared resource: deleted as "replaced"
            elif obj.address and obj.address not in desired and obj.address not in records:
                records[obj.address] = extra  # no longer declared: deleted by the next deploy
            else:  # no usable sstdirect:id
                result.ignored.append((type_, obj.address, obj.physical_id))
                continue
            result.extra.append((obj.address, obj.physical_id))
    return result
