"""``Table``: a DynamoDB table the app declares (SST v2's ``Table``, its keys only).

```python
table = Table(app, "Notes", fields={"user_id": "string", "note_id": "string"},
              primary_index={"partition_key": "user_id", "sort_key": "note_id"})
Function(app, "List", handler="src/list.main",
         environment={"TABLE_NAME": table.table_name},
         permissions=[{"Action": ["dynamodb:Query"], "Resource": table.arn}])  # or permissions=[table]
```

- ``fields``: the key attributes and their types (``"string"``, ``"number"``, ``"binary"``), as SST's
  ``fields``. DynamoDB declares only the attributes a key uses (the other attributes of an item need no
  declaration), and sstdirect's Table has no secondary indexes yet, so every field must be a key.
- ``primary_index``: ``{"partition_key": field, "sort_key": field}`` (``sort_key`` optional).
- On-demand billing (``PAY_PER_REQUEST``, SST's default). Physical name ``{stage}-{app}-{id}``, tagged
  ``sstdirect:*`` like everything else; ``app.remove()`` deletes the table and its items.
- Changing the keys replaces the table: the old one is deleted first (a name holds one table), and its
  items with it.
- Outputs: ``table.table_name`` (known before deploy), ``table.arn`` (after deploy; it names this
  account), ``table.id`` (the table name). ``permissions=[table]`` grants the item actions
  (:data:`ITEM_ACTIONS`) on this table only — never ``dynamodb:*``, nor table management.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..engine.resource import Resource
from ..engine.values import Fmt, Ref
from ..errors import ConfigError
from ..naming import physical_name
from ..resources.dynamodb import TableSpec
from .base import Construct, ExpandContext, check_options

if TYPE_CHECKING:
    from .base import ConstructHost

TABLE_OPTIONS = ("fields", "primary_index")
INDEX_OPTIONS = ("partition_key", "sort_key")
# SST v2 Table options sstdirect does not make (yet): named plainly rather than "unknown".
UNSUPPORTED = ("global_indexes", "local_indexes", "stream", "time_to_live_attribute", "consumers",
               "kinesis_stream", "cdk")
FIELD_TYPES = {"string": "S", "number": "N", "binary": "B"}
# DynamoDB's item-level (data-plane) actions, from the Service Authorization Reference
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html): what
# ``permissions=[table]`` grants on the table's ARN. No table management (CreateTable, DeleteTable,
# UpdateTable, DescribeTable), no streams.
ITEM_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
                "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
                "dynamodb:UpdateItem")


def _snake(key: Any) -> str:
    import re

    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower() if isinstance(key, str) else ""


class Table(Construct):
    """A DynamoDB table with a partition key and an optional sort key, billed on demand."""

    kind = "Table"

    def __init__(self, app: ConstructHost, id: str, fields: Mapping[str, str] | None = None,
                 primary_index: Mapping[str, str] | None = None, **unknown: Any):
        super().__init__(app, id)
        for key in unknown:
            if _snake(key) in UNSUPPORTED:
                raise ConfigError(f"{self.label}: {key!r} is not supported by sstdirect's Table (yet); "
                                  f"it makes a table with a primary index only (fields=, primary_index=)")
        check_options(self.label, unknown, TABLE_OPTIONS)
        self.fields = self._fields(fields)
        self.partition_key, self.sort_key = self._primary_index(primary_index)
        keys = {self.partition_key, self.sort_key} - {None}
        extra = sorted(set(self.fields) - keys)
        if extra:
            raise ConfigError(f"{self.label}: field(s) {extra} are not keys of primary_index; DynamoDB declares "
                              f"only key attributes (an item's other attributes need no declaration), so list "
                              f"only the keys in fields=")

    def _fields(self, fields: Any) -> dict[str, str]:
        form = "fields={'id': 'string'} (types: " + ", ".join(FIELD_TYPES) + ")"
        if not isinstance(fields, Mapping) or not fields:
            raise ConfigError(f"{self.label}: fields must be a non-empty dict of attribute name → type, like {form}; "
                              f"got {fields!r}")
        out = {}
        for name, kind in fields.items():
            if not isinstance(name, str) or not 1 <= len(name) <= 255:
                raise ConfigError(f"{self.label}: field name {name!r} must be a string of 1-255 characters")
            if not isinstance(kind, str) or kind not in FIELD_TYPES:
                raise ConfigError(f"{self.label}: field {name!r} has type {kind!r}; use one of "
                                  f"{', '.join(map(repr, FIELD_TYPES))}")
            out[name] = kind
        return out

    def _primary_index(self, index: Any) -> tuple[str, str | None]:
        form = "primary_index={'partition_key': 'id'} (and optionally 'sort_key')"
        if not isinstance(index, Mapping):
            raise ConfigError(f"{self.label}: primary_index must be a dict like {form}; got {index!r}")
        check_options(f"{self.label} primary_index", index, INDEX_OPTIONS)
        keys = []
        for option in INDEX_OPTIONS:
            value = index.get(option)
            if value is None and option == "sort_key":
                keys.append(None)
                continue
            if not isinstance(value, str) or value not in self.fields:
                raise ConfigError(f"{self.label}: primary_index {option} must name one of fields "
                                  f"({', '.join(map(repr, self.fields))}); got {value!r}. Fix: {form}")
            keys.append(value)
        if keys[0] == keys[1]:
            raise ConfigError(f"{self.label}: primary_index sort_key must differ from partition_key ({keys[0]!r})")
        return keys[0], keys[1]

    # -- outputs -----------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"{self.construct_id}/table"

    @property
    def table_name(self) -> str:
        """``{stage}-{app}-{id}``: known before deploy."""
        return physical_name(self.app.stage, self.app.name, self.construct_id, max_len=255)

    @property
    def id(self) -> str:
        """The table's AWS id: its name."""
        return self.table_name

    def _arn_ref(self) -> Fmt:
        # The ARN follows from the name, region and account: a role granted the table need not wait for
        # the table to be made (IAM accepts a policy on a table that does not exist yet).
        return Fmt.of("arn:aws:dynamodb:{region}:{account}:table/{name}", region=Ref("aws", "region"),
                      account=Ref("aws", "account_id"), name=self.table_name)

    @property
    def arn(self) -> Any:
        """``arn:aws:dynamodb:{region}:{account}:table/{name}``, this deploy's account (a plain string after
        deploy; an Output before, usable in a permission statement's ``Resource``)."""
        return self._output("arn", self._arn_ref())

    def _grant_statement(self) -> dict[str, Any]:
        """Granting a Table: its item actions on its ARN (which names this account)."""
        return {"Effect": "Allow", "Action": list(ITEM_ACTIONS), "Resource": self._arn_ref()}

    def _outputs(self, attr: Any) -> dict[str, Any]:
        return {"table_name": self.table_name, "arn": attr(self.address, "arn"), "id": self.table_name}

    # -- expansion ---------------------------------------------------------------------------

    def _key(self, name: str | None) -> dict[str, str] | None:
        return None if name is None else {"name": name, "type": FIELD_TYPES[self.fields[name]]}

    def _resources(self, ctx: ExpandContext) -> list[Resource]:
        return [Resource.of(self.address, TableSpec(
            name=physical_name(ctx.stage, ctx.app, self.construct_id, max_len=255),
            partition_key=self._key(self.partition_key), sort_key=self._key(self.sort_key),
            billing_mode="PAY_PER_REQUEST", tags=ctx.tags(self.address)))]
