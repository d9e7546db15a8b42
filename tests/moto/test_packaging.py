"""Tests of sstdirect.packaging: handler resolution and deterministic, cached Lambda bundles."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest

from sstdirect import packaging
from sstdirect.errors import ConfigError
from sstdirect.packaging import Bundle, HandlerLocation, build_bundle, resolve_handler

CONSTRUCT = "Api 'Api' route 'GET /notes'"
OLD_NS = 1_500_000_000 * 10**9  # 2017: far outside the racy window


@pytest.fixture(autouse=True)
def _clean_stats():
    packaging.stats.clear()
    yield
    packaging.stats.clear()


def write(path: Path, text: str = "", mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def age(tree: Path) -> None:
    """Give every file under ``tree`` an old mtime."""
    for dirpath, _dirs, files in os.walk(tree):
        for name in files:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.utime(p, ns=(OLD_NS, OLD_NS))


def names(bundle: Bundle) -> list[str]:
    with zipfile.ZipFile(bundle.path) as zf:
        return zf.namelist()


# ---------------------------------------------------------------------------------------------
# resolve_handler
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "app"
    write(root / "src" / "list.py", "import json\n\n\ndef main(event, context):\n    return {}\n")
    write(root / "src" / "notes.py", "NOTES = {}\n")
    write(root / "src" / "annot.py", "from typing import Callable\nmain: Callable\n")
    write(root / "src" / "broken.py", "def main(event, context):\n    return 1\nif True\n    pass\n")
    write(root / "src" / "api" / "get.py", "def main(event, context):\n    return {}\n")
    write(root / "src" / "my-pkg" / "h.py", "def main(event, context):\n    return {}\n")
    write(root / "services" / "notes" / "create.py", "async def main(event, context):\n    return {}\n")
    write(root / "lib" / "other.py", "def main(event, context):\n    return {}\n")
    write(tmp_path / "outside" / "evil.py", "def main(event, context):\n    return {}\n")
    (root / "src" / "evil.py").symlink_to(tmp_path / "outside" / "evil.py")
    (root / "src" / "linked.py").symlink_to(root / "lib" / "other.py")
    (root / "elsewhere").mkdir()
    return root


def test_resolve_without_src_zips_the_handlers_folder(project: Path):
    loc = resolve_handler(project, "src/list.main", construct=CONSTRUCT)
    assert loc == HandlerLocation(
        code_dir=project.resolve() / "src",
        file=project.resolve() / "src" / "list.py",
        lambda_handler="list.main",
        import_root=project.resolve(),  # `from core.db import x` finds <root>/core/db.py, as on Lambda's bundle
    )
    assert loc.code_dir.is_absolute() and loc.file.is_absolute()


def test_resolve_nested_folder_and_str_root(project: Path):
    loc = resolve_handler(str(project), "./services/notes/create.main")
    assert loc.code_dir == project.resolve() / "services" / "notes"
    assert loc.lambda_handler == "create.main"


def test_resolve_with_src_uses_dotted_module_path(project: Path):
    loc = resolve_handler(project, "api/get.main", src="src", construct=CONSTRUCT)
    assert loc.code_dir == project.resolve() / "src"
    assert loc.file == project.resolve() / "src" / "api" / "get.py"
    assert loc.lambda_handler == "api.get.main"
    assert resolve_handler(project, "list.main", src="src").lambda_handler == "list.main"
    assert resolve_handler(project, "src/list.main", src=".").lambda_handler == "src.list.main"
    assert resolve_handler(project, "list.main", src=project / "src").code_dir == project.resolve() / "src"


@pytest.mark.parametrize(
    "source",
    [
        "def main(event, context):\n    pass\n",
        "async def main(event, context):\n    pass\n",
        "import functools\n\n@functools.lru_cache\ndef main(event, context):\n    pass\n",
        "from mangum import Mangum\nfrom app import app\nmain = Mangum(app)\n",
        "from typing import Any\nmain: Any = object()\n",
        "a, (b, main) = 1, (2, 3)\n",
        "first, *main = [1, 2, 3]\n",
        "x = main = None\n",
        "import handlers as main\n",
        "import main.sub\n",
        "from handlers import main\n",
        "from handlers import handle as main\n",
        "class main:\n    def __init__(self, event, context):\n        pass\n",
        "try:\n    from fast import main\nexcept ImportError:\n    def main(event, context):\n        pass\n",
        "import os\nif os.environ.get('X'):\n    main = 1\nelse:\n    main = 2\n",
        "with open(__file__) as main:\n    pass\n",
        "from handlers import *\n",  # cannot be ruled out without importing
    ],
    ids=[
        "def", "async-def", "decorated", "mangum-assignment", "annotated-assignment", "tuple-target",
        "starred-target", "chained-assignment", "import-as", "import-dotted", "from-import",
        "from-import-as", "class", "try-except", "if-else", "with-as", "star-import",
    ],
)
def test_defined_names_found_without_importing(tmp_path: Path, source: str):
    # Importing any of these would fail (missing modules): proof that the file is parsed, not run.
    write(tmp_path / "h.py", source)
    assert resolve_handler(tmp_path, "h.main").lambda_handler == "h.main"


def test_nested_function_or_method_does_not_count(tmp_path: Path):
    write(tmp_path / "h.py", "def outer():\n    def main():\n        pass\n\nclass C:\n    def main(self):\n"
                             "        pass\n")
    with pytest.raises(ConfigError, match="does not define"):
        resolve_handler(tmp_path, "h.main", construct=CONSTRUCT)


# (handler, src, what the message says, the fix it suggests, the key it names)
BAD_HANDLERS = [
    ("", None, "is empty", "'path/to/file.function'", "handler"),
    ("   ", None, "is empty", "'src/list.main'", "handler"),
    ("src/list", None, "no '.' separating", "'src/list.main'", "handler"),
    ("src/list.", None, "empty function name", "'path/to/file.function'", "handler"),
    (".main", None, "empty file path", "'path/to/file.function'", "handler"),
    ("src/.main", None, "empty file path", "'path/to/file.function'", "handler"),
    ("src/list.1main", None, "not a Python identifier", "'path/to/file.function'", "handler"),
    ("src/list.class", None, "not a Python identifier", "'path/to/file.function'", "handler"),
    ("src/my-list.main", None, "not a valid Python module name", "rename the file", "handler"),
    ("src/list.py.main", None, "'.py' extension", "'src/list.main'", "handler"),
    ("src\\list.main", None, "backslashes", "'/'", "handler"),
    ("src/ list.main", None, "whitespace", "remove the spaces", "handler"),
    ("../outside/evil.main", None, "leaves the root", "without '..'", "handler"),
    ("src/../../outside/evil.main", None, "leaves the root", "without '..'", "handler"),
    ("/etc/list.main", None, "absolute path", "relative to the app's root", "handler"),
    ("~/list.main", None, "absolute path", "relative to the app's root", "handler"),
    ("src/evil.main", None, "leaves the root", "inside the app's root", "handler"),
    ("src/linked.main", None, "outside the folder", "instead of linking", "handler"),
    ("src/missing.main", None, "does not exist: looked for {root}/src/missing.py", "create src/missing.py",
     "handler"),
    ("src/list.nothere", None, "does not define", "def nothere(event, context)", "handler"),
    ("src/list.py", None, "does not define", "write src/list.main", "handler"),
    ("src/annot.main", None, "does not define", "def main(event, context)", "handler"),
    ("src/broken.main", None, "{root}/src/broken.py, which has a syntax error at line 3",
     "fix the syntax error", "handler"),
    ("src/api.main", None, "does not exist", "src/api is a folder; name a .py file inside it", "handler"),
    ("list.main", "../elsewhere", "leaves the root", "inside the app's root", "src"),
    ("list.main", "/tmp", "leaves the root", "inside the app's root", "src"),
    ("list.main", "nope", "is not a folder", "create it", "src"),
    ("list.main", "", "is empty", "leave src unset", "src"),
    ("src/list.main", "src", "does not exist", "relative to {root}/src", "handler"),
    ("../lib/other.main", "src", "leaves the src folder", "point src at a folder", "handler"),
    ("my-pkg/h.main", "src", "not a valid Python package name", "rename the folder", "handler"),
    (123, None, "not a string", "'path/to/file.function'", "handler"),
]


@pytest.mark.parametrize(("handler", "src", "problem", "fix", "key"), BAD_HANDLERS,
                         ids=[f"{h!r}|src={s!r}" for h, s, *_ in BAD_HANDLERS])
def test_bad_handlers_are_config_errors(project: Path, handler, src, problem, fix, key):
    root = str(project.resolve())
    with pytest.raises(ConfigError) as info:
        resolve_handler(project, handler, src=src, construct=CONSTRUCT)
    msg = str(info.value)
    assert msg.startswith(CONSTRUCT + ": "), msg
    value = src if key == "src" else handler
    assert f"{key} {value!r}" in msg, msg
    assert problem.format(root=root) in msg, msg
    assert "Fix: " in msg and fix.format(root=root) in msg.split("Fix: ", 1)[1], msg


def test_missing_root_is_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"root folder .* does not exist"):
        resolve_handler(tmp_path / "nope", "src/list.main", construct="Function 'Fn'")


def test_error_without_construct_has_no_prefix(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        resolve_handler(tmp_path, "x.main")
    assert str(info.value).startswith("handler 'x.main'")


def test_syntax_error_is_not_imported_and_not_executed(tmp_path: Path):
    marker = tmp_path / "ran"
    write(tmp_path / "h.py", f"open({str(marker)!r}, 'w').close()\ndef main(event, context):\n    pass\n")
    resolve_handler(tmp_path, "h.main")
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# build_bundle: determinism and contents
# ---------------------------------------------------------------------------------------------


def make_tree(root: Path, *, file_mode: int = 0o644, reverse: bool = False) -> Path:
    files = {
        "list.py": "import notes\n\ndef main(event, context):\n    return notes.NOTES\n",
        "notes.py": "NOTES = {'id1': 1}\n",
        "pkg/__init__.py": "",
        "pkg/deep/data.json": '{"a": 1}\n',
        "Zeta.txt": "upper case sorts first\n",
        "ünïcode.txt": "non-ascii name\n",
    }
    items = sorted(files.items(), reverse=reverse)
    for rel, text in items:
        write(root / rel, text, mode=file_mode)
    write(root / "bin" / "tool.sh", "#!/bin/sh\necho hi\n", mode=0o755)
    return root


def test_zip_is_byte_identical_across_folders_mtimes_and_permissions(tmp_path: Path):
    a = make_tree(tmp_path / "one" / "code")
    b = make_tree(tmp_path / "two" / "elsewhere" / "code", file_mode=0o600, reverse=True)
    os.utime(b / "list.py", ns=(OLD_NS, OLD_NS))
    os.utime(a / "notes.py", ns=(OLD_NS * 2 // 3, OLD_NS * 2 // 3))

    bundle_a = build_bundle(a, cache_dir=tmp_path / "cache-a")
    bundle_b = build_bundle(b, cache_dir=tmp_path / "cache-b")
    assert packaging.stats["zip_built"] == 2  # really built twice, not shared through a cache
    data = bundle_a.read_bytes()
    assert data == bundle_b.read_bytes()
    assert bundle_a.sha256_b64 == bundle_b.sha256_b64
    assert bundle_a.sha256_b64 == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert bundle_a.size == len(data)
    assert bundle_a.path.parent == (tmp_path / "cache-a" / "zips").resolve()


def test_zip_entries_are_normalised(tmp_path: Path):
    code = make_tree(tmp_path / "code", file_mode=0o600)
    bundle = build_bundle(code, cache_dir=tmp_path / "cache")
    with zipfile.ZipFile(io.BytesIO(bundle.read_bytes())) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert [i.filename for i in infos] == [
            "Zeta.txt", "bin/tool.sh", "list.py", "notes.py", "pkg/__init__.py", "pkg/deep/data.json",
            "ünïcode.txt",
        ]
        for info in infos:
            assert not info.is_dir()
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.extra == b""
            assert info.create_system == 3
            assert info.compress_type == zipfile.ZIP_DEFLATED
            expected = 0o100755 if info.filename == "bin/tool.sh" else 0o100644
            assert info.external_attr >> 16 == expected, info.filename
        assert zf.read("list.py") == (code / "list.py").read_bytes()
        assert zf.testzip() is None


def test_excludes(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "handler.py", "def main(e, c):\n    pass\n")
    write(code / "env.py", "# a module named env is code\n")
    write(code / "sub" / "keep.py", "")
    excluded = [
        ".env", ".env.local", ".env.production", "sub/.env",
        ".git/config", ".git/objects/ab/cdef", "sub/.git",  # a worktree's .git is a file
        ".sstdirect/notes.dev.json", "__pycache__/handler.cpython-312.pyc", "sub/__pycache__/x.pyc",
        "stray.pyc", ".venv/lib/site.py", "venv/bin/python", "myenv/pyvenv.cfg", "myenv/lib/thing.py",
        "node_modules/left-pad/index.js", ".pytest_cache/v/cache", ".mypy_cache/x.json",
        ".ruff_cache/x", "sub/node_modules/a.js",
    ]
    for rel in excluded:
        write(code / rel, "secret\n")
    write(tmp_path / "outside.py", "SECRET = 1\n")
    (code / "out_link.py").symlink_to(tmp_path / "outside.py")
    (code / "out_dir").symlink_to(tmp_path, target_is_directory=True)
    (code / "in_link.py").symlink_to(code / "sub" / "keep.py")
    (code / "loop").symlink_to(code, target_is_directory=True)  # a cycle must not hang the walk
    (code / "dangling.py").symlink_to(code / "does-not-exist.py")

    got = names(build_bundle(code, cache_dir=code / ".sstdirect" / "cache"))
    assert got == ["env.py", "handler.py", "in_link.py", "sub/keep.py"]


def test_cache_dir_inside_code_dir_is_not_bundled(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "h.py", "x = 1\n")
    first = build_bundle(code, cache_dir=code / "build-cache")
    write(code / "h.py", "x = 22\n")
    assert names(build_bundle(code, cache_dir=code / "build-cache")) == ["h.py"]
    assert names(first) == ["h.py"]


def test_large_file_is_streamed(tmp_path: Path):
    code = tmp_path / "code"
    code.mkdir()
    blob = os.urandom(3 * 1024 * 1024 + 17)
    (code / "blob.bin").write_bytes(blob)
    bundle = build_bundle(code, cache_dir=tmp_path / "cache")
    with zipfile.ZipFile(bundle.path) as zf:
        assert zf.read("blob.bin") == blob


# ---------------------------------------------------------------------------------------------
# build_bundle: caching
# ---------------------------------------------------------------------------------------------


def test_fingerprint_hit_reads_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(packaging.build, "RACY_WINDOW_NS", 0)
    code = make_tree(tmp_path / "code")
    age(code)
    cache = tmp_path / "cache"
    first = build_bundle(code, cache_dir=cache)
    assert packaging.stats["zip_built"] == 1
    hashed = packaging.stats["files_hashed"]

    def no_reads(path):  # pragma: no cover - only runs if the cache is broken
        raise AssertionError(f"read {path} on a fingerprint hit")

    monkeypatch.setattr(packaging.zipper, "_hash_file", no_reads)
    second = build_bundle(code, cache_dir=cache)
    assert second == first
    assert packaging.stats["fingerprint_hit"] == 1
    assert packaging.stats["files_hashed"] == hashed
    assert (cache / "index.json").is_file()


def test_edit_changes_sha_and_touch_does_not(tmp_path: Path):
    code = make_tree(tmp_path / "code")
    cache = tmp_path / "cache"
    first = build_bundle(code, cache_dir=cache)

    # touch without change: same zip, reused from the content cache, not rebuilt
    os.utime(code / "notes.py", ns=(OLD_NS, OLD_NS))
    touched = build_bundle(code, cache_dir=cache)
    assert touched.sha256_b64 == first.sha256_b64
    assert packaging.stats["zip_built"] == 1

    # same-size edit right after a build (possibly within one timestamp tick): still noticed
    (code / "notes.py").write_text("NOTES = {'id1': 2}\n")
    edited = build_bundle(code, cache_dir=cache)
    assert edited.sha256_b64 != first.sha256_b64
    assert packaging.stats["zip_built"] == 2
    with zipfile.ZipFile(edited.path) as zf:
        assert zf.read("notes.py") == b"NOTES = {'id1': 2}\n"

    # back to the first contents: the first zip is reused by content hash
    (code / "notes.py").write_text("NOTES = {'id1': 1}\n")
    again = build_bundle(code, cache_dir=cache)
    assert again == first
    assert packaging.stats["zip_built"] == 2


def test_recently_modified_files_are_rehashed(tmp_path: Path):
    code = make_tree(tmp_path / "code")  # written just now: inside the racy window
    cache = tmp_path / "cache"
    build_bundle(code, cache_dir=cache)
    build_bundle(code, cache_dir=cache)
    assert packaging.stats["fingerprint_hit"] == 0
    assert packaging.stats["zip_reused"] == 1


def test_new_and_deleted_files_change_the_sha(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(packaging.build, "RACY_WINDOW_NS", 0)
    code = make_tree(tmp_path / "code")
    age(code)
    cache = tmp_path / "cache"
    base = build_bundle(code, cache_dir=cache)
    write(code / "new.py", "")
    age(code)
    added = build_bundle(code, cache_dir=cache)
    assert added.sha256_b64 != base.sha256_b64 and "new.py" in names(added)
    (code / "new.py").unlink()
    assert build_bundle(code, cache_dir=cache) == base
    (code / "bin" / "tool.sh").chmod(0o644)  # losing the executable bit is a change too
    assert build_bundle(code, cache_dir=cache).sha256_b64 != base.sha256_b64


def test_deleted_zip_or_broken_index_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(packaging.build, "RACY_WINDOW_NS", 0)
    code = make_tree(tmp_path / "code")
    age(code)
    cache = tmp_path / "cache"
    first = build_bundle(code, cache_dir=cache)
    first.path.unlink()
    second = build_bundle(code, cache_dir=cache)
    assert second == first and second.path.is_file()
    assert packaging.stats["fingerprint_hit"] == 0 and packaging.stats["zip_built"] == 2
    (cache / "index.json").write_text("{not json")
    assert build_bundle(code, cache_dir=cache) == first
    assert packaging.stats["zip_reused"] == 1
    shutil.rmtree(cache)
    assert build_bundle(code, cache_dir=cache).sha256_b64 == first.sha256_b64


def test_concurrent_builds_agree(tmp_path: Path):
    code = make_tree(tmp_path / "code")
    cache = tmp_path / "cache"
    results: list[Bundle] = []
    errors: list[BaseException] = []

    def run():
        try:
            results.append(build_bundle(code, cache_dir=cache))
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({r.sha256_b64 for r in results}) == 1
    assert packaging.stats["zip_built"] == 1
    leftovers = [p.name for p in (cache / "zips").iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"runtime": "nodejs18.x"}, "runtime 'nodejs18.x'.*python3.12"),
        ({"architecture": "aarch64"}, "architecture 'aarch64'.*'arm64'"),
    ],
)
def test_bad_runtime_or_architecture(tmp_path: Path, kwargs, match):
    write(tmp_path / "code" / "h.py", "")
    with pytest.raises(ConfigError, match=match):
        build_bundle(tmp_path / "code", cache_dir=tmp_path / "cache", **kwargs)


def test_missing_code_dir(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_bundle(tmp_path / "nope", cache_dir=tmp_path / "cache")


# ---------------------------------------------------------------------------------------------
# requirements.txt
# ---------------------------------------------------------------------------------------------


class FakePip:
    """Stands in for ``packaging.deps.run_pip``: records the arguments and 'installs' a package."""

    def __init__(self, returncode: int = 0, stderr: str = ""):
        self.calls: list[list[str]] = []
        self.returncode = returncode
        self.stderr = stderr

    def __call__(self, args: list[str], *, cwd: Path) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(args))
        if self.returncode == 0:
            target = Path(args[args.index("--target") + 1])
            write(target / "fakepkg" / "__init__.py", "VERSION = 1\n")
            write(target / "fakepkg" / "__pycache__" / "__init__.cpython-312.pyc", "bytecode")
            write(target / "fakepkg-1.0.dist-info" / "METADATA", "Name: fakepkg\n")
            write(target / "bin" / "fake-cli", "#!/usr/bin/env python\n", mode=0o755)
            write(target / "notes.py", "FROM_DEPS = True\n")  # clashes with a code file
        return subprocess.CompletedProcess(args, self.returncode, "", self.stderr)


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> FakePip:
    fake = FakePip()
    monkeypatch.setattr(packaging.deps, "run_pip", fake)
    return fake


def test_requirements_installed_once_and_bundled(tmp_path: Path, fake_pip: FakePip):
    code = make_tree(tmp_path / "code")
    write(code / "requirements.txt", "fakepkg==1.0\n")
    cache = tmp_path / "cache"
    bundle = build_bundle(code, cache_dir=cache)
    assert len(fake_pip.calls) == 1 and packaging.stats["deps_installed"] == 1
    got = names(bundle)
    assert {"fakepkg/__init__.py", "fakepkg-1.0.dist-info/METADATA", "bin/fake-cli", "list.py",
            "requirements.txt"} <= set(got)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in got)
    assert got == sorted(got)
    with zipfile.ZipFile(bundle.path) as zf:
        assert zf.read("notes.py") == (code / "notes.py").read_bytes()  # the code's file wins
        assert zf.getinfo("bin/fake-cli").external_attr >> 16 == 0o100755
    deps_dirs = [p for p in (cache / "deps").iterdir() if not p.name.startswith(".")]
    assert len(deps_dirs) == 1 and (deps_dirs[0] / "site" / "fakepkg" / "__init__.py").is_file()

    # a code edit rebuilds the zip but does not run pip again
    write(code / "list.py", "def main(event, context):\n    return 'v2'\n")
    second = build_bundle(code, cache_dir=cache)
    assert second.sha256_b64 != bundle.sha256_b64
    assert "fakepkg/__init__.py" in names(second)
    assert len(fake_pip.calls) == 1 and packaging.stats["deps_reused"] == 1

    # another code folder with the same requirements shares the install
    other = make_tree(tmp_path / "other")
    write(other / "requirements.txt", "fakepkg==1.0\n")
    build_bundle(other, cache_dir=cache)
    assert len(fake_pip.calls) == 1

    # new requirements contents: installed again
    write(code / "requirements.txt", "fakepkg==1.0\nsix\n")
    build_bundle(code, cache_dir=cache)
    assert len(fake_pip.calls) == 2


def test_pip_arguments_x86_64(tmp_path: Path, fake_pip: FakePip):
    code = tmp_path / "code"
    write(code / "requirements.txt", "fakepkg==1.0\n")
    build_bundle(code, cache_dir=tmp_path / "cache")
    (args,) = fake_pip.calls
    assert args[:3] == ["install", "-r", str((code / "requirements.txt").resolve())]
    assert args[args.index("--platform") + 1] == "manylinux2014_x86_64"
    assert args[args.index("--implementation") + 1] == "cp"
    assert args[args.index("--python-version") + 1] == "3.12"
    for flag in ("--only-binary=:all:", "--upgrade", "--no-compile", "--quiet", "--target"):
        assert flag in args


def test_arm64_platform_tag_and_runtime_version(tmp_path: Path, fake_pip: FakePip):
    code = tmp_path / "code"
    write(code / "requirements.txt", "fakepkg==1.0\n")
    cache = tmp_path / "cache"
    build_bundle(code, cache_dir=cache, runtime="python3.11", architecture="arm64")
    args = fake_pip.calls[-1]
    assert args[args.index("--platform") + 1] == "manylinux2014_aarch64"
    assert args[args.index("--python-version") + 1] == "3.11"
    # each (runtime, architecture) is its own install
    build_bundle(code, cache_dir=cache, runtime="python3.11", architecture="x86_64")
    build_bundle(code, cache_dir=cache, runtime="python3.13", architecture="arm64")
    assert [a[a.index("--platform") + 1] for a in fake_pip.calls] == [
        "manylinux2014_aarch64", "manylinux2014_x86_64", "manylinux2014_aarch64"]
    assert len(list((cache / "deps").iterdir())) == 3


def test_real_pip_is_run_with_current_interpreter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    seen = {}

    def fake_run(cmd, **kwargs):
        seen["cmd"], seen["kwargs"] = cmd, kwargs
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(packaging.deps.subprocess, "run", fake_run)
    packaging.run_pip(["--version"], cwd=tmp_path)
    assert seen["cmd"][:3] == [packaging.deps.sys.executable, "-m", "pip"]
    assert seen["kwargs"]["cwd"] == tmp_path


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n   # another\n"])
def test_empty_requirements_install_nothing(tmp_path: Path, fake_pip: FakePip, text: str):
    code = tmp_path / "code"
    write(code / "h.py", "")
    write(code / "requirements.txt", text)
    assert names(build_bundle(code, cache_dir=tmp_path / "cache")) == ["h.py", "requirements.txt"]
    assert fake_pip.calls == []


def test_failed_install_is_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    stderr = "\n".join(f"noise {i}" for i in range(100))
    stderr += "\nERROR: No matching distribution found for nope==9"
    fake = FakePip(returncode=1, stderr=stderr)
    monkeypatch.setattr(packaging.deps, "run_pip", fake)
    code = tmp_path / "code"
    write(code / "requirements.txt", "nope==9\n")
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError) as info:
        build_bundle(code, cache_dir=cache)
    msg = str(info.value)
    assert str((code / "requirements.txt").resolve()) in msg
    assert "No matching distribution found for nope==9" in msg
    assert "noise 0\n" not in msg  # only the tail
    assert "Fix:" in msg
    assert list((cache / "deps").iterdir()) == []  # nothing half-installed is left behind
    with pytest.raises(ConfigError):
        build_bundle(code, cache_dir=cache)
    assert len(fake.calls) == 2  # a failure is not cached


def _pypi_unreachable(message: str) -> bool:
    signs = ("NewConnectionError", "Max retries", "Temporary failure in name resolution",
             "Network is unreachable", "Connection refused", "No matching distribution",
             "Could not find a version", "ProxyError", "timed out", "SSLError")
    return any(s in message for s in signs)


@pytest.mark.network
def test_real_pip_install_of_six(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "h.py", "import six\n\ndef main(event, context):\n    return six.PY3\n")
    write(code / "requirements.txt", "six==1.16.0\n")
    cache = tmp_path / "cache"
    try:
        bundle = build_bundle(code, cache_dir=cache, architecture="arm64")
    except ConfigError as exc:
        if _pypi_unreachable(str(exc)):
            pytest.skip(f"PyPI is not reachable from here: {str(exc)[-300:]}")
        raise
    got = names(bundle)
    assert "six.py" in got and "h.py" in got
    assert any(n.startswith("six-1.16.0.dist-info/") for n in got)
    assert packaging.stats["deps_installed"] == 1
    build_bundle(code, cache_dir=cache, architecture="arm64")
    assert packaging.stats["deps_installed"] == 1


def test_file_changed_while_bundling_is_rescanned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    code = make_tree(tmp_path / "code")
    real_hash = packaging.zipper._hash_file
    edits = []

    def hash_then_edit(path):
        digest = real_hash(path)
        if path.endswith("notes.py") and not edits:  # someone saves the file right after it was hashed
            edits.append(path)
            Path(path).write_text("NOTES = {'edited': True}\n")
        return digest

    monkeypatch.setattr(packaging.zipper, "_hash_file", hash_then_edit)
    bundle = build_bundle(code, cache_dir=tmp_path / "cache")
    with zipfile.ZipFile(bundle.path) as zf:
        assert zf.read("notes.py") == b"NOTES = {'edited': True}\n"
    monkeypatch.setattr(packaging.zipper, "_hash_file", real_hash)
    fresh = build_bundle(code, cache_dir=tmp_path / "fresh-cache")
    assert fresh.read_bytes() == bundle.read_bytes()


# ---------------------------------------------------------------------------------------------
# build_bundle(entry=...): one handler's zip holds the code it imports
# ---------------------------------------------------------------------------------------------


def notes_tree(code: Path) -> Path:
    """Two handlers sharing a helper, plus code and data neither of them needs to import."""
    write(code / "list.py", "from notes import NOTES\n\n\ndef main(event, context):\n    return NOTES\n")
    write(code / "create.py", "import notes\n\n\ndef main(event, context):\n    return notes.add(event)\n")
    write(code / "notes.py", "import json\n\nNOTES = {}\n\n\ndef add(e):\n    return json.dumps(e)\n")
    write(code / "unused.py", "X = 1\n")
    write(code / "templates" / "a.json", '{"a": 1}\n')
    write(code / "requirements.txt", "# nothing to install\n")
    return code


def test_entry_bundle_holds_only_what_the_handler_imports(tmp_path: Path):
    code = notes_tree(tmp_path / "code")
    cache = tmp_path / "cache"
    list_zip = build_bundle(code, cache_dir=cache, entry=code / "list.py")
    create_zip = build_bundle(code, cache_dir=cache, entry=code / "create.py")
    assert names(list_zip) == ["list.py", "notes.py", "requirements.txt", "templates/a.json"]
    assert names(create_zip) == ["create.py", "notes.py", "requirements.txt", "templates/a.json"]
    # without entry: the whole folder, as before
    assert names(build_bundle(code, cache_dir=cache)) == [
        "create.py", "list.py", "notes.py", "requirements.txt", "templates/a.json", "unused.py"]
    assert packaging.stats["trace_fallback"] == 0


def test_editing_one_handler_changes_only_its_zip(tmp_path: Path):
    code = notes_tree(tmp_path / "code")
    cache = tmp_path / "cache"

    def both() -> tuple[str, str]:
        return (build_bundle(code, cache_dir=cache, entry=code / "list.py").sha256_b64,
                build_bundle(code, cache_dir=cache, entry=code / "create.py").sha256_b64)

    list0, create0 = both()
    assert list0 != create0

    write(code / "list.py", "from notes import NOTES\n\n\ndef main(event, context):\n    return list(NOTES)\n")
    list1, create1 = both()
    assert list1 != list0 and create1 == create0

    write(code / "unused.py", "X = 2\n")  # imported by neither
    assert both() == (list1, create1)

    write(code / "notes.py", "import json\n\nNOTES = {'x': 1}\n\n\ndef add(e):\n    return json.dumps(e)\n")
    list2, create2 = both()
    assert list2 != list1 and create2 != create1

    write(code / "templates" / "a.json", '{"a": 2}\n')  # data files go in every zip
    list3, create3 = both()
    assert list3 != list2 and create3 != create2


def test_a_new_import_is_picked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(packaging.build, "RACY_WINDOW_NS", 0)
    code = notes_tree(tmp_path / "code")
    age(code)
    cache = tmp_path / "cache"
    first = build_bundle(code, cache_dir=cache, entry=code / "list.py")
    assert build_bundle(code, cache_dir=cache, entry=code / "list.py") == first
    assert packaging.stats["fingerprint_hit"] == 1
    write(code / "notes.py", "import unused\n\nNOTES = {}\n")  # the helper now imports another module
    second = build_bundle(code, cache_dir=cache, entry=code / "list.py")
    assert "unused.py" in names(second)
    assert second.sha256_b64 != first.sha256_b64


def test_entry_fingerprint_hit_per_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(packaging.build, "RACY_WINDOW_NS", 0)
    code = notes_tree(tmp_path / "code")
    age(code)
    cache = tmp_path / "cache"
    list_zip = build_bundle(code, cache_dir=cache, entry=code / "list.py")
    create_zip = build_bundle(code, cache_dir=cache, entry=code / "create.py")
    whole = build_bundle(code, cache_dir=cache)
    assert packaging.stats["fingerprint_hit"] == 0

    def no_reads(path):  # pragma: no cover - only runs if the cache is broken
        raise AssertionError(f"read {path} on a fingerprint hit")

    monkeypatch.setattr(packaging.zipper, "_hash_file", no_reads)
    monkeypatch.setattr(packaging.trace, "_read_source", no_reads)
    assert build_bundle(code, cache_dir=cache, entry=code / "list.py") == list_zip
    assert build_bundle(code, cache_dir=cache, entry=code / "create.py") == create_zip
    assert build_bundle(code, cache_dir=cache) == whole
    assert packaging.stats["fingerprint_hit"] == 3


def test_untraced_files_are_not_read(tmp_path: Path):
    code = notes_tree(tmp_path / "code")
    write(code / "broken.py", "def oops(:\n")  # not imported: neither read nor a reason to fall back
    bundle = build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "list.py")
    assert "broken.py" not in names(bundle)
    assert packaging.stats["trace_fallback"] == 0
    # list.py, notes.py (traced) + requirements.txt, templates/a.json (data)
    assert packaging.stats["files_hashed"] == 4


def test_relative_imports_and_packages(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "api" / "__init__.py", "")
    write(code / "api" / "v1" / "__init__.py", "from . import shared\n")
    write(code / "api" / "v1" / "handler.py",
          "from .util import x\nfrom ..pkg import y\nimport lib.mod\nfrom lib import other\n"
          "from lib.names import CONSTANT\n\ndef main(event, context):\n    return x, y\n")
    write(code / "api" / "v1" / "util.py", "x = 1\n")
    write(code / "api" / "v1" / "shared.py", "S = 1\n")
    write(code / "api" / "v1" / "unrelated.py", "")
    write(code / "api" / "pkg" / "__init__.py", "from .y_impl import y\n")
    write(code / "api" / "pkg" / "y_impl.py", "y = 2\n")
    write(code / "api" / "pkg" / "skip.py", "")
    write(code / "lib" / "__init__.py", "")
    write(code / "lib" / "mod.py", "from . import sub\n")  # 'sub' is a subpackage
    write(code / "lib" / "sub" / "__init__.py", "")
    write(code / "lib" / "other.py", "")
    write(code / "lib" / "names.py", "CONSTANT = 1\n")  # CONSTANT is a name, not a submodule
    write(code / "lib" / "unused.py", "")
    write(code / "nspkg" / "leaf.py", "")  # a namespace package (no __init__.py)
    write(code / "api" / "v1" / "handler.py",
          (code / "api" / "v1" / "handler.py").read_text() + "import nspkg.leaf\n")
    bundle = build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "api" / "v1" / "handler.py")
    assert names(bundle) == [
        "api/__init__.py", "api/pkg/__init__.py", "api/pkg/y_impl.py", "api/v1/__init__.py",
        "api/v1/handler.py", "api/v1/shared.py", "api/v1/util.py", "lib/__init__.py", "lib/mod.py",
        "lib/names.py", "lib/other.py", "lib/sub/__init__.py", "nspkg/leaf.py",
    ]


def test_parent_packages_of_a_module_are_included(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "h.py", "import a.b.c\n")
    write(code / "a" / "__init__.py", "import helper\n")  # a parent's own imports are traced too
    write(code / "a" / "b" / "__init__.py", "")
    write(code / "a" / "b" / "c.py", "")
    write(code / "a" / "b" / "d.py", "")
    write(code / "helper.py", "")
    assert names(build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py")) == [
        "a/__init__.py", "a/b/__init__.py", "a/b/c.py", "h.py", "helper.py"]


def test_package_wins_over_module_of_the_same_name(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "h.py", "import thing\n")
    write(code / "thing.py", "")
    write(code / "thing" / "__init__.py", "")
    assert "thing/__init__.py" in names(build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py"))


def test_imports_in_functions_try_and_if_blocks_are_traced(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "h.py", (
        "import os\n"
        "try:\n    import fast\nexcept ImportError:\n    import slow\n"
        "if os.environ.get('X'):\n    from cond import thing\n"
        "class C:\n    import in_class\n"
        "def main(event, context):\n    import lazy\n    from deep import inner\n"
        "    return lazy, inner\n"
    ))
    for mod in ("fast", "slow", "cond", "in_class", "lazy", "deep", "unused"):
        write(code / f"{mod}.py", "")
    got = names(build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py"))
    assert got == ["cond.py", "deep.py", "fast.py", "h.py", "in_class.py", "lazy.py", "slow.py"]


def test_stdlib_and_installed_imports_are_ignored_but_local_shadows_count(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "h.py", "import os, sys, boto3\nimport json\nfrom collections import abc\nimport xml.dom\n")
    write(code / "json.py", "")  # shadows the stdlib on Lambda (the code folder comes first)
    write(code / "yaml.py", "")
    assert names(build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py")) == ["h.py", "json.py"]


def test_star_import_from_a_package_takes_its_submodules(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "h.py", "from pkg import *\n")
    write(code / "pkg" / "__init__.py", "__all__ = ['a', 'b']\n")
    write(code / "pkg" / "a.py", "")
    write(code / "pkg" / "b.py", "")
    write(code / "pkg" / "sub" / "__init__.py", "")
    write(code / "pkg" / "sub" / "deep.py", "")
    assert names(build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py")) == [
        "h.py", "pkg/__init__.py", "pkg/a.py", "pkg/b.py", "pkg/sub/__init__.py"]


def test_dotted_module_strings_are_traced(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "h.py", "import os\nos.environ['DJANGO_SETTINGS_MODULE'] = 'site_cfg.settings'\n"
                         "APP = 'web.app:application'\nNAME = 'unused'\n")
    write(code / "site_cfg" / "__init__.py", "")
    write(code / "site_cfg" / "settings.py", "")
    write(code / "web" / "app.py", "")
    write(code / "unused.py", "")
    assert names(build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py")) == [
        "h.py", "site_cfg/__init__.py", "site_cfg/settings.py", "web/app.py"]


DYNAMIC = [
    "import importlib\nmod = importlib.import_module('plugins.' + 'x')\n",
    "from importlib import import_module\n",
    "mod = __import__('plug' + 'in')\n",
    "import importlib.util\nspec = importlib.util.spec_from_file_location('m', 'm.py')\n",
    "import pkgutil\n",
    "from pkgutil import iter_modules\n",
    "import runpy\n",
    "import sys\nsys.path.insert(0, 'vendor')\nimport vendored\n",
    "def main(event, context):\n    import importlib\n    return importlib.import_module(event['m'])\n",
]


@pytest.mark.parametrize("source", DYNAMIC, ids=["import_module", "from-importlib", "__import__",
                                                   "spec_from_file_location", "pkgutil", "from-pkgutil",
                                                   "runpy", "sys.path", "in-function"])
@pytest.mark.parametrize("where", ["entry", "helper"])
def test_dynamic_imports_fall_back_to_every_py_file(tmp_path: Path, source: str, where: str):
    code = notes_tree(tmp_path / "code")
    write(code / "plugins" / "x.py", "")
    write(code / "vendor" / "vendored.py", "")
    if where == "entry":
        write(code / "list.py", "import notes\n" + source)
    else:
        write(code / "notes.py", "NOTES = {}\n" + source)
    got = names(build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "list.py"))
    assert got == ["create.py", "list.py", "notes.py", "plugins/x.py", "requirements.txt",
                   "templates/a.json", "unused.py", "vendor/vendored.py"]
    assert packaging.stats["trace_fallback"] == 1


def test_importlib_metadata_is_not_dynamic(tmp_path: Path):
    code = notes_tree(tmp_path / "code")
    write(code / "list.py", "import importlib.metadata\nV = importlib.metadata.version('x')\nimport notes\n")
    got = names(build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "list.py"))
    assert "create.py" not in got and "notes.py" in got
    assert packaging.stats["trace_fallback"] == 0


@pytest.mark.parametrize("bad", ["def oops(:\n", "x = 1\x00\n"], ids=["syntax-error", "null-byte"])
def test_unparsable_imported_module_falls_back(tmp_path: Path, bad: str):
    code = notes_tree(tmp_path / "code")
    write(code / "notes.py", bad)
    got = names(build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "list.py"))
    assert got == ["create.py", "list.py", "notes.py", "requirements.txt", "templates/a.json", "unused.py"]
    assert packaging.stats["trace_fallback"] == 1


def test_entry_through_symlink_keeps_its_name(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "impl" / "real.py", "import helper\n")
    write(code / "helper.py", "")
    (code / "h.py").symlink_to(code / "impl" / "real.py")
    link = tmp_path / "code-link"
    link.symlink_to(code, target_is_directory=True)
    bundle = build_bundle(link, cache_dir=tmp_path / "cache", entry=link / "h.py")
    assert names(bundle) == ["h.py", "helper.py"]


def test_bad_entry_is_config_error(tmp_path: Path):
    code = notes_tree(tmp_path / "code")
    write(tmp_path / "elsewhere.py", "")
    write(code / ".venv" / "h.py", "")
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError, match="not inside the code folder"):
        build_bundle(code, cache_dir=cache, entry=tmp_path / "elsewhere.py")
    with pytest.raises(ConfigError, match=r"not a \.py file"):
        build_bundle(code, cache_dir=cache, entry=code / "templates" / "a.json")
    with pytest.raises(ConfigError, match="missing or excluded"):
        build_bundle(code, cache_dir=cache, entry=code / "nope.py")
    with pytest.raises(ConfigError, match="missing or excluded"):
        build_bundle(code, cache_dir=cache, entry=code / ".venv" / "h.py")


def test_entry_bundles_are_deterministic_and_shared_by_content(tmp_path: Path):
    a = notes_tree(tmp_path / "one" / "code")
    b = notes_tree(tmp_path / "two" / "code")
    write(b / "unused.py", "something else\n")  # not traced: does not matter
    za = build_bundle(a, cache_dir=tmp_path / "cache-a", entry=a / "list.py")
    zb = build_bundle(b, cache_dir=tmp_path / "cache-b", entry=b / "list.py")
    assert za.read_bytes() == zb.read_bytes()
    # two entries with the same traced files share one zip
    write(a / "alias.py", "from notes import NOTES\n\n\ndef main(event, context):\n    return NOTES\n")
    write(a / "list.py", (a / "alias.py").read_text())
    cache = tmp_path / "cache-c"
    one = build_bundle(a, cache_dir=cache, entry=a / "list.py")
    two = build_bundle(a, cache_dir=cache, entry=a / "alias.py")
    assert one.sha256_b64 != two.sha256_b64  # different file names inside
    assert packaging.stats["zip_built"] == 4


def test_entry_file_changed_while_tracing_is_rescanned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    code = notes_tree(tmp_path / "code")
    real_read = packaging.trace._read_source
    edits = []

    def read_then_edit(path):
        data = real_read(path)
        if path.endswith("list.py") and not edits:  # saved right after it was traced: now imports unused
            edits.append(path)
            Path(path).write_text("import notes, unused\n\n\ndef main(event, context):\n    return 1\n")
        return data

    monkeypatch.setattr(packaging.trace, "_read_source", read_then_edit)
    bundle = build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "list.py")
    assert "unused.py" in names(bundle)  # the zip matches the file's final contents
    with zipfile.ZipFile(bundle.path) as zf:
        assert zf.read("list.py") == (code / "list.py").read_bytes()


def test_concurrent_entry_builds(tmp_path: Path):
    code = notes_tree(tmp_path / "code")
    cache = tmp_path / "cache"
    results: dict[str, set[str]] = {"list.py": set(), "create.py": set()}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            results[name].add(build_bundle(code, cache_dir=cache, entry=code / name).sha256_b64)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("list.py", "create.py") * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results["list.py"]) == 1 and len(results["create.py"]) == 1
    assert results["list.py"] != results["create.py"]
    assert [p.name for p in (cache / "zips").iterdir() if p.name.startswith(".tmp-")] == []


def test_example_handlers_bundle_only_their_own_file(tmp_path: Path):
    src = Path(__file__).resolve().parents[2] / "examples" / "rest-api" / "src"
    cache = tmp_path / "cache"
    for name in ("list", "create", "get", "update", "delete", "default"):
        assert names(build_bundle(src, cache_dir=cache, entry=src / f"{name}.py")) == sorted(
            {f"{name}.py", "notes.py"})
    assert packaging.stats["trace_fallback"] == 0


def test_a_handler_importing_sstdirect_graphql_gets_it_in_its_bundle(tmp_path: Path) -> None:
    code = tmp_path / "src"
    code.mkdir()
    (code / "server.py").write_text(
        "from sstdirect.graphql import make_handler\nhandler = make_handler('type Query { a: Int }')\n")
    (code / "other.py").write_text("def main(e, c):\n    return 1\n")
    with_helper = packaging.build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "server.py")
    without = packaging.build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "other.py")
    with zipfile.ZipFile(with_helper.path) as z:
        assert {"server.py", "sstdirect/__init__.py", "sstdirect/graphql.py"} <= set(z.namelist())
        assert b"import boto3" not in z.read("sstdirect/__init__.py")
    with zipfile.ZipFile(without.path) as z:
        assert not any(n.startswith("sstdirect/") for n in z.namelist())


def test_a_case_mismatch_is_looked_for_only_where_the_file_system_folds_case(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "handler.py").write_text("def main(e, c):\n    pass\n")
    assert packaging.handler._folds_case(str(tmp_path / "src")) is False  # this machine's file systems do not
    assert packaging.handler._folds_case(str(tmp_path / "src").swapcase()) is False  # a folder that does not exist
    listed: list[str] = []
    real_listdir = os.listdir
    monkeypatch.setattr(packaging.handler.os, "listdir", lambda p: listed.append(str(p)) or real_listdir(p))
    assert packaging.handler._case_mismatch(tmp_path, ["src", "Handler.py"]) is None
    assert listed == []  # found spelled as given on a case-sensitive system: nothing to list
    # Where names fold (macOS, Windows, casefold ext4), the spelling on disk is compared.
    monkeypatch.setattr(packaging.handler, "_folds_case", lambda folder: True)
    assert packaging.handler._case_mismatch(tmp_path, ["src", "Handler.py"]) == ("Handler.py", "handler.py")
    assert packaging.handler._case_mismatch(tmp_path, ["src", "handler.py"]) is None


# ---------------------------------------------------------------------------------------------
# Bundles hold what the handler imports (issue 12): modules under the app's root, at their path there
# ---------------------------------------------------------------------------------------------

NOTES_LIST = ("from core.db import table\nimport helpers\n\n\n"
              "def main(event, context):\n"
              "    return {'statusCode': 200, 'body': table() + ' ' + helpers.NAME}\n")


def core_app(root: Path) -> Path:
    """The most common layout: ``src/notes/list.py`` imports ``core.db``, with ``core/`` at the app's root."""
    write(root / "src" / "notes" / "list.py", NOTES_LIST)
    write(root / "src" / "notes" / "helpers.py", "NAME = 'sibling'\n")
    write(root / "core" / "__init__.py", "")
    write(root / "core" / "db.py", "from .names import TABLE\n\n\ndef table():\n    return TABLE\n")
    write(root / "core" / "names.py", "TABLE = 'notes-table'\n")
    write(root / "core" / "unused.py", "raise RuntimeError('never bundled')\n")
    write(root / "scripts" / "seed.py", "import core.db\n")
    write(root / "app.py", "from sstdirect import App\n")
    return root


