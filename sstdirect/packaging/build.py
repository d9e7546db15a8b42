"""The public entry point :func:`build_bundle`: fingerprint, cache lookup, selection, checks, zip, index."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from sstdirect.errors import ConfigError

from .checks import _check_unzipped, _check_zipped, _raise_missing, _warn_missing
from .deps import _dependencies, _dependency_names, _platform, _python_version
from .files import Bundle, _ChangedWhileZipping, _count, _Entry, _json_digest, _lock, _sha256_hex, _warn, _where
from .index import _index_get, _index_put
from .listing import Batch, _fingerprint, _modules_digest, _newest_ns
from .sources import _included, _scan, _with_included
from .trace import _entry_rel, _helpers_stamp, _Missing, _select
from .zipper import _bundle_from_contents

#: Files modified this recently (nanoseconds, relative to the scan) make a fingerprint "racy":
#: it is recorded but not trusted on the next build.
RACY_WINDOW_NS = 2_000_000_000


def build_bundle(
    code_dir: Path | str,
    *,
    cache_dir: Path | str,
    runtime: str = "python3.12",
    architecture: str = "x86_64",
    entry: Path | str | None = None,
    batch: Batch | None = None,
    import_root: Path | str | None = None,
    include: Sequence[str] = (),
    include_base: Path | str | None = None,
    construct: str = "",
    handler: str = "",
) -> Bundle:
    """Zip ``code_dir`` (plus its ``requirements.txt`` packages) deterministically; return the cached zip.

    Same included files -> byte-identical zip.  Never bundled (unless ``include`` names them): every
    name starting with ``.env`` (``.env``, ``.envrc``, ``.env-local``, ``.env_production``, ``.envs/``...),
    credential files (``.netrc``, ``.npmrc``, ``.pypirc``, ``.aws/``, ``.ssh/``, ``id_rsa*`` and other SSH
    keys, ``*.pem``/``*.key`` files holding a private key), ``.git``, ``.sstdirect``, ``__pycache__``,
    ``*.pyc``, virtual environments, ``node_modules`` and tool caches; symlinks pointing outside
    ``code_dir`` are skipped.  A file of the code folder wins over an installed dependency with the same path.

    With ``entry`` (the handler's ``.py`` file, inside ``code_dir``) the zip holds only the ``.py``
    files reachable from it by static import tracing (parsed with :mod:`ast`, never imported; modules
    resolved as Lambda's ``sys.path`` finds them: ``code_dir`` first, then ``import_root`` -- the app's
    root when the handler's folder is below it --, whose modules go in at their path under it, e.g.
    ``core/db.py``; every parent package's ``__init__.py`` is included and traced too), every non-``.py``
    file of the folder, and the requirements.  If a traced file imports dynamically
    (``importlib.import_module``, ``__import__``, ``spec_from_file_location``, ``pkgutil``, ``runpy``,
    ``sys.path`` changes, ...) or cannot be parsed, every ``.py`` file of ``code_dir`` is included too
    (counted as ``stats["trace_fallback"]``).  An import of a file the handler imports that resolves
    nowhere -- not in the bundle, the installed requirements, the standard library or the Lambda runtime
    (:data:`LAMBDA_RUNTIME_MODULES`) -- is a :class:`ConfigError` naming ``construct``, ``handler``, the
    module and the fix when it runs unconditionally at import time, and a warning logged on
    ``sstdirect.packaging`` (shown on stderr by a CLI run, and again when the zip comes from the
    index) when guarded by ``try``/``except ImportError``, in a branch, or inside a function.
    Without ``entry`` the whole folder is zipped.

    ``include``: paths or glob patterns under ``include_base`` (default ``code_dir``) bundled even if
    excluded above (a folder: every file below it); a file inside ``code_dir`` keeps its path there,
    another one its path under ``include_base``.  A pattern that matches nothing is a ConfigError.

    Lambda's limits (:data:`MAX_UNZIPPED_BYTES`, :data:`MAX_ZIPPED_BYTES` for a direct upload) are
    checked here: a bundle over either is a ConfigError naming its largest files.  Files are streamed in
    1 MiB chunks: memory does not grow with their size.

    ``batch``: share the folder scan and the index writes with other calls of one expansion (see
    :class:`Batch`; its :meth:`Batch.flush` writes the index).
    """
    py_version = _python_version(runtime)
    platform = _platform(architecture)
    code_real = Path(code_dir).resolve()
    if not code_real.is_dir():
        raise ConfigError(f"code folder {code_real} does not exist or is not a folder. "
                          "Fix: point the function's handler/src at an existing folder.")
    entry_rel = None if entry is None else _entry_rel(code_real, entry)
    root_real = None if import_root is None or entry_rel is None else (
        batch.resolve(import_root) if batch is not None else Path(import_root).resolve())
    if root_real == code_real:
        root_real = None
    include = tuple(include)
    base_real = code_real if include_base is None else Path(include_base).resolve()
    cache = Path(cache_dir).resolve()
    (cache / "zips").mkdir(parents=True, exist_ok=True)
    where = _where(construct)

    key_material = f"{code_real}\0{runtime}\0{architecture}"
    if entry_rel is not None:
        key_material += f"\0entry\0{entry_rel}\0{_helpers_stamp()}"
    if root_real is not None:
        key_material += f"\0root\0{root_real}"
    if include:
        key_material += f"\0include\0{base_real}\0" + "\0".join(include)
    entry_key = _sha256_hex(key_material.encode("utf-8", "surrogateescape"))

    def survey(shared: bool) -> tuple[int, list[_Entry], list[_Entry] | None, list[_Entry], str]:
        """When the scan began, the code folder's files, the import root's, the included ones, the fingerprint;
        ``shared``: the batch's scans when there is a batch (a retry scans again)."""
        def scan(folder: Path) -> tuple[int, list[_Entry]]:
            if shared and batch is not None:
                return batch.scan(folder, cache)
            return time.time_ns(), _scan(folder, skip=(cache,), user_code=True)

        scan_ns, files = scan(code_real)
        root_files = None if root_real is None else scan(root_real)[1]
        extra = _included(include, base_real, code_real, construct) if include else []
        fingerprint = _fingerprint(code_real, runtime, architecture, files, entry_rel)
        if root_files is not None or extra:
            fingerprint = _json_digest([
                fingerprint, None if root_files is None else _modules_digest(root_files),
                [[e.rel, e.src, e.size, e.mtime_ns, e.ctime_ns, e.executable] for e in extra]])
        return scan_ns, files, root_files, extra, fingerprint

    with _lock("code", str(cache), entry_key):
        scan_ns, files, root_files, extra, fingerprint = survey(shared=True)
        hit = _cached_bundle(cache, entry_key, fingerprint)
        if hit is not None:
            return hit

        deps = _dependencies(code_real, cache, runtime, architecture, py_version, platform)
        missing: list[_Missing] = []
        for attempt in range(3):
            try:
                if entry_rel is None:
                    chosen = files
                else:
                    req = code_real / "requirements.txt"
                    dep_names = _dependency_names(deps, req.read_bytes() if req.is_file() else None)
                    chosen, missing = _select(code_real, files, entry_rel, root_files, dep_names)
                    _raise_missing(missing, code_real, root_real, construct, handler)
                chosen = _with_included(chosen, extra)
                _check_unzipped(chosen, deps, where)
                bundle, content = _bundle_from_contents(cache, chosen, deps)
                break
            except _ChangedWhileZipping as changed:
                if attempt == 2:
                    raise ConfigError(
                        f"{changed.args[0]} kept changing while it was being bundled. Fix: stop whatever "
                        "is writing into the code folder (or delete a damaged cache folder) and deploy again."
                    ) from None
                scan_ns, files, root_files, extra, fingerprint = survey(shared=False)
        warnings_ = _warn_missing(missing, code_real, root_real, construct, handler)
        _check_zipped(bundle, chosen, deps, where)
        newest = max(_newest_ns(files), _newest_ns(root_files or [], modules_only=True), _newest_ns(extra))
        racy = newest >= scan_ns - RACY_WINDOW_NS
        record = {
            "code_dir": str(code_real),
            "fingerprint": fingerprint,
            "racy": racy,
            "content": content,
            "sha256_b64": bundle.sha256_b64,
            "size": bundle.size,
        }
        if entry_rel is not None:
            record["entry"] = entry_rel
        if warnings_:
            record["warnings"] = warnings_
        if batch is not None:
            batch.put(cache, entry_key, record)
        else:
            _index_put(cache, entry_key, record)
        return bundle


def _cached_bundle(cache: Path, entry_key: str, fingerprint: str) -> Bundle | None:
    """The zip the index records for ``entry_key`` when its fingerprint matches, was not racy and the zip is
    still there at its size (no file is read); its recorded warnings are logged again."""
    cached = _index_get(cache, entry_key)
    if not cached or cached.get("fingerprint") != fingerprint or cached.get("racy"):
        return None
    zip_path = cache / "zips" / f"{cached.get('content')}.zip"
    try:
        size = zip_path.stat().st_size
    except OSError:
        return None
    if size != cached.get("size") or not isinstance(cached.get("sha256_b64"), str):
        return None
    _count("fingerprint_hit")
    for message in cached.get("warnings") or ():
        _warn(message)
    return Bundle(path=zip_path, sha256_b64=cached["sha256_b64"], size=size)
