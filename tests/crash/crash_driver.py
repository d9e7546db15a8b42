"""Crash driver for tests/crash/test_crash_recovery.py: run one deploy or remove, and SIGKILL this process at
the K-th mutating AWS request.

    python tests/crash/crash_driver.py '{"scenario": "small-v2", "setup": "small", "name": "u-bs-07", "stage": "dev",
                                   "root": "...", "state_dir": "...", "endpoint_url": "http://127.0.0.1:PORT",
                                   "op": "deploy", "kill_at": 7, "kill_point": "before-send"}'

``kill_point`` is a botocore event: ``before-send`` (the K-th mutating request never reaches AWS) or
``after-call`` (AWS did it; the process dies before sstdirect records it). An optional ``"setup"``
scenario is deployed first, with no kill armed (the state a crash during an update or a remove starts
from). A run that is not killed prints ``{"mutating_calls": N}`` (of the operation) on stdout and exits
0. Every mutating request of the operation is traced on stderr, so that a failing test can show what the
child did before it died.

It imports boto3 and sstdirect only (no moto): the embedded AWS runs in the test process. The app
definitions live here so that the test builds exactly the same apps in-process.
"""

from __future__ import annotations

import json
import os
import runpy
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import boto3

from sstdirect import Api, App, Cognito, WebSocketApi
from sstdirect.aws import is_mutating
from sstdirect.overrides import Overrides, declaring

KILL_POINTS = ("before-send", "after-call")

# Handlers of the small apps (written into ``root/src/h.py`` by the test).
SMALL_HANDLERS = '''\
import json


def get_a(event, context):
    return {"statusCode": 200, "body": json.dumps({"route": "a"})}


def post_b(event, context):
    return {"statusCode": 201, "body": json.dumps({"route": "b"})}


def ws(event, context):
    return {"statusCode": 200}
'''

# The hosted zone the ``full`` app's custom domains live in (made by the test, never by an app).
ZONE = "crash.example.com"


def state_path(state_dir: str | Path, name: str, stage: str) -> Path:
    """Where the lockfile of ``name`` at ``stage`` lives (the same place for the child and the test)."""
    return Path(state_dir) / f"{name}.{stage}.json"


def domain_of(name: str, stage: str) -> str:
    """The custom domain of the ``full`` app ``name`` at ``stage``."""
    return f"api-{stage}-{name}.{ZONE}"


