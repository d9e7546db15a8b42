"""The GraphQL server of the example: notes kept in the Lambda instance's memory (as SST's notes
example does: each warm instance has its own copy; use DynamoDB in a real app)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sstdirect.graphql import make_handler

SCHEMA = """
type Note {
  id: ID!
  content: String!
  createdAt: Float!
}

type Query {
  listNotes: [Note!]!
  getNoteById(id: ID!): Note
  "The caller's IP address, from the API Gateway event."
  whoami: String
}

type Mutation {
  createNote(content: String!): Note!
  updateNote(id: ID!, content: String!): Note
  deleteNote(id: ID!): Boolean!
}
"""

NOTES: dict[str, dict[str, Any]] = {}


def list_notes(obj: Any, info: Any) -> list[dict[str, Any]]:
    return sorted(NOTES.values(), key=lambda n: n["createdAt"])


def get_note(obj: Any, info: Any, id: str) -> dict[str, Any] | None:
    return NOTES.get(id)


def whoami(obj: Any, info: Any) -> str | None:
    event = info.context["event"]
    return ((event.get("requestContext") or {}).get("http") or {}).get("sourceIp")


def create_note(obj: Any, info: Any, content: str) -> dict[str, Any]:
    if not content.strip():
        raise ValueError("content must not be empty")
    note = {"id": uuid.uuid4().hex, "content": content, "createdAt": time.time()}
    NOTES[note["id"]] = note
    return note


def update_note(obj: Any, info: Any, id: str, content: str) -> dict[str, Any] | None:
    note = NOTES.get(id)
    if note is not None:
        note["content"] = content
    return note


def delete_note(obj: Any, info: Any, id: str) -> bool:
    return NOTES.pop(id, None) is not None


handler = make_handler(SCHEMA, {
    "Query": {"listNotes": list_notes, "getNoteById": get_note, "whoami": whoami},
    "Mutation": {"createNote": create_note, "updateNote": update_note, "deleteNote": delete_note},
})
