"""CloudWatch Logs: ``DescribeLogGroups`` with ``logGroupIdentifiers``, which moto 5.2.5 ignores (it lists
every group, 50 a page).

AWS: "Use this array to filter the list of log groups returned" (1 to 50 identifiers; "in an account that
is not a cross-account monitoring account, you can specify only log group names in the same account");
with it, the only other filter allowed is ``includeLinkedAccounts``. Here a name or an ARN
(``arn:aws:logs:{region}:{account}:log-group:{name}``, with or without ``:*``) selects that group; groups
that do not exist are left out; the answer is one page, sorted by name.
"""

from __future__ import annotations

import json
from typing import Any

from moto.logs.exceptions import InvalidParameterException
from moto.logs.responses import LogsResponse


def _name(identifier: str) -> str:
    if identifier.startswith("arn:") and ":log-group:" in identifier:
        return identifier.split(":log-group:", 1)[1].removesuffix(":*")
    return identifier


def _wrap_describe_log_groups(original: Any) -> Any:
    def describe_log_groups(self: LogsResponse) -> str:
        identifiers = self._get_param("logGroupIdentifiers")
        if identifiers is None:
            return original(self)
        if not isinstance(identifiers, list) or not 1 <= len(identifiers) <= 50:
            raise InvalidParameterException(constraint="Member must have length between 1 and 50",
                                            parameter="logGroupIdentifiers", value=identifiers)
        if self._get_param("logGroupNamePrefix") or self._get_param("logGroupNamePattern"):
            raise InvalidParameterException(
                msg="logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern")
        groups = self.logs_backend.groups
        names = sorted({_name(i) for i in identifiers} & set(groups))
        return json.dumps({"logGroups": [groups[n].to_describe_dict() for n in names]})

    return describe_log_groups


def install() -> None:
    LogsResponse.describe_log_groups = _wrap_describe_log_groups(LogsResponse.describe_log_groups)  # type: ignore[method-assign]
