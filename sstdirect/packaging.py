"""Handler resolution and deterministic Lambda code bundles.

Two jobs, both done without touching AWS:

``resolve_handler(root, "src/list.main", src=None, construct=...)``
    turns an SST-style handler string into the folder to zip, the handler's file and the
    ``Handler`` value Lambda wants, and checks -- by parsing the file with :mod:`ast`, never by
    importing it -- that the file defines that name.  Every bad input is a
    :class:`~sstdirect.errors.ConfigError` naming the construct, the key and the fix.

``build_bundle(code_dir, cache_dir=..., runtime=..., architecture=..., entry=None)``
    zips a folder deterministically (same files -> byte-identical zip -> same ``CodeSha256``),
    installs a ``requirements.txt`` beside the code for the Lambda platform, and caches everything
    under ``cache_dir``.  With ``entry`` (the handler's ``.py`` file) only the ``.py`` files reachable
    from it by static import tracing go in (plus every non-``.py`` file), so editing one handler
    changes that function's zip alone; see :func:`build_bundle` for the rules and the fallback.

    ``cache_dir/index.json``            (code folder, entry) -> fingerprint (path, size, mtime of
                                        every file of the folder) -> zip; a match returns the zip
                                        without reading any file
    ``cache_dir/zips/<hex>.zip``        one zip per content hash (``<hex>.json`` holds its sha/size)
    ``cache_dir/deps/<key>/site/``      ``pip install --target`` output, once per (requirements
                                        content, runtime, architecture); ``manifest.json`` beside it

Every cache write is a temp file (or folder) renamed into place, so concurrent deploys never see a
half-written file; the worst a race costs is duplicated work.

A fingerprint recorded while a file was younger than :data:`RACY_WINDOW_NS` is not trusted next time
(the file's contents are hashed again): a file edited twice within one file-system timestamp tick
would otherwise keep a stale zip (git's "racily clean" problem).  Correctness never depends on the
fingerprint -- only speed does.

:data:`stats` counts what happened (``fingerprint_hit``, ``zip_reused``, ``zip_built``,
``deps_installed``, ``deps_reused``, ``files_hashed``, ``trace_fallback``) so tests can assert cache
behaviour without timing.
"""

from __future__ import annotations

import ast
import base64
import collections
import functools
import hashlib
import json
import keyword
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sstdirect.errors import ConfigError

_log = logging.getLogger("sstdirect.packaging")

__all__ = [
    "LAMBDA_RUNTIME_MODULES",
    "MAX_UNZIPPED_BYTES",
    "MAX_ZIPPED_BYTES",
    "RACY_WINDOW_NS",
    "Bundle",
    "HandlerLocation",
    "build_bundle",
    "resolve_handler",
    "run_pip",
    "stats",
]

#: What the bundler did, for tests and progress output.  Keys: ``fingerprint_hit`` (zip returned
#: from the index without reading files), ``zip_reused`` (contents hashed, a zip with that content
#: already cached), ``zip_built``, ``deps_installed`` (pip ran), ``deps_reused``, ``files_hashed``,
#: ``trace_fallback`` (an ``entry`` bundle took every ``.py`` file: dynamic imports or unparsable code).
stats: collections.Counter[str] = collections.Counter()

#: Files modified this recently (nanoseconds, relative to the scan) make a fingerprint "racy":
#: it is recorded but not trusted on the next build.
RACY_WINDOW_NS = 2_000_000_000

_FORMAT = "sstdirect-bundle/1"
_COMPRESS_LEVEL = 6
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 20
_INDEX_MAX_ENTRIES = 512

# Folders never bundled from user code (by name), besides any folder holding a pyvenv.cfg. A folder named
# ``.env`` is a virtualenv made without pyvenv.cfg (conda, old virtualenv) or a folder of secrets: never shipped.
_EXCLUDED_DIRS = frozenset(
    {
        ".env",
        ".git",
        ".sstdirect",
        "__pycache__",
        ".venv",
        "venv",
        "node_modules",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
    }
)
_EXCLUDED_FILES = frozenset({".git", ".env", ".DS_Store"})
_EXCLUDED_SUFFIXES = (".pyc", ".pyo")
# Secrets, never bundled from user code unless a function's ``include=[...]`` names them: any name
# starting with ``.env`` (``.env``, ``.envrc``, ``.env-local``, ``.env_production``, ``.envs/``...),
# credential files and folders, SSH keys, and ``*.pem``/``*.key`` files that hold a private key.
_SECRET_DIRS = frozenset({".aws", ".ssh", ".gnupg"})
_SECRET_FILES = frozenset({".netrc", "_netrc", ".npmrc", ".pypirc", ".git-credentials", ".pgpass"})
_SECRET_PREFIXES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519")
_KEY_SUFFIXES = (".pem", ".key")
_PRIVATE_KEY_MARK = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")

#: Lambda's limits for a .zip deployment package uploaded directly: 50 MB zipped, 250 MB unzipped
#: (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html; CreateFunction's error
#: for the latter reads "Unzipped size must be smaller than 262144000 bytes").
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 262_144_000

_RUNTIME_RE = re.compile(r"python(\d+)\.(\d+)")
_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}

_stats_lock = threading.Lock()
_locks_guard = threading.Lock()
_locks: dict[tuple[str, ...], threading.Lock] = {}
_index_lock = threading.Lock()


def _count(key: str, n: int = 1) -> None:
    with _stats_lock:
        stats[key] += n


