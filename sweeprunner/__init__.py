"""sweeprunner: W&B-style sweep configs, run on your own hardware with Ray Tune."""

from sweeprunner.errors import Issue, SweepConfigError

__all__ = ["Issue", "SweepConfigError"]
__version__ = "0.1.0"
