"""The deterministic zip writer and the content-addressed zip cache (``cache_dir/zips/<hex>.zip``)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

from .files import (
    _CHUNK,
    _COMPRESS_LEVEL,
    _FORMAT,
    Bundle,
    _atomic_write,
    _ChangedWhileZipping,
    _count,
    _Entry,
    _hash_file,
    _merged,
    _sha256_hex,
    _sha256_of,
)

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _bundle_from_contents(cache: Path, files: list[_Entry], deps: list[_Entry]) -> tuple[Bundle, str]:
    """Hash the files' contents; reuse the zip with that content hash, or build it.

    Raises ``_ChangedWhileZipping`` when a file disappears or changes between hashing and zipping.
    """
    hashed = [f if f.sha256 else replace(f, sha256=_hash_file(f.src)) for f in files]
    entries = sorted(_merged(hashed, deps), key=lambda e: e.rel)
    lines = [_FORMAT, f"deflate-{_COMPRESS_LEVEL}"]
    lines += [f"{e.rel}\0{int(e.executable)}\0{e.size}\0{e.sha256}" for e in entries]
    content = _sha256_hex("\n".join(lines).encode("utf-8", "surrogateescape"))

    zip_path = cache / "zips" / f"{content}.zip"
    meta = _zip_meta(zip_path)
    if meta is not None:
        _count("zip_reused")
        return Bundle(path=zip_path, sha256_b64=meta["sha256_b64"], size=meta["size"]), content
    bundle = _write_zip(zip_path, entries)
    _count("zip_built")
    return bundle, content


def _zip_meta(zip_path: Path) -> dict | None:
    """The recorded sha/size of a cached zip, if the zip is there and intact (size-wise)."""
    meta_path = zip_path.with_suffix(".json")
    try:
        size = zip_path.stat().st_size
    except OSError:
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("size") == size and isinstance(meta.get("sha256_b64"), str):
            return meta
    except (OSError, ValueError, AttributeError):
        pass
    # The zip is there but its record is missing or stale: hash the zip and rewrite the record.
    try:
        with open(zip_path, "rb") as fh:
            digest = _sha256_of(fh)
    except OSError:
        return None
    return _record(zip_path, digest, size)


def _record(zip_path: Path, digest: bytes, size: int) -> dict:
    """Write ``<hex>.json`` beside a cached zip: its ``CodeSha256`` and size (what a reuse returns)."""
    meta = {"sha256_b64": base64.b64encode(digest).decode(), "size": size}
    _atomic_write(zip_path.with_suffix(".json"), json.dumps(meta).encode())
    return meta


def _write_zip(zip_path: Path, entries: list[_Entry]) -> Bundle:
    """Write the deterministic zip to a temp file, verify the contents, rename it into place."""
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=zip_path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as raw:
            with zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED,
                                 compresslevel=_COMPRESS_LEVEL, allowZip64=True) as zf:
                for entry in entries:
                    info = zipfile.ZipInfo(entry.rel, date_time=_ZIP_DATE)
                    info.create_system = 3  # Unix, so Lambda applies the permissions below
                    mode = 0o100755 if entry.executable else 0o100644
                    info.external_attr = mode << 16
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info._compresslevel = _COMPRESS_LEVEL  # `compress_level` from Python 3.13
                    info.file_size = entry.size
                    digest = hashlib.sha256()
                    try:
                        src = open(entry.src, "rb")  # noqa: SIM115 - closed by the with below
                    except FileNotFoundError:
                        raise _ChangedWhileZipping(entry.src) from None
                    with src, zf.open(info, "w") as dst:
                        while chunk := src.read(_CHUNK):
                            digest.update(chunk)
                            dst.write(chunk)
                    if digest.hexdigest() != entry.sha256:
                        raise _ChangedWhileZipping(entry.src)
            raw.flush()
            os.fsync(raw.fileno())
            raw.seek(0)
            digest = _sha256_of(raw)
            size = raw.tell()
        os.chmod(tmp, 0o644)
        os.replace(tmp, zip_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    meta = _record(zip_path, digest, size)
    return Bundle(path=zip_path, sha256_b64=meta["sha256_b64"], size=size)
