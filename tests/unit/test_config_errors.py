"""Bad input: every wrong configuration is a ConfigError naming the construct, key and fix — with zero AWS calls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sstdirect import Api, App, AppSyncApi, Function, WebSocketApi
from sstdirect.constructs.routes import parse_route_key


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ok.py").write_text("def main(event, context):\n    return {}\n")
    (tmp_path / "src" / "other.py").write_text("x = 1\n")
    (tmp_path / "schema.graphql").write_text("type Query { a: String }\n")
    return tmp_path


H = "src/ok.main"
CASES: list[tuple[str, Callable[[App], Any], tuple[str, ...]]] = [
    ("no slash", lambda a: Api(a, "Api", routes={"GET notes": H}), ("Api 'Api'", "GET notes", "must start with '/'")),
    ("bad method", lambda a: Api(a, "Api", routes={"FETCH /x": H}), ("Api 'Api'", "FETCH", "GET")),
    ("greedy not last", lambda a: Api(a, "Api", routes={"GET /{p+}/x": H}), ("greedy", "last segment")),
    ("three words", lambda a: Api(a, "Api", routes={"GET /a b": H}), ("'GET /a b'", "METHOD /path")),
    ("param twice", lambda a: Api(a, "Api", routes={"GET /{id}/{id}": H}), ("{id}", "twice")),
    ("empty segment", lambda a: Api(a, "Api", routes={"GET /a//b": H}), ("empty path segment",)),
    ("half param", lambda a: Api(a, "Api", routes={"GET /a{b}": H}), ("invalid path segment", "{id}")),
    ("duplicate route", lambda a: Api(a, "Api", routes={"GET /x": H, "GET   /x": H}), ("duplicate route", "GET /x")),
    ("duplicate add_routes", lambda a: Api(a, "Api", routes={"GET /x": H}).add_routes({"get /x": H}),
     ("duplicate route",)),
    ("missing file", lambda a: Api(a, "Api", routes={"GET /x": "src/nope.main"}),
     ("route 'GET /x'", "handler", "nope")),
    ("missing function", lambda a: Api(a, "Api", routes={"GET /x": "src/other.main"}), ("handler", "main")),
    ("escapes root", lambda a: Function(a, "Fn", handler="../evil.main"), ("Function 'Fn'", "handler")),
    ("no handler", lambda a: Function(a, "Fn"), ("Function 'Fn'", "handler is required")),
    ("camelCase option", lambda a: Function(a, "Fn", handler=H, memorySize=512), ("memory_size", "snake_case")),
    ("camelCase kwarg", lambda a: Api(a, "Api", customDomain="api.x.com"), ("custom_domain",)),
    ("camelCase access log", lambda a: Api(a, "Api", accessLog=False), ("access_log",)),
    ("camelCase cors key", lambda a: Api(a, "Api", cors={"allowHeaders": ["x"]}), ("allow_headers",)),
    ("camelCase route option", lambda a: Api(a, "Api", routes={"GET /x": {"function": H, "authorizationScopes": []}}),
     ("authorization_scopes",)),
    ("camelCase function prop", lambda a: Api(a, "Api", routes={"GET /x": {"handler": H, "memorySize": 1}}),
     ("memory_size",)),
    ("unknown authorizer", lambda a: Api(a, "Api", routes={"GET /x": {"function": H, "authorizer": "pool"}}),
     ("unknown authorizer 'pool'", "'none'", "'iam'")),
    ("unknown default authorizer", lambda a: Api(a, "Api", defaults={"authorizer": "auth0"}), ("defaults", "auth0")),
    ("reserved authorizer name", lambda a: Api(a, "Api", authorizers={"iam": {"type": "jwt"}}), ("reserved",)),
    ("jwt without issuer", lambda a: Api(a, "Api", authorizers={"a": {"type": "jwt", "jwt": {"audience": ["x"]}}}),
     ("issuer",)),
    ("authorizer type", lambda a: Api(a, "Api", authorizers={"a": {"type": "cognito"}}), ("'user_pool'",)),
    ("credentials with *", lambda a: Api(a, "Api", cors={"allow_credentials": True}),
     ("allow_credentials", "allow_origins")),
    ("payload version", lambda a: Api(a, "Api", defaults={"payload_format_version": "3.0"}), ("'1.0' or '2.0'",)),
    ("memory range", lambda a: Function(a, "Fn", handler=H, memory_size=64), ("memory_size", "128")),
    ("timeout range", lambda a: Function(a, "Fn", handler=H, timeout=901), ("timeout", "900")),
    ("runtime", lambda a: Function(a, "Fn", handler=H, runtime="nodejs20.x"), ("runtime", "python3.12")),
    ("permission", lambda a: Function(a, "Fn", handler=H, permissions=["not a perm"]), ("permission",)),
    ("retention", lambda a: Api(a, "Api", access_log={"retention": 13}), ("retention", "one_week")),
    ("duplicate construct id", lambda a: (Function(a, "X", handler=H), Function(a, "X", handler=H)),
     ("already used",)),
    ("bad construct id", lambda a: Function(a, "my fn", handler=H), ("not valid",)),
    ("output in f-string", lambda a: f"{Api(a, 'Api').url}/x", ("known only after deploy",)),
    ("unknown App option", lambda a: App("x", stages="dev"), ("stage",)),
    # Routes that differ only in a parameter's name: a request matches both alike, the second is unreachable.
    ("parameter name conflict", lambda a: Api(a, "Api", routes={"GET /notes/{id}": H, "GET /notes/{noteId}": H}),
     ("Api 'Api'", "'GET /notes/{id}'", "'GET /notes/{noteId}'", "differ only in a parameter's name", "Fix:")),
    ("greedy name conflict", lambda a: Api(a, "Api", routes={"ANY /files/{proxy+}": H, "ANY /files/{path+}": H}),
     ("'ANY /files/{proxy+}'", "'ANY /files/{path+}'", "differ only in a parameter's name")),
    ("name conflict across add_routes", lambda a: Api(a, "Api", routes={"GET /notes/{id}": H}).add_routes(
        {"GET /notes/{noteId}": H}), ("'GET /notes/{id}'", "'GET /notes/{noteId}'")),
    # Wrong types: a ConfigError naming the option, never a TypeError/ValueError or a value taken apart.
    ("environment [''] ", lambda a: Function(a, "Fn", handler=H, environment=[""]),
     ("Function 'Fn'", "environment must be a dict", "{'TABLE': 'notes'}")),
    ("environment ['ab']", lambda a: Function(a, "Fn", handler=H, environment=["ab"]),  # was {"a": "b"}
     ("Function 'Fn'", "environment must be a dict")),
    ("permissions 's3'", lambda a: Function(a, "Fn", handler=H, permissions="s3"),  # was ["s:*", "3:*"]
     ("Function 'Fn'", "permissions must be a list")),
    ("statement action int", lambda a: Function(a, "Fn", handler=H, permissions=[{"Action": 5}]),
     ("Function 'Fn'", "Action must be a string or a list")),
    ("route authorizer list", lambda a: Api(a, "Api", authorizers={"auth": {"type": "lambda", "function": H}},
                                            routes={"GET /x": {"function": H, "authorizer": ["auth"]}}),
     ("Api 'Api' route 'GET /x'", "authorizer must be a name", "'auth'")),
    ("route authorizer dict", lambda a: Api(a, "Api", routes={"GET /x": {"function": H, "authorizer": {"x": 1}}}),
     ("Api 'Api' route 'GET /x'", "authorizer must be a name")),
    ("default authorizer list", lambda a: Api(a, "Api", defaults={"authorizer": ["none"]}),
     ("Api 'Api' defaults", "authorizer must be a name")),
    ("authorizer type list", lambda a: Api(a, "Api", authorizers={"auth": {"type": ["lambda"], "function": H}}),
     ("Api 'Api' authorizer 'auth'", "'type' of 'user_pool', 'jwt' or 'lambda'", "['lambda']")),
    ("authorizer type dict", lambda a: Api(a, "Api", authorizers={"auth": {"type": {"lambda": 1}}}),
     ("Api 'Api' authorizer 'auth'", "'type'")),
    ("authorizer config list", lambda a: Api(a, "Api", authorizers={"auth": ["lambda"]}),
     ("Api 'Api' authorizer 'auth'", "a dict, not list")),
    ("jwt issuer int", lambda a: Api(a, "Api", authorizers={"j": {"type": "jwt", "jwt": {"issuer": 7}}}),
     ("Api 'Api' authorizer 'j'", "issuer must be the issuer's URL")),
    ("jwt audience int", lambda a: Api(a, "Api", authorizers={"j": {"type": "jwt", "jwt": {
        "issuer": "https://id.example.com", "audience": 7}}}), ("jwt audience must be a list",)),
    ("client_ids string", lambda a: Api(a, "Api", authorizers={"u": {"type": "user_pool", "user_pool": {
        "id": "us-east-1_abc", "client_ids": "abc"}}}), ("user_pool client_ids must be a list",)),
    ("routes list", lambda a: Api(a, "Api", routes=["GET /x"]), ("Api 'Api'", "routes must be a dict", "not list")),
    ("routes empty string", lambda a: WebSocketApi(a, "Ws", routes=""), ("WebSocketApi 'Ws'", "routes must be a dict")),
    ("option key not a string", lambda a: Api(a, "Api", cors={1: True}), ("Api 'Api' cors", "1 is not a name")),
    ("defaults environment list", lambda a: Api(a, "Api", defaults={"function": {"environment": ["ab"]}},
                                                routes={"GET /x": {"handler": H, "environment": {"A": "1"}}}),
     ("Api 'Api' route 'GET /x' (defaults' function)", "environment must be a dict")),
    ("defaults value every route overrides", lambda a: Api(a, "Api", defaults={"function": {"timeout": "5"}},
                                                           routes={"GET /x": {"handler": H, "timeout": 5}}),
     ("(defaults' function)", "timeout must be an int")),
    ("AppSync mode list", lambda a: AppSyncApi(a, "Gql", schema="schema.graphql", authorization={"default": ["iam"]}),
     ("AppSyncApi 'Gql' authorization", "default must be one of")),
]


@pytest.mark.parametrize(("case", "build", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_config_error_before_any_aws_call(
    case: str, build: Callable[[App], Any], expected: tuple[str, ...], config_error_check: Any, root: Path
) -> None:
    config_error_check(root, build, expected)


def test_route_keys_normalize() -> None:
    assert parse_route_key("x", "  get   /notes/{id} ").key == "GET /notes/{id}"
    assert parse_route_key("x", "$default").key == "$default"
    assert parse_route_key("x", "ANY /files/{proxy+}").source_arn_suffix() == "/*/*/files/*"
    assert parse_route_key("x", "GET /notes/").key == "GET /notes/"  # no trailing-slash folding


@pytest.mark.parametrize(("options", "named"), [
    ({"root": 5}, "root"), ({"state": 3}, "state"), ({"root": ["."]}, "root"),
    ({"region": ["us-east-1"]}, "region"), ({"profile": 1}, "profile"), ({"endpoint_url": 2}, "endpoint_url"),
    ({"endpoint_url": "localhost:4566"}, "endpoint_url"), ({"session": "default"}, "session"),
])
def test_app_options_of_the_wrong_type_are_a_config_error(options: dict[str, Any], named: str) -> None:
    """``App(root=5)`` was a TypeError from pathlib; every option of the wrong type names itself."""
    from sstdirect import ConfigError

    with pytest.raises(ConfigError, match=rf"App 'x': {named} "):
        App("x", **options)
