"""sstdirect: SST-style API constructs for Python, deployed directly through boto3 (no CloudFormation).

Everything public is importable from here; see API.md for the contract. Names are loaded on first
use, so ``import sstdirect`` is cheap and a Lambda bundle can ship ``sstdirect.graphql`` alone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Action": ".engine.plan",
    "Api": ".constructs.api",
    "App": ".app",
    "AppSyncApi": ".constructs.appsync",
    "Change": ".engine.plan",
    "Cognito": ".constructs.cognito",
    "ConfigError": ".errors",
    "DeployError": ".errors",
    "DeployResult": ".app",
    "Function": ".constructs.function",
    "GraphQLApi": ".constructs.graphql",
    "Output": ".constructs.base",
    "Plan": ".engine.plan",
    "RemoveResult": ".app",
    "SstDirectError": ".errors",
    "StateError": ".errors",
    "StateLockedError": ".errors",
    "Table": ".constructs.table",
    "WebSocketApi": ".constructs.websocket",
    "remove_from_state": ".app",
}
__all__ = [
    "Action",
    "Api",
    "App",
    "AppSyncApi",
    "Change",
    "Cognito",
    "ConfigError",
    "DeployError",
    "DeployResult",
    "Function",
    "GraphQLApi",
    "Output",
    "Plan",
    "RemoveResult",
    "SstDirectError",
    "StateError",
    "StateLockedError",
    "Table",
    "WebSocketApi",
    "remove_from_state",
]


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'sstdirect' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from .app import App, DeployResult, RemoveResult, remove_from_state
    from .constructs.api import Api
    from .constructs.appsync import AppSyncApi
    from .constructs.base import Output
    from .constructs.cognito import Cognito
    from .constructs.function import Function
    from .constructs.graphql import GraphQLApi
    from .constructs.table import Table
    from .constructs.websocket import WebSocketApi
    from .engine.plan import Action, Change, Plan
    from .errors import ConfigError, DeployError, SstDirectError, StateError, StateLockedError
