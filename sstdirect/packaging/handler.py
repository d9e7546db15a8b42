"""Handler resolution: an SST-style handler string -> the folder to zip, the file and Lambda's ``Handler``.

The file is parsed with :mod:`ast`, never imported, to check that it defines the handler's name. Every
bad input is a :class:`~sstdirect.errors.ConfigError` naming the construct, the key and the fix.
"""

from __future__ import annotations

import ast
import functools
import keyword
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sstdirect.errors import ConfigError

from .files import _where


@dataclass(frozen=True)
class HandlerLocation:
    """Where a handler lives.

    ``code_dir`` is the folder that is zipped (absolute), ``file`` the handler's ``.py`` file
    (absolute, inside ``code_dir``), ``lambda_handler`` the ``module.sub.function`` value of
    Lambda's ``Handler`` field, relative to ``code_dir`` (the handler file's path in the zip).
    ``import_root``: the app's root when it is not ``code_dir`` (no ``src``): the second ``sys.path``
    root, where modules the handler imports that are not in ``code_dir`` are looked up and from
    which they are bundled at their path under it (``core/db.py``).
    """

    code_dir: Path
    file: Path
    lambda_handler: str
    import_root: Path | None = None


_HANDLER_FORM = "write it as 'path/to/file.function', e.g. 'src/list.main' for function main in src/list.py"


def _config_error(construct: str, key: str, value: object, problem: str, fix: str) -> ConfigError:
    """``"<construct>: <key> <value> <problem>. Fix: <fix>."``"""
    return ConfigError(f"{_where(construct)}{key} {value!r} {problem}. Fix: {fix}.")


