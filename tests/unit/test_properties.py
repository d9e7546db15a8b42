"""Property-based tests (hypothesis) of everything a user types into a construct, and of the pure parts.

Input properties: for route keys (HTTP and WebSocket), construct ids, handler paths, CORS, custom domains,
AppSync schema files and Cognito options, every input is either accepted (and then satisfies what AWS
will accept, checked against an independent reference of the rule) or refused with a ``ConfigError`` that
names the construct — never another exception. Refusals go through the ``config_error_check`` fixture
(``deploy()`` on a session that fails the test on any AWS request, and no lockfile written); accepted
input is expanded and planned with no AWS at all.

Pure properties: route keys round-trip through parse/format; the gateway's route matching agrees with
a brute-force reference of SEMANTICS.md §2.1; planning is deterministic and independent of the order
routes are declared in.
"""

from __future__ import annotations

import functools
import random
import re
import string
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from sstdirect import Api, App, AppSyncApi, Cognito, ConfigError, Function, GraphQLApi, Table, WebSocketApi
from sstdirect.constructs.domain import parse_custom_domain
from sstdirect.constructs.options import cors_config
from sstdirect.constructs.routes import METHODS, parse_route_key
from sstdirect.constructs.websocket import check_route_key
from sstdirect.engine.planner import make_plan
from sstdirect.local.gateway.routing import RouteTable
from sstdirect.naming import slug
from sstdirect.packaging import resolve_handler

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
SLOW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])
H = "src/ok.main"
PSEUDO = {"region": "us-east-1", "account_id": "123456789012"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An app root with a handler, a symlink out of the root and a schema folder."""
    base = tmp_path_factory.mktemp("props")
    root, outside = base / "app", base / "outside"
    (root / "src").mkdir(parents=True)
    outside.mkdir()
    (root / "src" / "ok.py").write_text("def main(event, context):\n    return {}\n")
    (outside / "evil.py").write_text("def main(event, context):\n    return 'pwned'\n")
    (root / "src" / "link.py").symlink_to(outside / "evil.py")
    (root / "linkdir").symlink_to(outside)
    (root / "graphql").mkdir()
    return root


@functools.cache
def offline_session() -> boto3.Session:
    """A session that fails on any AWS request (nothing here may call AWS); one for the module, as a Session
    costs ~50 ms to build."""
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")

    def refuse(event_name: str = "", **_: Any) -> None:
        raise AssertionError(f"an AWS call was made: {event_name}")

    session.events.register("before-send", refuse)
    return session


def offline_app(root: Path) -> App:
    """An App on :func:`offline_session`."""
    return App("props", stage="dev", session=offline_session(), root=root, state=root / "never-written.json")


def plan_offline(app: App) -> Any:
    """Expand and plan ``app`` with no AWS and no lockfile: what a first deploy would create."""
    return make_plan(app.resources(), {}, None, PSEUDO, app=app.name, stage=app.stage, secret_salt="00" * 16)


def outcome(root: Path, build: Callable[[App], Any]) -> ConfigError | None:
    """None if ``build`` and planning accept the input; the ConfigError if refused. Anything else fails."""
    app = offline_app(root)
    try:
        build(app)
        plan_offline(app)
    except ConfigError as exc:
        return exc
    return None


def check(root: Path, build: Callable[[App], Any], ok: bool, fragments: tuple[str, ...],
          config_error_check: Callable[..., None]) -> None:
    """``ok`` → accepted offline; else a ConfigError holding ``fragments`` with zero AWS calls on deploy()."""
    error = outcome(root, build)
    if ok:
        assert error is None, f"valid input refused: {error}"
    else:
        assert error is not None, "bad input accepted"
        config_error_check(root, build, fragments)


# --- HTTP route keys ---------------------------------------------------------------------------------------

LITERAL_CHARS = string.ascii_letters + string.digits + "._~!$&'()*,;=:@%+-"
names = st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=8)
literals = st.text(LITERAL_CHARS, min_size=1, max_size=8).filter(lambda s: s != "$default")


@st.composite
def route_keys(draw: st.DrawFn) -> str:
    """A valid HTTP route key, written as a user might (any method case, extra spaces)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(["$default", " $default ", "$default\n"]))
    method = draw(st.sampled_from(METHODS))
    method = draw(st.sampled_from([method, method.lower(), method.title()]))
    segments = draw(st.lists(st.one_of(literals, names.map(lambda n: "{" + n + "}")), max_size=4))
    seen: set[str] = set()
    unique = []
    for seg in segments:
        if seg not in seen:
            seen.add(seg)
            unique.append(seg)
    if draw(st.booleans()):
        greedy = "{" + draw(names) + "+}"
        if greedy[:-2] + "}" not in seen:
            unique.append(greedy)
    path = "/" + "/".join(unique)
    return draw(st.sampled_from(["{m} {p}", "  {m}   {p} ", "{m}\t{p}"])).format(m=method, p=path)


def reference_route_key(raw: str) -> str | None:
    """An independent reading of the route key rule: the normalized key, or None if invalid."""
    words = raw.split()
    if words == ["$default"]:
        return "$default"
    if len(words) != 2 or words[0].upper() not in METHODS or not words[1].startswith("/"):
        return None
    segments = words[1][1:].split("/")
    params: list[str] = []
    for i, seg in enumerate(segments):
        m = re.fullmatch(r"\{([A-Za-z0-9._-]+)(\+?)\}", seg)
        if m:
            if (m.group(2) and i != len(segments) - 1) or m.group(1) in params:
                return None
            params.append(m.group(1))
        elif seg == "" and i == len(segments) - 1:
            continue  # a trailing slash, kept as is (SEMANTICS §2.2)
        elif not re.fullmatch(r"[A-Za-z0-9._~!$&'()*,;=:@%+-]+", seg):
            return None
    return f"{words[0].upper()} {words[1]}"


@FAST
@given(route_keys())
def test_valid_route_keys_round_trip(raw: str) -> None:
    key = parse_route_key("Api 'Api'", raw)
    assert key.key == reference_route_key(raw)
    assert parse_route_key("Api 'Api'", key.key) == key  # format → parse is the identity
    assert str(key) == key.key and key.key == " ".join(key.key.split())
    if not key.is_default:
        suffix = key.source_arn_suffix()
        assert suffix.startswith("/*/") and "{" not in suffix and " " not in suffix


