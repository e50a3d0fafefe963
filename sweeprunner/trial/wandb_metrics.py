"""``define_metric``: W&B's summary aggregates and step metrics for one run.

- ``summary="min"`` (or ``"max"``, ``"mean"``, ``"first"``, ``"last"``, ``"best"`` with
  ``goal="minimize"|"maximize"``, several joined by commas, or repeated calls, which add up)
  makes ``run.summary[name]`` a dict such as ``{"min": 0.1, "max": 0.9}`` instead of the last
  value; ``"none"`` leaves the key out of the summary.
- ``step_metric="epoch"``: a row that logs ``name`` but not ``epoch`` gets the last logged
  ``epoch`` added (W&B's ``step_sync``).
- ``name`` may end in ``*`` (``"val/*"``) to cover every key with that prefix.

The sweep's metric is read from the logged rows, as W&B's engine reads the history; the summary
is used only when the metric was never logged, and then ``"loss.min"`` names an aggregate.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, MutableMapping
from types import SimpleNamespace
from typing import Any

from sweeprunner.trial.protocol import finite_number

SUMMARY_KINDS = frozenset({"min", "max", "mean", "first", "last", "best", "none", "copy"})
GOALS = {"minimize": "minimize", "min": "minimize", "maximize": "maximize", "max": "maximize"}


class MetricDefs:
    """The ``define_metric`` calls of one run and the running aggregates they ask for."""

    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}
        self._stats: dict[str, dict[str, float]] = {}
        self._last: dict[str, Any] = {}

    def define(self, name: str, step_metric: str | None = None, step_sync: bool | None = None,
               hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
               overwrite: bool | None = None, **_: Any) -> SimpleNamespace:
        if not isinstance(name, str) or not name:
            raise ValueError("define_metric: name must be a non-empty string")
        kinds = [k.strip() for k in (summary or "").split(",") if k.strip()]
        bad = [k for k in kinds if k not in SUMMARY_KINDS]
        if bad:
            raise ValueError(f"define_metric({name!r}): unknown summary {bad[0]!r} "
                             f"(known: {', '.join(sorted(SUMMARY_KINDS))})")
        if goal is not None and goal not in GOALS:
            raise ValueError(f"define_metric({name!r}): goal must be 'minimize' or 'maximize', not {goal!r}")
        if "best" in kinds and goal is None and not self.defs.get(name, {}).get("goal"):
            raise ValueError(f"define_metric({name!r}): summary 'best' needs goal='minimize' or 'maximize'")
        entry = {} if overwrite else self.defs.get(name, {})
        entry = {**entry, "summary": sorted({*entry.get("summary", []), *kinds})}
        for key, value in (("step_metric", step_metric), ("step_sync", step_sync), ("hidden", hidden),
                           ("goal", GOALS.get(goal) if goal else None)):
            if value is not None:
                entry[key] = value
        self.defs[name] = entry
        return SimpleNamespace(name=name, **entry)

    def lookup(self, key: str) -> dict[str, Any] | None:
        if key in self.defs:
            return self.defs[key]
        for pattern, entry in self.defs.items():
            if "*" in pattern and fnmatch.fnmatchcase(key, pattern):
                return entry
        return None

    def sync_steps(self, row: dict[str, Any]) -> None:
        """Add the last value of each logged key's step metric when the row lacks it."""
        for key in list(row):
            entry = self.lookup(key)
            step_metric = entry.get("step_metric") if entry else None
            if (step_metric and entry.get("step_sync", True) and step_metric not in row
                    and step_metric in self._last):
                row[step_metric] = self._last[step_metric]

    def update_summary(self, row: Mapping[str, Any], summary: MutableMapping[str, Any]) -> None:
        """Fold one committed row (no ``_`` keys) into the summary, aggregating defined keys."""
        for key, value in row.items():
            self._last[key] = value
            entry = self.lookup(key)
            kinds = set(entry["summary"]) if entry else set()
            if not kinds or kinds == {"copy"}:
                summary[key] = value
                continue
            if kinds == {"none"}:
                summary.pop(key, None)
                continue
            number = finite_number(value)
            if number is None or isinstance(value, str):
                summary[key] = value
                continue
            stats = self._stats.setdefault(key, {"first": number, "min": number, "max": number,
                                                 "sum": 0.0, "count": 0})
            stats["min"], stats["max"] = min(stats["min"], number), max(stats["max"], number)
            stats["sum"] += number
            stats["count"] += 1
            out: dict[str, Any] = {}
            for kind in sorted(kinds - {"none", "copy"}):
                if kind == "last":
                    out[kind] = value
                elif kind == "mean":
                    out[kind] = stats["sum"] / stats["count"]
                elif kind == "best":
                    out[kind] = stats["min"] if entry.get("goal") == "minimize" else stats["max"]
                else:
                    out[kind] = stats[kind]
            summary[key] = out
