"""Checks before Ray starts: what a trial will import and run exists, without running any of it.

``validate`` reports these problems and ``run`` refuses them, with the same key paths:

- ``sweeprunner.trainable``: a built-in name (did-you-mean otherwise), or ``module:function`` /
  ``path.py:function`` whose module (or file) is found, parses and defines the function;
- ``command[i]``: every item of ``command`` is a known W&B macro or a plain word;
- ``program``: the file exists (relative to the working directory) and, for a Python program
  run by ``${interpreter}``, parses;
- the modules the trainable or program imports at top level are installed (or sit next to it);
  a plain ``import wandb`` without ``wandb_shim: true`` and without the wandb package says to set it.

The user's code is read with :mod:`ast`, never imported or executed here (its top level may load
data or start a sweep of its own). Modules are located with ``find_spec``/``PathFinder`` part by
part, so no package ``__init__`` runs either.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from sweeprunner.config.spec import SweepSpec
from sweeprunner.errors import Issue, KeyPath, SweepConfigError, did_you_mean
from sweeprunner.trainables import BUILTIN
from sweeprunner.trial.adapters import parse_target
from sweeprunner.trial.command import DEFAULT_COMMAND, command_problems

WANDB_HINT = "set `sweeprunner: {wandb_shim: true}` so `import wandb` uses sweeprunner's W&B-compatible module"
_COMMAND_ITEM = re.compile(r"^command\[(\d+)\]: (.*)$", re.S)
_TRAINABLE: KeyPath = ("sweeprunner", "trainable")


def check_runnable(spec: SweepSpec, workdir: str | Path) -> None:
    """Raise one :class:`SweepConfigError` listing every problem :func:`runnable_problems` finds."""
    problems = runnable_problems(spec, workdir)
    if problems:
        raise SweepConfigError(problems, source=spec.source)


def runnable_problems(spec: SweepSpec, workdir: str | Path) -> list[Issue]:
    """Every problem with the trainable, ``program`` or ``command`` that ``spec`` names (none named: none)."""
    workdir = Path(workdir)
    issues: list[Issue] = []
    if spec.runner.trainable:
        issues += _trainable_problems(spec.runner.trainable, workdir, wandb_shim=spec.runner.wandb_shim)
    command = spec.command or (DEFAULT_COMMAND if spec.program else None)
    if command is not None:
        for problem in command_problems(command, spec.program):
            match = _COMMAND_ITEM.match(problem)
            path = ("command", int(match.group(1))) if match and spec.command else ("command",)
            issues.append(Issue(path, match.group(2) if match else problem.removeprefix("command: ")))
    if spec.program:
        program = Path(spec.program) if Path(spec.program).is_absolute() else workdir / spec.program
        if not program.is_file():
            issues.append(Issue(("program",), f"no file {spec.program!r} in {workdir} (a relative program is found "
                                              "from the directory sweeprunner runs in)"))
        elif program.suffix == ".py" and "${interpreter}" in [str(w) for w in command or ()]:
            issues += source_problems(program, ("program",), f"program {spec.program!r}",
                                      wandb_shim=spec.runner.wandb_shim, search=[str(program.parent), str(workdir)])
    return issues


def _trainable_problems(name: str, workdir: Path, *, wandb_shim: bool) -> list[Issue]:
    if name in BUILTIN:
        return []
    if ":" not in name:
        return [Issue(_TRAINABLE, f"unknown trainable {name!r}{did_you_mean(name, BUILTIN)}: use one of "
                                  f"{', '.join(sorted(BUILTIN))}, or module:function, or path/to/file.py:function")]
    try:
        module, func = parse_target(name)
    except ValueError as exc:
        return [Issue(_TRAINABLE, str(exc))]
    if module.endswith(".py"):
        source = Path(module) if Path(module).is_absolute() else workdir / module
        if not source.is_file():
            return [Issue(_TRAINABLE, f"no file {str(source)!r} for trainable {name!r}")]
    else:
        found = _module_source(module, workdir)
        if isinstance(found, str):
            return [Issue(_TRAINABLE, f"trainable {name!r}: {found}")]
        if found is None:  # a compiled or namespace module: it exists, its functions can't be read
            return []
        source = found
    problems = source_problems(source, _TRAINABLE, f"trainable {name!r}", wandb_shim=wandb_shim,
                               search=[str(source.parent), str(workdir)])
    if problems:
        return problems
    names = defined_names(ast.parse(source.read_bytes(), filename=str(source)))
    if func in names or "*" in names:
        return []
    return [Issue(_TRAINABLE, f"trainable {name!r}: {source.name} defines no function {func!r}"
                              f"{did_you_mean(func, sorted(n for n in names if not n.startswith('_')))}")]


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


def source_problems(path: Path, key: KeyPath, what: str, *, wandb_shim: bool, search: Sequence[str]) -> list[Issue]:
    """``path`` parses and the modules it imports at top level are installed."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        return [Issue(key, f"{what}: syntax error in {path}, line {exc.lineno}: {exc.msg}")]
    except (OSError, ValueError) as exc:
        return [Issue(key, f"{what}: cannot read {path}: {exc}")]
    issues = []
    for name, line in top_level_imports(tree):
        if _installed(name, search) or (name == "wandb" and wandb_shim):
            continue
        if name == "wandb":
            issues.append(Issue(("sweeprunner", "wandb_shim"), f"{what} imports wandb ({path}, line {line}), "
                                                             f"which is not installed: {WANDB_HINT}"))
        else:
            issues.append(Issue(key, f"{what} imports {name!r} ({path}, line {line}), which is not installed "
                                     f"in {sys.executable}"))
    return issues


def defined_names(tree: ast.Module) -> set[str]:
    """Every name the module binds anywhere, read, not run (a function under ``if``/``try`` counts;
    ``"*"`` for a star import, which may bind anything)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names
