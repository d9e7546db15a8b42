"""The embedded local AWS: moto, extended with what sstdirect's provisioner needs.

* :class:`LocalCloud` - moto's server on 127.0.0.1 in this process (``with LocalCloud() as cloud``).
* :func:`install` - patch moto in-process with sstdirect's extensions (for ``moto.mock_aws`` too).

Importing this package is cheap: moto and boto3 are imported only when a cloud starts or
``install()`` runs.
"""

from __future__ import annotations

from .cloud import Credentials, LocalCloud
from .ext import install

__all__ = ["Credentials", "LocalCloud", "install"]
