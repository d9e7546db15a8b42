"""What is derived from a folder listing (module index, digests, fingerprint), and the :class:`Batch` that
computes it once per scan shared by many functions."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import _COMPRESS_LEVEL, _EXTENSION, _FORMAT, _Entry, _json_digest
from .index import _index_put_many
from .sources import _scan


@dataclass
class _Listing:
    """What is derived from one folder scan shared by a Batch's functions (computed once, not per function)."""

    files: list[_Entry]
    digest: str | None = None
    module_index: dict[str, str] | None = None
    known_names: frozenset[str] | None = None
    by_rel: dict[str, _Entry] | None = None
    newest_ns: int | None = None
    modules_digest: str | None = None
    newest_module_ns: int | None = None


_batch_listings: dict[int, _Listing] = {}  # id(a Batch's scan) -> what is derived from it, while the Batch lives


def _batch_listing(files: list[_Entry]) -> _Listing | None:
    """The :class:`_Listing` of a Batch scan, or None for a listing no Batch shares."""
    known = _batch_listings.get(id(files))
    return known if known is not None and known.files is files else None


def _per_listing(files: list[_Entry], name: str, make: Callable[[list[_Entry]], Any]) -> Any:
    """``make(files)``, computed once per Batch scan and kept on its :class:`_Listing` as ``name`` (every time
    for a listing no Batch shares). Callers must not change the result."""
    known = _batch_listing(files)
    if known is None:
        return make(files)
    value = getattr(known, name)
    if value is None:
        value = make(files)
        setattr(known, name, value)
    return value


def _by_rel(files: list[_Entry]) -> dict[str, _Entry]:
    """A listing by zip path (once per Batch scan; do not change the result)."""
    return _per_listing(files, "by_rel", lambda fs: {f.rel: f for f in fs})


def _modules_digest(files: list[_Entry]) -> str:
    """The hash of the names and stat data of a listing's importable files (``.py``, extension modules):
    all an import root's listing can change in a bundle (once per Batch scan). Its data files are never
    bundled, so editing them leaves every fingerprint alone."""
    def make(fs: list[_Entry]) -> str:
        return _json_digest([[f.rel, f.src, f.size, f.mtime_ns, f.ctime_ns] for f in fs if _is_module(f)])

    return _per_listing(files, "modules_digest", make)


def _is_module(f: _Entry) -> bool:
    """Whether a file is importable: a ``.py`` file or an extension module."""
    return f.rel.endswith(".py") or _EXTENSION.match(f.rel.rsplit("/", 1)[-1]) is not None


def _newest_ns(files: list[_Entry], *, modules_only: bool = False) -> int:
    """The latest mtime or ctime of a listing (of its importable files only, for an import root; once
    per Batch scan): is any of its files racily new?"""
    return _per_listing(files, "newest_module_ns" if modules_only else "newest_ns", lambda fs: max(
        (max(f.mtime_ns, f.ctime_ns) for f in fs if not modules_only or _is_module(f)), default=0))


def _listing_digest(files: list[_Entry]) -> str:
    """The hash of a folder listing's names and stat data (once per Batch scan)."""
    return _per_listing(files, "digest", lambda fs: _json_digest(
        [[f.rel, f.src, f.size, f.mtime_ns, f.ctime_ns, f.executable] for f in fs]))


def _fingerprint(code_dir: Path, runtime: str, architecture: str, files: list[_Entry],
                 entry_rel: str | None = None) -> str:
    """Names and stat data only -- computing it reads no file contents.

    It covers every file of the folder even for an ``entry`` bundle: which files are traced depends
    on their contents, so any change anywhere has to trace again.
    """
    material: list = [_FORMAT, _COMPRESS_LEVEL, str(code_dir), runtime, architecture, _listing_digest(files)]
    if entry_rel is not None:
        material.append(["entry", entry_rel])
    return _json_digest(material)


def _module_index(files: list[_Entry]) -> dict[str, str]:
    """Dotted module name -> zip path, for every importable ``.py`` file (packages win over modules);
    once per Batch scan (do not change the result)."""
    return _per_listing(files, "module_index", _make_module_index)


def _make_module_index(files: list[_Entry]) -> dict[str, str]:
    """See :func:`_module_index`."""
    modules: dict[str, str] = {}
    packages: dict[str, str] = {}
    for f in files:
        if not f.rel.endswith(".py"):
            continue
        parts = f.rel[:-3].split("/")
        if not all(p.isidentifier() for p in parts):
            continue  # no import statement can name it
        if parts[-1] == "__init__":
            if len(parts) > 1:  # the folder's own __init__.py is never imported by name
                packages[".".join(parts[:-1])] = f.rel
        else:
            modules[".".join(parts)] = f.rel
    return {**modules, **packages}


def _known_names(files: list[_Entry]) -> frozenset[str]:
    """Every module name importable from a folder listing, with every parent (namespace) package (once
    per Batch scan)."""
    return _per_listing(files, "known_names", _make_known_names)


def _make_known_names(files: list[_Entry]) -> frozenset[str]:
    """See :func:`_known_names`."""
    names: set[str] = set()
    for f in files:
        parts = f.rel.split("/")
        if f.rel.endswith(".py"):
            parts[-1] = parts[-1][:-3]
            if parts[-1] == "__init__":
                parts.pop()
        else:
            match = _EXTENSION.match(parts[-1])
            if match is None:
                continue
            parts[-1] = match.group(1)
        if not parts or not all(p.isidentifier() for p in parts):
            continue
        for i in range(1, len(parts) + 1):
            names.add(".".join(parts[:i]))
    return frozenset(names)


class Batch:
    """Shared work of one expansion of many functions (``App.resources()``), for :func:`build_bundle`.

    A code folder is scanned (listed and stat'ed) once, not once per function that ships from it, and
    index entries are written once at :meth:`flush` instead of rewriting ``index.json`` per function:
    N functions of one folder cost O(N) file-system work, not O(N²). Use one batch for one expansion
    only: a scan is not looked at again, so files edited after it are seen by the next batch.
    Correctness never depends on it (the fingerprint decides); an unflushed batch costs a re-hash.
    """

    def __init__(self) -> None:
        self.scans: dict[tuple[str, str], tuple[int, list[_Entry]]] = {}
        self.pending: dict[Path, dict[str, dict]] = {}
        self.resolved: dict[str, Path] = {}
        self._lock = threading.Lock()

    def scan(self, code_real: Path, cache: Path) -> tuple[int, list[_Entry]]:
        key = (str(code_real), str(cache))
        with self._lock:
            if key not in self.scans:
                scan_ns = time.time_ns()
                files = _scan(code_real, skip=(cache,), user_code=True)
                self.scans[key] = (scan_ns, files)
                _batch_listings[id(files)] = _Listing(files)
                weakref.finalize(self, _batch_listings.pop, id(files), None)
            return self.scans[key]

    def resolve(self, path: Path | str) -> Path:
        """``Path(path).resolve()``, once per path in this batch (an import root shared by many functions)."""
        key = os.fspath(path)
        with self._lock:
            known = self.resolved.get(key)
        if known is None:
            known = Path(key).resolve()
            with self._lock:
                self.resolved[key] = known
        return known

    def put(self, cache: Path, key: str, value: dict) -> None:
        with self._lock:
            self.pending.setdefault(cache, {})[key] = value

    def flush(self) -> None:
        """Write the index entries made in this batch (one index write per cache folder)."""
        with self._lock:
            pending, self.pending = self.pending, {}
        for cache, entries in pending.items():
            _index_put_many(cache, entries)
