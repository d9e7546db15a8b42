"""Static import analysis of one parsed file (never imported): which modules it may import, how each
import runs (unconditionally, guarded, lazily, never), and whether it imports dynamically."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

# Seen anywhere in a traced file (as a name, an attribute or an imported name), these load modules
# the tracer cannot follow: the bundle then takes every .py file of the folder.
_DYNAMIC_NAMES = frozenset({
    "__import__", "import_module", "spec_from_file_location", "spec_from_loader", "module_from_spec",
    "SourceFileLoader", "SourcelessFileLoader", "load_source", "load_module", "run_path", "run_module",
    "addsitedir", "extend_path", "iter_modules", "walk_packages", "__path__",
})
# Importing any of these modules counts as a dynamic import too.
_DYNAMIC_MODULES = frozenset({"pkgutil", "runpy", "imp"})
# A string constant that looks like a dotted module path ("app.settings", "app.main:handler"):
# frameworks import such names themselves, so the modules they name are traced too (size only).
_MODULE_STRING = re.compile(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?::[A-Za-z_][\w.]*)?")


def _module_package(rel: str) -> str:
    """The package relative imports in ``rel`` are resolved against."""
    parts = rel[:-3].split("/")
    return ".".join(parts[:-1])  # 'a/b.py' -> 'a'; 'a/__init__.py' -> 'a'


# How an import statement runs when its module is imported: ``_TOP`` unconditionally, ``_GUARDED``
# under a ``try`` that catches ImportError or in an ``if``/loop/``match`` branch, ``_LAZY`` inside a
# function, ``_NEVER`` under ``if TYPE_CHECKING:`` or ``if __name__ == "__main__":`` (and a module
# named only by a string constant).
_NEVER, _LAZY, _GUARDED, _TOP = 0, 1, 2, 3
_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


@dataclass(frozen=True)
class _Want:
    """A module name a traced file may import. ``checked``: the import fails unless the module exists
    (``import a.b`` needs ``a.b``; ``from a.b import x`` needs ``a.b`` but ``a.b.x`` may be a name)."""

    name: str
    rank: int
    checked: bool
    line: int
    star: bool = False


def _catches_import_error(node: ast.Try | ast.TryStar) -> bool:
    """Whether a handler of ``node`` catches ImportError (by name, a base class, or a bare except)."""
    def names(expr: ast.expr | None) -> list[str]:
        if expr is None:
            return ["BaseException"]  # a bare except
        if isinstance(expr, ast.Tuple):
            return [n for e in expr.elts for n in names(e)]
        if isinstance(expr, ast.Name):
            return [expr.id]
        return [expr.attr] if isinstance(expr, ast.Attribute) else []

    return any(n in _IMPORT_ERRORS for h in node.handlers for n in names(h.type))


def _never_runs(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` and ``if __name__ == "__main__":`` bodies never run on Lambda."""
    if isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__":
        return any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _conditional(node: ast.AST, field: str) -> bool:
    """Whether ``node``'s ``field`` may not run: a guarded ``try`` body, except and else blocks, loops, cases."""
    if isinstance(node, ast.Try | ast.TryStar):
        return field in ("handlers", "orelse") or (field == "body" and _catches_import_error(node))
    return isinstance(node, ast.For | ast.AsyncFor | ast.While | ast.match_case) and field in ("body", "orelse")


def _import_nodes(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, int]]:
    """Every import statement of ``tree`` with how it runs (``_TOP``, ``_GUARDED``, ``_LAZY``, ``_NEVER``)."""
    out: list[tuple[ast.Import | ast.ImportFrom, int]] = []
    stack: list[tuple[ast.AST, int]] = [(tree, _TOP)]
    while stack:
        node, rank = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append((node, rank))
            continue
        for field, value in ast.iter_fields(node):
            r = rank
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and field == "body":
                r = min(rank, _LAZY)
            elif isinstance(node, ast.If) and field in ("body", "orelse"):
                r = _NEVER if field == "body" and _never_runs(node.test) else min(rank, _GUARDED)
            elif _conditional(node, field):
                r = min(rank, _GUARDED)
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    stack.append((child, r))
    out.sort(key=lambda item: (item[0].lineno, item[0].col_offset))
    return out


_PATH_NAMES = frozenset({"addsitedir", "extend_path"})


def _imports(tree: ast.AST, package: str) -> tuple[list[_Want], str]:
    """The module names ``tree`` may import (with how each import runs) and whether it also imports
    dynamically (then the tracer cannot know every module it loads): ``""`` no, ``"import"`` yes,
    ``"path"`` it changes where imports resolve (``sys.path``), so no import can be called missing."""
    wanted: list[_Want] = []
    dynamic = ""

    def flag(kind: str) -> None:
        nonlocal dynamic
        if dynamic != "path":
            dynamic = kind

    for node, rank in _import_nodes(tree):
        line = node.lineno
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in _DYNAMIC_MODULES:
                    flag("import")
                wanted.append(_Want(alias.name, rank, True, line))
            continue
        if node.level:
            parts = package.split(".") if package else []
            if len(parts) < node.level:
                continue  # beyond the top-level package: fails on Lambda as well
            base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
            if base == "sys" and any(a.name in ("path", "*") for a in node.names):
                flag("path")
            elif base.split(".")[0] in _DYNAMIC_MODULES:
                flag("import")
        if base:
            wanted.append(_Want(base, rank, True, line))
        for alias in node.names:
            if alias.name in _DYNAMIC_NAMES:
                flag("path" if alias.name in _PATH_NAMES else "import")
            if alias.name == "*":
                wanted.append(_Want(base, rank, False, line, star=True))
            else:
                wanted.append(_Want(f"{base}.{alias.name}" if base else alias.name, rank, False, line))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id in _DYNAMIC_NAMES:
                flag("path" if node.id in _PATH_NAMES else "import")
        elif isinstance(node, ast.Attribute):
            if node.attr in _DYNAMIC_NAMES:
                flag("path" if node.attr in _PATH_NAMES else "import")
            if node.attr == "path" and isinstance(node.value, ast.Name) and node.value.id == "sys":
                flag("path")  # sys.path changes make imports resolve elsewhere
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) <= 200
              and ("." in node.value or ":" in node.value)
              and (match := _MODULE_STRING.fullmatch(node.value))):
            wanted.append(_Want(match.group(1), _NEVER, False, getattr(node, "lineno", 0)))
    return wanted, dynamic
