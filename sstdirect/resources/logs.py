"""CloudWatch Logs log groups (``logs.LogGroup``)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..aws import Aws, error_code
from ..engine.resource import Created, Owned, Provider, tagged_for
from ..engine.spec import Spec, Text, resource_spec
from ..engine.values import FrozenDict
from ..naming import name_prefix
from ..state import Record
from .common import plain


def log_group_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{name}"


@resource_spec("logs.LogGroup")
class LogGroupSpec(Spec):
    name: Text
    retention_days: int | None = None  # None: never expire
    tags: Mapping[str, str]


class LogGroupProvider(Provider):
    """A :class:`LogGroupSpec`. attrs: ``arn`` (without the trailing ``:*``), ``name``.

    A group that already exists under the name (e.g. made by Lambda on a first invoke) is adopted.
    """

    spec = LogGroupSpec
    replace_on = frozenset({"name"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        group = LogGroupSpec.from_props(props)
        name = group.name
        try:
            aws.call("logs", "create_log_group", logGroupName=name, tags=plain(group.tags))
        except Exception as exc:
            if error_code(exc) != "ResourceAlreadyExistsException":
                raise
            aws.call("logs", "tag_log_group", logGroupName=name, tags=plain(group.tags))
            self._retention(aws, name, group.retention_days)
        else:
            if group.retention_days:
                self._retention(aws, name, group.retention_days)
        return Created(name, self._attrs(aws, name))

    def _attrs(self, aws: Aws, name: str) -> dict[str, Any]:
        return {"arn": log_group_arn(aws.region, aws.account_id, name), "name": name}

    def _retention(self, aws: Aws, name: str, days: int | None) -> None:
        if days:
            aws.call("logs", "put_retention_policy", logGroupName=name, retentionInDays=days)
        else:
            aws.delete_if_exists("logs", "delete_retention_policy", logGroupName=name)

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        """``DescribeLogGroups`` by name, 50 names a call (``logGroupIdentifiers``), the calls at once: one
        round trip for any number of groups, where listing them by prefix took a page per 50 in turn."""
        names = {address: rec.physical_id or "" for address, rec in records.items()}
        unique = sorted({name for name in names.values() if name})
        chunks = [unique[i:i + 50] for i in range(0, len(unique), 50)]

        def describe(chunk: list[str]) -> list[dict[str, Any]]:
            return aws.call("logs", "describe_log_groups", logGroupIdentifiers=chunk).get("logGroups", [])

        with ThreadPoolExecutor(max_workers=min(8, len(chunks) or 1)) as pool:
            found = {g["logGroupName"]: g for groups in pool.map(describe, chunks) for g in groups}
        return {address: {"name": name, "retention_days": found[name].get("retentionInDays")} if name in found else None
                for address, name in names.items()}

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        group = LogGroupSpec.from_props(props)
        if "retention_days" in changed:
            self._retention(aws, record.physical_id or "", group.retention_days)
        if "tags" in changed:
            aws.call("logs", "tag_log_group", logGroupName=record.physical_id, tags=plain(group.tags))
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists("logs", "delete_log_group", logGroupName=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        name = LogGroupSpec.from_record(props).name
        if self.read(aws, Record(self.type, "", physical_id=name)) is None:
            return None
        return Created(name, self._attrs(aws, name))

    def owned(self, aws: Aws, app: str, stage: str, skip: frozenset[str] = frozenset()) -> list[Owned]:
        """The groups sstdirect names for this app (functions' and APIs' access logs: one listing per folder),
        then the tags of each."""
        out = []
        for folder in ("/aws/lambda/", "/aws/vendedlogs/apis/"):
            for group in aws.paginate("logs", "describe_log_groups", "logGroups",
                                      logGroupNamePrefix=folder + name_prefix(stage, app)):
                if group["logGroupName"] in skip:
                    continue
                # a group gone since the listing has no tags
                listed = aws.get_or_none("logs", "list_tags_log_group", logGroupName=group["logGroupName"])
                tags = (listed or {}).get("tags")
                if tagged_for(tags, app, stage):
                    out.append(Owned((tags or {}).get("sstdirect:id", ""), group["logGroupName"]))
        return out
