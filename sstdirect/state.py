"""The lockfile: what sstdirect made, where, and what it was asked for.

Format (JSON)::

    {"schema_version": 1, "lineage": "<uuid>", "serial": 7, "secret_salt": "<32 hex>",
     "app": "notes", "stage": "dev", "region": "us-east-1", "account": "123456789012",
     "resources": {"<address>": {"type", "status", "physical_id", "attrs", "props",
                                  "props_hash", "depends_on", "deposed": [...]}},
     "outputs": {"<construct id>": {"url": ...}}}

Guarantees:

- all-or-nothing writes after every resource change: a temp file beside the lockfile is written in
  full (a short write is retried until done), fsynced, read back and checked (same size, same bytes,
  parses as JSON), then renamed over the lockfile and the folder fsynced; mode 0600. Any OS error on
  the way (``ENOSPC``, ``EDQUOT``, ``EFBIG``, ``EROFS``, ``EACCES``...) is a :class:`StateError` naming
  the lockfile, the file being written and the cause, and the lockfile keeps its last complete version;
- the previous version is kept as ``<path>.bak`` by a hard link renamed over it (no bytes written, so
  it can never be cut short; a verified copy where the folder takes no hard links); ``serial`` grows
  on every write;
- a lockfile that is a symbolic link is followed consistently: it is resolved once, when the
  :class:`StateFile` is made, and the ``.lock``, ``.bak`` and temp files live beside the target (so
  two links to one lockfile share one lock); the link itself is never replaced;
- a file that cannot be read, that belongs to another app, stage or region, or that does not have
  the lockfile's shape (a ``schema_version`` this version does not write, an unknown resource type, a
  field of the wrong JSON type, nesting deeper than :data:`MAX_DEPTH`) raises :class:`StateError`
  naming the file and what is wrong, and is never overwritten;
- ``status == "creating"`` is the intent record written before a create, so an interrupted deploy
  can find the half-made resource again; ``deposed`` lists replaced objects still to delete;
- one process at a time: :meth:`StateFile.lock` takes an OS lock (``flock``) on ``<path>.lock``,
  opened without following a symbolic link, released by the OS if the process dies; a second locker
  fails fast with StateLockedError naming the holder;
- no secrets: secret fields are recorded only as a salted, slow hash (scrypt, with the lockfile's own
  random ``secret_salt``; see :mod:`sstdirect.engine.secrets` and ``Provider.secret_fields``).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import getpass
import glob
import json
import os
import re
import secrets
import socket
import stat
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import StateError, StateLockedError

SCHEMA_VERSION = 1
#: Every schema_version a lockfile has ever been written with. Only 1 so far; a later version that
#: changes the format lists the older ones here and migrates them in :meth:`State.from_json`.
READABLE_SCHEMA_VERSIONS = frozenset({1})
STATUSES = ("created", "creating", "deleting")
#: Deeper JSON than this is refused on load: the planner walks props recursively, and Python's
#: recursion limit (~1000) must never be reached. Real lockfiles nest ~10 levels (IAM conditions).
MAX_DEPTH = 100


def new_salt() -> str:
    """A fresh random salt (hex) for a new lockfile's secret hashes (see :mod:`sstdirect.engine.secrets`)."""
    return secrets.token_hex(16)


