"""The lockfile's data model: one app's stage (:class:`State`) and the resources it made (:class:`Record`),
as the engine reads and changes them in memory.

``to_json`` / ``from_json`` turn them into the lockfile's JSON and back; :mod:`.schema` says what valid
JSON is. Nothing here touches a file or knows where a lockfile is kept.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .schema import SCHEMA_VERSION, check_state


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
        """Validate (:func:`~.schema.check_state`) and load; any problem is a StateError naming ``path`` (the
        caller leaves the file alone). A record whose type is not in ``known_types`` is one (when given: this
        package knows no resource type itself)."""
        check_state(data, path, known_types)
        salt = data.get("secret_salt")
        return cls(
            app=data["app"],
            stage=data["stage"],
            region=data["region"],
            lineage=data["lineage"],
            serial=data["serial"],
            account=data.get("account"),
            resources={address: Record.from_json(address, raw) for address, raw in data["resources"].items()},
            outputs=data["outputs"],
            **({"secret_salt": salt} if salt is not None else {}),  # an older lockfile gets a fresh salt
        )
