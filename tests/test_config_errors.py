"""Bad input: every wrong configuration is a ConfigError naming the construct, key and fix — with zero AWS calls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sstdirect import Api, App, Function
from sstdirect.constructs.routes import parse_route_key


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ok.py").write_text("def main(event, context):\n    return {}\n")
    (tmp_path / "src" / "other.py").write_text("x = 1\n")
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
