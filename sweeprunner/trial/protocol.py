"""What crosses the driver/trial boundary: environment names, the report-row format, scalars.

Both sides import this module and nothing else of each other, so it imports neither Ray nor
any other sweeprunner module (the config side may import it too: it is dependency-free).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any

#: Environment a trial process reads (set by the driver for subprocess trials, or by a user
#: running a trainable standalone).
CHECKPOINT_DIR_ENV = "SWEEPRUNNER_CHECKPOINT_DIR"
TRIAL_DIR_ENV = "SWEEPRUNNER_TRIAL_DIR"
NUM_CPUS_ENV = "SWEEPRUNNER_NUM_CPUS"
#: "1": print every reported row as a protocol line on stdout (subprocess trials).
JSONL_ENV = "SWEEPRUNNER_JSONL"
#: Path of the trial's JSON parameters file (subprocess trials).
CONFIG_FILE_ENV = "SWEEPRUNNER_CONFIG_FILE"
#: The sweep metric's name (subprocess trials).
METRIC_ENV = "SWEEPRUNNER_METRIC"
#: "1": the sweep storage is shared by every node although it does not look so (driver side).
SHARED_STORAGE_ENV = "SWEEPRUNNER_SHARED_STORAGE"
#: Set inside every trial process: ``sweeprunner.sweep``/``agent`` there are no-ops, not a nested sweep.
IN_TRIAL_ENV = "SWEEPRUNNER_IN_TRIAL"
#: The id of the sweep a trial belongs to (what ``sweeprunner.sweep`` returns inside a trial).
SWEEP_ID_ENV = "SWEEPRUNNER_SWEEP_ID"

#: A report row on a child's stdout is one JSON line ``{"sweeprunner": {...row...}}``.
ROW_KEY = "sweeprunner"

#: A leaf converter returns this to leave the leaf out of :func:`flatten`'s result.
SKIP = object()


def format_row(row: Mapping[str, Any]) -> str:
    """The protocol line (no newline) for one report row."""
    return json.dumps({ROW_KEY: {str(k): jsonable(v) for k, v in row.items()}}, default=str)


def parse_row(line: str) -> dict[str, Any] | None:
    """The row of a ``{"sweeprunner": {...}}`` line, or None for any other output."""
    text = line.strip()
    if not (text.startswith("{") and ROW_KEY in text):
        return None
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if isinstance(obj, dict) and set(obj) == {ROW_KEY} and isinstance(obj[ROW_KEY], dict):
        return obj[ROW_KEY]
    return None


def jsonable(value: Any) -> Any:
    """A numpy/torch scalar as a Python number; NaN and inf as text (JSON has neither)."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def finite_number(value: Any) -> float | None:
    """``value`` as a float when it is a finite real number, else None (NaN, inf, text, bools)."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def native(value: Any) -> Any:
    """Plain Python values, recursively: mappings to dicts, tuples to lists, numpy/torch scalars
    (and arrays) to numbers (and lists), so ``str`` prints ``0.1`` and JSON can write it."""
    if isinstance(value, Mapping):
        return {str(k): native(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [native(v) for v in value]
    if not isinstance(value, (bool, int, float, str)) and value is not None:
        item = getattr(value, "item", None)
        if callable(item):
            with contextlib.suppress(ValueError, RuntimeError, TypeError):
                return item()
        tolist = getattr(value, "tolist", None)
        if callable(tolist):
            return tolist()
    return value


def flatten(data: Mapping[str, Any], prefix: str = "", *,
            leaf: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """``{"opt": {"lr": 1}}`` -> ``{"opt.lr": 1}``: the one nested-dict flattener.

    An empty mapping is a leaf. ``leaf`` converts each leaf value; a leaf it maps to
    :data:`SKIP` is left out.
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + ".", leaf=leaf))
            continue
        value = leaf(value) if leaf is not None else value
        if value is not SKIP:
            out[name] = value
    return out


def scalar(value: Any) -> Any:
    """A JSON scalar for reporting, or :data:`SKIP` for media, arrays and other objects."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    size = getattr(value, "size", None)
    numel = getattr(value, "numel", None)
    count = numel() if callable(numel) else size
    if hasattr(value, "item") and callable(value.item) and count in (1, None):
        try:
            return value.item()
        except (ValueError, RuntimeError, TypeError):
            return SKIP
    return SKIP


def number(value: Any) -> Any:
    """A non-bool int or float as a float, else :data:`SKIP`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return SKIP


def carries_metric(row: Mapping[str, Any], metric: str | None) -> bool:
    """True when ``row`` counts as one metric log (W&B keeps finite, non-bool numbers)."""
    if metric is None:
        return True
    return _finite(jsonable(row.get(metric)))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


#: What Ray Tune sees of a report: a non-finite or non-numeric sweep metric is replaced by the
#: worst value for the goal, its raw value kept under ``raw/<metric>``; keys Ray reads itself
#: (``done``, ``training_iteration``, ...) are reported as ``user/<key>``.
RAW_PREFIX = "raw/"
USER_PREFIX = "user/"


def worst(mode: str | None) -> float:
    """The worst value of a metric for the goal: +inf when minimizing, -inf when maximizing."""
    return -math.inf if mode == "max" else math.inf


def tune_row(row: Mapping[str, Any], *, metric: str | None, mode: str | None,
             reserved: Collection[str] = ()) -> tuple[dict[str, Any], list[str]]:
    """The row to hand to ``ray.tune.report`` and the reserved keys that were renamed.

    Values go through :func:`jsonable`, except that the sweep metric, when present, is always
    a number: a NaN, inf, text or None is replaced by :func:`worst` (W&B's ``impute: worst``),
    so no searcher or scheduler ever sees anything else.
    """
    out: dict[str, Any] = {}
    renamed: list[str] = []
    for key, value in row.items():
        name = str(key)
        if name in reserved:
            renamed.append(name)
            name = USER_PREFIX + name
        out[name] = jsonable(value)
    if metric is not None and metric in row and metric not in reserved:
        value = jsonable(row[metric])
        if not _finite(value):
            out[RAW_PREFIX + metric] = value
            out[metric] = worst(mode)
    return out, renamed


def history_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A reported row as the trial gave it: raw metric values back under their own names."""
    out = dict(row)
    for key in [k for k in out if k.startswith(RAW_PREFIX)]:
        out[key[len(RAW_PREFIX):]] = out.pop(key)
    return out


class RowMerger:
    """Decides which logged rows become reports, so that no row is lost.

    A row carrying the metric (any value; a non-finite one counts as the worst) is reported,
    with the rows before it that lacked the metric merged in. Rows without the metric wait
    for the next one; a waiting row is reported on its own when a later row would overwrite
    one of its keys, and whatever waits at the end comes out of :meth:`flush`. Without a
    sweep metric every row is reported.
    """

    def __init__(self, metric: str | None) -> None:
        self.metric = metric
        self._pending: dict[str, Any] = {}

    def push(self, row: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows to report now (often none, at most two)."""
        if self.metric is None or self.metric in row:
            merged = {**self._pending, **row}
            self._pending = {}
            return [merged]
        out = []
        if any(key in self._pending for key in row if not str(key).startswith("_")):
            out.append(self._pending)
            self._pending = {}
        self._pending = {**self._pending, **row}
        return out

    def flush(self) -> list[dict[str, Any]]:
        """The rows still waiting (at the end of a trial)."""
        out = [self._pending] if self._pending else []
        self._pending = {}
        return out