def build_app(scenario: str, *, name: str, stage: str, root: str | Path, state_dir: str | Path,
              endpoint_url: str, session: boto3.Session) -> App:
    """The App of ``scenario``:

    - ``small``: an Api with ``GET /a`` and ``POST /b`` and the access log on;
    - ``small-v2``: the same Api after an update: ``GET /a`` became ``GET /c`` (its route, integration,
      permission and function are replaced), the access log is off, ``POST /b``'s timeout is 20 s;
    - ``auth``: an Api whose ``GET /a`` is behind a JWT authorizer ``auth`` (access log off);
    - ``auth-v2``: the same Api with ``auth`` now a Lambda authorizer: the authorizer is replaced (a new one
      is made under the same name, then the old one is deleted), the route moves to it, and the
      authorizer's function and invoke permission are new;
    - ``full``: Cognito ``Auth`` (user pool, client, identity pool and its roles); an Api with ``GET /a``
      behind a user-pool authorizer ``pool`` (the JWT authorizer of ``Auth``'s pool and client), ``POST /b``
      behind a Lambda authorizer ``fn``, and the custom domain ``api-{stage}-{name}.`` :data:`ZONE`
      (certificate, DNS validation record, domain name, API mapping, A and AAAA aliases); a WebSocketApi
      with ``$connect``, ``$disconnect``, ``$default`` and ``send`` (access log on for both APIs);
    - ``example``: ``examples/rest-api/app.py`` (a copy at ``root``), run as the CLI runs it, with
      ``stage`` replacing its stage (its app name stays ``notes``).
    """
    state = state_path(state_dir, name, stage)
    if scenario == "small":
        app = App(name, stage=stage, root=root, state=state, endpoint_url=endpoint_url, session=session)
        Api(app, "Api", routes={"GET /a": "src/h.get_a", "POST /b": "src/h.post_b"}, access_log=True)
        return app
    if scenario == "small-v2":
        app = App(name, stage=stage, root=root, state=state, endpoint_url=endpoint_url, session=session)
        Api(app, "Api", routes={
            "GET /c": "src/h.get_a",
            "POST /b": {"function": {"handler": "src/h.post_b", "timeout": 20}},
        }, access_log=False)
        return app
    if scenario in ("auth", "auth-v2"):
        app = App(name, stage=stage, root=root, state=state, endpoint_url=endpoint_url, session=session)
        authorizer = ({"type": "jwt", "jwt": {"issuer": "https://issuer.example.com", "audience": ["crash"]}}
                      if scenario == "auth" else
                      {"type": "lambda", "function": "src/h.post_b", "response_types": ["simple"]})
        Api(app, "Api", routes={"GET /a": {"function": "src/h.get_a", "authorizer": "auth"}},
            authorizers={"auth": authorizer}, access_log=False)
        return app
    if scenario == "full":
        app = App(name, stage=stage, root=root, state=state, endpoint_url=endpoint_url, session=session)
        auth = Cognito(app, "Auth", login=["email"])
        Api(app, "Api", routes={
            "GET /a": {"function": "src/h.get_a", "authorizer": "pool"},
            "POST /b": {"function": "src/h.post_b", "authorizer": "fn"},
        }, authorizers={
            "pool": {"type": "user_pool",
                     "user_pool": {"id": auth.user_pool_id, "client_ids": [auth.user_pool_client_id]}},
            "fn": {"type": "lambda", "function": "src/h.get_a", "response_types": ["simple"]},
        }, custom_domain={"domain_name": domain_of(name, stage), "hosted_zone": ZONE})
        WebSocketApi(app, "Ws", routes={"$connect": "src/h.ws", "$disconnect": "src/h.ws",
                                        "$default": "src/h.ws", "send": "src/h.ws"})
        return app
    if scenario == "example":
        if name != "notes":
            raise ValueError("the example app is named 'notes'; make cases unique by stage")
        with declaring(Overrides(stage=stage, endpoint_url=endpoint_url, session=session, state_dir=str(state_dir))):
            namespace = runpy.run_path(str(Path(root) / "app.py"), run_name="__sstdirect__")
        app = namespace["app"]
        assert isinstance(app, App) and app.stage == stage and app.state_path == state.resolve(), app
        return app
    raise ValueError(f"unknown scenario {scenario!r}")


class Killer:
    """A botocore handler: SIGKILL this process at the ``at``-th mutating request seen at its event."""

    def __init__(self, at: int, point: str):
        if point not in KILL_POINTS:
            raise ValueError(f"kill point must be one of {KILL_POINTS}, not {point!r}")
        self.at = at
        self.point = point
        self.count = 0
        self.armed = False
        self._lock = threading.Lock()

    def __call__(self, event_name: str = "", **_: Any) -> None:
        _, service, operation = event_name.split(".", 2)  # "before-send.lambda.CreateFunction"
        call = f"{service}.{operation}"
        if not self.armed or not is_mutating(call):
            return
        with self._lock:
            self.count += 1
            n = self.count
            print(f"crash_driver: #{n} {self.point} {call}", file=sys.stderr, flush=True)
            if n == self.at:
                print(f"crash_driver: SIGKILL at {self.point} of mutating call #{n} ({call})",
                      file=sys.stderr, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    session = boto3.Session(region_name="us-east-1")
    killer = Killer(int(spec.get("kill_at") or 0), spec.get("kill_point", "before-send"))
    session.events.register(killer.point, killer)
    where = {"name": spec["name"], "stage": spec["stage"], "root": spec["root"], "state_dir": spec["state_dir"],
             "endpoint_url": spec["endpoint_url"], "session": session}
    if spec.get("setup"):
        build_app(spec["setup"], **where).deploy()
    app = build_app(spec["scenario"], **where)
    killer.armed = True
    if spec["op"] == "deploy":
        result: Any = app.deploy()
    elif spec["op"] == "remove":
        result = app.remove()
    else:
        raise ValueError(f"unknown op {spec['op']!r}")
    mutating = sum(n for call, n in result.api_calls.items() if is_mutating(call))
    print(json.dumps({"mutating_calls": mutating, "counted": killer.count}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
