"""What runs inside a trial process: the session, W&B compatibility, subprocess scripts.

The driver reaches this side only through :mod:`sweeprunner.trial.protocol`.
"""
