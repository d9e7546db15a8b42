"""The one route-key grammar (:mod:`sstdirect.routekey`): what it accepts and refuses, its round trips
(text, OpenAPI), its source-ARN suffix, and that the constructs and the local gateway read keys alike.

The valid cases are the examples of API Gateway's "Working with routes for HTTP APIs" (method and resource
path, ``ANY``, ``$default``, ``{petID}``, a greedy ``{proxy+}`` at the end of the path,
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html); the refusals are
what that guide rules out or leaves undefined (see the module's docstring).
"""

from __future__ import annotations

import logging
import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sstdirect import ConfigError
from sstdirect.constructs.routes import parse_route_key
from sstdirect.local.gateway.routing import RouteTable, compile_route
from sstdirect.routekey import GREEDY, LITERAL, METHODS, OPENAPI_ANY, VARIABLE, RouteKey


@pytest.mark.parametrize(("raw", "key", "segments"), [
    ("GET /pets", "GET /pets", ((LITERAL, "pets"),)),                                      # the guide's examples
    ("GET /pets/{petID}", "GET /pets/{petID}", ((LITERAL, "pets"), (VARIABLE, "petID"))),
    ("ANY /parent/{proxy+}", "ANY /parent/{proxy+}", ((LITERAL, "parent"), (GREEDY, "proxy"))),
    ("GET /pets/dog/1", "GET /pets/dog/1", ((LITERAL, "pets"), (LITERAL, "dog"), (LITERAL, "1"))),
    ("$default", "$default", ()),
    ("  $default\n", "$default", ()),
    ("GET /", "GET /", ((LITERAL, ""),)),
    ("GET /notes/", "GET /notes/", ((LITERAL, "notes"), (LITERAL, ""))),                   # trailing slash kept
    ("  post\t/a-b/{id.x}  ", "POST /a-b/{id.x}", ((LITERAL, "a-b"), (VARIABLE, "id.x"))),  # normalized
    ("options /%20:@!$&'()*,;=~+", "OPTIONS /%20:@!$&'()*,;=~+", ((LITERAL, "%20:@!$&'()*,;=~+"),)),
])
def test_accepted(raw: str, key: str, segments: tuple[tuple[int, str], ...]) -> None:
    parsed = RouteKey.parse(raw)
    assert (str(parsed), parsed.key, parsed.segments) == (key, key, segments)
    assert parsed.is_default == (key == "$default")


@pytest.mark.parametrize(("raw", "why"), [
    ("GET /a/{x y}", "is not valid"),                    # a space splits the key: three words
    ("GET /a/{x:y}", "invalid path segment"),            # a parameter name is [A-Za-z0-9._-]
    ("GET /a/{x+y}", "invalid path segment"),
    ("GET /a{b}", "invalid path segment"),                # a parameter is a whole segment
    ("GET /{}", "invalid path segment"),
    ("GET /é", "invalid path segment"),
    ("GET /{p+}/x", "must be the last segment"),         # "must be at the end of the resource path"
    ("GET /{id}/{id}", "twice"),
    ("GET /{a}/{a+}", "twice"),
    ("GET /a//b", "empty path segment"),
    ("FETCH /x", "unknown method"),
    ("GET x", "must start with '/'"),
    ("GET", "is not valid"),
    ("", "is not valid"),
    ("$connect", "is not valid"),                          # a WebSocket route key is not an HTTP one
    (None, "must be a string"),
])
def test_refused(raw: object, why: str) -> None:
    with pytest.raises(ValueError, match=why) as info:
        RouteKey.parse(raw)
    assert repr(raw) in str(info.value)
    with pytest.raises(ConfigError) as wrapped:  # the constructs' wrapper: the same refusal, labelled
        parse_route_key("Api 'Api'", raw)
    assert str(wrapped.value) == f"Api 'Api': {info.value}"


@pytest.mark.parametrize(("raw", "suffix"), [
    ("GET /notes/{id}", "/*/GET/notes/*"),
    ("ANY /files/{proxy+}", "/*/*/files/*"),
    ("POST /a/{b}/c", "/*/POST/a/*/c"),
    ("GET /", "/*/GET/"),
    ("$default", "/*"),
])
def test_source_arn_suffix(raw: str, suffix: str) -> None:
    assert RouteKey.parse(raw).source_arn_suffix() == suffix


