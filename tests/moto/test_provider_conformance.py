"""Provider conformance: every provider, on objects a real deploy made, keeps the protocol of
:mod:`sstdirect.engine.resource` — one suite for all of them, not a copy per provider.

One app holds an object of every resource type (the full app of ``tests/inventory.py`` — Cognito, an HTTP
API with a user-pool authorizer and a custom domain, a WebSocket API with a Lambda authorizer — plus a
DynamoDB table and an AppSync API with an API key, a function and a table data source and their
resolvers), deployed into the in-process embedded AWS. Then, for each record, through its provider alone:

- **read**: ``read_many`` observes the object, and the provider's own ``diff`` of what it observed against
  the declared props is empty (no drift right after a deploy);
- **find / find_all**: given the declared props, the lookup an interrupted create relies on finds this very
  object; told to exclude its physical id (the old object of a replacement), it never returns it;
- **delete, drift**: the objects are deleted in reverse dependency order (users first, as ``remove`` does),
  each twice (a second delete is no error: idempotent); then every one is observed as gone (``None``: what
  refresh turns into a re-create), those deleted with their parent (a schema with its API) included.

Types whose lookup is not by declared props say so in :data:`NO_FIND` (and the suite checks that they
really find nothing, so the list cannot go stale).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from inventory import full_app

from sstdirect import App, AppSyncApi, Table
from sstdirect.engine.planner import current_props, record_lookup, topological_order
from sstdirect.engine.resource import provider_for
from sstdirect.engine.values import resolve
from sstdirect.resources import PROVIDERS
from sstdirect.state import Record, StateFile

SCAN = '{"version": "2017-02-28", "operation": "Scan"}'
SCHEMA = "type Note { id: ID! }\ntype Query { note(id: ID!): Note notes: [Note] }\n"
# Types an interrupted create does not look for: the API's schema is uploaded again.
NO_FIND = frozenset({"appsync.Schema"})


@pytest.fixture
def deployed(aws: boto3.Session, tmp_path: Path) -> tuple[App, dict[str, Record], dict[str, Any], str]:
    """The app deployed; its records, declared props resolved against them, and the lockfile's salt."""
    aws.client("route53").create_hosted_zone(Name="example.com", CallerReference="conformance")
    app = full_app(tmp_path, session=aws)
    table = Table(app, "Notes", fields={"pk": "string"}, primary_index={"partition_key": "pk"})
    (tmp_path / "schema.graphql").write_text(SCHEMA)
    AppSyncApi(app, "Sync", schema="schema.graphql",
               data_sources={"fn": "src/public.main", "table": {"type": "dynamodb", "table": table.table_name}},
               resolvers={"Query note": "fn",
                          "Query notes": {"data_source": "table",
                                          "request_mapping": {"inline": SCAN},
                                          "response_mapping": {"inline": "$util.toJson($ctx.result.items)"}}},
               authorization={"default": "api_key"})
    app.deploy()
    state = StateFile(app.state_path).load(app=app.name, stage=app.stage, region=app.region)
    aws_ = app.aws()
    lookup = record_lookup(state.resources, {"region": aws_.region, "account_id": aws_.account_id})
    desired = {address: resolve(res.props, lookup) for address, res in app.resources().items()}
    return app, state.resources, desired, state.secret_salt


def test_the_app_holds_an_object_of_every_resource_type(
        deployed: tuple[App, dict[str, Record], dict[str, Any], str]) -> None:
    _, records, _, _ = deployed
    assert {rec.type for rec in records.values()} == set(PROVIDERS)


def test_every_provider_reads_finds_deletes_and_sees_drift(
        deployed: tuple[App, dict[str, Record], dict[str, Any], str]) -> None:
    app, records, desired, salt = deployed
    aws = app.aws()
    problems: list[str] = []
    by_type: dict[str, list[str]] = {}
    for address, rec in sorted(records.items()):
        by_type.setdefault(rec.type, []).append(address)
    for type_, addresses in sorted(by_type.items()):
        provider = provider_for(type_)
        observed = provider.read_many(aws, {a: records[a] for a in addresses})
        for address in addresses:
            rec = records[address]
            if observed.get(address) is None:
                problems.append(f"{address}: read_many does not see the object just deployed")
                continue
            diff = provider.diff(current_props(provider, rec, observed[address]), desired[address], salt)
            if not diff.is_empty:
                problems.append(f"{address}: diff right after a deploy: {diff}")
            found = [c.physical_id for c in provider.find_all(aws, desired[address])]
            if type_ in NO_FIND:
                if found:
                    problems.append(f"{address}: listed in NO_FIND but find_all found {found}")
                continue
            if rec.physical_id not in found:
                problems.append(f"{address}: find_all of the declared props misses {rec.physical_id} ({found})")
            first = provider.find(aws, desired[address])
            if first is None or first.physical_id != rec.physical_id:
                problems.append(f"{address}: find returns {first} rather than {rec.physical_id}")
            excluded = [c.physical_id for c in provider.find_all(aws, desired[address],
                                                                 exclude=frozenset({rec.physical_id}))]
            if rec.physical_id in excluded:
                problems.append(f"{address}: find_all returns {rec.physical_id} although it is excluded")
    assert not problems, "\n".join(problems)

    # users first: the reverse of the order the app's resources are created in
    for address in reversed(topological_order(app.resources())):
        rec = records[address]
        provider = provider_for(rec.type)
        if rec.type == "apigateway.AccountCloudWatchRole":
            continue  # the account's setting, shared by every app: remove keeps it too
        provider.delete(aws, rec)
        try:
            provider.delete(aws, rec)
        except Exception as exc:  # reported with the others
            problems.append(f"{address}: a second delete fails: {exc!r}")
    for type_, addresses in sorted(by_type.items()):
        if type_ == "apigateway.AccountCloudWatchRole":
            continue
        observed = provider_for(type_).read_many(aws, {a: records[a] for a in addresses})
        problems += [f"{a}: still observed after its delete" for a in addresses if observed.get(a) is not None]
    assert not problems, "\n".join(problems)
