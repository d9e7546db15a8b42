"""The lockfile: what sstdirect made, where, and what it was asked for.

Format (JSON)::

    {"schema_version": 1, "lineage": "<uuid>", "serial": 7, "secret_salt": "<32 hex>",
     "app": "notes", "stage": "dev", "region": "us-east-1", "account": "123456789012",
     "resources": {"<address>": {"type", "status", "physical_id", "attrs", "props",
                                  "props_hash", "depends_on", "deposed": [...]}},
     "outputs": {"<construct id>": {"url": ...}}}

One module per job:

- :mod:`.model`: :class:`State` and :class:`Record` in memory (``status == "creating"`` is the intent
  record written before a create, so an interrupted deploy can find the half-made resource again;
  ``deposed`` lists replaced objects still to delete), :func:`held_ids`, :func:`new_salt`;
- :mod:`.schema`: the JSON itself: :func:`dumps_state` writes it, and a file that does not have the
  lockfile's shape (a ``schema_version`` this version does not write, an unknown resource type, a field of
  the wrong JSON type, nesting deeper than :data:`MAX_DEPTH`) is a :class:`StateError` naming the file and
  what is wrong;
- :mod:`.store`: :class:`StateStore`, the seam between the engine and where a lockfile is kept;
- :mod:`.local`: the local file store, :class:`StateFile`: all-or-nothing writes with a ``.bak`` after
  every resource change, mode 0600, symbolic links followed consistently, and one process at a time
  (an OS lock on ``<path>.lock``; a second locker fails fast with StateLockedError naming the holder);
- :mod:`.files`: the crash-safe file writes it is built on.

No secrets: secret fields are recorded only as a salted, slow hash (scrypt, with the lockfile's own
random ``secret_salt``; see :mod:`sstdirect.engine.secrets` and ``Provider.secret_fields``).
"""

from .local import StateFile
from .model import Record, State, held_ids, new_salt
from .schema import MAX_DEPTH, READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION, STATUSES, dumps_state
from .store import StateStore

__all__ = [
    "MAX_DEPTH",
    "READABLE_SCHEMA_VERSIONS",
    "SCHEMA_VERSION",
    "STATUSES",
    "Record",
    "State",
    "StateFile",
    "StateStore",
    "dumps_state",
    "held_ids",
    "new_salt",
]
