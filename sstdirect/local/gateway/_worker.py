"""The loop a warm worker process runs: ``python _worker.py CODE_DIR MODULE.FUNCTION FUNCTION_NAME MEMORY ARN
[ROOT...]`` (``sys.path`` starts with CODE_DIR, then each ROOT: where the bundle's other modules come from).

Standard library only (it runs the user's interpreter with the user's code first on ``sys.path``).
Protocol: one JSON object per line on the pipe that was stdout when it started; the handler's own
``print()`` output goes to stderr, so it never corrupts the protocol.

  parent → worker  {"event": {...}, "request_id": "...", "remaining_ms": 1234}
  worker → parent  {"ok": true, "result": ..., "log": "...", "max_rss_mb": 41}
                 | {"ok": false, "errorType": ..., "errorMessage": ..., "stackTrace": [...], "log": ..., ...}

``log`` is what the invocation wrote to ``sys.stdout``/``sys.stderr`` (its prints, its traceback; the last
:data:`MAX_LOG_CHARS`), which also still reaches the worker's stderr. ``stackTrace`` is the Python runtime's:
``traceback.format_list`` of the frames from the handler's down (none of this loop's).

When ``SSTDIRECT_EXECUTE_API`` is set (``{"apiId": "http://127.0.0.1:PORT", ...}``, the WebSocket APIs
the local gateway serves), boto3 clients created with an ``endpoint_url`` of
``https://{apiId}.execute-api.{region}.amazonaws.com/...`` (AWS's way to build an
``apigatewaymanagementapi`` client from a WebSocket event) reach the local gateway instead, the path
kept: :func:`redirect_execute_api` patches ``botocore.client.ClientCreator.create_client`` when botocore
is first imported, so a worker that never uses boto3 never pays for importing it.

The handler module is imported on the first invocation (an import error is that invocation's
error, as Lambda's ``Runtime.ImportModuleError``), then kept: module state lives as long as the
worker, like a warm Lambda instance.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import json
import os
import re
import sys
import time
import traceback
from typing import Any

MAX_RESPONSE_BYTES = 6 * 1024 * 1024
MAX_LOG_CHARS = 256 * 1024
EXECUTE_API_ENV = "SSTDIRECT_EXECUTE_API"
_EXECUTE_API_URL = re.compile(r"^(?:https?|wss?)://([A-Za-z0-9]+)\.execute-api\.[A-Za-z0-9-]+\.amazonaws\.com"
                              r"(?::\d+)?(/.*)?$", re.IGNORECASE)


def local_endpoint(url: str, apis: dict[str, str]) -> str:
    """``https://{apiId}.execute-api.{region}.amazonaws.com/dev`` → ``http://127.0.0.1:PORT/dev`` when
    ``apiId`` is served locally (a key of ``apis``); any other URL is returned unchanged."""
    match = _EXECUTE_API_URL.match(url)
    if match is None or match.group(1).lower() not in apis:
        return url
    return apis[match.group(1).lower()].rstrip("/") + (match.group(2) or "")


def _patch_client_creator(module: Any, apis: dict[str, str]) -> None:
    creator = module.ClientCreator
    original = creator.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(kwargs.get("endpoint_url"), str):
            kwargs["endpoint_url"] = local_endpoint(kwargs["endpoint_url"], apis)
        elif len(args) > 3 and isinstance(args[3], str):  # (service, region, is_secure, endpoint_url, ...)
            args = (*args[:3], local_endpoint(args[3], apis), *args[4:])
        return original(self, *args, **kwargs)

    creator.create_client = create_client


class _BotocoreHook(importlib.abc.MetaPathFinder):
    """Patches ``botocore.client`` right after it is first imported, then removes itself."""

    def __init__(self, apis: dict[str, str]):
        self.apis = apis

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "botocore.client":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_and_patch(module: Any) -> None:
            exec_module(module)
            _patch_client_creator(module, self.apis)

        loader.exec_module = exec_and_patch
        return spec


def redirect_execute_api(apis: dict[str, str]) -> None:
    """Send boto3 clients for the served ``apis`` (``{apiId: local base URL}``) to the local gateway."""
    apis = {k.lower(): v for k, v in apis.items()}
    if "botocore.client" in sys.modules:
        _patch_client_creator(sys.modules["botocore.client"], apis)
    else:
        sys.meta_path.insert(0, _BotocoreHook(apis))


class _Tee:
    """``sys.stdout``/``sys.stderr`` of the handler: writes go to ``stream`` and, while :attr:`captured` is a
    list (during an invocation), into it too."""

    def __init__(self, stream: Any):
        self.stream = stream
        self.captured: list[str] | None = None

    def write(self, text: str) -> int:
        if self.captured is not None:
            self.captured.append(text)
        return self.stream.write(text)

    def take(self) -> str:
        text, self.captured = "".join(self.captured or ()), None
        return text[-MAX_LOG_CHARS:]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _max_rss_mb() -> int:
    try:
        import resource
    except ImportError:  # not on Windows
        return 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024)


def _stack_trace(exc: BaseException) -> list[str]:
    """The frames from the handler's down, as the Python runtime lists them in ``stackTrace``."""
    frames = traceback.extract_tb(exc.__traceback__)
    here = os.path.abspath(__file__)
    while frames and os.path.abspath(frames[0].filename) == here:
        frames.pop(0)
    return traceback.format_list(frames)


class LambdaContext:
    """The parts of Lambda's Python ``context`` object handlers use."""

    def __init__(self, request_id: str, remaining_ms: int, name: str, memory: str, arn: str):
        self.aws_request_id = request_id
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory
        self.invoked_function_arn = arn
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]local"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + remaining_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    code_dir, handler, name, memory, arn = sys.argv[1:6]
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path[:0] = [code_dir, *sys.argv[6:]]
    os.chdir(code_dir)
    proto_in = sys.stdin.buffer
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the handler's prints go to stderr
    sys.stdout = sys.stderr = tee = _Tee(sys.stderr)
    if os.environ.get(EXECUTE_API_ENV):
        redirect_execute_api(json.loads(os.environ[EXECUTE_API_ENV]))
    module_name, _, attr = handler.rpartition(".")
    module_name = module_name.replace("/", ".")  # "src/fn.handler" as the Python runtime reads it
    fn = None
    for line in proto_in:
        request = json.loads(line)
        tee.captured = []
        try:
            if fn is None:
                fn = getattr(importlib.import_module(module_name), attr)
            context = LambdaContext(request["request_id"], request["remaining_ms"], name, memory, arn)
            result = json.dumps(fn(request["event"], context))
            if len(result.encode()) > MAX_RESPONSE_BYTES:  # Lambda's synchronous limit (SEMANTICS §8) → 500
                raise ValueError(f"Response payload size ({len(result.encode())} bytes) exceeded maximum "
                                 f"allowed payload size ({MAX_RESPONSE_BYTES} bytes).")
            tail = {"log": tee.take(), "max_rss_mb": _max_rss_mb()}
            reply = '{"ok": true, "result": ' + result + ", " + json.dumps(tail)[1:]
        except Exception as exc:
            traceback.print_exc()
            reply = json.dumps({"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc),
                                "stackTrace": _stack_trace(exc), "log": tee.take(), "max_rss_mb": _max_rss_mb()})
        proto_out.write(reply.encode() + b"\n")
        proto_out.flush()


if __name__ == "__main__":
    main()
