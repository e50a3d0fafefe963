"""Keep ``report.html`` current while a sweep runs: a Ray Tune callback that rewrites it now and then."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback

from sweeprunner.results.report import REFRESH_S, write_report


def safe_write_report(sweep_dir: str | Path, *, running: bool = False) -> Path | None:
    """``write_report`` for the driver: a report that fails to render is a warning, never a failed sweep."""
    try:
        return write_report(sweep_dir, running=running)
    except Exception as exc:  # noqa: BLE001 - the sweep's results matter more than its page
        print(f"warning: could not write {Path(sweep_dir) / 'report.html'}: {type(exc).__name__}: {exc}",
              file=sys.stderr, flush=True)
        return None


class ReportRefresher(Callback):
    """Rewrites the report at most every ``interval_s`` seconds (and never more than a tenth of the
    time: a large sweep whose report takes 5 s to render is refreshed every 50 s). The final report
    (not marked running) is the caller's ``write_report`` when the fit returns."""

    def __init__(self, sweep_dir: str, interval_s: float = REFRESH_S) -> None:
        self.sweep_dir = sweep_dir
        self.interval_s = interval_s
        self._next = 0.0

    def __setstate__(self, state: dict[str, Any]) -> None:  # Tune pickles callbacks: the clock is per process
        self.__dict__.update(state, _next=0.0)

    def _maybe_write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next:
            return
        safe_write_report(self.sweep_dir, running=True)
        took = time.monotonic() - now
        self._next = time.monotonic() + max(self.interval_s, 10 * took)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self._maybe_write()

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._maybe_write()

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._maybe_write()
