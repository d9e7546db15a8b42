"""What deploys ask of AWS (issue 7), counted, not timed: a no-op's reads do not grow with the number of
functions, a code change makes only its update, batched reads still see drift, ``refresh=False`` makes no
call, a step waiting before its first write gives its worker back, and under the latency model the
API Gateway pacing and the IAM-propagation gate keep wasted requests to a handful."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import sstdirect.aws as aws_module
import sstdirect.aws.pacing as pacing_module
from sstdirect import Api, App
from sstdirect.aws import NotYet, PropagationGate, TokenBucket, is_mutating
from sstdirect.engine.executor import Executor
from sstdirect.engine.planner import make_plan
from sstdirect.engine.resource import Created, Provider, Resource, register
from sstdirect.local import LatencyModel, LocalCloud
from sstdirect.state import State, StateFile

HANDLER = "def main(event, context):\n    return {'statusCode': 200, 'body': %r}\n"
PAGE = 50  # ListFunctions and DescribeLogGroups return at most 50 items a page


def routes_app(root: Path, n: int, **app_kwargs: Any) -> App:
    """An app of ``n`` routes, one function each (handlers written under ``root/src``)."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    routes = {}
    for i in range(n):
        (root / "src" / f"r{i}.py").write_text(HANDLER % f"r{i}")
        routes[f"GET /r{i}"] = f"src/r{i}.main"
    app = App("perf", stage="t", root=root, **app_kwargs)
    Api(app, "Api", routes=routes)
    return app