def _lock(*key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


# ---------------------------------------------------------------------------------------------
# Handler resolution
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HandlerLocation:
    """Where a handler lives.

    ``code_dir`` is the folder that is zipped (absolute), ``file`` the handler's ``.py`` file
    (absolute, inside ``code_dir``), ``lambda_handler`` the ``module.sub.function`` value of
    Lambda's ``Handler`` field, relative to ``code_dir`` (the handler file's path in the zip).
    ``import_root``: the app's root when it is not ``code_dir`` (no ``src``): the second ``sys.path``
    root, where modules the handler imports that are not in ``code_dir`` are looked up and from
    which they are bundled at their path under it (``core/db.py``).
    """

    code_dir: Path
    file: Path
    lambda_handler: str
    import_root: Path | None = None


_HANDLER_FORM = "write it as 'path/to/file.function', e.g. 'src/list.main' for function main in src/list.py"


def _config_error(construct: str, key: str, value: object, problem: str, fix: str) -> ConfigError:
    where = f"{construct}: " if construct else ""
    return ConfigError(f"{where}{key} {value!r} {problem}. Fix: {fix}.")


def resolve_handler(
    root: Path | str, handler: str, *, src: str | os.PathLike[str] | None = None, construct: str = ""
) -> HandlerLocation:
    """Resolve an SST-style ``handler`` string (``"src/list.main"``) against ``root``.

    Without ``src`` the handler path is relative to ``root``; the zipped folder is the handler
    file's own folder and ``lambda_handler`` is ``"list.main"`` (sibling modules import as they do
    on Lambda), and ``root`` is the ``import_root`` (``from core.db import table`` finds
    ``root/core/db.py``, bundled as ``core/db.py``).  With ``src`` the path is relative to
    ``root/src``, which is the zipped folder (and the only import root), and ``lambda_handler`` is
    the dotted module path (``"api/list.main"`` -> ``"api.list.main"``).

    Raises :class:`ConfigError` naming ``construct``, the key and the fix for: a malformed handler
    string, a path that leaves the root (``..``, absolute paths, symlinks pointing outside), a file
    that does not exist, a file with a syntax error, and a file that defines no such top-level name.
    """

    def fail(problem: str, fix: str, key: str = "handler", value: object = handler) -> ConfigError:
        return _config_error(construct, key, value, problem, fix)

    # --- the string itself -------------------------------------------------------------------
    if not isinstance(handler, str):
        raise fail(f"is a {type(handler).__name__}, not a string", _HANDLER_FORM)
    if not handler.strip():
        raise fail("is empty", _HANDLER_FORM)
    if any(c.isspace() for c in handler):
        raise fail("contains whitespace", "remove the spaces; " + _HANDLER_FORM)
    if not handler.isprintable():  # a NUL or another control character: no file has such a name
        raise fail("contains a control character", _HANDLER_FORM)
    if "\\" in handler:
        raise fail("uses backslashes", "separate folders with '/', e.g. 'src/list.main'")
    path_part, dot, func = handler.rpartition(".")
    if not dot:
        raise fail(
            "has no '.' separating the file from the function name",
            f"write 'path/to/file.function', e.g. '{handler}.main' for function main in {handler}.py",
        )
    if not func:
        raise fail("has an empty function name after the last '.'", _HANDLER_FORM)
    if not path_part or path_part.endswith("/"):
        raise fail("has an empty file path before the function name", _HANDLER_FORM)
    if not func.isidentifier() or keyword.iskeyword(func):
        raise fail(f"names function {func!r}, which is not a Python identifier", _HANDLER_FORM)
    if path_part.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path_part):
        raise fail(
            "is an absolute path, which leaves the root",
            "make the path relative to the app's root folder, e.g. 'src/list.main'",
        )
    raw_parts = path_part.split("/")
    base_name = "the src folder" if src is not None else "the root"
    if ".." in raw_parts:
        raise fail(
            f"contains '..', which leaves {base_name}",
            f"use a path inside {base_name} without '..'"
            + ("" if src is None else ", or point src at a folder that contains the handler"),
        )
    parts = [p for p in raw_parts if p not in ("", ".")]
    if not parts:
        raise fail("has no file name before the function name", _HANDLER_FORM)
    stem = parts[-1]
    if not stem.isidentifier() or keyword.iskeyword(stem):
        if stem.endswith(".py"):
            fixed = "/".join([*parts[:-1], stem[:-3]]) + "." + func
            raise fail("includes the '.py' extension", f"leave it out: {fixed!r}")
        raise fail(
            f"names module {stem!r}, which is not a valid Python module name (Lambda imports it)",
            "rename the file to letters, digits and underscores (e.g. list_notes.py) and update the handler",
        )

    # --- the folders -------------------------------------------------------------------------
    root_real = Path(root).resolve()
    if not root_real.is_dir():
        raise fail(
            f"cannot be resolved: the root folder {root_real} does not exist",
            "pass App(root=...) the folder that holds your handler files",
        )
    if src is not None:
        src_str = os.fspath(src) if isinstance(src, os.PathLike) else src
        if not isinstance(src_str, str) or not src_str.strip() or not src_str.isprintable():
            raise fail("is empty or not a path", "pass src='folder' relative to the root, or leave src unset",
                       key="src", value=src)
        base = (root_real / src_str).resolve()
        if not base.is_relative_to(root_real):
            raise fail(
                f"leaves the root {root_real}",
                "use a folder inside the app's root for src", key="src", value=src_str,
            )
        if not base.is_dir():
            raise fail(
                f"is not a folder (looked for {base})",
                "create it or point src at the folder that holds your handler files",
                key="src", value=src_str,
            )
        for folder in parts[:-1]:
            if not folder.isidentifier() or keyword.iskeyword(folder):
                raise fail(
                    f"goes through folder {folder!r}, which is not a valid Python package name "
                    f"(with src, Lambda imports the handler as {'.'.join(parts)!r})",
                    "rename the folder to letters, digits and underscores, "
                    "or point src at the handler's folder",
                )
        code_dir = base
        lambda_handler = ".".join(parts) + "." + func
    else:
        base = root_real
        code_dir = None
        lambda_handler = f"{stem}.{func}"

    file = base.joinpath(*parts[:-1], stem + ".py")
    file_real = file.resolve()
    if not file_real.is_relative_to(root_real):
        raise fail(
            f"resolves through a symlink to {file_real}, which leaves the root {root_real}",
            "keep handler files inside the app's root folder (copy the file instead of linking it)",
        )
    rel_shown = "/".join([*parts[:-1], stem + ".py"])
    if not file.is_file():
        if file.is_dir():
            raise fail(f"points to {file}, which is a folder, not a .py file", _HANDLER_FORM)
        fix = f"create {rel_shown} or correct the handler path (relative to {base})"
        folder = base.joinpath(*parts[:-1], stem)
        if folder.is_dir():
            inside = "/".join([*parts, "<file>"])
            fix = f"{'/'.join(parts)} is a folder; name a .py file inside it: '{inside}.{func}'"
        elif src is not None and root_real.joinpath(*parts[:-1], stem + ".py").is_file():
            fix = (f"with src={os.fspath(src)!r} handler paths are relative to {base}; "
                   f"write the path from there, not from the root")
        raise fail(f"points to a file that does not exist: looked for {file}", fix)
    wrong_case = _case_mismatch(base, [*parts[:-1], stem + ".py"])
    if wrong_case is not None:
        want, have = wrong_case
        raise fail(
            f"points to {want!r}, but the file system has {have!r} (Lambda's file names are case-sensitive)",
            "use the exact spelling in the handler path",
        )
    if code_dir is None:
        code_dir = file.parent.resolve()
        file = code_dir / (stem + ".py")
    if not file_real.is_relative_to(code_dir):
        raise fail(
            f"is a symlink to {file_real}, outside the folder {code_dir} that is zipped for Lambda",
            "move or copy the handler file into that folder instead of linking it",
        )

    names, has_star = _defined_names(file, construct=construct, handler=handler)
    if func not in names and not has_star:
        found = ", ".join(sorted(names)[:12]) or "none"
        if func == "py":
            fix = f"the part after the last '.' is the function name: write {'/'.join(parts)}.main"
        else:
            fix = (f"define 'def {func}(event, context):' (or '{func} = ...') at the top level of "
                   f"{rel_shown}, or name an existing function in the handler")
        raise fail(f"names {func!r}, which {file} does not define at top level (top-level names: {found})",
                   fix)
    import_root = root_real if src is None and code_dir != root_real else None
    return HandlerLocation(code_dir=code_dir, file=file, lambda_handler=lambda_handler, import_root=import_root)


