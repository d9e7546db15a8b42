"""What the App offers from outside it, with no process global: the overrides the CLI passes in an explicit
scope (``sstdirect.overrides``), the protocol constructs use (``ConstructHost``), what the local gateway serves
(``served_as``), and the resource types its lockfile may hold (passed to ``StateFile``). No AWS."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import boto3
import pytest

from sstdirect import Api, App, AppSyncApi, Function, GraphQLApi, StateError, Table, WebSocketApi
from sstdirect.cli import _load_apps
from sstdirect.constructs.base import ConstructHost
from sstdirect.local.gateway.contract import APPSYNC, FUNCTION, HTTP, WEBSOCKET, served
from sstdirect.overrides import Overrides, current_scope, declaring
from sstdirect.state import State, StateFile


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ok.py").write_text("def main(event, context):\n    return {}\n")
    (tmp_path / "schema.graphql").write_text("type Query { a: String }\n")
    return tmp_path


def test_an_app_made_in_a_scope_takes_its_overrides_and_joins_it(root: Path) -> None:
    session = boto3.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    with declaring(Overrides(stage="prod", region="eu-west-1", endpoint_url="http://127.0.0.1:9",
                             session=session, state_dir=str(root / "locks"))) as scope:
        app = App("notes", stage="dev", region="us-east-1", root=root)
    assert (app.stage, app.region, app.endpoint_url, app.session) == ("prod", "eu-west-1", "http://127.0.0.1:9",
                                                                      session)
    assert app.state_path == root / "locks" / "notes.prod.json" and scope.apps == [app]
    assert current_scope() is None
    after = App("notes", stage="dev", region="us-east-1", root=root)  # outside: its own options, listed nowhere
    assert (after.stage, after.region, after.state_path) == ("dev", "us-east-1", root / ".sstdirect" / "notes.dev.json")
    assert scope.apps == [app]


def test_scopes_nest_and_belong_to_their_thread(root: Path) -> None:
    with declaring(Overrides(stage="prod")) as outer:
        with declaring() as inner:  # no overrides of its own: the outer's
            kept = App("a", root=root)
        with declaring(Overrides(region="eu-west-1")):  # its own: alone
            replaced = App("b", root=root)
        other: list[App] = []
        thread = threading.Thread(target=lambda: other.append(App("c", root=root)))
        thread.start()
        thread.join()
    assert (kept.stage, replaced.stage, replaced.region, other[0].stage) == ("prod", "dev", "eu-west-1", "dev")
    assert inner.apps == [kept] and outer.apps == []


def test_the_cli_loads_the_apps_of_a_file_with_its_overrides(root: Path) -> None:
    (root / "app.py").write_text("from sstdirect import App\nfirst = App('one')\nsecond = App('two', stage='x')\n")
    apps = _load_apps(str(root / "app.py"), Overrides(stage="ci"))
    assert [(a.name, a.stage) for a in apps] == [("one", "ci"), ("two", "ci")]
    assert [a.name for a in _load_apps(str(root / "app.py"))] == ["one", "two"]  # a second run lists its own


def test_constructs_use_the_app_through_its_host_protocol(root: Path) -> None:
    app = App("notes", root=root)
    assert isinstance(app, ConstructHost)
    fn = Function(app, "Fn", handler="src/ok.main")
    assert app.construct("Fn") is fn and app.construct("Nope") is None and app.deployed_outputs("Fn") is None
    assert app.recorded("Fn/function") is None  # no lockfile yet
    ctx = app.expand_context()
    assert (ctx.app, ctx.stage, ctx.region, ctx.root) == ("notes", "dev", app.region, app.root)
    with pytest.raises(RuntimeError), app.transaction():
        Function(app, "Gone", handler="src/ok.main")
        raise RuntimeError
    assert app.constructs == [fn]


def test_what_the_gateway_serves_is_said_by_each_construct(root: Path) -> None:
    app = App("notes", root=root)
    api = Api(app, "Api", routes={"GET /": "src/ok.main"})
    gql = GraphQLApi(app, "Gql", server="src/ok.main")
    ws = WebSocketApi(app, "Ws", routes={"$default": "src/ok.main"})
    appsync = AppSyncApi(app, "Sync", schema="schema.graphql")
    Table(app, "Notes", fields={"id": "string"}, primary_index={"partition_key": "id"})
    assert served(app, HTTP) == [api, gql] and served(app, WEBSOCKET) == [ws] and served(app, APPSYNC) == [appsync]
    functions = served(app, FUNCTION)
    assert functions and all(isinstance(f, Function) for f in functions)
    assert {f.construct_id for f in functions} == {c.construct_id for c in app.constructs if isinstance(c, Function)}


def test_the_lockfile_checks_the_types_it_is_given(root: Path) -> None:
    path = root / ".sstdirect" / "notes.dev.json"
    path.parent.mkdir()
    StateFile(path).save(State(app="notes", stage="dev", region="us-east-1"))
    data = json.loads(path.read_text())
    data["resources"]["Fn/function"] = {"type": "lambda.Functoin", "physical_id": "f", "props": {}, "attrs": {}}
    path.write_text(json.dumps(data))
    assert StateFile(path).load().resources["Fn/function"].type == "lambda.Functoin"  # given none: any type
    with pytest.raises(StateError, match=r"unknown type 'lambda\.Functoin'"):
        StateFile(path, lambda: ["lambda.Function"]).load()
    with pytest.raises(StateError, match=r"unknown type 'lambda\.Functoin'"):  # the App passes the registered types
        App("notes", stage="dev", region="us-east-1", root=root).outputs  # noqa: B018
