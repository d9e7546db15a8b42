"""Benchmark the local gateway: a hello handler through ``LocalCloud.serve`` vs the same handler behind a
bare ``http.server``, in one run. Prints requests/s and p50/p99 latency of each.

    python scripts/bench_gateway.py [--requests 2000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HELLO = '''
def main(event, context):
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "hello"}
'''


def load(url: str, requests: int, concurrency: int) -> dict[str, float]:
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = requests // concurrency

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        mine = []
        for _ in range(per_thread):
            began = time.perf_counter()
            conn.request("GET", "/hello")
            response = conn.getresponse()
            body = response.read()
            mine.append(time.perf_counter() - began)
            assert response.status == 200 and body == b"hello", (response.status, body)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"requests": len(latencies), "rps": len(latencies) / elapsed,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000}


def bare_server(handler_file: Path) -> ThreadingHTTPServer:
    spec = importlib.util.spec_from_file_location("hello_bare", handler_file)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            result = module.main({"rawPath": self.path}, None)
            body = result["body"].encode()
            self.send_response(result["statusCode"])
            for k, v in result["headers"].items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from sstdirect import Api, App
    from sstdirect.local import LocalCloud

    with tempfile.TemporaryDirectory() as tmp, LocalCloud() as cloud:
        root = Path(tmp)
        (root / "src").mkdir()
        (root / "src" / "hello.py").write_text(HELLO)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        app = App("bench", root=root, endpoint_url=cloud.endpoint_url, session=cloud.session(), region=cloud.region)
        api = Api(app, "Api", routes={"GET /hello": "src/hello.main"}, access_log=False)
        app.deploy()
        bare = bare_server(root / "src" / "hello.py")
        try:
            with cloud.serve(app) as gw:
                load(gw.url(api), 100, args.concurrency)  # warm every worker of the pool
                results = {"gateway": load(gw.url(api), args.requests, args.concurrency)}
            load(f"http://127.0.0.1:{bare.server_address[1]}", 100, args.concurrency)
            results["bare http.server"] = load(f"http://127.0.0.1:{bare.server_address[1]}", args.requests,
                                               args.concurrency)
        finally:
            bare.shutdown()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{args.requests} GET /hello, {args.concurrency} keep-alive clients")
    print(f"{'':<18}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, r in results.items():
        print(f"{name:<18}{r['rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}")


if __name__ == "__main__":
    main()
