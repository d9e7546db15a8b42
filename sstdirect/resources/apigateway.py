"""API Gateway account settings (``apigateway.AccountCloudWatchRole``).

WebSocket (and REST) API logging needs the account's CloudWatch role: one IAM role per account
and region, set with API Gateway (v1) ``UpdateAccount``, shared by every API of every app there.
So this resource is **account-level and never deleted**:

* ``create`` keeps a role that is already set (and still exists) — someone else's, another app's
  or an earlier deploy's; only when none is set does it make the role ``ROLE_NAME`` (trusting
  ``apigateway.amazonaws.com``, with the AWS managed policy ``AmazonAPIGatewayPushToCloudWatchLogs``,
  or the same permissions inline where that policy cannot be attached) and set it on the account;
* ``read_many`` (one ``GetAccount`` per deploy) observes it as present while the account has a role
  set that exists, so a no-op deploy writes nothing, and a setting cleared out of band is put back;
* ``delete`` does nothing: ``remove()`` drops the record and keeps the role and the setting, as
  API.md requires (other APIs of the account may log through it). The record's ``on_remove:
  "retain"`` prop says so in the lockfile.

Why a provider rather than a pre-flight step: pre-flight is read-only by contract, while this
needs writes; as a resource it shows in ``diff``, is ordered before the stages that log (they
declare it in ``after``), is retried and recorded like every other write, and costs one read on
a no-op deploy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from ..aws import Aws, error_code
from ..engine.resource import Created, Provider
from ..engine.spec import Spec, resource_spec
from ..engine.values import FrozenDict
from ..state import Record
from .common import tag_list

SERVICE = "apigateway"
ROLE_NAME = "sstdirect-apigateway-cloudwatch"
MANAGED_POLICY = "policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
INLINE_POLICY_NAME = "AmazonAPIGatewayPushToCloudWatchLogs"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}
# The managed policy's permissions (AWS's document, v1), for where it cannot be attached.
PUSH_TO_CLOUDWATCH_LOGS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams",
        "logs:PutLogEvents", "logs:GetLogEvents", "logs:FilterLogEvents"]}],
}


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


@resource_spec("apigateway.AccountCloudWatchRole")
class AccountCloudWatchRoleSpec(Spec):
    role_name: str = ROLE_NAME  # the role made when the account has none
    on_remove: Literal["retain"] = "retain"


class AccountCloudWatchRoleProvider(Provider):
    """An :class:`AccountCloudWatchRoleSpec`. attrs: ``role_arn`` (the account's role, whoever made it). Never
    deleted; see the module doc."""

    spec = AccountCloudWatchRoleSpec

    def _current(self, aws: Aws) -> str | None:
        """The account's CloudWatch role ARN, if one is set and the role exists."""
        arn = aws.call(SERVICE, "get_account").get("cloudwatchRoleArn")
        if not arn or aws.get_or_none("iam", "get_role", RoleName=_role_name(arn)) is None:
            return None
        return arn

    def _ensure_role(self, aws: Aws, name: str) -> str:
        trust = json.dumps(TRUST)
        try:
            role = aws.call("iam", "create_role", RoleName=name, AssumeRolePolicyDocument=trust,
                            Description="API Gateway account-level CloudWatch logging role (made by sstdirect)",
                            Tags=tag_list({"sstdirect:purpose": "apigateway-cloudwatch-logs"}))["Role"]
        except Exception as exc:
            if error_code(exc) != "EntityAlreadyExists":
                raise
            role = aws.call("iam", "get_role", RoleName=name)["Role"]
            aws.call("iam", "update_assume_role_policy", RoleName=name, PolicyDocument=trust)
        partition = role["Arn"].split(":")[1]
        managed = f"arn:{partition}:iam::aws:{MANAGED_POLICY}"
        if aws.get_or_none("iam", "attach_role_policy", RoleName=name, PolicyArn=managed) is None:  # no such policy
            aws.call("iam", "put_role_policy", RoleName=name, PolicyName=INLINE_POLICY_NAME,
                     PolicyDocument=json.dumps(PUSH_TO_CLOUDWATCH_LOGS))
        return role["Arn"]

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        current = self._current(aws)
        if current is not None:
            return Created(current, {"role_arn": current})
        arn = self._ensure_role(aws, AccountCloudWatchRoleSpec.from_props(props).role_name)
        # IAM is eventually consistent: a role just made may be refused for a while (Aws.call retries it).
        aws.call(SERVICE, "update_account",
                 patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])
        return Created(arn, {"role_arn": arn})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        present = self._current(aws) is not None  # one account setting, however many records
        return {address: {} if present else None for address in records}

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        return self.create(aws, props).attrs

    def delete(self, aws: Aws, record: Record) -> None:
        """Nothing: the role and the account setting are shared by every API of the account."""

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        current = self._current(aws)
        return None if current is None else Created(current, {"role_arn": current})
