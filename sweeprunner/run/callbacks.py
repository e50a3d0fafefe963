"""The driver's Ray Tune callbacks: durable per-trial records and the live progress view."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from ray.tune import Callback

from sweeprunner.results.records import (
    EVENTS_FILE,
    FINAL_EVENTS,
    RECORDS_DIR,
    append_json_line,
    finished_ids,
    last_error_line,
)
from sweeprunner.trial.protocol import finite_number, history_row, jsonable


class ProgressView(Callback):
    """Counts trials by state and the best metric so far; prints a compact status.

    Outcomes (finished or stopped early) come from the sweep's :class:`TrialRecorder`.
    """

    def __init__(self, *, total: int, metric: str | None, mode: str | None, recorder: Any, quiet: bool = False,
                 stream: TextIO | None = None, interval_s: float = 10.0, stalled_after_s: float = 300.0) -> None:
        self.total = total
        self.metric = metric
        self.mode = mode
        self.recorder = recorder
        self.quiet = quiet
        self._stream = stream
        self.interval_s = interval_s
        self.started_at = time.monotonic()
        self.stalled_after_s = stalled_after_s
        self.last_result_at = self.started_at  # a trial start counts too: "no result for" a running trial
        self.running: set[str] = set()
        self.finished: set[str] = set()
        self.stopped: set[str] = set()
        self.errored: set[str] = set()
        self.best: float | None = None
        self._last_print = 0.0
        self._tty = self.stream.isatty()

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles callbacks with the experiment
        return {**self.__dict__, "_stream": None}

    # --- Ray Tune callback hooks ---
    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.add(trial.trial_id)
        self.last_result_at = time.monotonic()
        self._maybe_print()

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        self._maybe_print()   # so a sweep whose trials report nothing still shows that

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self.last_result_at = time.monotonic()
        value = finite_number(result.get(self.metric)) if self.metric else None
        if value is not None and (self.best is None or (value > self.best if self.mode == "max" else value < self.best)):
            self.best = value
        self._maybe_print()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.discard(trial.trial_id)
        if trial.trial_id not in self.finished | self.stopped:
            outcome = self.recorder.outcome(trial.trial_id)
            (self.stopped if outcome == "stopped" else self.finished).add(trial.trial_id)
        self._maybe_print(force=True)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.discard(trial.trial_id)
        self.errored.add(trial.trial_id)
        self._maybe_print(force=True)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self._maybe_print(force=True)
        if self._tty and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()

    # --- rendering ---
    @property
    def done_count(self) -> int:
        return len(self.finished | self.stopped | self.errored)

    def status_line(self) -> str:
        elapsed = time.monotonic() - self.started_at
        done = self.done_count
        eta = ""
        if 0 < done < self.total:
            remaining = elapsed / done * (self.total - done)
            eta = f", ~{_duration(remaining)} left"
        best = "" if self.best is None else f" | best {self.metric} {self.best:.6g}"
        idle = time.monotonic() - self.last_result_at
        stalled = (f" | no result for {_duration(idle)} (see sweeprunner.trial_timeout)"
                   if self.running and idle >= self.stalled_after_s else "")
        return (f"[{_duration(elapsed)}{eta}] trials {done}/{self.total}: {len(self.running)} running, "
                f"{len(self.finished)} finished, {len(self.stopped)} stopped early, {len(self.errored)} errored"
                f"{best}{stalled}")

    def _maybe_print(self, force: bool = False) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if self._tty:
            if force or now - self._last_print >= 0.5:
                self.stream.write("\r\033[K" + self.status_line())
                self.stream.flush()
                self._last_print = now
        elif now - self._last_print >= self.interval_s:
            print(self.status_line(), file=self.stream, flush=True)
            self._last_print = now


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class TrialRecorder(Callback):
    """Appends each trial's config, results and outcome to the sweep directory as they happen."""

    def __init__(self, sweep_dir: str) -> None:
        self.sweep_dir = sweep_dir
        self.recorded: set[str] = finished_ids(sweep_dir)  # outcomes already final (a resumed sweep)
        self.halted: dict[str, bool] = {}

    @property
    def _records(self) -> Path:
        path = Path(self.sweep_dir) / RECORDS_DIR
        path.mkdir(parents=True, exist_ok=True)
        return path

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        path = self._records / f"{trial.trial_id}.config.json"
        if not path.exists():
            path.write_text(json.dumps(trial.config, default=str))

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        # Tune marks the result a scheduler or stopper acted on with done=True; a trainable that
        # returns on its own leaves its last reported result at done=False.
        self.halted[trial.trial_id] = bool(result.get("done"))
        row = {k: jsonable(v) for k, v in history_row(result).items() if k != "config" and not isinstance(v, dict | list)}
        append_json_line(self._records / f"{trial.trial_id}.jsonl", row)

    def outcome(self, trial_id: str) -> str:
        return "stopped" if self.halted.get(trial_id) else "finished"

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._event(trial.trial_id, self.outcome(trial.trial_id))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error_file = getattr(trial, "error_file", None)
        self._event(trial.trial_id, "errored", error=last_error_line(Path(error_file)) if error_file else None)

    def _event(self, trial_id: str, event: str, **extra: Any) -> None:
        if trial_id in self.recorded:
            return
        if event in FINAL_EVENTS:  # an errored trial may still be resumed; a finished one is final
            self.recorded.add(trial_id)
        append_json_line(Path(self.sweep_dir) / EVENTS_FILE, {"trial_id": trial_id, "event": event, "time": time.time(), **extra})
