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


def bad_loss(config):
    """Reports ``epochs`` rows; the loss is NaN, inf, text or None as ``kind`` says, else ``x``.

    With ``reserved: true`` it also reports keys Ray Tune uses itself (``done``, ...).
    """
    bad = {"nan": math.nan, "inf": math.inf, "text": "oops", "none": None}
    for epoch in range(int(config.get("epochs", 3))):
        kind = config.get("kind") or ("nan" if config["x"] < 0.3 else "text" if config["x"] < 0.5 else "ok")
        row = {"loss": bad.get(kind, float(config.get("x", 1.0)) + 1.0 / (epoch + 1)), "epoch": epoch}
        if config.get("reserved"):
            row.update(done=True, training_iteration=1000, trial_id="mine", time_total_s=-1)
        session.report(row)


def hang(config):
    """Reports once, then never returns when ``x`` is 1 (a trial for ``trial_timeout``)."""
    import time

    session.report({"loss": float(config["x"])})
    while config["x"] == 1:
        time.sleep(0.05)
