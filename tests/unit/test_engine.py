"""The engine without AWS: values, the pure planner (causes and replacement orders), and the executor's
ordering, intents, failures, dispatch and batch plug-ins."""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import inspect
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sstdirect.engine import batch, executor
from sstdirect.engine.executor import Executor, StepKind
from sstdirect.engine.plan import Action, Plan, ReplaceOrder
from sstdirect.engine.planner import make_plan, recorded_props, topological_order
from sstdirect.engine.refresh import refresh
from sstdirect.engine.resource import Created, Provider, Resource, register
from sstdirect.engine.values import UNKNOWN, Fmt, Ref, digest, freeze, refs_in, resolve
from sstdirect.errors import ConfigError, DeployError
from sstdirect.state import Record, State, StateFile


class FakeCloud:
    """An in-memory 'AWS' for the fake provider: objects by id, and a log of every write."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str]] = []
        self.fail_on: set[tuple[str, str]] = set()
        self.lock = threading.Lock()
        self.counter = 0

    def write(self, op: str, name: str) -> None:
        with self.lock:
            if (op, name) in self.fail_on:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "nope"}}, f"{op.title()}Thing")
            self.log.append((op, name))


CLOUD = FakeCloud()


class FakeAws:
    region = "xx-test-1"
    account_id = "111122223333"

    @contextlib.contextmanager
    def resent_writes(self) -> Iterator[list[str]]:  # the fake cloud never loses a response
        yield []

    @contextlib.contextmanager
    def shared_reads(self) -> Iterator[None]:  # refresh scopes shared list calls with it
        yield


@register
class ThingProvider(Provider):
    type = "fake.Thing"
    replace_on = frozenset({"kind"})
    secret_fields = frozenset({"secret"})

    def create(self, aws: Any, props: Any) -> Created:
        CLOUD.write("create", props["name"])
        with CLOUD.lock:
            CLOUD.counter += 1
            pid = f"{props['name']}-{CLOUD.counter}"
            CLOUD.objects[pid] = dict(props)
        return Created(pid, {"id": pid, "name": props["name"]})

    def read_many(self, aws: Any, records: Mapping[str, Record]) -> dict[str, Any]:
        out = {}
        for address, rec in records.items():
            obj = CLOUD.objects.get(rec.physical_id or "")
            out[address] = None if obj is None else {"name": obj["name"], "size": obj.get("size")}
        return out

    def update(self, aws: Any, record: Record, props: Any, changed: frozenset[str]) -> dict[str, Any]:
        CLOUD.write("update", props["name"])
        CLOUD.objects[record.physical_id or ""].update(props)
        return {}

    def delete(self, aws: Any, record: Record) -> None:
        CLOUD.write("delete", record.props.get("name", ""))
        CLOUD.objects.pop(record.physical_id or "", None)

    def find(self, aws: Any, props: Any, exclude: frozenset[str] = frozenset()) -> Created | None:
        for pid, obj in CLOUD.objects.items():
            if obj["name"] == props["name"] and pid not in exclude:
                return Created(pid, {"id": pid, "name": obj["name"]})
        return None


@pytest.fixture(autouse=True)
def _fresh_cloud() -> None:
    CLOUD.__init__()  # type: ignore[misc]


def thing(address: str, name: str | None = None, **props: Any) -> Resource:
    return Resource.make("fake.Thing", address, {"name": name or address, "kind": "a", "size": 1, **props})


def deploy(state: State, sf: StateFile, desired: list[Resource], read: bool = True) -> Any:
    wanted = {r.address: r for r in desired}
    snap = refresh(FakeAws(), state, read=read)  # type: ignore[arg-type]
    state.resources.update(snap.adopted)
    for a in snap.dropped:
        state.resources.pop(a)
    plan = make_plan(wanted, snap.records, snap.observed, {"region": "xx-test-1", "account_id": "111122223333"},
                     secret_salt=state.secret_salt)
    Executor(FakeAws(), sf, state, wanted, plan).run()  # type: ignore[arg-type]
    return plan


@pytest.fixture
def store(tmp_path: Any) -> tuple[State, StateFile]:
    return State(app="t", stage="dev", region="xx-test-1"), StateFile(tmp_path / "t.dev.json")


# -- values -----------------------------------------------------------------------------------


def test_freeze_resolve_and_refs() -> None:
    value = freeze({"b": [1, {"x": Ref("A", "id")}], "a": Fmt.of("arn:{p}/{id}", p="x", id=Ref("B", "arn"))})
    assert refs_in(value) == {"A", "B"}
    assert list(value) == ["a", "b"]  # sorted
    out = resolve(value, lambda r: f"<{r.address}.{r.attr}>")
    assert out["a"] == "arn:x/<B.arn>" and out["b"][1]["x"] == "<A.id>"
    partly = resolve(value, lambda r: UNKNOWN if r.address == "B" else "v")
    assert partly["a"] is UNKNOWN and partly["b"][1]["x"] == "v"
    assert refs_in(freeze({"a": Ref("aws", "account_id")})) == set()  # pseudo refs are not dependencies


def test_topological_order_and_bad_graphs() -> None:
    a, b, c = thing("A"), thing("B", dep=Ref("A", "id")), thing("C", dep=Ref("B", "id"))
    assert topological_order({"C": c, "B": b, "A": a}) == ["A", "B", "C"]
    with pytest.raises(ConfigError, match="cycle"):
        topological_order({"A": thing("A", dep=Ref("B", "id")), "B": thing("B", dep=Ref("A", "id"))})
    with pytest.raises(ConfigError, match="does not declare"):
        topological_order({"A": thing("A", dep=Ref("Z", "id"))})


# -- planner ----------------------------------------------------------------------------------

SALT = "00112233445566778899aabbccddeeff"  # a lockfile's secret_salt


def recorded(res: Resource, attrs: dict[str, Any], resolved: dict[str, Any] | None = None) -> Record:
    props = recorded_props(ThingProvider(), resolved if resolved is not None else res.props, SALT)
    return Record("fake.Thing", res.address, "created", attrs.get("id"), attrs, props, digest(props),
                  sorted(res.depends_on))


def test_plan_creates_in_dependency_order_with_unknowns() -> None:
    desired = {"B": thing("B", dep=Ref("A", "id")), "A": thing("A")}
    plan = make_plan(desired, {}, None, {})
    assert [(c.action, c.address) for c in plan.changes] == [(Action.CREATE, "A"), (Action.CREATE, "B")]
    assert plan.changes[1].after["dep"] == {"$unknown": True}  # known after deploy


def test_plan_is_empty_when_nothing_changed_and_lists_changed_fields() -> None:
    a = thing("A")
    records = {"A": recorded(a, {"id": "A-1"})}
    assert make_plan({"A": a}, records, None, {}).is_empty
    bigger = thing("A", size=2)
    plan = make_plan({"A": bigger}, records, None, {})
    (change,) = plan.changes
    assert (change.action, change.changed, change.before, change.after) == (
        Action.UPDATE, ("size",), {"size": 1}, {"size": 2})


def test_replace_propagates_unknown_ids_to_dependents() -> None:
    a, b = thing("A"), thing("B", dep=Ref("A", "id"))
    records = {"A": recorded(a, {"id": "A-1"}), "B": recorded(b, {"id": "B-1"}, {**b.props, "dep": "A-1"})}
    assert make_plan({"A": a, "B": b}, records, None, {}).is_empty
    plan = make_plan({"A": thing("A", kind="b"), "B": b}, records, None, {})
    assert [(c.action, c.address, c.changed) for c in plan.changes] == [
        (Action.REPLACE, "A", ("kind",)), (Action.UPDATE, "B", ("dep",))]
    # a dependent whose *replace_on* field holds the unknown id is replaced too
    c = thing("C", kind=Fmt.of("k-{x}", x=Ref("A", "id")))
    records["C"] = recorded(c, {"id": "C-1"}, {**c.props, "kind": "k-A-1"})
    plan = make_plan({"A": thing("A", kind="b"), "B": b, "C": c}, records, None, {})
    assert {(ch.action, ch.address) for ch in plan.changes} >= {(Action.REPLACE, "C")}


def test_drift_gone_and_changed_and_deletes() -> None:
    a, b = thing("A"), thing("B")
    records = {"A": recorded(a, {"id": "A-1"}), "B": recorded(b, {"id": "B-1"}), "Old": recorded(thing("Old"), {})}
    records["A"].deposed = [recorded(a, {"id": "A-0"})]
    observed = {"A": None, "B": {"name": "B", "size": 5}, "Old": {"name": "Old"}}
    plan = make_plan({"A": a, "B": b}, records, observed, {})
    got = {(c.action, c.address, c.reason, c.deposed) for c in plan.changes}
    assert got == {
        (Action.CREATE, "A", "deleted outside sstdirect", False),
        (Action.UPDATE, "B", "", False),
        (Action.DELETE, "A", "replaced", True),
        (Action.DELETE, "Old", "", False),
    }


def test_secrets_are_hashed_in_state_and_masked_in_plans() -> None:
    a = thing("A", secret="hunter2")
    rec = recorded(a, {"id": "A-1"})
    assert "hunter2" not in json.dumps(rec.props)
    assert make_plan({"A": a}, {"A": rec}, None, {}, secret_salt=SALT).is_empty
    plan = make_plan({"A": thing("A", secret="hunter3")}, {"A": rec}, None, {}, secret_salt=SALT)
    assert plan.changes[0].changed == ("secret",)
    text = str(plan) + plan.to_json_str()
    assert "hunter" not in text and "(sensitive)" in text
    assert "~" in str(plan) and "1 to update" in str(plan)


# -- executor ---------------------------------------------------------------------------------


def test_executor_creates_then_noop_then_updates(store: tuple[State, StateFile]) -> None:
    state, sf = store
    desired = [thing("A"), thing("B", dep=Ref("A", "id"))]
    deploy(state, sf, desired)
    assert CLOUD.log == [("create", "A"), ("create", "B")]
    assert CLOUD.objects[state.resources["B"].physical_id]["dep"] == state.resources["A"].physical_id
    assert json.loads(sf.path.read_text())["resources"]["B"]["status"] == "created"
    CLOUD.log.clear()
    assert deploy(state, sf, desired).is_empty and CLOUD.log == []
    deploy(state, sf, [thing("A", size=9), desired[1]])
    assert CLOUD.log == [("update", "A")]


def test_deletes_wait_for_the_users_of_what_they_delete(store: tuple[State, StateFile]) -> None:
    state, sf = store
    deploy(state, sf, [thing("Auth"), thing("Route", auth=Ref("Auth", "id"))])
    CLOUD.log.clear()
    deploy(state, sf, [thing("Route", auth=None)])  # the route stops using Auth, Auth is removed
    assert CLOUD.log == [("update", "Route"), ("delete", "Auth")]


def test_replacement_creates_first_updates_users_then_deletes_old(store: tuple[State, StateFile]) -> None:
    state, sf = store
    deploy(state, sf, [thing("A"), thing("B", dep=Ref("A", "id"))])
    old = state.resources["A"].physical_id
    CLOUD.log.clear()
    deploy(state, sf, [thing("A", kind="z"), thing("B", dep=Ref("A", "id"))])
    assert CLOUD.log == [("create", "A"), ("update", "B"), ("delete", "A")]
    assert old not in CLOUD.objects and state.resources["A"].deposed == []
    assert CLOUD.objects[state.resources["B"].physical_id]["dep"] == state.resources["A"].physical_id


def test_failure_names_resource_operation_code_and_keeps_what_was_done(store: tuple[State, StateFile]) -> None:
    state, sf = store
    CLOUD.fail_on.add(("create", "B"))
    with pytest.raises(DeployError) as info:
        deploy(state, sf, [thing("A"), thing("B", dep=Ref("A", "id")), thing("C", dep=Ref("B", "id"))])
    err = info.value
    assert (err.address, err.code) == ("B", "AccessDenied") and "CreateThing" in str(err)
    on_disk = json.loads(sf.path.read_text())["resources"]
    assert on_disk["A"]["status"] == "created" and on_disk["B"]["status"] == "creating" and "C" not in on_disk
    CLOUD.fail_on.clear()
    CLOUD.log.clear()
    deploy(state, sf, [thing("A"), thing("B", dep=Ref("A", "id")), thing("C", dep=Ref("B", "id"))])
    assert CLOUD.log == [("create", "B"), ("create", "C")]


def test_interrupted_create_is_adopted_not_duplicated(store: tuple[State, StateFile]) -> None:
    state, sf = store
    # the intent was recorded and AWS made the object, but the process died before recording it
    a = thing("A")
    intent = recorded_props(ThingProvider(), a.props, state.secret_salt)
    state.resources["A"] = Record("fake.Thing", "A", "creating", None, {}, intent)
    CLOUD.objects["A-77"] = {"name": "A", "kind": "a", "size": 1}
    plan = deploy(state, sf, [a])
    assert plan.is_empty and CLOUD.log == [] and state.resources["A"].physical_id == "A-77"
    # an intent whose object was never made is simply created
    state.resources["B"] = Record("fake.Thing", "B", "creating", None, {}, {"name": "B"})
    deploy(state, sf, [a, thing("B")])
    assert CLOUD.log == [("create", "B")] and len([o for o in CLOUD.objects.values() if o["name"] == "B"]) == 1




@register
class UniqueThingProvider(ThingProvider):
    """Like ThingProvider, but old and new cannot coexist: replaced delete-first."""

    type = "fake.UniqueThing"
    replace_order = ReplaceOrder.DELETE_FIRST


def test_delete_first_replacement_with_a_create_first_replaced_user_does_not_deadlock(
        store: tuple[State, StateFile]) -> None:
    state, sf = store
    parent = Resource.make("fake.UniqueThing", "P", {"name": "P", "kind": "a", "size": 1})
    child = thing("C", kind=Fmt.of("k-{p}", p=Ref("P", "id")))  # its replace_on field holds P's id
    deploy(state, sf, [parent, child])
    CLOUD.log.clear()
    new_parent = Resource.make("fake.UniqueThing", "P", {"name": "P", "kind": "b", "size": 1})
    plan = deploy(state, sf, [new_parent, child])
    assert {(c.action, c.address) for c in plan.changes} == {(Action.REPLACE, "P"), (Action.REPLACE, "C")}
    assert CLOUD.log == [("delete", "P"), ("create", "P"), ("create", "C"), ("delete", "C")]
    assert CLOUD.objects[state.resources["C"].physical_id]["kind"] == f"k-{state.resources['P'].physical_id}"


@register
class ChildThingProvider(ThingProvider):
    """A thing AWS deletes together with its parent ``fake.Thing`` (a route with its API)."""

    type = "fake.ChildThing"
    deleted_with = "fake.Thing"


def test_children_deleted_with_their_parent_make_no_aws_call(store: tuple[State, StateFile]) -> None:
    state, sf = store
    child = Resource.make("fake.ChildThing", "C", {"name": "C", "kind": "a", "size": 1, "p": Ref("P", "id")})
    deploy(state, sf, [thing("P"), child])
    CLOUD.log.clear()
    deploy(state, sf, [thing("P")])  # the child alone is removed: it is deleted through AWS
    assert CLOUD.log == [("delete", "C")]
    deploy(state, sf, [thing("P"), child])
    CLOUD.log.clear()
    deploy(state, sf, [])  # parent and child removed together: only the parent's delete reaches AWS
    assert CLOUD.log == [("delete", "P")] and state.resources == {}


# -- causes and replacement orders in the plan ------------------------------------------------------


def unique(address: str, kind: str = "a") -> Resource:
    return Resource.make("fake.UniqueThing", address, {"name": address, "kind": kind, "size": 1})


def test_plan_json_carries_each_change_s_cause_and_replacement_order() -> None:
    a, b, gone, pending = thing("A"), thing("B"), thing("Gone"), thing("Pending")
    records = {r.address: recorded(r, {"id": f"{r.address}-1"}) for r in (a, b, gone, thing("Old"))}
    records["U"] = dataclasses.replace(recorded(unique("U"), {"id": "U-1"}), type="fake.UniqueThing")
    records["T"] = dataclasses.replace(recorded(thing("T"), {"id": "T-1"}), type="fake.ChildThing")
    records["Pending"] = dataclasses.replace(recorded(pending, {}), status="creating", physical_id=None)
    records["A"].deposed = [recorded(a, {"id": "A-0"})]
    desired = {"U": unique("U", kind="b"), "A": thing("A", kind="z"), "B": thing("B", size=2), "T": thing("T"),
               "Gone": gone, "Pending": pending, "New": thing("New")}
    observed = {address: {"name": address, "size": 1} for address in records} | {"Gone": None}
    plan = make_plan(desired, records, observed, {})
    got = {(c["logical_id"], c["deposed"]): (c["action"], c["cause"], c["replace_order"], c["reason"])
           for c in json.loads(plan.to_json_str())["changes"]}
    assert got == {
        ("U", False): ("replace", "changed", "delete_first", ""),  # UniqueThing: old and new cannot coexist
        ("A", False): ("replace", "changed", "create_first", ""),
        ("A", True): ("delete", "replaced", None, "replaced"),
        ("B", False): ("update", "changed", None, ""),
        ("T", False): ("replace", "type_changed", "create_first", ""),
        ("Gone", False): ("create", "gone", None, "deleted outside sstdirect"),
        ("Pending", False): ("create", "interrupted", None, "interrupted: adopted if AWS made it, else created"),
        ("New", False): ("create", "new", None, ""),
        ("Old", False): ("delete", "removed", None, ""),
    }
    printed = str(plan)  # the table prints the reasons as before, not the causes
    assert "deleted outside sstdirect" in printed and "type_changed" not in printed


def test_the_executor_replaces_in_the_order_the_plan_says(store: tuple[State, StateFile]) -> None:
    state, sf = store
    deploy(state, sf, [unique("U")])
    CLOUD.log.clear()
    plan = deploy(state, sf, [unique("U", kind="b")])
    assert [c.replace_order for c in plan.changes] == [ReplaceOrder.DELETE_FIRST]
    assert CLOUD.log == [("delete", "U"), ("create", "U")]
    CLOUD.log.clear()
    desired = {"U": unique("U", kind="c")}
    (change,) = make_plan(desired, state.resources, None, {}, secret_salt=state.secret_salt).changes
    create_first = Plan([dataclasses.replace(change, replace_order=ReplaceOrder.CREATE_FIRST)])
    Executor(FakeAws(), sf, state, desired, create_first).run()  # type: ignore[arg-type]
    assert CLOUD.log == [("create", "U"), ("delete", "U")]  # the change's order, not the provider's


# -- the executor's dispatch and its batch plug-ins -------------------------------------------------


def test_every_step_kind_has_its_runner_and_the_executor_imports_no_provider_module() -> None:
    assert set(executor.RUNNERS) == set(StepKind)
    assert all(runner.__qualname__.startswith("Executor.") for runner in executor.RUNNERS.values())
    source = inspect.getsource(executor)
    assert "getattr(" not in source  # no runner found by a step kind's name
    tree = ast.parse(source)
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not [m for m in imported if "resources" in m.split(".")], imported


@dataclasses.dataclass(frozen=True)
class ThingGroup:
    address: str
    members: tuple[str, ...]
    waiting: tuple[str, ...] = ()


BATCHED: dict[str, Any] = {}  # what the plug-in saw: the lockfile on disk when it ran


@register
class BatchedThingProvider(ThingProvider):
    """A thing the test's batch plug-in creates with the others of its ``batch`` prop, in one write."""

    type = "fake.BatchedThing"


