"""The loop a warm worker process runs: ``python _worker.py CODE_DIR MODULE.FUNCTION FUNCTION_NAME ...``.

Standard library only (it runs the user's interpreter with the user's code first on ``sys.path``).
Protocol: one JSON object per line on the pipe that was stdout when it started; the handler's own
``print()`` output goes to stderr, so it never corrupts the protocol.

  parent → worker  {"event": {...}, "request_id": "...", "remaining_ms": 1234}
  worker → parent  {"ok": true, "result": ...} | {"ok": false, "errorType": ..., "errorMessage": ...}

The handler module is imported on the first invocation (an import error is that invocation's
error, as Lambda's ``Runtime.ImportModuleError``), then kept: module state lives as long as the
worker, like a warm Lambda instance.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback

MAX_RESPONSE_BYTES = 6 * 1024 * 1024


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
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)
    proto_in = sys.stdin.buffer
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the handler's prints go to stderr
    sys.stdout = sys.stderr
    module_name, _, attr = handler.rpartition(".")
    fn = None
    for line in proto_in:
        request = json.loads(line)
        try:
            if fn is None:
                fn = getattr(importlib.import_module(module_name), attr)
            context = LambdaContext(request["request_id"], request["remaining_ms"], name, memory, arn)
            result = json.dumps(fn(request["event"], context))
            if len(result.encode()) > MAX_RESPONSE_BYTES:  # Lambda's synchronous limit (SEMANTICS §8) → 500
                raise ValueError(f"Response payload size ({len(result.encode())} bytes) exceeded maximum "
                                 f"allowed payload size ({MAX_RESPONSE_BYTES} bytes).")
            reply = '{"ok": true, "result": ' + result + "}"
        except Exception as exc:
            traceback.print_exc()
            reply = json.dumps({"ok": False, "errorType": type(exc).__name__, "errorMessage": str(exc)})
        proto_out.write(reply.encode() + b"\n")
        proto_out.flush()


if __name__ == "__main__":
    main()
