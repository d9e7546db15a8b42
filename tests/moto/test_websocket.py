"""WebSocketApi on in-process moto (``mock_aws`` + sstdirect's extensions): what AWS holds after deploy,
no-op redeploys, removal (which keeps the account's CloudWatch role), bad input, and the chat example's
handlers."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from sstdirect import App, ConfigError, Function, WebSocketApi
from sstdirect.aws import is_mutating
from sstdirect.constructs.websocket import WEBSOCKET_ACCESS_LOG_FORMAT
from sstdirect.resources.apigateway import ROLE_NAME

HANDLER = "def main(event, context):\n    return {'statusCode': 200, 'body': %r}\n"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
PUSH_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
ROUTES = {"$connect": "src/connect.main", "$disconnect": "src/disconnect.main", "$default": "src/default.main",
          "sendMessage": "src/send.main"}
EXAMPLE_SRC = Path(__file__).resolve().parents[2] / "examples" / "websocket" / "src"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    for name in ("connect", "disconnect", "default", "send", "auth", "worker"):
        (tmp_path / "src" / f"{name}.py").write_text(HANDLER % name)
    return tmp_path


def chat(session: boto3.Session, root: Path, **ws: Any) -> tuple[App, WebSocketApi]:
    app = App("chat", stage="dev", session=session, root=root)
    return app, WebSocketApi(app, "Ws", routes=ws.pop("routes", ROUTES), **ws)


def writes(api_calls: Any) -> dict[str, int]:
    return {k: v for k, v in api_calls.items() if is_mutating(k)}


def policy_statements(iam: Any, role_name: str) -> list[dict[str, Any]]:
    return iam.get_role_policy(RoleName=role_name, PolicyName="sstdirect")["PolicyDocument"]["Statement"]


def source_arns(lam: Any, function_name: str) -> list[str]:
    policy = json.loads(lam.get_policy(FunctionName=function_name)["Policy"])
    return sorted(s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"])


# --- deploy: what AWS holds -------------------------------------------------------------------


def test_deploy_makes_the_api_routes_integrations_stage_and_permissions(aws: boto3.Session, root: Path) -> None:
    app, ws = chat(aws, root, defaults={"function": {"timeout": 20}})
    result = app.deploy()
    gw, lam, iam, logs = (aws.client(s) for s in ("apigatewayv2", "lambda", "iam", "logs"))

    (remote,) = gw.get_apis()["Items"]
    api_id = remote["ApiId"]
    assert (remote["Name"], remote["ProtocolType"], remote["RouteSelectionExpression"]) == (
        "dev-chat-Ws", "WEBSOCKET", "$request.body.action")
    assert remote["Tags"] == {"sstdirect:app": "chat", "sstdirect:stage": "dev", "sstdirect:id": "Ws/api"}
    assert "CorsConfiguration" not in remote
    url = f"wss://{api_id}.execute-api.us-east-1.amazonaws.com/dev"
    assert (ws.id, ws.url, ws.management_endpoint) == (
        api_id, url, f"https://{api_id}.execute-api.us-east-1.amazonaws.com/dev")
    execution_arn = f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}"
    assert result.outputs["Ws"] == {
        "url": url, "management_endpoint": ws.management_endpoint, "id": api_id,
        "arn": f"arn:aws:apigateway:us-east-1::/apis/{api_id}", "execution_arn": execution_arn,
        "routes": ["$connect", "$disconnect", "$default", "sendMessage"], "custom_domain_url": None}
    assert app.outputs == result.outputs

    routes = {r["RouteKey"]: r for r in gw.get_routes(ApiId=api_id)["Items"]}
    integrations = {i["IntegrationId"]: i for i in gw.get_integrations(ApiId=api_id)["Items"]}
    assert set(routes) == set(ROUTES) and len(integrations) == 4
    for key, route in routes.items():
        assert route["AuthorizationType"] == "NONE" and not route.get("AuthorizerId")
        integ = integrations[route["Target"].removeprefix("integrations/")]
        fn = ws.get_function(key)
        arn = lam.get_function(FunctionName=fn.function_name)["Configuration"]["FunctionArn"]
        assert (integ["IntegrationType"], integ["IntegrationMethod"], integ["IntegrationUri"]) == (
            "AWS_PROXY", "POST", arn)
        assert (integ["PayloadFormatVersion"], integ["TimeoutInMillis"]) == ("1.0", 29000)
        assert source_arns(lam, fn.function_name) == [f"{execution_arn}/*/{key}"]
        assert lam.get_function_configuration(FunctionName=fn.function_name)["Timeout"] == 20  # defaults apply
    assert {ws.get_function(k).function_name for k in ROUTES} == {
        "dev-chat-Ws-connect", "dev-chat-Ws-disconnect", "dev-chat-Ws-default", "dev-chat-Ws-sendMessage"}

    (stage,) = gw.get_stages(ApiId=api_id)["Items"]
    assert (stage["StageName"], stage["AutoDeploy"]) == ("dev", True)
    assert stage["AccessLogSettings"]["Format"] == WEBSOCKET_ACCESS_LOG_FORMAT
    assert WEBSOCKET_ACCESS_LOG_FORMAT == (
        '{"requestTime":"$context.requestTime","requestId":"$context.requestId","eventType":"$context.eventType",'
        '"routeKey":"$context.routeKey","status":$context.status,"integrationRequestId":'
        '"$context.awsEndpointRequestId","integrationStatus":"$context.integrationStatus","integrationLatency":'
        '"$context.integrationLatency","integrationServiceStatus":"$context.integration.integrationStatus",'
        '"ip":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent","cognitoIdentityId":'
        '"$context.identity.cognitoIdentityId","connectedAt":"$context.connectedAt","connectionId":'
        '"$context.connectionId"}')
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/apis/")["logGroups"]
    assert group["logGroupName"] == f"/aws/vendedlogs/apis/dev-chat-Ws-{api_id}/dev"
    assert "retentionInDays" not in group
    assert stage["AccessLogSettings"]["DestinationArn"] == group["arn"].removesuffix(":*")

    # every route function may manage this API's connections
    manage = {"Effect": "Allow", "Action": "execute-api:ManageConnections",
              "Resource": f"{execution_arn}/*/*/@connections/*"}
    for key in ROUTES:
        assert manage in policy_statements(iam, ws.get_function(key).function_name)

    # the account's CloudWatch role, which WebSocket logging needs
    assert aws.client("apigateway").get_account()["cloudwatchRoleArn"] == ROLE_ARN
    trust = iam.get_role(RoleName=ROLE_NAME)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                                   "Action": "sts:AssumeRole"}]
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=ROLE_NAME)["AttachedPolicies"]] == [
        PUSH_POLICY]


def test_lambda_authorizer_guards_connect_only(aws: boto3.Session, root: Path) -> None:
    app, ws = chat(aws, root, authorizer={"type": "lambda", "function": "src/auth.main"})
    app.deploy()
    gw, lam = aws.client("apigatewayv2"), aws.client("lambda")
    (authz,) = gw.get_authorizers(ApiId=ws.id)["Items"]
    fn_arn = lam.get_function(FunctionName="dev-chat-Ws-authorizer")["Configuration"]["FunctionArn"]
    assert authz["AuthorizerType"] == "REQUEST"
    assert authz["IdentitySource"] == ["route.request.header.Authorization"]
    assert authz["AuthorizerUri"] == (
        f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{fn_arn}/invocations")
    assert "AuthorizerPayloadFormatVersion" not in authz and "EnableSimpleResponses" not in authz
    routes = {r["RouteKey"]: r for r in gw.get_routes(ApiId=ws.id)["Items"]}
    assert (routes["$connect"]["AuthorizationType"], routes["$connect"]["AuthorizerId"]) == (
        "CUSTOM", authz["AuthorizerId"])
    for key in ("$disconnect", "$default", "sendMessage"):
        assert routes[key]["AuthorizationType"] == "NONE" and not routes[key].get("AuthorizerId")
    execution_arn = ws.execution_arn
    assert source_arns(lam, "dev-chat-Ws-authorizer") == [f"{execution_arn}/authorizers/{authz['AuthorizerId']}"]
    # the authorizer is not a route: it gets no @connections grant
    iam = aws.client("iam")
    assert not any(s["Action"] == "execute-api:ManageConnections"
                   for s in policy_statements(iam, "dev-chat-Ws-authorizer"))
    assert app.deploy().changes == []

    # switching to IAM: $connect becomes AWS_IAM, the authorizer and its function go
    app2, ws2 = chat(aws, root, authorizer="iam", routes=ROUTES)
    result = app2.deploy()
    assert {c.address for c in result.changes if c.action.value == "delete"} >= {
        "Ws/authorizer", "Ws/permission/authorizer", "Ws-authorizer/function"}
    routes = {r["RouteKey"]: r for r in gw.get_routes(ApiId=ws2.id)["Items"]}
    assert routes["$connect"]["AuthorizationType"] == "AWS_IAM" and not routes["$connect"].get("AuthorizerId")
    assert {routes[k]["AuthorizationType"] for k in ("$disconnect", "$default", "sendMessage")} == {"NONE"}
    assert gw.get_authorizers(ApiId=ws2.id)["Items"] == []


def test_identity_source_can_be_set(aws: boto3.Session, root: Path) -> None:
    app, ws = chat(aws, root, routes={"$connect": "src/connect.main"},
                   authorizer={"type": "lambda", "function": {"handler": "src/auth.main", "timeout": 5},
                               "identity_source": ["route.request.querystring.token"]})
    app.deploy()
    (authz,) = aws.client("apigatewayv2").get_authorizers(ApiId=ws.id)["Items"]
    assert authz["IdentitySource"] == ["route.request.querystring.token"]
    assert aws.client("lambda").get_function_configuration(FunctionName="dev-chat-Ws-authorizer")["Timeout"] == 5


def test_manage_connections_is_scoped_to_each_api(aws: boto3.Session, root: Path) -> None:
    app = App("chat", stage="dev", session=aws, root=root)
    shared = Function(app, "Shared", handler="src/send.main")
    one = WebSocketApi(app, "One", routes={"$default": shared, "echo": shared, "ping": "src/default.main"})
    two = WebSocketApi(app, "Two", routes={"$default": "src/default.main"}, access_log=False)
    worker = Function(app, "Worker", handler="src/worker.main", permissions=[two])
    app.deploy()
    iam = aws.client("iam")

    def manage_resources(role: str) -> list[str]:
        return [s["Resource"] for s in policy_statements(iam, role) if s["Action"] == "execute-api:ManageConnections"]

    one_arn, two_arn = one.execution_arn, two.execution_arn
    assert manage_resources("dev-chat-One-ping") == [f"{one_arn}/*/*/@connections/*"]
    assert manage_resources("dev-chat-Two-default") == [f"{two_arn}/*/*/@connections/*"]
    assert manage_resources("dev-chat-Shared") == [f"{one_arn}/*/*/@connections/*"]  # once, for two routes
    assert one.get_function("$default") is shared is one.get_function("echo")
    assert source_arns(aws.client("lambda"), "dev-chat-Shared") == [f"{one_arn}/*/$default", f"{one_arn}/*/echo"]
    # granting a WebSocketApi: invoke it and manage its connections, on that API only
    assert policy_statements(iam, worker.function_name)[1:] == [{
        "Effect": "Allow", "Action": ["execute-api:Invoke", "execute-api:ManageConnections"],
        "Resource": f"{two_arn}/*"}]
    # without access logs there is no stage logging, and no account role is needed
    assert "AccessLogSettings" not in aws.client("apigatewayv2").get_stage(ApiId=two.id, StageName="dev")
    assert not any(a.startswith("Two/account") for a in app.resources())


# --- redeploys and removal --------------------------------------------------------------------


def test_second_deploy_makes_no_writes(aws: boto3.Session, root: Path) -> None:
    app, _ = chat(aws, root, authorizer={"type": "lambda", "function": "src/auth.main"})
    app.deploy()
    result = app.deploy()
    assert result.changes == [] and writes(result.api_calls) == {}
    assert app.diff().is_empty
    assert app.deploy(refresh=False).api_calls == {}


def test_routes_can_be_added_and_removed(aws: boto3.Session, root: Path) -> None:
    app, ws = chat(aws, root)
    app.deploy()
    app2, _ = chat(aws, root, routes={"$connect": "src/connect.main", "sendMessage": "src/send.main",
                                      "typing": "src/default.main"})
    result = app2.deploy()
    assert {c.address for c in result.changes if c.action.value == "create"} >= {
        "Ws/route/typing", "Ws/integration/typing", "Ws/permission/typing", "Ws-typing/function"}
    assert {c.address for c in result.changes if c.action.value == "delete"} >= {
        "Ws/route/$default", "Ws/route/$disconnect", "Ws-default/function", "Ws-disconnect/function"}
    gw = aws.client("apigatewayv2")
    assert {r["RouteKey"] for r in gw.get_routes(ApiId=ws.id)["Items"]} == {"$connect", "sendMessage", "typing"}
    assert len(gw.get_integrations(ApiId=ws.id)["Items"]) == 3
    assert app2.deploy().changes == []


def test_remove_leaves_nothing_but_the_account_role(aws: boto3.Session, root: Path) -> None:
    app, _ = chat(aws, root, authorizer={"type": "lambda", "function": "src/auth.main"})
    app.deploy()
    result = app.remove()
    assert ("delete", "Ws/account-logging") in {(c.action.value, c.address) for c in result.changes}
    assert "apigateway.UpdateAccount" not in result.api_calls
    assert aws.client("apigatewayv2").get_apis()["Items"] == []
    assert aws.client("lambda").list_functions()["Functions"] == []
    assert aws.client("logs").describe_log_groups()["logGroups"] == []
    assert [r["RoleName"] for r in aws.client("iam").list_roles()["Roles"]] == [ROLE_NAME]
    assert aws.client("apigateway").get_account()["cloudwatchRoleArn"] == ROLE_ARN
    assert not app.state_path.exists()

    # a later deploy finds the role set and writes no account settings
    app2, _ = chat(aws, root)
    result = app2.deploy()
    assert "apigateway.UpdateAccount" not in result.api_calls
    assert result.api_calls["iam.CreateRole"] == len(ROUTES)  # the functions' roles only
    assert app2.deploy().changes == []


def test_an_account_role_set_by_someone_else_is_kept(aws: boto3.Session, root: Path) -> None:
    iam, v1 = aws.client("iam"), aws.client("apigateway")
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                            "Action": "sts:AssumeRole"}]}
    theirs = iam.create_role(RoleName="theirs", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    v1.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": theirs}])
    app, _ = chat(aws, root)
    result = app.deploy()
    assert "apigateway.UpdateAccount" not in result.api_calls
    assert v1.get_account()["cloudwatchRoleArn"] == theirs
    assert ROLE_NAME not in {r["RoleName"] for r in iam.list_roles()["Roles"]}


def test_a_cleared_account_role_is_put_back(aws: boto3.Session, root: Path) -> None:
    app, _ = chat(aws, root)
    app.deploy()
    v1 = aws.client("apigateway")
    v1.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": ""}])
    assert not v1.get_account().get("cloudwatchRoleArn")
    plan = app.diff()
    assert [(c.action.value, c.address) for c in plan.changes] == [("create", "Ws/account-logging")]
    result = app.deploy()
    # the role is still there: CreateRole is refused (EntityAlreadyExists) and the role reused
    assert writes(result.api_calls) == {"iam.CreateRole": 1, "iam.UpdateAssumeRolePolicy": 1,
                                        "iam.AttachRolePolicy": 1, "apigateway.UpdateAccount": 1}
    assert [r["RoleName"] for r in aws.client("iam").list_roles()["Roles"] if r["RoleName"] == ROLE_NAME]
    assert v1.get_account()["cloudwatchRoleArn"] == ROLE_ARN
    assert app.deploy().changes == []


def test_custom_domain(aws: boto3.Session, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import moto.settings

    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 0)
    aws.client("route53").create_hosted_zone(Name="example.com", CallerReference="test")
    app, ws = chat(aws, root, custom_domain="ws.example.com")
    assert ws.custom_domain_url == "wss://ws.example.com"
    app.deploy()
    gw = aws.client("apigatewayv2")
    (mapping,) = gw.get_api_mappings(DomainName="ws.example.com")["Items"]
    assert (mapping["ApiId"], mapping["Stage"]) == (ws.id, "dev")
    assert app.outputs["Ws"]["custom_domain_url"] == "wss://ws.example.com"
    assert app.deploy().changes == []
    app.remove()
    assert gw.get_domain_names()["Items"] == []


# --- bad input: ConfigError, no AWS call --------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"routes": {"$connect": "src/connect.main", "$reconnect": "src/default.main"}}, "'$reconnect'"),
    ({"routes": {"$Connect": "src/connect.main"}}, "only keys starting with '$'"),
    ({"routes": {"send message": "src/send.main"}}, "whitespace"),
    ({"routes": {"": "src/send.main"}}, "non-empty"),
    ({"routes": {"sendMessage": {"function": "src/send.main", "authorizer": "iam"}}}, "'authorizer'"),
    ({"routes": {"sendMessage": "src/missing.main"}}, "missing"),
    ({"accessLog": False}, "access_log"),
    ({"customDomain": "ws.example.com"}, "custom_domain"),
    ({"cors": True}, "'cors'"),
    ({"defaults": {"functionProps": {}}}, "function"),
    ({"authorizer": "jwt"}, "'none', 'iam'"),
    ({"authorizer": {"type": "lambda"}}, "function="),
    ({"authorizer": {"type": "lambda", "function": "src/auth.main", "identitySource": ["x"]}}, "identity_source"),
    ({"authorizer": {"type": "lambda", "function": "src/auth.main", "identity_source": "route.request.header.A"}},
     "identity_source must be a non-empty list"),
    ({"access_log": {"retention": 13}}, "retention"),
])
def test_bad_input_is_a_config_error_before_any_aws_call(
        aws: boto3.Session, root: Path, calls: Any, kwargs: dict[str, Any], message: str) -> None:
    app = App("chat", stage="dev", session=aws, root=root)
    with pytest.raises(ConfigError, match=message.replace("$", r"\$").replace("(", r"\(")):
        WebSocketApi(app, "Ws", **{"routes": ROUTES, **kwargs})
    assert calls.ops == []


def test_custom_keys_and_function_names_never_collide(aws: boto3.Session, root: Path) -> None:
    app = App("chat", stage="dev", session=aws, root=root)
    ws = WebSocketApi(app, "Ws", routes={"$connect": "src/connect.main", "connect": "src/default.main",
                                         "send.message": "src/send.main", "send-message": "src/send.main"})
    names = {ws.get_function(k).construct_id for k in ws.routes}
    assert len(names) == 4 and "Ws-connect" in names and "Ws-send-message" in names
    assert len({r for r in app.resources() if r.startswith("Ws/route/")}) == 4


# --- the chat example's handlers (DynamoDB + @connections on moto) ------------------------------


@pytest.fixture
def example(aws: boto3.Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """The chat example deployed (its Connections table is made by deploy, never by a handler), and its
    handler modules imported as Lambda would, with the table's name in ``TABLE_NAME``."""
    import runpy

    from sstdirect.overrides import Overrides, declaring

    with declaring(Overrides(session=aws, state_dir=str(tmp_path / "state"))):
        chat_app = runpy.run_path(str(EXAMPLE_SRC.parent / "app.py"), run_name="__example__")["app"]
    chat_app.deploy()
    modules = ("connections", "connect", "disconnect", "sendmessage")
    saved = {name: sys.modules.pop(name) for name in modules if name in sys.modules}
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    monkeypatch.setenv("TABLE_NAME", "dev-chat-Connections")
    try:
        yield {name: importlib.import_module(name) for name in modules}
    finally:
        for name in modules:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def ws_event(route: str, connection_id: str, body: str | None = None) -> dict[str, Any]:
    return {"requestContext": {"routeKey": route, "connectionId": connection_id, "stage": "dev",
                               "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "apiId": "abc123",
                               "eventType": "MESSAGE" if body else route.strip("$").upper()},
            "body": body, "isBase64Encoded": False}


