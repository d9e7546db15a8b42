"""A construct joins its App only once its constructor succeeded (issue 12).

The notebook case: a cell whose constructor raised ``ConfigError`` is fixed and run again. It must work —
no "ids must be unique" for the id the failed attempt took, no ``AttributeError`` on expanding a Function
that never finished its constructor — and the child Functions a failed constructor (or ``add_routes``)
made before failing must not stay registered, or they would be deployed as functions of no route.
Everything here is offline: the App's session refuses any AWS request.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from sstdirect import Api, App, AppSyncApi, Cognito, ConfigError, Function, GraphQLApi, WebSocketApi

OK = "src/ok.main"
MISSING = "src/missing.main"  # no such file: the constructor fails after the routes before it made functions


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ok.py").write_text("def main(event, context):\n    return {}\n")
    (tmp_path / "schema.graphql").write_text("type Query { a: String, b: String }\n")
    return tmp_path


@pytest.fixture
def app(root: Path) -> App:
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")

    def refuse(event_name: str = "", **_: Any) -> None:
        raise AssertionError(f"an AWS call was made: {event_name}")

    session.events.register("before-send", refuse)
    return App("nb", stage="dev", session=session, root=root, state=root / "nb.dev.json")


def functions_of(app: App) -> list[str]:
    return sorted(c.construct_id for c in app.constructs if isinstance(c, Function))


# A constructor that makes child Functions, then fails (its last function's handler is missing), and the
# same call fixed; the expected ids once fixed.
CELLS: list[tuple[str, Callable[[App, str], Any], list[str]]] = [
    ("Api", lambda a, h: Api(a, "Api", routes={"GET /a": OK, "GET /b": OK, "GET /c": h}), ["Api"]),
    ("Api authorizer", lambda a, h: Api(a, "Api", authorizers={"auth": {"type": "lambda", "function": OK}},
                                        routes={"GET /a": {"function": OK, "authorizer": "auth"}, "GET /b": h}),
     ["Api"]),
    ("WebSocketApi", lambda a, h: WebSocketApi(a, "Ws", authorizer={"type": "lambda", "function": OK},
                                               routes={"$connect": OK, "send": h}), ["Ws"]),
    ("GraphQLApi", lambda a, h: GraphQLApi(a, "Gql", authorizers={"auth": {"type": "lambda", "function": OK}},
                                           server=h), ["Gql"]),
    ("AppSyncApi", lambda a, h: AppSyncApi(a, "Sync", schema="schema.graphql",
                                           data_sources={"one": OK, "two": h}), ["Sync"]),
    ("Cognito", lambda a, h: Cognito(a, "Auth", triggers={"pre_sign_up": OK, "post_confirmation": h}), ["Auth"]),
    ("Function", lambda a, h: Function(a, "Fn", handler=h), ["Fn"]),
]


@pytest.mark.parametrize(("case", "cell", "ids"), CELLS, ids=[c[0] for c in CELLS])
def test_a_failed_constructor_registers_nothing_and_its_fixed_cell_runs(
        app: App, case: str, cell: Callable[[App, str], Any], ids: list[str]) -> None:
    Function(app, "Other", handler=OK)  # what the notebook made before stays
    with pytest.raises(ConfigError, match="missing"):
        cell(app, MISSING)
    assert [c.construct_id for c in app.constructs] == ["Other"]  # not the construct, not its child functions
    app.resources()  # expanding the app works (was: AttributeError: 'Function' object has no attribute ...)

    construct = cell(app, OK)  # the fixed cell (was: "ids must be unique")
    assert [c.construct_id for c in app.constructs if not c._internal] == ["Other", *ids]
    assert construct in app.constructs
    addresses = set(app.resources())
    for fn in functions_of(app):  # every function registered is one of the construct's (or Other)
        assert f"{fn}/function" in addresses
    if hasattr(construct, "_functions"):
        assert sorted({f.construct_id for f in construct._functions()} | {"Other"}) == functions_of(app)


def test_a_failed_add_routes_leaves_no_function_of_its_routes(app: App) -> None:
    api = Api(app, "Api", routes={"GET /a": OK})
    before = functions_of(app)
    with pytest.raises(ConfigError, match="missing"):
        api.add_routes({"GET /b": OK, "GET /c": OK, "GET /d": MISSING})
    assert functions_of(app) == before and api.routes == ["GET /a"]
    api.add_routes({"GET /b": OK, "GET /c": OK, "GET /d": OK})
    assert api.routes == ["GET /a", "GET /b", "GET /c", "GET /d"]
    assert functions_of(app) == ["Api-GET-a", "Api-GET-b", "Api-GET-c", "Api-GET-d"]

    ws = WebSocketApi(app, "Ws", routes={"$connect": OK})
    with pytest.raises(ConfigError, match="missing"):
        ws.add_routes({"send": OK, "other": MISSING})
    assert ws.routes == ["$connect"] and "Ws-send" not in functions_of(app)


def test_a_taken_id_still_fails_at_once_and_leaves_the_first_construct(app: App) -> None:
    first = Function(app, "Fn", handler=OK)
    with pytest.raises(ConfigError, match="already used by Function 'Fn'"):
        Api(app, "Fn", routes={"GET /a": OK})
    assert app.constructs == [first]  # the Api's route function was not left behind either


def test_a_bad_option_after_valid_routes_registers_nothing(app: App) -> None:
    """The failure need not be a handler: any ConfigError raised after child functions were made."""
    with pytest.raises(ConfigError, match="authorizer"):
        Api(app, "Api", authorizers={"auth": {"type": "lambda", "function": OK}},
            routes={"GET /a": OK, "GET /b": {"function": OK, "authorizer": ["auth"]}})
    assert app.constructs == []
    Api(app, "Api", authorizers={"auth": {"type": "lambda", "function": OK}},
        routes={"GET /a": OK, "GET /b": {"function": OK, "authorizer": "auth"}})
    assert functions_of(app) == ["Api-GET-a", "Api-GET-b", "Api-authorizer-auth"]
