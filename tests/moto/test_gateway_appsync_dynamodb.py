"""The local AppSync's DynamoDB data source (``appsync_dynamodb.run``) on an in-process moto DynamoDB."""

from __future__ import annotations

import base64
from typing import Any

import boto3
import pytest

from sstdirect.local.gateway.appsync_dynamodb import DynamoDBError, run
from sstdirect.local.gateway.vtl import Unsupported

TABLE = "notes"


@pytest.fixture
def ddb(aws: boto3.Session) -> Any:
    client = aws.client("dynamodb")
    client.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"}])
    for sk in (1, 2, 3):
        client.put_item(TableName=TABLE, Item={"pk": {"S": "u1"}, "sk": {"N": str(sk)}, "tags": {"SS": ["a", "b"]},
                                               "score": {"N": "1.5"}, "ok": {"BOOL": True}})
    return client


def key(sk: int) -> dict[str, Any]:
    return {"pk": {"S": "u1"}, "sk": {"N": str(sk)}}


def test_get_put_and_plain_json_values(ddb: Any) -> None:
    item = run(ddb, TABLE, {"operation": "GetItem", "key": key(1), "consistentRead": True})
    assert item == {"pk": "u1", "sk": 1, "tags": ["a", "b"], "score": 1.5, "ok": True}
    assert run(ddb, TABLE, {"operation": "GetItem", "key": key(9)}) is None
    put = run(ddb, TABLE, {"operation": "PutItem", "key": key(4), "attributeValues": {"title": {"S": "t"}}})
    assert put == {"pk": "u1", "sk": 4, "title": "t"}


def test_query_pages_backwards_with_a_filter(ddb: Any) -> None:
    request = {"operation": "Query", "limit": 2, "scanIndexForward": False,
               "query": {"expression": "pk = :pk", "expressionValues": {":pk": {"S": "u1"}}}}
    page = run(ddb, TABLE, request)
    assert [i["sk"] for i in page["items"]] == [3, 2] and page["nextToken"] and page["scannedCount"] == 2
    rest = run(ddb, TABLE, {**request, "nextToken": page["nextToken"]})
    assert [i["sk"] for i in rest["items"]] == [1]
    filtered = run(ddb, TABLE, {"operation": "Scan", "filter": {
        "expression": "#s > :min", "expressionNames": {"#s": "sk"}, "expressionValues": {":min": {"N": "1"}}}})
    assert sorted(i["sk"] for i in filtered["items"]) == [2, 3] and filtered["nextToken"] is None
    with pytest.raises(DynamoDBError) as info:
        run(ddb, TABLE, {**request, "nextToken": base64.b64encode(b"garbage").decode()})
    assert info.value.error_type == "DynamoDB:ValidationException"


def test_conditions_and_appsyncs_idempotency_check(ddb: Any) -> None:
    absent = {"expression": "attribute_not_exists(pk)"}
    same = {"operation": "PutItem", "key": key(1), "condition": {**absent, "equalsIgnore": ["tags", "score", "ok"]},
            "attributeValues": {}}
    assert run(ddb, TABLE, same)["sk"] == 1  # the item already is what the put writes (ignoring those fields)
    with pytest.raises(DynamoDBError) as info:
        run(ddb, TABLE, {"operation": "PutItem", "key": key(1), "condition": absent,
                         "attributeValues": {"title": {"S": "new"}}})
    assert info.value.error_type == "DynamoDB:ConditionalCheckFailedException"
    assert info.value.data["sk"] == 1 and "title" not in info.value.data  # the current item
    deleted = run(ddb, TABLE, {"operation": "DeleteItem", "key": key(2)})
    assert deleted["sk"] == 2
    exists = {"expression": "attribute_exists(pk)"}
    assert run(ddb, TABLE, {"operation": "DeleteItem", "key": key(2), "condition": exists}) is None  # already gone
    updated = run(ddb, TABLE, {"operation": "UpdateItem", "key": key(3), "condition": exists, "update": {
        "expression": "SET #t = :t ADD sk2 :one", "expressionNames": {"#t": "title"},
        "expressionValues": {":t": {"S": "x"}, ":one": {"N": "1"}}}})
    assert updated["title"] == "x" and updated["sk2"] == 1
    with pytest.raises(DynamoDBError, match="conditional request failed"):
        run(ddb, TABLE, {"operation": "UpdateItem", "key": key(8), "condition": exists,
                         "update": {"expression": "SET a = :a", "expressionValues": {":a": {"S": "a"}}}})


@pytest.mark.parametrize("request_", [
    {"operation": "BatchGetItem", "tables": {}},
    {"operation": "TransactWriteItems", "transactItems": []},
    {"operation": "PutItem", "key": {"pk": {"S": "u1"}, "sk": {"N": "1"}},
     "condition": {"expression": "attribute_not_exists(pk)", "conditionalCheckFailedHandler": {"strategy": "Reject"}}},
])
def test_what_is_not_run_locally(ddb: Any, request_: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        run(ddb, TABLE, request_)


def test_errors_of_dynamodb_and_of_the_template(ddb: Any) -> None:
    with pytest.raises(DynamoDBError) as info:
        run(ddb, "missing-table", {"operation": "GetItem", "key": key(1)})
    assert info.value.error_type == "DynamoDB:ResourceNotFoundException"
    with pytest.raises(DynamoDBError, match="needs a 'key'"):
        run(ddb, TABLE, {"operation": "GetItem"})