def resolve_handler(
    root: Path | str, handler: str, *, src: str | os.PathLike[str] | None = None, construct: str = ""
) -> HandlerLocation:
    """Resolve an SST-style ``handler`` string (``"src/list.main"``) against ``root``.

    Without ``src`` the handler path is relative to ``root``; the zipped folder is the handler
    file's own folder and ``lambda_handler`` is ``"list.main"`` (sibling modules import as they do
    on Lambda), and ``root`` is the ``import_root`` (``from core.db import table`` finds
    ``root/core/db.py``, bundled as ``core/db.py``).  With ``src`` the path is relative to
    ``root/src``, which is the zipped folder (and the only import root), and ``lambda_handler`` is
    the dotted module path (``"api/list.main"`` -> ``"api.list.main"``).

    Raises :class:`ConfigError` naming ``construct``, the key and the fix for: a malformed handler
    string, a path that leaves the root (``..``, absolute paths, symlinks pointing outside), a file
    that does not exist, a file with a syntax error, and a file that defines no such top-level name.
    """

    def fail(problem: str, fix: str, key: str = "handler", value: object = handler) -> ConfigError:
        return _config_error(construct, key, value, problem, fix)

    # --- the string itself -------------------------------------------------------------------
    if not isinstance(handler, str):
        raise fail(f"is a {type(handler).__name__}, not a string", _HANDLER_FORM)
    if not handler.strip():
        raise fail("is empty", _HANDLER_FORM)
    if any(c.isspace() for c in handler):
        raise fail("contains whitespace", "remove the spaces; " + _HANDLER_FORM)
    if not handler.isprintable():  # a NUL or another control character: no file has such a name
        raise fail("contains a control character", _HANDLER_FORM)
    if "\\" in handler:
        raise fail("uses backslashes", "separate folders with '/', e.g. 'src/list.main'")
    path_part, dot, func = handler.rpartition(".")
    if not dot:
        raise fail(
            "has no '.' separating the file from the function name",
            f"write 'path/to/file.function', e.g. '{handler}.main' for function main in {handler}.py",
        )
    if not func:
        raise fail("has an empty function name after the last '.'", _HANDLER_FORM)
    if not path_part or path_part.endswith("/"):
        raise fail("has an empty file path before the function name", _HANDLER_FORM)
    if not func.isidentifier() or keyword.iskeyword(func):
        raise fail(f"names function {func!r}, which is not a Python identifier", _HANDLER_FORM)
    if path_part.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path_part):
        raise fail(
            "is an absolute path, which leaves the root",
            "make the path relative to the app's root folder, e.g. 'src/list.main'",
        )
    raw_parts = path_part.split("/")
    base_name = "the src folder" if src is not None else "the root"
    if ".." in raw_parts:
        raise fail(
            f"contains '..', which leaves {base_name}",
            f"use a path inside {base_name} without '..'"
            + ("" if src is None else ", or point src at a folder that contains the handler"),
        )
    parts = [p for p in raw_parts if p not in ("", ".")]
    if not parts:
        raise fail("has no file name before the function name", _HANDLER_FORM)
    stem = parts[-1]
    if not stem.isidentifier() or keyword.iskeyword(stem):
        if stem.endswith(".py"):
            fixed = "/".join([*parts[:-1], stem[:-3]]) + "." + func
            raise fail("includes the '.py' extension", f"leave it out: {fixed!r}")
        raise fail(
            f"names module {stem!r}, which is not a valid Python module name (Lambda imports it)",
            "rename the file to letters, digits and underscores (e.g. list_notes.py) and update the handler",
        )

    # --- the folders -------------------------------------------------------------------------
    root_real = Path(root).resolve()
    if not root_real.is_dir():
        raise fail(
            f"cannot be resolved: the root folder {root_real} does not exist",
            "pass App(root=...) the folder that holds your handler files",
        )
    if src is not None:
        src_str = os.fspath(src) if isinstance(src, os.PathLike) else src
        if not isinstance(src_str, str) or not src_str.strip() or not src_str.isprintable():
            raise fail("is empty or not a path", "pass src='folder' relative to the root, or leave src unset",
                       key="src", value=src)
        base = (root_real / src_str).resolve()
        if not base.is_relative_to(root_real):
            raise fail(
                f"leaves the root {root_real}",
                "use a folder inside the app's root for src", key="src", value=src_str,
            )
        if not base.is_dir():
            raise fail(
                f"is not a folder (looked for {base})",
                "create it or point src at the folder that holds your handler files",
                key="src", value=src_str,
            )
        for folder in parts[:-1]:
            if not folder.isidentifier() or keyword.iskeyword(folder):
                raise fail(
                    f"goes through folder {folder!r}, which is not a valid Python package name "
                    f"(with src, Lambda imports the handler as {'.'.join(parts)!r})",
                    "rename the folder to letters, digits and underscores, "
                    "or point src at the handler's folder",
                )
        code_dir = base
        lambda_handler = ".".join(parts) + "." + func
    else:
        base = root_real
        code_dir = None
        lambda_handler = f"{stem}.{func}"

    file = base.joinpath(*parts[:-1], stem + ".py")
    file_real = file.resolve()
    if not file_real.is_relative_to(root_real):
        raise fail(
            f"resolves through a symlink to {file_real}, which leaves the root {root_real}",
            "keep handler files inside the app's root folder (copy the file instead of linking it)",
        )
    rel_shown = "/".join([*parts[:-1], stem + ".py"])
    if not file.is_file():
        if file.is_dir():
            raise fail(f"points to {file}, which is a folder, not a .py file", _HANDLER_FORM)
        fix = f"create {rel_shown} or correct the handler path (relative to {base})"
        folder = base.joinpath(*parts[:-1], stem)
        if folder.is_dir():
            inside = "/".join([*parts, "<file>"])
            fix = f"{'/'.join(parts)} is a folder; name a .py file inside it: '{inside}.{func}'"
        elif src is not None and root_real.joinpath(*parts[:-1], stem + ".py").is_file():
            fix = (f"with src={os.fspath(src)!r} handler paths are relative to {base}; "
                   f"write the path from there, not from the root")
        raise fail(f"points to a file that does not exist: looked for {file}", fix)
    wrong_case = _case_mismatch(base, [*parts[:-1], stem + ".py"])
    if wrong_case is not None:
        want, have = wrong_case
        raise fail(
            f"points to {want!r}, but the file system has {have!r} (Lambda's file names are case-sensitive)",
            "use the exact spelling in the handler path",
        )
    if code_dir is None:
        code_dir = file.parent.resolve()
        file = code_dir / (stem + ".py")
    if not file_real.is_relative_to(code_dir):
        raise fail(
            f"is a symlink to {file_real}, outside the folder {code_dir} that is zipped for Lambda",
            "move or copy the handler file into that folder instead of linking it",
        )

    names, has_star = _defined_names(file, construct=construct, handler=handler)
    if func not in names and not has_star:
        found = ", ".join(sorted(names)[:12]) or "none"
        if func == "py":
            fix = f"the part after the last '.' is the function name: write {'/'.join(parts)}.main"
        else:
            fix = (f"define 'def {func}(event, context):' (or '{func} = ...') at the top level of "
                   f"{rel_shown}, or name an existing function in the handler")
        raise fail(f"names {func!r}, which {file} does not define at top level (top-level names: {found})",
                   fix)
    import_root = root_real if src is None and code_dir != root_real else None
    return HandlerLocation(code_dir=code_dir, file=file, lambda_handler=lambda_handler, import_root=import_root)


