"""The pure diff: desired resources + what is known of AWS → a Plan. No I/O, no AWS.

Inputs:

- ``desired``: address → :class:`Resource` (from the constructs);
- ``records``: address → :class:`Record` (the lockfile, with interrupted creates already resolved);
- ``observed``: address → observed props or ``None`` (gone), for a refreshed plan; ``None`` for a
  plan that trusts the lockfile;
- ``pseudo``: values of ``Ref("aws", ...)`` (``account_id``, ``region``).

Rules: a desired resource with no record, or whose record AWS no longer has, is created; one whose
resolved props differ from what AWS holds (fields AWS does not report: from the lockfile) is updated,
or replaced, as its provider's ``diff`` says (by default: when a changed field is in its ``replace_on``),
the change carrying the replacement order the executor follows; a ref to a resource being
created or replaced is unknown, which counts as a change. A record the app no longer declares is
deleted, and so is every deposed object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigError
from ..state import Record, new_salt
from .diff import SECRET_MASK, ObservedSecret
from .plan import Action, Cause, Change, Plan
from .resource import Provider, Resource, provider_for
from .secrets import secret_hash
from .values import UNKNOWN, Ref, resolve, to_json_data


def topological_order(desired: Mapping[str, Resource]) -> list[str]:
    """Addresses in dependency order (stable); a cycle or a dangling ref is a ConfigError."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(address: str, path: list[str]) -> None:
        mark = state.get(address)
        if mark == 2:
            return
        if mark == 1:
            cycle = " → ".join([*path[path.index(address):], address])
            raise ConfigError(f"resources depend on each other in a cycle: {cycle}; break the cycle")
        state[address] = 1
        for dep in sorted(desired[address].depends_on):
            if dep not in desired:
                raise ConfigError(
                    f"{address} refers to {dep!r}, which this app does not declare; "
                    f"pass a value of a construct registered with this App"
                )
            visit(dep, [*path, address])
        state[address] = 2
        order.append(address)

    for address in sorted(desired):
        visit(address, [])
    return order


def record_lookup(records: Mapping[str, Record], pseudo: Mapping[str, Any]) -> Callable[[Ref], Any]:
    """A :func:`~sstdirect.engine.values.resolve` lookup: ``Ref("aws", ...)`` from ``pseudo``, any other ref
    from its record's attrs; UNKNOWN where there is no such record or attr."""

    def lookup(ref: Ref) -> Any:
        if ref.address == "aws":
            return pseudo.get(ref.attr, UNKNOWN)
        rec = records.get(ref.address)
        return rec.attrs.get(ref.attr, UNKNOWN) if rec else UNKNOWN

    return lookup


def recorded_props(provider: Provider, props: Mapping[str, Any], salt: str) -> dict[str, Any]:
    """The lockfile form of resolved props: JSON data with secret fields replaced by their salted hash
    (``salt`` is the lockfile's ``secret_salt``; see :mod:`sstdirect.engine.secrets`)."""
    out = {}
    for key, value in props.items():
        if key in provider.transient_fields:
            continue
        out[key] = secret_hash(value, salt) if key in provider.secret_fields else to_json_data(value)
    return out


def _masked(provider: Provider, key: str, value: Any) -> Any:
    return SECRET_MASK if key in provider.secret_fields else value


def current_props(provider: Provider, record: Record, observed: Mapping[str, Any] | None) -> dict[str, Any]:
    """What AWS holds: the lockfile's props overlaid with the observed ones (observed secrets wrapped in
    :class:`ObservedSecret`, so a refreshed plan hashes nothing)."""
    current = dict(record.props)
    for key, value in (observed or {}).items():
        current[key] = ObservedSecret(to_json_data(value)) if key in provider.secret_fields else to_json_data(value)
    return current


def make_plan(
    desired: Mapping[str, Resource],
    records: Mapping[str, Record],
    observed: Mapping[str, Mapping[str, Any] | None] | None,
    pseudo: Mapping[str, Any],
    *,
    app: str = "",
    stage: str = "",
    secret_salt: str | None = None,
) -> Plan:
    """The plan; ``secret_salt`` is the lockfile's (a fresh one when None: no salted hash then matches)."""
    salt = secret_salt if secret_salt is not None else new_salt()
    changes: list[Change] = []
    actions: dict[str, Action] = {}

    recorded = record_lookup(records, pseudo)

    def lookup(ref: Ref) -> Any:  # what this plan creates or replaces is not known yet
        return UNKNOWN if actions.get(ref.address) in (Action.CREATE, Action.REPLACE) else recorded(ref)

    for address in topological_order(desired):
        res = desired[address]
        provider = provider_for(res.type)
        props = resolve(res.props, lookup)
        rec = records.get(address)
        gone = rec is not None and observed is not None and observed.get(address, {}) is None
        pending = rec is not None and rec.status == "creating"  # an interrupted create not resolved (yet)
        if rec is None or gone or pending:
            actions[address] = Action.CREATE
            after = {k: _masked(provider, k, to_json_data(v)) for k, v in props.items()
                     if k not in provider.transient_fields}
            cause = Cause.INTERRUPTED if pending else Cause.GONE if gone else Cause.NEW
            changes.append(Change(Action.CREATE, res.type, address, tuple(sorted(after)), {}, after, cause))
            continue
        if rec.type != res.type:
            actions[address] = Action.REPLACE
            changes.append(Change(Action.REPLACE, res.type, address, ("type",), {"type": rec.type},
                                  {"type": res.type}, Cause.TYPE_CHANGED, provider.replace_order))
            continue
        current = current_props(provider, rec, observed.get(address) if observed is not None else None)
        diff = provider.diff(current, props, salt)
        if diff.is_empty:
            continue
        before = {k: _masked(provider, k, current.get(k)) for k in diff.changed}
        after = {k: _masked(provider, k, to_json_data(props[k])) for k in diff.changed}
        action = Action.REPLACE if diff.replaces else Action.UPDATE
        actions[address] = action
        changes.append(Change(action, res.type, address, diff.changed, before, after, Cause.CHANGED, diff.replace))

    for address in sorted(records):
        rec = records[address]
        for old in rec.deposed:
            changes.append(Change(Action.DELETE, old.type, address, cause=Cause.REPLACED))
        if address not in desired:
            changes.append(Change(Action.DELETE, rec.type, address, cause=Cause.REMOVED))
    return Plan(changes, app=app, stage=stage)
