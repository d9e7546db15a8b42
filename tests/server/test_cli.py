"""Tests of the ``sstdirect`` command line, run as a user runs it: a child process on an APP.py file.

Deploys go to one shared embedded AWS (the ``local_cloud`` fixture, a moto server in this process)
through ``--endpoint-url``, or to the CLI's own ``--local`` cloud; no real AWS account is used. The
cloud is shared by the module, so every test uses its own app name. Output is read through a pipe,
as in CI logs: no terminal, rich's default width.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from sstdirect.local import LocalCloud
from sstdirect.state import StateFile

SECRET = "hunter2-secret"
READ_ONLY = ("Get", "List", "Describe")


def sstdirect_script() -> str:
    script = Path(sys.executable).parent / "sstdirect"
    assert script.is_file(), f"the sstdirect console script is not installed next to {sys.executable}"
    return str(script)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def child_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TERM")}
    env.update({
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        # Never a real profile or credentials file of whoever runs the tests.
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    })
    return env


def run(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sstdirect_script(), *args], cwd=tmp_path, env=child_env(tmp_path),
                          capture_output=True, text=True, timeout=timeout)


def one_line(text: str) -> str:
    """rich wraps long lines at the console width; compare messages with whitespace collapsed."""
    return " ".join(text.split())


def write_app(tmp_path: Path, name: str, routes: str = '{"GET /notes": "src/h.main"}', extra: str = "") -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "h.py").write_text("def main(e, c):\n    return {'statusCode': 200}\n")
    app_file = tmp_path / "APP.py"
    app_file.write_text(
        "from pathlib import Path\n\n"
        "from sstdirect import Api, App, Function\n\n"
        f"app = App({name!r}, stage='dev', root=Path(__file__).parent)\n"
        f"api = Api(app, 'Api', routes={routes})\n"
        f"{extra}"
    )
    return app_file


def table_cells(stdout: str, title: str) -> list[list[str]]:
    """The rows of the rich table titled ``title``; a cell wrapped over lines is joined back."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    rows: list[list[str]] = []
    for line in lines[start + 1:]:
        if line.startswith("└"):
            break
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if rows and not cells[0] and not cells[1]:
            rows[-1] = [a + b for a, b in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    return rows


def assert_no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr


# --- deploy --local -------------------------------------------------------------------------------


def test_deploy_local_prints_the_plan_and_the_full_url_and_nothing_secret(tmp_path: Path) -> None:
    name = unique("loc")
    write_app(tmp_path, name, routes=(
        '{"GET /notes": {"function": {"handler": "src/h.main", '
        f'"environment": {{"DB_PASSWORD": {SECRET!r}}}}}}}}}'
    ))
    proc = run(tmp_path, "deploy", "APP.py", "--local")
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    out = proc.stdout
    # The plan: every resource to create, and its summary.
    for kind in ("lambda.Function", "iam.Role", "apigatewayv2.Api", "apigatewayv2.Route", "apigatewayv2.Stage"):
        assert kind in out
    planned = re.search(r"Plan: (\d+) to create, 0 to update, 0 to replace, 0 to delete\.", out)
    assert planned and int(planned[1]) >= 5, out
    assert f"Deployed {name} · dev: {planned[1]} change(s)" in out
    # The outputs, the URL whole (not cut with an ellipsis at the pipe's 80 columns).
    outputs = {row[1]: row[2] for row in table_cells(out, "Outputs") if row[0] == "Api"}
    api_id = outputs["id"]
    assert re.fullmatch(r"[a-z0-9]{6,12}", api_id), outputs
    assert outputs["url"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com"
    assert outputs["routes"] == "GET /notes"
    assert "…" not in out
    # Nothing secret anywhere, and no lockfile left pointing at a cloud that is gone.
    assert SECRET not in out and SECRET not in proc.stderr
    assert not (tmp_path / ".sstdirect" / f"{name}.dev.json").exists()


# --- against a shared LocalCloud ----------------------------------------------------------------------


def cloud_inventory(cloud: LocalCloud, name: str) -> dict[str, list[str]]:
    """The app's APIs, functions, roles and log groups in the cloud (found by the app's name)."""

    def client(service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url=cloud.endpoint_url,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    apis = [a["Name"] for a in client("apigatewayv2").get_apis()["Items"] if name in a["Name"]]
    functions = [f["FunctionName"] for page in client("lambda").get_paginator("list_functions").paginate()
                 for f in page["Functions"] if name in f["FunctionName"]]
    roles = [r["RoleName"] for page in client("iam").get_paginator("list_roles").paginate()
             for r in page["Roles"] if name in r["RoleName"]]
    logs = [g["logGroupName"] for page in client("logs").get_paginator("describe_log_groups").paginate()
            for g in page["logGroups"] if name in g["logGroupName"]]
    return {"apis": sorted(apis), "functions": sorted(functions), "roles": sorted(roles), "logs": sorted(logs)}


def test_deploy_redeploy_outputs_diff_remove(tmp_path: Path, local_cloud: LocalCloud) -> None:
    name = unique("cli")
    write_app(tmp_path, name)
    url = local_cloud.endpoint_url
    lockfile = tmp_path / ".sstdirect" / f"{name}.dev.json"

    first = run(tmp_path, "deploy", "APP.py", "--endpoint-url", url)
    assert first.returncode == 0, first.stderr
    assert re.search(r"Plan: \d+ to create, 0 to update, 0 to replace, 0 to delete\.", first.stdout), first.stdout
    assert lockfile.is_file()
    deployed = cloud_inventory(local_cloud, name)
    assert deployed["apis"] == [f"dev-{name}-Api"]
    assert len(deployed["functions"]) == 1 and len(deployed["roles"]) == 1

    again = run(tmp_path, "deploy", "APP.py", "--endpoint-url", url, "--json")
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)  # stdout is the JSON document alone
    assert result["app"] == name and result["stage"] == "dev"
    assert result["changes"] == []
    writes = [op for op in result["api_calls"] if not op.split(".", 1)[1].startswith(READ_ONLY)]
    assert writes == [], result["api_calls"]
    assert result["api_calls"], "a refreshing deploy reads AWS"
    api = result["outputs"]["Api"]
    assert api["url"] == f"https://{api['id']}.execute-api.us-east-1.amazonaws.com"
    assert cloud_inventory(local_cloud, name) == deployed

    outputs = run(tmp_path, "outputs", "APP.py", "--endpoint-url", url, "--json")
    assert outputs.returncode == 0, outputs.stderr
    assert json.loads(outputs.stdout) == result["outputs"]

    diff = run(tmp_path, "diff", "APP.py", "--endpoint-url", url, "--json")
    assert diff.returncode == 0, diff.stderr
    plan = json.loads(diff.stdout)
    assert plan["changes"] == []
    assert plan["summary"] == {"create": 0, "update": 0, "replace": 0, "delete": 0}

    removed = run(tmp_path, "remove", "APP.py", "--endpoint-url", url)
    assert removed.returncode == 0, removed.stderr
    assert f"Removed {name}" in removed.stdout
    assert not lockfile.exists()
    assert cloud_inventory(local_cloud, name) == {"apis": [], "functions": [], "roles": [], "logs": []}


def test_stage_flag_and_remove_from_the_lockfile_alone(tmp_path: Path, local_cloud: LocalCloud) -> None:
    name = unique("stg")
    app_file = write_app(tmp_path, name)  # declares stage='dev'
    url = local_cloud.endpoint_url
    folder = tmp_path / ".sstdirect"

    prod = run(tmp_path, "deploy", "APP.py", "--stage", "prod", "--endpoint-url", url, "--json")
    assert prod.returncode == 0, prod.stderr
    assert json.loads(prod.stdout)["stage"] == "prod"
    assert (folder / f"{name}.prod.json").is_file()
    assert not (folder / f"{name}.dev.json").exists()
    dev = run(tmp_path, "deploy", "APP.py", "--endpoint-url", url, "--json")
    assert dev.returncode == 0, dev.stderr

    prod_ids = {r["physical_id"] for r in json.loads((folder / f"{name}.prod.json").read_text())["resources"].values()}
    dev_ids = {r["physical_id"] for r in json.loads((folder / f"{name}.dev.json").read_text())["resources"].values()}
    assert not prod_ids & dev_ids
    inventory = cloud_inventory(local_cloud, name)
    assert inventory["apis"] == sorted([f"dev-{name}-Api", f"prod-{name}-Api"])
    assert len(inventory["functions"]) == 2 and len(inventory["roles"]) == 2
    assert {f.split("-", 1)[0] for f in inventory["functions"]} == {"dev", "prod"}
    assert json.loads(prod.stdout)["outputs"]["Api"]["id"] != json.loads(dev.stdout)["outputs"]["Api"]["id"]

    # Tear down from copies of the lockfiles, with the app code gone.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for stage in ("prod", "dev"):
        shutil.copy(folder / f"{name}.{stage}.json", elsewhere)
    app_file.unlink()
    shutil.rmtree(tmp_path / "src")

    gone_prod = run(elsewhere, "remove", "--state", str(elsewhere / f"{name}.prod.json"), "--endpoint-url", url)
    assert gone_prod.returncode == 0, gone_prod.stderr
    assert not (elsewhere / f"{name}.prod.json").exists()
    left = cloud_inventory(local_cloud, name)
    assert left["apis"] == [f"dev-{name}-Api"]  # only what that lockfile recorded was deleted
    assert all(f.startswith("dev-") for f in left["functions"] + left["roles"]) and left["functions"]

    gone_dev = run(elsewhere, "remove", "--state", str(elsewhere / f"{name}.dev.json"), "--endpoint-url", url)
    assert gone_dev.returncode == 0, gone_dev.stderr
    assert cloud_inventory(local_cloud, name) == {"apis": [], "functions": [], "roles": [], "logs": []}


# --- exit codes ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("routes", "message"), [
    ('{"GET notes": "src/h.main"}', "route key 'GET notes': the path must start with '/'"),
    ('{"GET /notes": "src/missing.main"}', "src/missing.py"),
    ('{"GET /notes": "src/h.nope"}', "nope"),
    # User text in a message is printed as written, never read as rich markup.
    ('{"GET /notes/[id]": "src/h.main"}', "invalid path segment '[id]'"),
    ('{"GET /notes/[/id]": "src/h.main"}', "route key 'GET /notes/[/id]'"),
], ids=["route-key", "missing-handler-file", "missing-handler-name", "brackets", "closing-tag"])
def test_bad_config_exits_2_with_the_message_and_no_traceback(
    tmp_path: Path, local_cloud: LocalCloud, routes: str, message: str
) -> None:
    name = unique("bad")
    write_app(tmp_path, name, routes=routes)
    proc = run(tmp_path, "deploy", "APP.py", "--endpoint-url", local_cloud.endpoint_url)
    assert proc.returncode == 2, proc.stderr
    assert_no_traceback(proc)
    err = one_line(proc.stderr)
    assert err.startswith("ConfigError: "), err
    assert message in err
    assert not (tmp_path / ".sstdirect" / f"{name}.dev.json").exists()
    assert cloud_inventory(local_cloud, name) == {"apis": [], "functions": [], "roles": [], "logs": []}