@dataclass
class Record:
    """One resource as the lockfile knows it."""

    type: str
    address: str
    status: str = "created"
    physical_id: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    props: dict[str, Any] = field(default_factory=dict)
    props_hash: str = ""
    depends_on: list[str] = field(default_factory=list)
    deposed: list[Record] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The lockfile form (``address`` is the key it is stored under; a deposed object keeps its own).
        Not a copy: dump it before the record changes again."""
        return {"type": self.type, "status": self.status, "physical_id": self.physical_id, "attrs": self.attrs,
                "props": self.props, "props_hash": self.props_hash, "depends_on": self.depends_on,
                "deposed": [d.to_json() | {"address": d.address} for d in self.deposed]}

    @classmethod
    def from_json(cls, address: str, data: dict[str, Any]) -> Record:
        deposed = [cls.from_json(d.get("address", address), d) for d in data.get("deposed", [])]
        return cls(
            type=data["type"],
            address=address,
            status=data.get("status", "created"),
            physical_id=data.get("physical_id"),
            attrs=dict(data.get("attrs") or {}),
            props=dict(data.get("props") or {}),
            props_hash=data.get("props_hash", ""),
            depends_on=list(data.get("depends_on") or []),
            deposed=deposed,
        )


def held_ids(records: Iterable[Record]) -> dict[str, set[str]]:
    """The physical ids ``records`` hold (their deposed old objects included), by resource type: objects
    that a lookup for another address must never adopt."""
    held: dict[str, set[str]] = defaultdict(set)
    for rec in records:
        held[rec.type].update(o.physical_id for o in [rec, *rec.deposed] if o.physical_id)
    return held


@dataclass
class State:
    """The in-memory lockfile. Mutated only through the executor, under ``lock``."""

    app: str
    stage: str
    region: str
    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    account: str | None = None
    resources: dict[str, Record] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    secret_salt: str = field(default_factory=new_salt)  # for secret fields' hashes; a lockfile without one gets one
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "lineage": self.lineage,
            "serial": self.serial,
            "app": self.app,
            "stage": self.stage,
            "region": self.region,
            "account": self.account,
            "secret_salt": self.secret_salt,
            "resources": {a: r.to_json() for a, r in sorted(self.resources.items())},
            "outputs": self.outputs,
        }

    @classmethod
    def from_json(cls, data: Any, path: Path, known_types: Iterable[str] | None = None) -> State:
        """Validate and load; any problem is a StateError (the caller leaves the file alone). A record whose
        type is not in ``known_types`` is one (when given: this module knows no resource type itself)."""

        def bad(why: str) -> StateError:
            return StateError(
                f"lockfile {path} {why}; it was left untouched. Restore {path}.bak or fix the file by hand, "
                f"or rebuild it from AWS."
            )

        if not isinstance(data, dict):
            raise bad("does not hold a JSON object")
        if _too_deep(data, MAX_DEPTH):
            raise bad(f"nests JSON deeper than {MAX_DEPTH} levels (sstdirect never writes that)")
        version = data.get("schema_version")
        if version is None:
            raise bad("has no schema_version")
        if not _is_int(version):
            raise bad(f"has a malformed 'schema_version' ({_kind(version)}, not a whole number)")
        if version > SCHEMA_VERSION:
            raise StateError(
                f"lockfile {path} has schema_version {version}, written by a newer sstdirect "
                f"(this one reads up to {SCHEMA_VERSION}); upgrade sstdirect. The file was left untouched."
            )
        if version not in READABLE_SCHEMA_VERSIONS:
            raise bad(f"has schema_version {version}, which no sstdirect writes "
                      f"(this one writes {SCHEMA_VERSION})")
        for key, kind in (("lineage", str), ("serial", int), ("app", str), ("stage", str), ("region", str),
                          ("resources", dict), ("outputs", dict)):
            value = data.get(key)
            if not isinstance(value, kind) or isinstance(value, bool) or value == "":
                raise bad(f"has a missing or malformed {key!r}")
        if data["serial"] < 0:
            raise bad("has a missing or malformed 'serial' (negative)")
        if not isinstance(data.get("account"), str | None):
            raise bad(f"has a malformed 'account' ({_kind(data['account'])}, not a string)")
        for construct_id, values in data["outputs"].items():
            if not isinstance(values, dict):
                raise bad(f"has a malformed output {construct_id!r} ({_kind(values)}, not an object)")
        salt = data.get("secret_salt")
        if salt is not None and not (isinstance(salt, str) and len(salt) >= 16 and _is_hex(salt)):
            raise bad("has a malformed 'secret_salt'")
        known = None if known_types is None else frozenset(known_types)
        resources: dict[str, Record] = {}
        for address, raw in data["resources"].items():
            if isinstance(raw, dict) and raw.get("status", "created") not in STATUSES:
                raise bad(f"has resource {address!r} with unknown status {raw.get('status')!r}")
            problem = _record_problem(raw, known)
            if problem:
                raise bad(f"has a malformed resource {address!r}: {problem}")
            resources[address] = Record.from_json(address, raw)
        return cls(
            app=data["app"],
            stage=data["stage"],
            region=data["region"],
            lineage=data["lineage"],
            serial=data["serial"],
            account=data.get("account"),
            resources=resources,
            outputs=data["outputs"],
            **({"secret_salt": salt} if salt is not None else {}),  # an older lockfile gets a fresh salt
        )


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
        raw = self._read()
        if not raw.strip():
            raise StateError(
                f"lockfile {self.path} is empty; it was left untouched. Restore {self.bak_path} "
                f"or delete the empty file if nothing was ever deployed."
            )
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StateError(
                f"lockfile {self.path} is not valid JSON ({exc}); it was left untouched. "
                f"Restore {self.bak_path} or fix the file by hand."
            ) from None
        except RecursionError:
            raise StateError(
                f"lockfile {self.path} nests JSON deeper than Python's parser can follow (sstdirect never "
                f"writes that); it was left untouched. Restore {self.bak_path} or fix the file by hand."
            ) from None
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
            raise StateError(f"cannot read lockfile {self._named()}: {_cause(exc)}") from None

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
                    _fsync_folder(self.target.parent)
                except OSError as exc:
                    raise StateError(self._write_error(self.target, exc)) from None
                finally:
                    _unlink_quietly(tmp)
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
                    _fsync_folder(self.target.parent)
                except OSError as exc:
                    raise StateError(self._write_error(self.bak_path, exc)) from None

    def _sweep_temp_files(self) -> None:
        """Remove the temp files an earlier failed write could not (its folder was read-only or immutable
        by then): this process's (its writes take turns under ``_write_lock``) and dead processes'."""
        for name in (self.target.name, self.bak_path.name):
            for path in self.target.parent.glob(f".{glob.escape(name)}.*.tmp"):
                pid = path.name[len(name) + 2:].split(".", 1)[0]
                if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))):
                    _unlink_quietly(path)

    def _keep_backup(self) -> None:
        """Make ``.bak`` the current lockfile: a hard link to it, renamed over the old ``.bak`` (atomic,
        no bytes written); where the folder takes no hard links, a verified copy (:meth:`_write`)."""
        tmp = _temp_name(self.bak_path)
        try:
            _unlink_quietly(tmp)
            os.link(self.target, tmp)
            os.chmod(tmp, 0o600)  # the lockfile's own inode: it is replaced next anyway
            os.replace(tmp, self.bak_path)
        except OSError as exc:
            _unlink_quietly(tmp)
            if exc.errno not in _NO_HARD_LINKS:
                raise StateError(self._write_error(self.bak_path, exc)) from None
            self._write(self.bak_path, self._read(), sync_folder=False)

    def _prepare(self, path: Path, data: bytes) -> Path:
        """The temp file of ``path``, holding ``data`` complete and verified (see :func:`_prepared`)."""
        try:
            return _prepared(path, data)
        except OSError as exc:
            raise StateError(self._write_error(path, exc)) from None

    def _write(self, path: Path, data: bytes, *, sync_folder: bool = True) -> None:
        try:
            _atomic_write(path, data, sync_folder=sync_folder)
        except OSError as exc:
            raise StateError(self._write_error(path, exc)) from None

    def _write_error(self, path: Path, exc: OSError) -> str:
        where = "" if path == self.target else f" ({path})"
        return (
            f"cannot write lockfile {self._named()}{where}: {_cause(exc)}. The lockfile and its .bak keep "
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
                             f"{_cause(exc)}; nothing was changed.") from None
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


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    """``value``'s JSON type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    for kind, name in ((str, "a string"), (int | float, "a number"), (list, "an array"), (dict, "an object")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _too_deep(data: Any, limit: int) -> bool:
    """Whether ``data`` nests containers more than ``limit`` levels deep: a walk level by level, which
    never recurses (and costs ~5 ms for a 600-resource lockfile)."""
    level, depth = [data], 1
    while level:
        if depth > limit:
            return True
        deeper = []
        for value in level:
            for child in value.values() if type(value) is dict else value:
                if type(child) is dict or type(child) is list:
                    deeper.append(child)
        level, depth = deeper, depth + 1
    return False


