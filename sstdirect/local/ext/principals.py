"""Whom a key pair the embedded AWS handed out belongs to: ``LocalCloud.principal(access_key_id)``, the lookup
the local gateway checks SigV4 against (its :class:`~sstdirect.local.gateway.contract.EmbeddedAws` protocol).

* ``LocalCloud.credentials``: the cloud's own IAM user :data:`CLOUD_USER_NAME` (``arn:aws:iam::{account}:user/
  sstdirect-local``, id ``AIDA…``: :func:`cloud_user`), unrestricted -- on AWS the key pair one deploys with
  belongs to an IAM user; ``sts get-caller-identity`` names the same user for them (and for any key moto does
  not know, where moto answered ``arn:aws:sts::{account}:user/moto``, ``UserId`` an access key id);
* credentials issued by an embedded Cognito identity pool (``GetCredentialsForIdentity``), with their
  ``cognitoIdentity`` block (:func:`.cognitoidentity.issued_identity`);
* moto's IAM users' access keys and STS sessions (``AssumeRole`` and friends), with the statements of their
  policies (and their groups', their role's).

All read in-process from moto's backends. :func:`install` makes moto's IAM users' ids ``AIDA…`` (moto: 20
lowercase characters) and moto's fallback caller :func:`cloud_user`. IAM's unique-id prefixes: ``AIDA`` for a
user, ``AROA`` for a role (IAM User Guide, "IAM identifiers", "Understanding unique ID prefixes").
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from ..gateway.auth_iam import Principal
from ..gateway.auth_policy import statements_of

CLOUD_USER_NAME = "sstdirect-local"
USER_ID_PREFIX = "AIDA"
UNIQUE_ID_LENGTH = 21  # e.g. AIDAJQABLZS4A3QDU576Q (IAM User Guide, "IAM identifiers")


def cloud_user(account_id: str, partition: str = "aws") -> tuple[str, str]:
    """``(user id, user ARN)`` of the cloud's own IAM user in ``account_id``: stable, ``AIDA`` + 17 characters of
    IAM's alphabet (upper-case letters and 2-7)."""
    digest = base64.b32encode(hashlib.sha256(f"{account_id}/{CLOUD_USER_NAME}".encode()).digest()).decode()
    user_id = USER_ID_PREFIX + digest[:UNIQUE_ID_LENGTH - len(USER_ID_PREFIX)]
    return user_id, f"arn:{partition}:iam::{account_id}:user/{CLOUD_USER_NAME}"


class EmbeddedPrincipals:
    """``principals(access_key_id)``: the :class:`Principal` of a key pair the embedded AWS handed out, else None."""

    def __init__(self, access_key_id: str, secret_access_key: str, account_id: str = "123456789012"):
        user_id, user_arn = cloud_user(account_id)
        self.default = Principal(access_key_id, secret_access_key, account_id, user_arn, user_id)

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


def _wrap_get_caller_identity(original: Any) -> Any:
    """moto's ``GetCallerIdentity``, naming :func:`cloud_user` where moto fell back to ``user/moto``."""

    def get_caller_identity(self: Any, access_key_id: str, region: str) -> tuple[str, str, str]:
        user_id, arn, account_id = original(self, access_key_id, region)
        if arn.endswith(f":sts::{account_id}:user/moto"):
            user_id, arn = cloud_user(account_id, arn.split(":")[1])
        return user_id, arn, account_id

    return get_caller_identity


def _wrap_user_init(original: Any) -> Any:
    """moto's IAM ``User``, with an ``AIDA…`` id as IAM gives (moto: 20 random lowercase characters)."""
    from moto.iam.utils import generate_access_key_id_from_account_id

    def __init__(self: Any, account_id: str, *args: Any, **kwargs: Any) -> None:
        original(self, account_id, *args, **kwargs)
        self.id = generate_access_key_id_from_account_id(account_id, USER_ID_PREFIX, UNIQUE_ID_LENGTH)

    return __init__


def install() -> None:
    """Patch moto's STS fallback caller and IAM user ids (call once; ``ext.install`` guards that)."""
    from moto.iam.models import User
    from moto.sts.models import STSBackend

    STSBackend.get_caller_identity = _wrap_get_caller_identity(STSBackend.get_caller_identity)  # type: ignore[method-assign]
    User.__init__ = _wrap_user_init(User.__init__)  # type: ignore[method-assign]