def test_an_app_file_without_an_app_exits_2(tmp_path: Path) -> None:
    (tmp_path / "APP.py").write_text("from sstdirect import App\n\nNAME = 'notes'\n")
    proc = run(tmp_path, "deploy", "APP.py")
    assert proc.returncode == 2
    assert_no_traceback(proc)
    assert one_line(proc.stderr).startswith("ConfigError: APP.py declares no App")


def test_an_app_file_that_raises_exits_2_naming_the_error_and_line(tmp_path: Path) -> None:
    (tmp_path / "APP.py").write_text("from sstdirect import App\n\napp = App('notes')\nundefined_name\n")
    proc = run(tmp_path, "deploy", "APP.py")
    assert proc.returncode == 2
    assert_no_traceback(proc)
    err = one_line(proc.stderr)
    assert err.startswith("ConfigError: APP.py raised NameError: name 'undefined_name' is not defined"), err
    assert "line 4" in err


@pytest.mark.parametrize("command", ["deploy", "diff", "outputs", "remove"])
def test_a_missing_app_file_exits_2(tmp_path: Path, command: str) -> None:
    proc = run(tmp_path, command, "nothere.py")
    assert proc.returncode == 2
    assert_no_traceback(proc)
    assert one_line(proc.stderr).startswith("ConfigError: nothere.py: no such file")


