"""Whom a key pair the embedded AWS handed out belongs to: ``LocalCloud.principal(access_key_id)``, the lookup
the local gateway checks SigV4 against (its :class:`~sstdirect.local.gateway.contract.EmbeddedAws` protocol).

* ``LocalCloud.credentials``: moto's default caller (``arn:aws:sts::{account}:user/moto``, the same principal
  that ``sts get-caller-identity`` names for them), unrestricted;
* credentials issued by an embedded Cognito identity pool (``GetCredentialsForIdentity``), with their
  ``cognitoIdentity`` block (:func:`.cognitoidentity.issued_identity`);
* moto's IAM users' access keys and STS sessions (``AssumeRole`` and friends), with the statements of their
  policies (and their groups', their role's).

All read in-process from moto's backends.
"""

from __future__ import annotations

from typing import Any

from ..gateway.auth_iam import Principal
from ..gateway.auth_policy import statements_of


class EmbeddedPrincipals:
    """``principals(access_key_id)``: the :class:`Principal` of a key pair the embedded AWS handed out, else None."""

    def __init__(self, access_key_id: str, secret_access_key: str, account_id: str = "123456789012"):
        self.default = Principal(access_key_id, secret_access_key, account_id,
                                 f"arn:aws:sts::{account_id}:user/moto", "AKIAIOSFODNN7EXAMPLE")

    def __call__(self, access_key_id: str) -> Principal | None:
        if access_key_id == self.default.access_key:
            return self.default
        return _sts(access_key_id) or _iam_user(access_key_id)


def _sts(access_key_id: str) -> Principal | None:
    from moto.sts.models import sts_backends

    from .cognitoidentity import issued_identity

    for account_id in list(sts_backends.keys()):
        for backend in list(sts_backends[account_id].values()):
            role = backend.get_assumed_role_from_access_key(access_key_id)
            if role is not None:
                return Principal(access_key_id, role.secret_access_key, role.account_id, role.arn, role.user_id,
                                 issued_identity(access_key_id), role.session_token, _role_statements(role.role_arn))
    return None


def _iam_user(access_key_id: str) -> Principal | None:
    from moto.iam.models import iam_backends

    for account_id in list(iam_backends.keys()):
        for backend in list(iam_backends[account_id].values()):
            user = backend.get_user_from_access_key_id(access_key_id)
            if user is None:
                continue
            for key in backend.list_access_keys(user.name):
                if key.access_key_id == access_key_id and key.status == "Active":
                    groups = backend.get_groups_for_user(user.name)
                    return Principal(access_key_id, key.secret_access_key, user.account_id, user.arn, user.id,
                                     statements=_statements(user, *groups))
    return None


def _role_statements(role_arn: str) -> tuple[dict[str, Any], ...]:
    """The statements of a role's inline and attached policies (none when the role does not exist)."""
    from moto.iam.models import iam_backends

    account_id = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
    for backend in list(iam_backends[account_id].values()) if account_id in iam_backends else []:
        try:
            return _statements(backend.get_role_by_arn(role_arn))
        except Exception:  # not in this partition
            continue
    return ()


def _statements(*entities: Any) -> tuple[dict[str, Any], ...]:
    """Every statement of the entities' (a role, a user, groups) inline and attached managed policies."""
    out: list[dict[str, Any]] = []
    for entity in entities:
        documents = list(getattr(entity, "policies", {}).values())
        for policy in getattr(entity, "managed_policies", {}).values():
            documents += [v.document for v in policy.versions if v.is_default]
        for document in documents:
            out += statements_of(document)
    return tuple(out)
