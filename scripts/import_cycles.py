#!/usr/bin/env python3
"""The import graph of ``sstdirect``: cycles, private reaches across packages, process globals (stdlib ``ast``).

Nothing is imported: every module under ``sstdirect/`` is parsed. An import is counted at one of three
levels: ``module`` (runs when the module is imported), ``function`` (inside a function: runs when it is
called) and ``type`` (under ``if TYPE_CHECKING:``: never runs, but still a dependency of the code). An edge
goes to the module named (``from .a import b`` goes to ``a.b`` when that is a module, else to ``a``); the
parent packages' ``__init__`` that a Python import also runs are not edges. Reported:

- **cycles**: the strongly connected components (two or more members) of the graph of module-level
  imports; of module- and function-level imports; and of all three. Each for the graph of modules and for
  the graph of *components* (a module of a subpackage counts as its package: ``local.gateway``; a module
  directly under ``sstdirect`` as itself: ``app``), with a shortest cycle through each member.
- **private reaches**: a name starting with ``_`` (not a dunder) that a module of one package imports from,
  or reads as an attribute of, a module or object of another package (the package of ``a.b.c`` is ``a.b``;
  of a package's ``__init__``, the package itself). ``obj._x`` (``obj`` not ``self``/``cls``/``super()``)
  counts when no class of the reader's own package defines ``_x`` (a method, a class attribute, an
  assigned ``something._x``) and one of another package does. Imports of ``moto`` outside the embedded
  AWS (:data:`MOTO_OWNERS`) count too: moto's backends are its internals.
- **process globals**: module-level names rebound through ``global``, or bound to a dict, list or set that
  code mutates (``X[k] = v``, ``X.append(...)``, ``mod.X.update(...)``).

    .venv/bin/python scripts/import_cycles.py            # the report
    .venv/bin/python scripts/import_cycles.py --edges    # ... with the edges inside each cycle
    .venv/bin/python scripts/import_cycles.py --json     # the figures, machine-readable

:func:`analyse` returns them for a test (``tests/unit/test_import_graph.py``).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "sstdirect"
MOTO_OWNERS = ("sstdirect.local.cloud", "sstdirect.local.ext")  # the embedded AWS: the only importers of moto
MODULE, FUNCTION, TYPE = "module", "function", "type"
LEVELS = {MODULE: (MODULE,), FUNCTION: (MODULE, FUNCTION), TYPE: (MODULE, FUNCTION, TYPE)}
_MUTATORS = frozenset({"append", "extend", "insert", "remove", "pop", "popitem", "clear", "update", "setdefault",
                       "add", "discard", "difference_update", "intersection_update", "__setitem__"})
_MUTABLE_CALLS = frozenset({"dict", "list", "set", "defaultdict", "OrderedDict", "Counter", "deque"})


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``line``, at level ``when`` (MODULE, FUNCTION or TYPE)."""

    source: str
    target: str
    line: int
    when: str


@dataclass(frozen=True)
class Reach:
    """``module`` (at ``line``) uses ``name``, a private of ``owner`` (modules or packages not its own)."""

    module: str
    line: int
    name: str
    owner: str


@dataclass
class Report:
    modules: list[str]
    edges: list[Edge]
    cycles: dict[str, list[list[str]]]  # level → SCCs of the module graph
    component_cycles: dict[str, list[list[str]]]  # level → SCCs of the component graph
    reaches: list[Reach]
    globals: list[str]  # "module.NAME"

    def to_json(self) -> dict[str, object]:
        return {
            "modules": len(self.modules),
            "imports": {level: sum(e.when == level for e in self.edges) for level in LEVELS},
            "cycles": self.cycles,
            "component_cycles": self.component_cycles,
            "reaches": [{"module": r.module, "line": r.line, "name": r.name, "owner": r.owner} for r in self.reaches],
            "globals": self.globals,
        }