mangled_keys = st.one_of(
    st.text(max_size=30),
    st.text(LITERAL_CHARS + " /{}+\n\t\x00é", max_size=30),
    route_keys().flatmap(lambda k: st.tuples(st.just(k), st.integers(0, 40), st.sampled_from(
        [" ", "/", "//", "{", "}", "+}", "{x}", "\x00", "é", "?", "#", "\\", "*", "{proxy+}/"]))).map(
        lambda t: t[0][: t[1]] + t[2] + t[0][t[1]:]),
    st.sampled_from([None, 3, b"GET /x", ["GET /x"], ("GET", "/x")]),
)


@FAST
@given(mangled_keys)
@example("GET /a\n")
@example("GET /{a}/{a+}")
@example("GET /{}")
def test_any_route_key_is_normalized_or_a_config_error(raw: Any) -> None:
    expected = reference_route_key(raw) if isinstance(raw, str) else None
    try:
        key = parse_route_key("Api 'Api'", raw)
    except ConfigError as exc:
        assert expected is None, f"{raw!r} is valid ({expected!r}) but was refused: {exc}"
        assert "Api 'Api'" in str(exc) and repr(raw) in str(exc)
        return
    assert key.key == expected


@SLOW
@given(st.one_of(route_keys(), mangled_keys.filter(lambda k: not isinstance(k, list))))  # dict keys are hashable
def test_api_routes_are_checked_before_any_aws_call(root: Path, config_error_check: Any, raw: Any) -> None:
    ok = isinstance(raw, str) and reference_route_key(raw) is not None
    check(root, lambda a: Api(a, "Api", routes={raw: H}), ok, ("Api 'Api'", repr(raw)), config_error_check)


def reference_shape(key: str) -> tuple[str, ...]:
    """What a request is matched by, read independently: the method and each segment, a parameter's name
    left out (``{id}`` and ``{noteId}`` alike, ``{proxy+}`` and ``{path+}`` alike)."""
    if key == "$default":
        return ("$default",)
    method, path = key.split(" ")
    return (method, *("{+}" if re.fullmatch(r"\{.+\+\}", seg) else "{}" if re.fullmatch(r"\{.+\}", seg) else seg
                      for seg in path[1:].split("/")))


@SLOW
@given(st.lists(route_keys(), min_size=2, max_size=6))
@example(["GET /a-b", "GET /a/b"])
@example(["GET /notes/{id}", "GET /notes/id"])
@example(["GET /notes/{id}", "POST /notes/{noteId}", "GET /notes/{id+}", "ANY /notes/{x}"])
def test_distinct_valid_routes_are_all_accepted(root: Path, raws: list[str]) -> None:
    keys = {reference_route_key(r) for r in raws}
    assume(len(keys) == len(raws))  # duplicates are a ConfigError, tested elsewhere
    assume(len({reference_shape(k) for k in keys if k}) == len(raws))  # so are keys of one shape (below)
    app = offline_app(root)
    api = Api(app, "Api", routes={r: H for r in raws})
    plan = plan_offline(app)
    assert sorted(api.routes) == sorted(keys)
    routes = [c for c in plan.changes if c.type == "apigatewayv2.Route"]
    functions = [c for c in plan.changes if c.type == "lambda.Function"]
    assert len(routes) == len(functions) == len(raws)  # one function per route, none lost to a name clash


