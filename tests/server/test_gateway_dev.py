"""``sstdirect dev``: deploy into a fresh embedded AWS, serve, print the URL, reload on a code change."""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from pathlib import Path

from devrun import dev

from sstdirect.cli import _parser
from sstdirect.local.dev import changed_folders, snapshot

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def test_dev_serves_and_reloads(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "rest-api", tmp_path / "rest-api")
    with dev(tmp_path / "rest-api" / "app.py") as out:
        url = re.search(r"Api\s+(http://127\.0\.0\.1:\d+)", out.getvalue()).group(1)
        with OPENER.open(f"{url}/notes/id1", timeout=30) as r:
            assert r.status == 200 and b"Hello World!" in r.read()
        handler = tmp_path / "rest-api" / "src" / "get.py"
        handler.write_text(handler.read_text().replace("return response(200, note)",
                                                       "return response(200, {**note, 'edited': True})"))
        deadline = time.monotonic() + 60
        while "Reloaded" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        with OPENER.open(f"{url}/notes/id1", timeout=30) as r:
            assert b'"edited": true' in r.read()


def test_dev_reloads_when_a_module_the_handler_imports_from_the_app_root_changes(tmp_path: Path) -> None:
    """``src/notes/list.py`` imports ``core/db.py`` from the app's root (the layout the bundle supports):
    editing ``core/db.py`` reloads the function too (only its code folder was watched)."""
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "db.py").write_text("TABLE = 'v1'\n")
    (tmp_path / "src" / "notes").mkdir(parents=True)
    (tmp_path / "src" / "notes" / "list.py").write_text(
        "import json\nfrom core.db import TABLE\n\n\ndef main(event, context):\n"
        "    return {'statusCode': 200, 'body': json.dumps({'table': TABLE})}\n")
    (tmp_path / "app.py").write_text(
        "from sstdirect import Api, App\n\napp = App('rootimp', root=__file__.rsplit('/', 1)[0])\n"
        "Api(app, 'Api', routes={'GET /notes': 'src/notes/list.main'})\n")
    with dev(tmp_path / "app.py") as out:
        url = re.search(r"Api\s+(http://127\.0\.0\.1:\d+)", out.getvalue()).group(1)
        with OPENER.open(f"{url}/notes", timeout=30) as r:
            assert json.loads(r.read()) == {"table": "v1"}
        (tmp_path / "core" / "db.py").write_text("TABLE = 'v2'\n")
        deadline = time.monotonic() + 60
        while "Reloaded" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        with OPENER.open(f"{url}/notes", timeout=30) as r:
            assert json.loads(r.read()) == {"table": "v2"}, out.getvalue()


def test_dev_prints_the_appsync_url_and_api_key(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "appsync", tmp_path / "appsync")
    with dev(tmp_path / "appsync" / "app.py") as out:
        url = re.search(r"GraphqlApi\s+(http://127\.0\.0\.1:\d+/graphql)", out.getvalue()).group(1)
        key = re.search(r"GraphqlApi\s+x-api-key: (da2-[a-z0-9]{26})", out.getvalue()).group(1)
        query = json.dumps({"query": "{ listNotes { id } }"}).encode()
        req = urllib.request.Request(url, data=query, headers={"x-api-key": key, "content-type": "application/json"})
        with OPENER.open(req, timeout=30) as r:
            assert r.status == 200 and json.loads(r.read()) == {"data": {"listNotes": []}}


def test_dev_parser() -> None:
    args = _parser().parse_args(["dev", "app.py", "--port", "8123"])
    assert (args.command, args.app_file, args.port) == ("dev", "app.py", 8123)


def test_change_detection(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x.py").write_text("1")
    folders = {str(a), str(b)}
    before = snapshot(folders)
    (b / "new.py").write_text("2")
    assert changed_folders(before, snapshot(folders), folders) == {str(b)}


def test_dev_serves_the_websocket_example(tmp_path: Path) -> None:
    import asyncio
    import json
    import socket

    from websockets.asyncio.client import connect

    shutil.copytree(EXAMPLES / "websocket", tmp_path / "websocket")
    with socket.socket() as s:  # a free port to pin, as `sstdirect dev --port N` does
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with dev(tmp_path / "websocket" / "app.py", port=port) as out:
        assert re.search(rf"Ws\s+ws://127\.0\.0\.1:{port}/dev\b", out.getvalue()), out.getvalue()
        assert re.search(rf"Ws\s+@connections http://127\.0\.0\.1:{port}/dev\b", out.getvalue()), out.getvalue()

        async def chat() -> list[str | bytes]:
            a = await connect(f"ws://127.0.0.1:{port}/dev")
            b = await connect(f"ws://127.0.0.1:{port}/dev")
            await a.send(json.dumps({"action": "sendMessage", "data": "hi"}))
            got = [await asyncio.wait_for(a.recv(), 20), await asyncio.wait_for(b.recv(), 20)]
            await a.close()
            await b.close()
            return got

        assert asyncio.run(chat()) == ["hi", "hi"]


def test_ctrl_c_stops_dev_even_when_started_with_sigint_ignored(tmp_path: Path) -> None:
    """A background job of a non-interactive shell (CI's, a ``nohup``) inherits SIGINT ignored; Ctrl-C
    (SIGINT) must still stop ``sstdirect dev`` cleanly with exit code 0."""
    import os
    import signal
    import subprocess
    import sys

    shutil.copytree(EXAMPLES / "rest-api", tmp_path / "rest-api")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sstdirect.cli", "dev", str(tmp_path / "rest-api" / "app.py")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        env={**os.environ, "NO_COLOR": "1"}, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("Serving"):
                break
        else:
            raise AssertionError("sstdirect dev exited before serving")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
