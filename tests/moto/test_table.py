"""``Table`` and its DynamoDB provider on in-process moto: what AWS holds after deploy, no-op redeploys, grants
that name this account, drift, key changes, removal, lost create answers and lost lockfiles, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from sstdirect import App, ConfigError, DeployError, Function, StateError, Table
from sstdirect.aws import Aws, is_mutating
from sstdirect.engine.values import freeze
from sstdirect.resources.dynamodb import TableProvider
from tests.inventory import duplicates, inventory

ACCOUNT = "123456789012"
REGION = "us-east-1"
NAME = "dev-notes-Notes"
ARN = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{NAME}"
TAGS = {"sstdirect:app": "notes", "sstdirect:stage": "dev", "sstdirect:id": "Notes/table"}
HANDLER = "def main(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"


def notes(session: boto3.Session, root: Path, sort_key: str | None = "note_id", grant: Any = None) -> tuple[App, Table]:
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "list.py").write_text(HANDLER)
    app = App("notes", stage="dev", session=session, root=root)
    fields = {"user_id": "string", **({sort_key: "number"} if sort_key else {})}
    index = {"partition_key": "user_id", **({"sort_key": sort_key} if sort_key else {})}
    table = Table(app, "Notes", fields=fields, primary_index=index)
    Function(app, "List", handler="src/list.main", environment={"TABLE_NAME": table.table_name},
             permissions=[grant(table) if grant else table])
    return app, table


def writes(api_calls: Any) -> dict[str, int]:
    return {k: v for k, v in api_calls.items() if is_mutating(k)}


def tags_of(aws: boto3.Session, arn: str = ARN) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in aws.client("dynamodb").list_tags_of_resource(ResourceArn=arn)["Tags"]}


def role_statements(aws: boto3.Session) -> list[dict[str, Any]]:
    policy = aws.client("iam").get_role_policy(RoleName="dev-notes-List", PolicyName="sstdirect")["PolicyDocument"]
    return policy["Statement"]


def test_deploy_makes_the_table_as_declared_and_a_redeploy_writes_nothing(aws: boto3.Session,
                                                                          tmp_path: Path) -> None:
    app, table = notes(aws, tmp_path)
    assert table.table_name == NAME and table.id == NAME  # known before deploy
    result = app.deploy()
    described = aws.client("dynamodb").describe_table(TableName=NAME)["Table"]
    assert described["TableStatus"] == "ACTIVE"
    assert described["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"},
                                      {"AttributeName": "note_id", "KeyType": "RANGE"}]
    assert sorted(described["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "note_id", "AttributeType": "N"}, {"AttributeName": "user_id", "AttributeType": "S"}]
    assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert tags_of(aws) == TAGS
    assert result.outputs["Notes"] == {"table_name": NAME, "arn": ARN, "id": NAME}
    assert table.arn == ARN  # a plain string after deploy
    assert writes(app.deploy().api_calls) == {}
    assert app.diff().is_empty


def test_granting_a_table_names_its_item_actions_on_its_arn_in_this_account(aws: boto3.Session,
                                                                           tmp_path: Path) -> None:
    app, _ = notes(aws, tmp_path)
    app.deploy()
    (granted,) = [s for s in role_statements(aws) if any(a.startswith("dynamodb:") for a in s["Action"])]
    # DynamoDB's item-level actions (Service Authorization Reference, "Actions defined by Amazon DynamoDB"):
    # never dynamodb:* nor table management
    assert granted == {"Effect": "Allow", "Resource": ARN, "Action": [
        "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem"]}


def test_table_arn_in_a_statement_resolves_to_this_accounts_arn(aws: boto3.Session, tmp_path: Path) -> None:
    app, _ = notes(aws, tmp_path, grant=lambda t: {"Action": ["dynamodb:GetItem"], "Resource": t.arn})
    app.deploy()
    assert {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": ARN} in role_statements(aws)


def test_a_table_deleted_by_hand_is_made_again(aws: boto3.Session, tmp_path: Path) -> None:
    app, _ = notes(aws, tmp_path)
    app.deploy()
    aws.client("dynamodb").delete_table(TableName=NAME)
    plan = app.diff()
    assert [(c.action.value, c.address) for c in plan.changes] == [("create", "Notes/table")]
    app.deploy()
    assert tags_of(aws) == TAGS and app.diff().is_empty


def test_billing_mode_changed_by_hand_is_set_back_in_place(aws: boto3.Session, tmp_path: Path) -> None:
    app, _ = notes(aws, tmp_path)
    app.deploy()
    ddb = aws.client("dynamodb")
    ddb.put_item(TableName=NAME, Item={"user_id": {"S": "u"}, "note_id": {"N": "1"}})
    ddb.update_table(TableName=NAME, BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    (change,) = app.diff().changes
    assert (change.action.value, change.address) == ("update", "Notes/table")
    result = app.deploy()
    assert result.api_calls["dynamodb.UpdateTable"] == 1 and not result.api_calls["dynamodb.DeleteTable"]
    assert ddb.describe_table(TableName=NAME)["Table"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert ddb.scan(TableName=NAME)["Count"] == 1  # updated, not replaced: the item is still there


def test_a_key_change_replaces_the_table_delete_first(aws: boto3.Session, tmp_path: Path) -> None:
    app, _ = notes(aws, tmp_path)
    app.deploy()
    app2, _ = notes(aws, tmp_path, sort_key=None)
    (change,) = [c for c in app2.diff().changes if c.address == "Notes/table"]
    assert change.action.value == "replace"
    app2.deploy()
    described = aws.client("dynamodb").describe_table(TableName=NAME)["Table"]
    assert described["KeySchema"] == [{"AttributeName": "user_id", "KeyType": "HASH"}]
    assert app2.diff().is_empty and not duplicates(inventory(aws.client))


def test_remove_deletes_the_table(aws: boto3.Session, tmp_path: Path) -> None:
    app, _ = notes(aws, tmp_path)
    app.deploy()
    app.remove()
    assert aws.client("dynamodb").list_tables()["TableNames"] == []
    assert not app.state_path.exists()


def test_a_table_of_that_name_that_is_not_this_apps_is_never_adopted(aws: boto3.Session, tmp_path: Path) -> None:
    ddb = aws.client("dynamodb")
    ddb.create_table(TableName=NAME, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    ddb.put_item(TableName=NAME, Item={"pk": {"S": "theirs"}})
    app, _ = notes(aws, tmp_path)
    with pytest.raises(DeployError, match="ResourceInUseException"):
        app.deploy()
    assert ddb.scan(TableName=NAME)["Count"] == 1 and tags_of(aws) == {}  # left as it was
    state = json.loads(app.state_path.read_text())
    assert state["resources"]["Notes/table"]["status"] != "created"


def test_create_refused_because_this_resources_table_exists_adopts_it(aws: boto3.Session) -> None:
    """A create sent again after its first answer was lost (botocore's retry, a crash) meets
    ResourceInUseException: the table carries this resource's tags, so it is this create's table."""
    provider, client = TableProvider(), Aws(region=REGION, session=aws)
    props = freeze({"name": NAME, "partition_key": {"name": "id", "type": "S"}, "sort_key": None,
                    "billing_mode": "PAY_PER_REQUEST", "tags": TAGS})
    first = provider.create(client, props)
    again = provider.create(client, props)
    assert (again.physical_id, again.attrs) == (first.physical_id, first.attrs) == (NAME, {"arn": ARN, "name": NAME})
    other = freeze({**props, "tags": {**TAGS, "sstdirect:id": "Other/table"}})
    with pytest.raises(Exception, match="ResourceInUseException"):
        provider.create(client, other)


def test_a_lost_create_answer_converges_on_the_next_deploy(aws: boto3.Session, tmp_path: Path) -> None:
    """CreateTable reaches AWS and is applied; the client sees a read timeout (botocore's event hook)."""
    lost: list[int] = []

    def lose(**_: Any) -> None:
        if not lost:
            lost.append(1)
            raise ReadTimeoutError(endpoint_url=f"https://dynamodb.{REGION}.amazonaws.com/")

    aws.events.register("after-call.dynamodb.CreateTable", lose)
    app, _ = notes(aws, tmp_path)
    with pytest.raises(DeployError):
        app.deploy()
    assert lost and aws.client("dynamodb").list_tables()["TableNames"] == [NAME]
    app.deploy()
    state = json.loads(app.state_path.read_text())
    assert state["resources"]["Notes/table"]["physical_id"] == NAME
    assert app.diff().is_empty and not duplicates(inventory(aws.client))


def test_a_lost_lockfile_stops_the_deploy_and_rebuild_finds_the_table(aws: boto3.Session, tmp_path: Path) -> None:
    app, _ = notes(aws, tmp_path)
    app.deploy()
    app.state_path.unlink()
    Path(f"{app.state_path}.bak").unlink(missing_ok=True)
    with pytest.raises(StateError, match=f"dynamodb.Table {NAME}"):
        app.deploy()
    result = app.rebuild_state()
    assert result.found["Notes/table"] == NAME
    assert writes(app.deploy().api_calls) == {}
    assert aws.client("dynamodb").list_tables()["TableNames"] == [NAME]


@pytest.mark.parametrize(("kwargs", "fragments"), [
    ({}, ("Table 'T'", "fields must be a non-empty dict", "fields={'id': 'string'}")),
    ({"fields": ["id"], "primary_index": {"partition_key": "id"}}, ("fields must be a non-empty dict",)),
    ({"fields": {"id": "str"}, "primary_index": {"partition_key": "id"}}, ("field 'id' has type 'str'", "'string'")),
    ({"fields": {"id": ["string"]}, "primary_index": {"partition_key": "id"}}, ("field 'id' has type",)),
    ({"fields": {"": "string"}, "primary_index": {"partition_key": ""}}, ("field name ''",)),
    ({"fields": {"id": "string"}}, ("primary_index must be a dict", "partition_key")),
    ({"fields": {"id": "string"}, "primary_index": "id"}, ("primary_index must be a dict",)),
    ({"fields": {"id": "string"}, "primary_index": {"partition_key": "pk"}}, ("partition_key must name one of",)),
    ({"fields": {"id": "string"}, "primary_index": {"partition_key": ["id"]}}, ("partition_key must name one of",)),
    ({"fields": {"id": "string"}, "primary_index": {"partitionKey": "id"}}, ("use 'partition_key'",)),
    ({"fields": {"id": "string", "n": "number"}, "primary_index": {"partition_key": "id", "sort_key": 5}},
     ("sort_key must name one of",)),
    ({"fields": {"id": "string"}, "primary_index": {"partition_key": "id", "sort_key": "id"}}, ("must differ",)),
    ({"fields": {"id": "string", "title": "string"}, "primary_index": {"partition_key": "id"}},
     ("['title'] are not keys", "only key attributes")),
    ({"fields": {"id": "string"}, "primaryIndex": {"partition_key": "id"}}, ("use 'primary_index'",)),
    ({"fields": {"id": "string"}, "primary_index": {"partition_key": "id"}, "globalIndexes": {}},
     ("'globalIndexes' is not supported",)),
    ({"fields": {"id": "string"}, "primary_index": {"partition_key": "id"}, "time_to_live_attribute": "ttl"},
     ("'time_to_live_attribute' is not supported",)),
])
def test_bad_input_is_a_config_error_before_any_aws_call(tmp_path: Path, config_error_check: Any,
                                                         kwargs: dict[str, Any], fragments: tuple[str, ...]) -> None:
    config_error_check(tmp_path, lambda app: Table(app, "T", **kwargs), fragments)


def test_a_table_that_fails_validation_is_not_registered(tmp_path: Path) -> None:
    app = App("notes", stage="dev", root=tmp_path)
    with pytest.raises(ConfigError):
        Table(app, "T", fields={"id": "nope"}, primary_index={"partition_key": "id"})
    Table(app, "T", fields={"id": "string"}, primary_index={"partition_key": "id"})  # the fixed cell runs again
    assert [c.construct_id for c in app.constructs] == ["T"]
