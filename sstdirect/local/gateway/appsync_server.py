"""Serve an app's deployed AppSync APIs: one ``ThreadingHTTPServer`` (the one :mod:`.server` uses) per
API on 127.0.0.1, answering ``POST /graphql`` with :class:`~.appsync.AppSyncGateway`; handlers and Lambda
authorizers run in the gateway's warm :class:`~.workers.Workers`. Token keys come from the embedded AWS:
a Cognito issuer (``https://cognito-idp.{region}.amazonaws.com/{pool}``, which never points at the local
server) is mapped to the embedded AWS's ``/{pool}/.well-known/jwks.json``; any other OIDC issuer is read
through its ``/.well-known/openid-configuration``."""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import ConfigError
from .appsync import AppSyncGateway
from .appsync_auth import Authenticator, JwksCache
from .appsync_config import read_api_keys, read_appsync
from .config import read_function

if TYPE_CHECKING:
    from ..cloud import LocalCloud
    from .workers import Workers

_log = logging.getLogger("sstdirect.local.gateway")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
_COGNITO = re.compile(r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/(?P<pool>[^/]+)$")


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


def fetch_json(url: str, timeout: float = 10.0) -> dict[str, Any]:
    with _OPENER.open(url, timeout=timeout) as response:
        return json.loads(response.read())


def jwks_url_for(endpoint_url: str) -> Any:
    """``issuer → JWKS URL``: Cognito issuers → the embedded AWS; others through OIDC discovery."""

    def jwks_url(issuer: str) -> str:
        match = _COGNITO.match(issuer)
        if match:
            return f"{endpoint_url.rstrip('/')}/{match.group('pool')}/.well-known/jwks.json"
        return str(fetch_json(issuer.rstrip("/") + "/.well-known/openid-configuration")["jwks_uri"])

    return jwks_url


def _iam_users(cloud: LocalCloud) -> dict[str, tuple[str, dict[str, Any]]]:
    """The credentials SigV4 callers may sign with: the embedded AWS's own key pair, as STS names it."""
    creds = cloud.credentials
    who = cloud.client("sts").get_caller_identity()
    return {creds.access_key_id: (creds.secret_access_key, {"accountId": who.get("Account"),
                                                            "userArn": who.get("Arn"), "username": who.get("UserId")})}


def appsync_apis(app: Any) -> list[Any]:
    """The app's ``AppSyncApi`` constructs."""
    from ...constructs.appsync import AppSyncApi

    return [c for c in app.constructs if isinstance(c, AppSyncApi)]


def start_appsync(cloud: LocalCloud, app: Any, workers: Workers, code: dict[str, tuple[str, str]],
                  ports: dict[Any, int], server_class: Any, served: list[ServedAppSync]) -> None:
    """Read, wire and start every AppSync API of ``app`` (``server_class(address, gateway)`` serves one),
    appending each to ``served`` as it starts (so a failure part way leaves the caller able to stop them)."""
    client = cloud.client("appsync")
    lam = cloud.client("lambda")
    jwks = JwksCache(fetch_json)
    iam_users = _iam_users(cloud) if appsync_apis(app) else {}
    dynamodb_clients: dict[str, Any] = {}

    def dynamodb(region: str) -> Any:  # one client per region, made on first use (boto3 clients are thread-safe)
        if region not in dynamodb_clients:
            dynamodb_clients[region] = cloud.client("dynamodb", region_name=region)
        return dynamodb_clients[region]
    for construct in appsync_apis(app):
        api_id = construct.id
        if not isinstance(api_id, str):
            raise ConfigError(f"{construct.label} is not deployed yet: call app.deploy() before cloud.serve(app)")
        config, providers, functions = read_appsync(client, api_id, cloud.region)
        for name in sorted(functions):
            spec = read_function(lam, name, code)
            if spec is None:
                _log.warning("%s: function %s has no code folder in this app; its resolvers fail", construct.label,
                             name)
            else:
                workers.add(spec)
        auth = Authenticator(providers, read_api_keys(client, api_id), jwks=jwks, jwks_url=jwks_url_for(
            cloud.endpoint_url), invoke=workers.invoke, api_id=api_id, account_id=config.account_id,
            reload_keys=lambda api_id=api_id: read_api_keys(client, api_id), iam_users=iam_users,
            region=cloud.region)
        gateway = AppSyncGateway(config, workers.invoke, auth, dynamodb=dynamodb)
        port = ports.get(construct, ports.get(construct.construct_id, 0)) if ports else 0
        server = server_class(("127.0.0.1", port), gateway)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                  name=f"sstdirect-appsync-{api_id}", daemon=True)
        thread.start()
        served.append(ServedAppSync(construct, api_id, gateway, server, thread))
