"""Crash recovery: a deploy or remove killed (SIGKILL) at any mutating AWS request is finished by the next
one, with nothing orphaned and nothing missing.

One embedded AWS (``local_cloud``) runs in this process. Each case runs ``tests/crash_driver.py`` in a
child process that deploys (or removes) an app and kills itself at the K-th mutating request, at one of
two points: ``before-send`` (the request never reached AWS) and ``after-call`` (AWS did it; the process
dies before recording it: the orphan-risk case). Then this process deploys the same app (same lockfile)
and checks that AWS holds exactly the declared resources, listed through boto3 and compared with what a
clean deploy of an identically shaped app produces; that a second deploy plans nothing; and that
``remove()`` leaves nothing and deletes the lockfile.

Tests (one per kind of case; each checks every K of its kind and names the failed ones):

- ``test_crash_during_deploy``: the small app (an Api with ``GET /a`` and ``POST /b``, access log on),
  every K of a clean deploy;
- ``test_crash_during_remove``: the small app deployed, then ``remove()`` killed at every K; a second
  ``remove()`` completes and nothing is left;

(By default every K runs at one kill point, the two points taking turns: K = 1 before-send, K = 2
after-call, ...; ``SSTDIRECT_CRASH_MATRIX=full`` runs every K at both points and every K of the example
and the full remove: see ``EVERY``.)

- ``test_crash_during_update``: the small app updated (``GET /a`` → ``GET /c``: its route, integration,
  permission and function are replaced; access log off; a function's timeout changed), every K;
- ``test_crash_during_replacement``: a JWT authorizer replaced by a Lambda authorizer of the same name
  (a create-first replacement: the old object is *deposed* until the new one is in use), every K;
- ``test_crash_during_example_deploy``: ``examples/rest-api/app.py`` (6 routes), every 5th K;
- ``test_crash_during_full_deploy``: the full app (Cognito user pool, client and identity pool; an Api with a
  user-pool and a Lambda authorizer and a custom domain in a Route 53 hosted zone; a WebSocketApi with 4
  routes), every 2nd K, the kill points taking turns, to keep the run time modest (every K at both points
  with ``SSTDIRECT_CRASH_MATRIX=full``);
- ``test_crash_during_full_remove``: the full app deployed, then ``remove()`` killed at every 3rd K, the
  kill points taking turns (before-send at K = 1, 7, 13, ..., after-call at K = 4, 10, 16, ...).

The inventory also lists every user pool (with its clients), identity pool (with its roles), ACM
certificate, record set of the hosted zone, domain name and API mapping of the app; the module's embedded
AWS issues certificates at once (``acm_validation_wait=0``).

For a remove or an update, the child first deploys the state the crash starts from (the app, or its old
version) with no kill armed. The number of mutating calls of each operation is measured by a clean run
of the driver (which must then finish normally): the cases of a kind are the kill indices of that measured
count, so a write added to sstdirect adds its cases with no constant to update. sstdirect runs independent
steps in parallel, so which call is the K-th (and what else is in flight when it dies) varies from run to
run: a failure shows the child's trace of mutating calls.

Speed: the cases are independent (each has its own app name, or stage, and lockfile), so the first case
test runs every selected case on a few threads (children run while this process checks other cases),
and each test then reports the outcomes of its kind's cases.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crash_driver
import pytest
from botocore.config import Config

from sstdirect import App
from sstdirect.local import LocalCloud

DRIVER = Path(__file__).with_name("crash_driver.py")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rest-api"
KILL_POINTS = crash_driver.KILL_POINTS
CODE = {"before-send": "bs", "after-call": "ac"}
WORKERS = 3  # cases in flight at once

# How many mutating AWS requests each operation makes is measured by its clean baseline run (World.measure),
# never kept by hand: the cases of a kind are the kill indices 1..N of its measured N.
# CI's budget: every K at one kill point, the points taking turns (the small apps), every 2nd K of the full
# deploy and every 3rd of the full remove taking turns, every 5th K of the example at both (~114 cases).
# SSTDIRECT_CRASH_MATRIX=full: every K at both points, everywhere (~394 cases). The in-process fault matrix
# (tests/crash/test_fault_matrix.py) covers lost responses and errors at strided indices besides.
EVERY = os.environ.get("SSTDIRECT_CRASH_MATRIX") == "full"
# kind -> (stride of K, whether the two kill points take turns)
STRIDES = {"deploy": (1, True), "remove": (1, True), "update": (1, True), "replacement": (1, True),
           "example": (1 if EVERY else 5, False), "full": (1 if EVERY else 2, True),
           "full-remove": (1 if EVERY else 3, True)}

# resource type → the inventory kind it is listed as
KINDS = {
    "apigatewayv2.Api": "api",
    "apigatewayv2.Route": "route",
    "apigatewayv2.Integration": "integration",
    "apigatewayv2.Stage": "stage",
    "apigatewayv2.Authorizer": "authorizer",
    "lambda.Function": "function",
    "lambda.Permission": "permission",
    "iam.Role": "role",
    "logs.LogGroup": "log-group",
    "cognito.UserPool": "user-pool",
    "cognito.UserPoolClient": "user-pool-client",
    "cognito.IdentityPool": "identity-pool",
    "cognito.IdentityPoolRoles": "identity-pool-roles",
    "acm.Certificate": "certificate",
    "route53.RecordSet": "record-set",
    "apigatewayv2.DomainName": "domain-name",
    "apigatewayv2.ApiMapping": "api-mapping",
    "acm.CertificateValidation": None,  # a wait: nothing is made
    "apigateway.AccountCloudWatchRole": None,  # the account's setting (and role), shared by every app: kept
}


def kill_cases(kind: str, calls: int) -> list[tuple[str, int]]:
    """The (kill point, K) cases of ``kind`` for an operation of ``calls`` mutating requests: every
    stride-th K at both kill points, or (the points taking turns, unless every case is asked for) at one
    point: before-send at K = 1, after-call at K = 1 + stride, ..."""
    stride, alternate = STRIDES[kind]
    ks = range(1, calls + 1, stride)
    if alternate and not EVERY:
        return [(KILL_POINTS[i % 2], k) for i, k in enumerate(ks)]
    return [(point, k) for point in KILL_POINTS for k in ks]


# --- the world: one cloud, app folders, lockfiles ----------------------------------------------------


@dataclass
class World:
    cloud: LocalCloud
    small_root: Path
    example_root: Path
    state_dir: Path
    zone_id: str = ""  # the hosted zone crash_driver.ZONE (made by the fixture)
    calls: dict[str, int] = field(default_factory=dict)  # measured mutating calls, by case kind
    expected: dict[str, Counter[tuple[Any, ...]]] = field(default_factory=dict)  # inventory, by scenario
    baselines_run: set[str] = field(default_factory=set)
    _clients: dict[str, Any] = field(default_factory=dict)
    _build_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        session = self.cloud.session()
        for service in ("apigatewayv2", "lambda", "iam", "logs", "cognito-idp", "cognito-identity", "acm",
                        "route53"):  # clients are thread-safe (sessions are not)
            self._clients[service] = session.client(service, endpoint_url=self.cloud.endpoint_url,
                                                    config=Config(proxies={}))

    def client(self, service: str) -> Any:
        return self._clients[service]

    def root(self, scenario: str) -> Path:
        return self.example_root if scenario == "example" else self.small_root

    def app(self, scenario: str, name: str, stage: str = "dev") -> App:
        """The app of ``scenario`` built in this process exactly as the driver builds it, with a boto3
        session of its own (sessions are not thread-safe)."""
        with self._build_lock:  # one at a time: the example app file is run as the CLI runs it
            return crash_driver.build_app(scenario, name=name, stage=stage, root=self.root(scenario),
                                          state_dir=self.state_dir, endpoint_url=self.cloud.endpoint_url,
                                          session=self.cloud.session())

    def lockfile(self, name: str, stage: str = "dev") -> Path:
        return crash_driver.state_path(self.state_dir, name, stage)

    def _run_driver(self, scenario: str, op: str, name: str, stage: str, kill_at: int, point: str,
                    setup: str | None) -> subprocess.CompletedProcess[str]:
        spec = {"scenario": scenario, "setup": setup, "name": name, "stage": stage,
                "root": str(self.root(scenario)), "state_dir": str(self.state_dir),
                "endpoint_url": self.cloud.endpoint_url, "op": op, "kill_at": kill_at, "kill_point": point}
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
                   AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        return subprocess.run([sys.executable, str(DRIVER), json.dumps(spec)], env=env, capture_output=True,
                              text=True, timeout=120)

    def crash(self, scenario: str, op: str, name: str, stage: str, kill_at: int, point: str,
              setup: str | None = None) -> str:
        """Run the driver (after deploying ``setup`` in it, if given), which must die by SIGKILL during
        ``op``; return its trace of mutating calls."""
        proc = self._run_driver(scenario, op, name, stage, kill_at, point, setup)
        trace = proc.stderr[-6000:]
        assert proc.returncode == -signal.SIGKILL, (
            f"the child should have died by SIGKILL at {point} of mutating call #{kill_at}, "
            f"but exited {proc.returncode}\n{trace}")
        return trace

    def clean_run(self, scenario: str, op: str, name: str, stage: str = "dev", setup: str | None = None) -> int:
        """Run the driver with a kill index past the last call: it must finish normally. Returns the
        number of mutating calls of ``op``."""
        proc = self._run_driver(scenario, op, name, stage, 10**6, "after-call", setup)
        assert proc.returncode == 0, f"the child should have finished, but exited {proc.returncode}\n{proc.stderr}"
        return int(json.loads(proc.stdout)["mutating_calls"])

    def measure(self, kinds: set[str]) -> None:
        """Run the baselines of ``kinds`` not yet run (at once)."""
        todo = {BASELINE_OF[kind] for kind in kinds} - self.baselines_run
        with ThreadPoolExecutor(WORKERS) as pool:
            for future in [pool.submit(BASELINES[b], self) for b in sorted(todo)]:
                future.result()
        self.baselines_run |= todo


@pytest.fixture(scope="module")
def local_cloud() -> Iterator[LocalCloud]:
    """This module's embedded AWS: ACM certificates are issued at once (the full app's custom domain)."""
    with LocalCloud(acm_validation_wait=0) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def world(local_cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # Lockfiles are fsynced on every save: on a tmpfs that costs nothing, and a process killed (not a
    # machine) loses no page cache, so it changes nothing these tests check.
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        base = Path(tempfile.mkdtemp(prefix="sstdirect-crash-", dir=shm))
    else:
        base = tmp_path_factory.mktemp("crash")
    small = base / "small"
    (small / "src").mkdir(parents=True)
    (small / "src" / "h.py").write_text(crash_driver.SMALL_HANDLERS)
    example = base / "rest-api"
    shutil.copytree(EXAMPLE, example, ignore=shutil.ignore_patterns(".sstdirect", "__pycache__"))
    past = time.time() - 3600  # not "just written": the bundle cache trusts these files at once
    for path in [*small.rglob("*"), *example.rglob("*")]:
        os.utime(path, (past, past))
    local_cloud.reset()  # moto's state is process-wide: start from an empty account, whatever ran before
    world = World(local_cloud, small, example, base / "state")
    world.zone_id = world.client("route53").create_hosted_zone(
        Name=crash_driver.ZONE, CallerReference="crash")["HostedZone"]["Id"].rsplit("/", 1)[-1]
    for scenario in ("small", "example"):  # build the bundles once, before processes share the cache
        world.app(scenario, "notes").resources()
    # The account's CloudWatch role for API Gateway logging (a WebSocketApi's access log needs it) is set
    # once per account and kept by remove(): set it now, so that every deploy of the full app makes the
    # same calls (the baseline measures a deploy into an account that has it).
    account = world.app("full", "account")
    account.deploy()
    account.remove()
    try:
        yield world
    finally:
        if base.is_relative_to(shm):
            shutil.rmtree(base, ignore_errors=True)


# --- baselines: clean runs under names of their own --------------------------------------------------
#
# A clean run of the driver measures an operation's mutating calls; the inventory a clean deploy makes is
# the expected inventory of the cases (checked against app.resources(), and stable: a second deploy plans
# nothing); an update must reach the same inventory as a clean deploy of the new app.


def expect(world: World, scenario: str, name: str, stage: str = "dev") -> None:
    app = world.app(scenario, name, stage)
    inv = inventory(world, stage, name)
    kinds = Counter(KINDS[r.type] for r in app.resources().values() if KINDS[r.type])
    assert Counter(kind for kind, *_ in inv.elements()) == kinds, f"{scenario}: a clean deploy made {inv}"
    assert app.deploy().plan.is_empty, f"{scenario}: a clean deploy is not stable"
    world.expected[scenario] = inv


def baseline_small(world: World) -> None:
    world.calls["deploy"] = world.clean_run("small", "deploy", "base-d")
    expect(world, "small", "base-d")
    world.calls["remove"] = world.clean_run("small", "remove", "base-d")
    assert_gone(world, "base-d", "dev")


def baseline_update(kind: str, v1: str, v2: str, name: str) -> Callable[[World], None]:
    def run(world: World) -> None:
        clean = world.app(v2, f"{name}-clean")
        clean.deploy()
        expect(world, v2, f"{name}-clean")
        clean.remove()
        world.calls[kind] = world.clean_run(v2, "deploy", name, setup=v1)
        have = inventory(world, "dev", name)
        assert have == world.expected[v2], f"{v1} updated to {v2} ≠ {v2} deployed clean:\n" + describe(
            have, world.expected[v2])
        world.app(v2, name).remove()

    return run


def baseline_example(world: World) -> None:
    world.calls["example"] = world.clean_run("example", "deploy", "notes", "xbase")
    expect(world, "example", "notes", "xbase")
    world.app("example", "notes", "xbase").remove()


def baseline_full(world: World) -> None:
    world.calls["full"] = world.clean_run("full", "deploy", "base-f")
    expect(world, "full", "base-f")
    world.calls["full-remove"] = world.clean_run("full", "remove", "base-f")
    assert_gone(world, "base-f", "dev")


BASELINES: dict[str, Callable[[World], None]] = {
    "full": baseline_full,  # the longest first
    "example": baseline_example,
    "small": baseline_small,
    "update": baseline_update("update", "small", "small-v2", "base-u"),
    "replacement": baseline_update("replacement", "auth", "auth-v2", "base-a"),
}
BASELINE_OF = {"deploy": "small", "remove": "small", "update": "update", "replacement": "replacement",
               "example": "example", "full": "full", "full-remove": "full"}


# --- what AWS holds ---------------------------------------------------------------------------------


def _items(client: Any, method: str, key: str, **params: Any) -> list[Any]:
    if client.can_paginate(method):
        return [item for page in client.get_paginator(method).paginate(**params) for item in page.get(key, [])]
    return getattr(client, method)(**params).get(key, [])


def inventory(world: World, stage: str, app: str) -> Counter[tuple[Any, ...]]:
    """Every API (with its routes, integrations, authorizers and stages), Lambda function (with its
    permission statements), IAM role, log group, Cognito user pool (with its clients), identity pool (with
    its roles), ACM certificate, record set of the hosted zone, API Gateway domain name (with its API
    mappings) of ``app`` at ``stage``, listed through boto3.

    Names are normalized (``{stage}-{app}-`` → ``<app>-``, the app's custom domain → ``<domain>``, a
    validation record's hash → ``_<validation>``, the ids of APIs, authorizers, user pools, clients, identity
    pools and certificates → ``<api>``, ``<authorizer>``, ...) so that identically shaped apps compare
    equal. A route names the integration it targets and its authorizer; an integration the function it
    invokes; a JWT authorizer its issuer and audience; an identity pool its providers and roles; a stage its
    access-log group; a domain name its certificate; a mapping its API and stage."""
    prefix = f"{stage}-{app}-"
    domain = crash_driver.domain_of(app, stage)
    apigw, lam, idp, identity = (world.client(s) for s in ("apigatewayv2", "lambda", "cognito-idp", "cognito-identity"))
    apis = {a["ApiId"]: a["Name"] for a in _items(apigw, "get_apis", "Items") if a["Name"].startswith(prefix)}
    authorizers = {api_id: {a["AuthorizerId"]: a for a in _items(apigw, "get_authorizers", "Items", ApiId=api_id)}
                   for api_id in apis}
    pools = {p["Id"]: p["Name"] for p in _items(idp, "list_user_pools", "UserPools", MaxResults=60)
             if p["Name"].startswith(prefix)}
    clients = {c["ClientId"]: c for pool_id in pools
               for c in _items(idp, "list_user_pool_clients", "UserPoolClients", UserPoolId=pool_id, MaxResults=60)}
    identity_pools = [p["IdentityPoolId"] for p in _items(identity, "list_identity_pools", "IdentityPools",
                                                          MaxResults=60) if p["IdentityPoolName"].startswith(prefix)]
    certificates = [c for c in _items(world.client("acm"), "list_certificates", "CertificateSummaryList")
                    if c["DomainName"] == domain]
    ids = {api_id: "<api>" for api_id in apis} | {
        auth_id: "<authorizer>" for auths in authorizers.values() for auth_id in auths} | {
        pool_id: "<user-pool>" for pool_id in pools} | {client_id: "<client>" for client_id in clients} | {
        pool_id: "<identity-pool>" for pool_id in identity_pools} | {
        c["CertificateArn"]: "<certificate>" for c in certificates}

    def norm(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(sorted(norm(v) for v in value))
        if not isinstance(value, str):
            return value
        for physical_id, placeholder in ids.items():
            value = value.replace(physical_id, placeholder)
        return value.replace(prefix, "<app>-").replace(domain, "<domain>")

    out: Counter[tuple[Any, ...]] = Counter()
    for api_id, name in apis.items():
        api = norm(name)
        out["api", api] += 1
        integrations = {i["IntegrationId"]: i for i in _items(apigw, "get_integrations", "Items", ApiId=api_id)}
        for i in integrations.values():
            out["integration", api, norm(i.get("IntegrationUri"))] += 1  # an imported one has no description
        for a in authorizers[api_id].values():
            jwt = a.get("JwtConfiguration") or {}
            out["authorizer", api, a["Name"], a["AuthorizerType"], norm(a.get("AuthorizerUri")),
                norm(jwt.get("Issuer")), norm(jwt.get("Audience"))] += 1
        for r in _items(apigw, "get_routes", "Items", ApiId=api_id):
            target = integrations.get((r.get("Target") or "").removeprefix("integrations/"))
            auth = authorizers[api_id].get(r.get("AuthorizerId") or "")
            out["route", api, r["RouteKey"], norm(target.get("IntegrationUri")) if target else r.get("Target"),
                r.get("AuthorizationType"), auth["Name"] if auth else r.get("AuthorizerId")] += 1
        for s in _items(apigw, "get_stages", "Items", ApiId=api_id):
            log = (s.get("AccessLogSettings") or {}).get("DestinationArn")
            out["stage", api, s["StageName"], norm(log)] += 1
    for fn in _items(lam, "list_functions", "Functions"):
        if not fn["FunctionName"].startswith(prefix):
            continue
        name = norm(fn["FunctionName"])
        out["function", name, norm(fn["Role"].rsplit("/", 1)[-1]), fn["Timeout"]] += 1
        try:
            policy = json.loads(lam.get_policy(FunctionName=fn["FunctionName"])["Policy"])
        except lam.exceptions.ResourceNotFoundException:
            policy = {}
        for st in policy.get("Statement", []):
            source = ((st.get("Condition") or {}).get("ArnLike") or {}).get("AWS:SourceArn")
            out["permission", name, st.get("Sid"), norm(source)] += 1
    for role in _items(world.client("iam"), "list_roles", "Roles"):
        if role["RoleName"].startswith(prefix):
            out["role", norm(role["RoleName"])] += 1
    for folder in ("/aws/lambda/", "/aws/vendedlogs/apis/"):
        for group in _items(world.client("logs"), "describe_log_groups", "logGroups",
                            logGroupNamePrefix=folder + prefix):
            out["log-group", norm(group["logGroupName"])] += 1
    for name in pools.values():
        out["user-pool", norm(name)] += 1
    for c in clients.values():
        out["user-pool-client", norm(c["ClientName"]), norm(c["UserPoolId"])] += 1
    for pool_id in identity_pools:
        pool = identity.describe_identity_pool(IdentityPoolId=pool_id)
        providers = [f"{p['ProviderName']} {p['ClientId']}" for p in pool.get("CognitoIdentityProviders") or []]
        out["identity-pool", norm(pool["IdentityPoolName"]), norm(providers)] += 1
        roles = identity.get_identity_pool_roles(IdentityPoolId=pool_id).get("Roles") or {}
        if roles:
            out["identity-pool-roles", norm(pool["IdentityPoolName"]), norm(sorted(roles.items()))] += 1
    for c in certificates:
        out["certificate", norm(c["DomainName"])] += 1
    for r in _items(world.client("route53"), "list_resource_record_sets", "ResourceRecordSets",
                    HostedZoneId=world.zone_id):
        name = r["Name"].rstrip(".")
        if name == domain or name.endswith("." + domain):
            label = "_<validation>." + "<domain>" if name.startswith("_") else norm(name)
            out["record-set", label, r["Type"]] += 1
    for d in _items(apigw, "get_domain_names", "Items"):
        if d["DomainName"] != domain:
            continue
        out["domain-name", norm(d["DomainName"]),
            norm([c.get("CertificateArn") for c in d.get("DomainNameConfigurations") or []])] += 1
        for m in _items(apigw, "get_api_mappings", "Items", DomainName=d["DomainName"]):
            out["api-mapping", norm(d["DomainName"]), norm(apis.get(m["ApiId"], m["ApiId"])), m["Stage"],
                m.get("ApiMappingKey") or ""] += 1
    return out


def describe(have: Counter[Any], want: Counter[Any]) -> str:
    return (f"extra (orphaned or duplicated): {sorted((have - want).items())}\n"
            f"missing: {sorted((want - have).items())}")


# --- the checks after a crash --------------------------------------------------------------------------


def assert_gone(world: World, name: str, stage: str) -> None:
    left = inventory(world, stage, name)
    assert not left, f"remove() left {sorted(left)}"
    assert not world.lockfile(name, stage).exists(), "remove() left the lockfile"


def assert_recovers(world: World, scenario: str, name: str, stage: str = "dev") -> None:
    """A fresh deploy succeeds and AWS then holds exactly the app (and the lockfile records exactly it,
    settled); a second deploy plans nothing; remove() leaves nothing and deletes the lockfile."""
    app = world.app(scenario, name, stage)
    app.deploy()
    have = inventory(world, stage, name)
    want = world.expected[scenario]
    assert have == want, "after the recovering deploy AWS does not hold exactly the app:\n" + describe(have, want)
    records = json.loads(world.lockfile(name, stage).read_text())["resources"]
    assert sorted(records) == sorted(app.resources()), "the lockfile does not record exactly the app"
    unsettled = {a: (r["status"], r["deposed"]) for a, r in records.items()
                 if r["status"] != "created" or r["deposed"] or not r["physical_id"]}
    assert not unsettled, f"the lockfile still has unsettled records: {unsettled}"
    again = app.deploy()
    assert again.plan is not None and again.plan.is_empty, f"a second deploy still plans:\n{again.plan}"
    app.remove()
    assert_gone(world, name, stage)


# --- the cases: each returns the killed child's trace, and the checks that follow -----------------------

Recovery = tuple[str, Callable[[], None]]


def crash_during_deploy(scenario: str, prefix: str) -> Callable[[World, str, int], Recovery]:
    def run(world: World, point: str, k: int) -> Recovery:
        name = f"{prefix}-{CODE[point]}-{k:02d}"
        trace = world.crash(scenario, "deploy", name, "dev", k, point)
        return trace, lambda: assert_recovers(world, scenario, name)

    return run


def crash_during_remove(scenario: str, prefix: str) -> Callable[[World, str, int], Recovery]:
    def run(world: World, point: str, k: int) -> Recovery:
        name = f"{prefix}-{CODE[point]}-{k:02d}"
        trace = world.crash(scenario, "remove", name, "dev", k, point, setup=scenario)

        def recover() -> None:
            world.app(scenario, name).remove()
            assert_gone(world, name, "dev")

        return trace, recover

    return run


def crash_during_update(v1: str, v2: str, prefix: str) -> Callable[[World, str, int], Recovery]:
    def run(world: World, point: str, k: int) -> Recovery:
        name = f"{prefix}-{CODE[point]}-{k:02d}"
        trace = world.crash(v2, "deploy", name, "dev", k, point, setup=v1)
        return trace, lambda: assert_recovers(world, v2, name)

    return run


def crash_during_example_deploy(world: World, point: str, k: int) -> Recovery:
    stage = f"x{CODE[point]}{k:02d}"  # the example app is always "notes": cases differ by stage
    trace = world.crash("example", "deploy", "notes", stage, k, point)
    return trace, lambda: assert_recovers(world, "example", "notes", stage)


RUNNERS: dict[str, Callable[[World, str, int], Recovery]] = {  # the longest first
    "full-remove": crash_during_remove("full", "fr"),
    "full": crash_during_deploy("full", "f"),
    "example": crash_during_example_deploy,
    "update": crash_during_update("small", "small-v2", "u"),
    "deploy": crash_during_deploy("small", "d"),
    "remove": crash_during_remove("small", "r"),
    "replacement": crash_during_update("auth", "auth-v2", "a"),
}
TEST_NAME = {"example": "example_deploy", "full": "full_deploy", "full-remove": "full_remove"}
TEST_KIND = {f"test_crash_during_{TEST_NAME.get(kind, kind)}": kind for kind in RUNNERS}


def run_case(world: World, kind: str, point: str, k: int) -> None:
    trace, recover = RUNNERS[kind](world, point, k)
    try:
        recover()
    except BaseException as exc:
        exc.add_note(f"--- what the child did before it was killed (at {point} of mutating call #{k}) ---\n{trace}")
        raise


Outcomes = dict[tuple[str, str, int], BaseException | None]


@pytest.fixture(scope="module")
def outcomes(world: World, request: pytest.FixtureRequest) -> Outcomes:
    """Run every case of the selected tests' kinds, a few at once (the kill indices from each kind's
    measured baseline); the outcome of each: None, or how it failed."""
    kinds = {TEST_KIND[item.originalname] for item in request.session.items
             if item.module is request.module and getattr(item, "originalname", "") in TEST_KIND}
    world.measure(kinds)
    order = list(RUNNERS)
    selected = [(kind, point, k) for kind in sorted(kinds, key=order.index)
                for point, k in kill_cases(kind, world.calls[kind])]
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {case: pool.submit(run_case, world, *case) for case in selected}
    return {case: future.exception() for case, future in futures.items()}


def check(world: World, outcomes: Outcomes, kind: str) -> None:
    """Every case of ``kind`` recovered; else the first failure, noting every failed case."""
    cases = [case for case in outcomes if case[0] == kind]
    assert cases, f"no case of {kind} ran"
    failed = [case for case in cases if outcomes[case] is not None]
    print(f"{kind}: {world.calls[kind]} mutating calls, {len(cases)} cases, {len(failed)} failed")
    if failed:
        first = outcomes[failed[0]]
        assert first is not None
        first.add_note(f"{len(failed)} of {len(cases)} cases of {kind} failed: "
                       + ", ".join(f"{point} of K={k}" for _, point, k in failed))
        raise first


# --- the tests ------------------------------------------------------------------------------------------


def test_crash_during_deploy(world: World, outcomes: Outcomes) -> None:
    check(world, outcomes, "deploy")


def test_crash_during_remove(world: World, outcomes: Outcomes) -> None:
    check(world, outcomes, "remove")


def test_crash_during_update(world: World, outcomes: Outcomes) -> None:
    check(world, outcomes, "update")


def test_crash_during_replacement(world: World, outcomes: Outcomes) -> None:
    check(world, outcomes, "replacement")


def test_crash_during_example_deploy(world: World, outcomes: Outcomes) -> None:
    check(world, outcomes, "example")


def test_crash_during_full_deploy(world: World, outcomes: Outcomes) -> None:
    check(world, outcomes, "full")


def test_crash_during_full_remove(world: World, outcomes: Outcomes) -> None:
    check(world, outcomes, "full-remove")
