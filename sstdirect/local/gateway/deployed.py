"""What was deployed, as the local gateway serves it: an HTTP API's routes (:class:`ApiConfig`,
:class:`RouteConfig`), their Lambda integrations and authorizers (read from the embedded AWS by
:mod:`.config`), and :data:`Invoke`, how the pipelines run a function (:class:`Outcome`).

Data only: the pipeline (:mod:`.pipeline`), the authorizers (:mod:`.auth`), the WebSocket and AppSync
gateways and the workers share it without importing one another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AuthorizerConfig:
    """A deployed authorizer (``GetAuthorizers``), as far as the gateway needs it."""

    authorizer_id: str
    name: str = ""
    authorizer_type: str = "JWT"  # JWT | REQUEST
    identity_sources: tuple[str, ...] = ()
    issuer: str = ""  # JWT
    audience: tuple[str, ...] = ()  # JWT
    function_name: str | None = None  # REQUEST: the function of AuthorizerUri
    payload_format_version: str = "2.0"  # REQUEST
    simple_responses: bool = False  # REQUEST
    ttl_s: int = 0  # REQUEST: AuthorizerResultTtlInSeconds


@dataclass(frozen=True)
class Integration:
    """An ``AWS_PROXY`` Lambda integration as deployed."""

    function_name: str
    payload_format_version: str = "2.0"
    timeout_ms: int = 30000


@dataclass(frozen=True)
class RouteConfig:
    key: str
    integration: Integration | None
    authorization_type: str = "NONE"  # NONE | JWT | CUSTOM | AWS_IAM
    authorizer: AuthorizerConfig | None = None  # JWT and CUSTOM routes
    authorization_scopes: tuple[str, ...] = ()  # JWT routes


@dataclass
class ApiConfig:
    """What the gateway serves for one HTTP API (read from the embedded AWS by :mod:`.config`)."""

    api_id: str
    name: str = ""
    region: str = "us-east-1"
    account_id: str = "123456789012"
    stage: str = "$default"
    cors: dict[str, Any] | None = None
    routes: dict[str, RouteConfig] = field(default_factory=dict)
    stage_variables: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    """What an invocation gave: ``result`` (JSON-decoded) when ``status == "ok"``; else ``"error"``
    (the handler raised, its worker died, or the function timed out) or ``"timeout"`` (the
    integration's own timeout passed first). For a handler that raised, ``error_type`` and
    ``error_message`` are Lambda's ``errorType`` (the exception class) and ``errorMessage``."""

    status: str
    result: Any = None
    error: str = ""
    error_type: str = ""
    error_message: str = ""


Invoke = Callable[[str, dict[str, Any], float], Outcome]  # (function_name, event, timeout_s) → Outcome
