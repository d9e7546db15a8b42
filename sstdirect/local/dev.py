"""``sstdirect dev APP.py``: deploy the app into a fresh embedded AWS, serve every HTTP, WebSocket and
AppSync API, print the URLs (with each WebSocket API's ``@connections`` endpoint and the AppSync API keys),
recycle a function's warm workers when files in its code folder change, and serve until Ctrl-C.

While serving it prints one line per request (:func:`request_line`: method, path, status, latency, function)
and each line a handler writes, prefixed with its function's name (:func:`handler_line`); both also go to
CloudWatch Logs of the embedded AWS (``sstdirect logs APP.py --endpoint-url ...`` reads them).

While it serves, ``.sstdirect/dev.{STEM}.json`` beside the app file (:mod:`.devfile`) tells other commands'
``--local`` to use its cloud; it is removed on exit. A custom domain's missing hosted zone is created in the
embedded Route 53 (:mod:`.zones`) before the deploy."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..overrides import Overrides
from .devfile import new_target, remove_dev_file, write_dev_file
from .gateway.access_log import RequestLine
from .gateway.contract import APPSYNC, HTTP, WEBSOCKET, served

_WATCH_SUFFIXES = (".py", ".json", ".txt", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".graphql")


def snapshot(folders: set[str]) -> dict[str, float]:
    """``{file: mtime}`` of the watched files under ``folders`` (hidden folders and caches skipped)."""
    out: dict[str, float] = {}
    for folder in folders:
        for path in _files(Path(folder)):
            try:
                out[str(path)] = path.stat().st_mtime
            except OSError:
                continue
    return out


def _files(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules")
                   and not os.path.exists(os.path.join(root, d, "pyvenv.cfg"))]
        for name in files:
            if name.endswith(_WATCH_SUFFIXES):
                yield Path(root) / name


def changed_folders(before: dict[str, float], after: dict[str, float], folders: set[str]) -> set[str]:
    """The watched folders holding a file that was added, removed or modified."""
    files = {f for f in before.keys() | after.keys() if before.get(f) != after.get(f)}
    return {d for d in folders if any(f == d or f.startswith(d.rstrip(os.sep) + os.sep) for f in files)}


def request_line(line: RequestLine) -> str:
    """``GET /notes 200 12 ms → notes-dev-list`` (rich markup, values escaped)."""
    from rich.markup import escape

    colour = "green" if line.status < 400 else "yellow" if line.status < 500 else "red"
    target = f" → {escape(line.function)}" if line.function else ""
    return (f"[bold]{escape(line.method)}[/bold] {escape(line.path)} [{colour}]{line.status}[/{colour}] "
            f"{line.latency_ms} ms{target}")


def handler_line(function: str, text: str) -> str:
    """``[notes-dev-list] what the handler printed`` (rich markup, values escaped)."""
    from rich.markup import escape

    return f"[dim]\\[{escape(function)}][/dim] {escape(text)}"


def run_dev(app_file: str, port: int | None, console: Any, load_apps: Callable[[str, Overrides], list[Any]],
            poll_s: float = 1.0, stop: Callable[[], bool] = lambda: False,
            overrides: Overrides | None = None) -> None:
    """Serve until Ctrl-C (``KeyboardInterrupt`` propagates after everything is stopped) or ``stop()``.

    ``load_apps(app_file, overrides)`` runs the app file: its Apps take ``overrides`` with the embedded AWS's
    endpoint, region and a throwaway lockfile folder on top.
    """
    from .cloud import LocalCloud
    from .zones import ensure_local_zones

    if threading.current_thread() is threading.main_thread():
        # Ctrl-C must stop it even when it was started with SIGINT ignored (a background job of a
        # non-interactive shell inherits SIG_IGN, and Python then installs no handler); `kill PID` too.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    saved_env = {k: os.environ.get(k) for k in keys}
    with LocalCloud() as cloud, tempfile.TemporaryDirectory(prefix="sstdirect-dev-") as tmp:
        cloud.reset()  # a fresh embedded AWS (moto's state is process-wide; a CLI process starts empty anyway)
        console.print(f"[bold]Embedded local AWS[/bold] at {cloud.endpoint_url} (no AWS account used)")
        os.environ["AWS_ACCESS_KEY_ID"] = cloud.credentials.access_key_id
        os.environ["AWS_SECRET_ACCESS_KEY"] = cloud.credentials.secret_access_key
        os.environ.pop("AWS_SESSION_TOKEN", None)
        local = (overrides or Overrides()).merged(
            Overrides(endpoint_url=cloud.endpoint_url, region=cloud.region, state_dir=tmp))
        gateways = []
        cloud.workers.echo = lambda function, text: console.print(handler_line(function, text), highlight=False)
        try:
            next_port = port
            served_apps: list[dict[str, Any]] = []
            for app in load_apps(app_file, local):
                for zone in ensure_local_zones(app):
                    console.print(f"[cyan]Created[/cyan] hosted zone {zone} in the embedded Route 53 (local mode)")
                result = app.deploy()
                console.print(f"[green]Deployed[/green] {app.name} · {app.stage}: {len(result.changes)} resource(s)")
                gw = cloud.serve(app, ports=_ports(gw_apis(app), next_port))
                gw.request_listeners.append(lambda line: console.print(request_line(line), highlight=False))
                gateways.append(gw)
                served_apps.append({"name": app.name, "stage": app.stage, "urls": dict(gw.urls)})
                for construct_id, url in gw.urls.items():
                    console.print(f"  [bold]{construct_id}[/bold]  {url}")
                for ws in served(app, WEBSOCKET):
                    console.print(f"  [bold]{ws.construct_id}[/bold]  @connections {gw.management_endpoint(ws)}")
                for appsync in gw.appsync:
                    for key in gw.api_keys(appsync.construct):
                        console.print(f"  [bold]{appsync.construct.construct_id}[/bold]  x-api-key: {key}")
                if next_port:
                    next_port += len(gw.urls)
            if not any(gw.urls for gw in gateways):
                console.print("[yellow]No HTTP, WebSocket or AppSync API to serve[/yellow]")
            folders = {folder for gw in gateways for p in gw.workers.pools.values() for folder in p.spec.watched()}
            seen = snapshot(folders)
            announced = write_dev_file(app_file, new_target(cloud.endpoint_url, cloud.region, tmp, served_apps))
            console.print(f"Other terminals: `sstdirect deploy|diff|outputs|remove|logs --local {app_file}` use this "
                          f"cloud (found through {announced})", highlight=False)
            console.print("Serving; edit a handler and its workers reload. Ctrl-C to stop.")
            while not stop():
                time.sleep(poll_s)
                now = snapshot(folders)
                changed = changed_folders(seen, now, folders)
                seen = now
                if changed:
                    names = [n for gw in gateways for n in gw.reload(changed)]
                    console.print(f"[cyan]Reloaded[/cyan] {len(names)} function(s): {', '.join(sorted(names))}")
        finally:
            remove_dev_file(app_file)
            for gw in gateways:
                gw.close()
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def gw_apis(app: Any) -> list[Any]:
    """The constructs the gateway gives a port, in port order: HTTP APIs, WebSocket APIs, AppSync APIs."""
    return [c for kind in (HTTP, WEBSOCKET, APPSYNC) for c in served(app, kind)]


def _ports(apis: list[Any], first: int | None) -> dict[Any, int] | None:
    if not first:
        return None
    return {api: first + i for i, api in enumerate(apis)}
