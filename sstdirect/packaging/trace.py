"""An ``entry`` bundle's files: the ``.py`` files reachable from the handler by static import tracing (plus
sstdirect's runtime helpers it imports), and the imports that resolve nowhere."""

from __future__ import annotations

import ast
import collections
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from sstdirect.errors import ConfigError

from .files import _count, _Entry, _sha256_hex, _source_chunks
from .imports import _LAZY, _NEVER, _TOP, _imports, _module_package, _Want
from .listing import _by_rel, _known_names, _module_index


def _entry_rel(code_real: Path, entry: Path | str) -> str:
    """``entry``'s '/'-separated path inside ``code_real`` (its file name kept, even if a symlink)."""
    raw = Path(os.path.abspath(os.fspath(entry)))
    for candidate in (raw, raw.parent.resolve() / raw.name):
        if candidate != code_real and candidate.is_relative_to(code_real):
            rel = candidate.relative_to(code_real).as_posix()
            break
    else:
        raise ConfigError(f"handler file {raw} is not inside the code folder {code_real}. "
                          "Fix: pass the handler's .py file from that folder as entry.")
    if not rel.endswith(".py"):
        raise ConfigError(f"handler file {raw} is not a .py file. Fix: pass the handler's .py file as entry.")
    return rel


def _read_source(path: str) -> bytes:
    """A traced file's bytes (see :func:`~sstdirect.packaging.files._source_chunks`; tests replace this)."""
    return b"".join(_source_chunks(path))


# sstdirect's own modules a handler may import at run time, shipped in its bundle when it does (and
# the code folder has no ``sstdirect`` of its own): zip path → source file.
_HERE = Path(__file__).resolve().parent.parent  # sstdirect/
RUNTIME_HELPERS: dict[str, dict[str, Path]] = {
    "sstdirect.graphql": {"sstdirect/__init__.py": _HERE / "_lambda_init.py",
                          "sstdirect/graphql.py": _HERE / "graphql.py"},
}


def _helper_entries(names: set[str]) -> list[_Entry]:
    """The files of the runtime helpers ``names`` (keys of :data:`RUNTIME_HELPERS`), never executable."""
    out: dict[str, _Entry] = {}
    for name in sorted(names):
        for rel, src in RUNTIME_HELPERS[name].items():
            st = src.stat()
            out[rel] = _Entry(rel, str(src), st.st_size, st.st_mtime_ns, st.st_ctime_ns, False)
    return list(out.values())


def _helpers_stamp() -> str:
    """Changes when an installed helper changes (so a cached zip that ships it is rebuilt)."""
    return ",".join(f"{src.stat().st_size}:{src.stat().st_mtime_ns}"
                    for files in RUNTIME_HELPERS.values() for src in files.values())


#: Modules every Python Lambda runtime provides besides the standard library: "The Lambda Python
#: runtimes include the AWS SDK for Python (Boto3) and its dependencies"
#: (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html), and the runtime interface client.
LAMBDA_RUNTIME_MODULES = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six",
                                    "awslambdaric"})
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)


@dataclass(frozen=True)
class _Missing:
    """An import of a traced file that resolves nowhere: ``fatal`` when it runs unconditionally while
    the handler is imported (Lambda's ``Runtime.ImportModuleError``)."""

    file: str  # the importing file: its path under the code folder, or under the import root (``in_root``)
    line: int
    module: str
    fatal: bool
    in_root: bool = False

    def shown(self, code_real: Path, root_real: Path | None) -> str:
        """The file's path from the app's root when there is one (``src/notes/list.py``, ``core/db.py``)."""
        if self.in_root or root_real is None or not code_real.is_relative_to(root_real):
            return self.file
        return (code_real.relative_to(root_real) / self.file).as_posix()


