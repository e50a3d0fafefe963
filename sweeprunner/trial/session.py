"""Where a running trial reports metrics and keeps checkpoints.

Inside a Ray Tune trial this forwards to ``ray.tune.report`` / ``ray.tune.get_checkpoint``.
Outside one (a trainable called directly, e.g. on a GPU box without Ray) it keeps the
reported rows in :data:`history`, prints them as JSON lines when ``SWEEPRUNNER_JSONL=1``,
and stores checkpoints under ``$SWEEPRUNNER_CHECKPOINT_DIR`` so a rerun resumes from them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sweeprunner.trial.protocol import (
    CHECKPOINT_DIR_ENV,
    JSONL_ENV,
    NUM_CPUS_ENV,
    TRIAL_DIR_ENV,
    format_row,
    jsonable,
)

#: Rows reported while running outside Ray Tune (standalone mode).
history: list[dict[str, Any]] = []


def _tune_context():
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
    except Exception:
        return None


def in_tune() -> bool:
    """True inside a Ray Tune trial."""
    return _tune_context() is not None


def report(metrics: Mapping[str, Any], *, checkpoint_dir: str | os.PathLike[str] | None = None) -> None:
    """Report one row of metrics, optionally with a checkpoint directory (copied, not moved)."""
    row = {str(k): jsonable(v) for k, v in metrics.items()}
    if in_tune():
        from ray import tune

        checkpoint = tune.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        tune.report(row, checkpoint=checkpoint)
        return
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


def trial_dir() -> Path:
    """A directory for this trial's own files (artifacts, logs)."""
    ctx = _tune_context()
    if ctx is not None:
        path = Path(ctx.get_trial_dir())
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
