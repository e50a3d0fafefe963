"""Ray Tune objects that no stock Ray class provides: W&B's hyperband rule and the target stopper."""

from __future__ import annotations

import logging
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.stopper import Stopper

from sweeprunner.compile.hyperband import runs_to_stop
from sweeprunner.trial.protocol import finite_number

logger = logging.getLogger(__name__)


class WandbHyperbandScheduler(FIFOScheduler):
    """Stops trials with W&B's hyperband rule; never pauses them.

    Each trial's history is the list of finite values of the metric it reported (an
    "iteration" is one such report). Thresholds use the histories of all trials, any state.
    After a driver restart the histories are rebuilt from the trials' ``result.json`` files
    under ``experiment_dir``, so early stopping stays correct on resume.
    """

    def __init__(self, *, bands: list[int], eta: float, strict: bool, experiment_dir: str | None = None) -> None:
        super().__init__()
        self.bands = list(bands)
        self.eta = eta
        self.strict = strict
        self.experiment_dir = experiment_dir
        self.histories: dict[str, list[float]] = {}
        self.iterations: dict[str, list[int]] = {}  # training_iteration of each history value (0: unknown)
        self.stopped: set[str] = set()
        self._rebuilt = False

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled from Ray's saved tuner state on resume: read the resumed directory's records."""
        from sweeprunner.results.records import repoint

        self.__dict__.update(state)
        self.__dict__.setdefault("iterations", {})
        self.experiment_dir = repoint(self.experiment_dir)

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if metric:
            self._metric = metric
        if mode:
            self._mode = mode
        return True

    def _sign(self) -> float:
        return -1.0 if self._mode == "max" else 1.0

    def _rebuild_from_disk(self) -> None:
        """Load every trial's reported metric values from the sweep's records (resume after a restart)."""
        from sweeprunner.results.records import history, record_hyperband_rebuild, trial_ids

        self._rebuilt = True
        if not self.experiment_dir:
            return
        for trial_id in trial_ids(self.experiment_dir):
            reports = [(finite_number(row.get(self._metric)), _iteration(row)) for row in history(self.experiment_dir, trial_id)]
            reports = [(self._sign() * v, i) for v, i in reports if v is not None]
            if reports and trial_id not in self.histories:
                self.histories[trial_id] = [v for v, _ in reports]
                self.iterations[trial_id] = [i for _, i in reports]
        if self.histories:
            logger.info("hyperband: rebuilt %d trial histories from %s", len(self.histories), self.experiment_dir)
            record = {"rebuilt_trials": len(self.histories), "reports": sum(map(len, self.histories.values()))}
            record_hyperband_rebuild(self.experiment_dir, record)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        if not self._rebuilt:
            self._rebuild_from_disk()
        iteration = _iteration(result)
        if iteration:
            self._drop_redone(trial.trial_id, iteration)
        value = finite_number(result.get(self._metric))
        if value is None:
            return TrialScheduler.CONTINUE
        self.histories.setdefault(trial.trial_id, []).append(self._sign() * value)
        self.iterations.setdefault(trial.trial_id, []).append(iteration)
        if runs_to_stop(self.histories, [trial.trial_id], self.bands, self.eta, self.strict):
            self.stopped.add(trial.trial_id)
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def _drop_redone(self, trial_id: str, iteration: int) -> None:
        """A report for an iteration already seen: the trial restarted (from scratch, or an older
        checkpoint). Early stopping judges only the current attempt, so the redone reports go."""
        iterations = self.iterations.get(trial_id, [])
        keep = sum(1 for i in iterations if i < iteration)
        if keep < len(iterations):
            self.histories[trial_id] = self.histories[trial_id][:keep]
            self.iterations[trial_id] = iterations[:keep]

    def debug_string(self) -> str:
        return f"W&B hyperband: bands {self.bands[:6]}, eta {self.eta:g}, stopped {len(self.stopped)}"


def _iteration(row: dict[str, Any]) -> int:
    value = row.get("training_iteration")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class TargetStopper(Stopper):
    """Stops the whole sweep once any trial's metric reaches ``target`` in the goal's direction."""

    def __init__(self, metric: str, target: float, mode: str) -> None:
        self.metric = metric
        self.target = target
        self.mode = mode
        self.reached_by: str | None = None

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        value = finite_number(result.get(self.metric))
        if value is not None and (value >= self.target if self.mode == "max" else value <= self.target):
            self.reached_by = self.reached_by or trial_id
        return False

    def stop_all(self) -> bool:
        return self.reached_by is not None
