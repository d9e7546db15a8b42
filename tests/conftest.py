"""Shared pytest fixtures (the embedded AWS in its two forms) and the test tiers.

Each test is marked with its folder's tier: ``unit`` (no AWS at all), ``moto`` (the embedded AWS in this
process, or its server), ``server`` (real sockets: the local gateway, the CLI in subprocesses) and
``crash`` (subprocesses killed mid-deploy, the fault sweep at every AWS call, lockfile faults). The
everyday loop is ``-m "not crash"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import boto3

    from sstdirect.local import LocalCloud

REGION = "us-east-1"
TIERS = ("unit", "moto", "server", "crash")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its tier: the name of the folder under ``tests/`` that holds it."""
    for item in items:
        tier = item.path.parent.name
        if tier in TIERS:
            item.add_marker(tier)


@pytest.fixture(scope="module")
def local_cloud() -> Iterator[LocalCloud]:
    """A running :class:`sstdirect.local.LocalCloud` (moto server + extensions), one per test module.

    moto's state is process-global: call ``local_cloud.reset()`` for a clean slate.
    """
    from sstdirect.local import LocalCloud

    with LocalCloud() as cloud:
        yield cloud


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    """A boto3 Session on a fresh in-process moto (``mock_aws``) with sstdirect's extensions installed.

    Credentials come from test values in the environment (never the user's profile); ACM certificates
    are issued at once.
    """
    import boto3
    import moto.settings
    from moto import mock_aws

    from sstdirect.local import install

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setattr(moto.settings, "ACM_VALIDATION_WAIT", 0)
    install()
    with mock_aws():
        yield boto3.Session(region_name=REGION)


Clients = Callable[..., Any]


@pytest.fixture(params=["inprocess", "server"])
def clients(request: pytest.FixtureRequest) -> Iterator[Clients]:
    """``clients(service, region=...)``: boto3 clients (no retries) of a fresh, empty embedded AWS, once
    in-process (``mock_aws`` after ``install()``) and once against a ``LocalCloud`` server."""
    from botocore.config import Config

    from sstdirect.local import install

    no_retry = Config(retries={"mode": "standard", "max_attempts": 1})
    if request.param == "inprocess":
        import boto3
        from moto import mock_aws

        install()
        with mock_aws(config={"lambda": {"use_docker": False}}):
            yield lambda service, region=REGION: boto3.client(
                service, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing",
                config=no_retry)
    else:
        cloud: LocalCloud = request.getfixturevalue("local_cloud")
        cloud.reset()
        yield lambda service, region=REGION: cloud.client(service, region_name=region, config=no_retry)


class CallLog:
    """Every AWS operation any boto3 client sends, in order (all threads)."""

    def __init__(self) -> None:
        import threading

        self.ops: list[str] = []
        self._lock = threading.Lock()

    def add(self, client: Any, operation: str) -> None:
        with self._lock:
            self.ops.append(f"{client.meta.service_model.service_name}.{operation}")

    def writes(self) -> list[str]:
        from sstdirect.aws import is_mutating

        return [op for op in self.ops if is_mutating(op)]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> CallLog:
    """A :class:`CallLog` of every boto3 call made during the test."""
    import botocore.client

    log = CallLog()
    original = botocore.client.BaseClient._make_api_call

    def _make_api_call(self: Any, operation: str, params: Any) -> Any:
        log.add(self, operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", _make_api_call)
    return log


@pytest.fixture
def config_error_check() -> Callable[..., None]:
    """``check(root, build, expected)``: ``build(app)`` then ``app.deploy()`` raise a ConfigError whose
    message holds every ``expected`` fragment, with zero AWS requests sent and no lockfile written."""
    import boto3

    from sstdirect import App, ConfigError

    # One session for every check of the test (hypothesis calls check() hundreds of times; a Session
    # costs ~50 ms to build): its hook records any request, and each check starts with none recorded.
    session = boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")
    sent: list[str] = []

    def refuse(event_name: str = "", **_: Any) -> None:
        sent.append(event_name)
        raise AssertionError(f"an AWS call was made: {event_name}")

    session.events.register("before-send", refuse)

    def check(root: Any, build: Callable[[Any], Any], expected: tuple[str, ...]) -> None:
        sent.clear()
        app = App("notes", stage="dev", session=session, root=root)
        with pytest.raises(ConfigError) as info:
            build(app)
            app.deploy()  # errors found only when expanding are still raised before any call
        for fragment in expected:
            assert fragment in str(info.value), str(info.value)
        assert sent == []
        assert not app.state_path.exists()

    return check
