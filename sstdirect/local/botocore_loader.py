"""One botocore data loader for every botocore session the embedded AWS's code makes (``LocalCloud.session()``,
the latency model's request parser): it caches the parsed service models, so a new session's first client
is cheap."""

from __future__ import annotations

from typing import Any


def shared_loader() -> Any:
    """The loader (made on first use)."""
    global _loader
    if _loader is None:
        from botocore.loaders import create_loader

        _loader = create_loader()
    return _loader


_loader: Any = None
