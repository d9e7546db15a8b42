"""``sstdirect logs APP.py [CONSTRUCT or ROUTE] [--follow] [--since 10m] [--filter TEXT]``: an app's logs read
through CloudWatch Logs (``FilterLogEvents``), the same way from AWS and from the embedded one.

Which log groups (:func:`log_groups`): with no target, every function's (``/aws/lambda/{name}``) and every API
stage's access log (its ``AccessLogSettings.DestinationArn``, read from the deployed stage); a Function's or a
route's construct id → its function's; an API's construct id → its access log and its routes' functions; a
route key (``"GET /notes"``, ``"$connect"``) → that route's function, in every API that has it.
:func:`function_targets` is that resolution for functions alone (``sstdirect invoke`` uses it too).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError
from .routekey import RouteKey

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 60, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
API_KINDS = ("http", "websocket")


@dataclass(frozen=True)
class LogGroup:
    label: str  # what the output shows: the construct id (of the function or the API)
    name: str


@dataclass(frozen=True)
class LogEvent:
    group: LogGroup
    stream: str
    timestamp_ms: int
    message: str
    event_id: str


def parse_since(value: str) -> float:
    """``10m`` / ``2h`` / ``30s`` / ``1d`` / ``1w`` (a bare number is minutes) → seconds."""
    match = _DURATION.match(value or "")
    if match is None:
        raise ConfigError(f"--since {value!r} is not a duration; use e.g. 30s, 10m, 2h or 1d")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def _function_group(fn: Any, ctx: Any) -> LogGroup:
    return LogGroup(fn.construct_id, f"/aws/lambda/{fn.physical_name(ctx)}")


def _access_group(api: Any, apigw: Any, outputs: dict[str, dict[str, Any]]) -> LogGroup | None:
    """The access-log group of ``api``'s deployed stage (its id from the lockfile's ``outputs``; None when not
    deployed or not logging)."""
    api_id = (outputs.get(api.construct_id) or {}).get("id")
    if not isinstance(api_id, str):
        return None
    for stage in apigw.get_stages(ApiId=api_id).get("Items", []):
        arn = (stage.get("AccessLogSettings") or {}).get("DestinationArn")
        if arn:
            return LogGroup(api.construct_id, arn.split(":log-group:", 1)[-1].removesuffix(":*"))
    return None


def _api_functions(api: Any) -> list[Any]:
    return [api.get_function(key) for key in api.routes]


@dataclass(frozen=True)
class FunctionTarget:
    """A function a target names; ``api`` and ``route`` (its normalized key) when named by a route key."""

    function: Any
    api: Any = None
    route: str | None = None


def function_targets(app: Any, target: str) -> list[FunctionTarget]:
    """The functions ``target`` names: a Function construct id or its address → that function; a route key →
    that route's function in every API (HTTP or WebSocket) that has it. Empty when it names none."""
    out = [FunctionTarget(c) for c in app.constructs
           if getattr(c, "served_as", None) == "function" and target in (c.construct_id, c.function_address)]
    for api in (c for c in app.constructs if getattr(c, "served_as", None) in API_KINDS):
        try:
            fn = api.get_function(target)
        except ConfigError:
            continue
        key = RouteKey.parse(target).key if api.served_as == "http" else target  # as the API normalized it
        out.append(FunctionTarget(fn, api, key))
    return out


def target_choices(app: Any) -> list[str]:
    """What a target may name: the API and Function construct ids, then the route keys."""
    apis = [c for c in app.constructs if getattr(c, "served_as", None) in API_KINDS]
    functions = [c for c in app.constructs if getattr(c, "served_as", None) == "function"]
    return [c.construct_id for c in [*apis, *functions]] + [k for api in apis for k in api.routes]


def log_groups(app: Any, target: str | None, apigw: Callable[[], Any]) -> list[LogGroup]:
    """The log groups of ``app`` that ``target`` names (see the module docstring); ConfigError when none."""
    ctx = app.expand_context()
    apis = [c for c in app.constructs if getattr(c, "served_as", None) in API_KINDS]
    functions = [c for c in app.constructs if getattr(c, "served_as", None) == "function"]
    outputs = app.outputs if apis else {}
    out: list[LogGroup] = []
    if target is None:
        out = [_function_group(fn, ctx) for fn in functions]
        out += [g for g in (_access_group(api, apigw(), outputs) for api in apis) if g is not None]
    else:
        out = [_function_group(t.function, ctx) for t in function_targets(app, target)]
        for api in apis:
            if api.construct_id == target:
                group = _access_group(api, apigw(), outputs)
                out += [group] if group is not None else []
                out += [_function_group(fn, ctx) for fn in _api_functions(api)]
    unique = list(dict.fromkeys(out))
    if not unique:
        raise ConfigError(f"{app.name}: no construct or route {target!r}; try one of: "
                          f"{', '.join(target_choices(app))}"
                          if target else f"{app.name} has no function or API to read logs of")
    return unique


def filter_pattern(text: str | None) -> str | None:
    """``--filter TEXT`` as a CloudWatch Logs filter pattern: the exact phrase (case-sensitive)."""
    if not text:
        return None
    return '"' + text.replace('"', "") + '"'


def read(logs: Any, groups: list[LogGroup], start_ms: int, pattern: str | None) -> list[LogEvent]:
    """Every event of ``groups`` at or after ``start_ms`` matching ``pattern``, in time order (a group that does not
    exist yet has none)."""
    out: list[LogEvent] = []
    for group in groups:
        kwargs: dict[str, Any] = {"logGroupName": group.name, "startTime": start_ms}
        if pattern:
            kwargs["filterPattern"] = pattern
        try:
            for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
                out += [LogEvent(group, e.get("logStreamName", ""), int(e["timestamp"]), e.get("message", ""),
                                 e.get("eventId") or f"{e.get('logStreamName')}:{e['timestamp']}:{e.get('message')}")
                        for e in page.get("events", [])]
        except logs.exceptions.ResourceNotFoundException:
            continue
    return sorted(out, key=lambda e: e.timestamp_ms)


def stream(logs: Any, groups: list[LogGroup], since_s: float, pattern: str | None, follow: bool,
           poll_s: float = 1.0, stop: Callable[[], bool] = lambda: False) -> Iterator[LogEvent]:
    """The events since ``since_s`` ago; with ``follow``, then every new one as it arrives, until ``stop()``."""
    start = int((time.time() - since_s) * 1000)
    seen: set[str] = set()
    while True:
        for event in read(logs, groups, start, pattern):
            if event.event_id not in seen:
                seen.add(event.event_id)
                start = max(start, event.timestamp_ms)
                yield event
        if not follow or stop():
            return
        time.sleep(poll_s)


def line(event: LogEvent) -> str:
    """``2026-12-08T01:12:27.123Z notes-list  START RequestId: ...`` (the message without its newline)."""
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event.timestamp_ms / 1000))
    return f"{when}.{event.timestamp_ms % 1000:03d}Z {event.group.label}  {event.message.rstrip()}"