# The JSON type of each field of a record; a field may be absent (its default), never of another type.
_RECORD_FIELDS: tuple[tuple[str, type | tuple[type, ...], str], ...] = (
    ("type", str, "a string"),
    ("status", str, "a string"),
    ("physical_id", (str, type(None)), "a string or null"),
    ("attrs", dict, "an object"),
    ("props", dict, "an object"),
    ("props_hash", str, "a string"),
    ("depends_on", list, "an array of addresses"),
    ("deposed", list, "an array of records"),
    ("address", str, "a string"),
)


def _record_problem(raw: Any, known_types: frozenset[str] | None, where: str = "") -> str | None:
    """What is wrong with one record's JSON (``where`` locates a deposed one), or None."""
    if not isinstance(raw, dict):
        return f"{where}is {_kind(raw)}, not an object"
    if "type" not in raw:
        return f"{where}has no 'type'"
    for key, kinds, expected in _RECORD_FIELDS:
        if key in raw and not isinstance(raw[key], kinds):
            return f"{where}{key!r} is {_kind(raw[key])}, not {expected}"
    if known_types is not None and raw["type"] not in known_types:
        return (f"{where}has unknown type {raw['type']!r} (not one this sstdirect knows; "
                f"a lockfile of a newer version?)")
    if raw.get("status", "created") not in STATUSES:
        return f"{where}has unknown status {raw['status']!r}"
    if not all(isinstance(dep, str) for dep in raw.get("depends_on", ())):
        return f"{where}'depends_on' holds something other than address strings"
    for i, old in enumerate(raw.get("deposed", ())):
        problem = _record_problem(old, known_types, f"{where}deposed[{i}] ")
        if problem:
            return problem
    return None


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


