"""Errors that cannot succeed on a retry fail their trial once, without Ray Tune's retries.

Ray Tune's ``FailureConfig(max_failures=N)`` retries every trial error alike. A missing module,
a syntax error, a W&B call sweeprunner lacks, or any exception raised before the trial's first
report will fail the same way again, so :func:`run_once` catches them inside the trial, writes
the traceback to the trial's ``error.txt`` and a marker ``trials/<trial_id>.fatal.json`` in the
sweep directory, and returns: Ray sees a finished trial (nothing to retry), and the sweep's
records (``TrialRecorder``) mark it errored with one line. Errors after a report (a node lost,
out of memory mid-training, a flaky filesystem) still raise and are retried as configured.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sweeprunner.results.records import fatal_path, history_path
from sweeprunner.trial import session


def _one_line(exc: BaseException) -> str:
    """``Type: message`` on one line; for a failed command, its first line and its stderr's last one."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if type(exc).__name__ == "CommandError":
        hints = [line for line in lines if line.startswith("hint:")]
        rest = [line for line in lines[1:] if not line.startswith(("hint:", "stderr ("))]
        head = lines[0].split(": ", 1)[0]  # "trial command exited with status 1"
        return "; ".join([head + (f": {rest[-1].strip()}" if rest else ""), *hints])
    return f"{type(exc).__name__}: {lines[0]}"


def is_deterministic(exc: BaseException, reported: bool) -> bool:
    """True for an error that a retry would only repeat."""
    from sweeprunner.trial.watchdog import TrialTimeout

    if isinstance(exc, TrialTimeout):  # a hang may not repeat: retried per max_failures
        return False
    if isinstance(exc, ImportError | SyntaxError):  # ModuleNotFoundError, IndentationError included
        return True
    if isinstance(exc, AttributeError) and ("wandb_compat" in str(exc) or "module 'wandb'" in str(exc)):
        return True  # a W&B API sweeprunner's compat module lacks
    if reported:
        return False
    return "was killed by" not in str(exc)  # a command killed by a signal (OOM killer...) may succeed again


def _reported_before(records_dir: str | None, trial_id: str) -> bool:
    """A report reached the driver earlier (this start, or a start before it: a resumed trial)."""
    if session.reports_made:
        return True
    if records_dir and history_path(records_dir, trial_id).is_file():
        return True
    try:
        from ray import tune

        return tune.get_checkpoint() is not None
    except Exception:
        return False


def run_once(inner: Callable[[dict[str, Any]], None], config: dict[str, Any], records_dir: str | None,
             trial_id: str) -> None:
    """Run one trial; a deterministic error is recorded (error.txt, fatal marker) instead of raised."""
    session.reports_made = 0
    try:
        inner(config)
    except Exception as exc:
        if not records_dir or not Path(records_dir).is_dir() or not is_deterministic(exc, _reported_before(records_dir, trial_id)):
            raise
        text = "".join(traceback.format_exception(exc))
        try:
            (session.trial_dir() / "error.txt").write_text(f"Failure # 1 (not retried: it would fail again)\n{text}")
        except OSError:
            pass
        path = fatal_path(records_dir, trial_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"error": _one_line(exc), "traceback": text}))
