"""Security checks over what the examples really create in the embedded AWS.

- Least privilege: every IAM statement of every role (trust, inline and attached policies), every
  Lambda resource policy and the identity pool roles is enumerated from AWS after a deploy.
- No secrets: the lockfile and the CLI's output never hold a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.moto.test_examples import CASES, load, overrides  # noqa: F401  (fixture)

REGION = "us-east-1"
ACCOUNT = "123456789012"
EXECUTE_API = re.compile(rf"^arn:aws:execute-api:{REGION}:{ACCOUNT}:([a-z0-9]+)/")
OFFLINE = [c for c in CASES if isinstance(c, str)]  # the graphql example needs PyPI

# The only statements allowed a bare "*" Resource, each with why no resource ARN can be named.
JUSTIFIED_WILDCARDS: dict[str, str] = {
    # Amazon Mobile Analytics has no resource-level permissions: IAM accepts only "*".
    "mobileanalytics:PutEvents": "identity pool roles (SST's base grant)",
    # The account-wide role API Gateway itself uses to write the access/execution logs of every API in the
    # account and region (AWS's managed policy AmazonAPIGatewayPushToCloudWatchLogs); log groups are made by
    # API Gateway per API, so no fixed ARN exists. Only that role, trusted only by apigateway.amazonaws.com.
    "logs:CreateLogGroup": "sstdirect-apigateway-cloudwatch", "logs:CreateLogStream": "sstdirect-apigateway-cloudwatch",
    "logs:DescribeLogGroups": "sstdirect-apigateway-cloudwatch", "logs:DescribeLogStreams":
    "sstdirect-apigateway-cloudwatch", "logs:PutLogEvents": "sstdirect-apigateway-cloudwatch",
    "logs:GetLogEvents": "sstdirect-apigateway-cloudwatch", "logs:FilterLogEvents": "sstdirect-apigateway-cloudwatch",
}
CLOUDWATCH_ROLE = "sstdirect-apigateway-cloudwatch"
# DynamoDB's item-level actions (Service Authorization Reference, "Actions defined by Amazon DynamoDB":
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html): all a
# function may hold on a table; table management (CreateTable, DescribeTable, DeleteTable...) never.
DYNAMODB_ITEM_ACTIONS = {f"dynamodb:{a}" for a in (
    "BatchGetItem", "BatchWriteItem", "ConditionCheckItem", "DeleteItem", "GetItem", "PutItem", "Query", "Scan",
    "UpdateItem")}


# Where an identity-pool role's Cognito Sync actions come from: the operations botocore's cognito-sync
# service model (the Cognito Sync API Reference) documents as callable with the temporary credentials Cognito
# Identity gives an identity ("can be called with temporary user credentials provided by Cognito Identity",
# "can only be called with temporary credentials provided by Cognito Identity"); the others "can only be
# called with developer credentials" (BulkPublish, the pool's configuration, usage and events).
def identity_callable_sync_actions() -> set[str]:
    model = boto3.Session().client("cognito-sync", region_name=REGION).meta.service_model
    callable_ = set()
    for name in model.operation_names:
        text = " ".join(re.sub(r"<[^>]+>", " ", model.operation_model(name).documentation).split())
        if re.search(r"can (only )?be called with temporary (user )?credentials provided by Cognito Identity", text):
            callable_.add(f"cognito-sync:{name}")
    return callable_


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def doc(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else value


class Inventory:
    """Every IAM statement in the embedded AWS, with where it came from."""

    def __init__(self, aws: boto3.Session):
        iam, lam = aws.client("iam"), aws.client("lambda")
        self.trust: dict[str, list[dict[str, Any]]] = {}
        self.policies: dict[str, list[dict[str, Any]]] = {}  # role → statements of inline + attached policies
        for role in iam.list_roles()["Roles"]:
            name = role["RoleName"]
            self.trust[name] = as_list(doc(role["AssumeRolePolicyDocument"])["Statement"])
            statements: list[dict[str, Any]] = []
            for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
                policy = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
                statements += as_list(doc(policy)["Statement"])
            for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
                meta = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
                version = iam.get_policy_version(PolicyArn=attached["PolicyArn"],
                                                 VersionId=meta["DefaultVersionId"])["PolicyVersion"]
                statements += as_list(doc(version["Document"])["Statement"])
            self.policies[name] = statements
        self.functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
        self.resource_policies: dict[str, list[dict[str, Any]]] = {}
        for name in self.functions:
            try:
                policy = lam.get_policy(FunctionName=name)["Policy"]
            except lam.exceptions.ResourceNotFoundException:
                continue
            self.resource_policies[name] = as_list(doc(policy)["Statement"])
        apigw = aws.client("apigatewayv2")
        self.apis = {a["ApiId"]: a["ProtocolType"] for a in apigw.get_apis()["Items"]}
        pools = aws.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]
        self.user_pool_arns = {aws.client("cognito-idp").describe_user_pool(UserPoolId=p["Id"])["UserPool"]["Arn"]
                               for p in pools}
        appsync = aws.client("appsync")
        self.graphql_arns = {a["arn"] for a in appsync.list_graphql_apis()["graphqlApis"]}
        identity = aws.client("cognito-identity")
        self.identity_roles: dict[str, dict[str, str]] = {}
        for pool in identity.list_identity_pools(MaxResults=60)["IdentityPools"]:
            pool_id = pool["IdentityPoolId"]
            self.identity_roles[pool_id] = identity.get_identity_pool_roles(IdentityPoolId=pool_id)["Roles"]

    def count(self) -> int:
        return (sum(map(len, self.trust.values())) + sum(map(len, self.policies.values()))
                + sum(map(len, self.resource_policies.values())))


KITCHEN_SINK = "kitchen-sink"  # what the examples do not show: Lambda authorizers, triggers, DynamoDB data sources


def kitchen_sink(root: Path) -> Any:
    """An app with every construct that grants something the examples do not: a Lambda authorizer on an HTTP
    API and on a WebSocket API, Cognito triggers, AppSync Lambda and DynamoDB data sources, a guest grant, a
    Table granted whole (``permissions=[table]``)."""
    from sstdirect import Api, App, AppSyncApi, Cognito, Table, WebSocketApi

    (root / "src").mkdir(parents=True)
    (root / "src" / "h.py").write_text("def main(event, context):\n    return {}\n")
    (root / "schema.graphql").write_text("type Query {\n  a: String\n  b: String\n}\n")
    app = App("sink", stage="dev", root=root)
    auth = Cognito(app, "Auth", login=["email"], triggers={"pre_sign_up": "src/h.main"})
    table = Table(app, "Notes", fields={"id": "string"}, primary_index={"partition_key": "id"})
    api = Api(app, "Api", authorizers={"fn": {"type": "lambda", "function": "src/h.main"}},
              routes={"GET /a": {"function": "src/h.main", "authorizer": "fn"}, "$default": "src/h.main",
                      "GET /t": {"function": {"handler": "src/h.main", "permissions": [table]}}})
    ws = WebSocketApi(app, "Ws", authorizer={"type": "lambda", "function": "src/h.main"},
                      routes={"$connect": "src/h.main", "send": "src/h.main"})
    AppSyncApi(app, "Gql", schema="schema.graphql",
               data_sources={"fn": "src/h.main", "table": {"type": "dynamodb", "table": "notes"}},
               resolvers={"Query a": "fn", "Query b": {"data_source": "table",
                                                       "request_mapping": {"inline": "{}"},
                                                       "response_mapping": {"inline": "$util.toJson($ctx.result)"}}})
    auth.attach_permissions_for_auth_users([api, ws])
    auth.attach_permissions_for_unauth_users([api])
    return app


@pytest.fixture
def deployed(request: pytest.FixtureRequest, aws: boto3.Session, overrides: None,  # noqa: F811
             tmp_path: Path) -> Iterator[Inventory]:
    name = request.param
    if name == "custom-domain":
        aws.client("route53").create_hosted_zone(Name="example.com", CallerReference="examples")
    app = kitchen_sink(tmp_path / "app") if name == KITCHEN_SINK else load(name)
    app.deploy()
    yield Inventory(aws)


@pytest.mark.parametrize("deployed", [*OFFLINE, KITCHEN_SINK], indirect=True)
def test_every_iam_statement_of_every_example_is_least_privilege(deployed: Inventory) -> None:
    inv = deployed
    assert inv.functions and inv.count() > 0
    role_of_function = {f["Role"].rsplit("/", 1)[-1]: name for name, f in inv.functions.items()}
    identity_role_names = {arn.rsplit("/", 1)[-1]: (kind, pool)
                           for pool, roles in inv.identity_roles.items() for kind, arn in roles.items()}

    for role, trust in inv.trust.items():
        (statement,) = trust  # one principal per role
        if role in role_of_function:
            assert statement == {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                 "Action": "sts:AssumeRole"}, role
        elif role == CLOUDWATCH_ROLE:
            assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}, role
        elif role in identity_role_names:
            kind, pool = identity_role_names[role]
            # an identity pool role is assumable only by identities of this pool, with the right amr
            assert statement["Principal"] == {"Federated": "cognito-identity.amazonaws.com"}, role
            assert statement["Action"] == "sts:AssumeRoleWithWebIdentity", role
            assert statement["Condition"] == {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": pool},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": kind},
            }, role
        else:  # an AppSync data source's service role
            assert statement["Principal"] == {"Service": "appsync.amazonaws.com"}, role

    for role, statements in inv.policies.items():
        for statement in statements:
            assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
            actions, resources = as_list(statement["Action"]), as_list(statement["Resource"])
            assert "*" not in actions, (role, statement)
            # no service-wide wildcard either ("cognito-sync:*", "dynamodb:*"): every action is named
            assert not [a for a in actions if "*" in a or "?" in a], (role, statement)
            for resource in resources:
                fields = resource.split(":")
                # every ARN that has an account field names this account (no "*", no other account)
                assert resource == "*" or len(fields) <= 4 or fields[4] in ("", ACCOUNT), \
                    f"{role}: {resource} is not in this account"
            if any(a.startswith("dynamodb:") for a in actions) and role in role_of_function:
                # a function's DynamoDB grant: item actions only (its table is made by deploy, never by the
                # function), on tables of this account and region
                assert all(a in DYNAMODB_ITEM_ACTIONS for a in actions), (role, statement)
                assert all(r.startswith(f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/") for r in resources), statement
            if "*" in resources:
                for action in actions:
                    where = JUSTIFIED_WILDCARDS.get(action)
                    assert where is not None, f"{role}: unjustified '*' resource for {action}: {statement}"
                    assert (role == CLOUDWATCH_ROLE if where == CLOUDWATCH_ROLE else role in identity_role_names), \
                        f"{role}: {action} on '*' is justified only for {where}"
            if role in role_of_function and any(a.startswith("logs:") for a in actions):
                # a function writes only to its own log group
                fn = role_of_function[role]
                assert resources == [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{fn}:*"], statement
            if "execute-api:ManageConnections" in actions:  # only the WebSocket API of this app
                for resource in resources:
                    m = EXECUTE_API.match(resource)
                    assert m and inv.apis.get(m.group(1)) == "WEBSOCKET", (role, resource)
                    assert resource.endswith("/@connections/*") or resource == f"{m.group(0)}*", resource
            if "execute-api:Invoke" in actions:
                for resource in resources:
                    m = EXECUTE_API.match(resource)
                    assert m and m.group(1) in inv.apis, (role, resource)
            if any(a.startswith("cognito-sync:") for a in actions):
                kind, pool = identity_role_names[role]
                assert set(actions) == identity_callable_sync_actions(), statement
                assert all(r.startswith(f"arn:aws:cognito-sync:{REGION}:{ACCOUNT}:identitypool/{pool}/identity/"
                                        "${cognito-identity.amazonaws.com:sub}") for r in resources), statement

    invoke_permissions = 0
    for function, statements in inv.resource_policies.items():
        for statement in statements:
            assert statement["Action"] == "lambda:InvokeFunction", statement
            assert statement["Resource"] == inv.functions[function]["FunctionArn"], statement
            source = statement.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn")
            assert source, f"{function}: an invoke permission with no SourceArn: {statement}"
            principal = statement["Principal"]["Service"]
            if principal == "apigateway.amazonaws.com":
                m = EXECUTE_API.match(source)
                assert m and m.group(1) in inv.apis, source  # scoped to one of this app's APIs
            elif principal == "cognito-idp.amazonaws.com":
                assert source in inv.user_pool_arns, source
            elif principal == "appsync.amazonaws.com":
                assert source in inv.graphql_arns, source
            else:
                raise AssertionError(f"{function}: unexpected principal {principal}")
            invoke_permissions += 1
    if inv.apis:
        assert invoke_permissions > 0


def test_permissions_of_a_route_are_scoped_to_its_api_and_route(aws: boto3.Session,
                                                                overrides: None) -> None:  # noqa: F811
    """Two example apps side by side: each route's permission names its own API id and route."""
    rest = load("rest-api")
    rest.deploy()
    inv = Inventory(aws)
    (api_id,) = inv.apis
    routes = {"GET /notes", "POST /notes", "GET /notes/{id}", "PUT /notes/{id}", "DELETE /notes/{id}"}
    sources = {json.dumps(s["Condition"]) for st in inv.resource_policies.values() for s in st}
    expected = {f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*/{r.split()[0]}"
                + r.split()[1].replace("{id}", "*") for r in routes} | {
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*"}
    got = {json.loads(s)["ArnLike"]["AWS:SourceArn"] for s in sources}
    assert got == expected


# --- no secrets in the lockfile or the CLI's output -------------------------------------------------------

SECRET_KEY = "sstdirectTESTsecretKEY0123456789abcdefXYZ"  # the deployer's AWS secret access key
PASSWORD = "Pa55word-never-shown"
TOKEN = "tok_live_0123456789abcdef"

SECRETS_APP = '''
from pathlib import Path
from sstdirect import Api, App, AppSyncApi, Cognito, Function

app = App("{name}", stage="dev", root=Path(__file__).parent)
auth = Cognito(app, "Auth", login=["email"])
Api(app, "Api", authorizers={{"pool": {{"type": "user_pool", "user_pool": {{"id": auth.user_pool_id}}}}}},
    defaults={{"authorizer": "pool"}}, routes={{"GET /notes": "src/h.main"}})
AppSyncApi(app, "Gql", schema="schema.graphql", data_sources={{"ds": "src/h.main"}},
           resolvers={{"Query ping": "ds"}})
Function(app, "Worker", handler="src/h.main", environment={{"DB_PASSWORD": "{password}", "API_TOKEN": "{token}"}})
'''


def test_lockfile_and_cli_output_never_hold_a_secret(tmp_path: Path, local_cloud: Any) -> None:
    import os
    import stat
    import subprocess
    import sys
    import uuid

    name = f"sec{uuid.uuid4().hex[:6]}"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "h.py").write_text("def main(e, c):\n    return 'pong'\n")
    (tmp_path / "schema.graphql").write_text("type Query {\n  ping: String\n}\n")
    (tmp_path / "app.py").write_text(SECRETS_APP.format(name=name, password=PASSWORD, token=TOKEN))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": "AKIASSTDIRECTTEST", "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(tmp_path / "none"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")})
    script = str(Path(sys.executable).parent / "sstdirect")
    url = ["--endpoint-url", local_cloud.endpoint_url]
    shown = []
    for args in (["deploy", "app.py", *url], ["deploy", "app.py", *url, "--json"],
                 ["outputs", "app.py", *url, "--json"], ["outputs", "app.py", *url],
                 ["diff", "app.py", *url, "--json"]):
        done = subprocess.run([script, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        shown.append(done.stdout + done.stderr)
    assert json.loads(shown[2])  # the outputs really were printed

    # the secrets that now exist in AWS
    client = local_cloud.client("appsync")
    (api,) = [a for a in client.list_graphql_apis()["graphqlApis"] if a["name"].startswith(f"dev-{name}-")]
    api_keys = [k["id"] for k in client.list_api_keys(apiId=api["apiId"])["apiKeys"]]
    assert api_keys and all(len(k) > 20 for k in api_keys)  # the key id *is* the secret key value
    idp = local_cloud.client("cognito-idp")
    (pool,) = [p for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == f"dev-{name}-Auth"]
    (app_client,) = idp.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]
    described = idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=app_client["ClientId"])
    assert "ClientSecret" not in described["UserPoolClient"]  # the client is made without a secret

    state_dir = tmp_path / ".sstdirect"
    lockfile = state_dir / f"{name}.dev.json"
    files = [lockfile, state_dir / f"{name}.dev.json.bak"]
    texts = [p.read_text() for p in files] + shown
    for secret in (PASSWORD, TOKEN, SECRET_KEY, *api_keys):
        for text in texts:
            assert secret not in text
    for path in [*files, state_dir / f"{name}.dev.json.lock"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    done = subprocess.run([script, "remove", "app.py", *url], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0 and SECRET_KEY not in done.stdout + done.stderr


# --- the Lambda zip ------------------------------------------------------------------------------------------

NEVER_BUNDLED = [
    ".env", ".env.local", "sub/.env", "sub/.env.production", ".git/config", ".git/HEAD", "sub/.git",
    ".sstdirect/notes.dev.json", ".sstdirect/cache/x.zip", ".venv/pyvenv.cfg", ".venv/lib/site.py",
    "venv/bin/activate", "venv/lib/mod.py", "myenv/pyvenv.cfg", "myenv/lib/thing.py", "sub/env2/pyvenv.cfg",
    "sub/env2/lib/a.py", "__pycache__/handler.cpython-312.pyc", "sub/__pycache__/keep.cpython-312.pyc",
    # folders named .env / .env.*: a virtualenv made without pyvenv.cfg, or a folder of secrets
    "stray.pyc", "other/.env/secrets.py", "other/.env.prod/k.py",
]


@pytest.mark.parametrize("traced", [False, True])
def test_the_lambda_zip_never_holds_env_git_state_or_virtualenvs(tmp_path: Path, traced: bool) -> None:
    import zipfile

    from sstdirect.packaging import build_bundle

    code = tmp_path / "code"
    for rel in NEVER_BUNDLED:
        path = code / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("SECRET=1\n" if "env" in rel else "x = 1\n")
    (code / "handler.py").write_text("import sub.keep\n\ndef main(event, context):\n    return {}\n")
    (code / "sub").mkdir(exist_ok=True)
    (code / "sub" / "__init__.py").write_text("")
    (code / "sub" / "keep.py").write_text("x = 1\n")
    (code / "data.json").write_text("{}")
    bundle = build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "handler.py" if traced else None)
    with zipfile.ZipFile(bundle.path) as zf:
        names = set(zf.namelist())
    assert {"handler.py", "sub/__init__.py", "sub/keep.py", "data.json"} <= names
    assert not names & set(NEVER_BUNDLED), names & set(NEVER_BUNDLED)
    for n in names:
        parts = n.split("/")
        assert not ({".env", ".git", ".sstdirect", ".venv", "venv", "__pycache__", "myenv", "env2"} & set(parts)), n
        assert not n.endswith(".pyc") and not parts[-1].startswith(".env"), n
