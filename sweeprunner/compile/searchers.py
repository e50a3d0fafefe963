"""A Ray Tune searcher that hands out a planned list of configs in order (grid and random)."""

from __future__ import annotations

import copy
import json
import os
import pickle
from collections.abc import Sequence
from typing import Any

from ray.tune.search import Searcher

from sweeprunner.compile.sampling import GridPlan, RandomPlan


class PlannedSearcher(Searcher):
    """Suggests ``points`` one by one, then reports FINISHED (never, for an unbounded random plan).

    grid and random configs are planned by pure functions (``sampling.py``), so the sweep runs
    exactly what ``sweeprunner sample``/``plan`` print. ``points`` is a lazy plan (or a list): a
    point is computed when it is handed out. The position is saved with the experiment, so a
    resumed sweep continues with the next point.
    """

    def __init__(self, points: Sequence[dict[str, Any]] | GridPlan | RandomPlan,
                 records_dir: str | None = None) -> None:
        super().__init__()
        self.points = points if isinstance(points, GridPlan | RandomPlan) else [copy.deepcopy(p) for p in points]
        self.next_index = 0
        self.records_dir = records_dir

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickled from Ray's saved tuner state on resume: read the resumed directory's records."""
        from sweeprunner.results.records import repoint

        self.__dict__.update(state)
        self.records_dir = repoint(self.records_dir)

    def _size(self) -> int | None:
        return self.points.size if isinstance(self.points, GridPlan | RandomPlan) else len(self.points)

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        self._metric, self._mode = metric, mode
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        claimed = self._claimed_configs()
        size = self._size()
        while size is None or self.next_index < size:
            point = copy.deepcopy(self.points[self.next_index])
            self.next_index += 1
            if _key(point) not in claimed:
                return point
        return Searcher.FINISHED

    def _claimed_configs(self) -> set[str]:
        """Configs of trials already recorded in the sweep directory.

        After a killed driver, the restored position can lag behind trials that had started
        (and even finished) before the kill; their points are not handed out again.
        """
        if not self.records_dir:
            return set()
        from sweeprunner.results.records import claimed_configs

        return {_key(config) for config in claimed_configs(self.records_dir)}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        return None

    def save(self, checkpoint_path: str) -> None:
        """Write the state atomically: a driver killed mid-write must not leave a truncated file."""
        tmp = f"{checkpoint_path}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump({"points": self.points, "next_index": self.next_index}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            state = pickle.load(f)
        self.points, self.next_index = state["points"], state["next_index"]


def _key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)
