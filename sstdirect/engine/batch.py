"""Batch creates: plug-ins that create several resources of a plan together, in fewer AWS calls than one
by one (the routes of a new HTTP API in one ``ReimportApi``: :mod:`sstdirect.resources.apigatewayv2_import`).

A :class:`BatchCreate` has two parts:

- ``groups(desired, creating, changing) -> [BatchGroup]``, pure: which addresses one batch creates
  (``creating``: the addresses the plan creates, not replaces; ``changing``: every address it creates,
  updates or replaces), and which other addresses of ``changing`` must wait for the batch;
- ``create(aws, group, props, lookup) -> {address: Created}``: make the group's members (one ``Created``
  each). ``props(address)``
  is a resource's props resolved as far as they go (a ref to a member not made yet stays
  :data:`~sstdirect.engine.values.UNKNOWN`), ``lookup(ref)`` an attr of what is made.

The executor merges the create steps of each group :func:`plan_batches` finds into one step, and runs it
through the same intent/commit path as a single create: intent records for every member, saved, before
``create`` is called; then what was made. The plug-ins (:func:`batch_creates`): sstdirect's own, named in
the table ``sstdirect.resources.BATCH_CREATES`` (their modules imported on first use), and those
:func:`register` adds.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..aws import Aws
    from .resource import Created, Resource
    from .values import Ref


class BatchGroup(Protocol):
    """What one batch creates: ``members`` (addresses), the ``address`` a failure is reported against, and
    the addresses ``waiting`` for the batch."""

    @property
    def address(self) -> str: ...

    @property
    def members(self) -> tuple[str, ...]: ...

    @property
    def waiting(self) -> tuple[str, ...]: ...


GroupsFn = Callable[["Mapping[str, Resource]", frozenset[str], frozenset[str]], Sequence[Any]]
CreateFn = Callable[["Aws", Any, Callable[[str], Mapping[str, Any]], Callable[["Ref"], Any]], "Mapping[str, Created]"]


@dataclass(frozen=True)
class BatchCreate:
    """A batch-create plug-in: its name, the planner of its groups and the runner of one group."""

    name: str
    groups: GroupsFn
    create: CreateFn


@dataclass(frozen=True)
class Batch:
    """One group of a plan's creates and the plug-in that makes it."""

    plugin: BatchCreate
    group: BatchGroup


def plan_batches(desired: Mapping[str, Resource], creating: set[str] | frozenset[str],
                 changing: set[str] | frozenset[str]) -> list[Batch]:
    """The batches of a plan: each plug-in's groups, in turn, of the creates no earlier group took. A group
    of anything else (no member, or one that is not such a create) is a plug-in's bug: RuntimeError."""
    free, out = set(creating), []
    for plugin in batch_creates():
        for group in plugin.groups(desired, frozenset(free), frozenset(changing)):
            if not group.members or not set(group.members) <= free:
                raise RuntimeError(f"batch create {plugin.name!r} grouped {group.members!r}: not creates of "
                                   "the plan that no other group holds")
            free -= set(group.members)
            out.append(Batch(plugin, group))
    return out


_REGISTERED: list[BatchCreate] = []


def register(plugin: BatchCreate) -> BatchCreate:
    """Add a plug-in (one outside sstdirect's table: a test's); a name used twice is refused."""
    if any(p.name == plugin.name for p in batch_creates()):
        raise RuntimeError(f"batch create {plugin.name!r} is registered twice")
    _REGISTERED.append(plugin)
    return plugin


def batch_creates() -> tuple[BatchCreate, ...]:
    """Every plug-in: sstdirect's table, then those registered."""
    return (*_table(), *_REGISTERED)


@functools.cache
def _table() -> tuple[BatchCreate, ...]:
    """The plug-ins ``sstdirect.resources.BATCH_CREATES`` names (``"module:NAME"`` under that package),
    their modules imported on the first call."""
    from ..resources import BATCH_CREATES

    plugins = []
    for target in BATCH_CREATES:
        module, _, name = target.partition(":")
        plugin = getattr(importlib.import_module(f"..resources.{module}", __package__), name, None)
        if not isinstance(plugin, BatchCreate):
            raise RuntimeError(f"sstdirect.resources.BATCH_CREATES names {target!r}, not a BatchCreate")
        plugins.append(plugin)
    return tuple(plugins)
