"""AppSync mapping templates (Velocity, VTL) rendered with ``airspeed`` plus AppSync's ``$util`` and ``$ctx``.

:func:`render` takes a template and the resolver's context dict and returns the rendered text
(AppSync then parses it as JSON). What it runs is AppSync's documented VTL surface
(``resolver-util-reference``, ``resolver-context-reference``):

* ``$ctx`` / ``$context`` with ``arguments`` (``args``), ``identity``, ``source``, ``request``, ``info``,
  ``stash``, ``prev``, ``result`` and ``error``; ``#set``, ``#if``/``#elseif``/``#else``, ``#foreach``,
  ``#macro``, ``#return`` (ends the template with a value, as AppSync's ``#return(data)``).
* ``$util``: ``toJson``, ``parseJson``, ``qr``, ``quiet``, ``error``, ``appendError``, ``unauthorized``,
  ``validate``, ``autoId``, ``autoUlid``, ``escapeJavaScript``, ``urlEncode``/``urlDecode``,
  ``base64Encode``/``base64Decode``, ``isNull``, ``isNullOrEmpty``, ``isNullOrBlank``, ``defaultIfNull``,
  ``defaultIfNullOrEmpty``, ``defaultIfNullOrBlank``, ``isString``, ``isNumber``, ``isBoolean``, ``isList``,
  ``isMap``, ``typeOf``, ``matches``, ``authType``, ``log.info``/``log.error``; ``$util.time`` (ISO 8601 and
  epoch helpers), ``$util.str``, ``$util.math``, ``$util.list``, ``$util.map``, ``$util.dynamodb`` (``toDynamoDB``,
  ``toMapValues``, ``toString``, ``toNumber``, ... and their ``...Json`` forms).
* Java methods on values that templates call (``$map.put``, ``$list.add``, ``$s.toUpperCase()``, ...).

Anything else under ``$util`` (``$util.dynamodb.toS3Object``, ``$util.transform``, ``$util.time.nowFormatted``
with its Java date patterns, ...) raises :class:`Unsupported`, which the executor turns into a GraphQL
error naming the resolver: a template the local AppSync cannot run never renders a silently wrong
answer. References that resolve to nothing render as their own text, as Velocity does (``$util.qr``
exists for that reason).

airspeed is extended in place, once, at import: ``#return`` is registered as a directive, values render
as Java's ``toString`` does (``true``, ``{a=1}``, ``[1, 2]``), ``#foreach`` over a map walks its values
(as Velocity does; ``$map.keySet()`` / ``$map.entrySet()`` give keys / ``key``+``value`` entries), and
the Java methods above are added to
its method table (``put`` returns the previous value, as ``java.util.Map.put`` does). This module is
airspeed's only user in sstdirect.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import time
import unicodedata
import urllib.parse
import uuid
from datetime import UTC, datetime
from typing import Any

import airspeed

_log = logging.getLogger("sstdirect.local.appsync")


class Unsupported(Exception):
    """A template feature the local AppSync cannot run (the message names it)."""


class ResolverError(Exception):
    """A field error with AppSync's extra keys (``errorType``, ``errorInfo``, ``data``): what a field
    resolves to when its template, data source or authorization fails (§7.2)."""

    def __init__(self, message: str, error_type: Any = None, data: Any = None, info: Any = None):
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.data = data
        self.info = info


class TemplateError(ResolverError):
    """``$util.error(...)`` (or a failed ``$util.validate``): the field resolves to this error."""


class RenderError(Exception):
    """The template could not be parsed or evaluated (a syntax error, a failing method call)."""


class _Return(Exception):
    def __init__(self, value: Any):
        super().__init__("#return")
        self.value = value


# --- airspeed extensions ---------------------------------------------------------------------


def java_str(value: Any) -> str:
    """A value as Java's ``String.valueOf`` prints it (Velocity writes references this way)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{java_str(k)}={java_str(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(java_str(v) for v in value) + "]"
    return str(value)