def test_chat_example_handlers(example: Any, aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    h = example
    # the table deploy made: on demand, keyed by the connection id
    table = aws.client("dynamodb").describe_table(TableName="dev-chat-Connections")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    # nobody connected yet: sending and disconnecting are harmless
    assert h["sendmessage"].main(ws_event("sendMessage", "a", '{"action":"sendMessage","data":"x"}'), None)[
        "statusCode"] == 200
    assert h["disconnect"].main(ws_event("$disconnect", "a"), None)["statusCode"] == 200
    for cid in ("a", "b", "c"):
        assert h["connect"].main(ws_event("$connect", cid), None)["statusCode"] == 200
    h["disconnect"].main(ws_event("$disconnect", "c"), None)
    assert sorted(h["connections"].all_ids()) == ["a", "b"]

    posted: list[tuple[str, str, bytes]] = []
    real_client = boto3.client

    def client(service: str, **kwargs: Any) -> Any:
        c = real_client(service, **kwargs)
        if service == "apigatewaymanagementapi":
            def post(ConnectionId: str, Data: bytes) -> None:
                posted.append((kwargs["endpoint_url"], ConnectionId, Data))
            c.post_to_connection = post
        return c

    monkeypatch.setattr(boto3, "client", client)
    result = h["sendmessage"].main(ws_event("sendMessage", "a", '{"action":"sendMessage","data":"hello"}'), None)
    assert result == {"statusCode": 200, "body": "Message sent"}
    endpoint = "https://abc123.execute-api.us-east-1.amazonaws.com/dev"
    assert sorted(posted) == [(endpoint, "a", b"hello"), (endpoint, "b", b"hello")]
    assert h["sendmessage"].main(ws_event("sendMessage", "a", "not json"), None)["statusCode"] == 400


def test_chat_example_forgets_gone_connections(example: Any, aws: boto3.Session,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    h = example
    for cid in ("a", "gone"):
        h["connect"].main(ws_event("$connect", cid), None)
    real_client = boto3.client

    def client(service: str, **kwargs: Any) -> Any:
        c = real_client(service, **kwargs)
        if service == "apigatewaymanagementapi":
            def post(ConnectionId: str, Data: bytes) -> None:
                if ConnectionId == "gone":
                    raise ClientError({"Error": {"Code": "GoneException", "Message": "gone"},
                                       "ResponseMetadata": {"HTTPStatusCode": 410}}, "PostToConnection")
            c.post_to_connection = post
        return c

    monkeypatch.setattr(boto3, "client", client)
    h["sendmessage"].main(ws_event("sendMessage", "a", '{"action":"sendMessage","data":{"n":1}}'), None)
    assert list(h["connections"].all_ids()) == ["a"]


def test_chat_example_handlers_call_only_what_their_roles_allow(example: Any, aws: boto3.Session,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Every DynamoDB operation the handlers send (recorded with a botocore ``before-call`` hook on the
    session they use) is an action their deployed role allows, on the table deploy made: no handler makes
    or describes its table."""
    import boto3 as boto3_module

    h = example
    sent: list[str] = []
    session = boto3_module.Session()  # the session boto3.client() uses in the handlers, for this test only
    monkeypatch.setattr(boto3_module, "DEFAULT_SESSION", session)
    session.events.register(
        "before-call.dynamodb", lambda model, **_: sent.append(f"dynamodb:{model.name}"))
    for cid in ("a", "b"):
        h["connect"].main(ws_event("$connect", cid), None)
    list(h["connections"].all_ids())
    h["disconnect"].main(ws_event("$disconnect", "b"), None)
    assert set(sent) == {"dynamodb:PutItem", "dynamodb:Scan", "dynamodb:DeleteItem"}

    iam = aws.client("iam")
    arn = aws.client("dynamodb").describe_table(TableName="dev-chat-Connections")["Table"]["TableArn"]
    assert arn == f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/dev-chat-Connections"
    for route in ("connect", "disconnect", "sendMessage"):
        granted = {action for st in policy_statements(iam, f"dev-chat-Ws-{route}")
                   if st["Resource"] == arn for action in st["Action"]}
        assert granted == set(sent), route


def test_chat_example_app_declares_the_websocket_api(aws: boto3.Session) -> None:
    path = EXAMPLE_SRC.parent / "app.py"
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": "example_ws_app"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    app, ws = namespace["app"], namespace["ws"]
    assert isinstance(ws, WebSocketApi) and ws.routes == ["$connect", "$disconnect", "sendMessage"]
    fn = ws.get_function("sendMessage")
    assert fn.environment == {"TABLE_NAME": "dev-chat-Connections"}
    addresses = set(app.resources())
    assert {"Ws/api", "Ws/stage", "Ws/account-logging", "Ws/route/sendMessage", "Connections/table"} <= addresses


def test_defaults_function_applies_to_the_authorizer_function(root: Path) -> None:
    app = App("chat", stage="dev", root=root)
    ws = WebSocketApi(app, "Ws", routes={"$connect": "src/connect.main"},
                      defaults={"function": {"timeout": 9, "environment": {"STAGE": "dev"}}},
                      authorizer={"type": "lambda", "function": {"handler": "src/auth.main", "timeout": 5}})
    fn = ws.authorizer_function
    assert (fn.timeout, fn.environment) == (5, {"STAGE": "dev"})  # the authorizer's own props win