def _case_mismatch(base: Path, parts: list[str]) -> tuple[str, str] | None:
    """On case-insensitive file systems, find a path component spelled differently on disk (a folder on a
    case-sensitive one is not listed: the path was found spelled exactly as given)."""
    current = base
    for part in parts:
        if not _folds_case(str(current)):
            current = current / part
            continue
        try:
            listing = os.listdir(current)
        except OSError:
            return None
        if part not in listing:
            lowered = part.casefold()
            for name in listing:
                if name.casefold() == lowered:
                    return part, name
            return None
        current = current / part
    return None


@functools.lru_cache(maxsize=256)
def _folds_case(folder: str) -> bool:
    """Whether the file system of ``folder`` finds names case-insensitively (asked once per folder): its
    own name with the case of its letters swapped names the same folder. Without letters: assume so."""
    head, name = os.path.split(folder)
    swapped = name.swapcase()
    if swapped == name:
        return True
    try:
        return os.path.samestat(os.stat(folder), os.stat(os.path.join(head, swapped)))
    except OSError:
        return False


def _defined_names(file: Path, *, construct: str, handler: str) -> tuple[set[str], bool]:
    """Top-level names bound by ``file`` (parsed, never imported) and whether it star-imports."""
    try:
        source = file.read_bytes()
    except OSError as exc:
        raise _config_error(construct, "handler", handler, f"points to {file}, which cannot be read ({exc})",
                            "make the file readable") from exc
    try:
        tree = ast.parse(source, filename=str(file))
    except SyntaxError as exc:
        line = f"line {exc.lineno}" if exc.lineno else "an unknown line"
        raise _config_error(
            construct, "handler", handler,
            f"points to {file}, which has a syntax error at {line}: {exc.msg}",
            f"fix the syntax error in {file} at {line}",
        ) from exc
    except ValueError as exc:  # null bytes (Python 3.11)
        raise _config_error(construct, "handler", handler,
                            f"points to {file}, which is not Python source ({exc})",
                            "point the handler at a Python source file") from exc
    names: set[str] = set()
    star = False

    def bind(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                bind(elt)
        elif isinstance(target, ast.Starred):
            bind(target.value)

    def visit(body: list[ast.stmt]) -> None:
        nonlocal star
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    bind(target)
            elif isinstance(node, ast.AnnAssign):
                if node.value is not None:  # a bare annotation binds nothing at run time
                    bind(node.target)
            elif isinstance(node, ast.AugAssign):
                bind(node.target)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name == "*":
                        star = True
                    else:
                        names.add(alias.asname or alias.name)
            elif isinstance(node, ast.If | ast.While):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.For | ast.AsyncFor):
                bind(node.target)
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.With | ast.AsyncWith):
                for item in node.items:
                    if item.optional_vars is not None:
                        bind(item.optional_vars)
                visit(node.body)
            elif isinstance(node, ast.Try | ast.TryStar):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.Match):
                for case in node.cases:
                    visit(case.body)
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.NamedExpr):
                bind(node.value.target)

    visit(tree.body)
    return names, star


# ---------------------------------------------------------------------------------------------
# Bundles
# ---------------------------------------------------------------------------------------------


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
    rel: str  # '/'-separated name in the zip
    src: str  # file to read
    size: int
    mtime_ns: int
    ctime_ns: int
    executable: bool
    sha256: str = ""  # hex, known for dependency files (from their manifest)


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
                digest = _listing_digest(files)
                _batch_listings[id(files)] = _Listing(files, digest)
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
    where = f"{construct}: " if construct else ""

    key_material = f"{code_real}\0{runtime}\0{architecture}"
    if entry_rel is not None:
        key_material += f"\0entry\0{entry_rel}\0{_helpers_stamp()}"
    if root_real is not None:
        key_material += f"\0root\0{root_real}"
    if include:
        key_material += f"\0include\0{base_real}\0" + "\0".join(include)
    entry_key = _sha256_hex(key_material.encode("utf-8", "surrogateescape"))

    def scan(folder: Path) -> tuple[int, list[_Entry]]:
        if batch is not None:
            return batch.scan(folder, cache)
        return time.time_ns(), _scan(folder, skip=(cache,), user_code=True)

    def fingerprint_of(files: list[_Entry], root_files: list[_Entry] | None, extra: list[_Entry]) -> str:
        fp = _fingerprint(code_real, runtime, architecture, files, entry_rel)
        if root_files is None and not extra:
            return fp
        material = [fp, None if root_files is None else _modules_digest(root_files),
                    [[e.rel, e.src, e.size, e.mtime_ns, e.ctime_ns, e.executable] for e in extra]]
        return _sha256_hex(json.dumps(material, separators=(",", ":")).encode("utf-8", "surrogateescape"))

    with _lock("code", str(cache), entry_key):
        scan_ns, files = scan(code_real)
        root_files = None if root_real is None else scan(root_real)[1]
        extra = _included(include, base_real, code_real, construct) if include else []
        fingerprint = fingerprint_of(files, root_files, extra)

        cached = _index_get(cache, entry_key)
        if cached and cached.get("fingerprint") == fingerprint and not cached.get("racy"):
            zip_path = cache / "zips" / f"{cached.get('content')}.zip"
            try:
                size = zip_path.stat().st_size
            except OSError:
                size = -1
            if size == cached.get("size") and isinstance(cached.get("sha256_b64"), str):
                _count("fingerprint_hit")
                for message in cached.get("warnings") or ():
                    _warn(message)
                return Bundle(path=zip_path, sha256_b64=cached["sha256_b64"], size=size)

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
                scan_ns = time.time_ns()
                files = _scan(code_real, skip=(cache,), user_code=True)
                root_files = None if root_real is None else _scan(root_real, skip=(cache,), user_code=True)
                extra = _included(include, base_real, code_real, construct) if include else []
                fingerprint = fingerprint_of(files, root_files, extra)
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


# --- what a bundle must not be ------------------------------------------------------------------


def _warn(message: str) -> None:
    """A warning on the ``sstdirect.packaging`` logger (with no logging set up, Python prints it to stderr)."""
    _log.warning("%s", message)


def _raise_missing(missing: list[_Missing], code_real: Path, root_real: Path | None, construct: str,
                   handler: str) -> None:
    """A ConfigError naming every import that resolves nowhere and runs when the handler is imported."""
    fatal = [m for m in missing if m.fatal]
    if not fatal:
        return
    where = f"{construct}: " if construct else ""
    shown = f"handler {handler!r}" if handler else "the handler"
    lines = [f"  - {m.shown(code_real, root_real)} line {m.line}: import {m.module!r}. "
             f"Fix: {_missing_fix(m, code_real, root_real)}, or guard the import with try/except ImportError"
             for m in fatal]
    raise ConfigError(
        f"{where}{shown} imports modules that are not in its bundle, its requirements.txt or the Lambda "
        f"runtime (on AWS the function would fail with Runtime.ImportModuleError):\n" + "\n".join(lines))