def test_a_locked_state_exits_3_naming_the_holder(tmp_path: Path, local_cloud: LocalCloud) -> None:
    name = unique("lck")
    write_app(tmp_path, name)
    lockfile = tmp_path / ".sstdirect" / f"{name}.dev.json"
    with StateFile(lockfile).lock("deploy"):
        proc = run(tmp_path, "deploy", "APP.py", "--endpoint-url", local_cloud.endpoint_url)
    assert proc.returncode == 3, proc.stderr
    assert_no_traceback(proc)
    err = one_line(proc.stderr)
    assert err.startswith("StateLockedError: ")
    assert f"pid {os.getpid()}" in err and "operation deploy" in err
    assert not lockfile.exists()
    assert cloud_inventory(local_cloud, name)["apis"] == []


@pytest.mark.parametrize("command", ["deploy", "diff", "outputs", "remove"])
def test_an_unreadable_lockfile_exits_1_and_is_left_untouched(
    tmp_path: Path, local_cloud: LocalCloud, command: str
) -> None:
    name = unique("grb")
    write_app(tmp_path, name)
    lockfile = tmp_path / ".sstdirect" / f"{name}.dev.json"
    lockfile.parent.mkdir()
    lockfile.write_bytes(b'{"schema_version": 1, "lineage": "\xff\xfe\x00\x01garbage')
    before = (lockfile.read_bytes(), lockfile.stat().st_mtime_ns)
    proc = run(tmp_path, command, "APP.py", "--endpoint-url", local_cloud.endpoint_url)
    assert proc.returncode == 1, proc.stderr
    assert_no_traceback(proc)
    err = one_line(proc.stderr)
    assert err.startswith("StateError: ") and "is not valid JSON" in err and "untouched" in err
    assert (lockfile.read_bytes(), lockfile.stat().st_mtime_ns) == before
    assert not lockfile.with_name(lockfile.name + ".bak").exists()


@pytest.mark.parametrize("with_thread", [False, True])
def test_the_command_flushes_its_output_and_runs_exit_handlers_and_threads_before_it_exits(
    tmp_path: Path, with_thread: bool
) -> None:
    """The console script skips the interpreter's teardown; what a normal exit does must still happen:
    the user's atexit handlers run, the whole output arrives, and a thread the app file started finishes."""
    marker = tmp_path / "atexit-ran"
    thread_marker = tmp_path / "thread-ran"
    extra = (
        "import atexit, threading, time\n"
        f"atexit.register(lambda: Path({str(marker)!r}).write_text('yes'))\n"
        + (f"threading.Thread(target=lambda: (time.sleep(1.0), Path({str(thread_marker)!r}).write_text('yes'))"
           ").start()\n" if with_thread else "")
    )
    name = unique("exit")
    write_app(tmp_path, name, extra=extra)
    proc = run(tmp_path, "diff", "APP.py", "--no-refresh", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)  # the whole JSON document arrived
    assert "Api-GET-notes/role" in {c["logical_id"] for c in plan["changes"]}
    assert marker.read_text() == "yes"
    assert thread_marker.exists() == with_thread
