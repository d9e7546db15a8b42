"""AppSync's DynamoDB data source, run against the embedded AWS's DynamoDB: a rendered request mapping
template (AppSync's ``resolver-mapping-template-reference-dynamodb``) → a boto3 call → the value
``$ctx.result`` holds.

Operations: ``GetItem``, ``PutItem``, ``UpdateItem``, ``DeleteItem``, ``Query`` and ``Scan``, with ``key``,
``attributeValues``, ``update`` / ``query`` / ``filter`` / ``condition`` expressions (``expression``,
``expressionNames``, ``expressionValues``), ``index``, ``limit``, ``nextToken``, ``scanIndexForward``,
``consistentRead`` and ``select``. Results are plain JSON (numbers as int or float): the item for
``GetItem`` / ``PutItem`` / ``UpdateItem`` (the new item) / ``DeleteItem`` (the deleted item), and
``{"items", "nextToken", "scannedCount"}`` for ``Query`` / ``Scan``.

A failed condition is ``DynamoDB:ConditionalCheckFailedException`` with the current item as the error's
``data``, unless the item already is what the ``PutItem`` wrote or the ``DeleteItem`` removed (AppSync's
default idempotency check, honouring ``equalsIgnore``). Anything else (batch and transaction operations,
``Sync``, ``conditionalCheckFailedHandler``, versioned data sources) is :class:`Unsupported`.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from .vtl import ResolverError, Unsupported

OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan")


class DynamoDBError(ResolverError):
    """A DynamoDB call failed: AppSync's ``errorType`` (``DynamoDB:<code>``), message and ``data``."""


def plain(value: Any) -> Any:
    """A deserialized DynamoDB value as JSON: Decimals → int/float, sets → lists, bytes → base64."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | set | frozenset | tuple):
        items = [plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3's Binary
        return base64.b64encode(value.value).decode()
    return value


def unmarshal(item: dict[str, Any] | None) -> dict[str, Any] | None:
    """A DynamoDB-JSON item → plain JSON (None stays None)."""
    if item is None:
        return None
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {k: plain(deserializer.deserialize(v)) for k, v in item.items()}


def _expression(params: dict[str, Any], spec: Any, key: str, label: str) -> None:
    """Add an AppSync ``{expression, expressionNames, expressionValues}`` block as boto3 parameters."""
    if not spec:
        return
    if not isinstance(spec, dict) or not isinstance(spec.get("expression"), str):
        raise DynamoDBError(f"{label} needs an 'expression' string", "MappingTemplate")
    params[key] = spec["expression"]
    if spec.get("expressionNames"):
        params.setdefault("ExpressionAttributeNames", {}).update(spec["expressionNames"])
    if spec.get("expressionValues"):
        params.setdefault("ExpressionAttributeValues", {}).update(spec["expressionValues"])


def _token(value: Any) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        return json.loads(base64.b64decode(value))
    except (ValueError, binascii.Error):
        raise DynamoDBError("Invalid nextToken", "DynamoDB:ValidationException") from None


def _page(response: dict[str, Any]) -> dict[str, Any]:
    last = response.get("LastEvaluatedKey")
    return {"items": [unmarshal(i) for i in response.get("Items", [])],
            "nextToken": base64.b64encode(json.dumps(last).encode()).decode() if last else None,
            "scannedCount": response.get("ScannedCount", 0)}


def run(client: Any, table: str, request: dict[str, Any]) -> Any:
    """Run one rendered DynamoDB request mapping template against ``table``. Raises :class:`DynamoDBError`
    or :class:`Unsupported`."""
    from botocore.exceptions import ClientError

    operation = request.get("operation")
    if operation not in OPERATIONS:
        raise Unsupported(f"the DynamoDB operation {operation!r}")
    condition = request.get("condition") or {}
    if isinstance(condition, dict) and condition.get("conditionalCheckFailedHandler"):
        raise Unsupported("the DynamoDB conditionalCheckFailedHandler")
    if request.get("_version") is not None:
        raise Unsupported("versioned DynamoDB data sources (_version)")
    params: dict[str, Any] = {"TableName": table}
    if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
        if not isinstance(request.get("key"), dict):
            raise DynamoDBError(f"{operation} needs a 'key' map of DynamoDB values", "MappingTemplate")
        if operation == "PutItem":
            params["Item"] = {**(request.get("attributeValues") or {}), **request["key"]}
        else:
            params["Key"] = request["key"]
    if operation != "GetItem" and operation not in ("Query", "Scan"):
        _expression(params, condition, "ConditionExpression", "condition")
    try:
        if operation == "GetItem":
            if request.get("consistentRead"):
                params["ConsistentRead"] = True
            return unmarshal(client.get_item(**params).get("Item"))
        if operation == "PutItem":
            client.put_item(**params)
            return unmarshal(params["Item"])
        if operation == "UpdateItem":
            _expression(params, request.get("update"), "UpdateExpression", "update")
            return unmarshal(client.update_item(**params, ReturnValues="ALL_NEW").get("Attributes"))
        if operation == "DeleteItem":
            return unmarshal(client.delete_item(**params, ReturnValues="ALL_OLD").get("Attributes"))
        if operation == "Query":
            _expression(params, request.get("query"), "KeyConditionExpression", "query")
            if request.get("scanIndexForward") is False:
                params["ScanIndexForward"] = False
        _expression(params, request.get("filter"), "FilterExpression", "filter")
        for option, name in (("index", "IndexName"), ("limit", "Limit"), ("select", "Select")):
            if request.get(option) is not None:
                params[name] = request[option]
        if request.get("consistentRead"):
            params["ConsistentRead"] = True
        start = _token(request.get("nextToken"))
        if start:
            params["ExclusiveStartKey"] = start
        return _page(client.query(**params) if operation == "Query" else client.scan(**params))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if code == "ConditionalCheckFailedException":
            return _condition_failed(client, table, operation, request, params)
        raise DynamoDBError(message, f"DynamoDB:{code}") from None


def _condition_failed(client: Any, table: str, operation: str, request: dict[str, Any],
                      params: dict[str, Any]) -> Any:
    """AppSync's default on a failed condition: success if the item already is the expected result."""
    current = client.get_item(TableName=table, Key=request["key"], ConsistentRead=True).get("Item")
    ignore = set((request.get("condition") or {}).get("equalsIgnore") or ())
    if operation == "PutItem" and current is not None:
        def strip(item: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in item.items() if k not in ignore}

        if strip(current) == strip(params["Item"]):
            return unmarshal(current)
    if operation == "DeleteItem" and current is None:
        return None
    raise DynamoDBError("The conditional request failed", "DynamoDB:ConditionalCheckFailedException",
                        unmarshal(current))
