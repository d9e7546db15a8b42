"""Extensions to moto: the AWS operations and behaviours the provisioner needs and moto lacks.

``install()`` patches moto in-process, so the additions serve both ``moto.mock_aws`` and a
``ThreadedMotoServer`` running in this process. One module per service, each a set of small
additions in moto's own style (model method + response handler + URL line):

* :mod:`.apigatewayv2` - operations and output fields moto lacks;
* :mod:`.appsync` - data sources, resolvers, pipeline functions; API key and missing-API fixes;
* :mod:`.apigatewayv2_fixes` - operations moto implements differently from AWS;
* :mod:`.apigateway` - the account's CloudWatch role: ``UpdateAccount`` checks, WebSocket stage
  logging needing it, and the ``AmazonAPIGatewayPushToCloudWatchLogs`` managed policy;
* :mod:`.awslambda` - duplicate ``AddPermission`` statement ids, ``ListFunctions`` pages, ``Invoke`` running the code;
* :mod:`.cognitoidentity` - identity-pool roles (``Set``/``GetIdentityPoolRoles``), ``UpdateIdentityPool``;
* :mod:`.cognitoidp` - ``UpdateUserPool`` keeping the settings it cannot change;
* :mod:`.cognito_triggers` - user-pool Lambda triggers run with Cognito's events, their answers applied;
* :mod:`.principals` - IAM users' ``AIDA…`` ids; STS's fallback caller is the cloud's own IAM user;
* :mod:`.notimplemented` - server mode only: unimplemented operations answer HTTP 501
  (used by :class:`sstdirect.local.LocalCloud`, not by ``install()``).

moto is imported only when ``install()`` runs, so importing this package stays cheap.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_installed = False


def install() -> None:
    """Patch moto with every extension. Idempotent and thread-safe.

    For a moto server in this process, call it before the server's first request to a service
    (the server builds each service's URL map once); ``LocalCloud.start()`` does so itself.
    """
    global _installed
    with _lock:
        if _installed:
            return
        from . import apigatewayv2, apigatewayv2_fixes, awslambda, cognitoidentity, cognitoidp, logs

        logs.install()
        apigatewayv2.install()
        apigatewayv2_fixes.install()
        awslambda.install()
        cognitoidentity.install()
        cognitoidp.install()
        from . import cognito_triggers

        cognito_triggers.install()
        from . import appsync

        appsync.install()
        from . import apigateway, principals

        apigateway.install()
        principals.install()
        _serialize_in_process_requests()
        _installed = True


def _serialize_in_process_requests() -> None:
    """``mock_aws`` serves a request in the thread that sends it, and moto's backends are not thread-safe:
    a deploy's concurrent steps made IAM's ``PutRolePolicy`` fail with "dictionary changed size during
    iteration" while other threads created roles. Serve in-process requests one at a time, as
    ``LocalCloud``'s server does per service (re-entrant: a handler may call moto again)."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request
    serial = threading.RLock()

    def process_request(self: BotocoreStubber, request: Any) -> Any:
        with serial:
            return original(self, request)

    BotocoreStubber.process_request = process_request  # type: ignore[method-assign]


def installed() -> bool:
    """Whether :func:`install` has run in this process."""
    return _installed


__all__ = ["install", "installed"]
