"""Holds a ``wandb`` package that resolves to :mod:`sweeprunner.wandb_compat` (opt-in shim)."""
