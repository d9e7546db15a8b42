"""The ``sstdirect`` command line: deploy, diff, remove, outputs (see API.md "Command line"), and
``state rebuild`` (an extension: rebuild a lost lockfile from AWS).

Exit codes: 0 ok, 1 AWS or deploy failure, 2 bad input or config, 3 state locked.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import runpy
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import app as app_module
from .errors import ConfigError, SstDirectError
from .overrides import Overrides, current_scope, declaring

_LOCAL_HELP = "the cloud of a running `sstdirect dev` of this app file, else a fresh embedded local AWS"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sstdirect", description="Deploy SST-style APIs to AWS with boto3.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help: str, *, app_required: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("app_file", metavar="APP.py", nargs=None if app_required else "?",
                       help="a Python file that declares an App")
        p.add_argument("--stage")
        p.add_argument("--region")
        p.add_argument("--profile")
        p.add_argument("--endpoint-url", dest="endpoint_url")
        p.add_argument("--json", action="store_true", help="machine-readable output on stdout")
        return p

    d = add("deploy", "create, update and delete resources so AWS matches the app")
    d.add_argument("--local", action="store_true",
                   help="deploy into the cloud of a running `sstdirect dev` of this app file, else into a fresh "
                        "embedded local AWS (no account needed)")
    d.add_argument("--latency", action="store_true",
                   help="with --local: apply AWS's latency model (PERF.md: round trips, IAM propagation, "
                        "API Gateway's 10 req/s quota)")
    d.add_argument("--no-refresh", dest="refresh", action="store_false", help="trust the lockfile; read nothing")
    d.add_argument("--force", action="store_true",
                   help="also delete or replace Cognito user pools that have users")
    df = add("diff", "show what deploy would do")
    df.add_argument("--no-refresh", dest="refresh", action="store_false")
    df.add_argument("--local", action="store_true", help=_LOCAL_HELP)
    r = add("remove", "delete everything the lockfile records", app_required=False)
    r.add_argument("--state", help="tear down from this lockfile alone (no APP.py)")
    r.add_argument("--force", action="store_true", help="also delete Cognito user pools that have users")
    r.add_argument("--local", action="store_true", help=_LOCAL_HELP)
    add("outputs", "print the outputs recorded in the lockfile").add_argument("--local", action="store_true",
                                                                             help=_LOCAL_HELP)
    lg = add("logs", "print the app's function and access logs from CloudWatch Logs (AWS or --local)")
    lg.add_argument("target", metavar="CONSTRUCT_OR_ROUTE", nargs="?",
                    help="a Function or API construct id, or a route key such as 'GET /notes' (default: all)")
    lg.add_argument("--follow", "-f", action="store_true", help="keep printing new events until Ctrl-C")
    lg.add_argument("--since", default="10m", help="how far back to start: 30s, 10m, 2h, 1d (default 10m)")
    lg.add_argument("--filter", dest="filter_text", metavar="TEXT", help="only events containing TEXT")
    lg.add_argument("--local", action="store_true", help=_LOCAL_HELP)
    iv = add("invoke", "run one of the app's functions through Lambda Invoke and print its response "
                       "(exit 1 on a function error)")
    iv.add_argument("target", metavar="FUNCTION_OR_ROUTE",
                    help="a Function construct id (or its address), or a route key such as 'GET /notes'")
    event = iv.add_mutually_exclusive_group()
    event.add_argument("--event", dest="event_file", metavar="FILE", help="a JSON file: the event to send")
    event.add_argument("--payload", metavar="JSON", help="the event to send, as JSON text")
    iv.add_argument("--sample", action="store_true",
                    help="print the sample event the route would get (the default event of a route) and exit")
    iv.add_argument("--local", action="store_true", help=_LOCAL_HELP + " (the app deployed into it when it is not)")
    tk = add("token", "create (or reuse) a confirmed test user of the app's Cognito pool, sign it in and print its "
                      "tokens. Without --local/--endpoint-url this creates a real user in the app's own pool on AWS")
    tk.add_argument("--user", default="test-user",
                    help="the user's name (default test-user); each call sets a new generated password")
    tk.add_argument("--pool", metavar="CONSTRUCT", help="the Cognito construct id (default: the app's only one)")
    tk.add_argument("--local", action="store_true", help=_LOCAL_HELP + " (the app deployed into it when it is not)")
    state = sub.add_parser("state", help="work on the lockfile").add_subparsers(dest="state_command", required=True)
    rb = state.add_parser("rebuild", help="rebuild a lost lockfile from what AWS holds (reads only)")
    rb.add_argument("app_file", metavar="APP.py", help="a Python file that declares an App")
    for flag in ("--stage", "--region", "--profile"):
        rb.add_argument(flag)
    rb.add_argument("--endpoint-url", dest="endpoint_url")
    rb.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    rb.add_argument("--force", action="store_true", help="replace an existing lockfile (kept as .bak)")
    dev = sub.add_parser("dev", help="deploy into an embedded local AWS and serve its HTTP APIs on 127.0.0.1")
    dev.add_argument("app_file", metavar="APP.py", help="a Python file that declares an App")
    dev.add_argument("--port", type=int, help="the first API's port (the next APIs take the next ports)")
    return parser


def _load_apps(path: str, overrides: Overrides | None = None) -> list[app_module.App]:
    """The Apps ``path`` declares when it runs (``__name__ == "__sstdirect__"``), each with ``overrides``."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{path}: no such file; pass the Python file that declares your App")
    sys.path.insert(0, str(file.resolve().parent))
    try:
        with declaring(overrides) as scope:
            runpy.run_path(str(file), run_name="__sstdirect__")
    except SstDirectError:
        raise
    except Exception as exc:  # the app file itself is broken: bad input, shown with where it broke
        import traceback

        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != runpy.__file__]
        where = f" (line {frames[-1].lineno} of {frames[-1].filename})" if frames else ""
        raise ConfigError(f"{path} raised {type(exc).__name__}: {exc}{where}") from exc
    finally:
        sys.path.remove(str(file.resolve().parent))
    apps = scope.apps
    if not apps:
        raise ConfigError(f"{path} declares no App; add e.g. app = App('notes', stage='dev')")
    return apps