def _select(code_real: Path, files: list[_Entry], entry_rel: str, root_files: list[_Entry] | None = None,
            deps: frozenset[str] | None = None) -> tuple[list[_Entry], list[_Missing]]:
    """The files of an ``entry`` bundle: traced ``.py`` files plus every other file of the code folder, and
    the imports of the traced files that resolve nowhere (only when ``deps`` is given: the top-level names
    the installed requirements provide).

    Modules resolve as Lambda's ``sys.path`` finds them: the code folder first, then ``root_files`` (the
    import root, whose modules go in at their path under it, with their parent packages). The traced files
    come back with the hash of the exact bytes that were parsed, so the zip writer notices (and the build
    is retried) if one changes before it is zipped.
    """
    by_rel = _by_rel(files)
    if entry_rel not in by_rel:
        raise ConfigError(f"handler file {code_real / entry_rel} is missing or excluded from the code folder "
                          f"{code_real}. Fix: point the handler at an existing .py file that is bundled.")
    origins: list[tuple[dict[str, _Entry], dict[str, str]]] = [(by_rel, _module_index(files))]
    if root_files is not None:
        origins.append((_by_rel(root_files), _module_index(root_files)))
    Node = tuple[int, str]  # (origin, path under it)
    read: dict[Node, _Entry] = {}
    wants_of: dict[Node, list[_Want]] = {}
    edges: dict[Node, list[tuple[Node, int]]] = collections.defaultdict(list)
    chosen: set[Node] = set()
    queue: list[Node] = []
    helpers: set[str] = set()
    local_sstdirect = any("sstdirect" in index for _, index in origins)

    def add(node: Node, out: list[Node]) -> None:
        origin, rel = node
        parts = rel.split("/")
        for i in range(1, len(parts)):  # importing a.b.c runs a/__init__.py and a/b/__init__.py
            init = "/".join(parts[:i]) + "/__init__.py"
            if init != rel and init in origins[origin][0]:
                add((origin, init), out)
        out.append(node)
        if node not in chosen:
            chosen.add(node)
            queue.append(node)

    def resolve(name: str) -> list[Node]:
        if not local_sstdirect:
            helpers.update(h for h in RUNTIME_HELPERS if name == h or name.startswith(h + "."))
        out: list[Node] = []
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # `import a.b.c` imports a, a.b and a.b.c
            prefix = ".".join(parts[:i])
            for origin, (_, index) in enumerate(origins):
                rel = index.get(prefix)
                if rel is not None:
                    add((origin, rel), out)
                    break
        return out

    entry: Node = (0, entry_rel)
    first: list[Node] = []
    add(entry, first)
    edges[entry].extend((node, _TOP) for node in first if node != entry)
    dynamic = everything = path_changed = False
    while queue:
        node = queue.pop()
        f = origins[node[0]][0][node[1]]
        data = _read_source(f.src)
        read[node] = _Entry(f.rel, f.src, len(data), f.mtime_ns, f.ctime_ns, f.executable, _sha256_hex(data))
        try:
            tree = ast.parse(data, filename=f.src)
            wanted, file_dynamic = _imports(tree, _module_package(node[1]))
        except (SyntaxError, ValueError, RecursionError):
            dynamic = True  # cannot tell what it imports
            continue
        wants_of[node] = wanted
        dynamic = dynamic or bool(file_dynamic)
        path_changed = path_changed or file_dynamic == "path"
        if file_dynamic and not everything:
            everything = True
            for rel in by_rel:  # every .py file of the code folder goes in; trace what they import too
                if rel.endswith(".py"):
                    add((0, rel), [])
        for want in wanted:
            for target in resolve(want.name):
                edges[node].append((target, want.rank))
            if want.star:  # `from pkg import *` may import any submodule named in __all__
                prefix = want.name + "."
                for _, index in origins:
                    for name in [n for n in index if n.startswith(prefix) and "." not in n[len(prefix):]]:
                        for target in resolve(name):
                            edges[node].append((target, want.rank))
    if dynamic:
        _count("trace_fallback")
    code_entries = ([read.get((0, f.rel), f) for f in files] if dynamic else
                    [read.get((0, f.rel), f) for f in files if (0, f.rel) in chosen or not f.rel.endswith(".py")])
    taken = {e.rel for e in code_entries}
    root_entries = sorted((read.get(node, origins[1][0][node[1]]) for node in chosen
                           if node[0] == 1 and node[1] not in taken), key=lambda e: e.rel)
    entries = code_entries + root_entries + [h for h in _helper_entries(helpers) if h.rel not in taken]
    if deps is None or path_changed:
        return entries, []

    def reach(min_rank: int) -> set[Node]:
        seen, stack = {entry}, [entry]
        while stack:
            for target, rank in edges.get(stack.pop(), ()):
                if rank >= min_rank and target not in seen:
                    seen.add(target)
                    stack.append(target)
        return seen

    strict, reached = reach(_TOP), reach(_LAZY)
    listings = [files] + ([root_files] if root_files is not None else [])
    missing: list[_Missing] = []
    for node in sorted(reached):
        for want in wants_of.get(node, ()):
            if want.checked and want.rank > _NEVER and not _resolvable(want.name, listings, deps, helpers):
                missing.append(_Missing(node[1], want.line, want.name, node in strict and want.rank == _TOP,
                                        in_root=node[0] == 1))
    return entries, missing


def _resolvable(name: str, listings: list[list[_Entry]], deps: frozenset[str], helpers: set[str]) -> bool:
    """Whether ``import name`` succeeds on Lambda with this bundle (the folder listings it comes from)."""
    top = name.split(".", 1)[0]
    if top in _STDLIB or top in LAMBDA_RUNTIME_MODULES or top in deps:
        return True
    if any(name in _known_names(files) for files in listings):
        return True
    if top == "sstdirect" and helpers:
        return name == "sstdirect" or any(name == h or name.startswith(h + ".") for h in helpers)
    return False
