"""Test helper: ``sstdirect dev`` run in a thread of the test process, as the CLI runs it."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from sstdirect.cli import _load_apps
from sstdirect.local.dev import run_dev


@contextlib.contextmanager
def dev(app_file: Path, width: int = 200, port: int | None = None) -> Iterator[io.StringIO]:
    """``run_dev(app_file, port)`` in a thread until it prints "Serving"; its console output; stopped on exit."""
    out = io.StringIO()
    console = Console(file=out, width=width)
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_dev(str(app_file), port, console, _load_apps, poll_s=0.1, stop=stop.is_set)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while "Serving" not in out.getvalue() and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
        assert not errors and "Serving" in out.getvalue(), out.getvalue()
        yield out
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
