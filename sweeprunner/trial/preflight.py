"""What ``validate`` checks before anything runs: the trainable, ``program`` and ``command`` a sweep names.

The same rules ``run`` enforces when it builds the trial function, reported with their key paths
(``command[2]``, ``program``, ``sweeprunner.trainable``). The user's code is not run: a module is
found with ``importlib.util.find_spec`` and its source is parsed (not executed) to find the function.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import re
import sys
from pathlib import Path

from sweeprunner.config.spec import SweepSpec
from sweeprunner.errors import Issue, did_you_mean
from sweeprunner.trainables import BUILTIN
from sweeprunner.trial.adapters import parse_target
from sweeprunner.trial.command import DEFAULT_COMMAND, command_problems

_COMMAND_ITEM = re.compile(r"^command\[(\d+)\]: (.*)$", re.S)


def runnable_problems(spec: SweepSpec, workdir: str | Path) -> list[Issue]:
    """Every problem with the trainable, ``program`` or ``command`` that ``spec`` names (none named: none)."""
    workdir = Path(workdir)
    issues: list[Issue] = []
    if spec.runner.trainable:
        issues += _trainable_problems(spec.runner.trainable, workdir)
    command = spec.command or (DEFAULT_COMMAND if spec.program else None)
    if command is not None:
        for problem in command_problems(command, spec.program):
            match = _COMMAND_ITEM.match(problem)
            path = ("command", int(match.group(1))) if match and spec.command else ("command",)
            issues.append(Issue(path, match.group(2) if match else problem.removeprefix("command: ")))
    if spec.program and not (workdir / spec.program).is_file():
        issues.append(Issue(("program",), f"no file {spec.program!r} in {workdir} (a relative program is found from "
                                          "the directory sweeprunner runs in)"))
    return issues


def _trainable_problems(name: str, workdir: Path) -> list[Issue]:
    path = ("sweeprunner", "trainable")
    if name in BUILTIN:
        return []
    if ":" not in name:
        return [Issue(path, f"unknown trainable {name!r}{did_you_mean(name, BUILTIN)}: use one of "
                            f"{', '.join(sorted(BUILTIN))}, or module:function, or path/to/file.py:function")]
    try:
        module, func = parse_target(name)
    except ValueError as exc:
        return [Issue(path, str(exc))]
    if module.endswith(".py"):
        source = Path(module) if Path(module).is_absolute() else workdir / module
        if not source.is_file():
            return [Issue(path, f"no file {str(source)!r} for trainable {name!r}")]
    else:
        source = _module_source(module, workdir)
        if isinstance(source, str):
            return [Issue(path, f"trainable {name!r}: {source}")]
        if source is None:  # a compiled or namespace module: it exists, its functions can't be read
            return []
    return _function_problems(source, func, name, path)


def _module_source(module: str, workdir: Path) -> Path | str | None:
    """The module's ``.py`` file, None when it has none, or why it can't be found (a message).

    Each dotted part is looked up in its parent's folders with ``PathFinder`` (after the top-level
    ``find_spec``), so no package ``__init__`` runs: a dotted ``find_spec`` would import the parents.
    """
    parts = module.split(".")
    added = str(workdir) not in sys.path
    if added:
        sys.path.insert(0, str(workdir))
    try:
        name = parts[0]
        found = importlib.util.find_spec(name)  # a top-level name imports nothing to be found
        for part in parts[1:]:
            if found is None:
                break
            if not found.submodule_search_locations:
                return f"no module named {name + '.' + part!r} ({name} is not a package)"
            name = f"{name}.{part}"
            found = importlib.machinery.PathFinder.find_spec(name, list(found.submodule_search_locations))
    except (ImportError, ValueError) as exc:
        return f"cannot import module {module!r}: {exc}"
    finally:
        if added:
            sys.path.remove(str(workdir))
    if found is None:
        return f"no module named {name!r} (looked in {workdir} and the installed packages)"
    origin = found.origin
    return Path(origin) if origin and origin.endswith(".py") else None


def _function_problems(source: Path, func: str, name: str, path: tuple[str, ...]) -> list[Issue]:
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    except SyntaxError as exc:
        return [Issue(path, f"trainable {name!r}: {source} has a SyntaxError at line {exc.lineno}: {exc.msg}")]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return [Issue(path, f"trainable {name!r}: cannot read {source}: {exc}")]
    names = _top_level_names(tree)
    if func in names or "*" in names:
        return []
    return [Issue(path, f"trainable {name!r}: {source.name} defines no {func!r}"
                        f"{did_you_mean(func, sorted(n for n in names if not n.startswith('_')))}")]


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names a module binds at top level (defs, classes, assignments, imports), read, not run."""
    names: set[str] = set()
    for node in ast.walk(tree):  # includes if/try blocks; nested function bodies add harmless extras
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names
