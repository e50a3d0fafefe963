"""Small trainables for launcher tests (loaded as ``tests/data/trainables/edge_cases.py:NAME``)."""

import math
import os

from sweeprunner.trial import session


def nan_loss(config):
    """Reports NaN for x == 1, a finite loss otherwise."""
    for _ in range(2):
        session.report({"loss": math.nan if config["x"] == 1 else float(config["x"])})


def report_visible_devices(config):
    """Reports how many CUDA devices the trial may see."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    session.report({"loss": 0.0, "visible": -1 if visible is None else len([d for d in visible.split(",") if d])})


def barrier(config):
    """Waits until ``parties`` trials are running at once (or 60 s), then reports how many it saw."""
    import time
    from pathlib import Path

    directory = Path(config["barrier_dir"])
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{os.getpid()}-{config['x']}").touch()
    deadline = time.monotonic() + 60
    while len(list(directory.iterdir())) < config["parties"] and time.monotonic() < deadline:
        time.sleep(0.1)
    session.report({"loss": float(config["x"]), "seen": len(list(directory.iterdir()))})
    time.sleep(1.0)  # stay alive so no slot frees before the others have looked


def no_checkpoint(config):
    """Reports ``steps`` losses, ``sleep`` seconds apart, and never checkpoints: a resume restarts it from scratch."""
    import time

    for step in range(config["steps"]):
        time.sleep(config["sleep"])
        session.report({"loss": 1.0 / (step + 1), "step": step})
