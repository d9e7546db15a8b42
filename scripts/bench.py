#!/usr/bin/env python3
"""Deploy benchmark on the embedded AWS with PERF.md's latency model (issue 7).

For each N (routes, one function per route) it generates an app in a temp folder and measures, in
order: a cold deploy, a no-op redeploy, one function's code changed, one route's config changed
(its timeout), one route added, and remove. Each scenario runs through the Python API
(``App.deploy``/``App.remove`` in this process) and through the CLI as a user runs it (a whole
``sstdirect deploy app.py --endpoint-url URL`` process), both against one ``LocalCloud`` with the
model that this script starts in its own process. It reports the median wall time over ``--runs``,
AWS requests from the server's request log (mutating vs read, by operation, 429s, propagation
faults) and from sstdirect's own counters (retries), the critical-path bound of the scenario on the
model (see ``bound()``), and measured/bound. ``--sweep`` adds cold deploys at P = 0, 6, 12 s (N=20).

    .venv/bin/python scripts/bench.py                 # N = 10, 20, 50; 3 runs; API and CLI
    .venv/bin/python scripts/bench.py --full --sweep  # adds N = 100, 300 (--runs-large runs) and the P sweep
    .venv/bin/python scripts/bench.py --quick --out /tmp/bench-quick   # CI: N = 10, 1 run, API, P = 0

Writes ``OUT/report.json`` and ``OUT/report.md`` (default ``bench/``).
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sstdirect.local import LatencyModel, LocalCloud  # noqa: E402
from sstdirect.local.latency import summarize  # noqa: E402

SCENARIOS = ("cold", "noop", "code", "config", "add", "remove")
HANDLER = "def main(event, context):\n    return {{'statusCode': 200, 'body': 'r{i} v{v}'}}\n"
CLI = str(Path(sys.executable).with_name("sstdirect"))


# --- the generated app ---------------------------------------------------------------------------


class Workload:
    """An app of N routes in a folder, written both as files (for the CLI) and as objects (API)."""

    def __init__(self, root: Path, n: int) -> None:
        self.root = root
        self.n = n
        self.routes = [f"r{i}" for i in range(n)]
        self.timeouts: dict[str, int] = {}
        self.versions: Counter[str] = Counter()
        (root / "src").mkdir(parents=True, exist_ok=True)
        for name in self.routes:
            self._write_handler(name)
        self.write_app_file()

    def _write_handler(self, name: str) -> None:
        i = name[1:]
        (self.root / "src" / f"{name}.py").write_text(HANDLER.format(i=i, v=self.versions[name]))

    def _route_value(self, name: str) -> Any:
        handler = f"src/{name}.main"
        return {"handler": handler, "timeout": self.timeouts[name]} if name in self.timeouts else handler

    def routes_dict(self) -> dict[str, Any]:
        return {f"GET /{name}": self._route_value(name) for name in self.routes}

    def write_app_file(self) -> None:
        lines = ["from pathlib import Path", "", "from sstdirect import Api, App", "",
                 "app = App('bench', stage='b', root=Path(__file__).parent)",
                 f"Api(app, 'Api', routes={self.routes_dict()!r})", ""]
        (self.root / "app.py").write_text("\n".join(lines))

    def app(self, cloud: LocalCloud) -> Any:
        from sstdirect import Api, App

        app = App("bench", stage="b", root=self.root, endpoint_url=cloud.endpoint_url, session=cloud.session())
        Api(app, "Api", routes=self.routes_dict())
        return app

    # the edits of the scenarios
    def change_code(self) -> None:
        self.versions["r0"] += 1
        self._write_handler("r0")

    def change_config(self) -> None:
        self.timeouts["r1" if self.n > 1 else "r0"] = 20
        self.write_app_file()

    def add_route(self) -> None:
        name = f"r{self.n}"
        self.routes.append(name)
        self._write_handler(name)
        self.write_app_file()


# --- the bound ------------------------------------------------------------------------------------


def bucket_s(model: LatencyModel, tokens: int) -> float:
    """Time for ``tokens`` API Gateway calls through the token bucket, after a full burst."""
    if not model.throttles or model.apigateway_burst is None or tokens <= model.apigateway_burst:
        return 0.0
    return (tokens - model.apigateway_burst) / model.apigateway_rate


def bucket_refill_s(model: LatencyModel) -> float:
    """Time for an empty API Gateway bucket to fill up again."""
    if not model.throttles or model.apigateway_burst is None:
        return 0.0
    return model.apigateway_burst / model.apigateway_rate


def bound(scenario: str, n: int, model: LatencyModel, new_role: bool) -> tuple[float, str]:
    """The critical path of the scenario's minimal plan on ``model`` (unlimited concurrency).

    cold:   max(CreateRole + P + CreateFunction + AddPermission, CreateApi + ReimportApi + CreateStage)
                -- the routes and integrations in O(1) API Gateway calls (an OpenAPI import, as sstdirect
                does for a new API), overlapped with the IAM wait: PERF.md's import plan, 6.64 s at any N.
    noop:   one round of concurrent reads.
    code:   a read + UpdateFunctionCode.
    config: a read + UpdateFunctionConfiguration.
    add:    a read + [CreateRole + P, if the plan creates a role] + CreateFunction + AddPermission
            (its integration and route fit in the bucket).
    remove: delete/detach the role's policies, then DeleteRole; DeleteFunction, DeleteApi (which
            takes routes, integrations and stages with it) and the log group in parallel.
    """
    r, w, p = model.read_s, model.write_s, model.propagation_s
    cf = model.latency("lambda", "CreateFunction", "POST")
    if scenario == "cold":
        chain = w + p + cf + w
        gateway = 3 * w
        return max(chain, gateway), "IAM chain" if chain >= gateway else "API Gateway calls"
    if scenario == "noop":
        return r, "one read round"
    if scenario == "code":
        return r + model.latency("lambda", "UpdateFunctionCode", "PUT"), "read + UpdateFunctionCode"
    if scenario == "config":
        return r + model.latency("lambda", "UpdateFunctionConfiguration", "PUT"), "read + UpdateFunctionConfiguration"
    if scenario == "add":
        chain = r + (w + p if new_role else 0.0) + cf + w
        return chain, "read + " + ("CreateRole + P + " if new_role else "") + "CreateFunction + AddPermission"
    if scenario == "remove":
        return 2 * w, "role policies, then DeleteRole"
    raise ValueError(scenario)


# --- running one scenario -------------------------------------------------------------------------


def _cli_env(cloud: LocalCloud) -> dict[str, str]:
    # An installed package has its bytecode: let the CLI write it (see main's compileall) like a user's install.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"AWS_ACCESS_KEY_ID": cloud.credentials.access_key_id,
                "AWS_SECRET_ACCESS_KEY": cloud.credentials.secret_access_key,
                "AWS_DEFAULT_REGION": cloud.region, "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "NO_PROXY": "127.0.0.1,localhost",
                "COLUMNS": "200"})
    return env


def run_child(command: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str, float | None]:
    """Run ``command`` to completion: exit code, stdout, stderr and its peak RSS in MB.

    The RSS comes from GNU ``time -f %M`` (the rusage of a child of the small ``time`` process): a
    process forked from this one would inherit this process's (the embedded AWS's) high-water mark
    in its own ``ru_maxrss``, which Linux keeps across exec. Without ``/usr/bin/time``: None."""
    timer = shutil.which("time", path="/usr/bin:/bin")
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = Path(tmp) / "rss"
        full = [timer, "-f", "%M", "-o", str(rss_file), *command] if timer else command
        proc = subprocess.run(full, capture_output=True, text=True, env=env, cwd=cwd, timeout=900)
        try:
            rss_mb: float | None = round(int(rss_file.read_text().split()[-1]) / 1024, 1)
        except (OSError, ValueError, IndexError):
            rss_mb = None
    return proc.returncode, proc.stdout, proc.stderr, rss_mb


def run_scenario(cloud: LocalCloud, work: Workload, scenario: str, mode: str) -> dict[str, Any]:
    since = cloud.log_time()
    rss_mb: float | None = None
    began = time.perf_counter()
    api_calls: Counter[str] = Counter()
    retries: Counter[str] = Counter()
    if mode == "api":
        app = work.app(cloud)
        result = app.remove() if scenario == "remove" else app.deploy()
        wall = time.perf_counter() - began
        api_calls, retries = Counter(result.api_calls), Counter(result.retries)
    else:
        command = [CLI, "remove" if scenario == "remove" else "deploy", str(work.root / "app.py"),
                   "--endpoint-url", cloud.endpoint_url, "--json"]
        code, stdout, stderr, rss_mb = run_child(command, _cli_env(cloud), work.root)
        wall = time.perf_counter() - began
        if code != 0:
            raise RuntimeError(f"{' '.join(command)} exited {code}:\n{stderr[-3000:]}")
        payload = json.loads(stdout)
        api_calls = Counter(payload.get("api_calls", {}))
        retries = Counter(payload.get("retries", {}))
    time.sleep(0.05)  # let the server finish logging the last response
    log = [rec for rec in cloud.request_log if rec.t >= since]
    summary = summarize(log)
    return {"wall_s": wall, "server": summary, "client_requests": sum(api_calls.values()),
            "peak_rss_mb": rss_mb if mode == "cli" else None,
            "retries": sum(retries.values()), "retries_by_operation": dict(sorted(retries.items())),
            "new_role": summary["by_operation"].get("iam.CreateRole", 0) > 0}


def measure(cloud: LocalCloud, n: int, modes: list[str], runs: int, scenarios: tuple[str, ...],
            tmp: Path) -> list[dict[str, Any]]:
    assert cloud.latency is not None
    rows = []
    for mode in modes:
        per: dict[str, list[dict[str, Any]]] = {s: [] for s in scenarios}
        for run in range(runs):
            cloud.reset()
            work = Workload(tmp / f"{mode}-n{n}-run{run}", n)
            for scenario in scenarios:
                if scenario == "cold":  # every cold deploy starts with API Gateway's bucket full again
                    time.sleep(bucket_refill_s(cloud.latency))
                if scenario == "code":
                    work.change_code()
                elif scenario == "config":
                    work.change_config()
                elif scenario == "add":
                    work.add_route()
                per[scenario].append(run_scenario(cloud, work, scenario, mode))
                print(f"  N={n} {mode} run {run + 1}/{runs} {scenario}: {per[scenario][-1]['wall_s']:.2f} s",
                      file=sys.stderr, flush=True)
            shutil.rmtree(work.root, ignore_errors=True)
        for scenario, samples in per.items():
            rows.append(_row(cloud.latency, n, mode, scenario, samples))
    return rows


def plan_bound(model: LatencyModel, minimal: float, by_operation: dict[str, int], throttled: int) -> float:
    """The minimal bound, or the bucket time of the API Gateway requests the plan actually made
    (429s excluded) plus one write, whichever is longer: what this plan cannot beat."""
    tokens = sum(v for k, v in by_operation.items() if k.startswith("apigateway")) - throttled
    waited = bucket_s(model, tokens)
    return max(minimal, waited + model.write_s) if waited > 0 else minimal


def _row(model: LatencyModel, n: int, mode: str, scenario: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    wall = statistics.median(s["wall_s"] for s in samples)
    last = samples[-1]
    b, which = bound(scenario, n, model, last["new_role"])
    server = last["server"]
    pb = plan_bound(model, b, server["by_operation"], server["throttled_429"])
    return {
        "n": n, "mode": mode, "scenario": scenario, "propagation_s": model.propagation_s,
        "wall_s_median": round(wall, 3), "wall_s_runs": [round(s["wall_s"], 3) for s in samples],
        "bound_s": round(b, 3), "bound_is": which, "ratio": round(wall / b, 2) if b > 0 else None,
        "plan_bound_s": round(pb, 3),
        "requests": server["total"], "mutating": server["mutating"], "reads": server["reads"],
        "throttled_429": server["throttled_429"], "propagation_faults": server["propagation_faults"],
        "retries": last["retries"], "client_requests": last["client_requests"],
        "requests_runs": [s["server"]["total"] for s in samples],
        "peak_rss_mb": max((s["peak_rss_mb"] for s in samples if s.get("peak_rss_mb")), default=None),
        "by_operation": server["by_operation"], "retries_by_operation": last["retries_by_operation"],
    }


# --- report ---------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import boto3
    import moto

    def import_s(module: str) -> float:
        """Median of 5 fresh interpreters' import time of ``module`` (bytecode compiled, as installed)."""
        code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        return round(statistics.median(
            float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 env=env).stdout.strip()) for _ in range(5)), 3)

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "boto3": boto3.__version__,
            "moto": moto.__version__, "import_sstdirect_s": import_s("sstdirect"),
            "import_sstdirect_cli_s": import_s("sstdirect.cli"),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    model = report["model"]
    out = [
        "# sstdirect deploy benchmark",
        "",
        f"Machine: {m['cpus']} CPUs, Python {m['python']}, {m['platform']}; boto3 {m['boto3']}, moto {m['moto']}; "
        f"{m['date_utc']}; load average at start {m.get('load_avg_at_start')} (the machine is shared). "
        f"`import sstdirect`: {m['import_sstdirect_s']} s; `import sstdirect.cli` (boto3 included): "
        f"{m.get('import_sstdirect_cli_s')} s.",
        f"Command: `{report['command']}`",
        "",
        f"Model: read {model['read_s']} s, write {model['write_s']} s, {model['operation_s']}, "
        f"IAM propagation P = {model['propagation_s']} s, API Gateway bucket {model['apigateway_rate']}/s "
        f"burst {model['apigateway_burst']}. Wall time is the median of {report['runs']} run(s); requests, "
        "429s and faults are from the server's request log of the last run; retries from sstdirect's "
        "counters. `cli` = a whole `sstdirect deploy app.py --endpoint-url URL` process; `api` = "
        "`App.deploy()` in the benchmark's process (which also runs the server).",
        "",
        "`bound` is the minimal plan's critical path on the model; `plan bound` also counts the API Gateway "
        "requests sstdirect's plan actually made through the 10/s bucket (see below).",
        "",
        "| N | mode | scenario | wall s | bound s | ratio | plan bound s | requests (writes/reads) | 429s "
        "| IAM faults | retries |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        out.append(f"| {row['n']} | {row['mode']} | {row['scenario']} | {row['wall_s_median']:.2f} | "
                   f"{row['bound_s']:.2f} | {row['ratio']} | {row['plan_bound_s']:.2f} | "
                   f"{row['requests']} ({row['mutating']}/{row['reads']}) | "
                   f"{row['throttled_429']} | {row['propagation_faults']} | {row['retries']} |")
    if report.get("sweep"):
        out += ["", "## Cold deploy vs IAM propagation P", "",
                "| N | mode | P s | wall s | bound s | ratio | requests | 429s | IAM faults | retries |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for row in report["sweep"]:
            out.append(f"| {row['n']} | {row['mode']} | {row['propagation_s']:g} | {row['wall_s_median']:.2f} | "
                       f"{row['bound_s']:.2f} | {row['ratio']} | {row['requests']} | {row['throttled_429']} | "
                       f"{row['propagation_faults']} | {row['retries']} |")
    out += ["", "## How each bound is computed", "", "```", (bound.__doc__ or "").strip(), "```", ""]
    rss = [r for r in report["rows"] if r["mode"] == "cli" and r.get("peak_rss_mb")]
    if rss:
        out += ["## Peak RSS of the CLI process (GNU `time -f %M` of each `sstdirect` run, max over runs)", "",
                "| N | " + " | ".join(SCENARIOS) + " |", "|---|" + "---|" * len(SCENARIOS)]
        for n in sorted({r["n"] for r in rss}):
            by = {r["scenario"]: r["peak_rss_mb"] for r in rss if r["n"] == n}
            out.append(f"| {n} | " + " | ".join(f"{by.get(sc, '')} MB" if by.get(sc) else "" for sc in SCENARIOS)
                       + " |")
        out.append("")
    out += ["## Requests by operation (last run of the largest N)", ""]
    biggest = max((r["n"] for r in report["rows"]), default=0)
    for row in report["rows"]:
        if row["n"] == biggest and row["mode"] == report["modes"][-1]:
            ops = ", ".join(f"{k} {v}" for k, v in row["by_operation"].items())
            retried = ", ".join(f"{k} {v}" for k, v in row["retries_by_operation"].items()) or "none"
            out.append(f"- **{row['scenario']}** ({row['mode']}): {ops}. Retries: {retried}.")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI: N=10, one run, Python API only, P=0")
    parser.add_argument("--full", action="store_true", help="add N = 100 and 300")
    parser.add_argument("--sweep", action="store_true", help="cold deploys at P = 0, 6, 12 s (N=20)")
    parser.add_argument("--n", help="comma-separated route counts (default 10,20,50)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--runs-large", type=int, default=1, help="runs for N >= 100 (default 1)")
    parser.add_argument("--modes", default="api,cli", help="api, cli or both")
    parser.add_argument("--propagation", type=float, help="IAM propagation P in seconds (default 6; 0 in --quick)")
    parser.add_argument("--out", default=str(ROOT / "bench"))
    args = parser.parse_args(argv)

    ns = [int(x) for x in args.n.split(",")] if args.n else [10, 20, 50]
    if args.full and not args.n:
        ns += [100, 300]
    runs, modes = args.runs, [m for m in args.modes.split(",") if m]
    propagation = args.propagation
    if args.quick:
        ns, runs, modes = ([int(x) for x in args.n.split(",")] if args.n else [10]), 1, ["api"]
        propagation = 0.0 if propagation is None else propagation
    model = LatencyModel.default()
    if propagation is not None:
        model = replace(model, propagation_s=propagation)

    started = time.perf_counter()
    compileall.compile_dir(str(ROOT / "sstdirect"), quiet=1)  # the CLI runs from bytecode, as installed
    report: dict[str, Any] = {
        "command": "python scripts/bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(), "runs": runs, "modes": modes,
        "model": {"read_s": model.read_s, "write_s": model.write_s, "operation_s": dict(model.operation_s),
                  "propagation_s": model.propagation_s, "apigateway_rate": model.apigateway_rate,
                  "apigateway_burst": model.apigateway_burst},
        "rows": [], "sweep": [],
    }
    with tempfile.TemporaryDirectory(prefix="sstdirect-bench-") as tmp:
        with LocalCloud(latency=model) as cloud:
            for n in ns:
                report["rows"] += measure(cloud, n, modes, runs if n < 100 else min(runs, args.runs_large),
                                          SCENARIOS, Path(tmp))
        if args.sweep and not args.quick:
            for p in (0.0, 6.0, 12.0):
                with LocalCloud(latency=replace(model, propagation_s=p)) as cloud:
                    report["sweep"] += measure(cloud, 20, modes, runs, ("cold",), Path(tmp))
    report["cli_peak_rss_mb"] = max((r["peak_rss_mb"] for r in report["rows"] if r.get("peak_rss_mb")),
                                    default=None)
    report["bench_s"] = round(time.perf_counter() - started, 1)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report))
    print(markdown(report))
    print(f"wrote {out / 'report.json'} and {out / 'report.md'} in {report['bench_s']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
