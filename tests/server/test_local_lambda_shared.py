"""The local gateway and the embedded Lambda's ``Invoke`` share one cloud's warm workers (``LocalCloud.workers``).

While ``cloud.serve(app)`` runs, ``Invoke`` of a served function runs in the same warm worker as its HTTP route
(the app's code folder); after the gateway closes, ``Invoke`` runs the deployed zip in a worker of its own.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from sstdirect import Api, App
from sstdirect.local import LocalCloud
from sstdirect.overrides import Overrides, declaring

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
COUNTER = '''
import os

COUNT = 0

def main(event, context):
    global COUNT
    COUNT += 1
    return {"count": COUNT, "pid": os.getpid()}
'''


def _get(url: str) -> dict[str, int]:
    with OPENER.open(url, timeout=30) as response:
        return json.loads(response.read())


def test_gateway_and_invoke_share_the_warm_worker(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "counter.py").write_text(COUNTER)
    with LocalCloud() as cloud:
        cloud.reset()
        with declaring(Overrides(endpoint_url=cloud.endpoint_url, region=cloud.region, session=cloud.session(),
                                 state_dir=str(tmp_path / "state"))):
            app = App("sharedworkers", stage="dev", root=tmp_path)
            api = Api(app, "Api", routes={"GET /counter": "src/counter.main"})
            app.deploy()
        lam = cloud.client("lambda")
        (name,) = [f["FunctionName"] for f in lam.list_functions()["Functions"]
                   if "sharedworkers" in f["FunctionName"]]

        def invoke() -> dict[str, int]:
            return json.loads(lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())

        with cloud.serve(app) as gw:
            first = _get(gw.url(api) + "/counter")
            assert cloud.workers.pools[name] is gw.workers.pools[name]
            through_invoke = invoke()
            assert through_invoke == {"count": first["count"] + 1, "pid": first["pid"]}
            assert _get(gw.url(api) + "/counter")["count"] == first["count"] + 2
        after = invoke()  # the gateway's pool is gone: the deployed zip runs, in a fresh worker
        assert after["pid"] != first["pid"] and after["count"] == 1
    assert cloud._workers is None  # stop() closed the cloud's workers
