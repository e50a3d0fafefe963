"""Live progress of a running sweep: a refreshed line on a terminal, periodic lines otherwise."""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

from ray.tune import Callback

from sweeprunner.schedulers import finite_number


class ProgressView(Callback):
    """Counts trials by state and the best metric so far; prints a compact status.

    Outcomes (finished or stopped early) come from the sweep's :class:`TrialRecorder`.
    """

    def __init__(self, *, total: int, metric: str | None, mode: str | None, recorder: Any, quiet: bool = False,
                 stream: TextIO | None = None, interval_s: float = 10.0) -> None:
        self.total = total
        self.metric = metric
        self.mode = mode
        self.recorder = recorder
        self.quiet = quiet
        self._stream = stream
        self.interval_s = interval_s
        self.started_at = time.monotonic()
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
        self._maybe_print()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
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
        return (f"[{_duration(elapsed)}{eta}] trials {done}/{self.total}: {len(self.running)} running, "
                f"{len(self.finished)} finished, {len(self.stopped)} stopped early, {len(self.errored)} errored{best}")

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
