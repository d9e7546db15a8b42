"""The seam between the engine and where a lockfile is kept: :class:`StateStore`.

Today one store implements it, the local file (:class:`~.local.StateFile`); issue 17's S3 store is to be
a second, with the same guarantees in S3's terms (a compare-and-swap write, a lock object with a lease).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from .model import State


@runtime_checkable
class StateStore(Protocol):
    """One stage's lockfile, wherever it is kept. The contract every store keeps (:class:`StateFile`'s
    docstrings say how the local file keeps it):

    - :meth:`load` never writes; a lockfile that cannot be read or that :mod:`.schema` refuses is a
      :class:`StateError` and is never overwritten;
    - :meth:`save` is all or nothing: once it returns, every change made to ``state`` before the call is
      durable, ``serial`` has grown, and the previous version is kept (:meth:`older_than_backup` compares
      with it); a failed write is a StateError and leaves the last complete version;
    - :meth:`lock` lets one process at a time change the stage; another fails at once with
      StateLockedError naming the holder.

    (The App also reads the local store's ``path``, ``bak_path`` and ``lock_path`` for its messages and
    for a remove with nothing recorded: a second store has to answer those too.)
    """

    def exists(self) -> bool:
        """Whether a lockfile is stored."""
        ...

    def load(self, *, app: str | None = None, stage: str | None = None, region: str | None = None) -> State:
        """The stored state (a StateError if it belongs to another ``app``, ``stage`` or ``region``), or a
        fresh one if there is none and all three are given."""
        ...

    def save(self, state: State) -> None:
        """Store ``state`` (serial + 1) atomically, keeping the previous version."""
        ...

    def delete(self) -> None:
        """Remove the lockfile after a complete remove, keeping it as the previous version."""
        ...

    def lock(self, operation: str) -> AbstractContextManager[None]:
        """Hold the stage's lock for ``operation``; StateLockedError at once if another process has it."""
        ...

    def older_than_backup(self, state: State) -> bool:
        """Whether the kept previous version is a later one of ``state``'s lineage (the lockfile was put
        back from an older copy: AWS may hold objects it does not record)."""
        ...
