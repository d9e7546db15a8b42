"""The file through which other commands find a running ``sstdirect dev``: ``.sstdirect/dev.{STEM}.json``
beside the app file (one per app file; ``STEM`` is the file's name without ``.py``).

``sstdirect dev APP.py`` writes it (mode 0600) once its apps are deployed and served, and removes it on exit;
it holds the embedded AWS's endpoint, region and lockfile folder, dev's pid, when it started, and each app's
served loopback URLs. :func:`running_dev` answers it only while that dev is alive: a file whose pid is dead
(a dev killed with SIGKILL) or whose endpoint does not answer as a LocalCloud is stale and ignored (the next
``dev`` replaces it).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DevTarget:
    """A running ``sstdirect dev``'s cloud: what ``--local`` commands deploy into and read from."""

    endpoint_url: str
    region: str
    state_dir: str
    pid: int
    started_at: float
    apps: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "stage", "urls": {construct_id: url}}]

    def served_urls(self, name: str, stage: str) -> dict[str, str]:
        """``{construct_id: loopback URL}`` dev serves for the app ``name`` · ``stage`` ({} if it serves none)."""
        for app in self.apps:
            if app.get("name") == name and app.get("stage") == stage:
                return dict(app.get("urls") or {})
        return {}


def dev_file(app_file: str | os.PathLike[str]) -> Path:
    """Where ``sstdirect dev APP.py`` announces itself: ``.sstdirect/dev.{STEM}.json`` beside ``APP.py``."""
    path = Path(app_file).resolve()
    return path.parent / ".sstdirect" / f"dev.{path.stem}.json"


def write_dev_file(app_file: str | os.PathLike[str], target: DevTarget) -> Path:
    """Write (atomically, mode 0600) the file announcing ``target``, replacing any earlier one; its path."""
    path = dev_file(app_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"endpoint_url": target.endpoint_url, "region": target.region, "state_dir": target.state_dir,
                   "pid": target.pid, "started_at": target.started_at, "apps": target.apps}, f, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def remove_dev_file(app_file: str | os.PathLike[str], pid: int | None = None) -> None:
    """Remove the file if it is ``pid``'s (this process's by default): a later dev's file is left alone."""
    path = dev_file(app_file)
    found = _read(path)
    if found is not None and found.pid == (os.getpid() if pid is None else pid):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def running_dev(app_file: str | os.PathLike[str]) -> DevTarget | None:
    """The running ``sstdirect dev`` of ``app_file``: its file exists, its pid is alive and its endpoint answers
    as a LocalCloud. Else None (no file, or a stale one)."""
    from .cloud import endpoint_credentials

    found = _read(dev_file(app_file))
    if found is None or not pid_alive(found.pid) or endpoint_credentials(found.endpoint_url) is None:
        return None
    return found


def new_target(endpoint_url: str, region: str, state_dir: str, apps: list[dict[str, Any]]) -> DevTarget:
    """This process's :class:`DevTarget`, started now."""
    return DevTarget(endpoint_url, region, state_dir, os.getpid(), time.time(), apps)


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path) -> DevTarget | None:
    try:
        data = json.loads(path.read_text())
        return DevTarget(str(data["endpoint_url"]), str(data["region"]), str(data["state_dir"]), int(data["pid"]),
                         float(data["started_at"]), list(data.get("apps") or []))
    except (OSError, ValueError, KeyError, TypeError):  # none, half-written by hand, or not ours
        return None
