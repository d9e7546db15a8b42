"""Which files of a folder are bundled: the exclude rules (caches, virtualenvs, secrets) and ``include=``."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from sstdirect.errors import ConfigError

from .files import _CHUNK, _Entry, _where

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


def _is_within(path: str, folder: str) -> bool:
    """Whether real path ``path`` is ``folder`` or below it."""
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
                found[rel] = _Entry.of(rel, source, st)
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


def _included(include: tuple[str, ...], base: Path, code_real: Path, construct: str) -> list[_Entry]:
    """The files ``include`` names (glob patterns under ``base``; a folder: every file below it), at their
    path under ``code_real`` when inside it, else under ``base``. Symlinks leaving ``base`` are skipped."""
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
                found[rel] = _Entry.of(rel, str(real), st)
                matched = True
        if not matched:
            raise ConfigError(f"{_where(construct)}include {pattern!r} matches no file under {base}. Fix: name a "
                              f"file or folder (or a glob pattern) relative to {base}, or drop it from include.")
    return [found[k] for k in sorted(found)]


def check_include(include: tuple[str, ...], base: Path, construct: str) -> None:
    """ConfigError (naming ``construct``) unless every path or glob pattern of ``include`` matches a file under
    ``base`` (a Function's ``include=`` when it is made)."""
    _included(include, base, base, construct)


def _with_included(chosen: list[_Entry], extra: list[_Entry]) -> list[_Entry]:
    """``chosen`` plus the ``include=`` files at paths it does not have, sorted by zip path."""
    if not extra:
        return chosen
    merged = {e.rel: e for e in chosen}
    for e in extra:
        merged.setdefault(e.rel, e)
    return [merged[k] for k in sorted(merged)]
