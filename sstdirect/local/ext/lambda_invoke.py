"""The embedded Lambda's ``Invoke``: runs the deployed function's code in the warm workers of
:mod:`sstdirect.local.gateway.workers`, answering as Lambda does.

* **Which workers**: one :class:`~.gateway.workers.Workers` per cloud, keyed by function name. A request that
  reached a running ``LocalCloud`` uses ``cloud.workers`` (the cloud's server puts it in the WSGI environ under
  :data:`WORKERS_ENVIRON_KEY`), the same pools its local gateway (``cloud.serve``, ``sstdirect dev``) runs the
  app's handlers in; an in-process request (``mock_aws`` after ``install()``) uses this process's in-process
  workers (:func:`in_process_workers`).
* **Which code**: a pool the gateway made for the function (from the app's code folder, so handler edits
  reload) is used as it is. Otherwise the function's deployed zip (the bundle sstdirect uploaded, moto's
  ``code_bytes``) is unpacked once per ``CodeSha256`` into a folder of this process, and a pool runs it with the
  function's ``Handler``, environment, timeout and memory (a code or configuration change gives a new pool).
* **Invocation types**: ``RequestResponse`` → 200 and the handler's result; ``Event`` → 202, empty payload, the
  handler run in a background thread; ``DryRun`` → 204, nothing run. ``LogType=Tail`` → ``X-Amz-Log-Result``:
  base64 of the last 4 KB of the invocation's log (Lambda's ``START`` / ``END`` / ``REPORT`` lines around what the
  handler printed).
* **Function errors** (status 200, ``X-Amz-Function-Error: Unhandled``): a handler that raised → the Python
  runtime's ``{"errorMessage", "errorType", "requestId", "stackTrace"}``; past the function's timeout (its worker
  is killed) → ``{"errorMessage": "<time> <request id> Task timed out after N.NN seconds"}``; a worker that died →
  ``Runtime.ExitError``.

Handlers reach the embedded AWS through ``AWS_ENDPOINT_URL``: the cloud's endpoint, or for in-process requests
a moto server this module starts on loopback on first use (moto's state is process-global, so it serves the
same resources as ``mock_aws``).
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
import zipfile
from typing import Any

from ..gateway.workers import FunctionSpec, Invocation, Workers, error_payload, log_of

_log = logging.getLogger("sstdirect.local.lambda")
TAIL_BYTES = 4096
WORKERS_ENVIRON_KEY = "sstdirect.lambda_workers"  # a LocalCloud's server: () -> its Workers
WAIT_FOR_WORKER_S = 900.0  # a busy pool (4 workers) makes further invocations wait, up to Lambda's longest timeout


class _Process:
    """What this process holds for every embedded Lambda (moto's state is process-wide): the folder of unpacked
    deployed zips, and the in-process workers with their moto server."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.code_root: str | None = None
        self.workers: Workers | None = None
        self.server: Any = None


_process = _Process()


# --- the deployed code ---------------------------------------------------------------------------


def _code_dir(fn: Any) -> str:
    """The folder holding ``fn``'s deployed zip, unpacked (once per code hash, for this process's life)."""
    digest = hashlib.sha256(fn.code_bytes).hexdigest()[:32]
    with _process.lock:
        if _process.code_root is None:
            _process.code_root = tempfile.mkdtemp(prefix="sstdirect-lambda-")
            atexit.register(shutil.rmtree, _process.code_root, True)
        folder = os.path.join(_process.code_root, digest)
        if not os.path.isdir(folder):
            unpacking = tempfile.mkdtemp(dir=_process.code_root)
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                archive.extractall(unpacking)  # zipfile drops absolute paths and ".." parts
            os.rename(unpacking, folder)
    return folder


def is_deployed_code(spec: FunctionSpec) -> bool:
    """Whether ``spec`` runs an unpacked deployed zip (not an app's code folder given by the gateway)."""
    return _process.code_root is not None and os.path.dirname(spec.code_dir) == _process.code_root


def spec_of(fn: Any) -> FunctionSpec:
    """How a worker runs moto's function ``fn`` from its deployed zip."""
    return FunctionSpec(
        name=fn.function_name, code_dir=_code_dir(fn), handler=fn.handler or "index.handler",
        timeout_s=float(fn.timeout or 3), memory_mb=int(fn.memory_size or 128), arn=fn.function_arn,
        environment={str(k): str(v) for k, v in (fn.environment_vars or {}).items()},
    )


def pool_for(workers: Workers, fn: Any) -> Any:
    """The pool that runs ``fn``: the gateway's when it serves the function, else one on the deployed zip."""
    pool = workers.pools.get(fn.function_name)
    if pool is not None and not is_deployed_code(pool.spec):
        return pool
    return workers.put(spec_of(fn))


def forget_deployed(workers: Workers) -> None:
    """Close the pools running deployed zips (after a reset: their functions are gone)."""
    for name, pool in list(workers.pools.items()):
        if is_deployed_code(pool.spec):
            workers.remove(name)


# --- which workers ---------------------------------------------------------------------------------

def in_process_workers() -> Workers:
    """The workers of in-process requests (``mock_aws``). Their handlers reach the same moto state through a
    plain moto server on loopback, started on first use and stopped when the process exits."""
    with _process.lock:
        if _process.workers is None:
            from moto.server import ThreadedMotoServer

            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            _process.server = server
            atexit.register(close_in_process)
            port = server.get_host_and_port()[1]
            _process.workers = Workers(os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
                                       f"http://127.0.0.1:{port}", "testing", "testing")
        return _process.workers


def close_in_process() -> None:
    """Stop the in-process workers and their moto server (at exit; safe to call twice)."""
    with _process.lock:
        workers, server, _process.workers, _process.server = _process.workers, _process.server, None, None
    if workers is not None:
        workers.close()
    if server is not None:
        server.stop()


def workers_for(environ: dict[str, Any] | None) -> Workers:
    """The workers of a request: its ``LocalCloud``'s (from the WSGI ``environ``), else the in-process ones."""
    cloud_workers = (environ or {}).get(WORKERS_ENVIRON_KEY)
    return cloud_workers() if cloud_workers is not None else in_process_workers()


# --- one invocation, as Lambda answers it ------------------------------------------------------------


def tail(log: str) -> str:
    """``X-Amz-Log-Result``: base64 of the log's last :data:`TAIL_BYTES` bytes."""
    return base64.b64encode(log.encode()[-TAIL_BYTES:]).decode()


def run(workers: Workers, fn: Any, event: Any) -> tuple[Invocation, FunctionSpec]:
    """Run ``fn`` once on ``event`` (a decoded JSON payload) in its warm workers."""
    pool = pool_for(workers, fn)
    ran = pool.invoke(event, pool.spec.timeout_s + WAIT_FOR_WORKER_S, request_id=str(uuid.uuid4()))
    return ran, pool.spec


def answer(workers: Workers, fn: Any, payload: bytes, invocation_type: str,
           log_type: str) -> tuple[int, dict[str, str], bytes]:
    """Lambda's ``Invoke`` answer: (status, headers, payload); ``payload`` is valid JSON (the caller checks)."""
    headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
    if invocation_type == "DryRun":
        return 204, headers, b""
    event = json.loads(payload) if payload.strip() else {}
    if invocation_type == "Event":
        threading.Thread(target=_run_event, args=(workers, fn, event), daemon=True,
                         name=f"sstdirect-lambda-event-{fn.function_name}").start()
        return 202, headers, b""
    ran, spec = run(workers, fn, event)
    if ran.status == "timeout":  # no worker came free
        raise TooManyRequests()
    if ran.status == "ok":
        body, last = json.dumps(ran.result).encode(), ""
    else:
        error, last = error_payload(ran, spec)
        body = json.dumps(error).encode()
        headers["X-Amz-Function-Error"] = "Unhandled"
    if log_type == "Tail":
        headers["X-Amz-Log-Result"] = tail(log_of(spec, ran, last))
    return 200, headers, body


def _run_event(workers: Workers, fn: Any, event: Any) -> None:
    try:
        ran, _ = run(workers, fn, event)
    except Exception:
        _log.exception("asynchronous invocation of %s failed", fn.function_name)
        return
    if ran.status != "ok":
        _log.warning("asynchronous invocation %s of %s failed: %s", ran.request_id, fn.function_name, ran.error)


class TooManyRequests(Exception):
    """Every worker of the function stayed busy for :data:`WAIT_FOR_WORKER_S` (Lambda: ``TooManyRequestsException``)."""
