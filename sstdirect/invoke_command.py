"""``sstdirect invoke APP.py FUNCTION|ROUTE [--event FILE | --payload JSON] [--sample]``: run one of the app's
deployed functions through Lambda ``Invoke`` (``RequestResponse``, ``LogType=Tail``), on AWS or the embedded AWS.

* **Which function** (:func:`resolve`): what :func:`sstdirect.logs_command.function_targets` resolves (a Function
  construct id or address, or a route key of an Api / WebSocketApi), exactly one, deployed (in the lockfile).
* **Which event** (:func:`event_for`): ``--event FILE`` (JSON) or ``--payload JSON``; neither → for a route, the
  sample event its integration would send (:func:`sample_event`, as ``sam local generate-event`` does), for a
  function ``{}``.
* **What it answers** (:func:`invoke`): Lambda's status, the payload (JSON-decoded when it is JSON), the
  ``FunctionError`` (``Unhandled`` …) and the decoded log tail (the last 4 KB).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, SstDirectError
from .logs_command import FunctionTarget, function_targets, target_choices
from .routekey import GREEDY, LITERAL, RouteKey

SAMPLE_ACCOUNT = "123456789012"  # the event's accountId when the sample is built without asking AWS
SAMPLE_API_ID = "sample0api"  # the apiId of a sample for an API not deployed yet (10 chars, as real ids)
SAMPLE_BODY_METHODS = ("POST", "PUT", "PATCH")


def resolve(app: Any, target: str) -> FunctionTarget:
    """The one function ``target`` names; ConfigError (before any AWS call) when it names none or several."""
    found = function_targets(app, target)
    if not found:
        raise ConfigError(f"{app.name}: no function or route {target!r}; try one of: "
                          f"{', '.join(c for c in target_choices(app) if _is_function_choice(app, c))}")
    if len(found) > 1:
        raise ConfigError(f"{app.name}: {target!r} names {len(found)} functions (a route of "
                          f"{', '.join(t.api.construct_id for t in found if t.api is not None)}); "
                          f"name the route's function instead: {', '.join(t.function.construct_id for t in found)}")
    return found[0]


def _is_function_choice(app: Any, choice: str) -> bool:
    return bool(function_targets(app, choice))


def function_name(app: Any, target: FunctionTarget) -> str:
    """The deployed function's name, from the lockfile; ConfigError when the app has not deployed it."""
    record = app.recorded(target.function.function_address)
    if record is None:
        raise ConfigError(f"{target.function.label} is not deployed for {app.name} · {app.stage}: run "
                          f"`sstdirect deploy` first (or pass --local)")
    return target.function.physical_name(app.expand_context())


def _sample_path(key: RouteKey) -> tuple[str, dict[str, str]]:
    """A request path matching ``key`` (each ``{var}`` filled with its name, ``{proxy+}`` with
    ``sample/path``) and the path parameters it gives."""
    parts: list[str] = []
    params: dict[str, str] = {}
    for kind, text in key.segments:
        value = text if kind == LITERAL else ("sample/path" if kind == GREEDY else text)
        if kind != LITERAL:
            params[text] = value
        parts.append(value)
    return "/" + "/".join(parts), params


def sample_event(app: Any, target: FunctionTarget) -> dict[str, Any]:
    """The event ``target``'s route would get from its API, built by the local gateway's event builders: payload
    2.0 or 1.0 (the route's ``payload_format_version``) for an HTTP API route, the ``$connect`` / MESSAGE /
    ``$disconnect`` event for a WebSocket route; ``{}`` for a function named directly. The API id is the deployed
    one from the lockfile when there is one (else :data:`SAMPLE_API_ID`)."""
    if target.api is None or target.route is None:
        return {}
    api_id = (app.outputs.get(target.api.construct_id) or {}).get("id") or SAMPLE_API_ID
    if target.api.served_as == "websocket":
        return _websocket_sample(app, target, api_id)
    from .local.gateway.events import Context, event_v1, event_v2
    from .local.gateway.messages import HttpRequest
    from .local.gateway.routing import Match, compile_route

    route = compile_route(target.route)
    method = route.method if route.method not in ("", "ANY") else "GET"
    path, params = ("/", {}) if route.is_default else _sample_path(route.parsed)
    headers = [("accept", "*/*"), ("user-agent", "sstdirect-invoke")]
    body = b""
    if method in SAMPLE_BODY_METHODS:
        body = b'{"sample": true}'
        headers.append(("content-type", "application/json"))
    request = HttpRequest(method, path, "", headers, body)
    ctx = Context(api_id=api_id, region=app.region, account_id=SAMPLE_ACCOUNT,
                  match=Match(route, params))
    build = event_v1 if target.api.payload_format_version(target.route) == "1.0" else event_v2
    return build(request, ctx)


def _websocket_sample(app: Any, target: FunctionTarget, api_id: str) -> dict[str, Any]:
    from .local.gateway import websocket as ws

    config = ws.WsApiConfig(api_id=api_id, stage=target.api.stage_name, region=app.region, account_id=SAMPLE_ACCOUNT)
    conn = ws.Connection(ws.new_connection_id(), "127.0.0.1", "sstdirect-invoke")
    if target.route == "$connect":
        return ws.connect_event(config, conn, [("User-Agent", "sstdirect-invoke")], [])
    if target.route == "$disconnect":
        return ws.disconnect_event(config, conn, 1000, "")
    body = json.dumps({"action": target.route} if target.route != "$default" else {"sample": True})
    return ws.message_event(config, conn, target.route, body)


def event_for(app: Any, target: FunctionTarget, event_file: str | None, payload: str | None) -> Any:
    """The event to send: ``--event FILE``'s JSON, ``--payload``'s, or the sample (ConfigError on bad JSON)."""
    if event_file is not None and payload is not None:
        raise ConfigError("pass --event FILE or --payload JSON, not both")
    if event_file is not None:
        file = Path(event_file)
        if not file.is_file():
            raise ConfigError(f"--event {event_file}: no such file")
        text, where = file.read_text(), f"--event {event_file}"
    elif payload is not None:
        text, where = payload, "--payload"
    else:
        return sample_event(app, target)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where} is not JSON: {exc}") from None


class FunctionFailed(SstDirectError):
    """The function answered with a ``FunctionError`` (exit 1); its error payload has been printed."""


@dataclass(frozen=True)
class InvokeResult:
    status: int
    payload: Any  # the decoded JSON, or the text when it is not JSON
    function_error: str | None
    log_tail: str

    def failure(self, label: str) -> FunctionFailed | None:
        """The error to end with when the function failed, else None."""
        if not self.function_error:
            return None
        detail = self.payload if isinstance(self.payload, dict) else {}
        what = ": ".join(str(detail[k]) for k in ("errorType", "errorMessage") if detail.get(k)) or str(self.payload)
        return FunctionFailed(f"{label} failed ({self.function_error}): {what}")

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "payload": self.payload, "function_error": self.function_error,
                "log_tail": self.log_tail}


def invoke(lambda_client: Any, name: str, event: Any) -> InvokeResult:
    """``Invoke`` ``name`` with ``event`` (RequestResponse, ``LogType=Tail``)."""
    response = lambda_client.invoke(FunctionName=name, InvocationType="RequestResponse", LogType="Tail",
                                    Payload=json.dumps(event).encode())
    raw = response["Payload"].read().decode("utf-8", "replace")
    try:
        payload: Any = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        payload = raw
    tail = base64.b64decode(response.get("LogResult") or "").decode("utf-8", "replace")
    return InvokeResult(int(response.get("StatusCode", 0)), payload, response.get("FunctionError"), tail)
