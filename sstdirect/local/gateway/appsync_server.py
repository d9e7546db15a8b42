"""An app's deployed AppSync APIs, wired for :class:`~.server.LocalGateway` (which serves each on a
:class:`.http11.Server` of its own, as it does HTTP APIs): :func:`appsync_gateway` reads one API from the
embedded AWS into an :class:`~.appsync.AppSyncGateway` whose authenticator shares the HTTP APIs' checks
(:class:`~.auth.Authorizers`: one JWKS cache, Cognito issuers resolved to the embedded AWS, and every key
pair the embedded AWS hands out for SigV4)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .appsync import AppSyncGateway
from .appsync_auth import Authenticator
from .appsync_config import read_api_keys, read_appsync

if TYPE_CHECKING:
    from .auth import Authorizers
    from .contract import EmbeddedAws
    from .deployed import Invoke


@dataclass
class ServedAppSync:
    """One served AppSync API: its construct, API id, gateway and server."""

    construct: Any
    api_id: str
    gateway: AppSyncGateway
    server: Any
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.server.server_address[0]}:{self.server.server_address[1]}/graphql"


def dynamodb_clients(cloud: EmbeddedAws) -> Callable[[str], Any]:
    """``region → DynamoDB client`` of the embedded AWS, one per region made on first use (boto3 clients
    are thread-safe)."""
    clients: dict[str, Any] = {}
    lock = threading.Lock()

    def dynamodb(region: str) -> Any:
        with lock:
            if region not in clients:
                clients[region] = cloud.client("dynamodb", region_name=region)
            return clients[region]

    return dynamodb


def appsync_gateway(cloud: EmbeddedAws, api_id: str, invoke: Invoke, auth: Authorizers,
                    dynamodb: Callable[[str], Any]) -> tuple[AppSyncGateway, set[str]]:
    """The gateway of the deployed AppSync API ``api_id`` and the Lambda functions its resolvers and
    authorizer call. Its API keys are read again when a request carries one made since."""
    client = cloud.client("appsync")
    config, providers, functions = read_appsync(client, api_id, cloud.region)
    authenticator = Authenticator(
        providers, read_api_keys(client, api_id), jwks=auth.jwks, invoke=invoke, api_id=api_id,
        account_id=config.account_id, reload_keys=lambda: read_api_keys(client, api_id),
        credentials=auth.credentials, region=cloud.region)
    return AppSyncGateway(config, invoke, authenticator, dynamodb=dynamodb), functions
