"""DynamoDB tables (``dynamodb.Table``): what the :class:`~sstdirect.constructs.table.Table` construct makes.

A table's name is unique in its account and region, so the provider finds its table by name and
trusts it only when it carries this resource's ``sstdirect:*`` tags (given to ``CreateTable`` itself,
so even a table whose create answer was lost carries them): a table of that name that is not this
app's is never adopted, updated or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from ..aws import Aws, error_code
from ..engine.plan import ReplaceOrder
from ..engine.resource import IDENTITY_TAGS, Created, Owned, Provider, tagged_for
from ..engine.spec import Spec, resource_spec
from ..engine.values import FrozenDict
from ..naming import name_prefix
from ..state import Record
from .common import plain, tag_list

KEY_FIELDS = ("partition_key", "sort_key")
# DynamoDB answers a create, delete or update on a table that is not ACTIVE (or a name that is taken)
# with ResourceInUseException.
IN_USE = "ResourceInUseException"
WAIT = {"delay": 1, "max_attempts": 120}  # CreateTable / DeleteTable take seconds on AWS


def table_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def _key(description: Mapping[str, Any], key_type: str) -> dict[str, str] | None:
    types = {a["AttributeName"]: a["AttributeType"] for a in description.get("AttributeDefinitions", [])}
    for element in description.get("KeySchema", []):
        if element["KeyType"] == key_type:
            return {"name": element["AttributeName"], "type": types.get(element["AttributeName"], "")}
    return None


def _observed(description: Mapping[str, Any]) -> dict[str, Any]:
    billing = (description.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    return {"name": description["TableName"], "partition_key": _key(description, "HASH"),
            "sort_key": _key(description, "RANGE"), "billing_mode": billing}


@resource_spec("dynamodb.Table")
class TableSpec(Spec):
    name: str
    partition_key: Mapping[str, str]  # {"name", "type"} (type S, N or B)
    sort_key: Mapping[str, str] | None = None  # the same, or None
    billing_mode: Literal["PAY_PER_REQUEST", "PROVISIONED"] = "PAY_PER_REQUEST"
    tags: Mapping[str, str]


class TableProvider(Provider):
    """A :class:`TableSpec`. attrs: ``arn``, ``name``.

    - create: ``CreateTable`` with the tags, then botocore's ``table_exists`` waiter (ACTIVE). Refused
      because the name is taken by a table tagged as this resource (an earlier create whose answer was
      lost): that table is adopted. By any other table: the error stands.
    - read: ``DescribeTable`` (the tables at once); a table being deleted is gone. Tags are not read.
    - update: the billing mode (``UpdateTable``, if it was changed by hand) and the tags (``TagResource`` /
      ``UntagResource``); the keys and the name force a
      replacement — delete first, as a name cannot hold two tables, so the items are lost, as with
      CloudFormation.
    - delete: ``DeleteTable``, then the ``table_not_exists`` waiter (the name is free when it returns).
    """

    spec = TableSpec
    replace_on = frozenset({"name", *KEY_FIELDS})
    replace_order = ReplaceOrder.DELETE_FIRST

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        spec = TableSpec.from_props(props)
        name = spec.name
        keys = [(spec.partition_key, "HASH")] + ([(spec.sort_key, "RANGE")] if spec.sort_key else [])
        try:
            made = aws.call(
                "dynamodb", "create_table", TableName=name, BillingMode=spec.billing_mode,
                AttributeDefinitions=[{"AttributeName": k["name"], "AttributeType": k["type"]} for k, _ in keys],
                KeySchema=[{"AttributeName": k["name"], "KeyType": kind} for k, kind in keys],
                Tags=tag_list(plain(spec.tags)),
            )["TableDescription"]
        except Exception as exc:
            if error_code(exc) != IN_USE:
                raise
            found = self.find(aws, props)
            if found is None:  # another app's (or a hand-made) table holds the name
                raise
            return found
        if made.get("TableStatus") != "ACTIVE":  # AWS answers CREATING
            aws.wait("dynamodb", "table_exists", TableName=name, **WAIT)
        return Created(name, {"arn": made["TableArn"], "name": name})

    def _describe(self, aws: Aws, name: str) -> dict[str, Any] | None:
        table = aws.get_or_none("dynamodb", "describe_table", "Table", TableName=name)
        return None if table is None or table.get("TableStatus") == "DELETING" else table

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        """One ``DescribeTable`` per table (DynamoDB has no batched describe), the calls at once."""
        items = list(records.items())

        def read(item: tuple[str, Record]) -> tuple[str, dict[str, Any] | None]:
            table = self._describe(aws, item[1].physical_id or "")
            return item[0], None if table is None else _observed(table)

        with ThreadPoolExecutor(max_workers=min(8, len(items) or 1)) as pool:
            return dict(pool.map(read, items))

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        spec = TableSpec.from_props(props)
        if "billing_mode" in changed:
            aws.call("dynamodb", "update_table", TableName=record.physical_id, BillingMode=spec.billing_mode)
            aws.wait("dynamodb", "table_exists", TableName=record.physical_id, **WAIT)
        if "tags" in changed:
            arn = record.attrs.get("arn")
            new, old = plain(spec.tags), dict(record.props.get("tags") or {})
            aws.call("dynamodb", "tag_resource", ResourceArn=arn, Tags=tag_list(new))
            gone = sorted(set(old) - set(new))
            if gone:
                aws.call("dynamodb", "untag_resource", ResourceArn=arn, TagKeys=gone)
        return {}

    def delete(self, aws: Aws, record: Record) -> None:
        name = record.physical_id
        try:
            aws.delete_if_exists("dynamodb", "delete_table", TableName=name)
        except Exception as exc:
            if error_code(exc) != IN_USE:
                raise
            # still CREATING (or UPDATING): a table can be deleted once it is ACTIVE
            aws.wait("dynamodb", "table_exists", TableName=name, **WAIT)
            aws.delete_if_exists("dynamodb", "delete_table", TableName=name)
        aws.wait("dynamodb", "table_not_exists", TableName=name, **WAIT)

    def _tags(self, aws: Aws, arn: str) -> dict[str, str]:
        """The table's tags (none when it is gone)."""
        return {t["Key"]: t["Value"] for t in aws.paginate_or_empty("dynamodb", "list_tags_of_resource", "Tags",
                                                                     ResourceArn=arn)}

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        """The table of this name, if it carries this resource's ``sstdirect:*`` tags."""
        spec = TableSpec.from_record(props)
        name = spec.name
        if name in exclude:
            return None
        table = self._describe(aws, name)
        if table is None:
            return None
        tags = self._tags(aws, table["TableArn"])
        if any(tags.get(key) != spec.tags.get(key) for key in IDENTITY_TAGS):
            return None
        if table.get("TableStatus") != "ACTIVE":
            aws.wait("dynamodb", "table_exists", TableName=name, **WAIT)
        return Created(name, {"arn": table["TableArn"], "name": name})

    def owned(self, aws: Aws, app: str, stage: str, skip: frozenset[str] = frozenset()) -> list[Owned]:
        """``ListTables`` (names only), then the tags of each table named like this app's."""
        prefix = name_prefix(stage, app)
        out = []
        for name in aws.paginate("dynamodb", "list_tables", "TableNames"):
            if not name.startswith(prefix) or name in skip:
                continue
            tags = self._tags(aws, table_arn(aws.region, aws.account_id, name))
            if tagged_for(tags, app, stage):
                out.append(Owned(tags.get("sstdirect:id", ""), name))
        return out
