"""Credentials: what sstdirect does with none, with a LocalCloud endpoint, and with ``refresh=False``.

* ``diff(refresh=False)`` / ``sstdirect diff --no-refresh`` sends no request at all -- not even a custom
  domain's hosted-zone check -- and works with no credentials (counted at botocore's ``before-send``);
* with no credentials (no environment variable, empty config and credentials files, instance metadata
  off), ``deploy``/``diff``/``remove`` say so naming the fixes (``--local``, ``--profile``,
  ``AWS_PROFILE``), never "AWS returned", and exit 2 before any write; ``remove`` with no lockfile says
  nothing is recorded (exit 0) instead of reporting a removal;
* ``App(..., endpoint_url=cloud.endpoint_url)`` of a ``LocalCloud`` works with no credentials: in the
  same process (the README's snippet) and from another process (the CLI on a running cloud's endpoint).

Every "no credentials" run is a child process (or a monkeypatched environment) that cannot see the
credentials of whoever runs the tests.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from sstdirect import App, ConfigError
from sstdirect.local import LocalCloud
from sstdirect.local.cloud import MARKER_PATH, endpoint_credentials
from sstdirect.state import Record, State, StateFile

FIXES = ("--local", "--profile", "AWS_PROFILE")
SCHEMA = "type Query { ping: String }\n"


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def no_credentials_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a machine with no AWS credentials: no AWS_* variable, empty config and
    credentials files, instance metadata off (botocore would otherwise ask 169.254.169.254)."""
    empty = tmp_path / "empty-aws-file"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("COLUMNS", "LINES", "FORCE_COLOR", "TERM")}
    env.update({"AWS_CONFIG_FILE": str(empty), "AWS_SHARED_CREDENTIALS_FILE": str(empty),
                "AWS_EC2_METADATA_DISABLED": "true"})
    return env


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's environment as :func:`no_credentials_env` makes it."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in no_credentials_env(tmp_path).items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    assert boto3.Session().get_credentials() is None


