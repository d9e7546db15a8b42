"""Warm worker processes that run Lambda handlers, one small pool per function.

Each worker is a ``subprocess`` of the current interpreter running :mod:`._worker` over a pipe,
with the function's code folder first on ``sys.path`` and the function's environment (its deployed
variables, ``AWS_LAMBDA_FUNCTION_NAME`` and friends, and ``AWS_ENDPOINT_URL`` plus credentials of
the embedded AWS, so boto3 in a handler reaches it unchanged). A worker serves one invocation at a
time and is kept warm between them (module state persists). A pool grows to ``max_workers``
workers, so a function runs a few requests at once and functions never block one another.

The function's timeout is enforced: the worker is killed and the invocation is an error (→ 500).
If the integration timeout is shorter than the function's, it fires first (→ 503). A handler that
raises is an error with the worker kept warm; a worker that dies is an error and is replaced on
the next request. Nothing here can take the server down.

Logs where Lambda puts them: every invocation that ran writes its log (Lambda's ``START`` / ``END`` / ``REPORT``
lines around what the handler printed, as :func:`log_of` builds it, the same as ``Invoke``'s ``LogType=Tail``) to
``/aws/lambda/{name}`` of the embedded AWS, in the stream of the worker that ran it (named as Lambda names an
execution environment's), through :attr:`Workers.logs` (:mod:`.logwriter`: batched, off the request path).
With :attr:`Workers.echo` set (``sstdirect dev``), a worker's stderr (the handler's prints and tracebacks) goes
to ``echo(function_name, line)`` instead of the gateway's own stderr.

What an invocation gave is an :class:`Invocation`: the gateway reads it as an ``Outcome``; the embedded
Lambda's ``Invoke`` (:mod:`sstdirect.local.ext.lambda_invoke`) also reads its request id, log, stack trace,
duration and whether the function's timeout ended it. The gateway and ``Invoke`` share one
:class:`Workers` per cloud (``LocalCloud.workers``), so both run a function in the same warm workers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .deployed import Outcome
from .events import new_request_id
from .logwriter import LogWriter, embedded_logs_client, lambda_stream_name

_log = logging.getLogger("sstdirect.local.gateway")
WORKER_SCRIPT = str(Path(__file__).with_name("_worker.py"))
MAX_WORKERS = 4
# What a worker inherits from the gateway's environment; everything else is the function's own.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "VIRTUAL_ENV", "TZ")


@dataclass(frozen=True)
class FunctionSpec:
    """A deployed function as a worker runs it."""

    name: str
    code_dir: str
    handler: str  # Lambda's Handler field: "module.function", relative to code_dir
    timeout_s: float = 3.0
    memory_mb: int = 128
    arn: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    # More sys.path roots after code_dir: the app's root, from which the bundle takes the modules the
    # handler imports at their path under it (``core/db.py``), so ``import core.db`` resolves as on Lambda.
    path: tuple[str, ...] = ()

    def watched(self) -> set[str]:
        """The folders whose files the workers run (real paths): the code folder and the roots the bundle
        takes imported modules from (the app's root, for ``core/db.py`` imported by ``src/notes/list.py``)."""
        return {os.path.realpath(folder) for folder in (self.code_dir, *self.path)}


def worker_environment(spec: FunctionSpec, region: str, endpoint_url: str, access_key: str,
                       secret_key: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
    env.update(spec.environment)
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "LAMBDA_TASK_ROOT": spec.code_dir,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        # the user's ~/.aws must not win over the embedded AWS, and loopback needs no proxy
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


@dataclass
class Invocation(Outcome):
    """An :class:`Outcome` with what Lambda reports of the run: its ``request_id``, ``log`` (what the
    handler printed, its traceback), the runtime's ``stack_trace`` of a raised error, ``duration_s``,
    ``max_rss_mb`` (the worker's peak memory) and whether the function's own timeout ended it
    (``timed_out``) or its worker died (``died``)."""

    request_id: str = ""
    log: str = ""
    stack_trace: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    max_rss_mb: int = 0
    timed_out: bool = False
    died: bool = False
    log_stream: str = ""  # the CloudWatch Logs stream of the worker that ran it
    started_at: float = 0.0  # epoch seconds when the worker got it


Echo = Callable[[str, str], None]  # (function name, one line the worker wrote to stderr)


# --- an invocation's log, as Lambda writes it (Invoke's LogType=Tail and CloudWatch Logs show the same) ---------


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def _report(spec: FunctionSpec, ran: Invocation) -> str:
    ms = ran.duration_s * 1000
    return (f"REPORT RequestId: {ran.request_id}\tDuration: {ms:.2f} ms\tBilled Duration: {max(1, math.ceil(ms))} ms"
            f"\tMemory Size: {spec.memory_mb} MB\tMax Memory Used: {ran.max_rss_mb} MB\t\n")


def log_of(spec: FunctionSpec, ran: Invocation, timeout_line: str = "") -> str:
    """The invocation's log as Lambda writes it: ``START``, what the handler printed, ``END``, ``REPORT``."""
    body = ran.log if not ran.log or ran.log.endswith("\n") else ran.log + "\n"
    return (f"START RequestId: {ran.request_id} Version: $LATEST\n{body}END RequestId: {ran.request_id}\n"
            f"{_report(spec, ran)}{timeout_line}")


def error_payload(ran: Invocation, spec: FunctionSpec) -> tuple[dict[str, Any], str]:
    """The function error's payload (as Lambda returns it) and the line its log ends with (if any)."""
    if ran.timed_out:
        line = f"{_timestamp()} {ran.request_id} Task timed out after {ran.duration_s:.2f} seconds"
        return {"errorMessage": line}, line + "\n"
    if ran.died or not ran.error_type:
        message = f"RequestId: {ran.request_id} Error: Runtime exited with error: {ran.error or 'exit'}"
        return {"errorType": "Runtime.ExitError", "errorMessage": message}, ""
    return {"errorMessage": ran.error_message, "errorType": ran.error_type, "requestId": ran.request_id,
            "stackTrace": ran.stack_trace}, ""


class Worker:
    """One warm process. Not thread-safe: a pool hands it to one invocation at a time."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], generation: int, echo: Echo | None = None):
        self.spec = spec
        self.generation = generation
        self.stream = lambda_stream_name()
        self.proc = subprocess.Popen(
            [sys.executable, "-u", WORKER_SCRIPT, spec.code_dir, spec.handler, spec.name, str(spec.memory_mb),
             spec.arn, *spec.path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=spec.code_dir,
            stderr=subprocess.PIPE if echo is not None else None,
        )
        self._buffer = b""
        if echo is not None:
            threading.Thread(target=self._echo, args=(echo,), daemon=True, name=f"sstdirect-echo-{spec.name}").start()

    def _echo(self, echo: Echo) -> None:
        """Hand every line of the worker's stderr to ``echo`` until the worker ends."""
        assert self.proc.stderr is not None
        with contextlib.suppress(Exception):
            for line in self.proc.stderr:
                echo(self.spec.name, line.decode(errors="replace").rstrip("\r\n"))

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def call(self, event: dict[str, Any], request_id: str, timeout_s: float) -> dict[str, Any] | str:
        """Send one invocation: the reply, or ``"timeout"`` if ``timeout_s`` passed, or ``"died"``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        message = json.dumps({"event": event, "request_id": request_id, "remaining_ms": int(timeout_s * 1000)})
        try:
            self.proc.stdin.write(message.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return "died"
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return "timeout"
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # end of the pipe: the worker died (it may not be reaped yet)
                return "died"
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


class WorkerPool:
    """The warm workers of one function."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], max_workers: int = MAX_WORKERS,
                 on_ran: Callable[[FunctionSpec, Invocation], None] | None = None, echo: Echo | None = None):
        self.spec = spec
        self.env = env
        self.max_workers = max_workers
        self.on_ran = on_ran  # told of every invocation a worker ran (its log goes to CloudWatch Logs)
        self.echo = echo
        self._idle: list[Worker] = []
        self._count = 0
        self._generation = 0
        self._closed = False
        self._cond = threading.Condition()

    def prewarm(self) -> None:
        """Start one worker now (in the caller's thread), so the first request finds it warm."""
        with self._cond:
            if self._count or self._closed:
                return
            self._count += 1
        try:
            worker = Worker(self.spec, self.env, self._generation, self.echo)
        except BaseException:
            with self._cond:
                self._count -= 1
            raise
        self._release(worker)

    def _acquire(self, wait_s: float) -> Worker | None:
        deadline = time.monotonic() + wait_s
        with self._cond:
            while True:
                if self._closed:
                    return None
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive and worker.generation == self._generation:
                        return worker
                    self._count -= 1
                    threading.Thread(target=worker.kill, daemon=True).start()
                if self._count < self.max_workers:
                    self._count += 1
                    generation = self._generation
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
        try:
            return Worker(self.spec, self.env, generation, self.echo)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def _release(self, worker: Worker) -> None:
        with self._cond:
            if self._closed or worker.generation != self._generation or not worker.alive:
                self._count -= 1
                self._cond.notify()
                stale = True
            else:
                self._idle.append(worker)
                self._cond.notify()
                stale = False
        if stale:
            worker.kill()

    def _discard(self, worker: Worker) -> None:
        worker.kill()
        with self._cond:
            self._count -= 1
            self._cond.notify()

    def invoke(self, event: Any, integration_timeout_s: float, request_id: str | None = None) -> Invocation:
        """Run the handler once. The function's timeout → error; the integration's → timeout. Every invocation a
        worker ran is told to ``on_ran``."""
        ran = self._invoke(event, integration_timeout_s, request_id)
        if self.on_ran is not None and ran.log_stream:
            try:
                self.on_ran(self.spec, ran)
            except Exception:  # logging never fails an invocation
                _log.exception("logging the invocation %s of %s failed", ran.request_id, self.spec.name)
        return ran

    def _invoke(self, event: Any, integration_timeout_s: float, request_id: str | None) -> Invocation:
        started = time.monotonic()
        worker = self._acquire(integration_timeout_s)
        if worker is None:
            return Invocation("timeout", error="no worker became free before the integration timeout")
        waited = time.monotonic() - started
        function_left = self.spec.timeout_s
        integration_left = integration_timeout_s - waited
        limit = min(function_left, integration_left)
        request_id = request_id or new_request_id()
        began, began_at = time.monotonic(), time.time()
        try:
            reply = worker.call(event, request_id, limit)
        except BaseException:
            self._discard(worker)
            raise
        took = time.monotonic() - began
        where = {"log_stream": worker.stream, "started_at": began_at}
        if isinstance(reply, str):
            self._discard(worker)
            if reply == "died":
                return Invocation("error", error=f"{self.spec.name}: the worker process exited (code "
                                                 f"{worker.proc.returncode})", request_id=request_id,
                                  duration_s=took, died=True, **where)
            if integration_left < function_left:
                return Invocation("timeout", error=f"integration timeout after {integration_timeout_s:g}s",
                                  request_id=request_id, duration_s=took, **where)
            return Invocation("error", error=f"{self.spec.name}: Task timed out after {self.spec.timeout_s:g} seconds",
                              request_id=request_id, duration_s=took, timed_out=True, **where)
        self._release(worker)
        ran = {"request_id": request_id, "log": str(reply.get("log") or ""), "duration_s": took,
               "max_rss_mb": int(reply.get("max_rss_mb") or 0), **where}
        if reply.get("ok"):
            return Invocation("ok", result=reply.get("result"), **ran)
        return Invocation("error", error=f"{reply.get('errorType')}: {reply.get('errorMessage')}",
                          error_type=str(reply.get("errorType") or ""),
                          error_message=str(reply.get("errorMessage") or ""),
                          stack_trace=[str(line) for line in reply.get("stackTrace") or ()], **ran)

    def recycle(self) -> None:
        """Drop every warm worker (after a code change): idle ones now, busy ones when they finish."""
        with self._cond:
            self._generation += 1
            stale, self._idle = self._idle, []
            self._count -= len(stale)
            self._cond.notify_all()
        for worker in stale:
            worker.kill()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            stale, self._idle = self._idle, []
            self._count -= len(stale)
            self._cond.notify_all()
        for worker in stale:
            worker.kill()


class Workers:
    """Every function's pool, keyed by function name; ``invoke(function_name, event, timeout_s)`` is the
    gateway's ``Invoke``."""

    def __init__(self, region: str, endpoint_url: str, access_key: str, secret_key: str,
                 max_workers: int = MAX_WORKERS):
        self._args = (region, endpoint_url, access_key, secret_key)
        self.max_workers = max_workers
        self.pools: dict[str, WorkerPool] = {}
        self.extra_env: dict[str, str] = {}
        self._lock = threading.Lock()
        self.logs = LogWriter(lambda: embedded_logs_client(endpoint_url, region, access_key, secret_key))
        self.echo: Echo | None = None  # set before pools are made: where their workers' stderr lines go

    def add(self, spec: FunctionSpec) -> WorkerPool:
        """The pool of ``spec.name``, made from ``spec`` when there is none."""
        with self._lock:
            if spec.name not in self.pools:
                self.pools[spec.name] = self._pool(spec)
            return self.pools[spec.name]

    def put(self, spec: FunctionSpec) -> WorkerPool:
        """The pool of ``spec.name`` running ``spec``: the present one when its spec equals ``spec``, else a new
        one (the old pool is closed: its busy workers finish their invocation, then stop)."""
        with self._lock:
            old = self.pools.get(spec.name)
            if old is not None and old.spec == spec:
                return old
            pool = self.pools[spec.name] = self._pool(spec)
        if old is not None:
            old.close()
        return pool

    def remove(self, name: str, pool: WorkerPool | None = None) -> None:
        """Close and forget the pool of ``name`` (if any; if ``pool`` is given, only when it is that one)."""
        with self._lock:
            if pool is not None and self.pools.get(name) is not pool:
                return
            pool = self.pools.pop(name, None)
        if pool is not None:
            pool.close()

    def _pool(self, spec: FunctionSpec) -> WorkerPool:
        return WorkerPool(spec, {**worker_environment(spec, *self._args), **self.extra_env}, self.max_workers,
                          on_ran=self.log_invocation, echo=self.echo)

    def log_invocation(self, spec: FunctionSpec, ran: Invocation) -> None:
        """Queue ``ran``'s log, one event a line as Lambda writes them, for ``/aws/lambda/{name}``."""
        last = error_payload(ran, spec)[1] if ran.status != "ok" else ""
        lines = log_of(spec, ran, last).splitlines(keepends=True)
        start, end = int(ran.started_at * 1000), int((ran.started_at + ran.duration_s) * 1000)
        events = [(start if i < len(lines) - 2 - bool(last) else end, line) for i, line in enumerate(lines)]
        self.logs.put(f"/aws/lambda/{spec.name}", ran.log_stream, events)

    def set_env(self, name: str, value: str) -> None:
        """Give every worker started from now on (of every pool, present or future) ``name=value``:
        how the gateway tells workers where its WebSocket APIs' ``@connections`` listen."""
        self.extra_env[name] = value
        for pool in list(self.pools.values()):
            pool.env[name] = value

    def invoke(self, function_name: str, event: dict[str, Any], timeout_s: float) -> Outcome:
        pool = self.pools.get(function_name)
        if pool is None:
            return Outcome("error", error=f"function {function_name!r} is not served by the local gateway "
                                          f"(its code folder is not among the app's Functions)")
        try:
            return pool.invoke(event, timeout_s)
        except Exception as exc:  # a worker that cannot even start: that request fails, not the server
            _log.exception("invoking %s failed", function_name)
            return Outcome("error", error=f"{type(exc).__name__}: {exc}")

    def prewarm(self) -> None:
        threads = [threading.Thread(target=p.prewarm, daemon=True) for p in self.pools.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def close(self) -> None:
        with self._lock:
            pools, self.pools = list(self.pools.values()), {}
        for pool in pools:
            pool.close()
        self.logs.close()