@pytest.mark.parametrize(("raw", "openapi"), [
    ("GET /a", ("/a", "get")),
    ("ANY /b/{proxy+}", ("/b/{proxy+}", OPENAPI_ANY)),
    ("$default", ("$default", OPENAPI_ANY)),
])
def test_openapi(raw: str, openapi: tuple[str, str]) -> None:
    assert RouteKey.parse(raw).to_openapi() == openapi
    assert RouteKey.from_openapi(*openapi) == RouteKey.parse(raw)


@pytest.mark.parametrize(("path", "method"), [("/a", "parameters"), ("/a", "trace"), ("/a b", "get"),
                                              (" /a", "get"), ("/a/{x:y}", "get"), ("a", "get")])
def test_from_openapi_refuses(path: str, method: str) -> None:
    with pytest.raises(ValueError):
        RouteKey.from_openapi(path, method)


# --- properties ---------------------------------------------------------------------------------------------

NAME = st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=6)
LITERAL_TEXT = st.text(string.ascii_letters + string.digits + "._~!$&'()*,;=:@%+-", min_size=1, max_size=6)


@st.composite
def valid_keys(draw: st.DrawFn) -> str:
    """A key in canonical form: ``$default`` or ``METHOD /path`` with unique parameter names."""
    if draw(st.integers(0, 9)) == 0:
        return "$default"
    names = draw(st.lists(NAME, unique=True, max_size=4))
    segments = [draw(st.one_of(LITERAL_TEXT, st.just("{" + n + "}"))) for n in names]
    if draw(st.booleans()):
        segments.append("{" + draw(NAME.filter(lambda n: n not in names)) + "+}")
    return f"{draw(st.sampled_from(METHODS))} /" + "/".join(segments)


@settings(max_examples=200, deadline=None)
@given(valid_keys())
def test_round_trips(raw: str) -> None:
    key = RouteKey.parse(raw)
    assert str(key) == raw and RouteKey.parse(str(key)) == key
    assert RouteKey.from_openapi(*key.to_openapi()) == key
    assert "{" not in key.source_arn_suffix() and " " not in key.source_arn_suffix()


PIECES = ["a", "b", "{x}", "{y}", "{x y}", "{x:y}", "{x+y}", "{p+}", "", "a{b}", "é", "{}", "%20", "$default", "*"]
any_keys = st.one_of(
    valid_keys(),
    st.builds(lambda m, sep, parts, lead: f"{m}{sep}{lead}" + "/".join(parts),
              st.sampled_from([*METHODS, "get", "Any", "FETCH", "", "$default"]), st.sampled_from([" ", "  ", "\t"]),
              st.lists(st.sampled_from(PIECES), max_size=4), st.sampled_from(["/", "", " /"])),
    st.text(string.printable, max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(any_keys)
@example("GET /a/{x:y}")  # the gateway once compiled these, which the constructs refused
@example("GET /a/{x+y}")
@example("GET /{p+}/x")
def test_constructs_and_gateway_agree(raw: str) -> None:
    """A key the constructs accept is exactly a key the local gateway compiles, read into the same segments."""
    try:
        construct_key = parse_route_key("Api 'Api'", raw)
    except ConfigError:
        construct_key = None
    try:
        route = compile_route(raw)
    except ValueError:
        route = None
    assert (construct_key is None) == (route is None), (raw, construct_key, route)
    table = RouteTable([raw])
    assert (route is not None) == (len(table.routes) + (table.default is not None) == 1)
    if route is not None and construct_key is not None:
        assert (route.method, route.segments, route.is_default) == (
            construct_key.method, construct_key.segments, construct_key.is_default)
        assert route.key == raw  # the events' routeKey is the key as deployed


def test_gateway_skips_a_deployed_key_the_grammar_refuses(caplog: pytest.LogCaptureFixture) -> None:
    """The embedded AWS's CreateRoute takes any string: such a route is left out with a warning, never a crash,
    and the API's other routes are served."""
    with caplog.at_level(logging.WARNING, logger="sstdirect.local.gateway"):
        table = RouteTable(["GET /a/{x:y}", "GET /{p+}/x", "GET /b", "$default"])
    assert [r.key for r in table.routes] == ["GET /b"] and table.default is not None
    assert table.match("GET", "/a/1").route_key == "$default"
    assert table.match("GET", "/b").route_key == "GET /b"
    skipped = [r.getMessage() for r in caplog.records if "skips a route" in r.getMessage()]
    assert len(skipped) == 2 and "'GET /a/{x:y}'" in skipped[0] and "'GET /{p+}/x'" in skipped[1]
