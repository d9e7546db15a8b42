"""The chat's connection ids, in the DynamoDB table ``TABLE_NAME`` (``{"id": connection id}``).

The table is the app's ``Connections`` Table (see ``app.py``): made by ``sstdirect deploy``, so the
handlers only put, delete and scan items (the three actions their role allows).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3


def table_name() -> str:
    return os.environ["TABLE_NAME"]


def dynamodb() -> Any:
    return boto3.client("dynamodb")


def add(connection_id: str) -> None:
    dynamodb().put_item(TableName=table_name(), Item={"id": {"S": connection_id}})


def remove(connection_id: str) -> None:
    dynamodb().delete_item(TableName=table_name(), Key={"id": {"S": connection_id}})


def all_ids() -> Iterator[str]:
    kwargs: dict[str, Any] = {"TableName": table_name(), "ProjectionExpression": "id"}
    client = dynamodb()
    while True:
        page = client.scan(**kwargs)
        for item in page.get("Items", []):
            yield item["id"]["S"]
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