# --- parsing ------------------------------------------------------------------------------------


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, when: str = MODULE) -> Iterator[tuple[ast.AST, str]]:
    """Every node below ``node`` with the level it runs at (see the module docstring)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for sub in child.body:
                yield sub, TYPE
                yield from _walk(sub, TYPE)
            for sub in child.orelse:
                yield sub, when
                yield from _walk(sub, when)
            continue
        yield child, when
        deferred = when == MODULE and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        yield from _walk(child, FUNCTION if deferred else when)


def _resolve(module: str, is_pkg: bool, level: int, name: str | None) -> str:
    """The absolute module of ``from <level dots><name> import ...`` written in ``module``."""
    if level == 0:
        return name or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


class _Module:
    """One parsed module: its imports ``(line, when, source module, imported name or None, bound name)``."""

    def __init__(self, name: str, path: Path):
        self.name = name
        self.is_pkg = path.name == "__init__.py"
        self.tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        self.imports: list[tuple[int, str, str, str | None, str]] = []
        for node, when in _walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports.append((node.lineno, when, alias.name, None,
                                         alias.asname or alias.name.partition(".")[0]))
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(name, self.is_pkg, node.level, node.module)
                for alias in node.names:
                    self.imports.append((node.lineno, when, source, alias.name, alias.asname or alias.name))

    def module_aliases(self, modules: Iterable[str]) -> dict[str, str]:
        """Local name → the module of ours it is bound to (``from . import app as app_module``)."""
        known = set(modules)
        out: dict[str, str] = {}
        for _, _, source, imported, bound in self.imports:
            # ``from a import b`` binds ``a.b``; ``import a.b`` binds ``a``; ``import a.b as c``, ``a.b``
            target = f"{source}.{imported}" if imported else bound if bound == source.partition(".")[0] else source
            if target in known:
                out[bound] = target
        return out


def _attribute_definitions(mod: _Module) -> set[str]:
    """The names ``mod`` defines as attributes: class-body functions and assignments, ``x.name = ...``."""
    out: set[str] = set()
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    out.add(stmt.name)
                elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    out.add(stmt.target.id)
                elif isinstance(stmt, ast.Assign):
                    out.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            out.add(node.attr)
    return out


# --- the graph ----------------------------------------------------------------------------------


def component_of(module: str) -> str:
    """``sstdirect.local.gateway`` for ``sstdirect.local.gateway.server``; ``sstdirect.app`` for itself."""
    parts = module.split(".")
    return module if len(parts) <= 2 else ".".join(parts[:-1])


def _scc(nodes: Iterable[str], graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with two or more members, each sorted, the list sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def push(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)

    for root in sorted(nodes):
        if root in index:
            continue
        push(root)
        work = [(root, iter(sorted(graph.get(root, ()))))]
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    push(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return sorted(out)


def shortest_cycles(component: list[str], graph: dict[str, set[str]]) -> list[list[str]]:
    """A shortest cycle through each member of ``component`` (an SCC of ``graph``), without repeats."""
    members = set(component)
    seen: set[tuple[str, ...]] = set()
    out = []
    for start in component:
        parent: dict[str, str] = {}
        queue = deque([start])
        found = None
        while queue and found is None:
            node = queue.popleft()
            for child in sorted(graph.get(node, set()) & members):
                if child == start:
                    found = node
                    break
                if child not in parent:
                    parent[child] = node
                    queue.append(child)
        if found is None:
            continue
        path = [found]
        while path[-1] != start:
            path.append(parent[path[-1]])
        cycle = path[::-1]
        turn = cycle.index(min(cycle))
        key = tuple(cycle[turn:] + cycle[:turn])
        if key not in seen:
            seen.add(key)
            out.append(list(key))
    return sorted(out, key=lambda c: (len(c), c))


def graphs(edges: list[Edge], level: str, components: bool = False) -> dict[str, set[str]]:
    """The graph of the edges counted at ``level`` (of components when ``components``)."""
    out: dict[str, set[str]] = {}
    for e in edges:
        if e.when in LEVELS[level]:
            source, target = (component_of(e.source), component_of(e.target)) if components else (e.source, e.target)
            if source != target:
                out.setdefault(source, set()).add(target)
    return out


def analyse(root: Path = ROOT) -> Report:
    """The figures of the package under ``root``/sstdirect."""
    mods: dict[str, _Module] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = _Module(name, path)
    pkg = {n: (n if m.is_pkg else n.rpartition(".")[0]) for n, m in mods.items()}
    attribute_defs = {n: _attribute_definitions(m) for n, m in mods.items()}

    edges: list[Edge] = []
    reaches: set[Reach] = set()
    for mod in mods.values():
        for line, when, source, imported, _ in mod.imports:
            target = f"{source}.{imported}" if imported and f"{source}.{imported}" in mods else source
            if target in mods and target != mod.name:
                edges.append(Edge(mod.name, target, line, when))
            if (source == "moto" or source.startswith("moto.")) and not mod.name.startswith(MOTO_OWNERS):
                reaches.add(Reach(mod.name, line, f"{source}{'.' + imported if imported else ''}", "moto"))
            if imported and _private(imported) and source in mods and pkg[source] != pkg[mod.name]:
                reaches.add(Reach(mod.name, line, imported, source))
        reaches.update(_attribute_reaches(mod, mods, pkg, attribute_defs))

    nodes = set(mods)
    component_nodes = {component_of(n) for n in mods}
    return Report(
        modules=sorted(mods),
        edges=edges,
        cycles={level: _scc(nodes, graphs(edges, level)) for level in LEVELS},
        component_cycles={level: _scc(component_nodes, graphs(edges, level, True)) for level in LEVELS},
        reaches=sorted(reaches, key=lambda r: (r.module, r.line, r.name)),
        globals=_process_globals(mods),
    )


# --- private reaches and process globals ----------------------------------------------------------


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _attribute_reaches(mod: _Module, mods: dict[str, _Module], pkg: dict[str, str],
                       attribute_defs: dict[str, set[str]]) -> Iterator[Reach]:
    """``x._name`` in ``mod`` where ``_name`` belongs to another package (see the module docstring)."""
    aliases = mod.module_aliases(mods)
    own = pkg[mod.name]
    for node in ast.walk(mod.tree):
        if not (isinstance(node, ast.Attribute) and _private(node.attr)):
            continue
        base = node.value
        if isinstance(base, ast.Name) and base.id in ("self", "cls"):
            continue
        if isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "super":
            continue
        if isinstance(base, ast.Name) and base.id in aliases:  # a module's private: known exactly
            if pkg[aliases[base.id]] != own:
                yield Reach(mod.name, node.lineno, node.attr, aliases[base.id])
            continue
        definers = {pkg[m] for m, names in attribute_defs.items() if node.attr in names}
        if definers and own not in definers:
            yield Reach(mod.name, node.lineno, node.attr, ", ".join(sorted(definers)))


def _process_globals(mods: dict[str, _Module]) -> list[str]:
    """``module.NAME`` of the module-level names rebound through ``global``, or mutable containers mutated."""
    out: set[str] = set()
    containers: dict[str, set[str]] = {}
    for mod in mods.values():
        names: set[str] = set()
        for stmt in mod.tree.body:
            if isinstance(stmt, ast.Assign) and _mutable(stmt.value):
                names.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None and _mutable(stmt.value):
                names.update([stmt.target.id] if isinstance(stmt.target, ast.Name) else [])
        containers[mod.name] = names
        out.update(f"{mod.name}.{n}" for node in ast.walk(mod.tree) if isinstance(node, ast.Global)
                   for n in node.names)
    for mod in mods.values():
        aliases = mod.module_aliases(mods)
        for node in ast.walk(mod.tree):
            target = _mutated(node)
            if isinstance(target, ast.Name) and target.id in containers[mod.name]:
                out.add(f"{mod.name}.{target.id}")
            elif (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                  and target.value.id in aliases and target.attr in containers[aliases[target.value.id]]):
                out.add(f"{aliases[target.value.id]}.{target.attr}")
    return sorted(out)


def _mutable(value: ast.expr) -> bool:
    if isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp | ast.SetComp):
        return True
    func = value.func if isinstance(value, ast.Call) else None
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name in _MUTABLE_CALLS


def _mutated(node: ast.AST) -> ast.expr | None:
    """The container expression ``node`` mutates (a mutator's call, an item store or del), else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS:
        return node.func.value
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
        return node.value
    return None


# --- the report ---------------------------------------------------------------------------------


def _short(name: str) -> str:
    return name.removeprefix(PACKAGE + ".")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="the figures as JSON")
    parser.add_argument("--edges", action="store_true", help="also list the edges inside each cycle")
    args = parser.parse_args(argv)
    report = analyse()
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
        return 0
    counts = {level: sum(e.when == level for e in report.edges) for level in LEVELS}
    print(f"{len(report.modules)} modules; imports: {counts[MODULE]} module-level, {counts[FUNCTION]} "
          f"function-level, {counts[TYPE]} TYPE_CHECKING")
    titles = {MODULE: "module-level imports", FUNCTION: "module- and function-level imports",
              TYPE: "all imports, TYPE_CHECKING too"}
    for what, cycles_of, components in (("modules", report.cycles, False),
                                        ("components", report.component_cycles, True)):
        for level, cycles in cycles_of.items():
            print(f"\n{len(cycles)} cycle(s) of {what}, {titles[level]}:")
            graph = graphs(report.edges, level, components)
            for scc in cycles:
                print(f"  [{len(scc)}] " + ", ".join(map(_short, scc)))
                for cycle in shortest_cycles(scc, graph):
                    print("      " + " -> ".join(map(_short, [*cycle, cycle[0]])))
                if args.edges and not components:
                    members = set(scc)
                    for e in sorted((e for e in report.edges if e.source in members and e.target in members
                                     and e.when in LEVELS[level]), key=lambda e: (e.source, e.line)):
                        print(f"        {_short(e.source)}:{e.line} -> {_short(e.target)} ({e.when})")
    print(f"\n{len(report.reaches)} private reach(es) across packages:")
    for r in report.reaches:
        print(f"  {_short(r.module)}:{r.line}  {r.name}  (of {r.owner})")
    print(f"\n{len(report.globals)} process global(s) (module-level names mutated or rebound):")
    for g in report.globals:
        print(f"  {_short(g)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
