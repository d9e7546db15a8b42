"""The local file store of a lockfile (:class:`StateFile`): load, save, delete and the process lock.

- all-or-nothing writes after every resource change (:mod:`.files`): a temp file beside the lockfile is
  written in full, fsynced, read back and checked, then renamed over the lockfile and the folder
  fsynced; mode 0600. Any OS error on the way (``ENOSPC``, ``EDQUOT``, ``EFBIG``, ``EROFS``,
  ``EACCES``...) is a :class:`StateError` naming the lockfile, the file being written and the cause, and
  the lockfile keeps its last complete version;
- the previous version is kept as ``<path>.bak`` by a hard link renamed over it (no bytes written, so
  it can never be cut short; a verified copy where the folder takes no hard links); ``serial`` grows
  on every write;
- a lockfile that is a symbolic link is followed consistently: it is resolved once, when the
  :class:`StateFile` is made, and the ``.lock``, ``.bak`` and temp files live beside the target (so
  two links to one lockfile share one lock); the link itself is never replaced;
- a file that cannot be read, or that :mod:`.schema` refuses, raises :class:`StateError` and is never
  overwritten;
- one process at a time: :meth:`StateFile.lock` takes an OS lock (``flock``) on ``<path>.lock``,
  opened without following a symbolic link, released by the OS if the process dies; a second locker
  fails fast with StateLockedError naming the holder (who wrote into the ``.lock`` file).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import json
import os
import re
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import StateError, StateLockedError
from .files import (
    NO_HARD_LINKS,
    atomic_write,
    cause,
    fsync_folder,
    prepared,
    sweep_temp_files,
    temp_name,
    unlink_quietly,
)
from .model import State
from .schema import dumps_state, loads_state


class StateFile:
    """A lockfile on disk: load, lock, save.

    ``path`` is the lockfile as given (messages name it); ``target`` is the file itself: ``path`` with
    every symbolic link resolved, once, here. The ``.lock``, ``.bak`` and temp files live beside
    ``target``, and writes replace ``target``, so a symlinked lockfile keeps its link and two links to
    one lockfile share one lock.

    ``known_types()``: the resource types a record may have (``engine.resource.registered_types``, which
    the App passes), asked on every load; without it any type loads.
    """

    def __init__(self, path: str | os.PathLike[str], known_types: Callable[[], Iterable[str]] | None = None):
        self.path = Path(path)
        self.known_types = known_types
        real = os.path.realpath(self.path)
        self.target = self.path if real == os.path.abspath(self.path) else Path(real)
        self.lock_path = self.target.with_name(self.target.name + ".lock")
        self.bak_path = self.target.with_name(self.target.name + ".bak")
        self._write_lock = threading.Lock()
        self._save_cond = threading.Condition()
        self._save_requested = 0  # save() calls so far
        self._save_written = 0  # every call up to this one is covered by a completed write
        self._save_busy = False

    def _named(self) -> str:
        """The lockfile for messages: its path, and its target when it is a link."""
        return str(self.path) if self.target == self.path else f"{self.path} (a link to {self.target})"

    def exists(self) -> bool:
        return self.target.exists()

    def load(self, *, app: str | None = None, stage: str | None = None, region: str | None = None) -> State:
        """The state in the file, or a fresh one if there is no file. Never writes."""
        if not self.exists():
            if app is None or stage is None or region is None:
                raise StateError(f"no lockfile at {self.path}")
            return State(app=app, stage=stage, region=region)
        data = loads_state(self._read(), self.path, self.bak_path)
        state = State.from_json(data, self.path, None if self.known_types is None else self.known_types())
        for what, want, have in (("app", app, state.app), ("stage", stage, state.stage),
                                 ("region", region, state.region)):
            if want is not None and want != have:
                raise StateError(
                    f"lockfile {self.path} belongs to {what} {have!r}, not {want!r}; it was left untouched. "
                    f"Pass state= (or --state) to use another lockfile for this {what}."
                )
        return state

    def older_than_backup(self, state: State) -> bool:
        """Whether ``.bak`` holds a later version of ``state``'s lineage than ``state`` (the lockfile was put
        back from an older copy: AWS may hold objects it does not record). Reads the head of ``.bak`` only;
        an unreadable or foreign ``.bak`` is not newer."""
        try:
            with open(self.bak_path, "rb") as f:
                head = f.read(4096).decode("utf-8", "replace")
        except OSError:
            return False
        lineage = re.search(r'"lineage":\s*"([^"]*)"', head)
        serial = re.search(r'"serial":\s*(\d+)', head)
        return bool(lineage and serial and lineage.group(1) == state.lineage and int(serial.group(1)) > state.serial)

    def _read(self) -> bytes:
        """The lockfile's bytes; a FIFO, a device or a folder in its place is refused, never read."""
        try:
            fd = os.open(self.target, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise StateError(f"lockfile {self._named()} is not a regular file; it was left untouched.")
                chunks = []
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                return b"".join(chunks)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StateError(f"cannot read lockfile {self._named()}: {cause(exc)}") from None

    def save(self, state: State) -> None:
        """Atomically write ``state`` (serial + 1), keeping the previous file as ``.bak``.

        All or nothing: a write that fails for any reason (a full disk, a quota, a file size limit, a
        read-only folder or file system) raises :class:`StateError` naming the file and the cause, and
        the lockfile and ``.bak`` keep their last complete versions (``state.serial`` has still grown:
        the next successful save only skips a number).

        Returns once a write that began after this call is on disk (so every change made to ``state``
        before the call is durable). Concurrent callers share writes (group commit): while one thread
        writes, the others wait and the next write covers all of them, so N steps finishing together
        cost a few writes, not N fsync'd writes in a row. (One State object per StateFile at a time.)
        A failed write raises in the thread that made it; each caller it was to cover then makes its own
        attempt (and fails the same way while the disk is full).
        """
        with self._save_cond:
            self._save_requested += 1
            ticket = self._save_requested
            while self._save_written < ticket and self._save_busy:
                self._save_cond.wait()
            if self._save_written >= ticket:
                return
            self._save_busy = True
            covers = self._save_requested
        written = False
        try:
            with self._write_lock:
                with state.lock:
                    state.serial += 1
                    blob = dumps_state(state.to_json())
                try:
                    self.target.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StateError(self._write_error(self.target.parent, exc)) from None
                # The new version first, complete and verified; only then does the old one become the .bak
                # and the new one replace it. A failure up to the .bak leaves both files as they were; one at
                # the rename leaves the lockfile as it was and .bak a link to it: complete versions, always.
                tmp = self._prepare(self.target, blob)
                try:
                    if self.target.exists():
                        self._keep_backup()
                    os.replace(tmp, self.target)
                    fsync_folder(self.target.parent)
                except OSError as exc:
                    raise StateError(self._write_error(self.target, exc)) from None
                finally:
                    unlink_quietly(tmp)
                self._sweep_temp_files()
            written = True
        finally:
            with self._save_cond:
                self._save_busy = False
                if written:
                    self._save_written = max(self._save_written, covers)
                self._save_cond.notify_all()

    def delete(self) -> None:
        """Remove the lockfile (after a complete remove), keeping it as the last ``.bak`` (a rename: it
        needs no free space and cannot be cut short)."""
        with self._write_lock:
            if self.target.exists():
                try:
                    os.replace(self.target, self.bak_path)
                    fsync_folder(self.target.parent)
                except OSError as exc:
                    raise StateError(self._write_error(self.bak_path, exc)) from None

    def _sweep_temp_files(self) -> None:
        """Remove the temp files an earlier failed write could not (its folder was read-only or immutable
        by then): this process's (its writes take turns under ``_write_lock``) and dead processes'."""
        sweep_temp_files(self.target.parent, (self.target.name, self.bak_path.name))

    def _keep_backup(self) -> None:
        """Make ``.bak`` the current lockfile: a hard link to it, renamed over the old ``.bak`` (atomic,
        no bytes written); where the folder takes no hard links, a verified copy (:meth:`_write`)."""
        tmp = temp_name(self.bak_path)
        try:
            unlink_quietly(tmp)
            os.link(self.target, tmp)
            os.chmod(tmp, 0o600)  # the lockfile's own inode: it is replaced next anyway
            os.replace(tmp, self.bak_path)
        except OSError as exc:
            unlink_quietly(tmp)
            if exc.errno not in NO_HARD_LINKS:
                raise StateError(self._write_error(self.bak_path, exc)) from None
            self._write(self.bak_path, self._read(), sync_folder=False)

    def _prepare(self, path: Path, data: bytes) -> Path:
        """The temp file of ``path``, holding ``data`` complete and verified (see :func:`.files.prepared`)."""
        try:
            return prepared(path, data)
        except OSError as exc:
            raise StateError(self._write_error(path, exc)) from None

    def _write(self, path: Path, data: bytes, *, sync_folder: bool = True) -> None:
        try:
            atomic_write(path, data, sync_folder=sync_folder)
        except OSError as exc:
            raise StateError(self._write_error(path, exc)) from None

    def _write_error(self, path: Path, exc: OSError) -> str:
        where = "" if path == self.target else f" ({path})"
        return (
            f"cannot write lockfile {self._named()}{where}: {cause(exc)}. The lockfile and its .bak keep "
            f"their last complete version and sstdirect stops here; free some space (or quota), or make "
            f"{path.parent} writable, then run again: the next deploy continues from the lockfile."
        )

    @contextlib.contextmanager
    def lock(self, operation: str) -> Iterator[None]:
        """Hold the OS lock for ``operation``; StateLockedError at once if another process has it.

        The ``.lock`` file is opened without following a symbolic link (it is truncated: a link would
        cut whatever it points to) and must be a regular file; either problem, or a folder where it
        cannot be made, is a StateError naming it.
        """
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StateError(
                    f"the lock file {self.lock_path} of lockfile {self._named()} is a symbolic link; sstdirect "
                    f"never follows one there (it truncates its lock file). Remove the link and run again."
                ) from None
            raise StateError(f"cannot open the lock file {self.lock_path} of lockfile {self._named()}: "
                             f"{cause(exc)}; nothing was changed.") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StateError(f"the lock file {self.lock_path} of lockfile {self._named()} is not a regular "
                                 f"file; remove it and run again.")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _await_holder(fd)
                who = ", ".join(f"{k} {v}" for k, v in holder.items()) or "unknown process"
                raise StateLockedError(
                    f"lockfile {self.path} is locked by another sstdirect process ({who}); "
                    f"wait for it to finish.",
                    holder,
                ) from None
            record = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "user": _user(),
                "operation": operation,
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            with contextlib.suppress(OSError):  # who holds it is advice for others; a full disk is not fatal here
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(record).encode(), 0)
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)



def _await_holder(fd: int, patience_s: float = 0.5) -> dict[str, Any]:
    """The lock holder's record. A holder writes it just after it takes the lock, so a process refused
    in between reads an empty file: it reads again, briefly, rather than name an "unknown process"."""
    deadline = time.monotonic() + patience_s
    while not (holder := _read_holder(fd)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return holder


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        raw = os.pread(fd, 4096, 0)
        data = json.loads(raw) if raw.strip() else {}
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "?"

