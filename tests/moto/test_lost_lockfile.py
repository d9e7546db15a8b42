"""A lost lockfile: the next deploy stops before any write instead of making everything twice, and
``sstdirect state rebuild`` (``App.rebuild_state()``) rebuilds the lockfile from what AWS holds."""

from __future__ import annotations

import json
import runpy
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from inventory import duplicates, full_app, inventory

from sstdirect import App, StateError, cli
from sstdirect import app as app_module
from sstdirect.aws import is_mutating
from sstdirect.engine import rebuild as rebuild_module
from sstdirect.overrides import Overrides, declaring

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rest-api"
ACCOUNT_LEVEL = {("role", "sstdirect-apigateway-cloudwatch")}  # kept by remove() on purpose (API.md)


@pytest.fixture
def example_root(tmp_path: Path) -> Path:
    root = tmp_path / "rest-api"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".sstdirect", "__pycache__"))
    return root


@pytest.fixture
def overrides(aws: boto3.Session, tmp_path: Path) -> Iterator[Path]:
    with declaring(Overrides(session=aws, state_dir=str(tmp_path / "state"))):
        yield tmp_path / "state"


def load_example(root: Path) -> App:
    with declaring() as scope:  # the fixture's overrides
        runpy.run_path(str(root / "app.py"), run_name="__example__")
    (app,) = scope.apps
    return app


@pytest.fixture(params=["rest-api", "full"])
def build(request: pytest.FixtureRequest, aws: boto3.Session, example_root: Path, overrides: Path,
          tmp_path: Path) -> Callable[[], App]:
    """A builder of the app under test: the rest-api example, or Cognito + authorizers + custom domains + WebSocket."""
    if request.param == "rest-api":
        return lambda: load_example(example_root)
    aws.client("route53").create_hosted_zone(Name="example.com", CallerReference="lost")
    return lambda: full_app(tmp_path / "full", session=aws)


def writes(api_calls: Any) -> dict[str, int]:
    return {k: v for k, v in api_calls.items() if is_mutating(k)}


def test_lost_lockfile_stops_the_deploy_and_rebuild_restores_it(aws: boto3.Session, build: Callable[[], App],
                                                                calls: Any) -> None:
    app = build()
    app.deploy()
    deployed = inventory(aws.client)
    assert duplicates(deployed) == {}
    lockfile = json.loads(app.state_path.read_text())
    shutil.rmtree(app.state_path.parent)  # the lockfile, its .bak and its lock: all gone

    app = build()
    first = len(calls.ops)
    with pytest.raises(StateError) as info:
        app.deploy()
    message = str(info.value)
    assert "sstdirect state rebuild APP.py --stage dev" in message and "rebuild_state()" in message
    assert f"app {app.name!r} stage 'dev'" in message and "apigatewayv2.Api" in message
    assert [op for op in calls.ops[first:] if is_mutating(op)] == []  # stopped before any write
    assert not app.state_path.exists() and inventory(aws.client) == deployed
    with pytest.raises(StateError, match="state rebuild"):  # diff says what deploy would do: stop
        app.diff()

    result = app.rebuild_state()
    assert result.missing == [] and result.extra == [] and result.ignored == []
    rebuilt = json.loads(app.state_path.read_text())
    assert set(rebuilt["resources"]) == set(lockfile["resources"])
    assert {a: r["physical_id"] for a, r in rebuilt["resources"].items()} == {
        a: r["physical_id"] for a, r in lockfile["resources"].items()}
    assert rebuilt["outputs"] == lockfile["outputs"]

    again = app.deploy()
    assert again.changes == [] and writes(again.api_calls) == {}
    assert inventory(aws.client) == deployed

    app.remove(force=True)
    assert set(inventory(aws.client)) <= ACCOUNT_LEVEL
    assert not app.state_path.exists()


def test_rebuild_refuses_an_existing_lockfile_unless_forced(aws: boto3.Session, example_root: Path,
                                                            overrides: Path) -> None:
    app = load_example(example_root)
    app.deploy()
    before = app.state_path.read_bytes()
    with pytest.raises(StateError, match=r"exists.*--force"):
        app.rebuild_state()
    assert app.state_path.read_bytes() == before
    app.state_path.write_text("{ truncated")  # a corrupt lockfile: rebuild it, keep the bad one
    result = app.rebuild_state(force=True)
    assert app.state_path.with_name(app.state_path.name + ".bak").read_text() == "{ truncated"
    assert result.missing == [] and app.deploy().changes == []


