"""The executor: the only code that changes AWS.

It turns a Plan into a graph of steps and runs them with a bounded thread pool, each step as soon
as the steps it needs are done:

- a create/update/replacement-create waits for the steps of the resources its props refer to;
- a delete (of a removed resource, or of the old object of a replacement) waits for every step of
  the resources that referred to it, so users are updated or deleted first (a route stops using an
  authorizer before the authorizer is deleted);
- before each create an intent record is saved; after each step the lockfile is saved;
- a replacement runs in the order its plan change says (:class:`~sstdirect.engine.plan.ReplaceOrder`);
- the creates a batch-create plug-in groups (:mod:`sstdirect.engine.batch`: the routes of a new HTTP API)
  run as one step, through the same intent/commit path as a single create.

Each step kind (:class:`StepKind`) has its runner in :data:`RUNNERS`.

A step that must wait before its first write (IAM propagation, an API Gateway pacing slot) raises
:class:`~sstdirect.aws.NotYet`; it goes back to the queue with a not-before time and its worker
runs other steps meanwhile.

On the first failure no new step starts; running ones finish and are recorded; then a DeployError
naming the resource, operation and AWS error code is raised.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from ..aws import Aws, NotYet, StepContext, is_already_exists, step_context
from ..errors import DeployError, StateError
from ..state import Record, State, StateFile, held_ids
from .batch import Batch, plan_batches
from .errors import wrap_aws_error
from .plan import Action, Change, Plan, ReplaceOrder
from .planner import current_props, recorded_props
from .resource import Created, Resource, provider_for
from .values import UNKNOWN, Ref, contains_unknown, digest, resolve

EventHook = Callable[[str, Change, str], None]
log = logging.getLogger("sstdirect")


class StepKind(StrEnum):
    """What a step does; :data:`RUNNERS` maps each kind to its runner."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE_CREATE = "replace_create"  # a create-first replacement: the new object (the old one is deposed)
    REPLACE_DELETE = "replace_delete"  # ... then the old object, once its users moved
    REPLACE = "replace"  # a delete-first replacement: delete, then create
    DELETE = "delete"
    DELETE_DEPOSED = "delete_deposed"  # an old object an earlier replacement left
    BATCH = "batch"  # the creates of one batch group (:mod:`sstdirect.engine.batch`)


# Step kinds that make or change an object (they wait for what they refer to; a batch's waiting ones for it).
_MAKING = frozenset({StepKind.CREATE, StepKind.UPDATE, StepKind.REPLACE_CREATE, StepKind.REPLACE})
_DELETING = frozenset({StepKind.DELETE, StepKind.REPLACE_DELETE, StepKind.DELETE_DEPOSED})


@dataclass
class Step:
    key: str
    kind: StepKind
    change: Change
    needs: set[str] = field(default_factory=set)
    old: Record | None = None
    cascaded: bool = False  # deleted by its parent's deletion in the same plan: only the lockfile changes
    not_before: float = 0.0  # monotonic time before which a deferred step is not re-run
    context: StepContext = field(default_factory=StepContext)
    started: bool = False
    height: int = 1  # steps on the longest chain from this one to the end (itself included)
    priority: int = 0  # its provider's start_priority
    batch: Batch | None = None  # kind BATCH: what it creates
    members: tuple[Change, ...] = ()  # kind BATCH: the changes it carries out (reported one by one)


