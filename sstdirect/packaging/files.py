"""The bundler's shared vocabulary: file entries, the bundle, the counters and locks, hashing, atomic writes."""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sstdirect.errors import ConfigError

_log = logging.getLogger("sstdirect.packaging")

#: What the bundler did, for tests and progress output.  Keys: ``fingerprint_hit`` (zip returned
#: from the index without reading files), ``zip_reused`` (contents hashed, a zip with that content
#: already cached), ``zip_built``, ``deps_installed`` (pip ran), ``deps_reused``, ``files_hashed``,
#: ``trace_fallback`` (an ``entry`` bundle took every ``.py`` file: dynamic imports or unparsable code).
stats: collections.Counter[str] = collections.Counter()

_FORMAT = "sstdirect-bundle/1"
_COMPRESS_LEVEL = 6
_CHUNK = 1 << 20
_EXTENSION = re.compile(r"^([A-Za-z_]\w*)\.(?:[\w.-]*\.)?(?:so|pyd)$")  # an extension module's file name

_stats_lock = threading.Lock()
_locks_guard = threading.Lock()
_locks: dict[tuple[str, ...], threading.Lock] = {}


def _count(key: str, n: int = 1) -> None:
    """Add ``n`` to ``stats[key]`` (thread-safe)."""
    with _stats_lock:
        stats[key] += n


def _lock(*key: str) -> threading.Lock:
    """The process-wide lock of ``key`` (one per cache entry being built)."""
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


@dataclass(frozen=True)
class Bundle:
    """A zip in the cache.  ``sha256_b64`` is exactly what Lambda reports as ``CodeSha256``."""

    path: Path
    sha256_b64: str
    size: int

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()


@dataclass(frozen=True)
class _Entry:
    """A file to bundle: its zip path, where it is read from, its stat data and (once known) its hash."""

    rel: str  # '/'-separated name in the zip
    src: str  # file to read
    size: int
    mtime_ns: int
    ctime_ns: int
    executable: bool
    sha256: str = ""  # hex, known for dependency files (from their manifest)

    @classmethod
    def of(cls, rel: str, src: str, st: os.stat_result) -> _Entry:
        """The entry of file ``src`` (stat data ``st``) at ``rel``; executable when any execute bit is set."""
        return cls(rel, src, st.st_size, st.st_mtime_ns, st.st_ctime_ns, bool(st.st_mode & 0o111))


class _ChangedWhileZipping(Exception):
    """A file disappeared or changed between being listed or hashed and being zipped (the build is retried)."""


def _where(construct: str) -> str:
    """The prefix naming a construct in an error message (``"Api/list: "``; nothing without one)."""
    return f"{construct}: " if construct else ""


def _sha256_hex(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _json_digest(material: object) -> str:
    """The hex SHA-256 of ``material`` as compact JSON (fingerprints and listing digests)."""
    return _sha256_hex(json.dumps(material, separators=(",", ":")).encode("utf-8", "surrogateescape"))


def _sha256_of(fh: BinaryIO) -> bytes:
    """The SHA-256 digest of the rest of an open file, read in :data:`_CHUNK` pieces."""
    digest = hashlib.sha256()
    while chunk := fh.read(_CHUNK):
        digest.update(chunk)
    return digest.digest()


def _source_chunks(path: str) -> Iterator[bytes]:
    """A bundled file's contents in chunks, counted as ``files_hashed``. A file gone since the scan raises
    :class:`_ChangedWhileZipping`; another read error is a ConfigError."""
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk
    except FileNotFoundError:
        raise _ChangedWhileZipping(path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path} while bundling: {exc}. Fix: make it readable.") from exc
    _count("files_hashed")


def _hash_file(path: str) -> str:
    """The hex SHA-256 of a bundled file (see :func:`_source_chunks`)."""
    digest = hashlib.sha256()
    for chunk in _source_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file renamed into place (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _warn(message: str) -> None:
    """A warning on the ``sstdirect.packaging`` logger (with no logging set up, Python prints it to stderr)."""
    _log.warning("%s", message)


def _merged(files: list[_Entry], deps: list[_Entry]) -> list[_Entry]:
    """The entries of a bundle: the installed dependencies, and the code's files winning over them by path."""
    merged = {d.rel: d for d in deps}
    merged.update((f.rel, f) for f in files)
    return list(merged.values())
