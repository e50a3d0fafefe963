"""sweeprunner: W&B-style sweep configs, run on your own hardware with Ray Tune.

The pipeline: ``config`` (YAML -> SweepSpec) -> ``compile`` (searcher, scheduler, stopper,
resources) -> ``run`` (the driver on Ray) -> ``results`` (the sweep directory). What runs inside
a trial lives in ``trial``. Importing this package does not import Ray.
"""

from __future__ import annotations

from typing import Any

from sweeprunner.config import SweepSpec, load_sweep, parse_sweep
from sweeprunner.errors import Issue, SweepConfigError

__all__ = ["Issue", "SweepConfigError", "SweepResults", "SweepSpec", "agent", "compile_sweep", "load_sweep",
           "parse_sweep", "run_sweep", "sweep"]
__version__ = "0.1.0"

_LAZY = {
    "compile_sweep": "sweeprunner.compile",
    "run_sweep": "sweeprunner.api",  # the native API; the CLI's driver is sweeprunner.run.launch.run_sweep
    "sweep": "sweeprunner.api",
    "agent": "sweeprunner.api",
    "SweepResults": "sweeprunner.api",
}


def __getattr__(name: str) -> Any:
    """Import the heavier entry points (Ray, Optuna) only when they are used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sweeprunner' has no attribute {name!r}")
