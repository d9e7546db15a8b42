"""The lockfile: what sstdirect made, where, and what it was asked for.

Format (JSON)::

    {"schema_version": 1, "lineage": "<uuid>", "serial": 7, "secret_salt": "<32 hex>",
     "app": "notes", "stage": "dev", "region": "us-east-1", "account": "123456789012",
     "resources": {"<address>": {"type", "status", "physical_id", "attrs", "props",
                                  "props_hash", "depends_on", "deposed": [...]}},
     "outputs": {"<construct id>": {"url": ...}}}

Guarantees:

- written atomically (temp file, fsync, rename; directory fsynced) after every resource change,
  mode 0600, the previous version kept as ``<path>.bak``; ``serial`` grows on every write;
- a file that cannot be read, or that belongs to another app, stage or region, raises
  :class:`StateError` and is never overwritten;
- ``status == "creating"`` is the intent record written before a create, so an interrupted deploy
  can find the half-made resource again; ``deposed`` lists replaced objects still to delete;
- one process at a time: :meth:`StateFile.lock` takes an OS lock (``flock``) on ``<path>.lock``,
  released by the OS if the process dies; a second locker fails fast with StateLockedError naming
  the holder;
- no secrets: secret fields are recorded only as a salted, slow hash (scrypt, with the lockfile's own
  random ``secret_salt``; see :mod:`sstdirect.engine.secrets` and ``Provider.secret_fields``).
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .engine.secrets import new_salt
from .errors import StateError, StateLockedError

SCHEMA_VERSION = 1
STATUSES = ("created", "creating", "deleting")


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
    def from_json(cls, data: Any, path: Path) -> State:
        """Validate and load; any problem is a StateError (the caller leaves the file alone)."""

        def bad(why: str) -> StateError:
            return StateError(
                f"lockfile {path} {why}; it was left untouched. Restore {path}.bak or fix the file by hand, "
                f"or rebuild it from AWS."
            )

        if not isinstance(data, dict):
            raise bad("does not hold a JSON object")
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise bad("has no schema_version")
        if version > SCHEMA_VERSION:
            raise StateError(
                f"lockfile {path} has schema_version {version}, written by a newer sstdirect "
                f"(this one reads up to {SCHEMA_VERSION}); upgrade sstdirect. The file was left untouched."
            )
        for key, kind in (("lineage", str), ("serial", int), ("app", str), ("stage", str), ("region", str),
                          ("resources", dict), ("outputs", dict)):
            if not isinstance(data.get(key), kind):
                raise bad(f"has a missing or malformed {key!r}")
        salt = data.get("secret_salt")
        if salt is not None and not (isinstance(salt, str) and len(salt) >= 16 and _is_hex(salt)):
            raise bad("has a malformed 'secret_salt'")
        resources: dict[str, Record] = {}
        for address, raw in data["resources"].items():
            if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
                raise bad(f"has a malformed resource {address!r}")
            if raw.get("status", "created") not in STATUSES:
                raise bad(f"has resource {address!r} with unknown status {raw.get('status')!r}")
            try:
                resources[address] = Record.from_json(address, raw)
            except (TypeError, KeyError, AttributeError, ValueError) as exc:
                raise bad(f"has a malformed resource {address!r} ({exc})") from None
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
    """A lockfile on disk: load, lock, save."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.bak_path = self.path.with_name(self.path.name + ".bak")
        self._write_lock = threading.Lock()
        self._save_cond = threading.Condition()
        self._save_requested = 0  # save() calls so far
        self._save_written = 0  # every call up to this one is covered by a completed write
        self._save_busy = False

    def exists(self) -> bool:
        return self.path.exists()

    def load(self, *, app: str | None = None, stage: str | None = None, region: str | None = None) -> State:
        """The state in the file, or a fresh one if there is no file. Never writes."""
        if not self.path.exists():
            if app is None or stage is None or region is None:
                raise StateError(f"no lockfile at {self.path}")
            return State(app=app, stage=stage, region=region)
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise StateError(f"cannot read lockfile {self.path}: {exc}") from None
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
        state = State.from_json(data, self.path)
        for what, want, have in (("app", app, state.app), ("stage", stage, state.stage),
                                 ("region", region, state.region)):
            if want is not None and want != have:
                raise StateError(
                    f"lockfile {self.path} belongs to {what} {have!r}, not {want!r}; it was left untouched. "
                    f"Pass state= (or --state) to use another lockfile for this {what}."
                )
        return state

    def save(self, state: State) -> None:
        """Atomically write ``state`` (serial + 1), keeping the previous file as ``.bak``.

        Returns once a write that began after this call is on disk (so every change made to ``state``
        before the call is durable). Concurrent callers share writes (group commit): while one thread
        writes, the others wait and the next write covers all of them, so N steps finishing together
        cost a few writes, not N fsync'd writes in a row. (One State object per StateFile at a time.)
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
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.exists():
                    _atomic_write(self.bak_path, self.path.read_bytes())
                _atomic_write(self.path, blob)
            written = True
        finally:
            with self._save_cond:
                self._save_busy = False
                if written:
                    self._save_written = max(self._save_written, covers)
                self._save_cond.notify_all()

    def delete(self) -> None:
        """Remove the lockfile (after a complete remove), keeping a last ``.bak``."""
        with self._write_lock:
            if self.path.exists():
                _atomic_write(self.bak_path, self.path.read_bytes())
                self.path.unlink()

    @contextlib.contextmanager
    def lock(self, operation: str) -> Iterator[None]:
        """Hold the OS lock for ``operation``; StateLockedError at once if another process has it."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
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
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode(), 0)
            try:
                yield
            finally:
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


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
