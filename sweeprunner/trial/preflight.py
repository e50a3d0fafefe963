"""Checks before Ray starts: what a trial will import and run exists, without running any of it.

- ``sweeprunner.trainable: module:function`` / ``path.py:function``: the module (or file) is
  found and its source parses;
- ``program``: the file exists (relative to the working directory) and, for a Python program
  run by ``${interpreter}``, parses;
- the modules either imports at its top level are installed (or sit next to it); a plain
  ``import wandb`` without ``wandb_shim: true`` and without the wandb package says to set it.

The user's code is read with :mod:`ast`, never imported or executed here (its top level may
load data or start a sweep of its own). Each problem raises :class:`SweepConfigError` with the
key path it belongs to.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sweeprunner.errors import SweepConfigError

WANDB_HINT = "set `sweeprunner: {wandb_shim: true}` so `import wandb` uses sweeprunner's W&B-compatible module"


def _installed(name: str, search: Sequence[str]) -> bool:
    if name in sys.builtin_module_names or name in sys.stdlib_module_names:
        return True
    if importlib.machinery.PathFinder.find_spec(name, list(search)) is not None:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def top_level_imports(tree: ast.Module) -> list[tuple[str, int]]:
    """``(top package, line)`` of each import at module level, outside ``try`` blocks (optional deps)."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module != "__future__":
            found.append((node.module.split(".")[0], node.lineno))
    return found


def check_source(path: Path, key: tuple[str, ...], what: str, *, wandb_shim: bool, search: Sequence[str]) -> None:
    """``path`` parses and its top-level imports are installed."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        raise SweepConfigError.single(key, f"{what}: syntax error in {path}, line {exc.lineno}: {exc.msg}") from None
    except OSError as exc:
        raise SweepConfigError.single(key, f"{what}: cannot read {path}: {exc.strerror}") from None
    for name, line in top_level_imports(tree):
        if _installed(name, search):
            continue
        if name == "wandb":
            if wandb_shim:
                continue
            raise SweepConfigError.single(("sweeprunner", "wandb_shim"), f"{what} imports wandb ({path}, line {line}), "
                                          f"which is not installed: {WANDB_HINT}")
        raise SweepConfigError.single(key, f"{what} imports {name!r} ({path}, line {line}), which is not installed "
                                      f"in {sys.executable}")


def defined_names(tree: ast.Module) -> set[str] | Any:
    """Every name the module binds anywhere (lenient: a function defined under ``if`` or ``try`` counts)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any(alias.name == "*" for alias in node.names):
                return _Everything()
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


class _Everything:
    def __contains__(self, item: object) -> bool:
        return True


def _module_file(module: str, workdir: str) -> Path | None:
    """The source file of ``module`` as a trial will import it (workdir first), or None if absent."""
    top = module.split(".")[0]
    spec = importlib.machinery.PathFinder.find_spec(top, [workdir])
    if spec is None:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
        if spec is None:
            return None
    elif "." in module:  # a package next to the script: walk to the submodule's file
        base = Path(workdir, *module.split("."))
        candidates = [base.with_suffix(".py"), base / "__init__.py"]
        return next((c for c in candidates if c.is_file()), None)
    origin = getattr(spec, "origin", None)
    return Path(origin) if origin and origin.endswith(".py") else Path(spec.name)


def check_trainable(target: Any, *, program: str | None, command: Sequence[Any] | None, wandb_shim: bool,
                    workdir: str) -> None:
    """Raise SweepConfigError for a trainable/program that a trial could not import or start."""
    if isinstance(target, str):
        module, _, func = target.rpartition(":")
        key = ("sweeprunner", "trainable")
        if module.endswith(".py"):
            path = Path(module) if Path(module).is_absolute() else Path(workdir) / module
            if not path.is_file():
                raise SweepConfigError.single(key, f"trainable {target!r}: no file {path}")
            search = [str(path.parent), workdir]
        else:
            found = _module_file(module, workdir)
            if found is None:
                raise SweepConfigError.single(key, f"trainable {target!r}: no module named {module!r} "
                                              f"(looked in {workdir} and {sys.executable}'s packages)")
            if found.suffix != ".py":
                return  # a compiled or namespace module: nothing to read
            path, search = found, [str(found.parent), workdir]
        check_source(path, key, f"trainable {target!r}", wandb_shim=wandb_shim, search=search)
        if func not in defined_names(ast.parse(path.read_bytes())):
            raise SweepConfigError.single(key, f"trainable {target!r}: {path} defines no function {func!r}")
        return
    if program is None:
        return
    path = Path(program) if Path(program).is_absolute() else Path(workdir) / program
    if not path.is_file():
        raise SweepConfigError.single(("program",), f"no file {path} (program is relative to the directory the "
                                      "sweep runs in)")
    words = [str(w) for w in (command or ())]
    python_run = path.suffix == ".py" and (not words or "${interpreter}" in words)
    if python_run:
        check_source(path, ("program",), f"program {program!r}", wandb_shim=wandb_shim,
                     search=[str(path.parent), workdir])
