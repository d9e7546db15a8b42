"""What the command line sets in place of an ``APP.py``'s own App options, and the Apps the file declares.

The CLI runs ``APP.py`` inside ``with declaring(Overrides(stage="prod")) as scope:``: every ``App`` made in
the block takes the set fields of ``scope.overrides`` over its own options and joins ``scope.apps``, which
is how the CLI finds the apps of a file. Outside every scope an App takes its own options and joins
nothing. The scope lives in a :class:`contextvars.ContextVar`: it is the thread's (or the asyncio task's)
that opened it, so a ``sstdirect dev`` serving in one thread overrides no App another thread makes.
Scopes nest: an inner scope given overrides applies them alone (pass ``outer.merged(...)`` to keep the
outer's fields); one given none keeps the outer's (and lists the Apps made in it, not the outer's).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True)
class Overrides:
    """App options set from outside the app file; a field left None keeps the file's value.

    ``state_dir``: the folder of the lockfiles (``{name}.{stage}.json``) instead of ``ROOT/.sstdirect``
    (the throwaway embedded AWS of ``deploy --local`` and ``dev`` keeps its lockfiles beside it).
    """

    stage: str | None = None
    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    session: Any = None  # a boto3.Session
    state_dir: str | None = None

    def merged(self, other: Overrides) -> Overrides:
        """These overrides with every field ``other`` sets replaced by ``other``'s."""
        return replace(self, **{f.name: value for f in fields(other) if (value := getattr(other, f.name))})


@dataclass
class Scope:
    """One ``declaring`` block: its overrides and the Apps made in it, in order."""

    overrides: Overrides
    apps: list[Any] = field(default_factory=list)  # sstdirect.App (not imported: the App imports this module)


_SCOPE: ContextVar[Scope | None] = ContextVar("sstdirect_overrides", default=None)


@contextmanager
def declaring(overrides: Overrides | None = None) -> Iterator[Scope]:
    """A block in which every App made takes ``overrides`` (None: the enclosing block's, if any) and is listed
    in the yielded ``Scope.apps``."""
    outer = _SCOPE.get()
    scope = Scope(overrides if overrides is not None else outer.overrides if outer is not None else Overrides())
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def current_scope() -> Scope | None:
    """The innermost ``declaring`` block of this thread or task, or None."""
    return _SCOPE.get()