def dumps_state(data: dict[str, Any]) -> bytes:
    """The lockfile's text: JSON, one line per top-level key and one per resource (readable, diffs by
    resource), each line encoded by the json module's C encoder (``indent`` would use the pure-Python one:
    ~4x slower, 20 ms of a 600-resource lockfile's save)."""
    lines = []
    for key, value in data.items():
        if key == "resources" and value:
            body = ",\n".join(f"  {json.dumps(address)}: {json.dumps(rec)}" for address, rec in value.items())
            lines.append(f' "resources": {{\n{body}\n }}')
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return ("{\n" + ",\n".join(lines) + "\n}\n").encode()


# Errors of os.link that mean "this folder takes no hard links" (vfat, some network and FUSE file
# systems; fs.protected_hardlinks for a file of another user): .bak is then a verified copy.
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


def _cause(exc: OSError) -> str:
    """An OS error for a message: ``ENOSPC (No space left on device)``."""
    name = errno.errorcode.get(exc.errno or 0)
    text = exc.strerror or str(exc)
    return f"{name} ({text})" if name else text


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's: alive
        return True
    return True


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _fsync_folder(folder: Path) -> None:
    dfd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data``: ``os.write`` may take fewer (a nearly full disk, a file size
    limit); the rest is written again until done or the OS says why it cannot."""
    view = memoryview(data)
    done = 0
    while done < len(data):
        n = os.write(fd, view[done:])
        if n <= 0:
            raise OSError(errno.EIO, f"short write: the file system took {done} of {len(data)} bytes, then none")
        done += n


def _verify(fd: int, data: bytes) -> None:
    """Read the written file back: the same size, the same bytes, and JSON."""
    size = os.fstat(fd).st_size
    if size != len(data):
        raise OSError(errno.EIO, f"read back {size} bytes of the {len(data)} written")
    back = os.pread(fd, size + 1, 0)
    while len(back) < size:  # pread may return less than asked
        chunk = os.pread(fd, size + 1 - len(back), len(back))
        if not chunk:
            break
        back += chunk
    if back != data:
        raise OSError(errno.EIO, f"read back {len(back)} bytes that differ from the {len(data)} written")
    try:
        json.loads(back)
    except (ValueError, RecursionError) as exc:
        raise OSError(errno.EIO, f"the written file does not parse as JSON ({exc})") from None


def _prepared(path: Path, data: bytes) -> Path:
    """A fresh temp file beside ``path`` (never through a link) holding ``data``: written in full,
    fsynced, read back and verified (size, bytes, JSON), mode 0600. Raises OSError and leaves no temp
    file if any of it fails."""
    tmp = _temp_name(path)
    try:
        _unlink_quietly(tmp)  # a leftover of a killed process with this pid
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            _write_all(fd, data)
            os.fsync(fd)
            _verify(fd, data)
            os.fchmod(fd, 0o600)  # the umask may have narrowed it; never wider
        finally:
            os.close(fd)  # a network file system may report a full quota only here
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return tmp


def _atomic_write(path: Path, data: bytes, *, sync_folder: bool = True) -> None:
    """Replace ``path`` by ``data`` all at once (:func:`_prepared`, then a rename), or raise OSError and
    leave it as it was; then the folder is fsynced (``sync_folder``)."""
    tmp = _prepared(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    if sync_folder:
        _fsync_folder(path.parent)
