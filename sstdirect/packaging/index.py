"""``cache_dir/index.json``: (code folder, entry) -> fingerprint -> zip, read by stat signature, written atomically."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from .files import _FORMAT, _atomic_write

_INDEX_MAX_ENTRIES = 512
_index_lock = threading.Lock()
_parsed_index: dict[Path, tuple[tuple[int, int, int], dict]] = {}  # index.json parsed, by its stat signature


def _index_load(cache: Path) -> dict:
    """The index's entries (a fresh dict; parsed again only when the file's stat signature changed)."""
    path = cache / "index.json"
    try:
        st = path.stat()
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        known = _parsed_index.get(path)
        if known is not None and known[0] == signature:
            return dict(known[1])
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    entries = data.get("entries") if isinstance(data, dict) and data.get("format") == _FORMAT else None
    entries = entries if isinstance(entries, dict) else {}
    _parsed_index[path] = (signature, entries)
    return dict(entries)


def _index_get(cache: Path, key: str) -> dict | None:
    """The index entry of ``key``, if any."""
    entry = _index_load(cache).get(key)
    return entry if isinstance(entry, dict) else None


def _index_put(cache: Path, key: str, value: dict) -> None:
    """Record one index entry (see :func:`_index_put_many`)."""
    _index_put_many(cache, {key: value})


def _index_put_many(cache: Path, values: dict[str, dict]) -> None:
    """Record index entries, stamped with ``used_ns``; the oldest go beyond :data:`_INDEX_MAX_ENTRIES`."""
    with _index_lock:
        entries = _index_load(cache)  # re-read just before writing: keep other processes' entries
        for key, value in values.items():
            entries.pop(key, None)
            entries[key] = {**value, "used_ns": time.time_ns()}
        if len(entries) > _INDEX_MAX_ENTRIES:
            newest = sorted(entries.items(), key=lambda kv: kv[1].get("used_ns", 0) if isinstance(kv[1], dict)
                            else 0)[-_INDEX_MAX_ENTRIES:]
            entries = dict(newest)
        _atomic_write(cache / "index.json",
                      json.dumps({"format": _FORMAT, "entries": entries}, sort_keys=True).encode())
