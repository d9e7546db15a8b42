"""Two runs of the same app and stage started together, as two users (or two CI jobs) would: two
``sstdirect`` processes on one APP.py. Exactly one proceeds; the other fails fast with
``StateLockedError`` (exit code 3) naming the holder, while the winner still holds the lock; the
lockfile stays valid and AWS holds one copy of the app.

The embedded AWS runs PERF.md's latency model with a short IAM propagation, so that the winner's deploy
lasts seconds and the two runs truly overlap.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import child_env, cloud_inventory, one_line, sstdirect_script, unique, write_app

from sstdirect.local import LatencyModel, LocalCloud
from sstdirect.state import StateFile


@pytest.fixture(scope="module")
def slow_cloud() -> Iterator[LocalCloud]:
    with LocalCloud(latency=LatencyModel(propagation_s=2.0)) as cloud:
        yield cloud


def start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sstdirect_script(), *args], cwd=tmp_path, env=child_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def race(tmp_path: Path, first: list[str], second: list[str]) -> tuple[subprocess.Popen[str], str, str]:
    """Start both commands at once; return the winner, and the loser's stderr and the winner's stderr.

    The loser must exit with 3 while the winner is still running (it fails fast, it does not wait)."""
    a, b = start(tmp_path, *first), start(tmp_path, *second)
    deadline = time.monotonic() + 180
    while a.poll() is None and b.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    loser, winner = (a, b) if a.poll() is not None else (b, a)
    loser_out, loser_err = loser.communicate(timeout=10)
    assert loser.returncode == 3, (loser_out, loser_err)
    assert winner.poll() is None, "the winner had already finished: the runs did not overlap"
    winner_out, winner_err = winner.communicate(timeout=180)
    assert winner.returncode == 0, (winner_out, winner_err)
    return winner, one_line(loser_err), winner_err


def test_two_deploys_started_together_one_proceeds(tmp_path: Path, slow_cloud: LocalCloud) -> None:
    name = unique("race")
    write_app(tmp_path, name)
    url = slow_cloud.endpoint_url
    winner, loser_err, _ = race(tmp_path, ["deploy", "APP.py", "--endpoint-url", url],
                                ["deploy", "APP.py", "--endpoint-url", url])
    assert loser_err.startswith("StateLockedError: ")
    assert f"pid {winner.pid}" in loser_err and "operation deploy" in loser_err

    lockfile = tmp_path / ".sstdirect" / f"{name}.dev.json"
    state = StateFile(lockfile).load(app=name, stage="dev", region="us-east-1")
    assert "Api/route/GET /notes" in state.resources
    inventory = cloud_inventory(slow_cloud, name)
    assert len(inventory["apis"]) == 1 and len(inventory["functions"]) == 1


def test_a_deploy_and_a_remove_started_together_one_proceeds(tmp_path: Path, slow_cloud: LocalCloud) -> None:
    name = unique("race")
    write_app(tmp_path, name)
    url = slow_cloud.endpoint_url
    deployed = subprocess.run([sstdirect_script(), "deploy", "APP.py", "--endpoint-url", url], cwd=tmp_path,
                              env=child_env(tmp_path), capture_output=True, text=True, timeout=180)
    assert deployed.returncode == 0, deployed.stderr
    # the redeploy adds a route (a new role: it waits for IAM propagation), the remove deletes it all
    write_app(tmp_path, name, routes='{"GET /notes": "src/h.main", "GET /other": "src/h.main"}')
    redeploy = ["deploy", "APP.py", "--endpoint-url", url]
    remove = ["remove", "APP.py", "--endpoint-url", url]
    winner, loser_err, _ = race(tmp_path, redeploy, remove)
    assert loser_err.startswith("StateLockedError: ") and f"pid {winner.pid}" in loser_err

    lockfile = tmp_path / ".sstdirect" / f"{name}.dev.json"
    inventory = cloud_inventory(slow_cloud, name)
    if winner.args[1] == "remove":
        assert "operation remove" in loser_err
        assert inventory == {"apis": [], "functions": [], "roles": [], "logs": []}
    else:
        assert "operation deploy" in loser_err
        state = StateFile(lockfile).load(app=name, stage="dev", region="us-east-1")
        assert {"Api/route/GET /notes", "Api/route/GET /other"} <= set(state.resources)
        assert len(inventory["apis"]) == 1 and len(inventory["functions"]) == 2
        removed = subprocess.run([sstdirect_script(), *remove], cwd=tmp_path, env=child_env(tmp_path),
                                 capture_output=True, text=True, timeout=180)
        assert removed.returncode == 0, removed.stderr
        assert cloud_inventory(slow_cloud, name)["apis"] == []
