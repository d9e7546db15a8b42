"""The plan: data describing what a deploy will do. It prints (rich) and serializes (JSON)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"

    @property
    def glyph(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}[self.value]

    @property
    def style(self) -> str:
        return {"create": "green", "update": "yellow", "replace": "magenta", "delete": "red"}[self.value]


class ReplaceOrder(StrEnum):
    """How a replacement runs: the new object first, the old one deleted once its users moved to the new
    one; or the old one deleted first, where old and new cannot coexist (a unique name)."""

    CREATE_FIRST = "create_first"
    DELETE_FIRST = "delete_first"


class Cause(StrEnum):
    """Why a change is planned. Its :attr:`text` is the reason a plan prints (empty where the action says it)."""

    NEW = "new"  # create: no record
    GONE = "gone"  # create: recorded, but AWS no longer has it
    INTERRUPTED = "interrupted"  # create: an interrupted create not resolved
    CHANGED = "changed"  # update or replace: fields differ
    TYPE_CHANGED = "type_changed"  # replace: the address now holds another resource type
    REPLACED = "replaced"  # delete: an old object a replacement left (deposed)
    REMOVED = "removed"  # delete: the app no longer declares it

    @property
    def text(self) -> str:
        return _CAUSE_TEXT.get(self, "")


_CAUSE_TEXT = {
    Cause.GONE: "deleted outside sstdirect",
    Cause.INTERRUPTED: "interrupted: adopted if AWS made it, else created",
    Cause.REPLACED: "replaced",
}


@dataclass(frozen=True)
class Change:
    """One planned change. ``before``/``after`` hold the changed fields only (secrets masked); ``cause`` says
    why; ``replace_order``, for a replacement, whether the old object is deleted first (None otherwise)."""

    action: Action
    type: str
    logical_id: str
    changed: tuple[str, ...] = ()
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    cause: Cause = Cause.CHANGED
    replace_order: ReplaceOrder | None = None

    @property
    def address(self) -> str:
        return self.logical_id

    @property
    def reason(self) -> str:
        """The cause as the plan prints it (``""`` when the action says it all)."""
        return self.cause.text

    @property
    def deposed(self) -> bool:
        """Deleting an old object left by a replacement."""
        return self.cause is Cause.REPLACED

    @property
    def key(self) -> str:
        """Unique within a plan (a deposed object shares its address with the live one)."""
        return f"{self.logical_id}#deposed" if self.deposed else self.logical_id

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "type": self.type,
            "logical_id": self.logical_id,
            "changed": list(self.changed),
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "deposed": self.deposed,
            "cause": self.cause.value,
            "replace_order": self.replace_order.value if self.replace_order else None,
        }


@dataclass
class Plan:
    """Ordered changes. ``is_empty`` when AWS already matches the app."""

    changes: list[Change]
    app: str = ""
    stage: str = ""

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        out = {a.value: 0 for a in Action}
        for c in self.changes:
            out[c.action.value] += 1
        return out

    def summary(self) -> str:
        c = self.counts()
        if self.is_empty:
            return "No changes: AWS matches the app."
        return (f"Plan: {c['create']} to create, {c['update']} to update, {c['replace']} to replace, "
                f"{c['delete']} to delete.")

    def to_json(self) -> dict[str, Any]:
        return {"app": self.app, "stage": self.stage, "changes": [c.to_json() for c in self.changes],
                "summary": self.counts()}

    def to_json_str(self) -> str:
        return json.dumps(self.to_json(), indent=2, default=str)

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(title=f"{self.app} · {self.stage}", show_lines=False, expand=False)
        table.add_column("", no_wrap=True)
        table.add_column("type", no_wrap=True)
        table.add_column("resource")
        table.add_column("changes")
        for c in self.changes:
            detail = ", ".join(c.changed) if c.action in (Action.UPDATE, Action.REPLACE) else ""
            if c.reason:
                detail = f"{detail} ({c.reason})" if detail else c.reason
            table.add_row(Text(c.action.glyph, style=c.action.style), c.type, c.logical_id, detail)
        return Group(table, Text(self.summary())) if self.changes else Text(self.summary())

    def __str__(self) -> str:
        from rich.console import Console

        console = Console(width=140, record=True, file=_NullFile(), color_system=None)
        console.print(self)
        return console.export_text()


class _NullFile:
    def write(self, _: str) -> int:
        return 0

    def flush(self) -> None:
        pass
