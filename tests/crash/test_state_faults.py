"""The lockfile survives errors, not only kills (issue 12, "State writes are all-or-nothing").

Every failure is a real one: a file size limit (``RLIMIT_FSIZE`` in a child process, ``SIGXFSZ``
ignored: the kernel cuts a write short, then refuses it with ``EFBIG``), a full file system (a tiny
tmpfs, when the tests run as root and may mount), a read-only folder (``chmod``, ``chattr +i``, a
read-only bind mount), symbolic links planted where sstdirect writes, and hand-broken lockfiles. Each
write fault must raise :class:`StateError` naming the lockfile and the cause, and leave the lockfile
and its ``.bak`` byte for byte at their last complete version; each bad lockfile must be refused with
a StateError and left untouched (bytes, mtime, inode), also through the CLI (exit 1, no traceback).
Cases that need root or a permitted ``mount`` are skipped cleanly elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sstdirect.engine.resource import registered_types
from sstdirect.errors import DeployError, StateError, StateLockedError
from sstdirect.state import MAX_DEPTH, SCHEMA_VERSION, State, StateFile, dumps_state
from tests.unit.test_state import folder, sample_state, snapshot

ROOT = os.geteuid() == 0


def saved_twice(path: Path, blob: int = 0) -> StateFile:
    """A lockfile with a ``.bak``: two complete versions on disk (serial 2 and 1), ``blob`` bytes bigger."""
    sf = StateFile(path)
    state = sample_state()
    if blob:
        state.outputs["Api"]["blob"] = "x" * blob
    sf.save(state)
    sf.save(state)
    return sf


def both(path: Path) -> tuple[tuple[bytes, int, int], tuple[bytes, int, int]]:
    return snapshot(path), snapshot(path.with_name(path.name + ".bak"))


def temp_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".tmp"))


def grown(sf: StateFile, size: int) -> Any:
    state = sf.load()
    state.outputs["Api"]["blob"] = "x" * size
    return state


# --- a file size limit: a real short write, then EFBIG ----------------------------------------------

FSIZE_CHILD = textwrap.dedent("""
    import errno, json, os, resource, signal, sys
    from sstdirect.errors import StateError
    from sstdirect.state import StateFile
    path, limit, grow, links = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "links"
    if not links:  # a folder that takes no hard links (vfat, some network file systems): .bak is copied
        def no_links(*args, **kwargs):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        os.link = no_links
    sf = StateFile(path)
    state = sf.load()
    state.outputs["Api"]["blob"] = "x" * grow  # grow=0: the blob goes, the new version is smaller
    if not grow:
        del state.outputs["Api"]["blob"]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit is cut short, then EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        sf.save(state)
    except StateError as exc:
        print(json.dumps({"error": str(exc)}))
    else:
        print(json.dumps({"error": None}))
