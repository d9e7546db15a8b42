"""A code folder's ``requirements.txt``: installed once per (content, runtime, architecture) with pip for the
Lambda platform, cached with a manifest; and the module names the requirements provide."""

from __future__ import annotations

import collections
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from sstdirect.errors import ConfigError

from .files import _EXTENSION, _count, _Entry, _hash_file, _lock, _sha256_hex
from .sources import _scan

_RUNTIME_RE = re.compile(r"python(\d+)\.(\d+)")
_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}


def _python_version(runtime: str) -> str:
    """``"python3.12"`` -> ``"3.12"`` (pip's ``--python-version``); ConfigError for another runtime."""
    match = _RUNTIME_RE.fullmatch(runtime) if isinstance(runtime, str) else None
    if not match:
        raise ConfigError(f"runtime {runtime!r} is not a Python Lambda runtime. "
                          "Fix: use a runtime such as 'python3.12'.")
    return f"{match.group(1)}.{match.group(2)}"


def _platform(architecture: str) -> str:
    """A Lambda architecture's wheel platform (pip's ``--platform``); ConfigError for another one."""
    if architecture not in _PLATFORMS:
        raise ConfigError(f"architecture {architecture!r} is not a Lambda architecture. "
                          "Fix: use 'x86_64' or 'arm64'.")
    return _PLATFORMS[architecture]


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
            dist = _normalised(match.group(1))
            names.add(dist)
            names.update(_local_distributions().get(dist, ()))  # PyYAML -> yaml, when installed here
    return frozenset(names)


def _normalised(dist: str) -> str:
    """A distribution name as PEP 503 compares it, with ``_`` (``PyYAML`` -> ``pyyaml``, ``a-b.c`` -> ``a_b_c``)."""
    return re.sub(r"[-_.]+", "_", dist).lower()


@functools.lru_cache(maxsize=1)
def _local_distributions() -> dict[str, frozenset[str]]:
    """Normalised distribution name -> the top-level modules it installs, for this interpreter's packages."""
    from importlib.metadata import packages_distributions

    out: dict[str, set[str]] = collections.defaultdict(set)
    try:
        for module, dists in packages_distributions().items():
            for dist in dists:
                out[_normalised(dist)].add(module)
    except Exception:  # pragma: no cover - broken metadata of some installed package
        return {}
    return {k: frozenset(v) for k, v in out.items()}


def run_pip(args: list[str], *, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pip ARGS`` with the current interpreter (tests replace this function)."""
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def _requirement_lines(data: bytes) -> Iterator[str]:
    """The lines of a requirements file that say something (comments and blank lines dropped)."""
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
    """The file list of an installed dependency folder, or None when it is missing or unreadable."""
    try:
        data = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) else None
    return files if isinstance(files, list) else None


def _dependencies(code_dir: Path, cache: Path, runtime: str, architecture: str, py_version: str,
                  platform: str) -> list[_Entry]:
    """The entries of ``code_dir/requirements.txt``'s packages, installed once per :func:`_deps_key` (none
    without requirements)."""
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
    """``pip install -r req --target`` for the Lambda platform into a temp folder, with its manifest, renamed
    to ``final``; a failed install is a ConfigError with pip's output."""
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
