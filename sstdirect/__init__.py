"""sstdirect: SST-style API constructs for Python, deployed directly through boto3 (no CloudFormation).

Everything public is importable from here; see API.md for the contract.
"""

from .app import App, DeployResult, RemoveResult, remove_from_state
from .constructs.api import Api
from .constructs.appsync import AppSyncApi
from .constructs.base import Output
from .constructs.cognito import Cognito
from .constructs.function import Function
from .constructs.graphql import GraphQLApi
from .constructs.websocket import WebSocketApi
from .engine.plan import Action, Change, Plan
from .errors import ConfigError, DeployError, SstDirectError, StateError, StateLockedError

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
    "WebSocketApi",
    "remove_from_state",
]