class Executor:
    def __init__(
        self,
        aws: Aws,
        state_file: StateFile,
        state: State,
        desired: Mapping[str, Resource],
        plan: Plan,
        *,
        workers: int = 64,
        on_event: EventHook | None = None,
    ):
        self.aws = aws
        self.state_file = state_file
        self.state = state
        self.desired = desired
        self.plan = plan
        self.workers = workers
        self.on_event = on_event or (lambda *_: None)
        self.steps = self._build_steps()

    # -- the graph ---------------------------------------------------------------------------

    def _build_steps(self) -> dict[str, Step]:
        steps: dict[str, Step] = {}
        writer: dict[str, str] = {}  # address → the step that makes it usable (create-ish)
        by_address: dict[str, list[str]] = {}

        def add(step: Step) -> None:
            steps[step.key] = step
            by_address.setdefault(step.change.address, []).append(step.key)

        for change in self.plan.changes:
            address = change.address
            rec = self.state.resources.get(address)
            if change.deposed:
                for i, old in enumerate(rec.deposed if rec else []):
                    add(Step(f"deposed:{i}:{address}", StepKind.DELETE_DEPOSED, change, old=old))
            elif change.action is Action.CREATE:
                add(Step(f"create:{address}", StepKind.CREATE, change))
                writer[address] = f"create:{address}"
            elif change.action is Action.UPDATE:
                add(Step(f"update:{address}", StepKind.UPDATE, change))
                writer[address] = f"update:{address}"
            elif change.action is Action.DELETE:
                add(Step(f"delete:{address}", StepKind.DELETE, change, old=rec))
            elif change.replace_order is ReplaceOrder.DELETE_FIRST:
                add(Step(f"replace:{address}", StepKind.REPLACE, change, old=rec))
                writer[address] = f"replace:{address}"
            else:
                add(Step(f"replace+:{address}", StepKind.REPLACE_CREATE, change))
                add(Step(f"replace-:{address}", StepKind.REPLACE_DELETE, change, old=rec,
                         needs={f"replace+:{address}"}))
                writer[address] = f"replace+:{address}"

        # create-ish steps wait for what their props refer to
        for step in steps.values():
            if step.kind in _MAKING:
                for dep in self.desired[step.change.address].depends_on:
                    if dep in writer:
                        step.needs.add(writer[dep])
        # deletes wait for every step of the resources that referred to the deleted object
        users: dict[str, set[str]] = {}
        for address, rec in self.state.resources.items():
            for obj in [rec, *rec.deposed]:
                for dep in obj.depends_on:
                    users.setdefault(dep, set()).add(address)
        for step in steps.values():
            if step.kind not in _DELETING | {StepKind.REPLACE}:
                continue
            address = step.change.address
            for user in users.get(address, set()) - {address}:
                for key in by_address.get(user, []):
                    # A delete-first replacement makes the object its users need, so it can only wait for
                    # users that go away for good: not for their updates or their own replacements
                    # (which wait for it), at the price of a moment where old users point at nothing.
                    if step.kind is not StepKind.REPLACE or steps[key].kind in (StepKind.DELETE,
                                                                                 StepKind.DELETE_DEPOSED):
                        step.needs.add(key)
            if step.kind is StepKind.DELETE:  # old objects of this address go first
                step.needs.update(k for k in by_address.get(address, []) if k.startswith("deposed:"))
        self._merge_batches(steps, by_address)
        self._mark_cascaded(steps)
        for step in steps.values():
            step.needs.discard(step.key)
        _set_heights(steps)
        return steps

    def _merge_batches(self, steps: dict[str, Step], by_address: dict[str, list[str]]) -> None:
        """Replace the create steps of each batch group (:mod:`sstdirect.engine.batch`) by one batch step,
        which the group's waiting addresses' making steps wait for."""
        creating = {s.change.address for s in steps.values() if s.kind is StepKind.CREATE}
        changing = {s.change.address for s in steps.values() if s.kind in _MAKING}
        for batch in plan_batches(self.desired, creating, changing) if creating else []:
            group = batch.group
            member_keys = {f"create:{a}" for a in group.members}
            key = f"batch:{group.address}"
            members = tuple(steps[k].change for k in sorted(member_keys))
            change = next((steps[k].change for k in by_address.get(group.address, []) if k in steps), members[0])
            needs = set().union(*(steps.pop(k).needs for k in member_keys)) - member_keys
            steps[key] = Step(key, StepKind.BATCH, change, needs=needs, batch=batch, members=members)
            for step in steps.values():
                if step.needs & member_keys:
                    step.needs = (step.needs - member_keys) | {key}
            for address in group.waiting:  # e.g. the import overwrites the API: its other children come after
                for other in by_address.get(address, []):
                    if other in steps and steps[other].kind in _MAKING:
                        steps[other].needs.add(key)

    def _mark_cascaded(self, steps: dict[str, Step]) -> None:
        """Deletes that AWS performs itself when the parent is deleted in the same plan (a route of a
        deleted API, a permission of a deleted function): no AWS call, and the parent need not wait.

        Such a child leaves the lockfile only after its parent's delete succeeded (its step waits for the
        parent's): if the parent's delete fails, AWS still holds the child, and so does the lockfile."""
        deleted = {s.change.address for s in steps.values() if s.kind is StepKind.DELETE}
        parents: dict[str, set[str]] = {}
        for step in steps.values():
            rec = self.state.resources.get(step.change.address)
            if step.kind is not StepKind.DELETE or rec is None:
                continue
            parent_type = provider_for(rec.type).deleted_with
            with_parent = {dep for dep in rec.depends_on if dep in deleted and dep in self.state.resources
                           and self.state.resources[dep].type == parent_type} if parent_type else set()
            if with_parent:
                step.cascaded = True
                parents[step.key] = {f"delete:{dep}" for dep in with_parent}
        for step in steps.values():
            step.needs = {k for k in step.needs if not steps[k].cascaded} | parents.get(step.key, set())

    # -- running -----------------------------------------------------------------------------

    def run(self) -> None:
        pending = dict(self.steps)
        done: set[str] = set()
        running: dict[Future[None], Step] = {}
        failures: list[tuple[Step, BaseException]] = []
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sstdirect") as pool:
            while pending or running:
                now = time.monotonic()
                deferred = [s.not_before for s in pending.values() if s.needs <= done and s.not_before > now]
                if not failures:
                    ready = [s for s in pending.values() if s.needs <= done and s.not_before <= now]
                    # longest remaining chain first, then roles and APIs (Provider.start_priority), then by key
                    for step in sorted(ready, key=lambda s: (-s.height, -s.priority, s.key)):
                        del pending[step.key]
                        running[pool.submit(self._run_step, step)] = step
                if failures and not running:
                    break
                if not running and not deferred:
                    if pending:
                        cycle = ", ".join(sorted(pending))
                        raise RuntimeError(f"executor deadlock: steps waiting on each other: {cycle}")
                    break
                timeout = max(0.0, min(deferred) - time.monotonic()) if deferred else None
                if not running:
                    time.sleep(timeout or 0.0)
                    continue
                finished, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                for fut in finished:
                    step = running.pop(fut)
                    exc = fut.exception()
                    if exc is None:
                        done.add(step.key)
                    elif isinstance(exc, NotYet):
                        step.not_before = exc.until
                        pending[step.key] = step
                    else:
                        failures.append((step, exc))
        if failures:
            step, exc = failures[0]
            if isinstance(exc, (DeployError, StateError)):  # a lockfile that cannot be saved stops as itself
                raise exc
            raise DeployError(f"{step.kind} {step.change.address} failed: {exc!r}",
                              address=step.change.address) from exc

    def _run_step(self, step: Step) -> None:
        change = step.change
        reported = step.members or (change,)
        kind = StepKind.CREATE if step.members else step.kind  # a batch reports each member's create
        if not step.started:
            step.started = True
            for each in reported:
                self.on_event("start", each, kind)
        try:
            with step_context(step.context), wrap_aws_error(change.address, change.action.value):
                RUNNERS[step.kind](self, step)
        except NotYet:
            raise  # not a failure: the run loop re-queues the step
        except DeployError as exc:
            exc.address = exc.address or change.address  # a provider's own DeployError names no address
            for each in reported:
                self.on_event("error", each, str(exc))
            raise
        except BaseException as exc:
            for each in reported:
                self.on_event("error", each, str(exc))
            raise
        for each in reported:
            self.on_event("done", each, kind)

    # -- steps -------------------------------------------------------------------------------

    def _lookup(self, ref: Ref) -> Any:
        if ref.address == "aws":
            return {"account_id": self.aws.account_id, "region": self.aws.region}.get(ref.attr, UNKNOWN)
        with self.state.lock:
            rec = self.state.resources.get(ref.address)
            return rec.attrs.get(ref.attr, UNKNOWN) if rec and rec.status == "created" else UNKNOWN

    def _resolved(self, address: str) -> Any:
        """The desired props of ``address`` resolved as far as they go (what is not made yet: UNKNOWN)."""
        return resolve(self.desired[address].props, self._lookup)

    def _props(self, address: str) -> Any:
        props = self._resolved(address)
        if contains_unknown(props):
            raise RuntimeError(f"{address}: a referenced value is still unknown at execution time")
        return props

    def _save(self) -> None:
        self.state_file.save(self.state)

    def _make(self, props: Mapping[str, Mapping[str, Any]],
              create: Callable[[Mapping[str, Record]], Mapping[str, Created]], *, depose: bool = False) -> None:
        """The one intent/commit path of every create, single or batch: an intent record per address of
        ``props`` (its resolved props; a field still unknown, a ref to another address of the batch, is
        recorded as None), saved; then ``create`` (given the intent records) makes the objects; then each
        record says what was made, with the props that now resolve, saved. ``depose``: keep the old object
        of the address (a create-first replacement) for its own delete step."""
        records: dict[str, Record] = {}
        with self.state.lock:
            for address, resolved in props.items():
                res = self.desired[address]
                known = {k: None if v is UNKNOWN else v for k, v in resolved.items()}
                recorded = recorded_props(provider_for(res.type), known, self.state.secret_salt)
                old = self.state.resources.get(address)
                deposed = list(old.deposed) if old else []
                if depose and old is not None and old.physical_id is not None:
                    deposed.append(replace(old, deposed=[], status="created"))
                records[address] = Record(res.type, address, "creating", None, {}, recorded, digest(recorded),
                                          sorted(res.depends_on), deposed)
            self.state.resources.update(records)
        self._save()  # the intent records: an interrupted create is found again next time
        made = create(records)
        with self.state.lock:
            for address, rec in records.items():
                created = made[address]
                rec.status, rec.physical_id, rec.attrs = "created", created.physical_id, dict(created.attrs)
            for address, rec in records.items():
                if contains_unknown(props[address]):  # it referred to a member made by the same batch
                    recorded = recorded_props(provider_for(rec.type), self._props(address), self.state.secret_salt)
                    rec.props, rec.props_hash = recorded, digest(recorded)
        self._save()

    def _create(self, step: Step) -> None:
        """A create, or the new object of a create-first replacement (the old one deposed)."""
        address = step.change.address
        props = self._props(address)
        self._make({address: props}, lambda records: {address: self._create_one(records[address], props)},
                   depose=step.kind is StepKind.REPLACE_CREATE)

    def _create_one(self, rec: Record, props: Any) -> Created:
        """Make the object of the intent record ``rec``: adopt the one AWS already holds under its unique
        name, and delete a second copy a create request sent twice made."""
        provider = provider_for(rec.type)
        with self.aws.resent_writes() as resent:
            try:
                created = provider.create(self.aws, props)
            except Exception as exc:
                if not is_already_exists(exc):
                    raise
                created = self._adopt_existing(rec, props, exc)
        if resent:  # a create request sent twice may have made two objects: delete the one not returned
            skip = frozenset({created.physical_id, *(d.physical_id for d in rec.deposed if d.physical_id)})
            for extra in [c for c in provider.find_all(self.aws, props, exclude=skip) if c.physical_id not in skip]:
                log.warning("%s: deleting %s, a second copy made by a create request that was sent again",
                            rec.address, extra.physical_id)
                provider.delete(self.aws, replace(rec, physical_id=extra.physical_id, attrs=dict(extra.attrs),
                                                  status="created", deposed=[]))
        return created

    def _batch(self, step: Step) -> None:
        """Create the members of ``step.batch``'s group with its plug-in (intent records first)."""
        batch = step.batch
        assert batch is not None
        self._make({address: self._resolved(address) for address in batch.group.members},
                   lambda _: batch.plugin.create(self.aws, batch.group, self._resolved, self._lookup))

    def _adopt_existing(self, rec: Record, props: Any, refused: Exception) -> Created:
        """AWS refused a create because an object of that unique name already exists (a stale or restored
        lockfile does not record it): adopt it if it is not another record's, bringing it to ``props``
        (an update, or a delete and a new create where a changed field forces a replacement). Otherwise
        the refusal stands."""
        provider = provider_for(rec.type)
        with self.state.lock:  # never another address's object, nor this one's old objects (still to delete)
            others = [r for a, r in self.state.resources.items() if a != rec.address]
            held = frozenset(held_ids([*others, *rec.deposed])[rec.type])
        found = provider.find(self.aws, props, exclude=held)
        if found is None or found.physical_id in held:
            raise refused
        log.warning("%s: adopting %s, which AWS already holds under this address", rec.address, found.physical_id)
        existing = replace(rec, status="created", physical_id=found.physical_id, attrs=dict(found.attrs), deposed=[])
        current = current_props(provider, existing, provider.read(self.aws, existing))
        diff = provider.diff(current, props, self.state.secret_salt)
        if diff.replaces:
            provider.delete(self.aws, existing)
            return provider.create(self.aws, props)
        if diff.changed:
            found.attrs.update(provider.update(self.aws, existing, props, frozenset(diff.changed)) or {})
        return found

    def _update(self, step: Step) -> None:
        address = step.change.address
        res = self.desired[address]
        provider = provider_for(res.type)
        props = self._props(address)
        with self.state.lock:
            rec = self.state.resources[address]
        attrs = provider.update(self.aws, rec, props, frozenset(step.change.changed))
        recorded = recorded_props(provider, props, self.state.secret_salt)
        with self.state.lock:
            rec.attrs.update(attrs or {})
            rec.props, rec.props_hash = recorded, digest(recorded)
            rec.depends_on = sorted(res.depends_on)
        self._save()

    def _replace(self, step: Step) -> None:  # delete_first: old and new cannot coexist
        if step.old is not None and step.old.physical_id is not None:
            provider_for(step.old.type).delete(self.aws, step.old)
        with self.state.lock:
            self.state.resources.pop(step.change.address, None)
        self._save()
        self._create(step)

    def _delete(self, step: Step) -> None:
        address = step.change.address
        with self.state.lock:
            rec = self.state.resources.get(address)
        if rec is not None and rec.physical_id is not None and not step.cascaded:
            provider_for(rec.type).delete(self.aws, rec)
        with self.state.lock:
            self.state.resources.pop(address, None)
        self._save()

    def _delete_deposed(self, step: Step) -> None:
        old = step.old
        assert old is not None
        if old.physical_id is not None:
            provider_for(old.type).delete(self.aws, old)
        with self.state.lock:
            rec = self.state.resources.get(step.change.address)
            if rec is not None:
                rec.deposed = [d for d in rec.deposed if d.physical_id != old.physical_id]
        self._save()


#: The runner of each step kind.
RUNNERS: Mapping[StepKind, Callable[[Executor, Step], None]] = {
    StepKind.CREATE: Executor._create,
    StepKind.UPDATE: Executor._update,
    StepKind.REPLACE_CREATE: Executor._create,
    StepKind.REPLACE_DELETE: Executor._delete_deposed,
    StepKind.REPLACE: Executor._replace,
    StepKind.DELETE: Executor._delete,
    StepKind.DELETE_DEPOSED: Executor._delete_deposed,
    StepKind.BATCH: Executor._batch,
}


def _set_heights(steps: Mapping[str, Step]) -> None:
    """Give each step the length of the longest chain of steps that wait for it (critical-path order)."""
    dependents: dict[str, list[str]] = {key: [] for key in steps}
    for step in steps.values():
        for need in step.needs:
            if need in dependents:
                dependents[need].append(step.key)
    heights: dict[str, int] = {}

    def height(key: str) -> int:
        if key not in heights:
            heights[key] = 0  # a cycle (reported by run) counts as no chain
            heights[key] = 1 + max((height(d) for d in dependents[key]), default=0)
        return heights[key]

    for key, step in steps.items():
        step.height = height(key)
        step.priority = provider_for(step.change.type).start_priority
