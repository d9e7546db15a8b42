"""The embedded local AWS: moto, extended with what sstdirect's provisioner needs.

* :class:`LocalCloud` - moto's server on 127.0.0.1 in this process (``with LocalCloud() as cloud``).
* :class:`LatencyModel` - PERF.md's latency model, applied at the server (``LocalCloud(latency=True)``).
* :func:`install` - patch moto in-process with sstdirect's extensions (for ``moto.mock_aws`` too).

Importing this package is cheap: moto and boto3 are imported only when a cloud starts or
``install()`` runs.
"""

from __future__ import annotations

from .cloud import Credentials, LocalCloud
from .ext import install
from .latency import LatencyModel, RequestRecord, summarize

__all__ = ["Credentials", "LatencyModel", "LocalCloud", "RequestRecord", "install", "summarize"]