def sstdirect(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "sstdirect"
    return subprocess.run([str(script), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def one_line(text: str) -> str:
    return " ".join(text.split())


def write_app(root: Path, name: str) -> Path:
    """An APP.py with a custom domain (a hosted-zone check before any write), Cognito and AppSync
    (AppSyncApi takes no custom_domain yet)."""
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "h.py").write_text("def main(e, c):\n    return {'statusCode': 200}\n")
    (root / "schema.graphql").write_text(SCHEMA)
    app_file = root / "APP.py"
    app_file.write_text(textwrap.dedent(f"""\
        from pathlib import Path

        from sstdirect import Api, App, AppSyncApi, Cognito

        app = App({name!r}, stage="dev", root=Path(__file__).parent)
        api = Api(app, "Api", routes={{"GET /notes": "src/h.main"}}, custom_domain="api.example.com")
        auth = Cognito(app, "Auth", login=["email"])
        gql = AppSyncApi(app, "Gql", schema="schema.graphql", data_sources={{"ds": "src/h.main"}},
                         resolvers={{"Query ping": "ds"}})
        """))
    return app_file


def declare(app: App) -> None:
    """The constructs of :func:`write_app`, in this process."""
    from sstdirect import Api, AppSyncApi, Cognito

    Api(app, "Api", routes={"GET /notes": "src/h.main"}, custom_domain="api.example.com")
    Cognito(app, "Auth", login=["email"])
    AppSyncApi(app, "Gql", schema="schema.graphql", data_sources={"ds": "src/h.main"},
               resolvers={"Query ping": "ds"})


def assert_nothing_written(root: Path, name: str) -> None:
    lockfile = root / ".sstdirect" / f"{name}.dev.json"
    for path in (lockfile, lockfile.with_name(lockfile.name + ".lock"), lockfile.with_name(lockfile.name + ".bak")):
        assert not path.exists(), path


# --- diff(refresh=False): no request at all --------------------------------------------------------


def test_diff_without_refresh_sends_no_request(tmp_path: Path) -> None:
    """The plan has changes (nothing was deployed), so a deploy would check the custom domain's hosted zone;
    the diff that trusts the lockfile must not: not one request, counted where botocore sends them."""
    write_app(tmp_path, "unused")
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    sent: list[str] = []

    def refuse(event_name: str = "", **_: Any) -> None:
        sent.append(event_name)
        raise AssertionError(f"diff(refresh=False) sent {event_name}")

    session.events.register("before-send", refuse)
    app = App(unique("nr"), stage="dev", session=session, root=tmp_path)
    declare(app)
    plan = app.diff(refresh=False)
    types = {c.type for c in plan.changes}
    assert {"route53.RecordSet", "apigatewayv2.DomainName", "cognito.UserPool", "appsync.GraphqlApi"} <= types, types
    assert sent == []
    # ... and once a lockfile records a deploy, still none (an unchanged app, then a changed one)
    state_file = StateFile(app.state_path)
    state_file.save(State(app=app.name, stage="dev", region="us-east-1", account="123456789012"))
    assert app.diff(refresh=False).changes and sent == []
    # ... nor for an interrupted create, which a deploy would look for first: it plans as a create
    state = state_file.load()
    state.resources["Api/api"] = Record("apigatewayv2.Api", "Api/api", "creating", None, {}, {"name": "x"})
    state_file.save(state)
    (change,) = [c for c in app.diff(refresh=False).changes if c.logical_id == "Api/api"]
    assert change.action.value == "create" and "interrupted" in change.reason and sent == []


def test_diff_no_refresh_works_with_no_credentials(tmp_path: Path) -> None:
    name = unique("nc")
    write_app(tmp_path, name)
    proc = sstdirect(tmp_path, no_credentials_env(tmp_path), "diff", "APP.py", "--no-refresh", "--json")
    assert proc.returncode == 0, proc.stderr
    addresses = {c["logical_id"] for c in json.loads(proc.stdout)["changes"]}
    assert {"Api/domain/name", "Auth/user-pool", "Gql/api"} <= addresses, addresses
    assert_nothing_written(tmp_path, name)


def test_a_trusted_deploy_of_a_code_change_checks_no_hosted_zone(aws: boto3.Session, tmp_path: Path) -> None:
    """deploy(refresh=False) trusts the lockfile: a code change sends its update and nothing else -- the
    custom domain's hosted-zone check is for a plan that changes the domain's own construct."""
    from sstdirect import Api

    aws.client("route53").create_hosted_zone(Name="example.com", CallerReference="test")
    (tmp_path / "src").mkdir()
    handler = tmp_path / "src" / "h.py"
    handler.write_text("def main(e, c):\n    return {'statusCode': 200}\n")
    app = App("notes", stage="dev", session=aws, root=tmp_path)
    Api(app, "Api", routes={"GET /notes": "src/h.main"}, custom_domain="api.example.com")
    assert app.deploy().api_calls["route53.ListHostedZonesByName"] >= 1  # a first deploy checks the zone
    handler.write_text("def main(e, c):\n    return {'statusCode': 201}\n")
    assert app.diff(refresh=False).changes
    assert dict(app.deploy(refresh=False).api_calls) == {"lambda.UpdateFunctionCode": 1}


# --- no credentials: an error naming the fixes, exit 2, nothing written -----------------------------


@pytest.mark.parametrize("command", ["deploy", "diff"])
def test_no_credentials_exits_2_naming_the_fixes_before_any_write(tmp_path: Path, command: str) -> None:
    name = unique("nc")
    write_app(tmp_path, name)
    proc = sstdirect(tmp_path, no_credentials_env(tmp_path), command, "APP.py")
    assert proc.returncode == 2, proc.stderr
    err = one_line(proc.stderr)
    assert err.startswith("ConfigError: No AWS credentials were found"), err
    assert all(fix in err for fix in FIXES), err
    assert "AWS returned" not in err and "Traceback" not in err, err
    assert_nothing_written(tmp_path, name)


def test_remove_with_a_lockfile_and_no_credentials_exits_2_and_leaves_it(tmp_path: Path) -> None:
    name = unique("nc")
    write_app(tmp_path, name)
    lockfile = tmp_path / ".sstdirect" / f"{name}.dev.json"
    StateFile(lockfile).save(State(app=name, stage="dev", region="us-east-1", account="123456789012"))
    before = (lockfile.read_bytes(), lockfile.stat().st_mtime_ns)
    proc = sstdirect(tmp_path, no_credentials_env(tmp_path), "remove", "APP.py")
    assert proc.returncode == 2, proc.stderr
    err = one_line(proc.stderr)
    assert all(fix in err for fix in FIXES) and "AWS returned" not in err, err
    assert (lockfile.read_bytes(), lockfile.stat().st_mtime_ns) == before
    assert not lockfile.with_name(lockfile.name + ".lock").exists()
    assert not lockfile.with_name(lockfile.name + ".bak").exists()


def test_remove_with_no_lockfile_says_nothing_is_recorded(tmp_path: Path) -> None:
    """Exit 0 (there is nothing to do, as a second remove finds), but never "Removed": the user may be
    in the wrong folder, stage or account, so the message names the lockfile it looked for."""
    name = unique("nc")
    write_app(tmp_path, name)
    proc = sstdirect(tmp_path, no_credentials_env(tmp_path), "remove", "APP.py", "--stage", "prod")
    assert proc.returncode == 0, proc.stderr
    out = one_line(proc.stdout)
    assert f"Nothing recorded for {name} · prod" in out, out
    assert f"{name}.prod.json" in out.replace(" ", "") and "state rebuild" in out, out
    assert "Removed" not in out
    assert not (tmp_path / ".sstdirect" / f"{name}.prod.json.lock").exists()


def test_in_process_deploy_and_remove_without_credentials(tmp_path: Path, no_credentials: None) -> None:
    write_app(tmp_path, "unused")
    app = App(unique("nc"), stage="dev", root=tmp_path)
    declare(app)
    with pytest.raises(ConfigError) as info:
        app.deploy()
    message = str(info.value)
    assert message.startswith("No AWS credentials were found") and all(fix in message for fix in FIXES)
    assert "AWS returned" not in message
    assert_nothing_written(tmp_path, app.name)
    with pytest.raises(ConfigError, match="No AWS credentials"):
        app.diff()
    removed = app.remove()
    assert removed.recorded is False and removed.changes == [] and removed.api_calls == {}
    assert_nothing_written(tmp_path, app.name)
    assert app.diff(refresh=False).changes  # trusting the lockfile needs no credentials


def test_a_profile_that_does_not_exist_is_a_config_error(tmp_path: Path, no_credentials: None) -> None:
    with pytest.raises(ConfigError, match=r"AWS profile 'nope'.*--local"):
        App("notes", root=tmp_path, profile="nope").diff(refresh=True)


def test_an_aws_profile_variable_naming_no_profile_exits_2_without_a_traceback(tmp_path: Path) -> None:
    """Expanding the app (a custom domain reads botocore's API Gateway model) must not trip over it either."""
    write_app(tmp_path, unique("gp"))
    proc = sstdirect(tmp_path, {**no_credentials_env(tmp_path), "AWS_PROFILE": "ghost"}, "deploy", "APP.py")
    assert proc.returncode == 2, proc.stderr
    err = one_line(proc.stderr)
    assert err.startswith("ConfigError: AWS profile 'ghost' (from the AWS_PROFILE environment variable)"), err
    assert all(fix in err for fix in FIXES) and "Traceback" not in err, err


# --- a LocalCloud endpoint implies the cloud's credentials -----------------------------------------


def test_readme_snippet_runs_with_no_credentials(tmp_path: Path) -> None:
    """README "The embedded local AWS", in a fresh interpreter on a machine with no AWS credentials."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "list.py").write_text("def main(event, context):\n    return {'statusCode': 200}\n")
    script = textwrap.dedent(f"""\
        from sstdirect import App, Api
        from sstdirect.local import LocalCloud

        with LocalCloud() as cloud:
            app = App("notes", stage="dev", endpoint_url=cloud.endpoint_url, root={str(tmp_path)!r})
            api = Api(app, "Api", routes={{"GET /notes": "src/list.main"}})
            result = app.deploy()
            print("URL", api.url)
        """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=no_credentials_env(tmp_path),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "URL https://" in proc.stdout


def test_the_cli_on_another_process_cloud_uses_its_credentials(tmp_path: Path, local_cloud: LocalCloud) -> None:
    """A cloud of another process (as a running `sstdirect dev` is) is found through its marker endpoint."""
    name = unique("xp")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "h.py").write_text("def main(e, c):\n    return {'statusCode': 200}\n")
    (tmp_path / "APP.py").write_text(
        "from pathlib import Path\nfrom sstdirect import Api, App\n"
        f"app = App({name!r}, stage='dev', root=Path(__file__).parent)\n"
        "Api(app, 'Api', routes={'GET /notes': 'src/h.main'})\n")
    env = no_credentials_env(tmp_path)
    deployed = sstdirect(tmp_path, env, "deploy", "APP.py", "--endpoint-url", local_cloud.endpoint_url, "--json")
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout)["outputs"]["Api"]["url"].startswith("https://")
    removed = sstdirect(tmp_path, env, "remove", "APP.py", "--endpoint-url", local_cloud.endpoint_url)
    assert removed.returncode == 0, removed.stderr
    assert f"Removed {name}" in removed.stdout
    apis = local_cloud.client("apigatewayv2").get_apis()["Items"]
    assert not [a for a in apis if name in a["Name"]]


def test_configured_credentials_win_over_the_clouds(local_cloud: LocalCloud,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from sstdirect.aws import Aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAMINE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "mine")
    aws = Aws(region="us-east-1", endpoint_url=local_cloud.endpoint_url)
    aws.require_credentials()
    assert aws.session.get_credentials().access_key == "AKIAMINE"


@pytest.fixture
def plain_http_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that is not a LocalCloud (it answers every GET with 200 and some JSON), and
    the paths asked of it."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = json.dumps({"service": "something else", "access_key_id": "a", "secret_access_key": "b"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_only_a_localcloud_marker_counts(local_cloud: LocalCloud, plain_http_server: tuple[str, list[str]],
                                         tmp_path: Path, no_credentials: None) -> None:
    url, seen = plain_http_server
    assert endpoint_credentials(local_cloud.endpoint_url) == local_cloud.credentials  # in this process
    assert endpoint_credentials(url) is None and seen == [MARKER_PATH]  # answers, but not as a LocalCloud
    assert endpoint_credentials("https://apigateway.us-east-1.amazonaws.com") is None  # never asked
    app = App("notes", root=tmp_path, endpoint_url=url)
    assert app.diff(refresh=False).is_empty and seen == [MARKER_PATH]  # no credentials needed: not asked
    with pytest.raises(ConfigError, match="is not a running sstdirect LocalCloud"):
        app.diff()
    assert seen == [MARKER_PATH] * 2  # asked once, and nothing else was sent
