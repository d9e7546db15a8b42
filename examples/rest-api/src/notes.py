"""The notes "database" of the REST API example: an in-memory dict, plus shared HTTP helpers.

Like SST's notes example, the store lives in the Lambda instance's memory: each warm instance has
its own copy, and changes vanish when it is recycled.  Swap it for DynamoDB in a real app.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from typing import Any

_NOW_MS = int(time.time() * 1000)

NOTES: dict[str, dict[str, Any]] = {
    "id1": {
        "noteId": "id1",
        "userId": "user1",
        "createdAt": _NOW_MS,
        "content": "Hello World!",
    },
    "id2": {
        "noteId": "id2",
        "userId": "user2",
        "createdAt": _NOW_MS - 10_000,
        "content": "Hello Old World!",
    },
}

JSON_HEADERS = {"content-type": "application/json"}


def response(status: int, body: Any) -> dict[str, Any]:
    """An API Gateway (payload 2.0) response with a JSON body."""
    return {"statusCode": status, "headers": dict(JSON_HEADERS), "body": json.dumps(body)}


def error(status: int, message: str) -> dict[str, Any]:
    return response(status, {"error": message})


class BadRequest(ValueError):
    """The request body is not what the route expects."""


def json_body(event: dict[str, Any]) -> Any:
    """The decoded JSON body of a payload-2.0 event (base64 bodies included)."""
    raw = event.get("body")
    if raw is None or raw == "":
        raise BadRequest("request body is missing; send JSON like {\"content\": \"...\"}")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRequest("request body is not valid base64-encoded UTF-8") from exc
    try:
        return json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from exc


def note_content(event: dict[str, Any]) -> str:
    """The ``content`` string of a ``{"content": "..."}`` body."""
    data = json_body(event)
    if not isinstance(data, dict) or not isinstance(data.get("content"), str):
        raise BadRequest("request body must be a JSON object with a string \"content\"")
    return data["content"]


def path_id(event: dict[str, Any]) -> str | None:
    """The ``{id}`` path parameter, if any."""
    return (event.get("pathParameters") or {}).get("id")


def user_id(event: dict[str, Any]) -> str:
    """The caller's id from a JWT/Cognito authorizer (``sub``), or ``"anonymous"`` without auth."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    return str(claims.get("sub") or "anonymous")


def new_note(content: str, owner: str) -> dict[str, Any]:
    note = {
        "noteId": uuid.uuid4().hex,
        "userId": owner,
        "createdAt": int(time.time() * 1000),
        "content": content,
    }
    NOTES[note["noteId"]] = note
    return note
