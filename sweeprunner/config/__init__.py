"""YAML -> validated, frozen :class:`SweepSpec`. Never imports Ray."""

from sweeprunner.config.parse import load_sweep, parse_sweep
from sweeprunner.config.spec import SweepSpec

__all__ = ["SweepSpec", "load_sweep", "parse_sweep"]
