"""Cognito user-pool behaviour moto 5.2.5 gets wrong for the calls the provisioner makes.

* ``UpdateUserPool``: moto rebuilt the pool's whole configuration from the request, so the
  settings ``UpdateUserPool`` cannot change - ``UsernameAttributes``, ``AliasAttributes`` and
  ``UsernameConfiguration``, which botocore's model has in ``CreateUserPool`` only - were lost
  (a pool made with ``UsernameAttributes=["email"]`` no longer accepted e-mail sign-in). AWS
  keeps them. moto also ignored ``PoolName`` (AWS renames the pool) and never moved
  ``LastModifiedDate``. Every other setting is still reset to its default when the request
  leaves it out, as AWS documents.
"""

from __future__ import annotations

from typing import Any

from moto.cognitoidp.models import CognitoIdpBackend
from moto.core.utils import utcnow

# In CreateUserPool's input but not UpdateUserPool's (botocore's cognito-idp model); Schema is
# kept by moto apart from the rest of the configuration already.
CREATE_ONLY = ("UsernameAttributes", "AliasAttributes", "UsernameConfiguration")


def _wrap_update_user_pool(original: Any) -> Any:
    def update_user_pool(self: CognitoIdpBackend, user_pool_id: str, extended_config: dict[str, Any]) -> None:
        user_pool = self.describe_user_pool(user_pool_id)
        kept = {key: user_pool.extended_config[key] for key in CREATE_ONLY if key in user_pool.extended_config}
        config = {k: v for k, v in (extended_config or {}).items() if k not in ("UserPoolId", "PoolName")}
        original(self, user_pool_id, {**config, **kept})
        if extended_config and extended_config.get("PoolName"):
            user_pool.name = extended_config["PoolName"]
        user_pool.last_modified_date = utcnow()

    return update_user_pool


def install() -> None:
    """Apply the correction above to moto (call once; ``ext.install`` guards that)."""
    CognitoIdpBackend.update_user_pool = _wrap_update_user_pool(  # type: ignore[method-assign]
        CognitoIdpBackend.update_user_pool
    )
