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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sstdirect.errors import ConfigError

__all__ = [
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
    Lambda's ``Handler`` field, relative to ``code_dir``.
    """

    code_dir: Path
    file: Path
    lambda_handler: str


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
    on Lambda).  With ``src`` the path is relative to ``root/src``, which is the zipped folder, and
    ``lambda_handler`` is the dotted module path (``"api/list.main"`` -> ``"api.list.main"``).

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
    return HandlerLocation(code_dir=code_dir, file=file, lambda_handler=lambda_handler)


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
) -> Bundle:
    """Zip ``code_dir`` (plus its ``requirements.txt`` packages) deterministically; return the cached zip.

    Same included files -> byte-identical zip.  Files excluded: ``.env``/``.env.*`` (files or folders), ``.git``,
    ``.sstdirect``, ``__pycache__``, ``*.pyc``, virtual environments, ``node_modules`` and tool caches;
    symlinks pointing outside ``code_dir`` are skipped.  A file of the code folder wins over an
    installed dependency with the same path.

    With ``entry`` (the handler's ``.py`` file, inside ``code_dir``) the zip holds only the ``.py``
    files reachable from it by static import tracing (parsed with :mod:`ast`, never imported; modules
    resolved with ``code_dir`` as the ``sys.path`` root; every parent package's ``__init__.py`` is
    included and traced too; imports that do not resolve inside ``code_dir`` are left to the runtime
    and the installed requirements), every non-``.py`` file of the folder, and the requirements.  If
    a traced file imports dynamically (``importlib.import_module``, ``__import__``,
    ``spec_from_file_location``, ``pkgutil``, ``runpy``, ``sys.path`` changes, ...) or cannot be
    parsed, every ``.py`` file is included instead (counted as ``stats["trace_fallback"]``).
    Without ``entry`` the whole folder is zipped.

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
    cache = Path(cache_dir).resolve()
    (cache / "zips").mkdir(parents=True, exist_ok=True)

    key_material = f"{code_real}\0{runtime}\0{architecture}"
    if entry_rel is not None:
        key_material += f"\0entry\0{entry_rel}\0{_helpers_stamp()}"
    entry_key = _sha256_hex(key_material.encode("utf-8", "surrogateescape"))
    with _lock("code", str(cache), entry_key):
        if batch is not None:
            scan_ns, files = batch.scan(code_real, cache)
        else:
            scan_ns = time.time_ns()
            files = _scan(code_real, skip=(cache,), user_code=True)
        fingerprint = _fingerprint(code_real, runtime, architecture, files, entry_rel)

        cached = _index_get(cache, entry_key)
        if cached and cached.get("fingerprint") == fingerprint and not cached.get("racy"):
            zip_path = cache / "zips" / f"{cached.get('content')}.zip"
            try:
                size = zip_path.stat().st_size
            except OSError:
                size = -1
            if size == cached.get("size") and isinstance(cached.get("sha256_b64"), str):
                _count("fingerprint_hit")
                return Bundle(path=zip_path, sha256_b64=cached["sha256_b64"], size=size)

        deps = _dependencies(code_real, cache, runtime, architecture, py_version, platform)
        for attempt in range(3):
            try:
                chosen = files if entry_rel is None else _select(code_real, files, entry_rel)
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
                fingerprint = _fingerprint(code_real, runtime, architecture, files, entry_rel)
        racy = any(max(f.mtime_ns, f.ctime_ns) >= scan_ns - RACY_WINDOW_NS for f in files)
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
        if batch is not None:
            batch.put(cache, entry_key, record)
        else:
            _index_put(cache, entry_key, record)
        return bundle


@dataclass
class _Listing:
    """What is derived from one folder scan shared by a Batch's functions (computed once, not per function)."""

    files: list[_Entry]
    digest: str
    module_index: dict[str, str] | None = None


_batch_listings: dict[int, _Listing] = {}  # id(a Batch's scan) -> what is derived from it, while the Batch lives


def _batch_listing(files: list[_Entry]) -> _Listing | None:
    known = _batch_listings.get(id(files))
    return known if known is not None and known.files is files else None


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
    known = _batch_listing(files)
    if known is not None:
        if known.module_index is None:
            known.module_index = _make_module_index(files)
        return known.module_index
    return _make_module_index(files)


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


def _imports(tree: ast.AST, package: str) -> tuple[list[str], list[str]] | None:
    """Module names ``tree`` may import and packages it star-imports from; ``None`` if dynamic."""
    wanted: list[str] = []
    stars: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in _DYNAMIC_MODULES:
                    return None
                wanted.append(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                if len(parts) < node.level:
                    continue  # beyond the top-level package: fails on Lambda as well
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
                if base.split(".")[0] in _DYNAMIC_MODULES or (
                        base == "sys" and any(a.name in ("path", "*") for a in node.names)):
                    return None
            wanted.append(base)
            for alias in node.names:
                if alias.name in _DYNAMIC_NAMES:
                    return None
                if alias.name == "*":
                    stars.append(base)
                else:
                    wanted.append(f"{base}.{alias.name}")
        elif isinstance(node, ast.Name):
            if node.id in _DYNAMIC_NAMES:
                return None
        elif isinstance(node, ast.Attribute):
            if node.attr in _DYNAMIC_NAMES:
                return None
            if node.attr == "path" and isinstance(node.value, ast.Name) and node.value.id == "sys":
                return None  # sys.path changes make imports resolve elsewhere
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) <= 200
              and ("." in node.value or ":" in node.value)
              and (match := _MODULE_STRING.fullmatch(node.value))):
            wanted.append(match.group(1))
    return wanted, stars


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


def _select(code_real: Path, files: list[_Entry], entry_rel: str) -> list[_Entry]:
    """The files of an ``entry`` bundle: traced ``.py`` files plus every other file.

    The traced files come back with the hash of the exact bytes that were parsed, so the zip
    writer notices (and the build is retried) if one changes before it is zipped.
    """
    by_rel = {f.rel: f for f in files}
    if entry_rel not in by_rel:
        raise ConfigError(f"handler file {code_real / entry_rel} is missing or excluded from the code folder "
                          f"{code_real}. Fix: point the handler at an existing .py file that is bundled.")
    modules = _module_index(files)
    read: dict[str, _Entry] = {}
    chosen: set[str] = set()
    queue: list[str] = []

    def add(rel: str) -> None:
        if rel in chosen:
            return
        chosen.add(rel)
        queue.append(rel)
        parts = rel.split("/")
        for i in range(1, len(parts)):  # importing a.b.c runs a/__init__.py and a/b/__init__.py
            init = "/".join(parts[:i]) + "/__init__.py"
            if init in by_rel:
                add(init)

    helpers: set[str] = set()

    def want(name: str) -> None:
        if "sstdirect" not in modules:
            helpers.update(h for h in RUNTIME_HELPERS if name == h or name.startswith(h + "."))
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # `import a.b.c` imports a, a.b and a.b.c
            rel = modules.get(".".join(parts[:i]))
            if rel is not None:
                add(rel)

    add(entry_rel)
    dynamic = False
    while queue:
        rel = queue.pop()
        f = by_rel[rel]
        data = _read_source(f.src)
        read[rel] = _Entry(rel, f.src, len(data), f.mtime_ns, f.ctime_ns, f.executable, _sha256_hex(data))
        try:
            tree = ast.parse(data, filename=f.src)
        except (SyntaxError, ValueError, RecursionError):
            dynamic = True  # cannot tell what it imports
            break
        found = _imports(tree, _module_package(rel))
        if found is None:
            dynamic = True
            break
        wanted, stars = found
        for name in wanted:
            want(name)
        for package in stars:  # `from pkg import *` may import any submodule named in __all__
            want(package)
            prefix = package + "."
            for name in modules:
                if name.startswith(prefix) and "." not in name[len(prefix):]:
                    want(name)
    if dynamic:
        _count("trace_fallback")
        return [read.get(f.rel, f) for f in files]
    chosen_files = [read.get(f.rel, f) for f in files if f.rel in chosen or not f.rel.endswith(".py")]
    return chosen_files + _helper_entries(helpers)


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
        return (name in _EXCLUDED_DIRS or name.startswith(".env.")
                or os.path.isfile(os.path.join(real, "pyvenv.cfg")))

    def excluded_file(name: str) -> bool:
        if name.endswith(_EXCLUDED_SUFFIXES):
            return True
        if not user_code:
            return False
        return name in _EXCLUDED_FILES or name.startswith(".env.")

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
                if excluded_file(name):
                    continue
                found[rel] = _Entry(
                    rel=rel, src=source, size=st.st_size, mtime_ns=st.st_mtime_ns,
                    ctime_ns=st.st_ctime_ns, executable=bool(st.st_mode & 0o111),
                )
            # sockets, fifos, devices: never bundled

    walk(top_real, "", frozenset({top_real}))
    return [found[k] for k in sorted(found)]


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