def _warn_missing(missing: list[_Missing], code_real: Path, root_real: Path | None, construct: str,
                  handler: str) -> list[str]:
    """Warn about each guarded or lazy import that resolves nowhere; the messages (kept in the index)."""
    where = f"{construct}: " if construct else ""
    shown = f"handler {handler!r}" if handler else "the handler"
    messages = [f"{where}{shown}: {m.shown(code_real, root_real)} line {m.line} imports {m.module!r} "
                f"(guarded or inside a function), which is not in the bundle, its requirements.txt or the "
                f"Lambda runtime: on AWS that import fails. Fix: {_missing_fix(m, code_real, root_real)}"
                for m in missing if not m.fatal]
    for message in messages:
        _warn(message)
    return messages


def _missing_fix(m: _Missing, code_real: Path, root_real: Path | None) -> str:
    top = m.module.split(".", 1)[0]
    req = code_real / "requirements.txt"
    try:
        from importlib.metadata import packages_distributions

        dists = packages_distributions().get(top) or []
    except Exception:  # pragma: no cover - a broken environment's metadata
        dists = []
    if dists:
        fix = (f"add {dists[0]!r} to {req} (it is installed here, but on Lambda only the bundle, the standard "
               f"library and boto3 are there)")
    else:
        base = root_real or code_real
        fix = (f"add the package that provides it to {req}, or create the module under {base} (at its package "
               f"path there, e.g. {'/'.join(m.module.split('.'))}.py)")
    other = (root_real or code_real) / "requirements.txt"
    if other != req and other.is_file():
        fix += f" (only the requirements.txt beside the handler is installed, not {other})"
    return fix


def _largest(entries: list[_Entry], n: int = 5) -> str:
    top = sorted(entries, key=lambda e: (-e.size, e.rel))[:n]
    return ", ".join(f"{e.rel} ({e.size / 1_000_000:.1f} MB)" for e in top)


def _merged(files: list[_Entry], deps: list[_Entry]) -> list[_Entry]:
    merged = {d.rel: d for d in deps}
    merged.update((f.rel, f) for f in files)
    return list(merged.values())


def _check_unzipped(files: list[_Entry], deps: list[_Entry], where: str) -> None:
    entries = _merged(files, deps)
    total = sum(e.size for e in entries)
    if total > MAX_UNZIPPED_BYTES:
        raise ConfigError(
            f"{where}the bundle is {total:,} bytes unzipped, over Lambda's limit of {MAX_UNZIPPED_BYTES:,} bytes "
            f"(250 MB). Largest files: {_largest(entries)}. Fix: move large data out of the code folder (to S3, "
            f"read at run time), drop unused packages from requirements.txt, or use a container image.")


def _check_zipped(bundle: Bundle, files: list[_Entry], deps: list[_Entry], where: str) -> None:
    if bundle.size <= MAX_ZIPPED_BYTES:
        return
    bundle.path.unlink(missing_ok=True)
    bundle.path.with_suffix(".json").unlink(missing_ok=True)
    raise ConfigError(
        f"{where}the bundle is {bundle.size:,} bytes zipped, over Lambda's limit of {MAX_ZIPPED_BYTES:,} bytes "
        f"(50 MB) for a direct upload. Largest files: {_largest(_merged(files, deps))}. Fix: move large data out "
        f"of the code folder (to S3, read at run time) or drop unused packages from requirements.txt.")


def _included(include: tuple[str, ...], base: Path, code_real: Path, construct: str) -> list[_Entry]:
    """The files ``include`` names (glob patterns under ``base``; a folder: every file below it), at their
    path under ``code_real`` when inside it, else under ``base``. Symlinks leaving ``base`` are skipped."""
    where = f"{construct}: " if construct else ""
    found: dict[str, _Entry] = {}
    for pattern in include:
        matched = False
        for path in sorted(base.glob(pattern)) if pattern not in ("", ".") else []:
            candidates = [path] if not path.is_dir() else sorted(p for p in path.rglob("*") if not p.is_dir())
            for p in candidates:
                real = p.resolve()
                if not real.is_relative_to(base) or not real.is_file():
                    continue
                st = real.stat()
                absolute = Path(os.path.abspath(p))
                rel = (absolute.relative_to(code_real) if absolute.is_relative_to(code_real)
                       else absolute.relative_to(base)).as_posix()
                found[rel] = _Entry(rel, str(real), st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                    bool(st.st_mode & 0o111))
                matched = True
        if not matched:
            raise ConfigError(f"{where}include {pattern!r} matches no file under {base}. Fix: name a file or "
                              f"folder (or a glob pattern) relative to {base}, or drop it from include.")
    return [found[k] for k in sorted(found)]


def check_include(include: tuple[str, ...], base: Path, construct: str) -> None:
    """ConfigError (naming ``construct``) unless every path or glob pattern of ``include`` matches a file under
    ``base`` (a Function's ``include=`` when it is made)."""
    _included(include, base, base, construct)


def _with_included(chosen: list[_Entry], extra: list[_Entry]) -> list[_Entry]:
    if not extra:
        return chosen
    merged = {e.rel: e for e in chosen}
    for e in extra:
        merged.setdefault(e.rel, e)
    return [merged[k] for k in sorted(merged)]


@dataclass
class _Listing:
    """What is derived from one folder scan shared by a Batch's functions (computed once, not per function)."""

    files: list[_Entry]
    digest: str
    module_index: dict[str, str] | None = None
    known_names: frozenset[str] | None = None
    by_rel: dict[str, _Entry] | None = None
    newest_ns: int | None = None
    modules_digest: str | None = None
    newest_module_ns: int | None = None


_batch_listings: dict[int, _Listing] = {}  # id(a Batch's scan) -> what is derived from it, while the Batch lives


def _batch_listing(files: list[_Entry]) -> _Listing | None:
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
        listing = [[f.rel, f.src, f.size, f.mtime_ns, f.ctime_ns] for f in fs if _is_module(f)]
        return _sha256_hex(json.dumps(listing, separators=(",", ":")).encode("utf-8", "surrogateescape"))

    return _per_listing(files, "modules_digest", make)


def _is_module(f: _Entry) -> bool:
    return f.rel.endswith(".py") or _EXTENSION.match(f.rel.rsplit("/", 1)[-1]) is not None


def _newest_ns(files: list[_Entry], *, modules_only: bool = False) -> int:
    """The latest mtime or ctime of a listing (of its importable files only, for an import root; once
    per Batch scan): is any of its files racily new?"""
    return _per_listing(files, "newest_module_ns" if modules_only else "newest_ns", lambda fs: max(
        (max(f.mtime_ns, f.ctime_ns) for f in fs if not modules_only or _is_module(f)), default=0))


