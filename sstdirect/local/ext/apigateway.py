"""API Gateway's account-level CloudWatch role, as AWS behaves and moto 5.2.5 does not.

WebSocket (and REST) API logging writes through one role per account and region, set with API
Gateway (v1) ``UpdateAccount``. moto stores the setting, but checks nothing around it:

* ``UpdateAccount`` ``replace /cloudwatchRoleArn``: moto stores any string. AWS checks that the role
  exists in this account and that its trust policy lets ``apigateway.amazonaws.com`` assume it, and
  otherwise answers ``BadRequestException`` (400) "The role ARN does not have required permissions
  set to API Gateway".
* ``CreateStage`` / ``UpdateStage`` (v2) of a **WebSocket** API with ``AccessLogSettings`` while the
  account has no CloudWatch role: moto accepts it; AWS answers ``BadRequestException`` (400)
  "CloudWatch Logs role ARN must be set in account settings to enable logging". (HTTP APIs log
  without the account role, so they are not checked.)
* IAM ``AttachRolePolicy`` / ``GetPolicy`` of the AWS managed policy
  ``service-role/AmazonAPIGatewayPushToCloudWatchLogs`` when the IAM backend was made without
  ``MOTO_IAM_LOAD_MANAGED_POLICIES`` (the default): moto answers ``NoSuchEntity``; on AWS the policy
  always exists. It is added to the account's IAM backend, from moto's own bundled copy of AWS's
  managed policies, the first time it is asked for; loading all ~1,300 of them would slow every
  test down.

The checks live in moto's model methods (``APIGatewayBackend.update_account``,
``ApiGatewayV2Backend.create_stage`` / ``update_stage``, ``IAMBackend.attach_role_policy`` /
``get_policy``), so they serve ``mock_aws`` and a ``ThreadedMotoServer`` alike.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import unquote

from moto.apigateway.exceptions import BadRequestException as V1BadRequest
from moto.apigateway.models import APIGatewayBackend, apigateway_backends
from moto.apigatewayv2.exceptions import BadRequestException as V2BadRequest
from moto.apigatewayv2.models import ApiGatewayV2Backend
from moto.iam.models import AWSManagedPolicy, IAMBackend, iam_backends

APIGATEWAY_PRINCIPAL = "apigateway.amazonaws.com"
ROLE_NOT_USABLE = "The role ARN does not have required permissions set to API Gateway"
ROLE_NOT_SET = "CloudWatch Logs role ARN must be set in account settings to enable logging"
# AWS managed policies the provisioner attaches, by name (path included in their ARN).
ON_DEMAND_MANAGED_POLICIES = ("AmazonAPIGatewayPushToCloudWatchLogs",)

_policy_data: dict[str, Any] = {}
_policy_lock = threading.Lock()


def _partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def _trusts_apigateway(document: Any) -> bool:
    """Whether a trust policy lets API Gateway's service principal ``sts:AssumeRole``."""
    if isinstance(document, str):
        try:
            document = json.loads(unquote(document))
        except ValueError:
            return False
    statements = (document or {}).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        services = (st.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if APIGATEWAY_PRINCIPAL in services:
            return True
    return False


def _check_role(backend: APIGatewayBackend, role_arn: str) -> None:
    """BadRequestException unless ``role_arn`` is a role of this account that API Gateway can assume."""
    parts = role_arn.split(":")
    if len(parts) != 6 or parts[2] != "iam" or parts[4] != backend.account_id or not parts[5].startswith("role/"):
        raise V1BadRequest(ROLE_NOT_USABLE)
    iam = iam_backends[backend.account_id][_partition(role_arn)]
    role = next((r for r in iam.roles.values() if r.arn == role_arn), None)
    if role is None or not _trusts_apigateway(role.assume_role_policy_document):
        raise V1BadRequest(ROLE_NOT_USABLE)


def _wrap_update_account(original: Any) -> Any:
    def update_account(self: APIGatewayBackend, patch_operations: list[dict[str, Any]]) -> Any:
        for op in patch_operations or []:
            if "/cloudwatchRoleArn" in op.get("path", "") and op.get("op") == "replace" and op.get("value"):
                _check_role(self, op["value"])
        return original(self, patch_operations)

    return update_account


def _check_websocket_logging(backend: ApiGatewayV2Backend, api_id: str, config: dict[str, Any]) -> None:
    if not config.get("accessLogSettings"):
        return
    api = backend.get_api(api_id)
    if api.protocol_type != "WEBSOCKET":
        return
    account = apigateway_backends[backend.account_id][backend.region_name].account
    if not account.cloudwatch_role_arn:
        raise V2BadRequest(ROLE_NOT_SET)


def _wrap_create_stage(original: Any) -> Any:
    def create_stage(self: ApiGatewayV2Backend, api_id: str, config: dict[str, Any]) -> Any:
        _check_websocket_logging(self, api_id, config)
        return original(self, api_id, config)

    return create_stage


def _wrap_update_stage(original: Any) -> Any:
    def update_stage(self: ApiGatewayV2Backend, api_id: str, stage_name: str, config: dict[str, Any]) -> Any:
        _check_websocket_logging(self, api_id, config)
        return original(self, api_id, stage_name, config)

    return update_stage


def _managed_policy_data(name: str) -> dict[str, Any] | None:
    with _policy_lock:
        if not _policy_data:
            from moto.iam.aws_managed_policies import aws_managed_policies_data

            every = json.loads(aws_managed_policies_data)
            _policy_data.update({n: every[n] for n in ON_DEMAND_MANAGED_POLICIES if n in every})
    return _policy_data.get(name)


def _ensure_managed_policy(backend: IAMBackend, policy_arn: str) -> None:
    """Add an on-demand AWS managed policy to ``backend`` if ``policy_arn`` names one it lacks."""
    if policy_arn in backend.managed_policies or ":iam::aws:policy/" not in policy_arn:
        return
    name = policy_arn.rsplit("/", 1)[-1]
    if name not in ON_DEMAND_MANAGED_POLICIES:
        return
    data = _managed_policy_data(name)
    if data is None:
        return
    policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
    if policy.arn == policy_arn:
        backend.managed_policies[policy.arn] = policy


def _wrap_with_policy(original: Any) -> Any:
    def method(self: IAMBackend, policy_arn: str, *args: Any, **kwargs: Any) -> Any:
        _ensure_managed_policy(self, policy_arn)
        return original(self, policy_arn, *args, **kwargs)

    method.__name__ = original.__name__
    return method


def install() -> None:
    """Apply the behaviours above to moto (call once; ``ext.install`` guards that).

    Runs after :mod:`.apigatewayv2`'s ``install``, which adds ``UpdateStage`` to the v2 backend.
    """
    APIGatewayBackend.update_account = _wrap_update_account(APIGatewayBackend.update_account)  # type: ignore[method-assign]
    ApiGatewayV2Backend.create_stage = _wrap_create_stage(ApiGatewayV2Backend.create_stage)  # type: ignore[method-assign]
    ApiGatewayV2Backend.update_stage = _wrap_update_stage(ApiGatewayV2Backend.update_stage)  # type: ignore[attr-defined]
    IAMBackend.attach_role_policy = _wrap_with_policy(IAMBackend.attach_role_policy)  # type: ignore[method-assign]
    IAMBackend.get_policy = _wrap_with_policy(IAMBackend.get_policy)  # type: ignore[method-assign]