def thing_groups(desired: Mapping[str, Resource], creating: frozenset[str], changing: frozenset[str]) -> list[Any]:
    by_batch: dict[str, list[str]] = {}
    for address in sorted(creating):
        if desired[address].type == BatchedThingProvider.type:
            by_batch.setdefault(desired[address].props["batch"], []).append(address)
    return [ThingGroup(members[0], tuple(members)) for members in by_batch.values() if len(members) > 1]


def create_things(aws: Any, group: ThingGroup, props: Any, lookup: Any) -> dict[str, Created]:
    BATCHED["lockfile"] = json.loads(Path(BATCHED["path"]).read_text())
    BATCHED["props"] = {address: props(address) for address in group.members}
    CLOUD.write("batch", ",".join(group.members))
    out = {}
    for address in group.members:
        pid = f"{address}-batch"
        CLOUD.objects[pid] = {"name": address}
        out[address] = Created(pid, {"id": pid, "name": address})
    return out


batch.register(batch.BatchCreate("test.things", thing_groups, create_things))


def test_a_registered_batch_plug_in_creates_its_group_through_the_intent_and_commit_path(
        store: tuple[State, StateFile]) -> None:
    state, sf = store
    BATCHED.clear()
    BATCHED["path"] = str(sf.path)
    made = [Resource.make("fake.BatchedThing", a, {"name": a, "kind": "a", "size": 1, "batch": "x", **extra})
            for a, extra in (("B1", {}), ("B2", {"peer": Ref("B1", "id")}))]
    user = thing("W", dep=Ref("B2", "id"))
    desired = {r.address: r for r in [*made, user]}
    plan = make_plan(desired, {}, None, {}, secret_salt=state.secret_salt)
    events: list[tuple[str, str, str]] = []
    Executor(FakeAws(), sf, state, desired, plan,  # type: ignore[arg-type]
             on_event=lambda kind, change, detail: events.append((kind, change.address, detail))).run()
    assert CLOUD.log == [("batch", "B1,B2"), ("create", "W")]  # one write for the group; its user after it
    intents = BATCHED["lockfile"]["resources"]  # saved before the plug-in ran
    assert {a: (r["status"], r["props"].get("peer")) for a, r in intents.items()} == {
        "B1": ("creating", None), "B2": ("creating", None)}
    assert BATCHED["props"]["B2"]["peer"] is UNKNOWN  # a member's ref to another: unknown until made
    b2 = state.resources["B2"]
    assert (b2.status, b2.physical_id, b2.props["peer"]) == ("created", "B2-batch", "B1-batch")  # now resolved
    assert b2.props_hash == digest(b2.props)
    assert StateFile(sf.path).load().resources["B2"].props["peer"] == "B1-batch"
    assert [e for e in events if e[1] != "W"] == [("start", "B1", "create"), ("start", "B2", "create"),
                                                  ("done", "B1", "create"), ("done", "B2", "create")]