def _listing_digest(files: list[_Entry]) -> str:
    """The hash of a folder listing's names and stat data (computed once per scan shared by a Batch)."""
    known = _batch_listing(files)
    if known is not None:
        return known.digest
    listing = [[f.rel, f.src, f.size, f.mtime_ns, f.ctime_ns, f.executable] for f in files]
    return _sha256_hex(json.dumps(listing, separators=(",", ":")).encode("utf-8", "surrogateescape"))


def _fingerprint(code_dir: Path, runtime: str, architecture: str, files: list[_Entry],
                 entry_rel: str | None = None) -> str:
    """Names and stat data only -- computing it reads no file contents.

    It covers every file of the folder even for an ``entry`` bundle: which files are traced depends
    on their contents, so any change anywhere has to trace again.
    """
    material: list = [_FORMAT, _COMPRESS_LEVEL, str(code_dir), runtime, architecture, _listing_digest(files)]
    if entry_rel is not None:
        material.append(["entry", entry_rel])
    return _sha256_hex(json.dumps(material, separators=(",", ":")).encode("utf-8", "surrogateescape"))


# --- import tracing (entry bundles) ------------------------------------------------------------

# Seen anywhere in a traced file (as a name, an attribute or an imported name), these load modules
# the tracer cannot follow: the bundle then takes every .py file of the folder.
_DYNAMIC_NAMES = frozenset({
    "__import__", "import_module", "spec_from_file_location", "spec_from_loader", "module_from_spec",
    "SourceFileLoader", "SourcelessFileLoader", "load_source", "load_module", "run_path", "run_module",
    "addsitedir", "extend_path", "iter_modules", "walk_packages", "__path__",
})
# Importing any of these modules counts as a dynamic import too.
_DYNAMIC_MODULES = frozenset({"pkgutil", "runpy", "imp"})
# A string constant that looks like a dotted module path ("app.settings", "app.main:handler"):
# frameworks import such names themselves, so the modules they name are traced too (size only).
_MODULE_STRING = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?::[A-Za-z_][\w.]*)?")


def _entry_rel(code_real: Path, entry: Path | str) -> str:
    """``entry``'s '/'-separated path inside ``code_real`` (its file name kept, even if a symlink)."""
    raw = Path(os.path.abspath(os.fspath(entry)))
    for candidate in (raw, raw.parent.resolve() / raw.name):
        if candidate != code_real and candidate.is_relative_to(code_real):
            rel = candidate.relative_to(code_real).as_posix()
            break
    else:
        raise ConfigError(f"handler file {raw} is not inside the code folder {code_real}. "
                          "Fix: pass the handler's .py file from that folder as entry.")
    if not rel.endswith(".py"):
        raise ConfigError(f"handler file {raw} is not a .py file. Fix: pass the handler's .py file as entry.")
    return rel


def _module_index(files: list[_Entry]) -> dict[str, str]:
    """Dotted module name -> zip path, for every importable ``.py`` file (packages win over modules);
    once per Batch scan (do not change the result)."""
    return _per_listing(files, "module_index", _make_module_index)


def _make_module_index(files: list[_Entry]) -> dict[str, str]:
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


def _module_package(rel: str) -> str:
    """The package relative imports in ``rel`` are resolved against."""
    parts = rel[:-3].split("/")
    return ".".join(parts[:-1])  # 'a/b.py' -> 'a'; 'a/__init__.py' -> 'a'


# How an import statement runs when its module is imported: ``_TOP`` unconditionally, ``_GUARDED``
# under a ``try`` that catches ImportError or in an ``if``/loop/``match`` branch, ``_LAZY`` inside a
# function, ``_NEVER`` under ``if TYPE_CHECKING:`` or ``if __name__ == "__main__":`` (and a module
# named only by a string constant).
_NEVER, _LAZY, _GUARDED, _TOP = 0, 1, 2, 3
_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


@dataclass(frozen=True)
class _Want:
    """A module name a traced file may import. ``checked``: the import fails unless the module exists
    (``import a.b`` needs ``a.b``; ``from a.b import x`` needs ``a.b`` but ``a.b.x`` may be a name)."""

    name: str
    rank: int
    checked: bool
    line: int
    star: bool = False


def _catches_import_error(node: ast.Try | ast.TryStar) -> bool:
    def names(expr: ast.expr | None) -> list[str]:
        if expr is None:
            return ["BaseException"]  # a bare except
        if isinstance(expr, ast.Tuple):
            return [n for e in expr.elts for n in names(e)]
        if isinstance(expr, ast.Name):
            return [expr.id]
        return [expr.attr] if isinstance(expr, ast.Attribute) else []

    return any(n in _IMPORT_ERRORS for h in node.handlers for n in names(h.type))