def _formal_reference_evaluate(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    value = None
    if self.expression is not None:
        value = self.expression.calculate(namespace, loader)
    if value is None:
        if self.alternate is not None:
            value = self.alternate.calculate(namespace, loader)
        elif self.silent and self.expression is not None:
            value = ""
        else:
            value = self.my_text()
        stream.write(value if isinstance(value, str) else java_str(value))
        return
    stream.write(java_str(value))


class _ReturnDirective(airspeed._Element):
    """``#return`` or ``#return($value)``: stop rendering; the value (if any) is the template's result."""

    START = re.compile(r"#return\b", re.S)
    OPEN = re.compile(r"\s*\(\s*", re.S)
    CLOSE = re.compile(r"\s*\)", re.S)

    def parse(self) -> None:
        self.identity_match(self.START)
        self.value = None
        if self.optional_match(self.OPEN):
            self.value = self.require_next_element(airspeed.Expression, "expression")
            self.require_match(self.CLOSE, ")")

    def evaluate_raw(self, stream: Any, namespace: Any, loader: Any) -> None:
        raise _Return(None if self.value is None else self.value.calculate(namespace, loader))


class _MapValues:
    """``#foreach($v in $map)`` iterates the map's values in Velocity (airspeed iterates its keys)."""

    def __init__(self, inner: Any):
        self.inner = inner

    def calculate(self, namespace: Any, loader: Any) -> Any:
        value = self.inner.calculate(namespace, loader)
        return list(value.values()) if isinstance(value, dict) else value


_foreach_parse = airspeed.ForeachDirective.parse


def _foreach_parse_values(self: Any) -> None:
    _foreach_parse(self)
    self.value = _MapValues(self.value)


def _map_put(self: dict[Any, Any], key: Any, value: Any) -> Any:
    previous = self.get(key)
    self[key] = value
    return previous


def _list_add(self: list[Any], *args: Any) -> bool:
    if len(args) == 2:
        self.insert(args[0], args[1])
    else:
        self.append(args[0])
    return True


def _remove(self: Any, key: Any) -> Any:
    if isinstance(self, list):
        if isinstance(key, int) and not isinstance(key, bool):
            return self.pop(key)
        if key in self:
            self.remove(key)
            return True
        return False
    return self.pop(key, None)


_JAVA_METHODS: dict[type, dict[str, Any]] = {
    str: {
        "toUpperCase": lambda s: s.upper(), "toLowerCase": lambda s: s.lower(), "trim": lambda s: s.strip(),
        "isEmpty": lambda s: s == "", "endsWith": lambda s, x: s.endswith(x), "indexOf": lambda s, x: s.find(x),
        "lastIndexOf": lambda s, x: s.rfind(x), "equals": lambda s, x: s == x,
        "equalsIgnoreCase": lambda s, x: isinstance(x, str) and s.lower() == x.lower(),
        "substring": lambda s, a, b=None: s[a:b], "charAt": lambda s, i: s[i],
        "replace": lambda s, a, b: s.replace(a, b),
        "split": lambda s, pattern: re.split(pattern, s), "toString": lambda s: s,
        "matches": lambda s, pattern: re.fullmatch(pattern, s) is not None,
    },
    list: {"isEmpty": lambda s: not s, "remove": _remove, "add": _list_add,
           "addAll": lambda s, xs: s.extend(xs) or True,
           "indexOf": lambda s, x: s.index(x) if x in s else -1, "toString": java_str},
    dict: {"put": _map_put, "get": lambda s, k: s.get(k), "containsKey": lambda s, k: k in s,
           "containsValue": lambda s, v: v in s.values(), "remove": _remove, "size": len,
           "keySet": lambda s: list(s.keys()), "values": lambda s: list(s.values()),
           "entrySet": lambda s: [{"key": k, "value": v} for k, v in s.items()], "toString": java_str},
}


def _install() -> None:
    if getattr(airspeed, "_sstdirect_installed", False):
        return
    airspeed.FormalReference.evaluate_raw = _formal_reference_evaluate
    airspeed.ForeachDirective.parse = _foreach_parse_values
    airspeed.UserDefinedDirective.DIRECTIVES = [*airspeed.UserDefinedDirective.DIRECTIVES, _ReturnDirective]
    methods = airspeed.__additional_methods__
    for kind, table in _JAVA_METHODS.items():
        methods.setdefault(kind, {}).update(table)
    airspeed._sstdirect_installed = True


_install()


# --- $util -----------------------------------------------------------------------------------


class _Namespace:
    """A ``$util`` namespace: an unknown member is :class:`Unsupported`, never a literal echo."""

    _path = "$util"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise Unsupported(f"{self._path}.{name} is not supported by the local AppSync")


class _Time(_Namespace):
    _path = "$util.time"

    def nowISO8601(self) -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def nowEpochSeconds(self) -> int:
        return int(time.time())

    def nowEpochMilliSeconds(self) -> int:
        return int(time.time() * 1000)

    def parseISO8601ToEpochMilliSeconds(self, text: str) -> int:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)

    def epochMilliSecondsToSeconds(self, ms: int) -> int:
        return int(ms) // 1000

    def epochMilliSecondsToISO8601(self, ms: int) -> str:
        moment = datetime.fromtimestamp(int(ms) / 1000, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Str(_Namespace):
    _path = "$util.str"

    def toUpper(self, s: str) -> str:
        return s.upper()

    def toLower(self, s: str) -> str:
        return s.lower()

    def toReplace(self, s: str, old: str, new: str) -> str:
        return s.replace(old, new)

    def normalize(self, s: str, form: str) -> str:
        return unicodedata.normalize(form.upper(), s)


class _Math(_Namespace):
    _path = "$util.math"

    def roundNum(self, x: float) -> int:
        return round(x)

    def minVal(self, a: float, b: float) -> float:
        return min(a, b)

    def maxVal(self, a: float, b: float) -> float:
        return max(a, b)

    def randomDouble(self) -> float:
        return secrets.randbelow(10**9) / 10**9

    def randomWithinRange(self, low: int, high: int) -> int:
        return low + secrets.randbelow(high - low + 1)


class _List(_Namespace):
    _path = "$util.list"

    def copyAndRetainAll(self, items: list[Any], keep: list[Any]) -> list[Any]:
        return [x for x in items if x in keep]

    def copyAndRemoveAll(self, items: list[Any], drop: list[Any]) -> list[Any]:
        return [x for x in items if x not in drop]

    def sortList(self, items: list[Any], descending: bool, prop: str) -> list[Any]:
        if any(isinstance(x, dict) for x in items):
            return sorted(items, key=lambda x: (x or {}).get(prop), reverse=bool(descending))
        return sorted(items, reverse=bool(descending))


class _Map(_Namespace):
    _path = "$util.map"

    def copyAndRetainAllKeys(self, m: dict[str, Any], keys: list[str]) -> dict[str, Any]:
        return {k: v for k, v in m.items() if k in keys}

    def copyAndRemoveAllKeys(self, m: dict[str, Any], keys: list[str]) -> dict[str, Any]:
        return {k: v for k, v in m.items() if k not in keys}


def _typed(value: Any) -> dict[str, Any]:
    """A JSON value as a DynamoDB typed value, as ``$util.dynamodb.toDynamoDB`` writes it."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": java_str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list | tuple):
        return {"L": [_typed(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): _typed(v) for k, v in value.items()}}
    raise Unsupported(f"$util.dynamodb of a {type(value).__name__}")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class _DynamoDB(_Namespace):
    """``$util.dynamodb``: values → DynamoDB typed values (the ``...Json`` forms return JSON text)."""

    _path = "$util.dynamodb"

    def toDynamoDB(self, v: Any) -> dict[str, Any]:
        return _typed(v)

    def toDynamoDBJson(self, v: Any) -> str:
        return _json(_typed(v))

    def toString(self, v: str) -> dict[str, Any]:
        return {"S": v}

    def toStringJson(self, v: str) -> str:
        return _json({"S": v})

    def toStringSet(self, v: list[str]) -> dict[str, Any]:
        return {"SS": list(v)}

    def toStringSetJson(self, v: list[str]) -> str:
        return _json({"SS": list(v)})

    def toNumber(self, v: Any) -> dict[str, Any]:
        return {"N": java_str(v)}

    def toNumberJson(self, v: Any) -> str:
        return _json({"N": java_str(v)})

    def toNumberSet(self, v: list[Any]) -> dict[str, Any]:
        return {"NS": [java_str(x) for x in v]}

    def toNumberSetJson(self, v: list[Any]) -> str:
        return _json(self.toNumberSet(v))

    def toBoolean(self, v: bool) -> dict[str, Any]:
        return {"BOOL": bool(v)}

    def toBooleanJson(self, v: bool) -> str:
        return _json({"BOOL": bool(v)})

    def toNull(self) -> dict[str, Any]:
        return {"NULL": True}

    def toNullJson(self) -> str:
        return _json({"NULL": True})

    def toList(self, v: list[Any]) -> dict[str, Any]:
        return _typed(list(v))

    def toListJson(self, v: list[Any]) -> str:
        return _json(_typed(list(v)))

    def toMap(self, v: dict[str, Any]) -> dict[str, Any]:
        return _typed(dict(v))

    def toMapJson(self, v: dict[str, Any]) -> str:
        return _json(_typed(dict(v)))

    def toMapValues(self, v: dict[str, Any]) -> dict[str, Any]:
        return {str(k): _typed(x) for k, x in v.items()}

    def toMapValuesJson(self, v: dict[str, Any]) -> str:
        return _json(self.toMapValues(v))


class _Log(_Namespace):
    _path = "$util.log"

    def info(self, *args: Any) -> str:
        _log.info("%s", " ".join(java_str(a) for a in args))
        return ""

    def error(self, *args: Any) -> str:
        _log.error("%s", " ".join(java_str(a) for a in args))
        return ""


AUTH_TYPE_NAMES = {"API_KEY": "API Key Authorization", "AWS_IAM": "IAM Authorization",
                   "AMAZON_COGNITO_USER_POOLS": "User Pool Authorization",
                   "OPENID_CONNECT": "Open ID Connect Authorization", "AWS_LAMBDA": "Lambda Authorization"}


class Util(_Namespace):
    """``$util`` for one resolver run (``auth_type`` is the request's mode, e.g. ``API_KEY``);
    ``errors`` collects ``$util.appendError`` calls."""

    def __init__(self, auth_type: str, type_name: str, field_name: str):
        self.errors: list[TemplateError] = []
        self._auth_type = auth_type
        self._type_name = type_name
        self._field_name = field_name
        self.time, self.str, self.math = _Time(), _Str(), _Math()
        self.list, self.map, self.log, self.dynamodb = _List(), _Map(), _Log(), _DynamoDB()

    # -- output control and errors --
    def qr(self, *_: Any) -> str:
        return ""

    def quiet(self, *_: Any) -> str:
        return ""

    def error(self, message: Any, error_type: Any = None, data: Any = None, info: Any = None) -> None:
        raise TemplateError(java_str(message), error_type, data, info)

    def appendError(self, message: Any, error_type: Any = None, data: Any = None, info: Any = None) -> str:
        self.errors.append(TemplateError(java_str(message), error_type, data, info))
        return ""

    def unauthorized(self) -> None:
        raise TemplateError(f"Not Authorized to access {self._field_name} on type {self._type_name}", "Unauthorized")

    def validate(self, condition: Any, message: Any, error_type: Any = None, data: Any = None) -> str:
        if not condition:
            raise TemplateError(java_str(message), error_type, data)
        return ""

    # -- JSON and encodings --
    def toJson(self, value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))

    def parseJson(self, text: str) -> Any:
        return json.loads(text)

    def autoId(self) -> str:
        return str(uuid.uuid4())

    def autoUlid(self) -> str:
        alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
        value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
        return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(26)))

    def escapeJavaScript(self, s: str) -> str:
        return json.dumps(s)[1:-1].replace("'", "\\'")

    def urlEncode(self, s: str) -> str:
        return urllib.parse.quote_plus(s)

    def urlDecode(self, s: str) -> str:
        return urllib.parse.unquote_plus(s)

    def base64Encode(self, s: Any) -> str:
        return base64.b64encode(s.encode() if isinstance(s, str) else bytes(s)).decode()

    def base64Decode(self, s: str) -> str:
        return base64.b64decode(s).decode()

    # -- type checks and defaults --
    def isNull(self, v: Any) -> bool:
        return v is None

    def isNullOrEmpty(self, v: Any) -> bool:
        return v is None or v == ""

    def isNullOrBlank(self, v: Any) -> bool:
        return v is None or (isinstance(v, str) and not v.strip())

    def defaultIfNull(self, v: Any, default: Any) -> Any:
        return default if v is None else v

    def defaultIfNullOrEmpty(self, v: Any, default: Any) -> Any:
        return default if self.isNullOrEmpty(v) else v

    def defaultIfNullOrBlank(self, v: Any, default: Any) -> Any:
        return default if self.isNullOrBlank(v) else v

    def isString(self, v: Any) -> bool:
        return isinstance(v, str)

    def isNumber(self, v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    def isBoolean(self, v: Any) -> bool:
        return isinstance(v, bool)

    def isList(self, v: Any) -> bool:
        return isinstance(v, list)

    def isMap(self, v: Any) -> bool:
        return isinstance(v, dict)

    def typeOf(self, v: Any) -> str:
        if v is None:
            return "Null"
        if isinstance(v, bool):
            return "Boolean"
        if isinstance(v, int | float):
            return "Number"
        if isinstance(v, str):
            return "String"
        return "List" if isinstance(v, list) else "Map" if isinstance(v, dict) else "Object"

    def matches(self, pattern: str, s: str) -> bool:
        return re.fullmatch(pattern, s) is not None

    def authType(self) -> str:
        return AUTH_TYPE_NAMES.get(self._auth_type, self._auth_type)


# --- rendering -------------------------------------------------------------------------------

_cache: dict[str, airspeed.Template] = {}


def _compiled(template: str) -> airspeed.Template:
    compiled = _cache.get(template)
    if compiled is None:
        compiled = airspeed.Template(template)
        try:
            compiled.ensure_compiled()
        except airspeed.TemplateSyntaxError as exc:
            raise RenderError(f"syntax error: {exc}") from None
        if len(_cache) > 512:
            _cache.clear()
        _cache[template] = compiled
    return compiled


def _cause(exc: BaseException) -> BaseException:
    while isinstance(exc, airspeed.TemplateExecutionError) and exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


class Rendered:
    """A rendered template: ``text``, or ``returned`` (``#return``: ``value`` skips JSON parsing)."""

    def __init__(self, text: str, returned: bool = False, value: Any = None):
        self.text = text
        self.returned = returned
        self.value = value

    def json(self) -> Any:
        """The value the template produced: the ``#return`` value, or its text parsed as JSON."""
        if self.returned:
            return self.value
        text = self.text.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise RenderError(f"the rendered template is not valid JSON ({exc.msg} at line {exc.lineno}, "
                              f"column {exc.colno}): {text[:200]}") from None


def render(template: str, context: dict[str, Any], util: Util) -> Rendered:
    """Render ``template`` with ``$ctx``/``$context`` = ``context`` and ``$util`` = ``util``.

    Raises :class:`TemplateError` (``$util.error``), :class:`Unsupported` or :class:`RenderError`.
    """
    compiled = _compiled(template)
    output = airspeed.StoppableStream()
    try:
        compiled.merge_to({"ctx": context, "context": context, "util": util, "utils": util}, output)
    except airspeed.TemplateExecutionError as exc:
        cause = _cause(exc)
        if isinstance(cause, _Return):  # `#return` alone returns null, as AppSync's does
            return Rendered(output.getvalue(), returned=True, value=cause.value)
        if isinstance(cause, TemplateError | Unsupported):
            raise cause from None
        raise RenderError(f"{type(cause).__name__}: {cause} (in {exc.element.my_text()!r})") from None
    return Rendered(output.getvalue())
