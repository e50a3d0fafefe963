"""Turn what a user brings into a Tune function trainable ``def trainable(config) -> None``.

API used by the launcher::

    make_trainable(target=None, *, program=None, command=None, wandb_shim=False,
                   metric_name=None, metric_mode=None, workdir=None, stop_grace_s=10.0,
                   timeout_s=None) -> Callable[[dict], None]

- ``target``: ``"module:function"`` (``"path/to/file.py:function"`` works too) or a callable.
  A function with no required arguments is a W&B-style ``train()`` (uses ``wandb.init``,
  ``wandb.config``, ``wandb.log``...); a function taking one argument gets the nested config
  dict (native form, reports with ``sweeprunner.session.report`` or ``ray.tune.report``).
- ``program`` / ``command``: a subprocess trial (``target`` must be None); ``command`` is the
  W&B ``command`` list with macros, default ``[${env}, ${interpreter}, ${program}, ${args}]``.
- ``wandb_shim``: ``import wandb`` inside trials resolves to :mod:`sweeprunner.wandb_compat`.
- ``metric_name``: the sweep metric; a ``wandb.log`` row is one reported result when it
  carries it (every row when None). ``metric_mode`` (``"min"``/``"max"``): its goal; a
  non-finite or non-numeric value reaches Ray Tune as the worst value for it.
- ``workdir``: where ``module`` is imported from and where the command runs; default: the
  current directory at the time ``make_trainable`` is called (the driver's).
- ``stop_grace_s``: seconds between SIGTERM and SIGKILL when a subprocess trial is stopped.
- ``timeout_s``: ``sweeprunner.trial_timeout``; a trial running longer is ended (a script
  with its whole process group) and fails with the reason (see :mod:`.watchdog`).

Invalid input raises ``ValueError`` at once (bad target syntax, unknown command macro...).
The target module is imported inside the trial (after the shim is in place), not here.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sweeprunner.trial import session, wandb_compat
from sweeprunner.trial.command import DEFAULT_COMMAND, CommandSpec, run_command
from sweeprunner.trial.watchdog import deadline

Trainable = Callable[[dict[str, Any]], None]


def install_wandb_shim() -> None:
    """Make ``import wandb`` in this process return :mod:`sweeprunner.wandb_compat`."""
    sys.modules["wandb"] = wandb_compat


def parse_target(target: str) -> tuple[str, str]:
    """Split ``"module:function"``; raise ValueError with the expected form."""
    module, sep, func = target.rpartition(":")
    if not sep or not module or not func.isidentifier():
        raise ValueError(
            f"trainable {target!r}: expected 'module:function' (or 'path/to/file.py:function')"
        )
    return module, func


def load_target(target: str, workdir: str | None = None) -> Callable[..., Any]:
    """Import ``target``'s module (from ``workdir`` first) and return the function."""
    module_name, func_name = parse_target(target)
    base = Path(workdir or os.getcwd())
    if module_name.endswith(".py"):
        path = Path(module_name) if Path(module_name).is_absolute() else base / module_name
        if not path.is_file():
            raise ValueError(f"trainable {target!r}: no file {path}")
        name = f"sweeprunner_user_{path.stem}"
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    else:
        if str(base) not in sys.path:
            sys.path.insert(0, str(base))
        module = importlib.import_module(module_name)
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ValueError(f"trainable {target!r}: {module_name} has no function {func_name!r}")
    return func


def takes_config(func: Callable[..., Any]) -> bool:
    """True for ``train(config)``, False for W&B-style ``train()``; ValueError otherwise."""
    params = [
        p
        for p in inspect.signature(func).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.default is inspect.Parameter.empty
    ]
    if len(params) > 1:
        raise ValueError(
            f"trainable {getattr(func, '__qualname__', func)!r} must take no "
            f"arguments (W&B style) or one (config), not {len(params)}"
        )
    return len(params) == 1


def run_function(func: Callable[..., Any], config: dict[str, Any], metric_name: str | None) -> None:
    """Call a user function as one trial: W&B style inside a compat run, or with ``config``."""
    with wandb_compat.trial(config, metric_name):
        if takes_config(func):
            func(config)
        else:
            func()


def make_trainable(
    target: str | Callable[..., Any] | None = None,
    *,
    program: str | None = None,
    command: Sequence[Any] | None = None,
    wandb_shim: bool = False,
    metric_name: str | None = None,
    metric_mode: str | None = None,
    workdir: str | None = None,
    stop_grace_s: float = 10.0,
    timeout_s: float | None = None,
) -> Trainable:
    """The Tune function trainable for a user function, or for a program/command."""
    workdir = str(Path(workdir or os.getcwd()).resolve())
    if target is not None and (program is not None or command is not None):
        raise ValueError("give either a trainable target or program/command, not both")
    if target is None:
        if program is None and command is None:
            raise ValueError("nothing to run: give a trainable target, `program` or `command`")
        spec = CommandSpec(
            program=program,
            command=tuple(command or DEFAULT_COMMAND),
            workdir=workdir,
            wandb_shim=wandb_shim,
            metric=metric_name,
            stop_grace_s=stop_grace_s,
            timeout_s=timeout_s,
        )

        def command_trainable(config: dict[str, Any]) -> None:
            session.set_sweep_metric(metric_name, metric_mode)
            run_command(spec, config)

        return command_trainable

    if isinstance(target, str):
        parse_target(target)
    elif not callable(target):
        raise ValueError(f"trainable must be 'module:function' or a callable, not {target!r}")
    else:
        takes_config(target)

    def function_trainable(config: dict[str, Any]) -> None:
        session.set_sweep_metric(metric_name, metric_mode)
        if wandb_shim:
            install_wandb_shim()
        func = load_target(target, workdir) if isinstance(target, str) else target
        with deadline(timeout_s, grace_s=stop_grace_s):
            run_function(func, config, metric_name)

    name = target.rpartition(":")[2] if isinstance(target, str) else getattr(target, "__name__", "")
    if name.isidentifier():
        function_trainable.__name__ = function_trainable.__qualname__ = name
    return function_trainable


def wandb_logger_callback(**kwargs: Any) -> Any:
    """Ray's ``WandbLoggerCallback`` for users who also want runs in W&B (needs real wandb)."""
    module = sys.modules.get("wandb")
    if module is wandb_compat or importlib.util.find_spec("wandb") is None:
        raise ValueError(
            "logging to W&B needs the real `wandb` package (pip install wandb) "
            "in the process that runs the sweep"
        )
    from ray.air.integrations.wandb import WandbLoggerCallback

    return WandbLoggerCallback(**kwargs)
