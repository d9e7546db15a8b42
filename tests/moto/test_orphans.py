"""Orphans: objects AWS made that sstdirect did not get to record.

- A create whose answer never reached sstdirect (an ``after-call`` hook raises once AWS has made the
  object; the same point as a SIGKILL "after AWS answered"): the intent record is resolved by the next
  deploy (``find``), for every kind of object of an app with Cognito, authorizers, custom domains and a
  WebSocket API: no duplicates, nothing missing.
- A create request sent twice (its response was lost and botocore sent it again, so AWS made two objects
  where names are not unique): the deploy deletes the copy it was not answered with; and if the deploy
  then dies before recording, the next deploy adopts one copy and deletes the other (``find_all``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest
import urllib3
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from inventory import duplicates, full_app, inventory

from sstdirect import App, DeployError

# resource type → inventory kind
KINDS = {
    "apigatewayv2.Api": "api", "apigatewayv2.Route": "route", "apigatewayv2.Integration": "integration",
    "apigatewayv2.Stage": "stage", "apigatewayv2.Authorizer": "authorizer", "apigatewayv2.DomainName": "domain-name",
    "apigatewayv2.ApiMapping": "api-mapping", "lambda.Function": "function", "lambda.Permission": "permission",
    "iam.Role": "role", "logs.LogGroup": "log-group", "cognito.UserPool": "user-pool",
    "cognito.UserPoolClient": "user-pool-client", "cognito.IdentityPool": "identity-pool",
    "acm.Certificate": "certificate", "route53.RecordSet": "record-set",
}


def expected_kinds(app: App) -> Counter[str]:
    """How many objects of each kind the app declares (plus the account's API Gateway logging role)."""
    kinds = Counter(KINDS[r.type] for r in app.resources().values() if r.type in KINDS)
    if any(r.type == "apigateway.AccountCloudWatchRole" for r in app.resources().values()):
        kinds["role"] += 1
    return kinds


def kinds(inv: Counter[tuple[Any, ...]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for key, n in inv.items():
        out[key[0]] += n
    return out


def fail_after(session: boto3.Session, event: str) -> Counter[str]:
    """Raise, once, after AWS answered the first ``event`` call ("apigatewayv2.CreateApi"): AWS made the
    object, sstdirect never sees the answer."""
    seen: Counter[str] = Counter()

    def hook(**_: Any) -> None:
        seen["calls"] += 1
        if seen["calls"] == 1:
            raise ConnectionClosedError(endpoint_url="https://lost.invalid")

    session.events.register(f"after-call.{event}", hook)
    return seen


CREATES = [
    "apigatewayv2.CreateApi", "apigatewayv2.CreateIntegration", "apigatewayv2.CreateRoute",
    "apigatewayv2.CreateAuthorizer", "apigatewayv2.CreateStage", "apigatewayv2.CreateDomainName",
    "apigatewayv2.CreateApiMapping", "cognito-identity-provider.CreateUserPool",
    "cognito-identity-provider.CreateUserPoolClient", "cognito-identity.CreateIdentityPool",
    "cognito-identity.SetIdentityPoolRoles", "acm.RequestCertificate", "lambda.CreateFunction",
    "lambda.AddPermission", "iam.CreateRole", "cloudwatch-logs.CreateLogGroup", "route-53.ChangeResourceRecordSets",
]


@pytest.mark.parametrize("event", CREATES)
def test_a_create_whose_answer_was_lost_is_adopted_not_duplicated(aws: boto3.Session, tmp_path: Path,
                                                                   event: str) -> None:
    aws.client("route53").create_hosted_zone(Name="example.com", CallerReference="orphans")
    seen = fail_after(aws, event)
    app = full_app(tmp_path, session=aws)
    with pytest.raises(DeployError):
        app.deploy()
    assert seen["calls"] >= 1
    app = full_app(tmp_path, session=aws)
    app.deploy()
    inv = inventory(aws.client)
    assert duplicates(inv) == {}
    assert kinds(inv) == expected_kinds(app)
    assert app.diff().is_empty
    app.remove(force=True)
    assert set(kinds(inventory(aws.client))) <= {"role"}  # the account-level logging role stays (API.md)


# -- a create sent twice -------------------------------------------------------------------------------

class SendTwice:
    """A ``before-send`` hook (embedded AWS server): the first request of ``operation`` reaches AWS, which
    makes the object, and then the answer is lost (a read timeout), so botocore sends it again."""

    def __init__(self, operation: str):
        self.operation = operation
        self.sent = 0
        self.http = urllib3.PoolManager()

    def __call__(self, event_name: str = "", request: Any = None, **_: Any) -> None:
        if not event_name.endswith(f".{self.operation}") or self.sent:
            return None
        self.sent += 1
        body = request.body.read() if hasattr(request.body, "read") else request.body
        self.http.request(request.method, request.url, body=body, headers=dict(request.headers))
        raise ReadTimeoutError(endpoint_url=request.url)


@pytest.fixture
def cloud(local_cloud: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.01)
    local_cloud.reset()
    return local_cloud


def cognito_api_app(cloud: Any, session: boto3.Session, root: Path) -> App:
    """Cognito and an Api with a user-pool authorizer (the objects whose names AWS does not keep unique)."""
    from inventory import write_handlers

    from sstdirect import Api, Cognito

    write_handlers(root)
    app = App("twice", root=root, session=session, endpoint_url=cloud.endpoint_url)
    auth = Cognito(app, "Auth", login=["email"])
    Api(app, "Api", authorizers={"pool": {"type": "user_pool", "user_pool": {"id": auth.user_pool_id}}},
        defaults={"authorizer": "pool"}, routes={"GET /a": "src/private.main"})
    return app


# objects of non-unique names, and (CreateFunction, CreateRole) of unique ones: there the second
# request fails with "already exists" and the object is adopted, never deleted as a copy of itself
TWICE = ["CreateApi", "CreateIntegration", "CreateAuthorizer", "CreateUserPool", "CreateUserPoolClient",
         "CreateIdentityPool", "CreateFunction", "CreateRole"]


@pytest.mark.parametrize("operation", TWICE)
def test_a_create_sent_twice_leaves_one_object(cloud: Any, tmp_path: Path, operation: str) -> None:
    session = cloud.session()
    twice = SendTwice(operation)
    session.events.register_first("before-send", twice)
    app = cognito_api_app(cloud, session, tmp_path)
    result = app.deploy()
    assert twice.sent == 1
    assert [k for k in result.retries if k.endswith(f".{operation}:ReadTimeoutError")], result.retries  # visible
    inv = inventory(cloud.client)
    assert duplicates(inv) == {} and kinds(inv) == expected_kinds(app)
    assert app.diff().is_empty


@pytest.mark.parametrize("operation", ["CreateApi", "CreateIntegration", "CreateUserPoolClient"])
def test_a_create_sent_twice_then_a_crash_the_next_deploy_keeps_one(cloud: Any, tmp_path: Path,
                                                                    operation: str) -> None:
    session = cloud.session()
    session.events.register_first("before-send", SendTwice(operation))
    service = "cognito-identity-provider" if "UserPool" in operation else "apigatewayv2"
    fail_after(session, f"{service}.{operation}")  # ... and the retried request's answer is lost too
    app = cognito_api_app(cloud, session, tmp_path)
    with pytest.raises(DeployError):
        app.deploy()
    assert duplicates(inventory(cloud.client))  # two copies are there now, neither recorded
    app = cognito_api_app(cloud, cloud.session(), tmp_path)
    plan = app.diff()
    assert [c for c in plan.changes if c.deposed], plan  # the second copy is shown for deletion
    app.deploy()
    inv = inventory(cloud.client)
    assert duplicates(inv) == {} and kinds(inv) == expected_kinds(app)
    assert app.diff().is_empty


def test_a_user_pool_copy_is_reported_never_deleted_on_a_guess(cloud: Any, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """A user pool may hold users: an unrecorded second copy is left alone and named in a warning."""
    session = cloud.session()
    session.events.register_first("before-send", SendTwice("CreateUserPool"))
    fail_after(session, "cognito-identity-provider.CreateUserPool")
    app = cognito_api_app(cloud, session, tmp_path)
    with pytest.raises(DeployError):
        app.deploy()
    pools = {p["Id"] for p in cloud.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]}
    assert len(pools) == 2
    app = cognito_api_app(cloud, cloud.session(), tmp_path)
    with caplog.at_level("WARNING", logger="sstdirect"):
        app.deploy()
    assert {p["Id"] for p in cloud.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]} == pools
    (warning,) = [r.getMessage() for r in caplog.records if "left alone" in r.getMessage()]
    assert "Auth/user-pool" in warning and any(p in warning for p in pools)
    assert app.diff().is_empty
