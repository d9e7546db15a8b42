"""A lockfile older than AWS (issue 12): put back from a backup or version control after later deploys.

What the later deploys made and the app has since dropped is in AWS but not in the lockfile. A deploy
finds it -- as a stray of a container the app keeps (a route of its API, a statement with sstdirect's
prefix on its function) and, on that evidence or a ``.bak`` newer than the lockfile, as an orphan
tagged with the app's name (a function, its role and log group, a table) -- shows it in ``diff`` and
deletes it: AWS then holds exactly what a clean deploy of the app makes. Moto round trips.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
from inventory import duplicates, inventory, write_handlers

from sstdirect import Api, App, Function, Table


def _app(root: Path, aws: boto3.Session, routes: list[str], table: bool = False) -> App:
    app = App("notes", root=root, session=aws)
    Api(app, "Api", routes={r: "src/public.main" for r in routes})
    if table:
        Table(app, "Notes", fields={"id": "string"}, primary_index={"partition_key": "id"})
    return app


@pytest.mark.parametrize("bak", ["bak newer", "no bak"])
def test_a_restored_older_lockfile_deletes_what_the_dropped_route_left(aws: boto3.Session, tmp_path: Path,
                                                                         bak: str) -> None:
    """The issue's case: v1 (GET /a) deployed and its lockfile copied; v2 adds GET /old (its route,
    integration, function, permission, role and log group); the v1 lockfile is put back (with v2's lockfile
    as its ``.bak``, or with no ``.bak``: from version control) and the app, back at v1, is deployed. Before
    the fix the plan was empty and all six stayed; now ``diff`` lists them and ``deploy`` deletes them."""
    write_handlers(tmp_path)
    v1 = _app(tmp_path, aws, ["GET /a"])
    v1.deploy()
    clean = inventory(aws.client)
    old_lockfile = v1.state_path.read_bytes()
    _app(tmp_path, aws, ["GET /a", "GET /old"]).deploy()
    assert inventory(aws.client) != clean
    v1.state_path.write_bytes(old_lockfile)  # put back; the .bak now holds a later serial
    if bak == "no bak":
        v1.state_path.with_name(v1.state_path.name + ".bak").unlink()

    app = _app(tmp_path, aws, ["GET /a"])
    plan = app.diff()
    deleted = {c.address for c in plan.changes if c.action.value == "delete"}
    assert all(c.action.value == "delete" for c in plan.changes), plan
    assert {"Api-GET-old/function", "Api-GET-old/role", "Api-GET-old/log-group"} <= deleted, deleted
    assert "Api/api/stray/route/GET /old" in deleted and any("/stray/integration/" in a for a in deleted), deleted
    app.deploy()
    left = inventory(aws.client)
    assert left == clean and duplicates(left) == {}, set(left) ^ set(clean)
    assert app.diff().changes == [] and app.deploy().changes == []


def test_a_dropped_table_is_found_when_the_bak_is_newer(aws: boto3.Session, tmp_path: Path) -> None:
    """No API stray to go by: a table added after the copy and dropped since is found because the ``.bak``
    is a later version of the lockfile's lineage -- and only then (no listing of tables on every deploy)."""
    write_handlers(tmp_path)
    v1 = _app(tmp_path, aws, ["GET /a"])
    v1.deploy()
    old_lockfile = v1.state_path.read_bytes()
    _app(tmp_path, aws, ["GET /a"], table=True).deploy()
    assert len(aws.client("dynamodb").list_tables()["TableNames"]) == 1
    bak = v1.state_path.with_name(v1.state_path.name + ".bak")

    shutil.copy(v1.state_path, tmp_path / "v2.json")
    v1.state_path.write_bytes(old_lockfile)
    bak.write_bytes(json.dumps({"lineage": "someone-else", "serial": 99}).encode())  # another lineage: no evidence
    app = _app(tmp_path, aws, ["GET /a"])
    result = app.deploy()
    assert result.changes == [] and "dynamodb.ListTables" not in result.api_calls
    assert len(aws.client("dynamodb").list_tables()["TableNames"]) == 1  # left: nothing said it was stale

    v1.state_path.write_bytes(old_lockfile)
    shutil.copy(tmp_path / "v2.json", bak)  # the later version of this lineage is the .bak
    plan = app.diff()
    assert [(c.action.value, c.type) for c in plan.changes] == [("delete", "dynamodb.Table")], plan
    app.deploy()
    assert aws.client("dynamodb").list_tables()["TableNames"] == []
    assert app.deploy().changes == []


def test_statements_with_sstdirect_prefix_nobody_records_are_deleted(aws: boto3.Session, tmp_path: Path) -> None:
    """A statement with sstdirect's prefix on a function the app keeps that no record claims (a restored
    lockfile, a lost AddPermission answer) is a stray; a statement someone else added is left alone. An
    untouched function costs no GetPolicy (its revision id is one sstdirect recorded)."""
    write_handlers(tmp_path)
    app = App("notes", root=tmp_path, session=aws)
    Function(app, "Worker", handler="src/public.main")
    Api(app, "Api", routes={"GET /a": "src/public.main"})
    app.deploy()
    steady = app.deploy()
    assert steady.changes == [] and "lambda.GetPolicy" not in steady.api_calls

    state = json.loads(app.state_path.read_text())
    name = state["resources"]["Worker/function"]["physical_id"]
    lam = aws.client("lambda")
    for sid, principal in (("sstdirect-left-over", "apigateway.amazonaws.com"), ("theirs", "events.amazonaws.com")):
        lam.add_permission(FunctionName=name, StatementId=sid, Action="lambda:InvokeFunction", Principal=principal)
    plan = app.diff()
    assert [(c.action.value, c.address) for c in plan.changes] == [
        ("delete", "Worker/function/stray/permission/sstdirect-left-over")], plan
    app.deploy()
    sids = {s["Sid"] for s in json.loads(lam.get_policy(FunctionName=name)["Policy"])["Statement"]}
    assert sids == {"theirs"}
    assert app.deploy().changes == []


def test_remove_with_a_restored_older_lockfile_leaves_nothing(aws: boto3.Session, tmp_path: Path) -> None:
    """``remove()`` reads no AWS listing as a rule (it deletes what the lockfile records); with a ``.bak``
    newer than the lockfile it also deletes what the later deploys made, so nothing of the app is left."""
    write_handlers(tmp_path)
    v1 = _app(tmp_path, aws, ["GET /a"])
    v1.deploy()
    old_lockfile = v1.state_path.read_bytes()
    _app(tmp_path, aws, ["GET /a", "GET /old"], table=True).deploy()
    v1.state_path.write_bytes(old_lockfile)
    _app(tmp_path, aws, ["GET /a"]).remove()
    left = {k for k in inventory(aws.client) if k != ("role", "sstdirect-apigateway-cloudwatch")}
    assert left == set() and aws.client("dynamodb").list_tables()["TableNames"] == [], left
