"""``diff --json`` (``Plan.to_json``) of real providers: each change's cause and, for a replacement, its order
(an authorizer changing type is replaced create-first; a table changing its key, delete-first: one name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3

from sstdirect import Api, App, Table

HANDLER = "def main(event, context):\n    return {'statusCode': 200}\n"


def build(session: boto3.Session, root: Path, authorizer: dict[str, Any], sort_key: str) -> App:
    app = App("plan", stage="dev", session=session, root=root)
    Table(app, "Notes", fields={"user_id": "string", sort_key: "string"},
          primary_index={"partition_key": "user_id", "sort_key": sort_key})
    Api(app, "Api", authorizers={"auth": authorizer},
        routes={"GET /a": {"function": "src/a.main", "authorizer": "auth"}})
    return app


def test_the_plan_json_says_why_and_in_which_order_each_replacement_runs(aws: boto3.Session, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text(HANDLER)
    jwt = {"type": "jwt", "jwt": {"issuer": "https://issuer.example.com", "audience": ["a"]}}
    build(aws, tmp_path, jwt, "note_id").deploy()
    plan = build(aws, tmp_path, {"type": "lambda", "function": "src/a.main"}, "other_id").diff()
    changes = {c["logical_id"]: c for c in json.loads(plan.to_json_str())["changes"]}
    authorizer, table = changes["Api/authorizer/auth"], changes["Notes/table"]
    assert (authorizer["action"], authorizer["cause"], authorizer["replace_order"]) == (
        "replace", "changed", "create_first")
    assert "authorizer_type" in authorizer["changed"]
    assert (table["action"], table["cause"], table["replace_order"]) == ("replace", "changed", "delete_first")
    created = [c for c in changes.values() if c["action"] == "create"]
    assert created and {(c["cause"], c["replace_order"], c["reason"]) for c in created} == {("new", None, "")}
    assert {c["replace_order"] for c in changes.values() if c["action"] == "update"} <= {None}
