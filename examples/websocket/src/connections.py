"""The chat's connection ids, in the DynamoDB table ``TABLE_NAME`` (``{"id": connection id}``).

The table is made on first use (``$connect``) if it does not exist yet: the example needs no
Table construct and no step besides ``sstdirect deploy``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.exceptions import ClientError

_ready: set[str] = set()


def table_name() -> str:
    return os.environ["TABLE_NAME"]


def dynamodb() -> Any:
    return boto3.client("dynamodb")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def ensure_table() -> None:
    """Make the table (on-demand billing) unless it exists; wait until it is ACTIVE."""
    name = table_name()
    if name in _ready:
        return
    client = dynamodb()
    try:
        client.describe_table(TableName=name)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        try:
            client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        except ClientError as race:
            if _code(race) != "ResourceInUseException":  # another connection made it first
                raise
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    _ready.add(name)


def add(connection_id: str) -> None:
    ensure_table()
    dynamodb().put_item(TableName=table_name(), Item={"id": {"S": connection_id}})


def remove(connection_id: str) -> None:
    try:
        dynamodb().delete_item(TableName=table_name(), Key={"id": {"S": connection_id}})
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":  # no table yet: nothing to forget
            raise


def all_ids() -> Iterator[str]:
    kwargs: dict[str, Any] = {"TableName": table_name(), "ProjectionExpression": "id"}
    client = dynamodb()
    while True:
        try:
            page = client.scan(**kwargs)
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return
            raise
        for item in page.get("Items", []):
            yield item["id"]["S"]
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
