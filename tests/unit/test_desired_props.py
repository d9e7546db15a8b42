"""The resources the constructs make, pinned: every example app, the full app of ``tests/inventory.py``, the
crash driver's apps and a ``variants`` app (the options the others leave out) expand into exactly the
resources recorded in ``data/desired_props.json`` — each one's type, props (as
:func:`sstdirect.engine.values.to_json_data` writes them) and ``after``.

A change here changes what an existing user's lockfile is compared with: a deploy that was a no-op would
write. Only a change that means to alter what is deployed may re-record the file:

    .venv/bin/python tests/unit/test_desired_props.py      # rewrites data/desired_props.json

Paths under the app's root are recorded as ``<root>/...``, a function's bundle (zip path and sha256) as
placeholders. Not covered: ``examples/graphql`` (its bundle installs graphql-core from PyPI); the
``variants`` app has a GraphQLApi instead.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]
EXAMPLES = TESTS.parent / "examples"
DATA = Path(__file__).resolve().parent / "data" / "desired_props.json"
EXAMPLE_APPS = ("rest-api", "api-auth-cognito", "api-auth-jwt", "custom-domain", "websocket", "appsync")
CRASH_SCENARIOS = ("small", "small-v2", "auth", "auth-v2", "full")
# environment variables the example apps read (their defaults are recorded)
EXAMPLE_ENV = ("ISSUER", "AUDIENCE", "DOMAIN")
BUNDLE_KEYS = ("code_path", "code_sha256")  # lambda.Function's
HANDLER = "def main(event, context):\n    return {'statusCode': 200}\n"
SCHEMA = """\
type Note { id: ID! content: String }
type Query { notes: [Note] note(id: ID!): Note ping: String remote: String }
type Mutation { save(content: String!): Note }
"""


def expand(app: Any, root: Path) -> dict[str, Any]:
    """``app``'s resources as JSON data, by address; ``root`` (the app's folder) written as ``<root>``, and a
    function's bundle (its zip's path and sha256, which depend on the zlib that deflated it) as placeholders."""
    from sstdirect.engine.values import to_json_data

    out = {address: {"type": res.type, "props": to_json_data(res.props), "after": list(res.after)}
           for address, res in app.resources().items()}
    for res in out.values():
        for key in BUNDLE_KEYS:
            if key in res["props"]:
                res["props"][key] = f"<{key}>"
    text = json.dumps(out, sort_keys=True)
    for prefix in {str(root.resolve()), str(root)}:
        text = text.replace(prefix, "<root>")
    return json.loads(text)


def _example(name: str, root: Path) -> Any:
    shutil.copytree(EXAMPLES / name, root, ignore=shutil.ignore_patterns(".sstdirect", "__pycache__"))
    return runpy.run_path(str(root / "app.py"), run_name="__example__")["app"]


def _full(root: Path) -> Any:
    sys.path.insert(0, str(TESTS))
    try:
        from inventory import full_app
    finally:
        sys.path.remove(str(TESTS))
    return full_app(root)


def _crash(scenario: str, root: Path) -> Any:
    driver = runpy.run_path(str(TESTS / "crash" / "crash_driver.py"), run_name="crash_driver")
    (root / "src").mkdir(parents=True)
    (root / "src" / "h.py").write_text(driver["SMALL_HANDLERS"])
    return driver["build_app"](scenario, name="crash", stage="dev", root=root, state_dir=root / "state",
                               endpoint_url="http://127.0.0.1:9", session=None)


def _variants(root: Path) -> Any:
    """The options the other apps leave out: every AppSync data source kind and auth mode, mapping templates,
    Cognito triggers and grants, a sort key, CORS and access-log options, payload 1.0, scopes, a given
    certificate, an IAM WebSocket API with its access log, a GraphQLApi, function options."""
    from sstdirect import Api, App, AppSyncApi, Cognito, Function, GraphQLApi, Table, WebSocketApi

    (root / "src").mkdir(parents=True)
    for name in ("a", "b", "c", "auth", "pre", "post", "gql"):
        (root / "src" / f"{name}.py").write_text(HANDLER)
    (root / "schema.graphql").write_text(SCHEMA)
    (root / "request.vtl").write_text('{"version": "2018-05-29", "payload": {}}\n')
    app = App("variants", stage="prod", region="eu-west-1", root=root)
    table = Table(app, "Notes", fields={"pk": "string", "sk": "number"},
                  primary_index={"partition_key": "pk", "sort_key": "sk"})
    worker = Function(app, "Worker", handler="src/a.main", runtime="python3.12", memory_size=512, timeout=20,
                      architecture="x86_64", environment={"TABLE": table.table_name, "MODE": "x"},
                      permissions=[table, "s3", {"Action": ["sqs:SendMessage"], "Resource": "*"}])
    auth = Cognito(app, "Users", login=["username", "email", "preferred_username"],
                   triggers={"pre_sign_up": "src/pre.main",
                             "post_confirmation": {"handler": "src/post.main", "timeout": 30}},
                   defaults={"function": {"memory_size": 256}})
    Cognito(app, "Plain", login=["phone"], identity_pool=False)
    api = Api(app, "Api", cors={"allow_origins": ["https://x.dev"], "allow_credentials": True, "max_age": "1 day"},
              access_log={"format": "$context.requestId", "retention": "one_week"},
              custom_domain={"domain_name": "api.example.org",
                             "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"},
              authorizers={"jwt": {"type": "jwt", "jwt": {"issuer": "https://issuer.example.com", "audience": "x"},
                                   "identity_source": ["$request.header.X-Token"]},
                           "fn": {"type": "lambda", "function": "src/auth.main", "results_cache_ttl": 60}},
              defaults={"function": {"timeout": 9}, "authorizer": "jwt", "authorization_scopes": ["read"]},
              routes={"GET /a/{id}": {"function": "src/a.main", "payload_format_version": "1.0"},
                      "POST /b": {"function": "src/b.main", "authorizer": "fn"},
                      "ANY /{proxy+}": {"function": worker, "authorizer": "iam"},
                      "GET /c": {"function": "src/c.main", "authorization_scopes": ["admin", "read"]}})
    auth.attach_permissions_for_auth_users([api, "s3"])
    auth.attach_permissions_for_unauth_users(["s3:GetObject"])
    WebSocketApi(app, "Ws", authorizer="iam", access_log={"retention": "one_month"},
                 routes={"$connect": "src/a.main", "$default": "src/b.main"})
    AppSyncApi(app, "Sync", schema="schema.graphql",
               data_sources={"fn": "src/a.main", "none": {"type": "none", "description": "local"},
                             "table": {"type": "dynamodb", "table": table.table_name},
                             "web": {"type": "http", "endpoint": "https://example.com", "name": "Web"}},
               resolvers={"Query notes": {"data_source": "table", "request_mapping": {"file": "request.vtl"},
                                          "response_mapping": {"inline": "$util.toJson($ctx.result)"}},
                          "Query note": "fn", "Query ping": {"data_source": "none",
                                                             "request_mapping": {"inline": "{}"},
                                                             "response_mapping": {"inline": "null"}},
                          "Query remote": {"data_source": "web", "request_mapping": {"inline": "{}"},
                                           "response_mapping": {"inline": "null"}},
                          "Mutation save": "src/b.main"},
               authorization={"default": "lambda", "function": "src/auth.main",
                              "additional": ["api_key", "iam", "user_pool", "oidc"],
                              "user_pool": {"id": auth.user_pool_id},
                              "oidc": {"issuer": "https://issuer.example.com", "client_id": "abc"}})
    AppSyncApi(app, "Keyed", schema="schema.graphql", data_sources={"fn": "src/c.main"},
               resolvers={"Query ping": "fn"}, authorization={"default": "api_key", "api_key_expires_days": 30})
    GraphQLApi(app, "Gql", server="src/gql.main", root_path="/graphql", cors=False, access_log=False)
    return app


def builders() -> dict[str, Callable[[Path], Any]]:
    """App name → a function building that app in an empty folder."""
    out: dict[str, Callable[[Path], Any]] = {}
    for name in EXAMPLE_APPS:
        out[f"example:{name}"] = lambda root, name=name: _example(name, root)
    out["inventory:full_app"] = _full
    for scenario in CRASH_SCENARIOS:
        out[f"crash:{scenario}"] = lambda root, scenario=scenario: _crash(scenario, root)
    out["variants"] = _variants
    return out


def record(tmp: Path) -> dict[str, Any]:
    """Every app's resources (see :func:`expand`), by app name."""
    saved = {k: os.environ.pop(k) for k in EXAMPLE_ENV if k in os.environ}
    try:
        return {name: expand(build(tmp / str(i)), tmp / str(i)) for i, (name, build) in enumerate(builders().items())}
    finally:
        os.environ.update(saved)


@pytest.mark.parametrize("name", list(builders()))
def test_the_constructs_make_the_recorded_resources(name: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for key in EXAMPLE_ENV:
        monkeypatch.delenv(key, raising=False)
    want = json.loads(DATA.read_text())[name]
    root = tmp_path / "app"
    got = expand(builders()[name](root), root)
    assert sorted(got) == sorted(want), "the addresses differ"
    for address in want:
        assert got[address] == want[address], address


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        data = record(Path(tmp))
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"{DATA}: {sum(len(v) for v in data.values())} resources of {len(data)} apps")
