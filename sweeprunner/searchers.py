"""A Ray Tune searcher that hands out a planned list of configs in order (grid and random)."""

from __future__ import annotations

import copy
import pickle
from typing import Any

from ray.tune.search import Searcher


class PlannedSearcher(Searcher):
    """Suggests ``points`` one by one, then reports FINISHED.

    grid and random configs are computed up front by pure functions (``sampling.py``), so the
    sweep runs exactly what ``sweeprunner sample``/``plan`` print. The position is saved with the
    experiment, so a resumed sweep continues with the next point.
    """

    def __init__(self, points: list[dict[str, Any]]) -> None:
        super().__init__()
        self.points = [copy.deepcopy(p) for p in points]
        self.next_index = 0

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        self._metric, self._mode = metric, mode
        return True

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.next_index >= len(self.points):
            return Searcher.FINISHED
        point = copy.deepcopy(self.points[self.next_index])
        self.next_index += 1
        return point

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        return None

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as f:
            pickle.dump({"points": self.points, "next_index": self.next_index}, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            state = pickle.load(f)
        self.points, self.next_index = state["points"], state["next_index"]