def test_rebuild_records_extra_copies_so_the_next_deploy_deletes_them(
        aws: boto3.Session, example_root: Path, overrides: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Copies made by an older sstdirect that deployed without a lockfile (no guard, no lookup before
    creating an API: it made a second API and its children) are cleaned up."""
    from sstdirect.engine import survey

    app = load_example(example_root)
    app.deploy()
    clean = inventory(aws.client)
    app.state_path.unlink()
    with monkeypatch.context() as m:
        m.setattr(app_module, "refuse_unrecorded", lambda *a, **k: None)
        m.setattr(survey, "adopt_before_create", lambda *a, **k: {})
        load_example(example_root).deploy()
    assert duplicates(inventory(aws.client))[("api", "dev-notes-Api", "HTTP")] == 2  # (children of both)
    app.state_path.unlink()

    app = load_example(example_root)
    result = app.rebuild_state()
    # the second API, and its access log group (named after its id)
    assert sorted(address for address, _ in result.extra) == ["Api/access-log", "Api/api"] and result.missing == []
    plan = app.diff()
    planned = {(c.action.value, c.address, c.deposed) for c in plan.changes}
    assert {("delete", "Api/access-log", True), ("delete", "Api/api", True)} <= planned
    # the only other changes: the permissions the second deploy adopted (scoped to the second API) go back
    assert {a for a, addr, _ in planned - {("delete", "Api/access-log", True), ("delete", "Api/api", True)}
            if not addr.startswith("Api/permission/")} == set()
    app.deploy()
    after = inventory(aws.client)
    assert duplicates(after) == {}
    # the surviving API is whole: every declared route and integration, one stage
    assert {k for k in after if k[0] in ("route", "integration", "stage")} == {
        k for k in clean if k[0] in ("route", "integration", "stage")}
    assert app.deploy().changes == []


def test_cli_deploy_without_lockfile_exits_1_and_state_rebuild_restores_it(
        aws: boto3.Session, example_root: Path, overrides: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app_file = str(example_root / "app.py")
    assert cli.main(["deploy", app_file]) == 0
    lockfile = overrides / "notes.dev.json"
    lockfile.unlink()
    capsys.readouterr()
    assert cli.main(["deploy", app_file]) == 1
    err = capsys.readouterr().err
    assert "StateError" in err and "sstdirect state rebuild APP.py --stage dev" in " ".join(err.split())
    assert not lockfile.exists()
    assert cli.main(["state", "rebuild", app_file, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["missing"] == [] and "Api/api" in out["found"] and lockfile.exists()
    assert cli.main(["state", "rebuild", app_file]) == 1  # a lockfile exists now
    assert "--force" in capsys.readouterr().err
    assert cli.main(["deploy", app_file, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changes"] == []


def test_a_first_deploy_scans_with_a_few_reads_only(aws: boto3.Session, example_root: Path, overrides: Path) -> None:
    """The guard costs one round of list calls on a first deploy (GetApis, ListFunctions, ListRoles, two
    DescribeLogGroups), and no tag reads when nothing is named like this app's objects."""
    result = load_example(example_root).deploy()
    assert result.api_calls["apigatewayv2.GetApis"] == 1 and result.api_calls["lambda.ListFunctions"] == 1
    assert result.api_calls["iam.ListRoles"] == 1 and result.api_calls["logs.DescribeLogGroups"] >= 2
    for tags in ("lambda.ListTags", "iam.ListRoleTags", "logs.ListTagsLogGroup"):
        assert result.api_calls[tags] == 0, tags  # nothing named like this app's objects existed yet
    assert rebuild_module.rebuild_command("app.py", "prod") == "sstdirect state rebuild app.py --stage prod"


def test_rebuild_records_leftovers_of_an_older_version_for_deletion(aws: boto3.Session, tmp_path: Path) -> None:
    """The lockfile was lost, and the app changed since: what the old version had and the new one does not
    (a route with its integration, function, role, log group and permission) is recorded by the rebuild and
    deleted by the next deploy, which then leaves exactly what a clean deploy of the new version makes."""
    from inventory import write_handlers

    from sstdirect import Api

    write_handlers(tmp_path)

    def build(*routes: str) -> App:
        app = App("notes", root=tmp_path, session=aws)
        Api(app, "Api", routes={r: "src/public.main" for r in routes})
        return app

    build("GET /a", "GET /old").deploy()
    build("GET /a", "GET /old").state_path.unlink()
    app = build("GET /a")
    with pytest.raises(StateError):
        app.deploy()
    result = app.rebuild_state()
    extra = {address for address, _ in result.extra}
    assert {"Api/api/stray/route/GET /old", "Api-GET-old/function", "Api-GET-old/role",
            "Api-GET-old/log-group"} <= extra, extra
    # its integration, made by the import that created the API's routes, has no description: named by its id
    assert len([a for a in extra if a.startswith("Api/api/stray/integration/")]) == 1, extra
    plan = app.diff()
    deleted = {c.address for c in plan.changes if c.action.value == "delete"}
    assert deleted == extra and all(c.action.value == "delete" for c in plan.changes), plan
    app.deploy()
    left = inventory(aws.client)
    assert duplicates(left) == {} and app.deploy().changes == []
    assert not [k for k in left if "old" in " ".join(map(str, k)).lower()], left
    assert {k[0] for k in left} >= {"api", "route", "integration", "stage", "function", "role", "log-group"}