def _flags(args: argparse.Namespace) -> Overrides:
    """What the flags set of an App's options (``--stage``, ``--region``, ``--profile``, ``--endpoint-url``)."""
    return Overrides(**{key: getattr(args, key, None) or None
                        for key in ("stage", "region", "profile", "endpoint_url")})


@contextlib.contextmanager
def _local_cloud(console: Console, latency: bool = False) -> Iterator[Overrides]:
    """A fresh embedded AWS whose key pair is the environment's while it runs; yields what its Apps take."""
    from .local import LocalCloud

    with LocalCloud(latency=latency or None) as cloud, tempfile.TemporaryDirectory(prefix="sstdirect-local-") as tmp:
        console.print(f"[bold]Embedded local AWS[/bold] at {cloud.endpoint_url} (no AWS account used"
                      f"{', latency model applied' if latency else ''})")
        with _cloud_keys(cloud.credentials.access_key_id, cloud.credentials.secret_access_key):
            yield Overrides(endpoint_url=cloud.endpoint_url, region=cloud.region, state_dir=tmp)


@contextlib.contextmanager
def local_target(app_file: str | None, console: Console, latency: bool = False) -> Iterator[Overrides]:
    """What ``--local`` means (API.md "Command line"): the cloud of a running ``sstdirect dev`` of ``app_file``
    when there is one (found through ``.sstdirect/dev.{STEM}.json``, see :mod:`sstdirect.local.devfile`), else
    a throwaway embedded AWS (:func:`_local_cloud`). Yields the Overrides its Apps take (endpoint, region,
    lockfile folder); the environment's key pair is the cloud's while it runs. ``latency`` always asks for a
    fresh cloud with the latency model."""
    from .local.devfile import running_dev

    dev = running_dev(app_file) if app_file and not latency else None
    if dev is None:
        with _local_cloud(console, latency) as overrides:
            yield overrides
        return
    from .local.cloud import endpoint_credentials

    creds = endpoint_credentials(dev.endpoint_url)
    console.print(f"[bold]Running sstdirect dev[/bold] (pid {dev.pid}): its embedded AWS at {dev.endpoint_url}")
    with _cloud_keys(creds.access_key_id if creds else "testing", creds.secret_access_key if creds else "testing"):
        yield Overrides(endpoint_url=dev.endpoint_url, region=dev.region, state_dir=dev.state_dir)