def _case_mismatch(base: Path, parts: list[str]) -> tuple[str, str] | None:
    """On case-insensitive file systems, find a path component spelled differently on disk (a folder on a
    case-sensitive one is not listed: the path was found spelled exactly as given)."""
    current = base
    for part in parts:
        if not _folds_case(str(current)):
            current = current / part
            continue
        try:
            listing = os.listdir(current)
        except OSError:
            return None
        if part not in listing:
            lowered = part.casefold()
            for name in listing:
                if name.casefold() == lowered:
                    return part, name
            return None
        current = current / part
    return None


@functools.lru_cache(maxsize=256)
def _folds_case(folder: str) -> bool:
    """Whether the file system of ``folder`` finds names case-insensitively (asked once per folder): its
    own name with the case of its letters swapped names the same folder. Without letters: assume so."""
    head, name = os.path.split(folder)
    swapped = name.swapcase()
    if swapped == name:
        return True
    try:
        return os.path.samestat(os.stat(folder), os.stat(os.path.join(head, swapped)))
    except OSError:
        return False


def _defined_names(file: Path, *, construct: str, handler: str) -> tuple[set[str], bool]:
    """Top-level names bound by ``file`` (parsed, never imported) and whether it star-imports."""
    try:
        source = file.read_bytes()
    except OSError as exc:
        raise _config_error(construct, "handler", handler, f"points to {file}, which cannot be read ({exc})",
                            "make the file readable") from exc
    try:
        tree = ast.parse(source, filename=str(file))
    except SyntaxError as exc:
        line = f"line {exc.lineno}" if exc.lineno else "an unknown line"
        raise _config_error(
            construct, "handler", handler,
            f"points to {file}, which has a syntax error at {line}: {exc.msg}",
            f"fix the syntax error in {file} at {line}",
        ) from exc
    except ValueError as exc:  # null bytes (Python 3.11)
        raise _config_error(construct, "handler", handler,
                            f"points to {file}, which is not Python source ({exc})",
                            "point the handler at a Python source file") from exc
    names: set[str] = set()
    star = False

    def bind(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                bind(elt)
        elif isinstance(target, ast.Starred):
            bind(target.value)

    def visit(body: list[ast.stmt]) -> None:
        nonlocal star
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    bind(target)
            elif isinstance(node, ast.AnnAssign):
                if node.value is not None:  # a bare annotation binds nothing at run time
                    bind(node.target)
            elif isinstance(node, ast.AugAssign):
                bind(node.target)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name == "*":
                        star = True
                    else:
                        names.add(alias.asname or alias.name)
            elif isinstance(node, ast.If | ast.While):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.For | ast.AsyncFor):
                bind(node.target)
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.With | ast.AsyncWith):
                for item in node.items:
                    if item.optional_vars is not None:
                        bind(item.optional_vars)
                visit(node.body)
            elif isinstance(node, ast.Try | ast.TryStar):
                visit(node.body)
                for h in node.handlers:
                    visit(h.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.Match):
                for case in node.cases:
                    visit(case.body)
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.NamedExpr):
                bind(node.value.target)

    visit(tree.body)
    return names, star
