"""How secret fields (a function's environment) are recorded in the lockfile: a salted, slow hash.

A secret field is never written to the lockfile in clear; only a hash, so that a changed value is
still detected (the planner compares hashes). A plain sha256 of the value lets anyone holding the
lockfile test guesses offline at billions per second, so a weak secret (``DB_PASSWORD=hunter2``)
would fall at once. The recorded form is therefore::

    scrypt$14$8$1$<hex of scrypt(value, salt, n=2**14, r=8, p=1, dklen=32)>

- **scrypt** (memory-hard, 16 MiB and about 50 ms per hash here) makes every guess cost as much as
  a login does, on GPUs too — the interactive-login parameters of the scrypt paper. The parameters are
  in the record, so a later sstdirect can strengthen them and still read old records.
- **A per-lockfile random salt** (``State.secret_salt``, 16 bytes, kept in the lockfile) defeats
  precomputed tables and makes a guess against one lockfile useless against another. It lives in the
  lockfile, not in a per-user key outside it, because the lockfile is shared (a team, CI): whoever
  deploys with it must be able to tell whether a secret changed, and a key they lack would turn every
  secret into a change on every deploy. Within one lockfile equal values still hash equally (two
  functions with the same environment): that is what lets change detection work at all.
- The hash is paid only where it is needed: when a secret is recorded (a create or an update) and by a
  plan without refresh (the lockfile is then the only reference). A refreshed plan compares the desired
  value with what AWS reports, in clear, in memory (``diff.ObservedSecret``). Hashes are memoized per
  process by (salt, value), so functions that share an environment hash it once.

Lockfiles written before this recorded an unsalted ``sha256:<hex>``. Such a record still compares
equal when the unsalted hash of the value matches (so the upgrade plans nothing), and
:func:`migrate_legacy_secrets` rewrites it in the salted form on the next deploy.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .values import digest, to_json_data

if TYPE_CHECKING:
    from ..state import Record


class HasSecretFields(Protocol):
    """What :func:`migrate_legacy_secrets` needs of a provider (:class:`~sstdirect.engine.resource.Provider`)."""

    secret_fields: frozenset[str]

SCHEME = "scrypt"
N_LOG2, R, P = 14, 8, 1
LEGACY_PREFIX = "sha256:"


def _blob(value: Any) -> bytes:
    return json.dumps(to_json_data(value), sort_keys=True, separators=(",", ":")).encode()


# Each scrypt holds 128 * r * 2**n bytes (16 MiB here) while it runs. A deploy's steps record secrets in up to 64
# threads at once: a few run at a time (the hash is CPU-bound, more would not finish sooner), and equal values
# (functions sharing an environment) are hashed once while the others wait for it. Unbounded, 14 concurrent
# hashes of one environment made a 50-function cold deploy peak at 400 MB of RSS.
_SLOTS = threading.BoundedSemaphore(max(1, min(4, os.cpu_count() or 1)))
_MEMO: dict[tuple[bytes, str, int, int, int], str] = {}
_IN_FLIGHT: dict[tuple[bytes, str, int, int, int], threading.Lock] = {}
_MEMO_LOCK = threading.Lock()


def _scrypt(blob: bytes, salt: str, n_log2: int, r: int, p: int) -> str:
    key = (blob, salt, n_log2, r, p)
    with _MEMO_LOCK:
        if key in _MEMO:
            return _MEMO[key]
        flight = _IN_FLIGHT.setdefault(key, threading.Lock())
    with flight:  # one computation per value; the others wait for it
        with _MEMO_LOCK:
            if key in _MEMO:
                return _MEMO[key]
        with _SLOTS:
            digest_hex = hashlib.scrypt(blob, salt=bytes.fromhex(salt), n=2**n_log2, r=r, p=p,
                                        maxmem=256 * 1024 * 1024, dklen=32).hex()
        with _MEMO_LOCK:
            if len(_MEMO) >= 1024:
                _MEMO.clear()
            _MEMO[key] = digest_hex
            _IN_FLIGHT.pop(key, None)
    return digest_hex


def forget_hashes() -> None:
    """Drop the per-process memo of computed hashes (the next hash of each value is computed again)."""
    with _MEMO_LOCK:
        _MEMO.clear()


def secret_hash(value: Any, salt: str) -> str:
    """The recorded form of secret ``value`` under the lockfile's ``salt``."""
    return f"{SCHEME}${N_LOG2}${R}${P}${_scrypt(_blob(value), salt, N_LOG2, R, P)}"


def is_legacy(recorded: Any) -> bool:
    """True for the unsalted ``sha256:`` form older lockfiles hold."""
    return isinstance(recorded, str) and recorded.startswith(LEGACY_PREFIX)


def secret_matches(value: Any, recorded: Any, salt: str) -> bool:
    """Whether ``recorded`` (salted, with any scrypt parameters, or legacy unsalted) is the hash of ``value``."""
    if not isinstance(recorded, str):
        return False
    if is_legacy(recorded):
        return recorded == digest(value)
    parts = recorded.split("$")
    if len(parts) != 5 or parts[0] != SCHEME or not all(p.isdigit() for p in parts[1:4]):
        return False
    n_log2, r, p = (int(x) for x in parts[1:4])
    if not (1 <= n_log2 <= 20 and 1 <= r <= 32 and 1 <= p <= 16):  # never let a hand-edited record cost hours
        return False
    return secrets.compare_digest(parts[4], _scrypt(_blob(value), salt, n_log2, r, p))


def migrate_legacy_secrets(records: Mapping[str, Record], resolved: Callable[[str], Mapping[str, Any] | None],
                           provider_of: Callable[[str], HasSecretFields], salt: str) -> list[str]:
    """Rewrite, in place, legacy unsalted secret hashes whose value is unchanged in the salted form.

    ``resolved(address)`` gives the desired props of a record's address, resolved against the
    lockfile (None when the address is not declared or cannot be resolved). A legacy hash that does
    not match is left alone (the deploy updates that resource and records it salted anyway).
    Returns the addresses rewritten; the caller saves the lockfile.
    """
    changed = []
    for address, rec in records.items():
        provider = provider_of(rec.type)
        legacy = [k for k in provider.secret_fields if is_legacy(rec.props.get(k))]
        if not legacy:
            continue
        props = resolved(address)
        if props is None:
            continue
        fixed = False
        for key in legacy:
            if key in props and rec.props[key] == digest(props[key]):
                rec.props[key] = secret_hash(props[key], salt)
                fixed = True
        if fixed:
            rec.props_hash = digest(rec.props)
            changed.append(address)
    return changed
