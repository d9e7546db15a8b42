"""Live progress of a deploy or remove (rich): resources in flight, done, failed, and retries."""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from .engine.plan import Change

_VERB = {"create": "creating", "update": "updating", "replace": "replacing", "delete": "deleting"}
_DONE = {"create": "created", "update": "updated", "replace": "replaced", "delete": "deleted"}


class Progress:
    """An ``on_event``/``on_retry`` sink. On a terminal: a live view; otherwise one line per event."""

    def __init__(self, console: Console, title: str, total: int = 0):
        self.console = console
        self.title = title
        self.total = total
        self.done = 0
        self.retries = 0
        self.running: dict[str, Change] = {}
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._live: Live | None = None
        self.show_plan = False

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self._live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def _render(self) -> Any:
        head = Spinner("dots", text=Text(f"{self.title}  {self.done}/{self.total} done"
                                         + (f"  · {self.retries} retries" if self.retries else "")
                                         + f"  · {time.monotonic() - self.started:.1f}s"))
        lines = [Text(f"  {_VERB[c.action.value]} {c.type} {c.address}", style=c.action.style)
                 for c in list(self.running.values())[:12]]
        if len(self.running) > 12:
            lines.append(Text(f"  … and {len(self.running) - 12} more"))
        return Group(head, *lines)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def on_plan(self, plan: Any) -> None:
        """Print the plan (when ``show_plan``) and size the progress to it."""
        with self._lock:
            self.total = len(plan.changes)
            if self.show_plan:
                self.console.print(plan)
            self._refresh()

    def on_event(self, kind: str, change: Change, detail: str) -> None:
        with self._lock:
            key = change.key
            if kind == "start":
                self.running[key] = change
            else:
                self.running.pop(key, None)
                if kind == "done":
                    self.done += 1
                    line = Text(f"{change.action.glyph} {_DONE[change.action.value]} {change.type} {change.address}",
                                style=change.action.style)
                else:
                    line = Text(f"✗ failed {change.type} {change.address}: {detail}", style="bold red")
                self.console.print(line)
            self._refresh()

    def on_retry(self, operation: str, code: str, attempt: int) -> None:
        with self._lock:
            self.retries += 1
            self.console.print(Text(f"↻ retrying {operation} after {code} (attempt {attempt + 1})", style="dim"))
            self._refresh()
