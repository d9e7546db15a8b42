"""A resource's diff: which of its fields changed, and whether (and in which order) the change replaces it.

:meth:`Provider.diff <sstdirect.engine.resource.Provider.diff>` returns a :class:`Diff`. Its default compares
every desired field with what AWS holds (:func:`diff_props`) and replaces, in the provider's
``replace_order``, when a changed field is in its ``replace_on``; a type whose replacement depends on the
values themselves overrides it. The planner plans from it; the plan carries the order to the executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .plan import ReplaceOrder
from .secrets import secret_matches
from .values import contains_unknown, to_json_data

SECRET_MASK = "(sensitive)"


@dataclass(frozen=True)
class Diff:
    """The changed fields (sorted), and ``replace``: None for a change in place (or none), else the order
    in which the object is replaced."""

    changed: tuple[str, ...] = ()
    replace: ReplaceOrder | None = None

    @property
    def replaces(self) -> bool:
        return self.replace is not None

    @property
    def is_empty(self) -> bool:
        return not self.changed and not self.replaces


class FieldRoles(Protocol):
    """What a diff needs of a provider: the fields compared by hash and those never compared."""

    @property
    def secret_fields(self) -> frozenset[str]: ...

    @property
    def transient_fields(self) -> frozenset[str]: ...


class ObservedSecret:
    """A secret field's value as AWS just reported it: compared in clear (no slow hash needed), never
    recorded and never shown (plans mask every secret field)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        return SECRET_MASK


def diff_props(provider: FieldRoles, desired: Mapping[str, Any], current: Mapping[str, Any], salt: str) -> list[str]:
    """The fields whose desired value differs from the current one (unknown values count).

    A secret field's current value is either what AWS reported (:class:`ObservedSecret`, compared in
    clear) or the lockfile's hash (salted, or a legacy unsalted one), which matches when it is the hash
    of the desired value."""
    changed = []
    for key in sorted(desired):
        if key in provider.transient_fields:
            continue
        value = desired[key]
        if contains_unknown(value):
            changed.append(key)
        elif key in provider.secret_fields:
            now = current.get(key)
            same = (to_json_data(value) == now.value if isinstance(now, ObservedSecret)
                    else secret_matches(value, now, salt))
            if not same:
                changed.append(key)
        elif to_json_data(value) != current.get(key):
            changed.append(key)
    return changed
