"""The local gateway's route matching (SEMANTICS.md §2), without sockets."""

from __future__ import annotations

import pytest

from sstdirect.local.gateway.routing import RouteTable, compile_route

DOC_ROUTES = ["GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default"]


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/pets/dog/1", "GET /pets/dog/1"),       # static beats {id}
    ("GET", "/pets/dog/2", "GET /pets/dog/{id}"),
    ("GET", "/pets/cat/1", "GET /pets/{proxy+}"),
    ("POST", "/test/5", "ANY /{proxy+}"),            # greedy beats $default
])
def test_documented_table(method: str, path: str, expected: str) -> None:
    match = RouteTable(DOC_ROUTES).match(method, path)
    assert match is not None and match.route_key == expected


@pytest.mark.parametrize(("method", "path", "expected", "params"), [
    ("GET", "/notes", "GET /notes", {}),
    ("POST", "/notes", "ANY /notes", {}),                      # ANY takes methods not defined
    ("GET", "/notes/", "$default", {}),                        # no trailing-slash folding
    ("GET", "/Notes", "$default", {}),                         # case-sensitive
    ("HEAD", "/notes", "ANY /notes", {}),                      # HEAD is not GET
    ("GET", "/notes/a%20b", "GET /notes/{id}", {"id": "a b"}),  # decoded parameters
    ("GET", "/files/a/b%2Fc", "GET /files/{path+}", {"path": "a/b/c"}),
    ("GET", "/files/", "$default", {}),                        # a greedy variable needs a character
    ("GET", "/", "GET /", {}),
    ("DELETE", "/notes/1", "ANY /notes/{id}", {"id": "1"}),
    ("GET", "/notes/1", "GET /notes/{id}", {"id": "1"}),       # explicit method beats ANY
    ("GET", "/a/b", "GET /{x}/b", {"x": "a"}),                 # a literal second segment beats {y}
])
def test_precedence_and_edges(method: str, path: str, expected: str, params: dict[str, str]) -> None:
    table = RouteTable(["GET /notes", "ANY /notes", "GET /notes/{id}", "ANY /notes/{id}", "GET /files/{path+}",
                        "GET /", "GET /{x}/b", "GET /{x}/{y}", "$default"])
    match = table.match(method, path)
    assert match is not None
    assert (match.route_key, match.path_parameters) == (expected, params)


def test_literal_left_to_right() -> None:
    table = RouteTable(["GET /a/{y}", "GET /{x}/b"])
    assert table.match("GET", "/a/b").route_key == "GET /a/{y}"


def test_no_default_is_no_match() -> None:
    table = RouteTable(["GET /notes", "GET /pets/{proxy+}"])
    assert table.match("GET", "/nope") is None
    assert table.match("HEAD", "/notes") is None
    assert table.match("GET", "/notes/") is None
    assert table.match("GET", "/pets") is None


def test_greedy_must_end_the_path() -> None:
    with pytest.raises(ValueError, match="greedy"):
        compile_route("GET /{proxy+}/x")
