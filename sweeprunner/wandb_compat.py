"""Public name of :mod:`sweeprunner.trial.wandb_compat` (``import sweeprunner.wandb_compat`` keeps working)."""

import sys

from sweeprunner.trial import wandb_compat as _module

sys.modules[__name__] = _module
