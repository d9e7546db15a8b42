"""Crash-safe file writes: a file replaced all at once or not at all, never cut short.

Each write goes to a temp file beside its target (named by pid and thread, so writers never share one),
is written in full, fsynced, read back and verified, then renamed over the target. Everything here raises
:class:`OSError` only; the store that uses it (:mod:`.local`) says what that means for the lockfile.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import itertools
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path

# Errors of os.link that mean "this folder takes no hard links" (vfat, some network and FUSE file
# systems; fs.protected_hardlinks for a file of another user): .bak is then a verified copy.
NO_HARD_LINKS = frozenset({errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


def cause(exc: OSError) -> str:
    """An OS error for a message: ``ENOSPC (No space left on device)``."""
    name = errno.errorcode.get(exc.errno or 0)
    text = exc.strerror or str(exc)
    return f"{name} ({text})" if name else text


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's: alive
        return True
    return True


_attempts = itertools.count()


def temp_name(path: Path) -> Path:
    """A new temp file name beside ``path``, of this process and thread, never used before in this process: a
    temp file an earlier failed write could not remove (its folder became immutable) never turns the next
    write's real error (EPERM, ENOSPC) into an EEXIST."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{next(_attempts)}.tmp")


def sweep_temp_files(folder: Path, names: Iterable[str]) -> None:
    """Remove the temp files (:func:`temp_name`) in ``folder`` of the files ``names`` that this process or
    a dead one left; a live process's may be in use. The caller's writes take turns."""
    for name in names:
        for path in folder.glob(f".{glob.escape(name)}.*.tmp"):
            pid = path.name[len(name) + 2:].split(".", 1)[0]
            if pid.isdigit() and (int(pid) == os.getpid() or not alive(int(pid))):
                unlink_quietly(path)


def unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def fsync_folder(folder: Path) -> None:
    dfd = os.open(folder, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def prepared(path: Path, data: bytes) -> Path:
    """A fresh temp file beside ``path`` (never through a link) holding ``data``: written in full,
    fsynced, read back and verified (size, bytes, JSON), mode 0600. Raises OSError and leaves no temp
    file if any of it fails."""
    tmp = temp_name(path)
    try:
        unlink_quietly(tmp)  # a leftover of a killed process with this pid
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            _write_all(fd, data)
            os.fsync(fd)
            _verify(fd, data)
            os.fchmod(fd, 0o600)  # the umask may have narrowed it; never wider
        finally:
            os.close(fd)  # a network file system may report a full quota only here
    except BaseException:
        unlink_quietly(tmp)
        raise
    return tmp


def atomic_write(path: Path, data: bytes, *, sync_folder: bool = True) -> None:
    """Replace ``path`` by ``data`` all at once (:func:`prepared`, then a rename), or raise OSError and
    leave it as it was; then the folder is fsynced (``sync_folder``)."""
    tmp = prepared(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        unlink_quietly(tmp)
        raise
    if sync_folder:
        fsync_folder(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data``: ``os.write`` may take fewer (a nearly full disk, a file size
    limit); the rest is written again until done or the OS says why it cannot."""
    view = memoryview(data)
    done = 0
    while done < len(data):
        n = os.write(fd, view[done:])
        if n <= 0:
            raise OSError(errno.EIO, f"short write: the file system took {done} of {len(data)} bytes, then none")
        done += n


def _verify(fd: int, data: bytes) -> None:
    """Read the written file back: the same size, the same bytes, and JSON."""
    size = os.fstat(fd).st_size
    if size != len(data):
        raise OSError(errno.EIO, f"read back {size} bytes of the {len(data)} written")
    back = os.pread(fd, size + 1, 0)
    while len(back) < size:  # pread may return less than asked
        chunk = os.pread(fd, size + 1 - len(back), len(back))
        if not chunk:
            break
        back += chunk
    if back != data:
        raise OSError(errno.EIO, f"read back {len(back)} bytes that differ from the {len(data)} written")
    try:
        json.loads(back)
    except (ValueError, RecursionError) as exc:
        raise OSError(errno.EIO, f"the written file does not parse as JSON ({exc})") from None
