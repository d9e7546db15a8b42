"""The lockfile's JSON: its version, how it is written (:func:`dumps_state`) and read back
(:func:`loads_state`), and the shape a lockfile must have to be loaded (:func:`check_state`).

Nothing here knows where a lockfile is kept or the dataclasses it becomes (:mod:`.model`): it works on
bytes and plain JSON values. Every problem is a :class:`StateError` naming the lockfile, what is wrong
with it, and that it was left untouched; a store (:mod:`.local`) never overwrites a file refused here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import StateError

SCHEMA_VERSION = 1
#: Every schema_version a lockfile has ever been written with. Only 1 so far; a later version that
#: changes the format lists the older ones here and migrates them in :meth:`State.from_json`.
READABLE_SCHEMA_VERSIONS = frozenset({1})
STATUSES = ("created", "creating", "deleting")
#: Deeper JSON than this is refused on load: the planner walks props recursively, and Python's
#: recursion limit (~1000) must never be reached. Real lockfiles nest ~10 levels (IAM conditions).
MAX_DEPTH = 100


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


def loads_state(raw: bytes, path: Path, bak_path: Path) -> Any:
    """The JSON value in the lockfile ``path``'s bytes ``raw`` (not yet checked: :func:`check_state`).
    An empty file, one that is not JSON or nests deeper than Python's parser can follow is a StateError
    that points to ``bak_path``."""
    if not raw.strip():
        raise StateError(
            f"lockfile {path} is empty; it was left untouched. Restore {bak_path} "
            f"or delete the empty file if nothing was ever deployed."
        )
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StateError(
            f"lockfile {path} is not valid JSON ({exc}); it was left untouched. "
            f"Restore {bak_path} or fix the file by hand."
        ) from None
    except RecursionError:
        raise StateError(
            f"lockfile {path} nests JSON deeper than Python's parser can follow (sstdirect never "
            f"writes that); it was left untouched. Restore {bak_path} or fix the file by hand."
        ) from None


def check_state(data: Any, path: Path, known_types: Iterable[str] | None = None) -> None:
    """Raise a StateError naming ``path`` unless ``data`` has the lockfile's shape: a ``schema_version``
    this sstdirect reads, the top-level fields of their JSON types, no nesting deeper than
    :data:`MAX_DEPTH`, and well-formed records, each of a type in ``known_types`` (when given: this package
    knows no resource type itself)."""

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
    for address, raw in data["resources"].items():
        if isinstance(raw, dict) and raw.get("status", "created") not in STATUSES:
            raise bad(f"has resource {address!r} with unknown status {raw.get('status')!r}")
        problem = _record_problem(raw, known)
        if problem:
            raise bad(f"has a malformed resource {address!r}: {problem}")


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