@contextlib.contextmanager
def _cloud_keys(access_key_id: str, secret_access_key: str) -> Iterator[None]:
    """The environment's AWS key pair is this one (and no session token) inside the block."""
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ["AWS_ACCESS_KEY_ID"] = access_key_id
    os.environ["AWS_SECRET_ACCESS_KEY"] = secret_access_key
    os.environ.pop("AWS_SESSION_TOKEN", None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def outputs_table(outputs: dict[str, dict[str, Any]]) -> Table:
    table = Table(title="Outputs")
    table.add_column("construct")
    table.add_column("output")
    table.add_column("value", overflow="fold")  # wrap, never cut: a URL must be readable whole
    for construct, values in outputs.items():
        for key, value in values.items():
            table.add_row(construct, key, ", ".join(value) if isinstance(value, list) else str(value))
    return table


def _deploy(args: argparse.Namespace, overrides: Overrides, out: Console, err: Console) -> None:
    from .progress import Progress

    local = getattr(args, "local", False)
    for app in _load_apps(args.app_file, overrides):
        if local:  # the embedded AWS only: never on real AWS
            from .local.zones import ensure_local_zones

            for zone in ensure_local_zones(app):
                err.print(f"[cyan]Created[/cyan] hosted zone {escape(zone)} in the embedded Route 53 (local mode)")
        with Progress(out if not args.json else err, f"Deploying {app.name} · {app.stage}") as progress:
            progress.show_plan = not args.json
            result = app.deploy(refresh=args.refresh, on_event=progress.on_event, on_retry=progress.on_retry,
                                on_plan=progress.on_plan, force=args.force)
        if args.json:
            print(json.dumps({"app": app.name, "stage": app.stage, "outputs": result.outputs,
                              "changes": [c.to_json() for c in result.changes],
                              "api_calls": dict(result.api_calls), "retries": dict(result.retries),
                              "duration_s": round(result.duration_s, 3)}, indent=2, default=str))
        else:
            writes = sum(v for k, v in result.api_calls.items() if _mutating(k))
            out.print(f"[green]Deployed[/green] {app.name} · {app.stage}: {len(result.changes)} change(s), "
                      f"{sum(result.api_calls.values())} AWS requests ({writes} writes), "
                      f"{result.duration_s:.1f}s")
            out.print(outputs_table(result.outputs))
            if local:
                _print_served(args.app_file, app, result.outputs, overrides, out)


def _print_served(app_file: str, app: app_module.App, outputs: dict[str, dict[str, Any]], overrides: Overrides,
                  out: Console) -> None:
    """After ``deploy --local``: the loopback URL a running ``dev`` serves each API on, next to its AWS-style
    URL (which answers nothing locally); without a running ``dev``, that nothing answers once deploy exits."""
    from .local.devfile import running_dev

    dev = running_dev(app_file)
    served = dev.served_urls(app.name, app.stage) if dev and dev.endpoint_url == overrides.endpoint_url else None
    if served is None:
        out.print("[yellow]This embedded AWS stops when deploy exits, so nothing answers the URLs above[/yellow]; "
                  f"`sstdirect dev {escape(app_file)}` deploys and serves them on 127.0.0.1 (and `deploy --local` "
                  "then deploys into it).", highlight=False)
        return
    for construct_id, url in served.items():
        aws_url = (outputs.get(construct_id) or {}).get("url")
        out.print(f"  [bold]{escape(construct_id)}[/bold]  served at {url}"
                  + (f"  (AWS-style URL {aws_url})" if aws_url else ""), highlight=False)
    if not served:
        out.print("[yellow]The running sstdirect dev serves no API of this app yet[/yellow]", highlight=False)


def _mutating(key: str) -> bool:
    from .aws import is_mutating

    return is_mutating(key)


def _diff(args: argparse.Namespace, overrides: Overrides, out: Console) -> None:
    for app in _load_apps(args.app_file, overrides):
        plan = app.diff(refresh=args.refresh)
        if args.json:
            print(plan.to_json_str())
        else:
            out.print(plan)


def _remove(args: argparse.Namespace, overrides: Overrides, out: Console, err: Console) -> None:
    from .progress import Progress

    if args.state:
        with Progress(err, f"Removing {args.state}", 0) as progress:
            result = app_module.remove_from_state(args.state, profile=args.profile, endpoint_url=args.endpoint_url,
                                                  force=args.force, on_event=progress.on_event)
        results = [("state", None, result)]
    elif args.app_file:
        results = []
        for app in _load_apps(args.app_file, overrides):
            with Progress(err, f"Removing {app.name} · {app.stage}", 0) as progress:
                results.append((app.name, app, app.remove(force=args.force, on_event=progress.on_event)))
    else:
        raise ConfigError("remove needs APP.py or --state PATH")
    for name, app, result in results:
        if args.json:
            print(json.dumps({"removed": name, "recorded": result.recorded,
                              "changes": [c.to_json() for c in result.changes],
                              "api_calls": dict(result.api_calls), "duration_s": round(result.duration_s, 3)}))
        elif not result.recorded and app is not None:  # exit 0: there is nothing to remove
            out.print(f"[yellow]Nothing recorded[/yellow] for {escape(app.name)} · {escape(app.stage)}: no lockfile "
                      f"at {escape(str(app.state_path))}, so nothing was removed. If it was deployed from "
                      f"elsewhere or its lockfile was lost, `sstdirect state rebuild {escape(args.app_file)}` "
                      f"finds what AWS holds (or pass --state PATH).", highlight=False)
        else:
            out.print(f"[red]Removed[/red] {name}: {len(result.changes)} resource(s) deleted "
                      f"in {result.duration_s:.1f}s")


def _outputs(args: argparse.Namespace, overrides: Overrides, out: Console) -> None:
    for app in _load_apps(args.app_file, overrides):
        if args.json:
            print(json.dumps(app.outputs, indent=2, default=str))
        else:
            out.print(outputs_table(app.outputs))


def _state_rebuild(args: argparse.Namespace, overrides: Overrides, out: Console) -> None:
    for app in _load_apps(args.app_file, overrides):
        result = app.rebuild_state(force=args.force)
        if args.json:
            print(json.dumps({"app": app.name, "stage": app.stage, "lockfile": str(app.state_path),
                              "found": result.found, "missing": result.missing,
                              "extra": [list(e) for e in result.extra],
                              "ignored": [list(i) for i in result.ignored]}, indent=2))
            continue
        out.print(f"[green]Rebuilt[/green] {app.state_path} for {app.name} · {app.stage}: "
                  f"{len(result.found)} resource(s) found in AWS, {len(result.missing)} not found "
                  f"(the next deploy creates them), {len(result.extra)} extra object(s) recorded for the next "
                  f"deploy to delete.")
        for address, physical_id in result.extra:
            out.print(f"  extra: {escape(address)} {escape(physical_id)}")
        for type_, address, physical_id in result.ignored:
            out.print(f"  [yellow]left alone[/yellow] (decide by hand): {type_} {escape(physical_id)} "
                      f"tagged {escape(address or '-')}")
        out.print("Run `sstdirect diff` to see what the next deploy would change.")


def _logs(args: argparse.Namespace, overrides: Overrides, out: Console) -> None:
    from . import logs_command as logs

    since_s = logs.parse_since(args.since)
    for app in _load_apps(args.app_file, overrides):
        aws = app.aws()
        groups = logs.log_groups(app, args.target, lambda aws=aws: aws.client("apigatewayv2"))
        client = aws.client("logs")
        with contextlib.suppress(KeyboardInterrupt):
            for event in logs.stream(client, groups, since_s, logs.filter_pattern(args.filter_text), args.follow):
                if args.json:
                    print(json.dumps({"group": event.group.name, "construct": event.group.label, "stream": event.stream,
                                      "timestamp": event.timestamp_ms, "message": event.message}), flush=True)
                else:
                    out.print(escape(logs.line(event)), highlight=False, soft_wrap=True)


def _deploy_if_local(app: app_module.App, args: argparse.Namespace, address: str, err: Console) -> None:
    """With ``--local``, deploy ``app`` into the local cloud first when ``address`` is not recorded there."""
    from .local.zones import ensure_local_zones
    from .progress import Progress

    if not getattr(args, "local", False) or app.recorded(address) is not None:
        return
    ensure_local_zones(app)
    with Progress(err, f"Deploying {app.name} · {app.stage} into the local cloud") as progress:
        progress.show_plan = False
        app.deploy(on_event=progress.on_event, on_retry=progress.on_retry)


def _invoke(args: argparse.Namespace, overrides: Overrides, err: Console) -> None:
    from . import invoke_command as invoke

    for app in _load_apps(args.app_file, overrides):
        target = invoke.resolve(app, args.target)  # bad input: ConfigError before any AWS call
        event = invoke.event_for(app, target, args.event_file, args.payload)
        if args.sample:
            print(json.dumps(event, indent=2))
            continue
        _deploy_if_local(app, args, target.function.function_address, err)
        result = invoke.invoke(app.aws().client("lambda"), invoke.function_name(app, target), event)
        if args.json:
            print(json.dumps(result.to_json(), indent=2, default=str))
        else:
            if result.log_tail:
                err.print(escape(result.log_tail.rstrip()), highlight=False, soft_wrap=True, style="dim")
            print(result.payload if isinstance(result.payload, str) else json.dumps(result.payload, indent=2))
        failure = result.failure(target.function.label)
        if failure is not None:
            raise failure


def _token(args: argparse.Namespace, overrides: Overrides, out: Console, err: Console) -> None:
    from . import token_command as token

    for app in _load_apps(args.app_file, overrides):
        cognito = token.pick_cognito(app, args.pool)  # bad input: ConfigError before any AWS call
        _deploy_if_local(app, args, cognito.user_pool_address, err)
        tokens = token.issue(app.aws().client("cognito-idp"), token.deployed_pool(app, cognito), args.user)
        if args.json:
            print(json.dumps(tokens.to_json(), indent=2))
            continue
        out.print(f"[green]{'Created' if tokens.created else 'Reused'}[/green] test user of {escape(tokens.pool)} "
                  "(a new password each time)", highlight=False)
        for field in ("username", "sub", "password", "id_token", "access_token", "refresh_token"):
            print(f"{field}: {getattr(tokens, field)}")  # whole, never wrapped: to copy


def _dev(args: argparse.Namespace, out: Console) -> None:
    from .local.dev import run_dev

    try:
        run_dev(args.app_file, args.port, out, _load_apps)
    except KeyboardInterrupt:
        out.print("stopped")
    except OSError as exc:
        raise ConfigError(f"sstdirect dev cannot listen: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    out = Console(stderr=bool(getattr(args, "json", False)))
    err = Console(stderr=True)
    try:
        if getattr(args, "latency", False) and not getattr(args, "local", False):
            raise ConfigError("--latency applies to the embedded AWS only: use it with --local")
        local = (local_target(getattr(args, "app_file", None), out, getattr(args, "latency", False))
                 if getattr(args, "local", False) else contextlib.nullcontext())
        with local as cloud:
            # the flags over the caller's (a program running main() in a ``declaring`` block), the cloud's over both
            scope = current_scope()
            overrides = (scope.overrides if scope is not None else Overrides()).merged(_flags(args))
            overrides = overrides if cloud is None else overrides.merged(cloud)
            if args.command == "deploy":
                _deploy(args, overrides, out, err)
            elif args.command == "diff":
                _diff(args, overrides, out)
            elif args.command == "remove":
                _remove(args, overrides, out, err)
            elif args.command == "outputs":
                _outputs(args, overrides, out)
            elif args.command == "logs":
                _logs(args, overrides, out)
            elif args.command == "invoke":
                _invoke(args, overrides, err)
            elif args.command == "token":
                _token(args, overrides, out, err)
            elif args.command == "state":
                _state_rebuild(args, overrides, out)
            elif args.command == "dev":
                _dev(args, out)
    except SstDirectError as exc:
        err.print(f"[bold red]{type(exc).__name__}:[/bold red] {escape(str(exc))}", highlight=False)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("[red]interrupted[/red]: the next deploy finishes what was started")
        return 130
    return 0


def run() -> None:
    """The ``sstdirect`` command: :func:`main`, then exit without the interpreter's teardown.

    Once ``main`` has returned, the lockfile is saved and closed and the output written; freeing the
    ~100k objects of boto3's models and the app one by one would take 0.1-0.15 s more of a no-op
    deploy's ~0.6 s. So the exit handlers run (``atexit``: logging and the user's own), the streams
    are flushed and the process ends at once -- unless another non-daemon thread is still running
    (then the normal exit waits for it, as it always has).
    """
    code = main()
    if any(not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
