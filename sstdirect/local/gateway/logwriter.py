"""Writing CloudWatch Logs events into the embedded AWS, off the request path.

:class:`LogWriter` queues ``(group, stream, [(timestamp_ms, message), ...])`` and a background thread writes
them with ``PutLogEvents`` through a boto3 client of the embedded AWS (the gateway knows it only by its endpoint,
see :mod:`.contract`), batched: everything queued since the last write goes out, one call per stream of up to
10,000 events or 1 MB (AWS's limits), after waiting at most ``flush_s``. A missing group or stream is created
(as Lambda creates ``/aws/lambda/{name}`` on first use). Serving never waits on it; a write that fails is
logged and dropped (logs never fail a request). :meth:`flush` waits until what was queued is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

_log = logging.getLogger("sstdirect.local.gateway")
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD = 26  # bytes AWS counts per event on top of its message


def lambda_stream_name(now: float | None = None) -> str:
    """A log stream name as Lambda names an execution environment's: ``YYYY/MM/DD/[$LATEST]<32 hex>``."""
    return time.strftime("%Y/%m/%d", time.gmtime(now)) + "/[$LATEST]" + uuid.uuid4().hex


def embedded_logs_client(endpoint_url: str, region: str, access_key: str, secret_key: str) -> Any:
    """A boto3 CloudWatch Logs client of the embedded AWS at ``endpoint_url`` (no profile, no config files, no
    proxy)."""
    import botocore.session
    from botocore.config import Config
    from botocore.configprovider import ConstantProvider

    core = botocore.session.Session()
    store = core.get_component("config_store")
    store.set_config_provider("profile", ConstantProvider(None))
    store.set_config_provider("config_file", ConstantProvider(os.devnull))
    store.set_config_provider("credentials_file", ConstantProvider(os.devnull))
    return core.create_client("logs", region_name=region, endpoint_url=endpoint_url, aws_access_key_id=access_key,
                              aws_secret_access_key=secret_key, config=Config(proxies={}, retries={"max_attempts": 2}))


def batches(events: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """``events`` in time order, cut into PutLogEvents calls within AWS's count and size limits."""
    out: list[list[tuple[int, str]]] = []
    size = 0
    for event in sorted(events, key=lambda e: e[0]):
        cost = len(event[1].encode()) + EVENT_OVERHEAD
        if not out or len(out[-1]) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append(event)
        size += cost
    return out


class LogWriter:
    """Queues log events and writes them in the background (see the module docstring)."""

    def __init__(self, make_client: Callable[[], Any], flush_s: float = 0.2):
        self._make_client = make_client
        self._client: Any = None
        self.flush_s = flush_s
        self._pending: dict[tuple[str, str], list[tuple[int, str]]] = {}
        self._queued = 0  # events put so far
        self._written = 0  # events written (or dropped) so far
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._streams: set[tuple[str, str]] = set()
        self.events_written = 0

    def put(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """Queue ``events`` (``(epoch ms, message)``) for ``group``/``stream``; returns at once."""
        if not events:
            return
        with self._cond:
            if self._closed:
                return
            self._pending.setdefault((group, stream), []).extend(events)
            self._queued += len(events)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sstdirect-logs", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every event queued before the call is written; False if ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._queued
            self._cond.notify_all()
            while self._written < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is queued (waiting up to ``timeout_s``), then stop."""
        self.flush(timeout_s)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
            time.sleep(self.flush_s)  # let a burst gather into one call per stream
            with self._cond:
                pending, self._pending = self._pending, {}
            count = 0
            for (group, stream), events in pending.items():
                count += len(events)
                try:
                    self._write(group, stream, events)
                except Exception:  # the embedded AWS stopped, or refused: logs never fail serving
                    _log.debug("writing %d log event(s) to %s failed", len(events), group, exc_info=True)
            with self._cond:
                self._written += count
                self._cond.notify_all()

    def _write(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        if self._client is None:
            self._client = self._make_client()
        try:
            self._put(group, stream, events)
        except self._client.exceptions.ResourceNotFoundException:  # the cloud was reset: create them again
            self._streams.discard((group, stream))
            self._put(group, stream, events)

    def _put(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        client = self._client
        if (group, stream) not in self._streams:
            with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                client.create_log_group(logGroupName=group)
            with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
                client.create_log_stream(logGroupName=group, logStreamName=stream)
            self._streams.add((group, stream))
        for batch in batches(events):
            client.put_log_events(logGroupName=group, logStreamName=stream,
                                  logEvents=[{"timestamp": t, "message": m} for t, m in batch])
            self.events_written += len(batch)