def _never_runs(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` and ``if __name__ == "__main__":`` bodies never run on Lambda."""
    if isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__":
        return any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _conditional(node: ast.AST, field: str) -> bool:
    """Whether ``node``'s ``field`` may not run: a guarded ``try`` body, except and else blocks, loops, cases."""
    if isinstance(node, ast.Try | ast.TryStar):
        return field in ("handlers", "orelse") or (field == "body" and _catches_import_error(node))
    return isinstance(node, ast.For | ast.AsyncFor | ast.While | ast.match_case) and field in ("body", "orelse")


def _import_nodes(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, int]]:
    """Every import statement of ``tree`` with how it runs (``_TOP``, ``_GUARDED``, ``_LAZY``, ``_NEVER``)."""
    out: list[tuple[ast.Import | ast.ImportFrom, int]] = []
    stack: list[tuple[ast.AST, int]] = [(tree, _TOP)]
    while stack:
        node, rank = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append((node, rank))
            continue
        for field, value in ast.iter_fields(node):
            r = rank
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and field == "body":
                r = min(rank, _LAZY)
            elif isinstance(node, ast.If) and field in ("body", "orelse"):
                r = _NEVER if field == "body" and _never_runs(node.test) else min(rank, _GUARDED)
            elif _conditional(node, field):
                r = min(rank, _GUARDED)
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    stack.append((child, r))
    out.sort(key=lambda item: (item[0].lineno, item[0].col_offset))
    return out


_PATH_NAMES = frozenset({"addsitedir", "extend_path"})


def _imports(tree: ast.AST, package: str) -> tuple[list[_Want], str]:
    """The module names ``tree`` may import (with how each import runs) and whether it also imports
    dynamically (then the tracer cannot know every module it loads): ``""`` no, ``"import"`` yes,
    ``"path"`` it changes where imports resolve (``sys.path``), so no import can be called missing."""
    wanted: list[_Want] = []
    dynamic = ""

    def flag(kind: str) -> None:
        nonlocal dynamic
        if dynamic != "path":
            dynamic = kind

    for node, rank in _import_nodes(tree):
        line = node.lineno
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in _DYNAMIC_MODULES:
                    flag("import")
                wanted.append(_Want(alias.name, rank, True, line))
            continue
        if node.level:
            parts = package.split(".") if package else []
            if len(parts) < node.level:
                continue  # beyond the top-level package: fails on Lambda as well
            base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
            if base == "sys" and any(a.name in ("path", "*") for a in node.names):
                flag("path")
            elif base.split(".")[0] in _DYNAMIC_MODULES:
                flag("import")
        if base:
            wanted.append(_Want(base, rank, True, line))
        for alias in node.names:
            if alias.name in _DYNAMIC_NAMES:
                flag("path" if alias.name in _PATH_NAMES else "import")
            if alias.name == "*":
                wanted.append(_Want(base, rank, False, line, star=True))
            else:
                wanted.append(_Want(f"{base}.{alias.name}" if base else alias.name, rank, False, line))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id in _DYNAMIC_NAMES:
                flag("path" if node.id in _PATH_NAMES else "import")
        elif isinstance(node, ast.Attribute):
            if node.attr in _DYNAMIC_NAMES:
                flag("path" if node.attr in _PATH_NAMES else "import")
            if node.attr == "path" and isinstance(node.value, ast.Name) and node.value.id == "sys":
                flag("path")  # sys.path changes make imports resolve elsewhere
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) <= 200
              and ("." in node.value or ":" in node.value)
              and (match := _MODULE_STRING.fullmatch(node.value))):
            wanted.append(_Want(match.group(1), _NEVER, False, getattr(node, "lineno", 0)))
    return wanted, dynamic


def _read_source(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise _ChangedWhileZipping(path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path} while bundling: {exc}. Fix: make it readable.") from exc
    _count("files_hashed")
    return data


# sstdirect's own modules a handler may import at run time, shipped in its bundle when it does (and
# the code folder has no ``sstdirect`` of its own): zip path → source file.
_HERE = Path(__file__).resolve().parent
RUNTIME_HELPERS: dict[str, dict[str, Path]] = {
    "sstdirect.graphql": {"sstdirect/__init__.py": _HERE / "_lambda_init.py",
                          "sstdirect/graphql.py": _HERE / "graphql.py"},
}


def _helper_entries(names: set[str]) -> list[_Entry]:
    out: dict[str, _Entry] = {}
    for name in sorted(names):
        for rel, src in RUNTIME_HELPERS[name].items():
            st = src.stat()
            out[rel] = _Entry(rel, str(src), st.st_size, st.st_mtime_ns, st.st_ctime_ns, False)
    return list(out.values())


def _helpers_stamp() -> str:
    """Changes when an installed helper changes (so a cached zip that ships it is rebuilt)."""
    return ",".join(f"{src.stat().st_size}:{src.stat().st_mtime_ns}"
                    for files in RUNTIME_HELPERS.values() for src in files.values())


#: Modules every Python Lambda runtime provides besides the standard library: "The Lambda Python
#: runtimes include the AWS SDK for Python (Boto3) and its dependencies"
#: (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html), and the runtime interface client.
LAMBDA_RUNTIME_MODULES = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six",
                                    "awslambdaric"})
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)
_EXTENSION = re.compile(r"^([A-Za-z_]\w*)\.(?:[\w.-]*\.)?(?:so|pyd)$")


@dataclass(frozen=True)
class _Missing:
    """An import of a traced file that resolves nowhere: ``fatal`` when it runs unconditionally while
    the handler is imported (Lambda's ``Runtime.ImportModuleError``)."""

    file: str  # the importing file: its path under the code folder, or under the import root (``in_root``)
    line: int
    module: str
    fatal: bool
    in_root: bool = False

    def shown(self, code_real: Path, root_real: Path | None) -> str:
        """The file's path from the app's root when there is one (``src/notes/list.py``, ``core/db.py``)."""
        if self.in_root or root_real is None or not code_real.is_relative_to(root_real):
            return self.file
        return (code_real.relative_to(root_real) / self.file).as_posix()


def _known_names(files: list[_Entry]) -> frozenset[str]:
    """Every module name importable from a folder listing, with every parent (namespace) package (once
    per Batch scan)."""
    return _per_listing(files, "known_names", _make_known_names)


def _make_known_names(files: list[_Entry]) -> frozenset[str]:
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


def _dependency_names(deps: list[_Entry], requirements: bytes | None) -> frozenset[str]:
    """Top-level modules of the installed requirements, plus every requirement's own name (normalised):
    a package whose import name differs from its distribution name is found by the former."""
    names: set[str] = set()
    for d in deps:
        top = d.rel.split("/", 1)[0]
        if top.endswith((".dist-info", ".egg-info", ".data")) or top in ("bin", "__pycache__"):
            continue
        if top.endswith(".py"):
            top = top[:-3]
        elif (match := _EXTENSION.match(top)) is not None:
            top = match.group(1)
        if top.isidentifier():
            names.add(top)
    for line in _requirement_lines(requirements or b""):
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", line)
        if match and not line.startswith("-"):
            dist = re.sub(r"[-_.]+", "_", match.group(1)).lower()
            names.add(dist)
            names.update(_local_distributions().get(dist, ()))  # PyYAML -> yaml, when installed here
    return frozenset(names)


@functools.lru_cache(maxsize=1)
def _local_distributions() -> dict[str, frozenset[str]]:
    """Normalised distribution name -> the top-level modules it installs, for this interpreter's packages."""
    from importlib.metadata import packages_distributions

    out: dict[str, set[str]] = collections.defaultdict(set)
    try:
        for module, dists in packages_distributions().items():
            for dist in dists:
                out[re.sub(r"[-_.]+", "_", dist).lower()].add(module)
    except Exception:  # pragma: no cover - broken metadata of some installed package
        return {}
    return {k: frozenset(v) for k, v in out.items()}


def _select(code_real: Path, files: list[_Entry], entry_rel: str, root_files: list[_Entry] | None = None,
            deps: frozenset[str] | None = None) -> tuple[list[_Entry], list[_Missing]]:
    """The files of an ``entry`` bundle: traced ``.py`` files plus every other file of the code folder, and
    the imports of the traced files that resolve nowhere (only when ``deps`` is given: the top-level names
    the installed requirements provide).

    Modules resolve as Lambda's ``sys.path`` finds them: the code folder first, then ``root_files`` (the
    import root, whose modules go in at their path under it, with their parent packages). The traced files
    come back with the hash of the exact bytes that were parsed, so the zip writer notices (and the build
    is retried) if one changes before it is zipped.
    """
    by_rel = _by_rel(files)
    if entry_rel not in by_rel:
        raise ConfigError(f"handler file {code_real / entry_rel} is missing or excluded from the code folder "
                          f"{code_real}. Fix: point the handler at an existing .py file that is bundled.")
    origins: list[tuple[dict[str, _Entry], dict[str, str]]] = [(by_rel, _module_index(files))]
    if root_files is not None:
        origins.append((_by_rel(root_files), _module_index(root_files)))
    Node = tuple[int, str]  # (origin, path under it)
    read: dict[Node, _Entry] = {}
    wants_of: dict[Node, list[_Want]] = {}
    edges: dict[Node, list[tuple[Node, int]]] = collections.defaultdict(list)
    chosen: set[Node] = set()
    queue: list[Node] = []
    helpers: set[str] = set()
    local_sstdirect = any("sstdirect" in index for _, index in origins)

    def add(node: Node, out: list[Node]) -> None:
        origin, rel = node
        parts = rel.split("/")
        for i in range(1, len(parts)):  # importing a.b.c runs a/__init__.py and a/b/__init__.py
            init = "/".join(parts[:i]) + "/__init__.py"
            if init != rel and init in origins[origin][0]:
                add((origin, init), out)
        out.append(node)
        if node not in chosen:
            chosen.add(node)
            queue.append(node)

    def resolve(name: str) -> list[Node]:
        if not local_sstdirect:
            helpers.update(h for h in RUNTIME_HELPERS if name == h or name.startswith(h + "."))
        out: list[Node] = []
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # `import a.b.c` imports a, a.b and a.b.c
            prefix = ".".join(parts[:i])
            for origin, (_, index) in enumerate(origins):
                rel = index.get(prefix)
                if rel is not None:
                    add((origin, rel), out)
                    break
        return out

    entry: Node = (0, entry_rel)
    first: list[Node] = []
    add(entry, first)
    edges[entry].extend((node, _TOP) for node in first if node != entry)
    dynamic = everything = path_changed = False
    while queue:
        node = queue.pop()
        f = origins[node[0]][0][node[1]]
        data = _read_source(f.src)
        read[node] = _Entry(f.rel, f.src, len(data), f.mtime_ns, f.ctime_ns, f.executable, _sha256_hex(data))
        try:
            tree = ast.parse(data, filename=f.src)
            wanted, file_dynamic = _imports(tree, _module_package(node[1]))
        except (SyntaxError, ValueError, RecursionError):
            dynamic = True  # cannot tell what it imports
            continue
        wants_of[node] = wanted
        dynamic = dynamic or bool(file_dynamic)
        path_changed = path_changed or file_dynamic == "path"
        if file_dynamic and not everything:
            everything = True
            for rel in by_rel:  # every .py file of the code folder goes in; trace what they import too
                if rel.endswith(".py"):
                    add((0, rel), [])
        for want in wanted:
            for target in resolve(want.name):
                edges[node].append((target, want.rank))
            if want.star:  # `from pkg import *` may import any submodule named in __all__
                prefix = want.name + "."
                for _, index in origins:
                    for name in [n for n in index if n.startswith(prefix) and "." not in n[len(prefix):]]:
                        for target in resolve(name):
                            edges[node].append((target, want.rank))
    if dynamic:
        _count("trace_fallback")
    code_entries = ([read.get((0, f.rel), f) for f in files] if dynamic else
                    [read.get((0, f.rel), f) for f in files if (0, f.rel) in chosen or not f.rel.endswith(".py")])
    taken = {e.rel for e in code_entries}
    root_entries = sorted((read.get(node, origins[1][0][node[1]]) for node in chosen
                           if node[0] == 1 and node[1] not in taken), key=lambda e: e.rel)
    entries = code_entries + root_entries + [h for h in _helper_entries(helpers) if h.rel not in taken]
    if deps is None or path_changed:
        return entries, []

    def reach(min_rank: int) -> set[Node]:
        seen, stack = {entry}, [entry]
        while stack:
            for target, rank in edges.get(stack.pop(), ()):
                if rank >= min_rank and target not in seen:
                    seen.add(target)
                    stack.append(target)
        return seen

    strict, reached = reach(_TOP), reach(_LAZY)
    listings = [files] + ([root_files] if root_files is not None else [])
    missing: list[_Missing] = []
    for node in sorted(reached):
        for want in wants_of.get(node, ()):
            if want.checked and want.rank > _NEVER and not _resolvable(want.name, listings, deps, helpers):
                missing.append(_Missing(node[1], want.line, want.name, node in strict and want.rank == _TOP,
                                        in_root=node[0] == 1))
    return entries, missing


def _resolvable(name: str, listings: list[list[_Entry]], deps: frozenset[str], helpers: set[str]) -> bool:
    """Whether ``import name`` succeeds on Lambda with this bundle (the folder listings it comes from)."""
    top = name.split(".", 1)[0]
    if top in _STDLIB or top in LAMBDA_RUNTIME_MODULES or top in deps:
        return True
    if any(name in _known_names(files) for files in listings):
        return True
    if top == "sstdirect" and helpers:
        return name == "sstdirect" or any(name == h or name.startswith(h + ".") for h in helpers)
    return False


def _python_version(runtime: str) -> str:
    match = _RUNTIME_RE.fullmatch(runtime) if isinstance(runtime, str) else None
    if not match:
        raise ConfigError(f"runtime {runtime!r} is not a Python Lambda runtime. "
                          "Fix: use a runtime such as 'python3.12'.")
    return f"{match.group(1)}.{match.group(2)}"


def _platform(architecture: str) -> str:
    if architecture not in _PLATFORMS:
        raise ConfigError(f"architecture {architecture!r} is not a Lambda architecture. "
                          "Fix: use 'x86_64' or 'arm64'.")
    return _PLATFORMS[architecture]


def _is_within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _scan(top: Path, *, skip: tuple[Path, ...], user_code: bool) -> list[_Entry]:
    """Every file to bundle under ``top``, sorted by zip name.

    ``user_code`` applies the full exclude list; dependency folders only drop byte-code caches.
    Symlinks are followed only when they resolve inside ``top`` (cycles are cut).
    """
    top_real = os.path.realpath(top)
    skip_real = {os.path.realpath(p) for p in skip}
    found: dict[str, _Entry] = {}

    def excluded_dir(name: str, real: str) -> bool:
        if real in skip_real:
            return True
        if name == "__pycache__":
            return True
        if not user_code:
            return False
        return (name in _EXCLUDED_DIRS or name.startswith(".env") or name in _SECRET_DIRS
                or os.path.isfile(os.path.join(real, "pyvenv.cfg")))

    def excluded_file(name: str, path: str) -> bool:
        if name.endswith(_EXCLUDED_SUFFIXES):
            return True
        if not user_code:
            return False
        return name in _EXCLUDED_FILES or _is_secret_file(name, path)

    def walk(dir_real: str, prefix: str, ancestors: frozenset[str]) -> None:
        try:
            with os.scandir(dir_real) as it:
                children = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise ConfigError(f"cannot read folder {dir_real} while bundling {top}: {exc}. "
                              "Fix: make it readable or move it out of the code folder.") from exc
        for child in children:
            name = child.name
            rel = prefix + name
            try:
                if child.is_symlink():
                    target = os.path.realpath(child.path)
                    if not _is_within(target, top_real) or not os.path.exists(target):
                        continue  # outside the code folder, or dangling: never followed
                    st = os.stat(target)
                    source = target
                else:
                    st = child.stat(follow_symlinks=False)
                    source = child.path
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                real = os.path.realpath(source)
                if real in ancestors or excluded_dir(name, real):
                    continue
                walk(real, rel + "/", ancestors | {real})
            elif stat.S_ISREG(st.st_mode):
                if excluded_file(name, source):
                    continue
                found[rel] = _Entry(
                    rel=rel, src=source, size=st.st_size, mtime_ns=st.st_mtime_ns,
                    ctime_ns=st.st_ctime_ns, executable=bool(st.st_mode & 0o111),
                )
            # sockets, fifos, devices: never bundled

    walk(top_real, "", frozenset({top_real}))
    return [found[k] for k in sorted(found)]


def _is_secret_file(name: str, path: str) -> bool:
    """A file never bundled unless ``include=`` names it: ``.env*``, credential files, SSH keys, and a
    ``*.pem``/``*.key`` file holding a private key (read in chunks; an unreadable one counts as a key)."""
    if name.startswith(".env") or name in _SECRET_FILES or name.startswith(_SECRET_PREFIXES):
        return True
    if not name.lower().endswith(_KEY_SUFFIXES):
        return False
    tail = b""
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                if _PRIVATE_KEY_MARK.search(tail + chunk):
                    return True
                tail = chunk[-64:]
    except OSError:
        return True
    return False


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hash_file(path: str) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        raise _ChangedWhileZipping(path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path} while bundling: {exc}. Fix: make it readable.") from exc
    _count("files_hashed")
    return digest.hexdigest()


class _ChangedWhileZipping(Exception):
    pass


def _bundle_from_contents(cache: Path, files: list[_Entry], deps: list[_Entry]) -> tuple[Bundle, str]:
    """Hash the files' contents; reuse the zip with that content hash, or build it.

    Raises ``_ChangedWhileZipping`` when a file disappears or changes between hashing and zipping.
    """
    merged = {d.rel: d for d in deps}
    for f in files:
        merged[f.rel] = f if f.sha256 else _Entry(f.rel, f.src, f.size, f.mtime_ns, f.ctime_ns,
                                                  f.executable, _hash_file(f.src))
    entries = [merged[k] for k in sorted(merged)]
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
    digest = hashlib.sha256()
    try:
        with open(zip_path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    meta = {"sha256_b64": base64.b64encode(digest.digest()).decode(), "size": size}
    _atomic_write(meta_path, json.dumps(meta).encode())
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
            digest = hashlib.sha256()
            size = 0
            while chunk := raw.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        os.chmod(tmp, 0o644)
        os.replace(tmp, zip_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    meta = {"sha256_b64": base64.b64encode(digest.digest()).decode(), "size": size}
    _atomic_write(zip_path.with_suffix(".json"), json.dumps(meta).encode())
    return Bundle(path=zip_path, sha256_b64=meta["sha256_b64"], size=size)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


# --- the index ---------------------------------------------------------------------------------


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
    entry = _index_load(cache).get(key)
    return entry if isinstance(entry, dict) else None


def _index_put(cache: Path, key: str, value: dict) -> None:
    _index_put_many(cache, {key: value})


def _index_put_many(cache: Path, values: dict[str, dict]) -> None:
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


# --- dependencies ------------------------------------------------------------------------------


def run_pip(args: list[str], *, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pip ARGS`` with the current interpreter (tests replace this function)."""
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def _requirement_lines(data: bytes) -> Iterator[str]:
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue
        line = re.split(r"\s+#", line, maxsplit=1)[0].strip()
        if line:
            yield line


def _deps_key(req: Path, data: bytes, runtime: str, architecture: str) -> str:
    """Requirements content (plus files it includes with -r/-c), runtime and architecture."""
    nested = []
    for line in _requirement_lines(data):
        m = re.match(r"^(?:-r|-c|--requirement|--constraint)(?:\s+|=)?(\S+)", line)
        if m:
            path = (req.parent / m.group(1))
            try:
                nested.append([m.group(1), _sha256_hex(path.read_bytes())])
            except OSError:
                nested.append([m.group(1), None])
    material = json.dumps(["deps/1", _sha256_hex(data), nested, runtime, architecture])
    return _sha256_hex(material.encode())[:32]


def _load_manifest(folder: Path) -> list[dict] | None:
    try:
        data = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, list) else None


def _dependencies(code_dir: Path, cache: Path, runtime: str, architecture: str, py_version: str,
                  platform: str) -> list[_Entry]:
    req = code_dir / "requirements.txt"
    if not req.is_file():
        return []
    data = req.read_bytes()
    if not any(True for _ in _requirement_lines(data)):
        return []  # empty or comments only: nothing to install
    key = _deps_key(req, data, runtime, architecture)
    final = cache / "deps" / key
    with _lock("deps", str(cache), key):
        manifest = _load_manifest(final)
        if manifest is None:
            _install(req, final, py_version=py_version, platform=platform)
            _count("deps_installed")
            manifest = _load_manifest(final)
            if manifest is None:  # pragma: no cover - another process replaced it badly
                raise ConfigError(f"the dependency cache {final} for {req} is unreadable. Fix: delete it.")
        else:
            _count("deps_reused")
    site = final / "site"
    return [
        _Entry(rel=f["path"], src=str(site / f["path"]), size=f["size"], mtime_ns=0, ctime_ns=0,
               executable=bool(f["executable"]), sha256=f["sha256"])
        for f in manifest
    ]


def _install(req: Path, final: Path, *, py_version: str, platform: str) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".tmp-{final.name}-{uuid.uuid4().hex}"
    site = tmp / "site"
    site.mkdir(parents=True)
    args = [
        "install", "-r", str(req), "--target", str(site),
        "--platform", platform, "--implementation", "cp", "--python-version", py_version,
        "--only-binary=:all:", "--upgrade", "--no-compile", "--quiet",
        "--disable-pip-version-check", "--no-input",
    ]
    try:
        try:
            proc = run_pip(args, cwd=req.parent)
        except OSError as exc:
            raise ConfigError(f"{req}: could not run pip ({exc}). "
                              f"Fix: install pip into {sys.executable}'s environment.") from exc
        if proc.returncode != 0:
            output = (proc.stderr or "").strip() or (proc.stdout or "").strip()
            tail = "\n".join(output.splitlines()[-25:])[-3000:]
            raise ConfigError(
                f"{req}: installing its packages for Lambda ({platform}, CPython {py_version}) failed "
                f"(pip exit code {proc.returncode}):\n{tail}\n"
                f"Fix: check the package names and versions in {req.name}; every package needs a binary "
                f"wheel for {platform} / CPython {py_version} (pip runs with --only-binary=:all:)."
            )
        files = _scan(site, skip=(), user_code=False)
        manifest = [
            {"path": f.rel, "size": f.size, "executable": f.executable, "sha256": _hash_file(f.src)}
            for f in files
        ]
        (tmp / "manifest.json").write_text(json.dumps({"requirements": str(req), "files": manifest}))
        try:
            os.rename(tmp, final)
        except OSError:
            if _load_manifest(final) is not None:
                return  # another process finished the same install first; ours is discarded below
            shutil.rmtree(final, ignore_errors=True)  # a broken leftover
            os.rename(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
