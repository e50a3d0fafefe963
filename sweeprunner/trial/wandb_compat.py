"""The W&B run API a sweep ``train()`` uses, on top of :mod:`sweeprunner.session`. No server.

Use it with ``from sweeprunner.trial import wandb_compat as wandb`` or, with ``wandb_shim: true``,
through a plain ``import wandb`` inside trials (see docs/trainable-api.md, which has a table of
every call). ``wandb.config`` lives in :mod:`sweeprunner.trial.wandb_config`, the run object (and
the reporting rule) in :mod:`sweeprunner.trial.wandb_run`, media in ``wandb_media``, artifacts in
``wandb_artifacts``, ``define_metric`` in ``wandb_metrics``, ``wandb.plot`` in ``wandb_plot``.

Which run is the trial's: the first ``init`` in the trial's own process (or in any process that
still has W&B's run environment, ``WANDB_RUN_ID``). A multiprocessing worker whose environment was
cleared (W&B's cross-validation example) starts a sub-run: kept under ``<trial dir>/runs/``, not
reported. A run still open when its process exits is finished then, as W&B does.

Importing this module never imports Ray.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import multiprocessing
import multiprocessing.util
import os
import signal
import threading
import types
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sweeprunner.trial import session
from sweeprunner.trial import wandb_plot as plot
from sweeprunner.trial.protocol import CONFIG_FILE_ENV, JSONL_ENV, METRIC_ENV
from sweeprunner.trial.wandb_artifacts import Artifact
from sweeprunner.trial.wandb_config import (
    AttrDict,
    Config,
    Summary,
    termerror,
    termlog,
    termwarn,
)
from sweeprunner.trial.wandb_media import (
    Audio,
    Histogram,
    Html,
    Image,
    Molecule,
    Object3D,
    Plotly,
    Table,
    Video,
)
from sweeprunner.trial.wandb_run import Run

__all__ = [
    "AttrDict", "Config", "Run", "Summary", "init", "log", "save", "restore", "finish", "join",
    "login", "watch", "unwatch", "define_metric", "alert", "config", "summary", "run", "plot",
    "Settings", "Api", "log_artifact", "use_artifact", "log_model", "use_model", "mark_preempting",
    "Image", "Histogram", "Table", "Html", "Audio", "Video", "Object3D", "Molecule", "Plotly",
    "Artifact", "termlog", "termwarn", "termerror", "setup", "teardown", "Error", "errors",
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


#: pid of the process that imported this module (a forked child inherits it and differs).
_IMPORT_PID = os.getpid()
#: Processes that already started a run in the current trial (a later one is a sub-run).
_started: set[int] = set()
_exit_hooks: set[int] = set()


def _in_worker() -> bool:
    """True in a multiprocessing worker or a forked child of the process that imported us."""
    return multiprocessing.parent_process() is not None or os.getpid() != _IMPORT_PID


def init(config: Any = None, project: str | None = None, name: str | None = None,  # noqa: A002
         reinit: bool | None = None, entity: str | None = None, notes: str | None = None,
         tags: Iterable[str] | None = None, group: str | None = None, job_type: str | None = None,
         **_ignored: Any) -> Run:
    """Start (or return) this trial's run. Sweep parameters override ``config`` defaults.

    ``settings``, ``mode``, ``dir``, ``resume``, ``save_code`` and W&B's other options are accepted
    and have no effect.
    """
    global run
    pid = os.getpid()
    if run is not None and run._pid != pid:
        run = None                        # inherited through fork: that is the parent's run
    if run is not None and not reinit:
        if config is not None:
            globals()["config"].update(config)
        return run
    if run is not None:
        run.finish()
    _trial.load_from_env()
    globals()["config"]._reset(_trial.params)
    if config is not None:   # defaults under the sweep's values, silently, as W&B's init does
        globals()["config"]._update(config, ignore_locked=True)
    summary.clear()
    with session.restored_checkpoint() as ckpt:
        resumed = ckpt is not None
    env = os.environ
    owns_trial = not _in_worker() or "WANDB_RUN_ID" in env
    env_tags = [t for t in env.get("WANDB_TAGS", "").split(",") if t]
    run = Run(name=name or env.get("WANDB_NAME"), project=project or env.get("WANDB_PROJECT"),
              config=globals()["config"], summary=summary, metric=_trial.metric, resumed=resumed,
              on_finish=_finished, sub_run=pid in _started or not owns_trial, report=owns_trial,
              entity=entity or env.get("WANDB_ENTITY"), notes=notes or env.get("WANDB_NOTES"),
              tags=tags if tags is not None else env_tags, group=group or env.get("WANDB_RUN_GROUP"),
              job_type=job_type or env.get("WANDB_JOB_TYPE"), sweep_id=_sweep_id())
    _started.add(pid)
    _install_exit_hooks(pid)
    return run


def _sweep_id() -> str | None:
    """W&B's ``WANDB_SWEEP_ID``, or inside a Ray Tune trial the sweep's name."""
    return os.environ.get("WANDB_SWEEP_ID") or session.sweep_name()


def _finish_at_exit() -> None:
    """W&B finishes a run when its process exits: report what is left, write the files."""
    if run is not None and run._pid == os.getpid() and not run._finished:
        try:
            run.finish()
        except Exception as exc:  # noqa: BLE001 -- at exit, say what failed instead of a traceback
            termerror(f"could not finish the run at exit: {exc}")


def _write_and_die(signum: int, frame: Any) -> None:
    """SIGTERM (the trial was stopped): keep what was logged, report nothing more, then die.

    A stop often brings two SIGTERMs (the runner's group stop, then the supervisor's when the Ray
    worker exits); the second must not re-enter this handler and kill the process mid-write.
    """
    signal.signal(signum, signal.SIG_IGN)
    if run is not None and run._pid == os.getpid() and not run._finished:
        try:
            run._write_files()
        except Exception as exc:  # noqa: BLE001 -- dying anyway: say what was not kept
            termerror(f"could not write the run's files when stopped: {exc}")
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_exit_hooks(pid: int) -> None:
    if pid in _exit_hooks:
        return
    _exit_hooks.add(pid)
    atexit.register(_finish_at_exit)
    if multiprocessing.parent_process() is not None:     # workers leave through os._exit
        multiprocessing.util.Finalize(None, _finish_at_exit, exitpriority=100)
    elif (os.environ.get(JSONL_ENV) == "1" and threading.current_thread() is threading.main_thread()
          and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL):
        signal.signal(signal.SIGTERM, _write_and_die)     # a script trial's own process


def _finished(finished: Run) -> None:
    global run
    if run is finished:
        run = None


def _active(call: str = "wandb.log") -> Run:
    if run is None or run._pid != os.getpid():
        raise RuntimeError(f"You must call wandb.init() before {call}()")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None,
        sync: bool | None = None) -> None:
    """``sync`` (W&B's deprecated flag) is accepted and ignored."""
    _active().log(data, step=step, commit=commit)


def save(glob_str: str | os.PathLike[str] | None = None, base_path: str | None = None,
         policy: str = "live") -> list[str] | bool:
    return _active("wandb.save").save(glob_str, base_path=base_path, policy=policy)


def restore(name: str, run_path: str | None = None, replace: bool = False,
            root: str | None = None) -> Any:
    return _active("wandb.restore").restore(name, replace=replace, root=root)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    if run is not None and run._pid == os.getpid():
        run.finish(exit_code=exit_code)


#: W&B's old name for :func:`finish`.
join = finish


def define_metric(name: str, step_metric: str | None = None, **kwargs: Any) -> Any:
    return _active("wandb.define_metric").define_metric(name, step_metric=step_metric, **kwargs)


def log_artifact(artifact_or_path: Any, name: str | None = None, type: str | None = None,  # noqa: A002
                 aliases: Iterable[str] | None = None, **kwargs: Any) -> Artifact:
    return _active("wandb.log_artifact").log_artifact(artifact_or_path, name=name, type=type,
                                                       aliases=aliases, **kwargs)


def use_artifact(artifact_or_name: Any, type: str | None = None,  # noqa: A002
                 aliases: Iterable[str] | None = None, **kwargs: Any) -> Artifact:
    return _active("wandb.use_artifact").use_artifact(artifact_or_name, type=type, aliases=aliases, **kwargs)


def log_model(path: str | os.PathLike[str], name: str | None = None,
              aliases: Iterable[str] | None = None) -> Artifact:
    return _active("wandb.log_model").log_model(path, name=name, aliases=aliases)


def use_model(name: str) -> str:
    return _active("wandb.use_model").use_model(name)


class Settings:
    """``wandb.Settings(**options)``: accepted and kept; nothing here reads them."""

    def __init__(self, **options: Any) -> None:
        self.__dict__.update(options)

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class Error(Exception):
    """W&B's base exception (``wandb.Error``, ``wandb.errors.Error``)."""


class CommError(Error):
    """W&B's "could not talk to the server" error; sweeprunner never raises it."""


class UsageError(Error, RuntimeError):
    """A W&B call that cannot work here (``wandb.errors.UsageError``)."""


#: ``wandb.errors``: the exception types scripts catch.
errors = types.SimpleNamespace(Error=Error, CommError=CommError, UsageError=UsageError)


class Api:
    """``wandb.Api()``: W&B's public API reads runs from a W&B server, which sweeprunner has none of."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UsageError(
            "wandb.Api() needs a W&B server and account, and sweeprunner runs without one. "
            "Read a sweep's results with `sweeprunner.results.load_trials(DIR)` (or "
            "`python -m sweeprunner results DIR`); a trial's own files are in its trial directory "
            "(wandb/summary.json, wandb/history.jsonl, files/, artifacts/)")


def login(*args: Any, **kwargs: Any) -> bool:
    return True


def watch(*args: Any, **kwargs: Any) -> None:
    return None


def unwatch(*args: Any, **kwargs: Any) -> None:
    return None


def mark_preempting() -> None:
    return None


def setup(*args: Any, **kwargs: Any) -> None:
    return None


def teardown(*args: Any, **kwargs: Any) -> None:
    return None


def alert(*args: Any, **kwargs: Any) -> None:
    return None


def __getattr__(name: str) -> Any:
    """A W&B attribute this module lacks: say so, and where the covered calls are listed."""
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(
        f"module 'wandb' (sweeprunner.trial.wandb_compat) has no attribute {name!r}: sweeprunner "
        "covers the W&B calls listed in docs/trainable-api.md")


def sweep(sweep: Any, entity: str | None = None, project: str | None = None, prior_runs: Any = None,
          **kwargs: Any) -> str:
    """``wandb.sweep``: create a sweep from a config dict or YAML path; see :func:`sweeprunner.api.sweep`."""
    from sweeprunner import api

    return api.sweep(sweep, entity=entity, project=project, prior_runs=prior_runs, **kwargs)


def agent(sweep_id: str, function: Any = None, entity: str | None = None, project: str | None = None,
          count: int | None = None, **kwargs: Any) -> None:
    """``wandb.agent``: run ``count`` trials of the sweep on Ray; see :func:`sweeprunner.api.agent`."""
    from sweeprunner import api

    api.agent(sweep_id, function=function, entity=entity, project=project, count=count, **kwargs)


@contextlib.contextmanager
def trial(params: Mapping[str, Any], metric: str | None) -> Iterator[None]:
    """Run one in-process trial: ``wandb.config`` holds ``params``; the run is finished after."""
    global run
    _trial.params, _trial.metric = dict(params), metric
    config._reset(params)
    summary.clear()
    run = None
    _started.clear()
    saved_env = {k: os.environ.get(k) for k in ("WANDB_RUN_ID", "WANDB_SWEEP_ID")}
    if session.in_tune():     # what W&B's agent puts in a run's environment
        os.environ["WANDB_RUN_ID"] = session.trial_id()
        os.environ["WANDB_SWEEP_ID"] = session.sweep_name() or ""
    try:
        yield
        if run is not None:
            run.finish()
    finally:
        if run is not None and not run._finished:
            run._write_files()   # failed or stopped: keep what was logged, report nothing more
        run = None
        _trial.params, _trial.metric = None, None
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
