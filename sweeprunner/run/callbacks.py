"""The driver's Ray Tune callbacks: durable per-trial records and the live progress view.

Ray pickles the run's callbacks into ``tuner.pkl`` and ``Tuner.restore`` (Ray 2.60) takes no
callbacks, so a resumed sweep would get the pickled copies: the original directory's paths and
the first driver's output settings. Instead, these callbacks unpickle to the ones the current
driver built with :func:`driver_callbacks` (plain Python pickling, no private Ray API); without a
driver (unpickled elsewhere) they unpickle to copies as usual.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ray.tune import Callback

from sweeprunner.results.records import (
    EVENTS_FILE,
    FINAL_EVENTS,
    append_json_line,
    config_path,
    fatal_error,
    finished_ids,
    history,
    history_path,
    last_error_line,
    start_attempt,
    write_json_atomic,
)
from sweeprunner.trial.protocol import finite_number, history_row, jsonable

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

_LIVE: dict[str, Callback] = {}


def _unpickle(kind: str, state: dict[str, Any]) -> Callback:
    """The current driver's callback of this kind, else a copy made from ``state``."""
    live = _LIVE.get(kind)
    if live is not None:
        return live
    cls = {"recorder": TrialRecorder, "progress": ProgressView}[kind]
    callback = cls.__new__(cls)
    callback.__dict__.update(state)
    return callback


