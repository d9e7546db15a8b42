"""What a bundle must not be: over Lambda's size limits, or importing modules that resolve nowhere."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sstdirect.errors import ConfigError

from .files import Bundle, _Entry, _merged, _warn, _where

if TYPE_CHECKING:
    from .trace import _Missing

#: Lambda's limits for a .zip deployment package uploaded directly: 50 MB zipped, 250 MB unzipped
#: (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html; CreateFunction's error
#: for the latter reads "Unzipped size must be smaller than 262144000 bytes").
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 262_144_000


def _who(construct: str, handler: str) -> str:
    """The construct and handler an import message is about (``"Api/list: handler 'src/list.main'"``)."""
    return _where(construct) + (f"handler {handler!r}" if handler else "the handler")


def _raise_missing(missing: list[_Missing], code_real: Path, root_real: Path | None, construct: str,
                   handler: str) -> None:
    """A ConfigError naming every import that resolves nowhere and runs when the handler is imported."""
    fatal = [m for m in missing if m.fatal]
    if not fatal:
        return
    who = _who(construct, handler)
    lines = [f"  - {m.shown(code_real, root_real)} line {m.line}: import {m.module!r}. "
             f"Fix: {_missing_fix(m, code_real, root_real)}, or guard the import with try/except ImportError"
             for m in fatal]
    raise ConfigError(
        f"{who} imports modules that are not in its bundle, its requirements.txt or the Lambda "
        f"runtime (on AWS the function would fail with Runtime.ImportModuleError):\n" + "\n".join(lines))


def _warn_missing(missing: list[_Missing], code_real: Path, root_real: Path | None, construct: str,
                  handler: str) -> list[str]:
    """Warn about each guarded or lazy import that resolves nowhere; the messages (kept in the index)."""
    who = _who(construct, handler)
    messages = [f"{who}: {m.shown(code_real, root_real)} line {m.line} imports {m.module!r} "
                f"(guarded or inside a function), which is not in the bundle, its requirements.txt or the "
                f"Lambda runtime: on AWS that import fails. Fix: {_missing_fix(m, code_real, root_real)}"
                for m in missing if not m.fatal]
    for message in messages:
        _warn(message)
    return messages


def _missing_fix(m: _Missing, code_real: Path, root_real: Path | None) -> str:
    """How to make a missing import resolve: the distribution to require (when installed here), or where
    to create the module."""
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
    """The ``n`` largest entries with their sizes, for a size-limit error."""
    top = sorted(entries, key=lambda e: (-e.size, e.rel))[:n]
    return ", ".join(f"{e.rel} ({e.size / 1_000_000:.1f} MB)" for e in top)


def _check_unzipped(files: list[_Entry], deps: list[_Entry], where: str) -> None:
    """ConfigError when the bundle's files add up to more than :data:`MAX_UNZIPPED_BYTES`."""
    entries = _merged(files, deps)
    total = sum(e.size for e in entries)
    if total > MAX_UNZIPPED_BYTES:
        raise ConfigError(
            f"{where}the bundle is {total:,} bytes unzipped, over Lambda's limit of {MAX_UNZIPPED_BYTES:,} bytes "
            f"(250 MB). Largest files: {_largest(entries)}. Fix: move large data out of the code folder (to S3, "
            f"read at run time), drop unused packages from requirements.txt, or use a container image.")


def _check_zipped(bundle: Bundle, files: list[_Entry], deps: list[_Entry], where: str) -> None:
    """ConfigError (and the cached zip removed) when the zip is over :data:`MAX_ZIPPED_BYTES`."""
    if bundle.size <= MAX_ZIPPED_BYTES:
        return
    bundle.path.unlink(missing_ok=True)
    bundle.path.with_suffix(".json").unlink(missing_ok=True)
    raise ConfigError(
        f"{where}the bundle is {bundle.size:,} bytes zipped, over Lambda's limit of {MAX_ZIPPED_BYTES:,} bytes "
        f"(50 MB) for a direct upload. Largest files: {_largest(_merged(files, deps))}. Fix: move large data out "
        f"of the code folder (to S3, read at run time) or drop unused packages from requirements.txt.")
