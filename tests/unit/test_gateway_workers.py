"""Warm worker pools, without the gateway or the embedded AWS."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sstdirect.local.gateway.workers import FunctionSpec, WorkerPool, Workers, worker_environment

CODE = '''
import os, sys, time
CALLS = 0

def main(event, context):
    global CALLS
    CALLS += 1
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("raise"):
        raise ValueError("bad")
    if event.get("exit"):
        os._exit(1)
    print("to stderr, not the protocol")
    return {"calls": CALLS, "pid": os.getpid(), "path0": sys.path[0], "cwd": os.getcwd(),
            "remaining": context.get_remaining_time_in_millis(), "rid": context.aws_request_id,
            "var": os.environ.get("MY_VAR")}
'''


@pytest.fixture
def pool(tmp_path: Path):
    (tmp_path / "h.py").write_text(CODE)
    spec = FunctionSpec("fn", str(tmp_path), "h.main", timeout_s=2, environment={"MY_VAR": "v"})
    p = WorkerPool(spec, worker_environment(spec, "eu-west-1", "http://127.0.0.1:1", "ak", "sk"), max_workers=2)
    yield p
    p.close()


def test_warm_state_context_and_errors(pool: WorkerPool, tmp_path: Path) -> None:
    first = pool.invoke({}, 30)
    assert first.status == "ok"
    r = first.result
    assert r["calls"] == 1 and r["path0"] == str(tmp_path) and r["cwd"] == str(tmp_path) and r["var"] == "v"
    assert 0 < r["remaining"] <= 2000 and len(r["rid"]) == 16
    second = pool.invoke({}, 30).result
    assert second["calls"] == 2 and second["pid"] == r["pid"]
    assert pool.invoke({"raise": True}, 30).status == "error"
    assert pool.invoke({}, 30).result["pid"] == r["pid"]  # an exception keeps the worker warm
    died = pool.invoke({"exit": True}, 30)
    assert died.status == "error" and "exited" in died.error
    fresh = pool.invoke({}, 30).result
    assert fresh["pid"] != r["pid"] and fresh["calls"] == 1


def test_function_timeout_is_an_error_and_integration_timeout_a_timeout(pool: WorkerPool) -> None:
    began = time.monotonic()
    out = pool.invoke({"sleep": 5}, 30)
    assert out.status == "error" and "timed out" in out.error and time.monotonic() - began < 4
    out = pool.invoke({"sleep": 5}, 0.5)  # integration timeout shorter than the function's
    assert out.status == "timeout"
    assert pool.invoke({}, 30).status == "ok"


def test_runs_requests_at_once(pool: WorkerPool) -> None:
    results = []
    threads = [threading.Thread(target=lambda: results.append(pool.invoke({"sleep": 0.6}, 30))) for _ in range(2)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status for r in results] == ["ok", "ok"]
    assert time.monotonic() - began < 1.1
    assert results[0].result["pid"] != results[1].result["pid"]


def test_recycle_starts_fresh_workers(pool: WorkerPool) -> None:
    pid = pool.invoke({}, 30).result["pid"]
    pool.recycle()
    assert pool.invoke({}, 30).result["pid"] != pid


def test_environment() -> None:
    spec = FunctionSpec("fn", "/code", "h.main", memory_mb=256, environment={"A": "1", "AWS_REGION": "ignored"})
    env = worker_environment(spec, "eu-west-1", "http://127.0.0.1:5000", "ak", "sk")
    assert env["A"] == "1" and env["AWS_REGION"] == "eu-west-1" and env["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("ak", "sk")
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert "AWS_SESSION_TOKEN" not in env and "AWS_PROFILE" not in env


def test_unknown_function_is_an_error() -> None:
    workers = Workers("us-east-1", "http://127.0.0.1:1", "a", "b")
    assert workers.invoke("nope", {}, 1).status == "error"
