"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sstdirect.local import LocalCloud


# --- sstdirect.local: the embedded AWS ------------------------------------------------------------


@pytest.fixture(scope="module")
def local_cloud() -> Iterator[LocalCloud]:
    """A running :class:`sstdirect.local.LocalCloud` (moto server + extensions), one per test module.

    moto's state is process-global: call ``local_cloud.reset()`` for a clean slate.
    """
    from sstdirect.local import LocalCloud

    with LocalCloud() as cloud:
        yield cloud
