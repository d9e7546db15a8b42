"""Tests of the lockfile (sstdirect.state): atomic, versioned saves; bad files refused and left
untouched; the OS lock between processes; and no secrets on disk.

Failures are injected for real: a crash inside ``os.replace``, hand-broken files on disk, a second
Python process holding the lock and then SIGKILLed. The App-level tests deploy into moto in-process
(``moto.mock_aws`` after ``sstdirect.local.install()``); no real AWS account is used.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sstdirect.errors import StateError, StateLockedError
from sstdirect.state import SCHEMA_VERSION, Record, State, StateFile, new_salt

SECRET = "hunter2-secret"


def sample_state() -> State:
    """A state with a few records, one of which has a deposed (replaced, not yet deleted) object."""
    state = State(app="notes", stage="dev", region="us-east-1", account="123456789012")
    state.resources["Fn/role"] = Record(
        type="iam.Role", address="Fn/role", physical_id="dev-notes-Fn-role",
        attrs={"arn": "arn:aws:iam::123456789012:role/dev-notes-Fn-role"},
        props={"role_name": "dev-notes-Fn-role"}, props_hash="sha256:aa",
    )
    state.resources["Fn/function"] = Record(
        type="lambda.Function", address="Fn/function", physical_id="dev-notes-Fn",
        attrs={"arn": "arn:aws:lambda:us-east-1:123456789012:function:dev-notes-Fn"},
        props={"memory_size": 1024, "environment": "sha256:bb"}, props_hash="sha256:cc",
        depends_on=["Fn/role"],
        deposed=[Record(type="lambda.Function", address="Fn/function", physical_id="dev-notes-Fn-old",
                        attrs={"arn": "arn:old"}, props={"memory_size": 512}, props_hash="sha256:dd")],
    )
    state.resources["Api/api"] = Record(
        type="apigatewayv2.Api", address="Api/api", status="creating", physical_id=None,
        props={"name": "dev-notes-Api"},
    )
    state.outputs = {"Api": {"url": "https://abc.execute-api.us-east-1.amazonaws.com", "routes": ["GET /x"]}}
    return state


def snapshot(path: Path) -> tuple[bytes, int, int]:
    """What 'untouched' means: the same bytes, the same mtime, the same inode."""
    st = path.stat()
    return path.read_bytes(), st.st_mtime_ns, st.st_ino


def folder(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


# --- save / load ----------------------------------------------------------------------------------


def test_round_trip_serial_lineage_mode_bak_and_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "notes.dev.json"
    sf = StateFile(path)  # no lockfile yet: load gives a fresh state
    fresh = sf.load(app="notes", stage="dev", region="us-east-1")
    assert fresh.serial == 0 and fresh.resources == {}

    state = sample_state()
    lineage = state.lineage
    sf.save(state)
    assert state.serial == 1
    loaded = StateFile(path).load(app="notes", stage="dev", region="us-east-1")
    assert loaded == state  # every record, the deposed one included, and the outputs
    assert loaded.resources["Fn/function"].deposed[0].physical_id == "dev-notes-Fn-old"
    assert loaded.resources["Fn/function"].deposed[0].type == "lambda.Function"
    assert loaded.resources["Api/api"].status == "creating"
    assert loaded.serial == 1 and loaded.lineage == lineage
    on_disk = json.loads(path.read_text())
    assert on_disk["schema_version"] == SCHEMA_VERSION
    assert on_disk["serial"] == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert folder(path) == {"notes.dev.json"}  # nothing to back up on the first save, no temp file
    # readable and diffable by resource: one line per top-level key, one per resource
    lines = path.read_text().splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    assert sum(1 for line in lines if line.startswith('  "')) == len(state.resources)
    assert on_disk == json.loads(json.dumps(state.to_json()))

    first = path.read_bytes()
    loaded.resources["Fn/role"].attrs["extra"] = "x"
    StateFile(path).save(loaded)  # a new StateFile, as a later process would use
    second = StateFile(path).load()
    assert second.serial == 2 and second.lineage == lineage
    assert second.resources["Fn/role"].attrs["extra"] == "x"
    bak = path.with_name("notes.dev.json.bak")
    assert bak.read_bytes() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(bak.stat().st_mode) == 0o600
    assert folder(path) == {"notes.dev.json", "notes.dev.json.bak"}

    before_third = path.read_bytes()
    StateFile(path).save(second)
    assert StateFile(path).load().serial == 3
    assert bak.read_bytes() == before_third
    assert json.loads(bak.read_bytes())["serial"] == 2
    assert folder(path) == {"notes.dev.json", "notes.dev.json.bak"}


def test_save_replaces_a_lax_mode_with_0600(tmp_path: Path) -> None:
    path = tmp_path / "notes.dev.json"
    sf = StateFile(path)
    sf.save(sample_state())
    path.chmod(0o644)
    old_umask = os.umask(0)
    try:
        sf.save(sf.load())
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.with_name(path.name + ".bak").stat().st_mode) == 0o600


def test_a_crash_during_the_rename_leaves_the_lockfile_byte_for_byte_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notes.dev.json"
    sf = StateFile(path)
    state = sample_state()
    sf.save(state)
    before = snapshot(path)

    real_replace = os.replace
    written: dict[str, bytes] = {}

    def crash_on_the_lockfile(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(dst) == path:
            written["tmp"] = Path(src).read_bytes()  # the new version was fully written ...
            raise OSError("simulated crash: power lost before the rename")  # ... and never renamed
        real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", crash_on_the_lockfile)
    state.resources["Fn/role"].attrs["changed"] = "yes"
    with pytest.raises(StateError, match="simulated crash") as exc_info:  # names the file and the cause
        sf.save(state)
    monkeypatch.undo()
    assert str(path) in str(exc_info.value)

    assert json.loads(written["tmp"])["resources"]["Fn/role"]["attrs"]["changed"] == "yes"
    assert snapshot(path) == before
    survivor = StateFile(path).load(app="notes", stage="dev", region="us-east-1")
    assert survivor.serial == 1
    assert "changed" not in survivor.resources["Fn/role"].attrs

    # The next save (a later deploy) goes through, and the serial still only grows.
    StateFile(path).save(state)
    after = StateFile(path).load()
    assert after.serial > 1 and after.resources["Fn/role"].attrs["changed"] == "yes"


def test_a_process_killed_mid_save_leaves_the_lockfile_loadable(tmp_path: Path) -> None:
    """A real crash: the child dies (os._exit) between writing the temp file and renaming it."""
    path = tmp_path / "notes.dev.json"
    StateFile(path).save(sample_state())
    before = snapshot(path)
    code = textwrap.dedent("""
        import os, sys
        from sstdirect.state import StateFile
        path = sys.argv[1]
        real = os.replace
        def die(src, dst, *a, **k):
            if os.fspath(dst) == path:
                os._exit(9)
            real(src, dst, *a, **k)
        os.replace = die
        sf = StateFile(path)
        state = sf.load()
        state.outputs = {"Api": {"url": "changed"}}
        sf.save(state)
    """)
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, timeout=30)
    assert proc.returncode == 9, proc.stderr.decode()
    assert snapshot(path) == before
    assert StateFile(path).load().outputs["Api"]["url"].startswith("https://")


# --- bad lockfiles: StateError, and the file is never touched --------------------------------------


def _valid() -> dict[str, Any]:
    data = sample_state().to_json()
    data["serial"] = 4
    return data


def _with(**changes: Any) -> bytes:
    data = _valid()
    for key, value in changes.items():
        if value is _DROP:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data, indent=1).encode()


def _resource_edit(address: str, **changes: Any) -> bytes:
    data = _valid()
    for key, value in changes.items():
        if value is _DROP:
            data["resources"][address].pop(key)
        else:
            data["resources"][address][key] = value
    return json.dumps(data, indent=1).encode()


_DROP = object()
GOOD = json.dumps(_valid(), indent=1).encode()

# (id, file bytes, load() keyword arguments, what the message must say)
BAD_FILES: list[tuple[str, bytes, dict[str, str], str]] = [
    ("truncated", GOOD[: len(GOOD) // 2], {}, r"is not valid JSON"),
    ("non-utf8", GOOD.replace(b"dev-notes-Fn-role", b"dev-notes-\xff\xfe-role", 1), {}, r"is not valid JSON"),
    ("binary-garbage", bytes(range(256)), {}, r"is not valid JSON"),
    ("empty", b"", {}, r"is empty"),
    ("whitespace", b" \n\t \n", {}, r"is empty"),
    ("array", json.dumps([_valid()]).encode(), {}, r"does not hold a JSON object"),
    ("no-schema-version", _with(schema_version=_DROP), {}, r"has no schema_version"),
    ("future-schema", _with(schema_version=SCHEMA_VERSION + 1), {},
     rf"schema_version {SCHEMA_VERSION + 1}.*newer sstdirect.*upgrade sstdirect"),
    ("unknown-status", _resource_edit("Fn/role", status="half-done"), {},
     r"resource 'Fn/role' with unknown status 'half-done'"),
    ("resource-without-type", _resource_edit("Fn/role", type=_DROP), {}, r"malformed resource 'Fn/role'"),
    ("resources-not-a-dict", _with(resources=[["Fn/role", {"type": "iam.Role"}]]), {}, r"malformed 'resources'"),
    ("no-lineage", _with(lineage=_DROP), {}, r"malformed 'lineage'"),
    ("serial-not-int", _with(serial="4"), {}, r"malformed 'serial'"),
    ("deposed-not-a-list-of-records", _resource_edit("Fn/function", deposed=["dev-notes-Fn-old"]), {},
     r"malformed resource 'Fn/function'"),
    ("other-app", GOOD, {"app": "billing", "stage": "dev", "region": "us-east-1"},
     r"belongs to app 'notes', not 'billing'"),
    ("other-stage", GOOD, {"app": "notes", "stage": "prod", "region": "us-east-1"},
     r"belongs to stage 'dev', not 'prod'"),
    ("other-region", GOOD, {"app": "notes", "stage": "dev", "region": "eu-west-1"},
     r"belongs to region 'us-east-1', not 'eu-west-1'"),
]


@pytest.mark.parametrize(("content", "kwargs", "message"), [c[1:] for c in BAD_FILES],
                         ids=[c[0] for c in BAD_FILES])
def test_a_bad_lockfile_is_a_state_error_and_left_untouched(
    tmp_path: Path, content: bytes, kwargs: dict[str, str], message: str
) -> None:
    path = tmp_path / "notes.dev.json"
    path.write_bytes(content)
    before, listing = snapshot(path), folder(path)
    with pytest.raises(StateError) as exc_info:
        StateFile(path).load(**kwargs)
    text = " ".join(str(exc_info.value).split())
    assert re.search(message, text), text
    assert str(path) in text  # names the file
    assert "untouched" in text
    assert snapshot(path) == before
    assert folder(path) == listing  # no .bak, no temp file, nothing rewritten


def test_missing_lockfile_without_an_app_is_a_state_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="no lockfile"):
        StateFile(tmp_path / "absent.json").load()
    assert not any(tmp_path.iterdir())


def test_the_local_file_implements_every_method_of_the_state_store_seam(tmp_path: Path) -> None:
    """StateFile is a StateStore (the seam a second store, issue 17's S3 one, implements too): each of
    the protocol's methods, with the same parameters."""
    import inspect

    from sstdirect.state import StateStore

    assert isinstance(StateFile(tmp_path / "notes.dev.json"), StateStore)
    methods = [name for name, value in vars(StateStore).items() if callable(value) and not name.startswith("_")]
    assert set(methods) == {"exists", "load", "save", "delete", "lock", "older_than_backup"}
    for name in methods:
        ours, seam = (inspect.signature(getattr(cls, name)).parameters.values() for cls in (StateFile, StateStore))
        assert [(p.name, p.kind, p.default) for p in ours] == [(p.name, p.kind, p.default) for p in seam], name


# --- App.deploy / diff / outputs on a bad lockfile (moto in-process) --------------------------------


@pytest.fixture
def mocked_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty in-process moto with sstdirect's extensions; fake credentials only."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/sstdirect-test-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/sstdirect-test-credentials")
    from moto import mock_aws

    from sstdirect.local import install

    install()
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


def handler_root(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "h.py").write_text("def main(e, c):\n    return {}\n")
    return tmp_path


def make_app(root: Path, environment: dict[str, str] | None = None) -> Any:
    import boto3

    from sstdirect import Api, App, Function

    app = App("notes", stage="dev", region="us-east-1", root=root, session=boto3.Session(region_name="us-east-1"))
    Api(app, "Api", routes={"GET /notes": "src/h.main"})
    if environment is not None:
        Function(app, "Fn", handler="src/h.main", environment=environment)
    return app


APP_LEVEL_CASES = ["truncated", "non-utf8", "empty", "future-schema", "unknown-status",
                   "resources-not-a-dict", "other-app", "other-stage", "other-region"]


@pytest.mark.parametrize("case", APP_LEVEL_CASES)
def test_app_deploy_on_a_bad_lockfile_raises_and_leaves_it_untouched(
    tmp_path: Path, mocked_aws: None, case: str
) -> None:
    import boto3

    _, content, _, message = next(c for c in BAD_FILES if c[0] == case)
    if case.startswith("other-"):
        # A lockfile written for another app/stage/region, placed where this app looks for its own.
        field = case.removeprefix("other-")
        theirs = {"app": "billing", "stage": "prod", "region": "eu-west-1"}[field]
        ours = {"app": "notes", "stage": "dev", "region": "us-east-1"}[field]
        content = _with(**{field: theirs})
        message = rf"belongs to {field} '{theirs}', not '{ours}'"
    app = make_app(handler_root(tmp_path))
    app.state_path.parent.mkdir(parents=True, exist_ok=True)
    app.state_path.write_bytes(content)
    before, listing = snapshot(app.state_path), folder(app.state_path)

    for attempt in (app.deploy, lambda: app.deploy(refresh=False), app.diff, lambda: app.outputs):
        with pytest.raises(StateError) as exc_info:
            attempt()
        assert re.search(message, " ".join(str(exc_info.value).split())), str(exc_info.value)
    assert snapshot(app.state_path) == before
    # No .bak, no temp file (the lock's own file and the code bundle cache may appear).
    assert folder(app.state_path) - {"notes.dev.json.lock", "cache"} == listing
    # Nothing was created in AWS either.
    assert boto3.client("apigatewayv2", region_name="us-east-1").get_apis()["Items"] == []
    assert boto3.client("lambda", region_name="us-east-1").list_functions()["Functions"] == []


# --- the lock between processes -----------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import sys
    from sstdirect.state import StateFile
    with StateFile(sys.argv[1]).lock(sys.argv[2]):
        print("locked", flush=True)
        sys.stdin.read()  # hold the lock until stdin closes (or we are killed)
    print("released", flush=True)
""")


def start_holder(path: Path, operation: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), operation], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 20)
    line = proc.stdout.readline() if ready else ""
    if line.strip() != "locked":
        proc.kill()
        raise AssertionError(f"lock holder did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return proc


def test_a_second_process_holding_the_lock_fails_fast_and_a_killed_holder_never_blocks(tmp_path: Path) -> None:
    path = tmp_path / "notes.dev.json"
    StateFile(path).save(sample_state())
    lockfile_before = snapshot(path)

    holder = start_holder(path, "remove")
    try:
        began = time.monotonic()
        with pytest.raises(StateLockedError) as exc_info, StateFile(path).lock("deploy"):
            pytest.fail("took a lock another process holds")
        assert time.monotonic() - began < 1.0
        err = exc_info.value
        assert err.holder["pid"] == holder.pid
        assert err.holder["operation"] == "remove"
        assert {"host", "user", "since"} <= set(err.holder)
        text = str(err)
        assert f"pid {holder.pid}" in text and "operation remove" in text and str(path) in text
        assert err.exit_code == 3
        # Holding the lock never touches the lockfile itself.
        assert snapshot(path) == lockfile_before
        assert StateFile(path).load().serial == 1

        holder.send_signal(signal.SIGKILL)
        assert holder.wait(timeout=10) == -signal.SIGKILL
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()

    # The OS released the dead process's lock: it is taken at once, and the holder record is ours.
    began = time.monotonic()
    with StateFile(path).lock("deploy"):
        assert time.monotonic() - began < 1.0
        record = json.loads(path.with_name(path.name + ".lock").read_text())
        assert record["pid"] == os.getpid() and record["operation"] == "deploy"
        # ... and now another process is the one refused, naming us.
        probe = subprocess.run(
            [sys.executable, "-c", textwrap.dedent("""
                import sys
                from sstdirect.errors import StateLockedError
                from sstdirect.state import StateFile
                try:
                    with StateFile(sys.argv[1]).lock("diff"):
                        print("GOT IT")
                except StateLockedError as exc:
                    print("LOCKED", exc.holder["pid"], exc.holder["operation"])
            """), str(path)],
            capture_output=True, text=True, timeout=30,
        )
        assert probe.stdout.split() == ["LOCKED", str(os.getpid()), "deploy"], probe.stderr
    assert snapshot(path) == lockfile_before
    assert StateFile(path).load(app="notes", stage="dev", region="us-east-1").serial == 1


def test_a_released_lock_can_be_taken_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "notes.dev.json"
    holder = start_holder(path, "deploy")
    assert holder.stdout is not None
    holder.communicate(input="", timeout=20)  # close stdin: the holder leaves its `with` block
    assert holder.returncode == 0
    with StateFile(path).lock("deploy"):
        pass


# --- secrets -------------------------------------------------------------------------------------------


def test_function_environment_is_hashed_in_the_lockfile_yet_changes_are_detected(
    tmp_path: Path, mocked_aws: None
) -> None:
    root = handler_root(tmp_path)
    app = make_app(root, environment={"DB_PASSWORD": SECRET})
    result = app.deploy()
    assert result.changes
    lockfile = app.state_path.read_text()
    assert SECRET not in lockfile
    assert SECRET not in json.dumps(result.outputs) and SECRET not in json.dumps(app.outputs)
    record = next(r for r in json.loads(lockfile)["resources"].values()
                  if r["type"] == "lambda.Function" and r["physical_id"].endswith("Fn"))
    assert str(record["props"]["environment"]).startswith("scrypt$14$8$1$")  # salted, slow (engine/secrets.py)
    assert len(json.loads(lockfile)["secret_salt"]) == 32

    # The same app again: nothing to do (the hash matches what was recorded).
    assert make_app(root, environment={"DB_PASSWORD": SECRET}).diff(refresh=False).is_empty

    changed = make_app(root, environment={"DB_PASSWORD": "hunter3-rotated"})
    for refresh in (False, True):
        plan = changed.diff(refresh=refresh)
        updates = [c for c in plan.changes if c.type == "lambda.Function"]
        assert [c.action.value for c in updates] == ["update"], plan.to_json()
        assert "environment" in updates[0].changed
        assert updates[0].before["environment"] == "(sensitive)"
        assert updates[0].after["environment"] == "(sensitive)"
        as_json, as_text = plan.to_json_str(), str(plan)
        assert "(sensitive)" in as_json
        assert "environment" in as_text
        for shown in (as_json, as_text, repr(plan.changes)):
            assert SECRET not in shown and "hunter3-rotated" not in shown

    second = changed.deploy(refresh=False)
    assert [c.action.value for c in second.changes if c.type == "lambda.Function"] == ["update"]
    text = app.state_path.read_text() + app.state_path.with_name(app.state_path.name + ".bak").read_text()
    assert SECRET not in text and "hunter3-rotated" not in text
    assert changed.diff(refresh=True).is_empty


def test_secret_hashes_are_salted_per_lockfile() -> None:
    from sstdirect.engine.secrets import secret_hash, secret_matches
    from sstdirect.engine.values import digest

    one, two = State(app="a", stage="s", region="r"), State(app="a", stage="s", region="r")
    assert one.secret_salt != two.secret_salt  # random per lockfile
    env = {"DB_PASSWORD": "hunter2"}
    h1, h2 = secret_hash(env, one.secret_salt), secret_hash(env, two.secret_salt)
    assert h1 != h2 and "hunter2" not in h1 and digest(env) not in (h1, h2)  # not the unsalted sha256
    assert secret_matches(env, h1, one.secret_salt) and not secret_matches(env, h1, two.secret_salt)
    assert not secret_matches({"DB_PASSWORD": "hunter3"}, h1, one.secret_salt)
    assert secret_matches(env, digest(env), one.secret_salt)  # a legacy unsalted record still compares
    for junk in (None, 3, "", "scrypt$99$8$1$00", "scrypt$x$8$1$00", "md5:abc"):
        assert not secret_matches(env, junk, one.secret_salt)  # never a crash, never a match
    # the salt survives a save/load round trip; a malformed one is a StateError
    loaded = State.from_json(json.loads(json.dumps(one.to_json())), Path("x.json"))
    assert loaded.secret_salt == one.secret_salt
    with pytest.raises(StateError, match="secret_salt"):
        State.from_json({**one.to_json(), "secret_salt": "not hex!"}, Path("x.json"))


def test_legacy_unsalted_secret_records_still_match_and_are_rewritten_salted(
    tmp_path: Path, mocked_aws: None
) -> None:
    from sstdirect.engine.values import digest

    root = handler_root(tmp_path)
    env = {"DB_PASSWORD": SECRET}
    app = make_app(root, environment=env)
    app.deploy()
    # Make the lockfile look as an older sstdirect wrote it: no salt, unsalted sha256 of the environment.
    data = json.loads(app.state_path.read_text())
    del data["secret_salt"]
    envs = {a: dict(r.props["environment"]) for a, r in app.resources().items() if r.type == "lambda.Function"}
    assert set(envs) == {"Fn/function", "Api-GET-notes/function"}
    for address, value in envs.items():
        data["resources"][address]["props"]["environment"] = digest(value)
    fn = "Fn/function"
    app.state_path.write_text(json.dumps(data))

    for refresh in (False, True):  # the legacy hash matches: nothing to update
        assert make_app(root, environment=env).diff(refresh=refresh).is_empty
    assert not make_app(root, environment={"DB_PASSWORD": "other"}).diff(refresh=False).is_empty

    result = make_app(root, environment=env).deploy(refresh=False)
    assert result.changes == []
    after = json.loads(app.state_path.read_text())
    recorded = after["resources"][fn]["props"]["environment"]
    assert recorded.startswith("scrypt$") and len(after["secret_salt"]) == 32  # rewritten salted
    backup = app.state_path.with_name(app.state_path.name + ".bak").read_text()
    assert not [v for v in envs.values() if digest(v) in backup]  # nor does the .bak keep the unsalted hashes
    assert make_app(root, environment=env).diff(refresh=True).is_empty
    assert SECRET not in app.state_path.read_text()


def test_a_refreshed_plan_compares_secrets_in_clear_and_hashes_nothing(
    tmp_path: Path, mocked_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The slow hash is paid when a secret is recorded (a create or update), not by every refreshed plan."""
    import hashlib

    from sstdirect.engine import secrets

    root = handler_root(tmp_path)
    make_app(root, environment={"DB_PASSWORD": SECRET}).deploy()
    secrets.forget_hashes()
    calls: list[int] = []
    real = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert make_app(root, environment={"DB_PASSWORD": SECRET}).diff(refresh=True).is_empty
    plan = make_app(root, environment={"DB_PASSWORD": "rotated"}).diff(refresh=True)
    assert [c.changed for c in plan.changes] == [("environment",)] and "rotated" not in plan.to_json_str()
    assert calls == []
    assert make_app(root, environment={"DB_PASSWORD": SECRET}).diff(refresh=False).is_empty
    assert len(calls) == 2  # without refresh, the lockfile's hashes are the only reference (both functions)


def test_equal_secrets_hashed_at_once_are_hashed_once_and_few_hashes_run_together(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A deploy records secrets from up to 64 threads; each scrypt holds 16 MiB while it runs."""
    import hashlib
    import threading
    import time

    from sstdirect.engine import secrets

    secrets.forget_hashes()
    running, most, calls = [0], [0], []
    lock = threading.Lock()
    real = hashlib.scrypt

    def counting(*args: Any, **kwargs: Any) -> bytes:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            calls.append(args[0])
        time.sleep(0.02)
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(hashlib, "scrypt", counting)
    salt = new_salt()
    values = [{"SAME": "x"}] * 32 + [{"OWN": str(i)} for i in range(16)]
    out: dict[int, str] = {}
    threads = [threading.Thread(target=lambda i=i, v=v: out.__setitem__(i, secrets.secret_hash(v, salt)))
               for i, v in enumerate(values)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 + 16  # the shared environment once, each other one once
    assert most[0] <= 4
    assert len({out[i] for i in range(32)}) == 1 and len(set(out.values())) == 17
    assert all(secrets.secret_matches(v, out[i], salt) for i, v in enumerate(values))


def test_a_process_refused_just_after_the_holder_took_the_lock_still_names_it(tmp_path: Path) -> None:
    """The holder writes its record just after flock; a process refused in that gap used to report an
    "unknown process" (seen when two deploys started together)."""
    import fcntl
    import threading

    path = tmp_path / "notes.dev.json"
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held, record not written yet
        record = json.dumps({"pid": 4242, "operation": "deploy"}).encode()
        writer = threading.Timer(0.05, lambda: os.pwrite(fd, record, 0))
        writer.start()
        with pytest.raises(StateLockedError) as exc_info, StateFile(path).lock("remove"):
            pytest.fail("took a lock another holder has")
        writer.join()
        assert exc_info.value.holder == {"pid": 4242, "operation": "deploy"}
        assert "pid 4242" in str(exc_info.value)
    finally:
        os.close(fd)


def test_a_temp_file_a_failed_save_could_not_remove_never_masks_the_next_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder that turns immutable mid-save: the rename fails with EPERM and so does the temp file's
    removal. The next save must report the folder's EPERM again, not an EEXIST on the leftover temp file
    (seen about once in 20 runs of the crash tier's immutable-folder test before temp names were unique)."""
    path = tmp_path / "notes.dev.json"
    files = StateFile(path)
    files.save(sample_state())

    def denied(*_: Any, **__: Any) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "replace", denied)
    monkeypatch.setattr(os, "unlink", denied)
    for _ in range(2):
        with pytest.raises(StateError, match=r"EPERM \(Operation not permitted\)"):
            files.save(sample_state())
