"""The notes GraphQL API of SST's AppSync example, as one direct Lambda resolver.

AppSync calls the function with its documented event (``arguments``, ``identity``, ``source``,
``request``, ``info``...) and uses the return value as the field's value. The function serves
every field and dispatches on ``event["info"]["fieldName"]``.

Like SST's example, the store is the Lambda instance's memory: each warm instance has its own
copy, and changes vanish when it is recycled. Swap it for DynamoDB in a real app.
"""

from __future__ import annotations

from typing import Any

NOTES: dict[str, dict[str, Any]] = {}


def list_notes(_: dict[str, Any]) -> list[dict[str, Any]]:
    return list(NOTES.values())


def get_note_by_id(args: dict[str, Any]) -> dict[str, Any] | None:
    return NOTES.get(args["noteId"])


def create_note(args: dict[str, Any]) -> dict[str, Any]:
    note = {"id": args["note"]["id"], "content": args["note"]["content"]}
    NOTES[note["id"]] = note
    return note


def update_note(args: dict[str, Any]) -> dict[str, Any] | None:
    changes = args["note"]
    note = NOTES.get(changes["id"])
    if note is None:
        return None
    if changes.get("content") is not None:
        note["content"] = changes["content"]
    return note


def delete_note(args: dict[str, Any]) -> str | None:
    note = NOTES.pop(args["noteId"], None)
    return None if note is None else args["noteId"]


FIELDS = {
    "listNotes": list_notes,
    "getNoteById": get_note_by_id,
    "createNote": create_note,
    "updateNote": update_note,
    "deleteNote": delete_note,
}


def main(event: dict[str, Any], context: Any = None) -> Any:
    field = event["info"]["fieldName"]
    resolver = FIELDS.get(field)
    if resolver is None:
        raise ValueError(f"no resolver for field {field!r}")
    return resolver(event.get("arguments") or {})
