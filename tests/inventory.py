"""Test helpers: an app with every kind of object (Cognito, authorizers, a custom domain, a WebSocket API),
and an inventory of what the embedded AWS holds, to count duplicates and leftovers.

``inventory(client)`` lists every API, route, integration, stage, authorizer, function, permission, role,
log group, user pool, user pool client, identity pool, certificate, record set, domain name, API
mapping and DynamoDB table, each keyed by what identifies it to a human (names, route keys, descriptions — never ids, so
that two deploys' inventories compare), as a Counter: a count above 1 is a duplicate.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sstdirect import Api, App, Cognito, WebSocketApi

HANDLER = "def main(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"
DOMAIN = "api.example.com"
WS_DOMAIN = "ws.example.com"


def write_handlers(root: Path) -> None:
    (root / "src").mkdir(parents=True, exist_ok=True)
    for name in ("private", "public", "connect", "message", "authz"):
        (root / "src" / f"{name}.py").write_text(HANDLER)


def full_app(root: Path, **app: Any) -> App:
    """Cognito (user pool, client, identity pool and its roles), an HTTP API with a user-pool (JWT)
    authorizer, an IAM route and a custom domain, and a WebSocket API with a Lambda authorizer and a
    custom domain. The hosted zone ``example.com`` must exist."""
    write_handlers(root)
    a = App("full", root=root, **app)
    auth = Cognito(a, "Auth", login=["email"])
    api = Api(a, "Api", custom_domain={"domain_name": DOMAIN, "path": "v1"},
              authorizers={"pool": {"type": "user_pool", "user_pool": {"id": auth.user_pool_id}}},
              defaults={"authorizer": "pool"},
              routes={"GET /private": "src/private.main",
                      "GET /public": {"function": "src/public.main", "authorizer": "none"},
                      "GET /iam": {"function": "src/private.main", "authorizer": "iam"}})
    auth.attach_permissions_for_auth_users([api])
    WebSocketApi(a, "Ws", custom_domain=WS_DOMAIN,
                 authorizer={"type": "lambda", "function": "src/authz.main"},
                 routes={"$connect": "src/connect.main", "sendMessage": "src/message.main"})
    return a


def inventory(client: Callable[[str], Any]) -> Counter[tuple[Any, ...]]:
    gw, lam, iam, logs = (client(s) for s in ("apigatewayv2", "lambda", "iam", "logs"))
    idp, identity, acm, r53 = (client(s) for s in ("cognito-idp", "cognito-identity", "acm", "route53"))
    out: Counter[tuple[Any, ...]] = Counter()
    apis = gw.get_apis()["Items"]
    names = {a["ApiId"]: a["Name"] for a in apis}
    for api in apis:
        name, api_id = api["Name"], api["ApiId"]
        out["api", name, api["ProtocolType"]] += 1
        integrations = gw.get_integrations(ApiId=api_id)["Items"]
        # an integration is known by what it calls (the one an import made has no description)
        by_id = {i["IntegrationId"]: i.get("IntegrationUri") for i in integrations}
        for i in integrations:
            out["integration", name, i.get("IntegrationUri")] += 1
        for r in gw.get_routes(ApiId=api_id)["Items"]:
            out["route", name, r["RouteKey"], by_id.get((r.get("Target") or "").removeprefix("integrations/"))] += 1
        for s in gw.get_stages(ApiId=api_id)["Items"]:
            out["stage", name, s["StageName"]] += 1
        for z in gw.get_authorizers(ApiId=api_id)["Items"]:
            out["authorizer", name, z["Name"]] += 1
    for d in gw.get_domain_names()["Items"]:
        out["domain-name", d["DomainName"]] += 1
        for m in gw.get_api_mappings(DomainName=d["DomainName"])["Items"]:
            out["api-mapping", d["DomainName"], names.get(m["ApiId"]), m["Stage"], m.get("ApiMappingKey")] += 1
    for fn in lam.list_functions()["Functions"]:
        out["function", fn["FunctionName"]] += 1
        try:
            policy = json.loads(lam.get_policy(FunctionName=fn["FunctionName"])["Policy"])
        except lam.exceptions.ResourceNotFoundException:
            continue
        for st in policy["Statement"]:
            out["permission", fn["FunctionName"], st["Sid"]] += 1
    for role in iam.list_roles()["Roles"]:
        out["role", role["RoleName"]] += 1
    for group in logs.describe_log_groups()["logGroups"]:
        out["log-group", group["logGroupName"]] += 1
    for pool in idp.list_user_pools(MaxResults=60)["UserPools"]:
        out["user-pool", pool["Name"]] += 1
        for c in idp.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]:
            out["user-pool-client", pool["Name"], c["ClientName"]] += 1
    for pool in identity.list_identity_pools(MaxResults=60)["IdentityPools"]:
        out["identity-pool", pool["IdentityPoolName"]] += 1
    for cert in acm.list_certificates()["CertificateSummaryList"]:
        out["certificate", cert["DomainName"]] += 1
    for table in client("dynamodb").list_tables()["TableNames"]:
        out["table", table] += 1
    for zone in r53.list_hosted_zones()["HostedZones"]:
        for rr in r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]:
            if rr["Type"] not in ("NS", "SOA"):
                out["record-set", rr["Name"].rstrip("."), rr["Type"]] += 1
    return out


def duplicates(inv: Counter[tuple[Any, ...]]) -> dict[tuple[Any, ...], int]:
    return {k: n for k, n in inv.items() if n > 1}