def function_bundle(root: Path, handler: str, cache: Path, **kwargs) -> tuple[Bundle, HandlerLocation]:
    loc = resolve_handler(root, handler, construct=CONSTRUCT)
    bundle = build_bundle(loc.code_dir, cache_dir=cache, entry=loc.file, import_root=loc.import_root,
                          construct=CONSTRUCT, handler=handler, **kwargs)
    return bundle, loc


def run_from_zip(zip_path: Path, handler: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Import ``handler`` (Lambda's Handler value) with only the zip and the standard library on
    ``sys.path`` (``-I -S``: no site-packages, no cwd, no PYTHONPATH), as Lambda's runtime imports it
    from /var/task, and call it."""
    import sys

    module, _, func = handler.rpartition(".")
    code = (f"import sys, json, importlib\nsys.path.insert(0, {str(zip_path)!r})\n"
            f"fn = getattr(importlib.import_module({module.replace('/', '.')!r}), {func!r})\n"
            "print(json.dumps(fn({}, None)))\n")
    return subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60, check=False)


def test_modules_under_the_root_are_bundled_at_their_package_path(tmp_path: Path):
    root = core_app(tmp_path / "app")
    bundle, loc = function_bundle(root, "src/notes/list.main", tmp_path / "cache")
    assert names(bundle) == ["core/__init__.py", "core/db.py", "core/names.py", "helpers.py", "list.py"]
    assert loc.lambda_handler == "list.main"  # list.py is at the zip's root: the Handler names it there
    proc = run_from_zip(bundle.path, loc.lambda_handler, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '"body": "notes-table sibling"' in proc.stdout


def test_a_root_module_edit_changes_the_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(packaging.build, "RACY_WINDOW_NS", 0)
    root = core_app(tmp_path / "app")
    first, _ = function_bundle(root, "src/notes/list.main", tmp_path / "cache")
    write(root / "core" / "names.py", "TABLE = 'renamed'\n")
    second, _ = function_bundle(root, "src/notes/list.main", tmp_path / "cache")
    assert second.sha256_b64 != first.sha256_b64
    with zipfile.ZipFile(second.path) as zf:
        assert zf.read("core/names.py") == b"TABLE = 'renamed'\n"
    age(root)
    function_bundle(root, "src/notes/list.main", tmp_path / "cache")
    packaging.stats.clear()
    again, _ = function_bundle(root, "src/notes/list.main", tmp_path / "cache")
    assert again.sha256_b64 == second.sha256_b64 and packaging.stats["fingerprint_hit"] == 1


def test_root_data_files_leave_fingerprints_alone_but_a_new_root_module_is_seen(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(packaging.build, "RACY_WINDOW_NS", 0)
    root = core_app(tmp_path / "app")
    write(root / "src" / "notes" / "list.py", NOTES_LIST.replace("import helpers", "import helpers\nimport extra"))
    write(root / "src" / "notes" / "extra.py", "")  # resolves in the handler's folder for now
    write(root / "frontend" / "index.html", "<p>v1</p>")
    first, _ = function_bundle(root, "src/notes/list.main", tmp_path / "cache")
    write(root / "frontend" / "index.html", "<p>v2, longer</p>")  # never bundled: not an import root's module
    packaging.stats.clear()
    assert function_bundle(root, "src/notes/list.main", tmp_path / "cache")[0] == first
    assert packaging.stats["fingerprint_hit"] == 1
    write(root / "core" / "audit.py", "")
    write(root / "core" / "db.py", "from . import audit\nfrom .names import TABLE\n\n\ndef table():\n"
          "    return TABLE\n")
    assert "core/audit.py" in names(function_bundle(root, "src/notes/list.main", tmp_path / "cache")[0])


def test_the_handlers_folder_comes_first_on_the_path(tmp_path: Path):
    root = core_app(tmp_path / "app")
    write(root / "helpers.py", "NAME = 'root helpers: shadowed on Lambda by the sibling'\n")
    bundle, _ = function_bundle(root, "src/notes/list.main", tmp_path / "cache")
    with zipfile.ZipFile(bundle.path) as zf:
        assert zf.read("helpers.py") == b"NAME = 'sibling'\n"


def test_with_src_only_src_is_an_import_root(tmp_path: Path):
    root = core_app(tmp_path / "app")
    write(root / "backend" / "api" / "get.py", "from core.db import table\n\n\ndef main(e, c):\n    return 1\n")
    write(root / "backend" / "core" / "__init__.py", "")
    write(root / "backend" / "core" / "db.py", "def table():\n    return 'backend'\n")
    loc = resolve_handler(root, "api/get.main", src="backend")
    assert loc.import_root is None
    bundle = build_bundle(loc.code_dir, cache_dir=tmp_path / "cache", entry=loc.file)
    assert names(bundle) == ["api/get.py", "core/__init__.py", "core/db.py"]


def test_an_import_that_resolves_nowhere_is_a_config_error(tmp_path: Path):
    root = core_app(tmp_path / "app")
    write(root / "core" / "db.py", "import left_pad_for_python\n\n\ndef table():\n    return 't'\n")
    with pytest.raises(ConfigError) as info:
        function_bundle(root, "src/notes/list.main", tmp_path / "cache")
    message = str(info.value)
    for fragment in (CONSTRUCT, "'src/notes/list.main'", "core/db.py line 1",
                     "'left_pad_for_python'", "Runtime.ImportModuleError", "Fix:", "requirements.txt"):
        assert fragment in message, message
    assert not list((tmp_path / "cache" / "zips").glob("*.zip"))  # nothing was built for AWS


def test_a_missing_submodule_of_a_bundled_package_is_an_error(tmp_path: Path):
    root = core_app(tmp_path / "app")
    write(root / "src" / "notes" / "list.py", "import core.missing\n\n\ndef main(e, c):\n    return 1\n")
    with pytest.raises(ConfigError, match=r"'core\.missing'"):
        function_bundle(root, "src/notes/list.main", tmp_path / "cache")


def test_a_locally_installed_package_names_its_distribution_in_the_fix(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "h.py", "import moto\n\n\ndef main(e, c):\n    return 1\n")  # installed here, not on Lambda
    with pytest.raises(ConfigError) as info:
        build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py")
    assert "add 'moto' to" in str(info.value) and str(code / "requirements.txt") in str(info.value)


def warned(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The warnings the bundler logged (what a CLI run prints on stderr), then forget them."""
    out = [r.getMessage() for r in caplog.records if r.name == "sstdirect.packaging" and r.levelname == "WARNING"]
    caplog.clear()
    return out


@pytest.mark.parametrize("source", [
    "try:\n    import ujson as json\nexcept ImportError:\n    import json\n",
    "try:\n    import ujson\nexcept (ValueError, ModuleNotFoundError):\n    ujson = None\n",
    "def main(e, c):\n    import ujson\n    return ujson.dumps(e)\n",
    "import sys\nif sys.version_info < (3, 8):\n    import ujson\n",
], ids=["try-except-ImportError", "tuple-of-errors", "in-function", "in-if"])
def test_a_guarded_or_lazy_missing_import_is_a_warning(tmp_path: Path, source: str,
                                                        caplog: pytest.LogCaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(packaging.build, "RACY_WINDOW_NS", 0)
    code = tmp_path / "code"
    write(code / "h.py", source + "\n\ndef handler(e, c):\n    return 1\n")
    first = build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py", construct=CONSTRUCT,
                         handler="h.handler")
    [message] = warned(caplog)
    assert "'ujson'" in message and CONSTRUCT in message and "'h.handler'" in message and "Fix:" in message
    age(code)
    build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py", construct=CONSTRUCT)
    assert len(warned(caplog)) == 1
    packaging.stats.clear()
    again = build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py", construct=CONSTRUCT)
    assert packaging.stats["fingerprint_hit"] == 1 and again.sha256_b64 == first.sha256_b64
    assert ["'ujson'" in m for m in warned(caplog)] == [True]  # said again when the zip comes from the index


def test_an_unconditional_import_under_a_try_that_does_not_catch_import_error_is_an_error(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "h.py", "try:\n    import ujson\nexcept KeyError:\n    pass\n")
    with pytest.raises(ConfigError, match="'ujson'"):
        build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py")


def test_a_module_reached_only_by_a_guarded_import_makes_its_own_imports_soft(tmp_path: Path,
                                                                             caplog: pytest.LogCaptureFixture):
    code = tmp_path / "code"
    write(code / "h.py", "try:\n    import fast\nexcept ImportError:\n    fast = None\n")
    write(code / "fast.py", "import ujson\n")  # fails, but the ImportError reaches h.py's except
    build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py")
    [message] = warned(caplog)
    assert "fast.py line 1 imports 'ujson'" in message


def test_imports_that_always_resolve_or_never_run_are_not_reported(tmp_path: Path, fake_pip: FakePip,
                                                                    caplog: pytest.LogCaptureFixture):
    code = tmp_path / "code"
    write(code / "requirements.txt", "PyYAML==6.0\nrequests>=2\n")
    write(code / "h.py", "\n".join([
        "from __future__ import annotations", "import json, os.path, xml.dom.minidom, zoneinfo",
        "import boto3, botocore.config, s3transfer, jmespath, dateutil.parser, urllib3",
        "import yaml  # what PyYAML installs", "import requests", "from typing import TYPE_CHECKING",
        "if TYPE_CHECKING:", "    import mypy_boto3_s3", "if __name__ == '__main__':", "    import pytest",
        "CONFIG = 'myproject.settings'  # a string naming a module is not an import",
        "from sstdirect.graphql import make_handler", "",
    ]))
    build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py")
    assert warned(caplog) == []


def test_a_missing_import_in_a_function_s_deploy_is_a_config_error_before_any_aws_call(
        tmp_path: Path, config_error_check):
    from sstdirect import Api

    root = core_app(tmp_path / "app")
    write(root / "core" / "db.py", "import psycopg2\n")
    config_error_check(root, lambda app: Api(app, "Api", routes={"GET /notes": "src/notes/list.main"}),
                       ("Api 'Api' route 'GET /notes'", "'src/notes/list.main'", "'psycopg2'", "Fix:"))


def test_the_root_layout_deploys_runs_from_the_zip_and_through_the_gateway(tmp_path: Path, local_cloud):
    """Deployed to the embedded AWS: the code Lambda holds (GetFunction's CodeSha256, and the bytes
    moto stores) holds ``core/``, imports with only the zip on ``sys.path`` (what Lambda does with
    /var/task), and the local gateway serves it with the same layout."""
    import json
    import urllib.request

    from moto.awslambda.models import lambda_backends
    from moto.awslambda_simple.models import lambda_simple_backends

    from sstdirect import Api, App

    local_cloud.reset()
    root = core_app(tmp_path / "app")
    app = App("bundles", stage="dev", root=root, endpoint_url=local_cloud.endpoint_url,
              session=local_cloud.session(), state=str(tmp_path / "state.json"))
    api = Api(app, "Api", routes={"GET /notes": "src/notes/list.main"})
    app.deploy()
    lam = local_cloud.client("lambda")
    name = api.get_function("GET /notes").function_name
    got = lam.get_function(FunctionName=name)["Configuration"]
    assert got["Handler"] == "list.main"
    account = local_cloud.client("sts").get_caller_identity()["Account"]
    stored = [b[account][local_cloud.region]._lambdas._functions.get(name) for b in
              (lambda_simple_backends, lambda_backends)]  # the embedded AWS serves Lambda from moto's simple one
    code = next(f for f in stored if f is not None)["latest"].code_bytes
    assert base64.b64encode(hashlib.sha256(code).digest()).decode() == got["CodeSha256"]
    (tmp_path / "deployed.zip").write_bytes(code)
    with zipfile.ZipFile(tmp_path / "deployed.zip") as zf:
        assert sorted(zf.namelist()) == ["core/__init__.py", "core/db.py", "core/names.py", "helpers.py",
                                         "list.py"]
    proc = run_from_zip(tmp_path / "deployed.zip", got["Handler"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["body"] == "notes-table sibling"
    with local_cloud.serve(app) as gw, urllib.request.urlopen(gw.url(api) + "/notes", timeout=30) as resp:
        assert resp.status == 200
        assert resp.read() == b"notes-table sibling"


# ---------------------------------------------------------------------------------------------
# Bundles never carry secrets or exceed Lambda (issue 12)
# ---------------------------------------------------------------------------------------------

PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUJ\n-----END CERTIFICATE-----\n"
SECRETS = [".env", ".envrc", ".env-local", ".env_production", ".env.local", ".envs/prod.json", ".env.d/x",
           "sub/.env", "sub/.envrc", ".netrc", "_netrc", ".npmrc", ".pypirc", ".aws/credentials", ".aws/config",
           ".ssh/config", "sub/.ssh/id_ed25519", "id_rsa", "id_rsa.pub", "keys/id_rsa_deploy", "id_ed25519",
           "server.pem", "tls/bundle.pem", "private.key"]


def secrets_tree(code: Path) -> Path:
    write(code / "handler.py", "import settings\n\n\ndef main(event, context):\n    return {}\n")
    write(code / "settings.py", "")
    write(code / "envelope.json", "{}")  # a name that starts with 'env' is not a secret
    write(code / "ca.pem", CERTIFICATE)  # a certificate is public
    for rel in SECRETS:
        write(code / rel, PRIVATE_KEY if rel.endswith((".pem", ".key")) or "id_" in rel else "TOKEN=s3cr3t\n")
    write(code / "tls" / "bundle.pem", CERTIFICATE + PRIVATE_KEY)  # a chain with its key: a key file
    return code


@pytest.mark.parametrize("traced", [False, True])
def test_secrets_in_every_form_are_never_bundled(tmp_path: Path, traced: bool):
    code = secrets_tree(tmp_path / "code")
    got = names(build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "handler.py" if traced else None))
    assert got == ["ca.pem", "envelope.json", "handler.py", "settings.py"]


def test_include_names_a_secret_to_bundle_it(tmp_path: Path):
    root = tmp_path / "app"
    code = secrets_tree(root / "src")
    write(root / "config" / "prod.json", '{"a": 1}')  # outside the handler's folder
    loc = resolve_handler(root, "src/handler.main")
    bundle = build_bundle(loc.code_dir, cache_dir=tmp_path / "cache", entry=loc.file, import_root=loc.import_root,
                          include=["src/.env_production", "src/.envs", "config/*.json"], include_base=root)
    assert names(bundle) == [".env_production", ".envs/prod.json", "ca.pem", "config/prod.json", "envelope.json",
                             "handler.py", "settings.py"]
    with zipfile.ZipFile(bundle.path) as zf:
        assert zf.read(".env_production") == (code / ".env_production").read_bytes()
    without = build_bundle(loc.code_dir, cache_dir=tmp_path / "cache", entry=loc.file, import_root=loc.import_root)
    assert ".env_production" not in names(without) and without.sha256_b64 != bundle.sha256_b64


def test_include_through_the_function_construct(tmp_path: Path, aws):
    from sstdirect import App, Function

    root = tmp_path / "app"
    secrets_tree(root / "src")
    app = App("notes", stage="dev", session=aws, root=root)
    Function(app, "Fn", handler="src/handler.main", include=["src/.netrc"])
    assert not app.diff().is_empty  # expanding the app bundles its functions
    zips = list((root / ".sstdirect").rglob("zips/*.zip"))
    assert any(".netrc" in zipfile.ZipFile(z).namelist() for z in zips)


@pytest.mark.parametrize("include, fragment", [
    (".env", "include must be a list"),
    ([""], "is not a path"),
    ([3], "is not a path"),
    (["../outside"], "leaves the root"),
    (["/etc/passwd"], "leaves the root"),
    (["src/.env.missing"], "matches no file"),
])
def test_bad_include_is_a_config_error_before_any_aws_call(tmp_path: Path, config_error_check, include,
                                                           fragment):
    from sstdirect import Function

    root = tmp_path / "app"
    secrets_tree(root / "src")
    config_error_check(root, lambda app: Function(app, "Fn", handler="src/handler.main", include=include),
                       ("Function 'Fn'", fragment, "Fix" if fragment != "is not a path" else "include"))


def sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (a hole): cheap to make, zeros to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


def test_a_bundle_over_250_mb_unzipped_is_a_config_error_naming_the_largest_files(tmp_path: Path,
                                                                                    config_error_check):
    from sstdirect import Function

    root = tmp_path / "app"
    write(root / "src" / "h.py", "def main(e, c):\n    return 1\n")
    sparse(root / "src" / "model.bin", 200_000_000)
    sparse(root / "src" / "data" / "weights.bin", 62_200_000)  # 262,200,000 + h.py > 262,144,000 bytes
    config_error_check(root, lambda app: Function(app, "Fn", handler="src/h.main"),
                       ("Function 'Fn'", "unzipped", "262,144,000 bytes", "model.bin (200.0 MB)",
                        "data/weights.bin (62.2 MB)", "Fix:"))
    assert not list((root / ".sstdirect").rglob("*.zip"))  # refused before anything was zipped


def test_a_bundle_over_50_mb_zipped_is_a_config_error(tmp_path: Path):
    code = tmp_path / "code"
    write(code / "h.py", "def main(e, c):\n    return 1\n")
    with open(code / "random.bin", "wb") as fh:  # random bytes do not compress
        for _ in range(51):
            fh.write(os.urandom(1 << 20))
    with pytest.raises(ConfigError) as info:
        build_bundle(code, cache_dir=tmp_path / "cache", entry=code / "h.py", construct=CONSTRUCT)
    message = str(info.value)
    for fragment in (CONSTRUCT, "zipped", "52,428,800 bytes", "random.bin (53.5 MB)", "Fix:"):
        assert fragment in message, message
    assert not list((tmp_path / "cache" / "zips").glob("*.zip"))


def test_bundling_a_200_mb_file_streams_it(tmp_path: Path):
    """Peak memory (ru_maxrss of a fresh process) stays far below the file's size: it is hashed and
    deflated in 1 MiB chunks, never read whole."""
    import sys

    code = tmp_path / "code"
    write(code / "h.py", "def main(e, c):\n    return 1\n")
    sparse(code / "big.bin", 200 * 1024 * 1024)
    script = (
        "import resource, sys\nfrom sstdirect.packaging import build_bundle\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"b = build_bundle({str(code)!r}, cache_dir={str(tmp_path / 'cache')!r}, entry={str(code / 'h.py')!r})\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(before, after, b.size)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    before_kb, after_kb, zipped = (int(x) for x in proc.stdout.split())
    assert after_kb - before_kb < 64 * 1024, (before_kb, after_kb)  # KiB on Linux: < 64 MiB for a 200 MiB file
    assert zipped < 1024 * 1024  # zeros deflate to almost nothing
