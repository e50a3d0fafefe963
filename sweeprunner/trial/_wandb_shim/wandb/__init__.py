"""``import wandb`` resolves to :mod:`sweeprunner.wandb_compat` when this folder's parent is on
``sys.path`` (sweeprunner does that for trials of sweeps with ``wandb_shim: true``)."""

import sys

from sweeprunner.trial import wandb_compat as _compat

sys.modules[__name__] = _compat
