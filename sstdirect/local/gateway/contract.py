"""What the local gateway needs from outside itself, as protocols; it imports neither implementation.

* :class:`EmbeddedAws` - the embedded AWS it reads what was deployed from, whose key pairs it checks SigV4
  against (``sstdirect.local.LocalCloud`` implements it and passes itself in: ``cloud.serve(app)``).
* :class:`ServedApp` - the app whose APIs it serves (``sstdirect.App``): its constructs, each saying what the
  gateway serves of it (``served_as``: see :func:`served`), and the context that names its functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .auth_iam import Principal

HTTP, WEBSOCKET, APPSYNC, FUNCTION = "http", "websocket", "appsync", "function"


class KeyPair(Protocol):
    access_key_id: str
    secret_access_key: str


class EmbeddedAws(Protocol):
    """The embedded AWS the gateway serves from."""

    @property
    def region(self) -> str: ...

    @property
    def endpoint_url(self) -> str: ...

    @property
    def credentials(self) -> KeyPair:
        """The key pair clients (and the gateway's workers) use."""
        ...

    def client(self, service: str, region_name: str | None = None) -> Any:
        """A boto3 client of ``service`` on this embedded AWS."""
        ...

    def principal(self, access_key_id: str) -> Principal | None:
        """Whom ``access_key_id`` belongs to, when this embedded AWS handed it out (its own key pair, an IAM
        user's access key, an STS session, credentials of a Cognito identity pool), else None."""
        ...


class ServedConstruct(Protocol):
    """A construct of the served app: an API, or a function whose code the gateway's workers run."""

    construct_id: str
    served_as: str | None  # HTTP, WEBSOCKET, APPSYNC, FUNCTION or None

    @property
    def label(self) -> str: ...


class ServedApp(Protocol):
    """The app the gateway serves (after its deploy)."""

    @property
    def constructs(self) -> Sequence[Any]: ...

    def expand_context(self) -> Any:
        """What names the app's functions (``Function.physical_name(ctx)``)."""
        ...


def served(app: ServedApp, kind: str) -> list[Any]:
    """The constructs of ``app`` the gateway serves as ``kind`` (HTTP, WEBSOCKET, APPSYNC, FUNCTION), in order."""
    return [c for c in app.constructs if getattr(c, "served_as", None) == kind]