def split(calls: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(writes, reads) by operation."""
    writes = {k: v for k, v in calls.items() if is_mutating(k)}
    reads = {k: v for k, v in calls.items() if not is_mutating(k)}
    return writes, reads


# -- no-op and one change ------------------------------------------------------------------------


def test_noop_reads_do_not_grow_with_n_except_for_50_item_pages(
        aws: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pacing_module, "APIGATEWAY_RATE", 0)  # in-process moto has no bucket: don't pace 200 calls
    reads: dict[int, dict[str, int]] = {}
    for n in (10, 100):
        app = routes_app(tmp_path / f"n{n}", n, session=aws)
        app.deploy()
        result = app.deploy()
        writes, reads[n] = split(result.api_calls)
        assert result.changes == [] and writes == {}, n
        app.remove()  # the account is empty again for the next N
    # No per-function read is left: roles come from one GetAccountAuthorizationDetails, permissions
    # from the revision ids ListFunctions reports.
    for per_function in ("iam.GetRole", "iam.GetRolePolicy", "lambda.GetPolicy", "lambda.GetFunctionConfiguration"):
        assert per_function not in reads[10] and per_function not in reads[100], per_function
    # The only growth is 50-item limits (AWS's): ListFunctions' next page, and DescribeLogGroups by name, 50
    # names a call (100 functions' log groups and the access log: 3 calls, made at once).
    extra = math.ceil(100 / PAGE) - math.ceil(10 / PAGE)
    assert reads[100]["logs.DescribeLogGroups"] == math.ceil(101 / PAGE)
    assert reads[10]["logs.DescribeLogGroups"] == math.ceil(11 / PAGE)
    assert reads[100]["lambda.ListFunctions"] == math.ceil(100 / PAGE)  # the embedded AWS pages as AWS does
    for op, count in reads[100].items():
        if op != "logs.DescribeLogGroups":
            assert count <= reads[10].get(op, 0) + (extra if op == "lambda.ListFunctions" else 0), (op, reads)
    assert set(reads[100]) == set(reads[10])
    assert sum(reads[100].values()) <= sum(reads[10].values()) + 3 * extra
    assert sum(reads[10].values()) <= 10  # a handful of list calls, whatever N


def test_one_code_change_makes_its_update_and_the_noop_reads_only(aws: boto3.Session, tmp_path: Path) -> None:
    app = routes_app(tmp_path, 10, session=aws)
    app.deploy()
    _, noop_reads = split(app.deploy().api_calls)
    (tmp_path / "src" / "r3.py").write_text(HANDLER % "changed")
    serial = StateFile(app.state_path).load().serial
    result = app.deploy()
    assert StateFile(app.state_path).load().serial == serial + 1  # one lockfile write: the update's record
    writes, reads = split(result.api_calls)
    assert [(c.action.value, c.address) for c in result.changes] == [("update", "Api-GET-r3/function")]
    assert writes == {"lambda.UpdateFunctionCode": 1}
    assert reads == noop_reads  # the update's response says it is done: no waiter read
    # The update moved r3's revision id: the next refresh reads r3's policy once, remembers the new
    # revision, and the refresh after that is back to the no-op's reads.
    writes, reads = split(app.deploy().api_calls)
    assert writes == {} and reads == {**noop_reads, "lambda.GetPolicy": 1}
    assert split(app.deploy().api_calls) == ({}, noop_reads)


def test_refresh_false_sends_no_request(aws: boto3.Session, tmp_path: Path, calls: Any) -> None:
    app = routes_app(tmp_path, 3, session=aws)
    app.deploy()
    calls.ops.clear()
    assert app.deploy(refresh=False).changes == [] and calls.ops == []
    (tmp_path / "src" / "r1.py").write_text(HANDLER % "changed")
    app.deploy(refresh=False)
    assert calls.ops == ["lambda.UpdateFunctionCode"]


# -- batched reads stay exact --------------------------------------------------------------------


def test_a_deleted_permission_is_recreated_and_a_changed_role_policy_put_back(
        aws: boto3.Session, tmp_path: Path) -> None:
    app = routes_app(tmp_path, 3, session=aws)
    app.deploy()
    lam, iam = aws.client("lambda"), aws.client("iam")
    fn = "t-perf-Api-GET-r1"
    sid = next(iter(json.loads(lam.get_policy(FunctionName=fn)["Policy"])["Statement"]))["Sid"]
    lam.remove_permission(FunctionName=fn, StatementId=sid)
    role = lam.get_function_configuration(FunctionName="t-perf-Api-GET-r2")["Role"].rsplit("/", 1)[-1]
    iam.put_role_policy(RoleName=role, PolicyName="sstdirect", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    result = app.deploy()
    writes, _ = split(result.api_calls)
    assert writes == {"lambda.AddPermission": 1, "iam.PutRolePolicy": 1}
    statements = json.loads(lam.get_policy(FunctionName=fn)["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == [sid]
    doc = iam.get_role_policy(RoleName=role, PolicyName="sstdirect")["PolicyDocument"]
    assert "s3:*" not in json.dumps(doc)
    assert app.diff().is_empty


def test_lambda_revision_id_moves_on_every_policy_code_and_config_change(clients: Any) -> None:
    iam, lam = clients("iam"), clients("lambda")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("h.py", HANDLER % "x")
    created = lam.create_function(FunctionName="f", Runtime="python3.11", Role=role, Handler="h.main",
                                  Code={"ZipFile": buf.getvalue()})

    def listed() -> str:
        return next(f for f in lam.list_functions()["Functions"] if f["FunctionName"] == "f")["RevisionId"]

    seen = [created["RevisionId"]]
    assert lam.get_function_configuration(FunctionName="f")["RevisionId"] == listed() == seen[-1]
    lam.add_permission(FunctionName="f", StatementId="s1", Action="lambda:InvokeFunction",
                       Principal="apigateway.amazonaws.com")
    seen.append(listed())
    assert lam.get_policy(FunctionName="f")["RevisionId"] == seen[-1]
    with pytest.raises(ClientError) as stale:  # the id is a precondition, as on AWS
        lam.add_permission(FunctionName="f", StatementId="s2", Action="lambda:InvokeFunction",
                           Principal="apigateway.amazonaws.com", RevisionId=seen[0])
    assert stale.value.response["Error"]["Code"] == "PreconditionFailedException"
    lam.remove_permission(FunctionName="f", StatementId="s1")
    seen.append(listed())
    seen.append(lam.update_function_code(FunctionName="f", ZipFile=buf.getvalue())["RevisionId"])
    assert listed() == seen[-1]
    seen.append(lam.update_function_configuration(FunctionName="f", Timeout=9)["RevisionId"])
    assert listed() == seen[-1]
    assert len(set(seen)) == len(seen), seen


# -- the executor gives the worker back ----------------------------------------------------------

ORDER: list[str] = []
ATTEMPTS: Counter[str] = Counter()


@register
class WaitingProvider(Provider):
    """A fake resource whose ``wait_s`` prop makes its first create attempt ask to come back later."""

    type = "perf.Waiting"

    def create(self, aws: Any, props: Any) -> Created:
        ATTEMPTS[props["name"]] += 1
        if props["wait_s"] and ATTEMPTS[props["name"]] == 1:
            raise NotYet(time.monotonic() + props["wait_s"], "test")
        ORDER.append(props["name"])
        return Created(props["name"], {})

    def read_many(self, aws: Any, records: Any) -> dict[str, Any]:
        return {address: {"name": rec.physical_id} for address, rec in records.items()}

    def delete(self, aws: Any, record: Any) -> None:
        pass


class _NoAws:
    region = "xx-test-1"
    account_id = "111122223333"

    @contextlib.contextmanager
    def resent_writes(self) -> Iterator[list[str]]:  # never loses a response
        yield []


def test_a_deferred_step_does_not_hold_the_only_worker(tmp_path: Path) -> None:
    ORDER.clear()
    ATTEMPTS.clear()
    desired = {r.address: r for r in [
        Resource.make("perf.Waiting", "a-slow", {"name": "a-slow", "wait_s": 0.3}),
        Resource.make("perf.Waiting", "b-fast", {"name": "b-fast", "wait_s": 0}),
        Resource.make("perf.Waiting", "c-fast", {"name": "c-fast", "wait_s": 0})]}
    state, sf = State(app="a", stage="s", region="xx-test-1"), StateFile(tmp_path / "state.json")
    plan = make_plan(desired, {}, None, {"region": "xx-test-1", "account_id": "111122223333"})
    events: list[tuple[str, str]] = []
    started = time.monotonic()
    Executor(_NoAws(), sf, state, desired, plan, workers=1,  # type: ignore[arg-type]
             on_event=lambda kind, change, _: events.append((kind, change.address))).run()
    assert time.monotonic() - started >= 0.3
    assert ORDER == ["b-fast", "c-fast", "a-slow"]  # one worker, yet the others ran during the wait
    assert ATTEMPTS["a-slow"] == 2
    assert events.count(("start", "a-slow")) == 1 and ("error", "a-slow") not in events
    assert {r.status for r in StateFile(tmp_path / "state.json").load().resources.values()} == {"created"}


# -- pacing and the propagation gate, as units -----------------------------------------------------


def test_token_bucket_books_evenly_spaced_slots_after_the_burst() -> None:
    bucket = TokenBucket(rate=10, burst=3)
    now = time.monotonic()
    slots = [bucket.reserve() - now for _ in range(6)]
    assert all(s < 0.05 for s in slots[:3])
    assert [round(b - a, 2) for a, b in itertools.pairwise(slots[2:])] == [0.1, 0.1, 0.1]


def test_propagation_gate_probes_one_role_at_a_time_until_one_is_accepted() -> None:
    gate = PropagationGate(step_s=0.2)
    base = time.monotonic()
    arn = "arn:aws:iam::1:role/{}".format
    for name, age in (("old", 5.0), ("young", 1.0), ("older", 5.3), ("oldest", 5.4)):
        gate.born(name, base - age)
    assert gate.not_before(arn("young")) == 0  # nothing learnt yet: everyone tries at once
    assert gate.refused(arn("old"), sent=base) == pytest.approx(base + 0.2)  # refused at 5 s: P > 5 s
    assert gate.not_before(arn("young")) == pytest.approx(base + 4.2)  # no doomed probe from a young role
    assert gate.not_before(arn("old")) == pytest.approx(base + 0.2)  # its own next probe, a step later
    assert gate.not_before(arn("older")) == 0  # 5.3 s old > 5 s + step: this one probes now...
    assert gate.not_before(arn("oldest")) >= time.monotonic() + 0.1  # ...and nobody else for a step
    gate.accepted(arn("older"), sent=base)  # accepted at 5.3 s: P <= 5.3 s
    assert gate.not_before(arn("oldest")) == 0  # every role that old goes at once
    assert gate.not_before(arn("young")) == pytest.approx(base + 4.3)
    gate.refused(arn("oldest"), sent=base)  # refused at 5.4 s after all: the ceiling was wrong
    assert gate.ceiling is None and gate.floor == pytest.approx(5.4)
    assert gate.not_before(arn("unknown")) == 0  # a role of unknown age is never held back



def test_propagation_gate_presumes_a_probe_out_longer_than_any_refusal_took_accepted() -> None:
    """A refusal comes back fast, an accepted create slowly: everyone goes once the probe has been out for
    twice the slowest refusal, before its answer; if the probe is refused after all, probing resumes."""
    gate = PropagationGate(step_s=0.2)
    arn = "arn:aws:iam::1:role/{}".format
    base = time.monotonic()
    for name, age in (("a", 5.0), ("b", 5.3), ("c", 5.35), ("young", 1.0)):
        gate.born(name, base - age)
    gate.refused(arn("a"), sent=time.monotonic() - 0.04)  # a refusal that took 40 ms: P > ~5 s
    assert gate.slowest_refusal_s >= 0.04
    assert gate.not_before(arn("b")) == 0  # the probe goes...
    probe_sent = time.monotonic()
    assert gate.not_before(arn("c")) > time.monotonic()  # ...and, while its answer may still be a refusal, alone
    time.sleep(2 * gate.slowest_refusal_s + 0.01)  # no refusal after twice the slowest: presumed accepted
    assert gate.not_before(arn("c")) == 0  # as old as the probe: goes at once
    assert gate.not_before(arn("young")) > time.monotonic() + 3  # a younger role still waits its turn
    gate.refused(arn("b"), sent=probe_sent)  # the probe is refused after all
    assert gate.floor == pytest.approx(5.3, abs=0.05) and gate.ceiling is None
    gate.answered(arn("c"), sent=time.monotonic())  # c's create failed otherwise: it is out no more
    assert gate.not_before(arn("c")) > time.monotonic()  # probing again: no presumption is left

# -- under the latency model -----------------------------------------------------------------------


def _summary_and_result(tmp_path: Path, model: LatencyModel, n: int, first: int = 0) -> tuple[dict[str, Any], Any]:
    """Deploy ``n`` routes on ``model`` (after ``first`` routes deployed without it, when given): the
    server's request summary of that deploy, and its DeployResult."""
    with LocalCloud(latency=model) as cloud:
        cloud.reset()
        if first:
            routes_app(tmp_path, first, endpoint_url=cloud.endpoint_url, session=cloud.session()).deploy()
            cloud.clear_request_log()
            if model.throttles:
                # the next deploy's client starts with a full burst: so must the server's bucket, which the
                # first deploy drew from (else its first debts meet an empty bucket, more so on a busy machine)
                time.sleep(model.apigateway_burst / model.apigateway_rate + 0.1)
        app = routes_app(tmp_path, n, endpoint_url=cloud.endpoint_url, session=cloud.session())
        result = app.deploy()
        return cloud.request_summary(), result


@pytest.mark.parametrize("n", [10, 50])
def test_a_new_api_gets_its_routes_in_a_constant_number_of_api_gateway_calls(tmp_path: Path, n: int) -> None:
    """CreateApi, one ReimportApi for every route and integration, CreateStage; one GetRoutes to learn ids."""
    summary, result = _summary_and_result(tmp_path, LatencyModel.zero(), n)
    gateway = {k: v for k, v in summary["by_operation"].items() if k.startswith("apigateway")}
    assert gateway == {"apigatewayv2.CreateApi": 1, "apigatewayv2.ReimportApi": 1, "apigatewayv2.CreateStage": 1,
                       "apigatewayv2.GetRoutes": 1, "apigatewayv2.GetApis": 1}  # GetApis: the lost-lockfile scan
    assert sum(1 for c in result.changes if c.type.startswith("apigatewayv2.")) == 2 * n + 2  # each still a change


def test_routes_added_one_by_one_are_paced_under_the_api_gateway_bucket(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real bucket is 10/s burst 40 (6.5 s for 102 requests); the same race at twice the speed, other
    # latencies zero: the server's bucket 20/s burst 40, the client paced a little below it (as it is below
    # 10/s by default). Routes added to an existing API are made one by one (an integration and a route
    # each): unpaced, 100 of them drew 18 429s on an idle machine (112 at 10/s); paced, 0 or 1. Once both
    # bursts are spent the client's slots are only 2.6 ms wider than the server's refill, so a busy machine's
    # jitter costs a few (4-6 on a loaded runner): compared with the unpaced race in the same run.
    model = LatencyModel.zero(apigateway_rate=20.0, apigateway_burst=40)
    throttled = {}
    for rate in (0, 19.0):
        monkeypatch.setattr(pacing_module, "APIGATEWAY_RATE", rate)
        summary, result = _summary_and_result(tmp_path / str(rate), model, 51, first=1)
        gateway = sum(v for k, v in summary["by_operation"].items() if k.startswith("apigateway") and is_mutating(k))
        assert gateway - summary["throttled_429"] == 2 * 50  # 50 integrations, 50 routes
        assert sum(1 for c in result.changes if c.type.startswith("apigatewayv2.")) == 2 * 50
        throttled[rate] = summary["throttled_429"]
    assert throttled[19.0] * 3 <= throttled[0] and throttled[19.0] <= 8, throttled


def test_propagation_gate_does_not_flood_lambda_with_doomed_creates(tmp_path: Path) -> None:
    p, n = 1.5, 12
    summary, result = _summary_and_result(tmp_path, LatencyModel.zero(propagation_s=p), n)
    faults = summary["propagation_faults"]
    assert summary["by_operation"]["lambda.CreateFunction"] == n + faults
    # Every function tries once (all refused), then mostly the oldest roles probe, a step (0.15 s)
    # apart, until P is over: about n + P / step, far below the n * P / step of every function
    # polling on its own.
    assert faults <= n + p / 0.15 + n // 2, faults
    assert sum(v for k, v in result.retries.items() if k.startswith("lambda.CreateFunction:")) == faults


def test_a_step_that_has_written_waits_in_place_instead_of_deferring() -> None:
    """NotYet is only ever raised before a step's first write (re-running the step is then safe)."""
    ctx = aws_module.StepContext()
    with aws_module.step_context(ctx):
        assert aws_module.current_step() is ctx
        with pytest.raises(NotYet):
            aws_module.wait_or_defer(time.monotonic() + 5, ctx, "test")
        ctx.wrote = True
        began = time.monotonic()
        aws_module.wait_or_defer(time.monotonic() + 0.05, ctx, "test")
        assert time.monotonic() - began >= 0.05
    assert aws_module.current_step() is None


# -- the benchmark itself --------------------------------------------------------------------------


def test_bench_quick_mode_reports_every_scenario(tmp_path: Path) -> None:
    """``scripts/bench.py --quick`` (what CI runs) completes and its no-op row has no writes."""
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"
    proc = subprocess.run([sys.executable, str(bench), "--quick", "--out", str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    rows = {row["scenario"]: row for row in report["rows"]}
    assert set(rows) == {"cold", "noop", "code", "config", "add", "remove"}
    assert rows["noop"]["mutating"] == 0 and rows["code"]["mutating"] == 1
    assert all(row["bound_s"] > 0 and row["ratio"] for row in rows.values())
    assert (tmp_path / "report.md").read_text().startswith("# sstdirect deploy benchmark")


@pytest.mark.parametrize("service", ["acm", "apigatewayv2", "appsync", "cognito-identity", "cognito-idp", "iam",
                                     "lambda", "logs"])
def test_page_tokens_match_botocores_pagination_model_for_every_list_call(service: str) -> None:
    """``Aws.paginate`` follows pages itself (see its docstring); its token table must say what botocore's
    pagination model says for every paginated operation of each service sstdirect lists."""
    from botocore import xform_name

    loader = boto3.Session()._session.get_component("data_loader")
    pagination = loader.load_service_model(service, "paginators-1")["pagination"]
    assert pagination
    for operation, config in pagination.items():
        tokens = (config["input_token"], config["output_token"], config.get("more_results"))
        assert tokens == aws_module.page_tokens(service, xform_name(operation)), (service, operation, tokens)


def test_paginate_follows_every_page(clients: Any) -> None:
    """Lambda (Marker/NextMarker) and IAM (Marker + IsTruncated), against both embedded modes."""
    iam, lam = clients("iam"), clients("lambda")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    role = iam.create_role(RoleName="pages", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    for i in range(2):
        iam.create_role(RoleName=f"pages{i}", AssumeRolePolicyDocument=trust)
    for i in range(55):
        lam.create_function(FunctionName=f"pg{i:02d}", Runtime="python3.12", Role=role, Handler="h.main",
                            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})
    aws = aws_module.Aws(region="us-east-1", session=boto3.Session(aws_access_key_id="testing",
                                                                     aws_secret_access_key="testing"),
                         endpoint_url=lam.meta.endpoint_url if "127.0.0.1" in lam.meta.endpoint_url else None)
    assert len(aws.paginate("lambda", "list_functions", "Functions")) == 55
    assert aws.calls["lambda.ListFunctions"] == 2
    assert sorted(r["RoleName"] for r in aws.paginate("iam", "list_roles", "Roles", MaxItems=2)) == [
        "pages", "pages0", "pages1"]
    assert aws.calls["iam.ListRoles"] == 2


def test_paginate_stops_on_a_page_token_answered_twice() -> None:
    """As botocore's paginators do: a server that keeps answering the same token is an error, not a loop."""
    from botocore.awsrequest import AWSResponse

    class Raw:
        def stream(self, **_: Any) -> Iterator[bytes]:
            yield json.dumps({"logGroups": [{"logGroupName": "g"}], "nextToken": "same"}).encode()

    aws = aws_module.Aws(region="us-east-1", session=boto3.Session(
        region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"))
    aws.client("logs").meta.events.register("before-send.logs.DescribeLogGroups",
                                            lambda **_: AWSResponse("https://logs", 200, {}, Raw()))
    with pytest.raises(RuntimeError, match="twice"):
        aws.paginate("logs", "describe_log_groups", "logGroups")
    assert aws.calls["logs.DescribeLogGroups"] == 2
