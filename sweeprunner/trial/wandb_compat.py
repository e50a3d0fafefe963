"""The W&B run API a sweep ``train()`` uses, on top of :mod:`sweeprunner.session`. No server.

Use it with ``from sweeprunner.trial import wandb_compat as wandb`` or, with ``wandb_shim: true``,
through a plain ``import wandb`` inside trials (see docs/trainable-api.md). Covered:
``init``, ``config`` (attribute and item access, nested), ``log``, ``summary``, ``save``,
``restore``, ``finish``, ``run``, plus no-op ``login``/``watch``/``define_metric``/``alert``.
``wandb.config`` lives in :mod:`sweeprunner.trial.wandb_config`, the run object (and the
reporting rule) in :mod:`sweeprunner.trial.wandb_run`.

Importing this module never imports Ray.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sweeprunner.trial import session
from sweeprunner.trial.protocol import CONFIG_FILE_ENV, METRIC_ENV
from sweeprunner.trial.wandb_config import AttrDict, Config, Summary, termerror, termlog, termwarn
from sweeprunner.trial.wandb_run import Run

__all__ = [
    "AttrDict", "Config", "Run", "Summary", "init", "log", "save", "restore", "finish",
    "login", "watch", "define_metric", "alert", "config", "summary", "run",
    "Image", "Histogram", "Table", "Artifact", "termlog", "termwarn", "termerror",
]


class _TrialContext:
    """What the adapter or the subprocess environment tells us about the current trial."""

    def __init__(self) -> None:
        self.params: dict[str, Any] | None = None
        self.metric: str | None = None

    def load_from_env(self) -> None:
        path = os.environ.get(CONFIG_FILE_ENV)
        if self.params is None and path:
            self.params = json.loads(Path(path).read_text())
            self.metric = os.environ.get(METRIC_ENV) or None


_trial = _TrialContext()


# ---------------------------------------------------------------------------- module API

config = Config()
summary = Summary()
run: Run | None = None


def init(config: Any = None, project: str | None = None, name: str | None = None,  # noqa: A002
         reinit: bool | None = None, **_ignored: Any) -> Run:
    """Start (or return) this trial's run. Sweep parameters override ``config`` defaults."""
    global run
    if run is not None and not reinit:
        if config is not None:
            globals()["config"].update(config)
        return run
    if run is not None:
        run.finish()
    _trial.load_from_env()
    globals()["config"]._reset(_trial.params)
    if config is not None:
        globals()["config"].update(config)
    summary.clear()
    with session.restored_checkpoint() as ckpt:
        resumed = ckpt is not None
    run = Run(name=name, project=project, config=globals()["config"], summary=summary,
              metric=_trial.metric, resumed=resumed, on_finish=_finished)
    return run


def _finished(finished: Run) -> None:
    global run
    if run is finished:
        run = None


def _active() -> Run:
    if run is None:
        raise RuntimeError("You must call wandb.init() before wandb.log()")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    _active().log(data, step=step, commit=commit)


def save(glob_str: str | os.PathLike[str], base_path: str | None = None,
         policy: str = "live") -> list[str]:
    return _active().save(glob_str, base_path=base_path, policy=policy)


def restore(name: str, run_path: str | None = None, replace: bool = False,
            root: str | None = None) -> Any:
    return _active().restore(name, replace=replace, root=root)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    if run is not None:
        run.finish(exit_code=exit_code)


def login(*args: Any, **kwargs: Any) -> bool:
    return True


def watch(*args: Any, **kwargs: Any) -> None:
    return None


def define_metric(*args: Any, **kwargs: Any) -> None:
    return None


def alert(*args: Any, **kwargs: Any) -> None:
    return None


def sweep(*args: Any, **kwargs: Any) -> str:
    raise NotImplementedError("wandb.sweep needs a W&B server; run the YAML with "
                              "`python -m sweeprunner run CONFIG.yaml` instead")


def agent(*args: Any, **kwargs: Any) -> None:
    raise NotImplementedError("wandb.agent needs a W&B server; sweeprunner calls your train() "
                              "itself: set `sweeprunner: {trainable: module:train}`")


class _Media:
    """Inert stand-in for W&B media types; logged instances are left out of reported rows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


class Image(_Media):
    pass


class Histogram(_Media):
    pass


class Table(_Media):
    pass


class Artifact(_Media):
    def add_file(self, *args: Any, **kwargs: Any) -> None:
        return None

    def add_dir(self, *args: Any, **kwargs: Any) -> None:
        return None


@contextlib.contextmanager
def trial(params: Mapping[str, Any], metric: str | None) -> Iterator[None]:
    """Run one in-process trial: ``wandb.config`` holds ``params``; the run is finished after."""
    global run
    _trial.params, _trial.metric = dict(params), metric
    config._reset(params)
    summary.clear()
    run = None
    try:
        yield
        if run is not None:
            run.finish()
    finally:
        if run is not None and not run._finished:
            run._write_files()   # failed or stopped: keep what was logged, report nothing more
        run = None
        _trial.params, _trial.metric = None, None