@st.composite
def same_shape_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two different route keys that differ only in the names of their parameters."""
    key = draw(route_keys().filter(lambda k: "{" in k))
    method, path = key.split()
    segments = path[1:].split("/")
    params = [i for i, seg in enumerate(segments) if seg.startswith("{")]
    i = draw(st.sampled_from(params))
    taken = {seg.strip("{}+") for seg in segments if seg.startswith("{")}
    new = draw(names.filter(lambda n: n not in taken))
    renamed = list(segments)
    renamed[i] = "{" + new + ("+}" if segments[i].endswith("+}") else "}")
    return key, f"{method} /" + "/".join(renamed)


@SLOW
@given(same_shape_pairs(), st.booleans())
@example(("GET /notes/{id}", "GET /notes/{noteId}"), False)
@example(("ANY /files/{proxy+}", "ANY /files/{path+}"), True)
def test_routes_that_differ_only_in_a_parameter_name_are_a_config_error(
        root: Path, config_error_check: Any, pair: tuple[str, str], later: bool) -> None:
    """A request matches both alike, so the local gateway (and API Gateway) could never reach the second:
    refused before any AWS call, in one ``routes=`` or across ``add_routes``."""
    first, second = pair
    assert reference_shape(reference_route_key(first) or "") == reference_shape(reference_route_key(second) or "")
    if later:
        def build(app: App) -> Any:
            return Api(app, "Api", routes={first: H}).add_routes({second: H})
    else:
        def build(app: App) -> Any:
            return Api(app, "Api", routes={first: H, second: H})
    config_error_check(root, build, ("Api 'Api'", "differ only in a parameter's name",
                                     repr(parse_route_key("x", first).key), repr(parse_route_key("x", second).key)))


def test_routes_whose_names_collide_keep_the_first_name(root: Path) -> None:
    """``GET /a/b`` and ``GET /a-b`` slug alike: the route declared first keeps ``Api-GET-a-b`` (a deployed app
    that adds the second route keeps its function), the second gets a hash of its key appended."""
    from sstdirect.naming import short_hash

    app = offline_app(root)
    api = Api(app, "Api", routes={"GET /a/b": H, "GET /a-b": H})
    assert api.get_function("GET /a/b").construct_id == "Api-GET-a-b"
    assert api.get_function("GET /a-b").construct_id == f"Api-GET-a-b-{short_hash('GET /a-b')}"
    names = [c.after["name"] for c in plan_offline(app).changes if c.type == "lambda.Function"]
    assert sorted(names) == sorted(["dev-props-Api-GET-a-b", f"dev-props-Api-GET-a-b-{short_hash('GET /a-b')}"])


# --- WebSocket route keys ----------------------------------------------------------------------------------

ws_keys = st.one_of(st.sampled_from(["$connect", "$disconnect", "$default"]),
                    st.text(string.ascii_letters + string.digits + "_-.:", min_size=1, max_size=20),
                    st.text(max_size=20), st.sampled_from([None, 1, "", "$connect ", "$CONNECT", "a b", "$x"]))


def reference_ws_key(key: Any) -> bool:
    """A valid WebSocket route key: a special key, or a custom action (the message's ``action`` value) of
    printable non-space characters without a leading '$'."""
    if not isinstance(key, str):
        return False
    if key in ("$connect", "$disconnect", "$default"):
        return True
    return bool(key) and not key.startswith("$") and key.isprintable() and not any(c.isspace() for c in key)


@FAST
@given(ws_keys)
def test_websocket_route_keys(key: Any) -> None:
    try:
        assert check_route_key("WebSocketApi 'Ws'", key) == key
    except ConfigError as exc:
        assert not reference_ws_key(key), f"{key!r} refused: {exc}"
        assert "WebSocketApi 'Ws'" in str(exc)
        return
    assert reference_ws_key(key), f"{key!r} accepted"


@SLOW
@given(st.lists(ws_keys, min_size=1, max_size=4, unique_by=lambda k: repr(k)))
def test_websocket_routes_are_checked_before_any_aws_call(root: Path, config_error_check: Any, keys: list[Any]) -> None:
    ok = all(reference_ws_key(k) for k in keys) and len(set(keys)) == len(keys)
    check(root, lambda a: WebSocketApi(a, "Ws", routes={k: H for k in keys}), ok, ("WebSocketApi 'Ws'",),
          config_error_check)


# --- construct ids -----------------------------------------------------------------------------------------

ids = st.one_of(st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,63}", fullmatch=True), st.text(max_size=70),
                st.sampled_from(["Fn\n", "Fn ", "1Fn", "-Fn", "F" * 65, "Fn/x", "Fn.x", "", None, 7]))


@FAST
@given(ids)
@example("Fn\n")
def test_construct_ids(root: Path, config_error_check: Any, construct_id: Any) -> None:
    ok = isinstance(construct_id, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,63}", construct_id) is not None
    check(root, lambda a: Function(a, construct_id, handler=H), ok, ("Function id", repr(construct_id)),
          config_error_check)


# --- handler paths: never outside the root -----------------------------------------------------------------

path_parts = st.sampled_from(["src", "ok", "..", ".", "", "~", "C:", "/", "linkdir", "evil", "link", "src/ok",
                              "src/link", "linkdir/evil", "\\", "ok.py", " ", "\x00", "é"])


@st.composite
def handlers(draw: st.DrawFn) -> str:
    parts = draw(st.lists(path_parts, min_size=1, max_size=5))
    sep = draw(st.sampled_from(["/", "//", "/./"]))
    lead = draw(st.sampled_from(["", "/", "./", "../", "~/", str(Path("/tmp")) + "/"]))
    return lead + sep.join(parts) + draw(st.sampled_from([".main", ".", "", ".main.x", ".1x", ".class"]))


@FAST
@given(st.one_of(handlers(), st.text(max_size=30)),
       st.sampled_from([None, "src", ".", "linkdir", "..", "../outside", "/tmp", "src\x00", "", "nope"]))
@example("../outside/evil.main", None)
@example("linkdir/evil.main", None)
@example("evil.main", "linkdir")
@example("src/link.main", None)
def test_handler_paths_never_leave_the_root(root: Path, handler: str, given_src: str | None) -> None:
    for src in (None, given_src):
        try:
            location = resolve_handler(root, handler, src=src, construct="Function 'Fn'")
        except ConfigError as exc:
            assert "Function 'Fn'" in str(exc) and "Fix:" in str(exc)
            continue
        real_root = root.resolve()
        for inside in (location.file, location.code_dir):
            assert inside.resolve().is_relative_to(real_root), (handler, src, inside)
        assert location.file.resolve().is_relative_to(location.code_dir.resolve())
        assert location.file.read_text().startswith("def main")  # only src/ok.py is a real handler here


def reference_handler(handler: str) -> bool:
    """In the test root only ``src/ok.py`` defines ``main`` inside the root: a handler is valid iff it names
    that file, by a relative path without '..' ('.' and doubled '/' are harmless)."""
    path, dot, func = handler.rpartition(".")
    if not dot or func != "main" or not handler.isprintable() or any(c.isspace() or c == "\\" for c in handler):
        return False
    if path.startswith(("/", "~")) or path.endswith("/") or ".." in path.split("/"):
        return False
    return [p for p in path.split("/") if p not in ("", ".")] == ["src", "ok"]


@SLOW
@given(handlers())
@example("./src//./ok.main")
@example("src/ok/.main")
@example("src/link.main")
def test_bad_handlers_are_refused_before_any_aws_call(root: Path, config_error_check: Any, handler: str) -> None:
    check(root, lambda a: Function(a, "Fn", handler=handler), reference_handler(handler),
          ("Function 'Fn'", "handler"), config_error_check)


# --- CORS --------------------------------------------------------------------------------------------------

header_lists = st.lists(st.sampled_from(["*", "content-type", "x-api-key", "authorization"]), max_size=3)
origin_lists = st.lists(st.sampled_from(["*", "https://app.example.com", "http://localhost:3000"]), max_size=3)
method_lists = st.lists(st.sampled_from(["*", "GET", "post", "ANY", "PUT", "DELETE", "OPTIONS"]), max_size=3)
junk = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=8), st.floats(),
                 st.lists(st.one_of(st.integers(), st.text(max_size=5), st.none()), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
good_cors = st.fixed_dictionaries({}, optional={
    "allow_headers": header_lists, "allow_methods": method_lists, "allow_origins": origin_lists,
    "expose_headers": header_lists, "max_age": st.one_of(st.integers(0, 86400), st.sampled_from(
        ["1 day", "10 minutes", "2 hours", "0 seconds"])), "allow_credentials": st.just(False)})
any_cors = st.one_of(st.booleans(), junk, good_cors, st.dictionaries(
    st.sampled_from(["allow_headers", "allow_methods", "allow_origins", "expose_headers", "max_age",
                     "allow_credentials", "allowHeaders", "origins"]), junk, max_size=3))


def satisfies_aws(config: dict[str, Any]) -> None:
    """API Gateway's Cors model (botocore): lists of strings, methods 1-64 characters, MaxAge -1..86400,
    and no credentials with a '*' origin."""
    for key in ("AllowHeaders", "AllowMethods", "AllowOrigins", "ExposeHeaders"):
        if key in config:
            assert isinstance(config[key], list) and all(isinstance(v, str) for v in config[key]), config
    assert all(1 <= len(m) <= 64 for m in config.get("AllowMethods", [])), config
    assert -1 <= config.get("MaxAge", 0) <= 86400, config
    assert isinstance(config.get("AllowCredentials", False), bool)
    assert not (config.get("AllowCredentials") and "*" in config.get("AllowOrigins", ["*"])), config


@FAST
@given(good_cors)
def test_valid_cors_is_accepted(cors: dict[str, Any]) -> None:
    config = cors_config("Api 'Api'", cors)
    assert config is not None
    satisfies_aws(config)


@FAST
@given(any_cors)
@example({"allow_headers": 5})
@example({"max_age": 86401})
@example({"allow_methods": [""]})
def test_any_cors_is_valid_for_aws_or_a_config_error(cors: Any) -> None:
    try:
        config = cors_config("Api 'Api'", cors)
    except ConfigError as exc:
        assert "Api 'Api'" in str(exc)
        return
    if config is not None:
        satisfies_aws(config)


@SLOW
@given(any_cors)
def test_api_cors_is_checked_before_any_aws_call(root: Path, config_error_check: Any, cors: Any) -> None:
    try:
        cors_config("Api 'Api'", cors)
        ok = True
    except ConfigError:
        ok = False
    check(root, lambda a: Api(a, "Api", cors=cors), ok, ("Api 'Api'", "cors"), config_error_check)


# --- custom domains ----------------------------------------------------------------------------------------

dns_labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
tlds = st.from_regex(r"[a-z]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
good_domains = st.tuples(st.lists(dns_labels, min_size=1, max_size=3), tlds).map(
    lambda t: ".".join([*t[0], t[1]])).filter(lambda d: len(d) <= 64)
any_domains = st.one_of(good_domains, st.text(max_size=40), good_domains.map(lambda d: d + "\n"),
                        good_domains.map(str.upper), good_domains.map(lambda d: d + "."),
                        good_domains.map(lambda d: "*." + d), good_domains.map(lambda d: "-" + d),
                        st.sampled_from(["localhost", "a..b.com", "api.example.123", "é.example.com", None, 5]))
paths = st.one_of(st.none(), st.sampled_from(["v1", "v1/notes", "/v1/", "", "a b", "v1\n", "../x", "v1//x"]),
                  st.text(max_size=10))


def reference_domain(domain: Any) -> bool:
    if not isinstance(domain, str) or len(domain) > 64:  # 64: ACM's limit on a certificate's first name
        return False
    labels = domain.split(".")
    return (len(labels) >= 2 and not labels[-1].isdigit() and all(
        re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", label) for label in labels))


def reference_path(path: Any) -> bool:
    if path is None:
        return True
    if not isinstance(path, str):
        return False
    stripped = path.strip("/")
    return stripped == "" or re.fullmatch(r"[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*", stripped) is not None


@FAST
@given(any_domains, paths)
@example("api.example.com\n", None)
@example("api.example.com", "v1\n")
def test_custom_domains(domain: Any, path: Any) -> None:
    ok = reference_domain(domain) and reference_path(path)
    try:
        parsed = parse_custom_domain("Api 'Api'", {"domain_name": domain, "path": path}, region="us-east-1")
    except ConfigError as exc:
        assert not ok, f"{domain!r} {path!r} refused: {exc}"
        assert "Api 'Api'" in str(exc) and "custom_domain" in str(exc)
        return
    assert ok, f"{domain!r} / {path!r} accepted"
    assert parsed is not None and parsed.domain_name == domain
    zone = parsed.hosted_zone
    assert zone is not None and (domain == zone or domain.endswith("." + zone))


@SLOW
@given(any_domains)
def test_api_custom_domain_is_checked_before_any_aws_call(root: Path, config_error_check: Any, domain: Any) -> None:
    check(root, lambda a: Api(a, "Api", custom_domain={"domain_name": domain}), reference_domain(domain),
          ("Api 'Api'", "custom_domain"), config_error_check)


# --- AppSync schema files ----------------------------------------------------------------------------------

GOOD_SCHEMAS = [
    "type Query { ping: String }",
    "type Note { id: ID!\n content: AWSJSON }\ntype Query { notes: [Note] }\nschema { query: Query }",
    "type Query { a: Int @aws_api_key }\ntype Mutation { b(x: String!): String }",
]
schema_bytes = st.one_of(
    st.sampled_from(GOOD_SCHEMAS).map(str.encode),
    st.binary(max_size=40),
    st.text(max_size=40).map(str.encode),
    st.sampled_from(GOOD_SCHEMAS).flatmap(lambda s: st.integers(0, len(s)).map(lambda i: (s[:i] + s[i + 1:]).encode())),
    st.sampled_from([b"", b"   \n", b"\xff\xfe\x00t\x00y", b"type Query { a: Missing }", b"type Query",
                     "type Query { caf\u00e9: String }".encode(), b"\x00"]),
)


@SLOW
@given(schema_bytes)
@example(b"\xff\xfe type Query { a: Int }")
def test_schema_files_are_valid_or_a_config_error(root: Path, config_error_check: Any, data: bytes) -> None:
    path = root / "graphql" / "schema.graphql"
    path.write_bytes(data)

    def build(app: App) -> Any:
        return AppSyncApi(app, "Gql", schema="graphql/schema.graphql", data_sources={"none": {"type": "none"}})

    error = outcome(root, build)
    if data.decode("utf-8", "replace") in GOOD_SCHEMAS:
        assert error is None, error
    if error is not None:
        config_error_check(root, build, ("AppSyncApi 'Gql'", "schema"))


@SLOW
@given(st.sampled_from(["../outside/evil.py", "/etc/hostname", "graphql", "graphql/none.graphql", "", "\x00x",
                        ["graphql/schema.graphql", 3], [], 7, None]))
def test_bad_schema_options_are_config_errors(root: Path, config_error_check: Any, schema: Any) -> None:
    (root / "graphql" / "schema.graphql").write_text(GOOD_SCHEMAS[0])
    check(root, lambda a: AppSyncApi(a, "Gql", schema=schema), False, ("AppSyncApi 'Gql'", "schema"),
          config_error_check)


# --- Cognito options ---------------------------------------------------------------------------------------

logins = st.one_of(st.lists(st.sampled_from(["email", "phone", "username", "preferred_username"]), min_size=1,
                            max_size=3, unique=True),
                   junk, st.lists(junk, max_size=2), st.sampled_from(["email", [], ["Email"], ["email", "email"]]))


@SLOW
@given(logins, st.one_of(st.booleans(), junk), st.one_of(st.none(), junk, st.just({"pre_sign_up": H}),
                                                         st.just({"preSignUp": H})),
       st.one_of(st.none(), junk, st.just({"function": {"timeout": 5}})))
def test_cognito_options(root: Path, config_error_check: Any, login: Any, identity_pool: Any, triggers: Any,
                         defaults: Any) -> None:
    def build(app: App) -> Any:
        return Cognito(app, "Auth", login=login, identity_pool=identity_pool, triggers=triggers, defaults=defaults)

    error = outcome(root, build)
    valid_login = isinstance(login, list) and login and all(
        v in ("email", "phone", "username", "preferred_username") for v in login) and (
        "preferred_username" not in login or "username" in login)
    ok = (valid_login and isinstance(identity_pool, bool) and triggers in (None, {}, {"pre_sign_up": H})
          and defaults in (None, {}, {"function": {"timeout": 5}}))
    if ok:
        assert error is None, error
    elif error is None:  # accepted: only harmless variants (a duplicated login, a falsy dict-like option)
        assert valid_login and isinstance(identity_pool, bool), (login, identity_pool, triggers, defaults)
    else:
        config_error_check(root, build, ("Cognito 'Auth'",))


# --- the gateway's route matching against a reference of SEMANTICS.md §2.1 ---------------------------------

seg_choices = st.sampled_from(["a", "b", "{x}", "{y}"])


@st.composite
def route_tables(draw: st.DrawFn) -> list[str]:
    keys: dict[tuple[str, tuple[str, ...]], str] = {}
    for _ in range(draw(st.integers(1, 8))):
        method = draw(st.sampled_from(["GET", "POST", "ANY", "HEAD"]))
        segs = draw(st.lists(seg_choices, max_size=3))
        if draw(st.booleans()):
            segs.append("{proxy+}")
        if not segs:
            segs = [draw(st.sampled_from(["a", "{x}"]))]
        shape = tuple("{}" if s.startswith("{") and not s.endswith("+}") else s for s in segs)
        if len({s for s in segs if s.startswith("{")}) != len([s for s in segs if s.startswith("{")]):
            continue
        keys.setdefault((method, shape), f"{method} /" + "/".join(segs))  # AWS refuses routes of one shape
    if draw(st.booleans()):
        keys[("", ())] = "$default"
    return list(keys.values())


def reference_select(keys: list[str], method: str, path: str) -> str | None:
    """SEMANTICS.md §2.1, by brute force: among the routes that match, the one more specific than every other
    (non-greedy over greedy; then left to right literal over {var} over greedy; then an explicit method over
    ANY); $default only when nothing else matches; else None (404)."""
    parts = path[1:].split("/")

    def matches(key: str) -> bool:
        m, p = key.split(" ")
        if m not in (method, "ANY"):
            return False
        segs = p[1:].split("/")
        for i, seg in enumerate(segs):
            if seg.endswith("+}"):
                return len(parts) > i and "/".join(parts[i:]) != ""
            if i >= len(parts) or not parts[i] or (not seg.startswith("{") and seg != parts[i]):
                return False
        return len(parts) == len(segs)

    def kinds(key: str) -> list[int]:
        return [2 if s.endswith("+}") else 1 if s.startswith("{") else 0 for s in key.split(" ")[1][1:].split("/")]

    def better(a: str, b: str) -> bool:
        ga, gb = kinds(a)[-1] == 2, kinds(b)[-1] == 2
        if ga != gb:
            return gb
        if kinds(a) != kinds(b):
            return kinds(a) < kinds(b)
        return a.startswith("ANY ") < b.startswith("ANY ")

    candidates = [k for k in keys if k != "$default" and matches(k)]
    for c in candidates:
        if all(c == o or better(c, o) for o in candidates):
            return c
    assert not candidates, f"no single best route among {candidates}"
    return "$default" if "$default" in keys else None


@settings(max_examples=300, deadline=None)
@given(route_tables(), st.sampled_from(["GET", "POST", "HEAD", "PUT"]),
       st.lists(st.sampled_from(["a", "b", "c", ""]), min_size=1, max_size=4))
def test_route_matching_agrees_with_the_reference(keys: list[str], method: str, parts: list[str]) -> None:
    path = "/" + "/".join(parts)
    table = RouteTable(keys)
    got = table.match(method, path)
    want = reference_select(keys, method, path)
    assert (got.route_key if got else None) == want, (keys, method, path)
    if got is not None and got.route_key != "$default":
        rebuilt = got.route_key.split(" ")[1]
        for name, value in got.path_parameters.items():
            rebuilt = rebuilt.replace("{" + name + "+}", value).replace("{" + name + "}", value)
        assert rebuilt == path  # the parameters are exactly the parts of the path they stand for


# --- planning is deterministic -----------------------------------------------------------------------------


@SLOW
@given(st.lists(route_keys(), min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_planning_is_deterministic_and_independent_of_declaration_order(root: Path, raws: list[str],
                                                                        rnd: random.Random) -> None:
    assume(len({reference_shape(reference_route_key(r) or "") for r in raws}) == len(raws))
    shuffled = list(raws)
    rnd.shuffle(shuffled)

    def plan_of(routes: list[str]) -> tuple[str, str]:
        app = offline_app(root)
        Api(app, "Api", routes={r: H for r in routes}, cors={"allow_origins": ["https://x.example"]})
        plan = plan_offline(app)
        return plan.to_json_str(), str(plan)

    first = plan_of(raws)
    assert plan_of(raws) == first
    # The same routes declared in another order: the same resources, props and plan. (No name depends on the
    # order, unless two routes' function names collide: then the one declared later takes a hashed name.)
    if len({slug(reference_route_key(r) or "") for r in raws}) == len(raws):
        assert plan_of(shuffled) == first


# --- every construct's options, fed values of the wrong type ----------------------------------------------
#
# Each construct starts from a valid set of props (every option given); one option (or one item of a list)
# is then replaced by a value of any type. A value of a type the option does not take must be a ConfigError
# naming the construct, with zero AWS requests and no lockfile; any value at all must be either accepted or
# such a ConfigError — never a TypeError, ValueError or AttributeError, never a list or string taken apart
# (``environment=["ab"]`` as ``{"a": "b"}``, ``permissions="s3"`` as ``["s", "3"]``).

STR, INT, BOOL, LIST, DICT, NONE = "str", "int", "bool", "list", "dict", "none"
KINDS = (STR, INT, BOOL, LIST, DICT, NONE, "float", "bytes", "set", "object")
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=4))
VALUES: dict[str, st.SearchStrategy[Any]] = {
    STR: st.one_of(st.text(max_size=12), st.sampled_from(["ab", "lambda", "none", "GET /x", "src/ok.main"])),
    INT: st.integers(-10**6, 10**6),
    BOOL: st.booleans(),
    LIST: st.one_of(st.lists(scalars, max_size=3), st.lists(scalars, max_size=3).map(tuple),
                 st.sampled_from([[""], ["ab"], [["x"]], [{}], ["lambda"]])),
    DICT: st.one_of(st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), scalars, max_size=3),
                 st.sampled_from([{"type": ["lambda"]}, {"type": {}}, {1: "x"}, {"": ""}])),
    NONE: st.none(),
    "float": st.floats(),
    "bytes": st.binary(max_size=6),
    "set": st.frozensets(st.integers(), max_size=3).map(set),
    "object": st.builds(object),
}

FN_PROPS = {
    "handler": H,
    "runtime": "python3.12",
    "memory_size": 256,
    "timeout": 10,
    "environment": {"A": "1"},
    "permissions": ["s3", {"Action": "s3:GetObject", "Resource": "*"}],
    "architecture": "x86_64",
    "src": ".",
    "include": ["graphql/data.json"],
}
FN_TYPES = {
    ("handler",): STR,
    ("runtime",): STR,
    ("memory_size",): INT,
    ("timeout",): INT,
    ("environment",): (NONE, DICT),
    ("environment", "A"): STR,
    ("permissions",): (NONE, LIST),
    ("permissions", 0): (STR, DICT),
    ("permissions", 1): (STR, DICT),
    ("architecture",): STR,
    ("src",): (NONE, STR),
    ("include",): (NONE, LIST),
    ("include", 0): STR,
}
FN_DEFAULTS = {"timeout": 5, "environment": {"B": "2"}, "permissions": ["s3"]}
FN_DEFAULT_TYPES = {
    (): (NONE, DICT),
    ("timeout",): INT,
    ("environment",): (NONE, DICT),
    ("environment", "B"): STR,
    ("permissions",): (NONE, LIST),
    ("permissions", 0): (STR, DICT),
}
FUNCTION_VALUE = (STR, DICT)  # where a function is expected: a handler or Function props (or a Function)


def _under(prefix: tuple[Any, ...], types: dict[tuple[Any, ...], Any]) -> dict[tuple[Any, ...], Any]:
    return {prefix + path: kinds for path, kinds in types.items()}


TYPED: dict[str, tuple[Callable[..., Any], dict[str, Any], dict[tuple[Any, ...], Any]]] = {
    "Function": (Function, FN_PROPS, FN_TYPES),
    "Api": (
        Api,
        {
            "routes": {
                "GET /x": {
                    "function": H,
                    "authorizer": "l",
                    "authorization_scopes": ["read"],
                    "payload_format_version": "2.0",
                },
                "GET /j": {"function": {"handler": H, "environment": {"C": "3"}}, "authorizer": "j"},
                "GET /u": {"function": H, "authorizer": "u"},
            },
            "authorizers": {
                "l": {
                    "type": "lambda",
                    "function": H,
                    "response_types": ["simple"],
                    "results_cache_ttl": 5,
                    "identity_source": ["$request.header.Authorization"],
                },
                "j": {"type": "jwt", "jwt": {"issuer": "https://issuer.example.com", "audience": ["aud"]}},
                "u": {
                    "type": "user_pool",
                    "user_pool": {"id": "us-east-1_abc", "client_ids": ["client"], "region": "us-east-1"},
                },
            },
            "defaults": {
                "function": FN_DEFAULTS,
                "authorizer": "none",
                "authorization_scopes": [],
                "payload_format_version": "2.0",
            },
            "cors": {
                "allow_headers": ["x"],
                "allow_methods": ["GET"],
                "allow_origins": ["https://a.example"],
                "allow_credentials": True,
                "expose_headers": ["x"],
                "max_age": 10,
            },
            "access_log": {"format": "$context.requestId", "retention": "one_week", "destination_arn": None},
            "custom_domain": {
                "domain_name": "api.example.com",
                "hosted_zone": "example.com",
                "path": "v1",
                "is_external_domain": False,
                "certificate_arn": None,
            },
        },
        {
            ("routes",): (NONE, DICT),
            ("routes", "GET /x"): FUNCTION_VALUE,
            ("routes", "GET /x", "function"): FUNCTION_VALUE,
            ("routes", "GET /x", "authorizer"): STR,
            ("routes", "GET /x", "authorization_scopes"): LIST,
            ("routes", "GET /x", "authorization_scopes", 0): STR,
            ("routes", "GET /x", "payload_format_version"): STR,
            ("routes", "GET /j"): FUNCTION_VALUE,
            ("routes", "GET /j", "function"): FUNCTION_VALUE,
            ("routes", "GET /j", "function", "environment"): (NONE, DICT),
            ("routes", "GET /j", "authorizer"): STR,
            ("authorizers",): (NONE, DICT),
            ("authorizers", "l"): DICT,
            ("authorizers", "l", "type"): STR,
            ("authorizers", "l", "function"): FUNCTION_VALUE,
            ("authorizers", "l", "response_types"): LIST,
            ("authorizers", "l", "response_types", 0): STR,
            ("authorizers", "l", "results_cache_ttl"): INT,
            ("authorizers", "l", "identity_source"): (NONE, LIST),
            ("authorizers", "l", "identity_source", 0): STR,
            ("authorizers", "j"): DICT,
            ("authorizers", "j", "type"): STR,
            ("authorizers", "j", "jwt"): DICT,
            ("authorizers", "j", "jwt", "issuer"): STR,
            ("authorizers", "j", "jwt", "audience"): (NONE, STR, LIST),
            ("authorizers", "j", "jwt", "audience", 0): STR,
            ("authorizers", "u"): DICT,
            ("authorizers", "u", "type"): STR,
            ("authorizers", "u", "user_pool"): DICT,
            ("authorizers", "u", "user_pool", "id"): STR,
            ("authorizers", "u", "user_pool", "client_ids"): (NONE, LIST),
            ("authorizers", "u", "user_pool", "client_ids", 0): STR,
            ("authorizers", "u", "user_pool", "region"): (NONE, STR),
            ("defaults",): (NONE, DICT),
            **_under(("defaults", "function"), FN_DEFAULT_TYPES),
            ("defaults", "authorizer"): STR,
            ("defaults", "authorization_scopes"): LIST,
            ("defaults", "payload_format_version"): STR,
            ("cors",): (NONE, BOOL, DICT),
            ("cors", "allow_headers"): (NONE, LIST),
            ("cors", "allow_headers", 0): STR,
            ("cors", "allow_methods"): (NONE, LIST),
            ("cors", "allow_methods", 0): STR,
            ("cors", "allow_origins"): (NONE, LIST),
            ("cors", "allow_origins", 0): STR,
            ("cors", "allow_credentials"): (NONE, BOOL),
            ("cors", "expose_headers"): (NONE, LIST),
            ("cors", "max_age"): (NONE, INT, STR),
            ("access_log",): (NONE, BOOL, STR, DICT),
            ("access_log", "format"): STR,
            ("access_log", "retention"): (NONE, INT, STR),
            ("access_log", "destination_arn"): (NONE, STR),
            ("custom_domain",): (NONE, STR, DICT),
            ("custom_domain", "domain_name"): STR,
            ("custom_domain", "hosted_zone"): (NONE, STR),
            ("custom_domain", "path"): (NONE, STR),
            ("custom_domain", "is_external_domain"): BOOL,
            ("custom_domain", "certificate_arn"): (NONE, STR),
        },
    ),
    "WebSocketApi": (
        WebSocketApi,
        {
            "routes": {"$connect": H, "sendMessage": {"function": {"handler": H, "timeout": 5}}},
            "authorizer": {"type": "lambda", "function": H, "identity_source": ["route.request.header.Authorization"]},
            "defaults": {"function": FN_DEFAULTS},
            "access_log": {"format": "$context.requestId", "retention": 7},
            "custom_domain": "ws.example.com",
        },
        {
            ("routes",): (NONE, DICT),
            ("routes", "$connect"): FUNCTION_VALUE,
            ("routes", "sendMessage"): FUNCTION_VALUE,
            ("routes", "sendMessage", "function"): FUNCTION_VALUE,
            ("routes", "sendMessage", "function", "timeout"): INT,
            ("authorizer",): (NONE, STR, DICT),
            ("authorizer", "type"): STR,
            ("authorizer", "function"): FUNCTION_VALUE,
            ("authorizer", "identity_source"): (NONE, LIST),
            ("authorizer", "identity_source", 0): STR,
            ("defaults",): (NONE, DICT),
            **_under(("defaults", "function"), FN_DEFAULT_TYPES),
            ("access_log",): (NONE, BOOL, STR, DICT),
            ("access_log", "format"): STR,
            ("access_log", "retention"): (NONE, INT, STR),
            ("custom_domain",): (NONE, STR, DICT),
        },
    ),
    "GraphQLApi": (
        GraphQLApi,
        {
            "server": {"handler": H, "timeout": 5},
            "root_path": "/graphql",
            "authorizers": {"l": {"type": "lambda", "function": H}},
            "defaults": {"function": FN_DEFAULTS, "authorizer": "l"},
            "cors": True,
            "access_log": True,
            "custom_domain": {"domain_name": "gql.example.com"},
        },
        {
            ("server",): FUNCTION_VALUE,
            ("server", "timeout"): INT,
            ("root_path",): STR,
            ("authorizers",): (NONE, DICT),
            ("authorizers", "l"): DICT,
            ("authorizers", "l", "type"): STR,
            ("authorizers", "l", "function"): FUNCTION_VALUE,
            ("defaults",): (NONE, DICT),
            **_under(("defaults", "function"), FN_DEFAULT_TYPES),
            ("defaults", "authorizer"): STR,
            ("cors",): (NONE, BOOL, DICT),
            ("access_log",): (NONE, BOOL, STR, DICT),
            ("custom_domain",): (NONE, STR, DICT),
            ("custom_domain", "domain_name"): STR,
        },
    ),
    "AppSyncApi": (
        AppSyncApi,
        {
            "schema": "graphql/typed.graphql",
            "data_sources": {
                "fn": H,
                "none": {"type": "none", "name": "None1", "description": "d"},
                "http": {"type": "http", "endpoint": "https://x.example.com"},
                "ddb": {"type": "dynamodb", "table": "notes"},
                "fn2": {"type": "function", "function": {"handler": H, "timeout": 5}},
            },
            "resolvers": {
                "Query ping": "fn",
                "Query notes": {
                    "data_source": "none",
                    "request_mapping": {"file": "graphql/req.vtl"},
                    "response_mapping": {"inline": "$util.toJson($ctx.result)"},
                },
                "Mutation add": {"function": H},
            },
            "authorization": {
                "default": "api_key",
                "additional": ["user_pool", "oidc", "lambda", "iam"],
                "api_key_expires_days": 30,
                "user_pool": {
                    "id": "us-east-1_abc",
                    "region": "us-east-1",
                    "default_action": "ALLOW",
                    "app_id_client_regex": "^web$",
                },
                "oidc": {"issuer": "https://issuer.example.com", "client_id": "c", "iat_ttl": 1, "auth_ttl": 1},
                "lambda": {"function": H, "results_cache_ttl": 5, "identity_validation_expression": "^Bearer "},
            },
            "defaults": {"function": FN_DEFAULTS},
        },
        {
            ("schema",): (STR, LIST),
            ("data_sources",): (NONE, DICT),
            ("data_sources", "fn"): FUNCTION_VALUE,
            ("data_sources", "none"): FUNCTION_VALUE,
            ("data_sources", "none", "type"): STR,
            ("data_sources", "none", "name"): STR,
            ("data_sources", "none", "description"): (NONE, STR),
            ("data_sources", "http"): FUNCTION_VALUE,
            ("data_sources", "http", "endpoint"): STR,
            ("data_sources", "ddb"): FUNCTION_VALUE,
            ("data_sources", "ddb", "table"): STR,
            ("data_sources", "fn2"): FUNCTION_VALUE,
            ("data_sources", "fn2", "type"): STR,
            ("data_sources", "fn2", "function"): FUNCTION_VALUE,
            ("resolvers",): (NONE, DICT),
            ("resolvers", "Query ping"): FUNCTION_VALUE,
            ("resolvers", "Query notes"): (STR, DICT),
            ("resolvers", "Query notes", "data_source"): STR,
            ("resolvers", "Query notes", "request_mapping"): (NONE, DICT),
            ("resolvers", "Query notes", "request_mapping", "file"): STR,
            ("resolvers", "Query notes", "response_mapping"): (NONE, DICT),
            ("resolvers", "Query notes", "response_mapping", "inline"): STR,
            ("resolvers", "Mutation add"): FUNCTION_VALUE,
            ("resolvers", "Mutation add", "function"): FUNCTION_VALUE,
            ("authorization",): (NONE, DICT),
            ("authorization", "default"): STR,
            ("authorization", "additional"): LIST,
            ("authorization", "additional", 0): STR,
            ("authorization", "api_key_expires_days"): INT,
            ("authorization", "user_pool"): DICT,
            ("authorization", "user_pool", "id"): STR,
            ("authorization", "user_pool", "region"): (NONE, STR),
            ("authorization", "user_pool", "default_action"): STR,
            ("authorization", "user_pool", "app_id_client_regex"): (NONE, STR),
            ("authorization", "oidc"): DICT,
            ("authorization", "oidc", "issuer"): STR,
            ("authorization", "oidc", "client_id"): (NONE, STR),
            ("authorization", "oidc", "iat_ttl"): INT,
            ("authorization", "oidc", "auth_ttl"): INT,
            ("authorization", "lambda"): DICT,
            ("authorization", "lambda", "function"): FUNCTION_VALUE,
            ("authorization", "lambda", "results_cache_ttl"): INT,
            ("authorization", "lambda", "identity_validation_expression"): (NONE, STR),
            ("defaults",): (NONE, DICT),
            **_under(("defaults", "function"), FN_DEFAULT_TYPES),
        },
    ),
    "Cognito": (
        Cognito,
        {
            "login": ["email"],
            "identity_pool": True,
            "triggers": {"pre_sign_up": {"handler": H, "timeout": 5}},
            "defaults": {"function": FN_DEFAULTS},
        },
        {
            ("login",): LIST,
            ("login", 0): STR,
            ("identity_pool",): BOOL,
            ("triggers",): (NONE, DICT),
            ("triggers", "pre_sign_up"): FUNCTION_VALUE,
            ("triggers", "pre_sign_up", "timeout"): INT,
            ("defaults",): (NONE, DICT),
            **_under(("defaults", "function"), FN_DEFAULT_TYPES),
        },
    ),
    "Table": (Table, {
        "fields": {"user_id": "string", "note_id": "number"},
        "primary_index": {"partition_key": "user_id", "sort_key": "note_id"},
    }, {
        ("fields",): DICT, ("fields", "user_id"): STR, ("fields", "note_id"): STR, ("primary_index",): DICT,
        ("primary_index", "partition_key"): STR, ("primary_index", "sort_key"): (NONE, STR),
    }),
}
TYPED_PATHS = [(kind, path) for kind, (_, _, types) in TYPED.items() for path in types]


@pytest.fixture(scope="module")
def typed_root(root: Path) -> Path:
    """The props' files: a schema, a mapping template and a file to include."""
    (root / "graphql" / "typed.graphql").write_text("type Query { ping: String, notes: [String] }\n"
                                                    "type Mutation { add(x: String): String }\n")
    (root / "graphql" / "req.vtl").write_text('{"version": "2018-05-29"}\n')
    (root / "graphql" / "data.json").write_text("{}\n")
    return root


def replaced(props: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of ``props`` with the item at ``path`` (keys and list indices) set to ``value``."""
    import copy

    out = copy.deepcopy(props)
    node = out
    for part in path[:-1]:
        node = node[part]
    if isinstance(node, tuple):
        raise AssertionError(f"{path}: the baseline props must use lists")
    node[path[-1]] = value
    return out


def kind_of(value: Any) -> str:
    for kind, types in ((BOOL, bool), (INT, int), ("float", float), (STR, str), ("bytes", bytes), (LIST, list | tuple),
                        (DICT, Mapping), ("set", set | frozenset)):
        if isinstance(value, types):
            return kind
    return NONE if value is None else "object"


@st.composite
def wrongly_typed(draw: st.DrawFn) -> tuple[str, tuple[Any, ...], Any]:
    kind, path = draw(st.sampled_from(TYPED_PATHS))
    return kind, path, draw(st.sampled_from(KINDS).flatmap(VALUES.__getitem__))


def test_the_typed_baselines_are_valid(typed_root: Path) -> None:
    """Each construct's full set of props is accepted (so a refusal below is the replaced value's)."""
    for kind, (cls, props, types) in TYPED.items():
        for path in types:  # every path of the type table exists in the props
            replaced(props, path, "probe")
        assert outcome(typed_root, lambda a, c=cls, p=props: c(a, "C", **p)) is None, kind


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(wrongly_typed())
@example(("Function", ("environment",), [""]))
@example(("Function", ("environment",), ["ab"]))
@example(("Function", ("permissions",), "s3"))
@example(("Api", ("routes", "GET /x", "authorizer"), ["l"]))
@example(("Api", ("routes", "GET /x", "authorizer"), {"l": 1}))
@example(("Api", ("authorizers", "l", "type"), ["lambda"]))
@example(("Api", ("authorizers", "l", "type"), {"lambda": True}))
@example(("Api", ("defaults", "function", "environment"), ["ab"]))
@example(("Api", ("routes", "GET /j", "function", "environment"), ["ab"]))
@example(("Api", ("authorizers", "u", "user_pool", "client_ids"), "ab"))
@example(("Api", ("routes",), []))
@example(("Api", ("cors",), {1: "x"}))
@example(("WebSocketApi", ("routes",), ""))
@example(("AppSyncApi", ("authorization", "default"), ["api_key"]))
@example(("AppSyncApi", ("resolvers", "Query notes", "data_source"), ["none"]))
@example(("Cognito", ("triggers", "pre_sign_up", "timeout"), "5"))
def test_every_option_of_the_wrong_type_is_a_config_error(typed_root: Path, config_error_check: Any,
                                                          case: tuple[str, tuple[Any, ...], Any]) -> None:
    kind, path, value = case
    cls, props, types = TYPED[kind]
    accepted = types[path] if isinstance(types[path], tuple) else (types[path],)
    bad = replaced(props, path, value)

    def build(app: App) -> Any:
        return cls(app, "C", **bad)

    error = outcome(typed_root, build)  # any other exception fails the test here
    if kind_of(value) not in accepted:
        assert error is not None, f"{kind} {path}={value!r} ({kind_of(value)}, not one of {accepted}) was accepted"
    if error is not None:
        config_error_check(typed_root, build, (f"{kind} 'C'",))
