"""AppSync mapping templates (``sstdirect.local.gateway.vtl``): pure, no AWS, no sockets."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sstdirect.local.gateway.vtl import RenderError, TemplateError, Unsupported, Util, java_str, render


def ctx(**extra: Any) -> dict[str, Any]:
    args = {"id": "n1", "n": 3, "flag": True, "obj": {"a": 1}, "tags": ["x", "y"], "name": "Ada"}
    return {"arguments": args, "args": args, "identity": None, "source": None, "stash": {}, "prev": None,
            "result": None, "error": None, **extra}


def run(template: str, context: dict[str, Any] | None = None, util: Util | None = None) -> str:
    return render(template, context or ctx(), util or Util("API_KEY", "Query", "getNote")).text


@pytest.mark.parametrize(("template", "expected"), [
    ('{"payload": $util.toJson($ctx.args.obj)}', '{"payload": {"a":1}}'),
    ("$context.arguments.id", "n1"),
    ("$ctx.args.flag $ctx.args.obj $ctx.args.tags $ctx.source", "true {a=1} [x, y] $ctx.source"),  # null: literal
    ("#set($x = $ctx.args.n * 2 + 1)$x", "7"),
    ('#if($ctx.args.n > 2 && $ctx.args.id == "n1")big#{else}small#end', "big"),
    ("#foreach($t in $ctx.args.tags)$t#if($foreach.hasNext),#end#end", "x,y"),
    ('$util.qr($ctx.stash.put("k", 5))$ctx.stash.k', "5"),
    ("#set($l = [])$util.qr($l.add(1))$util.qr($l.add(2))$l.size() $l", "2 [1, 2]"),
    ('#set($m = {})$util.qr($m.put("a", 1))$m.containsKey("a") $util.toJson($m)', 'true {"a":1}'),
    ("$ctx.args.name.toUpperCase() $ctx.args.name.length() $ctx.args.name.substring(1, 3)", "ADA 3 da"),
    ("$ctx.args.missing|$!ctx.args.missing|${ctx.args.missing}", "$ctx.args.missing||${ctx.args.missing}"),
    ("$util.defaultIfNull($ctx.args.missing, 'd') $util.isNull($ctx.source) $util.isNullOrBlank('  ')",
     "d true true"),
    ("$util.typeOf($ctx.args.tags) $util.typeOf($ctx.args.n) $util.isMap($ctx.args.obj)", "List Number true"),
    ('$util.matches("n[0-9]", $ctx.args.id) $util.str.toUpper("a") $util.math.maxVal(2, 5)', "true A 5"),
    ("$util.base64Encode('hi') $util.base64Decode('aGk=') $util.urlEncode('a b&c')", "aGk= hi a+b%26c"),
    ('$util.escapeJavaScript("say \\"hi\\"")', 'say \\"hi\\"'),
    ('$util.list.copyAndRemoveAll($ctx.args.tags, ["x"]) $util.map.copyAndRetainAllKeys($ctx.args.obj, ["b"])',
     "[y] {}"),
    ("$util.authType()", "API Key Authorization"),
    ("#macro(twice $v)$v$v#end#twice('ab')", "abab"),
    ("#foreach($v in $ctx.args.obj)$v#end #foreach($k in $ctx.args.obj.keySet())$k#end "
     "#foreach($e in $ctx.args.obj.entrySet())$e.key=$e.value#end", "1 a a=1"),
    ('{"id": $util.dynamodb.toDynamoDBJson($ctx.args.id), "n": $util.dynamodb.toNumberJson($ctx.args.n)}',
     '{"id": {"S":"n1"}, "n": {"N":"3"}}'),
    ("$util.toJson($util.dynamodb.toMapValues($ctx.args.obj)) $util.dynamodb.toDynamoDBJson($ctx.args.tags)",
     '{"a":{"N":"1"}} {"L":[{"S":"x"},{"S":"y"}]}'),
    ("$util.dynamodb.toDynamoDBJson($ctx.source) $util.dynamodb.toStringSetJson($ctx.args.tags)",
     '{"NULL":true} {"SS":["x","y"]}'),
])
def test_templates_render_as_appsync_does(template: str, expected: str) -> None:
    assert run(template) == expected


def test_time_and_ids() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", run("$util.time.nowISO8601()"))
    assert run("$util.time.epochMilliSecondsToISO8601(0)") == "1970-01-01T00:00:00.000Z"
    assert run('$util.time.parseISO8601ToEpochMilliSeconds("1970-01-01T00:00:01Z")') == "1000"
    assert re.fullmatch(r"[0-9a-f-]{36}", run("$util.autoId()"))
    assert re.fullmatch(r"[0-9A-Z]{26}", run("$util.autoUlid()"))


def test_return_ends_the_template_with_its_value() -> None:
    rendered = render("#if($ctx.args.flag)#return($ctx.args.obj)#end never", ctx(), Util("API_KEY", "Q", "f"))
    assert rendered.returned and rendered.value == {"a": 1} and rendered.json() == {"a": 1}
    rendered = render("#return", ctx(), Util("API_KEY", "Q", "f"))
    assert rendered.returned and rendered.value is None
    assert render('{"a": $ctx.args.n}', ctx(), Util("API_KEY", "Q", "f")).json() == {"a": 3}


def test_util_error_validate_unauthorized_and_append_error() -> None:
    with pytest.raises(TemplateError) as info:
        run('$util.error("Bad note", "BadInput", $ctx.args.obj, {"hint": 1})')
    assert (info.value.message, info.value.error_type, info.value.data, info.value.info) == \
        ("Bad note", "BadInput", {"a": 1}, {"hint": 1})
    with pytest.raises(TemplateError, match="too small"):
        run('#set($big = $ctx.args.n > 5)$util.validate($big, "too small")')
    with pytest.raises(TemplateError) as info:
        run("$util.unauthorized()")
    assert (info.value.message, info.value.error_type) == ("Not Authorized to access getNote on type Query",
                                                          "Unauthorized")
    util = Util("API_KEY", "Query", "getNote")
    assert run('$util.appendError("soft", "Warn")ok', util=util) == "ok"
    assert [(e.message, e.error_type) for e in util.errors] == [("soft", "Warn")]


@pytest.mark.parametrize("template", ["$util.dynamodb.toS3ObjectJson('b', 'k', 'r')", '$util.time.nowFormatted("yyyy")',
                                      "$util.transform.toDynamoDBFilterExpression($ctx.args)", "$util.nope()"])
def test_what_the_local_appsync_cannot_run_is_an_error_not_literal_text(template: str) -> None:
    with pytest.raises(Unsupported, match="is not supported by the local AppSync"):
        run(template)


def test_syntax_errors_failing_calls_and_bad_json() -> None:
    with pytest.raises(RenderError, match="syntax error"):
        run("#set($x = )")
    with pytest.raises(RenderError, match="ZeroDivisionError"):
        run("#set($x = 1 / 0)")
    with pytest.raises(RenderError, match="not valid JSON"):
        render('{"a": $ctx.args.missing}', ctx(), Util("API_KEY", "Q", "f")).json()


def test_java_str() -> None:
    assert java_str({"a": [1, None, True]}) == "{a=[1, null, true]}"
    assert json.loads(run("$util.toJson($ctx.args.tags)")) == ["x", "y"]