""")


def save_under_a_size_limit(path: Path, limit: int, grow: int, links: bool) -> str | None:
    proc = subprocess.run([sys.executable, "-c", FSIZE_CHILD, str(path), str(limit), str(grow),
                           "links" if links else "copies"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)["error"]


def test_a_write_cut_short_by_a_file_size_limit_is_a_state_error_and_keeps_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "notes.dev.json"
    saved_twice(path)
    before = both(path)
    # The new version is ~20 KB; the limit lets the first ~len(old)+1000 bytes through, then EFBIG.
    error = save_under_a_size_limit(path, limit=path.stat().st_size + 1000, grow=20_000, links=True)
    assert error is not None, "the cut-short save reported success"
    text = " ".join(error.split())
    assert str(path) in text and "EFBIG" in text and "last complete version" in text
    assert both(path) == before
    assert temp_files(path) == []
    assert StateFile(path).load().serial == 2


def test_a_bak_copy_cut_short_is_a_state_error_and_keeps_the_old_bak(tmp_path: Path) -> None:
    """Where hard links are refused, .bak is a copy of the lockfile: a copy cut short must never
    replace the old .bak (the issue's disk had both files cut at a page boundary)."""
    path = tmp_path / "notes.dev.json"
    saved_twice(path, blob=20_000)
    before = both(path)
    # The new version (the blob dropped) fits under the limit; the copy of the current one does not.
    error = save_under_a_size_limit(path, limit=path.stat().st_size // 2, grow=0, links=False)
    assert error is not None, "the cut-short .bak copy reported success"
    text = " ".join(error.split())
    assert str(path) in text and "EFBIG" in text and f"{path}.bak" in text
    assert both(path) == before
    assert temp_files(path) == []


def test_without_hard_links_bak_is_a_complete_copy(tmp_path: Path) -> None:
    path = tmp_path / "notes.dev.json"
    saved_twice(path)
    previous = path.read_bytes()
    assert save_under_a_size_limit(path, limit=10**7, grow=0, links=False) is None
    assert path.with_name(path.name + ".bak").read_bytes() == previous
    assert StateFile(path).load().serial == 3


# --- a full file system (root: a tiny tmpfs) ----------------------------------------------------------


@contextlib.contextmanager
def tiny_tmpfs(size_kb: int) -> Iterator[Path]:
    """A tmpfs of ``size_kb`` KiB mounted on a fresh folder; skips unless root may mount one."""
    if not ROOT or not shutil.which("mount"):
        pytest.skip("a tiny tmpfs needs root and mount(8)")
    mnt = Path(tempfile.mkdtemp(prefix="sstdirect-tinyfs-"))
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0700", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        mnt.rmdir()
        pytest.skip(f"mounting a tmpfs is not permitted here: {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        mnt.rmdir()


def fill(path: Path, leave: int) -> None:
    """Fill the file system of ``path`` (a new file), then give back ``leave`` bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while os.write(fd, b"\1" * 4096):
                pass
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.truncate(path, max(0, path.stat().st_size - leave))


def test_a_full_file_system_is_a_state_error_and_keeps_both_versions() -> None:
    with tiny_tmpfs(256) as mnt:
        path = mnt / ".sstdirect" / "notes.dev.json"
        sf = saved_twice(path)
        before = both(path)
        fill(mnt / "filler", leave=8192)
        with pytest.raises(StateError) as exc_info:
            sf.save(grown(sf, 40_000))
        text = " ".join(str(exc_info.value).split())
        assert str(path) in text and "ENOSPC" in text and "last complete version" in text
        assert both(path) == before
        assert temp_files(path) == []
        # Space again: the next save goes through and the serial still only grows.
        (mnt / "filler").unlink()
        sf.save(grown(sf, 40_000))
        after = StateFile(path).load()
        assert after.serial > 2 and len(after.outputs["Api"]["blob"]) == 40_000


# --- a read-only folder or file system --------------------------------------------------------------


@contextlib.contextmanager
def read_only(folder_path: Path, how: str) -> Iterator[str]:
    """Make ``folder_path`` refuse new entries; yields the errno name the OS gives."""
    if how == "chmod":
        if ROOT:
            pytest.skip("root ignores a folder's mode")
        folder_path.chmod(0o500)
        try:
            yield "EACCES"
        finally:
            folder_path.chmod(0o700)
    elif how == "chattr":
        if not ROOT or not shutil.which("chattr"):
            pytest.skip("chattr +i needs root")
        proc = subprocess.run(["chattr", "+i", str(folder_path)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"chattr +i is not supported here: {proc.stderr.strip()}")
        try:
            yield "EPERM"
        finally:
            subprocess.run(["chattr", "-i", str(folder_path)], check=True)
    else:
        if not ROOT or not shutil.which("mount"):
            pytest.skip("a read-only bind mount needs root")
        proc = subprocess.run(["mount", "--bind", str(folder_path), str(folder_path)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"bind mounts are not permitted here: {proc.stderr.strip()}")
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(folder_path)], check=True, capture_output=True)
            yield "EROFS"
        finally:
            subprocess.run(["umount", "-l", str(folder_path)], capture_output=True)


@pytest.mark.parametrize("how", ["chmod", "chattr", "ro-mount"])
def test_a_read_only_folder_is_a_state_error_and_the_lockfile_is_untouched(tmp_path: Path, how: str) -> None:
    path = tmp_path / "state" / "notes.dev.json"
    sf = saved_twice(path)
    with sf.lock("deploy"):  # the .lock file exists, as after any earlier run
        pass
    before, listing = both(path), folder(path)
    with read_only(path.parent, how) as code:
        with pytest.raises(StateError) as exc_info:
            sf.save(grown(sf, 100))
        text = " ".join(str(exc_info.value).split())
        assert str(path) in text and code in text, text
        if how == "ro-mount":  # not even the lock can be taken: refused before anything else
            with pytest.raises(StateError, match="EROFS"), sf.lock("deploy"):
                pass
        with pytest.raises(StateError, match=code):
            sf.delete()
    assert both(path) == before and folder(path) == listing


# --- symbolic links ---------------------------------------------------------------------------------


def test_a_symlinked_lockfile_is_followed_consistently(tmp_path: Path) -> None:
    """The link stays a link; the .bak, the .lock and the temp files live beside its target, so two
    links to one lockfile share one lock."""
    shared = tmp_path / "shared"
    shared.mkdir()
    target = shared / "notes.json"
    links = []
    for name in ("app1", "app2"):
        (tmp_path / name / ".sstdirect").mkdir(parents=True)
        link = tmp_path / name / ".sstdirect" / "notes.dev.json"
        link.symlink_to(target)
        links.append(link)
    sf = StateFile(links[0])
    state = sample_state()
    with sf.lock("deploy"):
        sf.save(state)
        sf.save(state)
        with pytest.raises(StateLockedError), StateFile(links[1]).lock("deploy"):  # the other link's: the same lock
            pass
    assert links[0].is_symlink() and os.readlink(links[0]) == str(target)
    assert json.loads(target.read_bytes())["serial"] == 2
    assert json.loads((shared / "notes.json.bak").read_bytes())["serial"] == 1
    assert sorted(p.name for p in shared.iterdir()) == ["notes.json", "notes.json.bak", "notes.json.lock"]
    for link in links:
        assert [p.name for p in link.parent.iterdir()] == ["notes.dev.json"]
    assert StateFile(links[1]).load().serial == 2
    StateFile(links[1]).delete()  # the target becomes the .bak; the link is left, dangling
    assert not target.exists() and links[1].is_symlink()
    assert json.loads((shared / "notes.json.bak").read_bytes())["serial"] == 2


def test_a_lock_file_that_is_a_symlink_is_refused_and_what_it_points_to_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.dev.json"
    victim = tmp_path / "precious.txt"
    victim.write_text("do not truncate me\n")
    path.with_name(path.name + ".lock").symlink_to(victim)
    with pytest.raises(StateError) as exc_info, StateFile(path).lock("deploy"):
        pass
    text = " ".join(str(exc_info.value).split())
    assert f"{path}.lock" in text and "symbolic link" in text
    assert victim.read_text() == "do not truncate me\n"


def test_a_link_planted_at_the_temp_name_is_never_written_through(tmp_path: Path) -> None:
    path = tmp_path / "notes.dev.json"
    sf = saved_twice(path)
    victim = tmp_path / "precious.txt"
    victim.write_text("do not overwrite me\n")
    planted = tmp_path / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    planted.symlink_to(victim)
    sf.save(grown(sf, 10))
    assert victim.read_text() == "do not overwrite me\n"
    assert not path.is_symlink() and StateFile(path).load().serial == 3
    assert temp_files(path) == []


# --- loading: what is not the lockfile's shape is a StateError, the file untouched ----------------------


def _doc() -> dict[str, Any]:
    data = sample_state().to_json()
    data["serial"] = 4
    return data


def edited(edit: Any) -> bytes:
    data = _doc()
    edit(data)
    return json.dumps(data, indent=1).encode()


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth - 1):
        value = {"k": value}
    return value


def _set(*keys: str, value: Any) -> Any:
    def edit(data: dict[str, Any]) -> None:
        for key in keys[:-1]:
            data = data[key]
        data[keys[-1]] = value
    return edit


FN = ("resources", "Fn/function")
DEEP_FOR_THE_PARSER = b'{"schema_version": 1, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

# (id, file bytes, what the message must say)
SHAPE_CASES: list[tuple[str, bytes, str]] = [
    ("schema-version-0", edited(_set("schema_version", value=0)), r"schema_version 0, which no sstdirect writes"),
    ("schema-version-negative", edited(_set("schema_version", value=-1)), r"schema_version -1, which no sstdirect"),
    ("schema-version-true", edited(_set("schema_version", value=True)), r"malformed 'schema_version' \(true/false"),
    ("schema-version-string", edited(_set("schema_version", value="1")), r"malformed 'schema_version' \(a string"),
    ("schema-version-float", edited(_set("schema_version", value=1.0)), r"malformed 'schema_version' \(a number"),
    ("unknown-type", edited(_set(*FN, "type", value="lambda.Functoin")),
     r"resource 'Fn/function': has unknown type 'lambda.Functoin'"),
    ("attrs-a-list", edited(_set(*FN, "attrs", value=[])),
     r"resource 'Fn/function': 'attrs' is an array, not an object"),
    ("attrs-a-list-of-pairs", edited(_set(*FN, "attrs", value=[["arn", "x"]])), r"'attrs' is an array"),
    ("props-a-string", edited(_set(*FN, "props", value="{}")), r"'props' is a string, not an object"),
    ("serial-a-string", edited(_set("serial", value="4")), r"malformed 'serial'"),
    ("serial-true", edited(_set("serial", value=True)), r"malformed 'serial'"),
    ("serial-negative", edited(_set("serial", value=-3)), r"malformed 'serial'"),
    ("depends-on-a-dict", edited(_set(*FN, "depends_on", value={"Fn/role": True})),
     r"'depends_on' is an object, not an array of addresses"),
    ("depends-on-a-string", edited(_set(*FN, "depends_on", value="Fn/role")), r"'depends_on' is a string"),
    ("depends-on-numbers", edited(_set(*FN, "depends_on", value=[1])), r"'depends_on' holds something other than"),
    ("physical-id-a-number", edited(_set(*FN, "physical_id", value=5)), r"'physical_id' is a number"),
    ("props-hash-a-list", edited(_set(*FN, "props_hash", value=["sha256:cc"])), r"'props_hash' is an array"),
    ("status-a-list", edited(_set(*FN, "status", value=["created"])), r"unknown status \['created'\]"),
    ("deposed-attrs-a-list", edited(lambda d: d["resources"]["Fn/function"]["deposed"][0].update(attrs=[])),
     r"resource 'Fn/function': deposed\[0\] 'attrs' is an array"),
    ("deposed-unknown-type", edited(lambda d: d["resources"]["Fn/function"]["deposed"][0].update(type="x.Y")),
     r"deposed\[0\] has unknown type 'x.Y'"),
    ("deposed-a-string", edited(_set(*FN, "deposed", value=["dev-notes-Fn-old"])), r"deposed\[0\] is a string"),
    ("output-a-list", edited(_set("outputs", "Api", value=["https://x"])), r"malformed output 'Api' \(an array"),
    ("account-a-number", edited(_set("account", value=123456789012)), r"malformed 'account' \(a number"),
    ("app-empty", edited(_set("app", value="")), r"malformed 'app'"),
    ("nested-past-the-limit", edited(_set(*FN, "attrs", value={"deep": nested(MAX_DEPTH)})),
     rf"nests JSON deeper than {MAX_DEPTH} levels"),
    ("nested-past-the-parser", DEEP_FOR_THE_PARSER, r"nests JSON deeper than Python's parser can follow"),
]


@pytest.mark.parametrize(("content", "message"), [c[1:] for c in SHAPE_CASES], ids=[c[0] for c in SHAPE_CASES])
def test_a_lockfile_of_the_wrong_shape_is_a_state_error_and_left_untouched(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "notes.dev.json"
    path.write_bytes(content)
    before, listing = snapshot(path), folder(path)
    with pytest.raises(StateError) as exc_info:
        StateFile(path, registered_types).load(app="notes", stage="dev", region="us-east-1")  # as the App loads it
    text = " ".join(str(exc_info.value).split())
    assert re.search(message, text), text
    assert str(path) in text and "untouched" in text
    assert snapshot(path) == before and folder(path) == listing


def test_nesting_up_to_the_limit_loads() -> None:
    data = _doc()
    data["resources"]["Fn/function"]["attrs"] = {"deep": nested(MAX_DEPTH - 4)}  # doc → resources → rec → attrs
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.json"
        path.write_bytes(json.dumps(data).encode())
        StateFile(path).load()


def test_every_schema_version_this_one_writes_loads(tmp_path: Path) -> None:
    """Only 1 has ever been written; a v1 lockfile of before secret_salt still loads (and gets a salt)."""
    path = tmp_path / "old.json"
    data = _doc()
    del data["secret_salt"]
    assert data["schema_version"] == SCHEMA_VERSION == 1
    path.write_bytes(json.dumps(data).encode())
    assert len(StateFile(path).load().secret_salt) == 32


# Mutations of a valid lockfile: any JSON value at any place, a key dropped or added.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
FIELD_NAMES = st.sampled_from(["type", "status", "physical_id", "attrs", "props", "props_hash", "depends_on",
                               "deposed", "address", "schema_version", "serial", "app", "outputs", "account",
                               "secret_salt", "resources", "lineage"]) | st.text(max_size=6)


def _paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*here, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*here, i))


PATHS = list(_paths(_doc()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutated_lockfile_only_ever_loads_or_is_a_state_error(data: st.DataObject) -> None:
    doc = _doc()
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(PATHS), label="at")
        parent: Any = doc
        try:
            for key in path[:-1]:
                parent = parent[key]
            if path:
                parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this place
        kind = data.draw(st.sampled_from(["replace", "drop", "add"]), label="kind")
        if not path:
            doc = data.draw(JSON_VALUES, label="document")
            break
        if kind == "replace":
            parent[path[-1]] = data.draw(JSON_VALUES, label="value")
        elif kind == "drop":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(FIELD_NAMES, label="key")] = data.draw(JSON_VALUES, label="value")
    content = json.dumps(doc).encode()
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "notes.dev.json"
        file.write_bytes(content)
        try:
            state = StateFile(file).load()
        except StateError as exc:
            assert str(file) in str(exc)
        else:
            assert_faithful(doc, state)
        assert file.read_bytes() == content


def assert_faithful(doc: Any, state: Any) -> None:
    """A lockfile that loads is the lockfile's shape, and was taken as written: no value was coerced
    (``dict([["a", "b"]])``, ``list("abc")``) or dropped, and it saves back to the same values."""
    assert type(doc["schema_version"]) is int and doc["schema_version"] == SCHEMA_VERSION
    assert type(state.serial) is int and state.serial >= 0
    assert all(isinstance(v, str) and v for v in (state.lineage, state.app, state.stage, state.region))
    assert state.account is None or isinstance(state.account, str)
    assert all(isinstance(v, dict) for v in state.outputs.values())
    written = json.loads(dumps_state(state.to_json()))
    for key in ("lineage", "serial", "app", "stage", "region", "outputs"):
        assert written[key] == doc[key], key
    assert written["account"] == doc.get("account")
    for address, raw in doc["resources"].items():
        kept(raw, written["resources"][address], address)


def kept(raw: dict[str, Any], written: dict[str, Any], where: str) -> None:
    assert isinstance(written["attrs"], dict) and isinstance(written["props"], dict), where
    assert isinstance(written["physical_id"], str | None) and isinstance(written["props_hash"], str), where
    assert all(isinstance(d, str) for d in written["depends_on"]), where
    for key, value in raw.items():
        if key == "deposed":
            assert len(written["deposed"]) == len(value), where
            for i, (old, new) in enumerate(zip(value, written["deposed"], strict=True)):
                kept(old, new, f"{where} deposed[{i}]")
        elif key in written:
            assert written[key] == value, (where, key)


# --- through the App and the CLI, on the embedded AWS ----------------------------------------------------

READ_ONLY_CALLS = ("Get", "List", "Describe", "AssumeRole")


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials")})
    return env


def sstdirect_cli() -> str:
    return str(Path(sys.executable).parent / "sstdirect")


def write_app(root: Path, name: str) -> Path:
    (root / "src").mkdir(exist_ok=True)
    (root / "src" / "h.py").write_text("def main(e, c):\n    return {'statusCode': 200}\n")
    (root / "APP.py").write_text(textwrap.dedent(f"""
        from pathlib import Path
        from sstdirect import Api, App, Function
        app = App({name!r}, stage="dev", root=Path(__file__).parent)
        Api(app, "Api", routes={{"GET /notes": "src/h.main", "POST /notes": "src/h.main",
                                "GET /notes/{{id}}": "src/h.main"}})
        Function(app, "Worker", handler="src/h.main")
    """))
    return root / "APP.py"


@pytest.mark.parametrize("case", ["unknown-type", "attrs-a-list", "nested-past-the-parser"])
def test_the_cli_on_a_lockfile_of_the_wrong_shape_exits_1_and_leaves_it_byte_identical(
    tmp_path: Path, local_cloud: Any, case: str
) -> None:
    _, content, message = next(c for c in SHAPE_CASES if c[0] == case)
    write_app(tmp_path, "notes")
    lockfile = tmp_path / ".sstdirect" / "notes.dev.json"
    lockfile.parent.mkdir()
    lockfile.write_bytes(content)
    before, listing = snapshot(lockfile), folder(lockfile)
    proc = subprocess.run([sstdirect_cli(), "deploy", "APP.py", "--endpoint-url", local_cloud.endpoint_url],
                          cwd=tmp_path, env=cli_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    err = " ".join(proc.stderr.split())
    assert err.startswith("StateError: ") and re.search(message, err), err
    assert str(lockfile) in "".join(err.split())  # rich may break the path over lines
    assert snapshot(lockfile) == before
    assert folder(lockfile) - {"notes.dev.json.lock", "cache"} == listing


def api_count(cloud: Any, name: str) -> int:
    apis = cloud.client("apigatewayv2").get_apis()["Items"]
    return sum(1 for a in apis if name in a["Name"])


@contextlib.contextmanager
def unwritable(folder_path: Path) -> Iterator[None]:
    """The folder refuses new entries from now on (root: chattr +i; others: chmod 0500)."""
    if ROOT:
        proc = subprocess.run(["chattr", "+i", str(folder_path)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"chattr +i is not supported here: {proc.stderr.strip()}")
    else:
        folder_path.chmod(0o500)
    try:
        yield
    finally:
        if ROOT:
            subprocess.run(["chattr", "-i", str(folder_path)], check=True)
        else:
            folder_path.chmod(0o700)


def test_a_deploy_whose_lockfile_writes_start_failing_stops_with_a_state_error(
    tmp_path: Path, local_cloud: Any
) -> None:
    """The state folder turns unwritable at the deploy's 3rd AWS write: the deploy stops with a
    StateError naming the lockfile, which holds its last complete version; the next deploy converges."""
    from sstdirect import Api, App, Function

    name = f"sf{uuid.uuid4().hex[:6]}"
    write_app(tmp_path, name)
    session = local_cloud.session()
    app = App(name, stage="dev", root=tmp_path, session=session, endpoint_url=local_cloud.endpoint_url)
    Api(app, "Api", routes={"GET /notes": "src/h.main", "POST /notes": "src/h.main"})
    Function(app, "Worker", handler="src/h.main")
    lockfile = Path(app.state_path)
    writes: list[str] = []
    fault = contextlib.ExitStack()
    last: dict[str, bytes] = {}

    def after_call(event_name: str, **_: Any) -> None:
        operation = event_name.split(".")[-1]
        if operation.startswith(READ_ONLY_CALLS):
            return
        writes.append(operation)
        if len(writes) == 3:
            fault.enter_context(unwritable(lockfile.parent))
            last["lockfile"] = lockfile.read_bytes()  # no write can land after this: the last version

    session.events.register("after-call.*.*", after_call)
    with fault:
        with pytest.raises((StateError, DeployError)) as exc_info:
            app.deploy()
        session.events.unregister("after-call.*.*", after_call)
        error = exc_info.value
        # The lead's executor lets a save's StateError through as it is (a DeployError wrapping it, before).
        state_error = error if isinstance(error, StateError) else error.__cause__
        assert isinstance(state_error, StateError), repr(error)
        assert str(lockfile) in str(state_error) and ("EPERM" in str(state_error) or "EACCES" in str(state_error))
        assert lockfile.read_bytes() == last["lockfile"]
        assert StateFile(lockfile).load().resources  # complete: it loads
    assert isinstance(error, StateError), f"the deploy stopped with {type(error).__name__}, not StateError"
    # A save in flight when the folder froze may have left its temp file (it could not be unlinked then).
    # With the folder writable again, the next deploy finishes the job (one API, nothing left to do) and
    # sweeps such leftovers.
    app.deploy()
    assert api_count(local_cloud, name) == 1
    assert app.diff().is_empty
    assert temp_files(lockfile) == []


def test_the_cli_deploy_under_a_file_size_limit_exits_1_naming_the_lockfile_and_keeps_it_complete(
    tmp_path: Path, local_cloud: Any
) -> None:
    """A real limit (RLIMIT_FSIZE, SIGXFSZ ignored, inherited by the CLI process) that the lockfile
    outgrows part way: exit 1, ``StateError: ... EFBIG``, no traceback, the lockfile a complete version."""
    import resource
    import signal

    name = f"sz{uuid.uuid4().hex[:6]}"
    write_app(tmp_path, name)
    lockfile = tmp_path / ".sstdirect" / f"{name}.dev.json"
    limit = 6000  # a few records fit; the whole app's lockfile (~15 KB) does not

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [sstdirect_cli(), "deploy", "APP.py", "--endpoint-url", local_cloud.endpoint_url]
    proc = subprocess.run(command, cwd=tmp_path, env=cli_env(tmp_path), capture_output=True, text=True,
                          timeout=180, preexec_fn=limited)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    err = " ".join(proc.stderr.split())
    assert err.startswith("StateError: ") and "EFBIG" in err, err
    assert f"cannotwritelockfile{lockfile}" in "".join(err.split()), err  # rich may break the path over lines
    assert lockfile.stat().st_size <= limit
    recorded = StateFile(lockfile).load()  # complete: it loads, and its .bak too
    assert recorded.resources and StateFile(lockfile.with_name(lockfile.name + ".bak")).load().serial < recorded.serial
    assert temp_files(lockfile) == []
    again = subprocess.run(command, cwd=tmp_path, env=cli_env(tmp_path), capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    assert api_count(local_cloud, name) == 1


def test_a_save_sweeps_temp_files_earlier_failed_writes_could_not_remove(tmp_path: Path) -> None:
    """Temp files of this process and of dead processes are removed by the next successful save; a live
    process's (it may be writing) and other files are kept."""
    sf = StateFile(tmp_path / "app.dev.json")
    sf.save(State(app="app", stage="dev", region="us-east-1"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    left = [f".app.dev.json.{os.getpid()}.1.tmp", f".app.dev.json.bak.{dead}.2.tmp"]
    kept = [f".app.dev.json.{os.getppid()}.3.tmp", ".other.json.1.1.tmp", "notes.tmp"]
    for name in left + kept:
        (tmp_path / name).write_text("{")
    sf.save(sf.load())
    assert temp_files(sf.path) == sorted(kept)
