"""Where a running trial reports metrics and keeps checkpoints.

Inside a Ray Tune trial this forwards to ``ray.tune.report`` / ``ray.tune.get_checkpoint``.
Outside one (a trainable called directly, e.g. on a GPU box without Ray) it keeps the
reported rows in :data:`history`, prints them as JSON lines when ``SWEEPRUNNER_JSONL=1``,
and stores checkpoints under ``$SWEEPRUNNER_CHECKPOINT_DIR`` so a rerun resumes from them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeprunner.trial.protocol import (
    CHECKPOINT_DIR_ENV,
    JSONL_ENV,
    NUM_CPUS_ENV,
    TRIAL_DIR_ENV,
    USER_PREFIX,
    format_row,
    jsonable,
    tune_row,
)

if TYPE_CHECKING:
    from ray.tune.context import TuneContext

#: Rows reported while running outside Ray Tune (standalone mode).
history: list[dict[str, Any]] = []
#: Rows reported by the current trial of this process (reset per trial; see trial/failures.py).
reports_made = 0

#: The sweep metric and goal of the trial running in this process (see :func:`set_sweep_metric`).
_sweep_metric: tuple[str | None, str | None] = (None, None)
_warned_reserved: set[str] = set()


def set_sweep_metric(name: str | None, mode: str | None) -> None:
    """Tell this process the sweep's metric and goal (``"min"``/``"max"``), set per trial.

    Reports to Ray Tune then carry the metric as a number: a NaN, inf or non-numeric value
    becomes the worst value for the goal (the raw value is kept under ``raw/<metric>``).
    """
    global _sweep_metric
    _sweep_metric = (name, mode)


@functools.cache
def _reserved_keys() -> frozenset[str]:
    """Result keys Ray Tune reads or fills itself: a trial reporting one would steer Ray."""
    from ray.tune import result as r

    return frozenset({r.DONE, r.SHOULD_CHECKPOINT, r.TRIAL_ID, r.EXPERIMENT_TAG, r.RESULT_DUPLICATE,
                      r.TRIAL_INFO, r.STDOUT_FILE, r.STDERR_FILE, *r.DEFAULT_EXPERIMENT_INFO_KEYS,
                      *r.AUTO_RESULT_KEYS, *r.DEBUG_METRICS})


def _tune_context() -> TuneContext | None:
    """The Ray Tune context of this process, or None when not inside a Tune trial."""
    if "ray" not in sys.modules:  # a Tune trial always has Ray loaded; don't pay its import otherwise
        return None
    try:
        from ray import tune
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():  # Ray warns when asked outside a trial; that is the question here
            warnings.simplefilter("ignore")
            ctx = tune.get_context()
            if ctx is None or ctx.get_trial_id() is None:
                return None
        return ctx
    except (RuntimeError, AttributeError, ValueError):  # Ray refuses outside a Tune session: not in a trial
        return None


def in_tune() -> bool:
    """True inside a Ray Tune trial."""
    return _tune_context() is not None


def report(metrics: Mapping[str, Any], *, checkpoint_dir: str | os.PathLike[str] | None = None) -> None:
    """Report one row of metrics, optionally with a checkpoint directory (copied, not moved)."""
    global reports_made
    reports_made += 1
    if in_tune():
        from ray import tune

        metric, mode = _sweep_metric
        row, renamed = tune_row(metrics, metric=metric, mode=mode, reserved=_reserved_keys())
        for key in sorted(set(renamed) - _warned_reserved):
            _warned_reserved.add(key)
            print(f"sweeprunner: WARNING the trial reported {key!r}, a key Ray Tune uses itself; "
                  f"it is kept as {USER_PREFIX + key!r} and does not steer the sweep", file=sys.stderr, flush=True)
        checkpoint = tune.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        tune.report(row, checkpoint=checkpoint)
        return
    row = {str(k): jsonable(v) for k, v in metrics.items()}
    history.append(row)
    if checkpoint_dir:
        target = _standalone_checkpoint_dir()
        if target is not None:
            tmp = target.with_name(target.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(checkpoint_dir, tmp)
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
    if os.environ.get(JSONL_ENV) == "1":
        print(format_row(row), file=sys.stdout, flush=True)


def _standalone_checkpoint_dir() -> Path | None:
    base = os.environ.get(CHECKPOINT_DIR_ENV)
    return Path(base) / "latest" if base else None


@contextlib.contextmanager
def restored_checkpoint() -> Iterator[Path | None]:
    """Yield the directory of the checkpoint to resume from, or None on a fresh start."""
    if in_tune():
        from ray import tune

        checkpoint = tune.get_checkpoint()
        if checkpoint is None:
            yield None
            return
        with checkpoint.as_directory() as path:
            yield Path(path)
        return
    target = _standalone_checkpoint_dir()
    yield target if target is not None and target.is_dir() else None


def trial_id() -> str:
    """The Tune trial id, or ``"standalone"``."""
    ctx = _tune_context()
    return ctx.get_trial_id() if ctx is not None else "standalone"


def sweep_name() -> str | None:
    """The sweep's name (Ray's experiment name, the sweep directory's name), or None outside Tune."""
    ctx = _tune_context()
    return ctx.get_experiment_name() if ctx is not None else None


def _storage_trial_dir(ctx: TuneContext) -> Path:
    """This trial's directory in the sweep's storage when this node can write there, else
    Ray's per-trial working directory, which Ray uploads to the storage when the sweep sets
    ``SyncConfig(sync_artifacts=True)`` (URI storage, or a node without the shared path).

    Ray 2.60's ``get_trial_dir()`` is a staging directory under /tmp/ray (for reused actors a
    ``working_dirs/`` one that is never copied), hence the storage context (a DeveloperAPI).
    """
    import pyarrow.fs

    storage = ctx.get_storage()
    if (isinstance(storage.storage_filesystem, pyarrow.fs.LocalFileSystem)
            and os.path.isdir(storage.experiment_fs_path)):
        return Path(storage.trial_fs_path)
    return Path(storage.trial_working_directory)


def trial_dir() -> Path:
    """A directory for this trial's own files (artifacts, logs): in the sweep's storage."""
    ctx = _tune_context()
    if ctx is not None:
        path = _storage_trial_dir(ctx)
    else:
        path = Path(os.environ.get(TRIAL_DIR_ENV, os.getcwd()))
    path.mkdir(parents=True, exist_ok=True)
    return path


def trial_resources() -> dict[str, float] | None:
    """The resources Ray gave this trial (``{"CPU": 2, "GPU": 1, ...}``), or None outside Tune.

    Inside Tune, the trial's resources are always known; if Ray ever fails to tell (a
    function trainable on an old actor), the caller falls back to its non-Tune default.
    """
    ctx = _tune_context()
    if ctx is None:
        return None
    try:
        return dict(ctx.get_trial_resources().required_resources)
    except (AttributeError, RuntimeError) as exc:  # not a Tune function trial after all
        warnings.warn(f"sweeprunner: cannot read this trial's resources from Ray: {exc}", stacklevel=2)
        return None


def assigned_cpus(default: int = 1) -> int:
    """Whole CPUs this trial was given (at least 1): for torch threads and DataLoader workers."""
    resources = trial_resources()
    if resources is not None:
        return max(1, int(resources.get("CPU", default)))
    return max(1, int(os.environ.get(NUM_CPUS_ENV, default)))
