"""Run the README's first command the way a user does and check it answers: start
``sstdirect dev APP.py`` as a subprocess, wait for the URLs it prints, make a few requests over real
sockets, then stop it with Ctrl-C (SIGINT) and expect a clean exit 0.

    python scripts/dev_smoke.py [examples/rest-api/app.py]

Prints each request with its status and the time to first URL; exits non-zero on any failure. CI runs it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
URL = re.compile(r"^\s*(\S+)\s+(https?://127\.0\.0\.1:\d+\S*)\s*$")


def request(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers={"content-type": "application/json"})
    try:
        with OPENER.open(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def main(app_file: str) -> int:
    cli = Path(sys.executable).with_name("sstdirect")
    command = [str(cli) if cli.exists() else sys.executable, *([] if cli.exists() else ["-m", "sstdirect.cli"]),
               "dev", app_file]
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
    lines: list[str] = []
    serving = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            print("  dev |", line.rstrip())
            if line.startswith("Serving"):
                serving.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not serving.wait(120) or proc.poll() is not None:
            print("FAIL: `sstdirect dev` did not start serving")
            return 1
        print(f"serving after {time.monotonic() - started:.1f} s")
        urls = {m.group(1): m.group(2) for line in lines if (m := URL.match(line))}
        if "Api" not in urls:
            print(f"FAIL: no URL for Api in the output ({urls})")
            return 1
        base = urls["Api"]
        checks = [
            ("GET", "/notes", None, 200),
            ("GET", "/notes/id1", None, 200),
            ("POST", "/notes", json.dumps({"content": "hi"}).encode(), 201),
            ("GET", "/no/such/route", None, 404),  # the $default catch-all handler's own 404
        ]
        for method, path, body, expected in checks:
            status, payload = request(method, base + path, body)
            print(f"{method} {path} -> {status} {payload[:80]!r}")
            if status != expected or (path == "/no/such/route" and b"No route for GET" not in payload):
                print(f"FAIL: expected {expected}")
                return 1
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            print("FAIL: `sstdirect dev` did not stop on Ctrl-C")
            return 1
    if code != 0:
        print(f"FAIL: exit code {code} after Ctrl-C")
        return 1
    print("ok: sstdirect dev served the example and stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "examples/rest-api/app.py"))
