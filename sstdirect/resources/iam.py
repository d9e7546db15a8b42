"""IAM roles with one inline policy (``iam.Role``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..aws import Aws, error_code
from ..engine.resource import Created, Owned, Provider, tagged_for
from ..engine.spec import Spec, resource_spec
from ..engine.values import FrozenDict
from ..naming import name_prefix
from ..state import Record
from .common import plain, tag_list

POLICY_NAME = "sstdirect"


@resource_spec("iam.Role")
class RoleSpec(Spec):
    name: str
    assume_role_policy: Mapping[str, Any]
    policy: Mapping[str, Any] | None = None  # the inline policy ``sstdirect``
    tags: Mapping[str, str]


class RoleProvider(Provider):
    """A :class:`RoleSpec`. attrs: ``arn``, ``name``."""

    spec = RoleSpec
    replace_on = frozenset({"name"})
    start_priority = 2

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = RoleSpec.from_props(props)
        trust = json.dumps(plain(spec.assume_role_policy))
        try:
            role = aws.call("iam", "create_role", RoleName=spec.name, AssumeRolePolicyDocument=trust,
                            Tags=tag_list(spec.tags))["Role"]
        except Exception as exc:
            if "EntityAlreadyExists" not in str(getattr(exc, "response", {}).get("Error", {}).get("Code", "")):
                raise
            role = aws.call("iam", "get_role", RoleName=spec.name)["Role"]
            aws.call("iam", "update_assume_role_policy", RoleName=spec.name, PolicyDocument=trust)
        self._put_policy(aws, spec.name, spec.policy)
        return Created(spec.name, {"arn": role["Arn"], "name": spec.name})

    def _put_policy(self, aws: Aws, name: str, policy: Any) -> None:
        if policy:
            aws.call("iam", "put_role_policy", RoleName=name, PolicyName=POLICY_NAME,
                     PolicyDocument=json.dumps(plain(policy)))
        else:
            aws.delete_if_exists("iam", "delete_role_policy", RoleName=name, PolicyName=POLICY_NAME)

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        name = record.physical_id
        role = aws.get_or_none("iam", "get_role", "Role", RoleName=name)
        if role is None:
            return None
        policy = aws.get_or_none("iam", "get_role_policy", "PolicyDocument", RoleName=name, PolicyName=POLICY_NAME)
        return {"name": name, "assume_role_policy": _doc(role["AssumeRolePolicyDocument"]),
                "policy": _doc(policy) if policy else None}

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        """Several roles: one paginated ``GetAccountAuthorizationDetails(Filter=["Role"])`` (each role
        with its trust policy and inline policies, up to 1000 roles a page), so the number of reads
        depends on the roles in the account, not on this app's. Without permission for it: per-role reads."""
        if len(records) <= 1:
            return super().read_many(aws, records)
        try:
            details = aws.paginate("iam", "get_account_authorization_details", "RoleDetailList",
                                   Filter=["Role"], MaxItems=1000)
        except Exception as exc:
            if error_code(exc) not in ("AccessDenied", "AccessDeniedException", "NotImplemented"):
                raise
            with ThreadPoolExecutor(max_workers=min(16, len(records))) as pool:
                return dict(pool.map(lambda item: (item[0], self.read(aws, item[1])), records.items()))
        by_name = {role["RoleName"]: role for role in details}
        out: dict[str, dict[str, Any] | None] = {}
        for address, rec in records.items():
            role = by_name.get(rec.physical_id or "")
            if role is None:
                out[address] = None
                continue
            policy = next((p["PolicyDocument"] for p in role.get("RolePolicyList") or []
                           if p.get("PolicyName") == POLICY_NAME), None)
            out[address] = {"name": role["RoleName"], "assume_role_policy": _doc(role["AssumeRolePolicyDocument"]),
                            "policy": _doc(policy) if policy else None}
        return out

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        name, spec = record.physical_id, RoleSpec.from_props(props)
        if "assume_role_policy" in changed:
            aws.call("iam", "update_assume_role_policy", RoleName=name,
                     PolicyDocument=json.dumps(plain(spec.assume_role_policy)))
        if "policy" in changed:
            self._put_policy(aws, name, spec.policy)
        if "tags" in changed:
            aws.call("iam", "tag_role", RoleName=name, Tags=tag_list(spec.tags))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        """Delete the recorded inline policy, then the role; only if IAM refuses (a policy or an attached
        managed policy added outside sstdirect) list and remove every policy first."""
        name = record.physical_id
        if record.props.get("policy"):
            aws.delete_if_exists("iam", "delete_role_policy", RoleName=name, PolicyName=POLICY_NAME)
        try:
            aws.delete_if_exists("iam", "delete_role", RoleName=name)
            return
        except Exception as exc:
            if error_code(exc) != "DeleteConflict":
                raise
        for policy in aws.paginate_or_empty("iam", "list_role_policies", "PolicyNames", RoleName=name):
            aws.delete_if_exists("iam", "delete_role_policy", RoleName=name, PolicyName=policy)
        for attached in aws.paginate_or_empty("iam", "list_attached_role_policies", "AttachedPolicies", RoleName=name):
            aws.delete_if_exists("iam", "detach_role_policy", RoleName=name, PolicyArn=attached["PolicyArn"])
        aws.delete_if_exists("iam", "delete_role", RoleName=name)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        name = RoleSpec.from_record(props).name
        role = aws.get_or_none("iam", "get_role", "Role", RoleName=name)
        return None if role is None else Created(name, {"arn": role["Arn"], "name": name})

    def owned(self, aws: Aws, app: str, stage: str, skip: frozenset[str] = frozenset()) -> list[Owned]:
        """One ListRoles (which has no tags), then the tags of each role named like this app's."""
        prefix = name_prefix(stage, app)
        out = []
        for role in aws.paginate("iam", "list_roles", "Roles"):
            if not role["RoleName"].startswith(prefix) or role["RoleName"] in skip:
                continue
            tags = aws.paginate_or_empty("iam", "list_role_tags", "Tags", RoleName=role["RoleName"])  # none if gone
            found = {t["Key"]: t["Value"] for t in tags}
            if tagged_for(found, app, stage):
                out.append(Owned(found.get("sstdirect:id", ""), role["RoleName"]))
        return out


def _doc(doc: Any) -> Any:
    """A policy document as a dict (boto3 decodes most, but not every, IAM response)."""
    if isinstance(doc, str):
        from urllib.parse import unquote

        return json.loads(unquote(doc))
    return doc