class RecordsUnwritable(Exception):
    """The sweep directory can't be written (full disk, read-only): the sweep must stop; resume continues it."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"{path}: {error.strerror or error}")
        self.path, self.error = path, error


#: How far the shown time left moves toward each new estimate (0..1): lower is steadier.
ETA_SMOOTHING = 0.3


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
        self.finished: set[str] = set(getattr(recorder, "recorded", ()))  # final before a resume
        self.stopped: set[str] = set()
        self.errored: set[str] = set()
        self.best: float | None = None
        self._last_print = 0.0
        self._tty = self.stream.isatty()
        self.clock = time.monotonic
        self._eta_state: tuple[float, float, int] | None = None  # (seconds left, at, trials done)

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles callbacks with the experiment
        return {**self.__dict__, "_stream": None}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpickle, ("progress", self.__getstate__()))

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
        if trial.trial_id not in self.finished | self.stopped | self.errored:
            outcome = self.recorder.outcome(trial.trial_id)
            {"stopped": self.stopped, "errored": self.errored}.get(outcome, self.finished).add(trial.trial_id)
            if outcome == "errored" and not self.quiet:  # failed deterministically: one line, no retries
                self._line(f"trial {trial.trial_id} failed (not retried): {self.recorder.fatal(trial.trial_id)} "
                           f"(traceback: {getattr(trial, 'path', None) or trial.trial_id}/error.txt)")
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
    def _line(self, text: str) -> None:
        self.stream.write(("\r\033[K" if self._tty else "") + text + "\n")
        self.stream.flush()

    @property
    def done_count(self) -> int:
        return len(self.finished | self.stopped | self.errored)

    def status_line(self) -> str:
        now = self.clock()
        elapsed = now - self.started_at
        done = self.done_count
        eta = ""
        if 0 < done < self.total:
            eta = f", ~{_duration(self._eta(now, elapsed / done * (self.total - done), done))} left"
        best = "" if self.best is None else f" | best {self.metric} {self.best:.6g}"
        of = f"/{self.total}" if self.total >= 0 else " (until stopped)"
        idle = time.monotonic() - self.last_result_at
        stalled = (f" | no result for {_duration(idle)} (see sweeprunner.trial_timeout)"
                   if self.running and idle >= self.stalled_after_s else "")
        return (f"[{_duration(elapsed)}{eta}] trials {done}{of}: {len(self.running)} running, "
                f"{len(self.finished)} finished, {len(self.stopped)} stopped early, {len(self.errored)} errored"
                f"{best}{stalled}")

    def _eta(self, now: float, estimate: float, done: int) -> float:
        """The time left, smoothed: it counts down between outcomes and moves part way to each new estimate.

        Trials end in bursts (a batch of concurrent trials, early stops), so the raw estimate
        (elapsed / done * left) jumps; each new outcome moves the shown value by ETA_SMOOTHING of the gap.
        """
        carried = None if self._eta_state is None else max(0.0, self._eta_state[0] - (now - self._eta_state[1]))
        if carried is not None and self._eta_state[2] == done:
            return carried
        value = estimate if carried is None else carried + ETA_SMOOTHING * (estimate - carried)
        self._eta_state = (value, now, done)
        return value

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
        self.last_iteration: dict[str, int] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unpickle, ("recorder", dict(self.__dict__)))

    def _write(self, path: Path, write: Any, data: Any) -> None:
        """Write one record; OSError (full disk, read-only storage) stops the sweep as RecordsUnwritable."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path, data)
        except OSError as exc:
            raise RecordsUnwritable(path, exc) from exc

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        path = config_path(self.sweep_dir, trial.trial_id)
        if not path.exists():
            self._write(path, write_json_atomic, trial.config)

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any) -> None:
        # Tune marks the result a scheduler or stopper acted on with done=True; a trainable that
        # returns on its own leaves its last reported result at done=False.
        self.halted[trial.trial_id] = bool(result.get("done"))
        iteration = result.get("training_iteration")
        if isinstance(iteration, int):
            self._new_attempt_if_restarted(trial.trial_id, iteration)
        row = {k: jsonable(v) for k, v in history_row(result).items() if k != "config" and not isinstance(v, dict | list)}
        self._write(history_path(self.sweep_dir, trial.trial_id), append_json_line, row)

    def _new_attempt_if_restarted(self, trial_id: str, iteration: int) -> None:
        """A trial that restarted from scratch (no checkpoint) or an older checkpoint reports an
        iteration already recorded: its redone rows are set aside, so its history starts clean."""
        seen = self.__dict__.setdefault("last_iteration", {})
        last = seen.get(trial_id)
        if last is None:  # first result this driver sees: compare with what earlier drivers recorded
            rows = history(self.sweep_dir, trial_id)
            last = max((r["training_iteration"] for r in rows if isinstance(r.get("training_iteration"), int)),
                       default=0)
        if iteration <= last:
            self._write(Path(self.sweep_dir), lambda sweep_dir, tid: start_attempt(sweep_dir, tid, iteration), trial_id)
        seen[trial_id] = iteration

    def fatal(self, trial_id: str) -> str | None:
        """The error line of a trial that failed without retries (trial/failures.py), or None."""
        return fatal_error(self.sweep_dir, trial_id)

    def outcome(self, trial_id: str) -> str:
        if self.fatal(trial_id):
            return "errored"
        return "stopped" if self.halted.get(trial_id) else "finished"

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        outcome = self.outcome(trial.trial_id)
        self._event(trial.trial_id, outcome, **({"error": self.fatal(trial.trial_id)} if outcome == "errored" else {}))

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error_file = getattr(trial, "error_file", None)
        self._event(trial.trial_id, "errored", error=last_error_line(Path(error_file)) if error_file else None)

    def _event(self, trial_id: str, event: str, **extra: Any) -> None:
        if trial_id in self.recorded:
            return
        if event in FINAL_EVENTS:  # an errored trial may still be resumed; a finished one is final
            self.recorded.add(trial_id)
        self._write(Path(self.sweep_dir) / EVENTS_FILE, append_json_line,
                    {"trial_id": trial_id, "event": event, "time": time.time(), **extra})


def driver_callbacks(records_dir: str, *, total: int, metric: str | None, mode: str | None,
                     quiet: bool) -> tuple[ProgressView, TrialRecorder]:
    """This driver's recorder and progress view; Ray's pickled copies (resume) unpickle to these."""
    recorder = TrialRecorder(records_dir)
    progress = ProgressView(total=total, metric=metric, mode=mode, recorder=recorder, quiet=quiet)
    _LIVE.update(recorder=recorder, progress=progress)
    return progress, recorder
