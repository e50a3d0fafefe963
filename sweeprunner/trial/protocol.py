"""What crosses the driver/trial boundary: environment names, the report-row format, scalars.

Both sides import this module and nothing else of each other, so it imports neither Ray nor
any other sweeprunner module.
"""

from __future__ import annotations

import math
from typing import Any

#: Environment a trial process reads (set by the driver for subprocess trials, or by a user
#: running a trainable standalone).
CHECKPOINT_DIR_ENV = "SWEEPRUNNER_CHECKPOINT_DIR"
TRIAL_DIR_ENV = "SWEEPRUNNER_TRIAL_DIR"
NUM_CPUS_ENV = "SWEEPRUNNER_NUM_CPUS"
JSONL_ENV = "SWEEPRUNNER_JSONL"

#: A report row on a child's stdout is one JSON line ``{"sweeprunner": {...row...}}``.
ROW_KEY = "sweeprunner"


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
