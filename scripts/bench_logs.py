"""Log lines per second the local cloud sustains while serving, and what logging costs the requests.

``python scripts/bench_logs.py [SECONDS] [LINES]``: deploys a one-route app whose handler prints LINES (default
20) lines, serves it with ``LocalCloud.serve``, and for SECONDS (default 5) sends GETs from 4 client threads —
once with CloudWatch Logs writing off (the writer's ``put`` a no-op), once on. Prints requests/s and p50 latency
of both runs, and for the logged run the log events written per second (the function's START / lines / END /
REPORT plus the access-log line) and how long the backlog took to drain after the last request.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from sstdirect import Api, App
from sstdirect.local import LocalCloud
from sstdirect.overrides import Overrides, declaring

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CLIENTS = 4


def _load(url: str, seconds: float) -> list[float]:
    samples: list[float] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client() -> None:
        while time.monotonic() < end:
            began = time.perf_counter()
            with OPENER.open(url, timeout=30) as r:
                r.read()
            with lock:
                samples.append((time.perf_counter() - began) * 1000)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples


def _run(gw: Any, url: str, seconds: float, logged: bool) -> dict[str, float]:
    writer = gw.workers.logs
    if not logged:
        writer.put = lambda *args, **kwargs: None  # type: ignore[method-assign]
    else:
        writer.__dict__.pop("put", None)
    written = writer.events_written
    began = time.monotonic()
    samples = _load(url, seconds)
    served_s = time.monotonic() - began
    gw.flush_logs(60)
    drained_s = time.monotonic() - began - served_s
    return {"requests": len(samples), "rps": len(samples) / served_s, "p50_ms": statistics.median(samples),
            "events": writer.events_written - written, "events_per_s": (writer.events_written - written) / served_s,
            "drain_s": drained_s}


def main(seconds: float = 5.0, lines: int = 20) -> None:
    with tempfile.TemporaryDirectory() as tmp, LocalCloud() as cloud:
        root = Path(tmp)
        (root / "src").mkdir()
        (root / "src" / "chatty.py").write_text(
            f"def main(event, context):\n    for i in range({lines}):\n"
            "        print('line', i, 'of a chatty handler')\n    return {'statusCode': 200, 'body': 'ok'}\n")
        with declaring(Overrides(endpoint_url=cloud.endpoint_url, region=cloud.region, session=cloud.session(),
                                 state_dir=str(root / "state"))):
            app = App("benchlogs", stage="dev", root=root)
            api = Api(app, "Api", routes={"GET /chatty": "src/chatty.main"})
            app.deploy()
        with cloud.serve(app) as gw:
            url = gw.url(api) + "/chatty"
            _load(url, 1.0)  # warm: every client's worker started
            off = _run(gw, url, seconds, logged=False)
            on = _run(gw, url, seconds, logged=True)
    print(f"handler prints {lines} lines; {CLIENTS} clients; {seconds:g}s each run")
    print(f"logs off: {off['rps']:.0f} req/s, p50 {off['p50_ms']:.1f} ms")
    print(f"logs on : {on['rps']:.0f} req/s, p50 {on['p50_ms']:.1f} ms; {on['events']:.0f} log events written "
          f"= {on['events_per_s']:.0f} lines/s sustained while serving; backlog drained {on['drain_s']:.2f}s after")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0, int(sys.argv[2]) if len(sys.argv) > 2 else 20)
