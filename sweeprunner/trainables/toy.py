"""A dependency-free trainable with a deterministic synthetic learning curve.

Used by example configs and launcher tests: it checkpoints and resumes every epoch, and
can be told to fail (``fail_at_epoch``, ``fail_once_marker``) to exercise retries.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from sweeprunner.trial import session
from sweeprunner.trial.protocol import flatten, number

_CONTROL = {"epochs", "sleep", "fail_at_epoch"}


def final_loss(config: dict[str, Any]) -> float:
    """The loss the curve tends to: a smooth bowl, lowest at lr=1e-3 and other params at 0.5."""
    loss = 0.1
    for name, value in flatten(config, leaf=number).items():
        if name in _CONTROL:
            continue
        leaf = name.rsplit(".", 1)[-1].lower()
        if leaf in {"lr", "learning_rate"} and value > 0:
            loss += 0.05 * (math.log10(value) + 3.0) ** 2
        else:
            loss += 0.1 * math.tanh(value - 0.5) ** 2
    return loss


def train(config: dict[str, Any]) -> None:
    """Report ``loss``, ``val/loss``, ``val/accuracy`` (and the guide's other metric names) and ``epoch`` per epoch."""
    epochs = int(config.get("epochs", 5))
    sleep = float(config.get("sleep", 0.0))
    fail_at = config.get("fail_at_epoch")
    marker = config.get("fail_once_marker")
    base = final_loss(config)

    start = 0
    with session.restored_checkpoint() as restored:
        if restored is not None:
            start = json.loads((Path(restored) / "state.json").read_text())["epoch"] + 1

    for epoch in range(start, epochs):
        if sleep:
            time.sleep(sleep)
        if fail_at is not None and epoch == int(fail_at):
            if marker is None:
                raise RuntimeError(f"toy trainable: fail_at_epoch={fail_at}")
            if not Path(marker).exists():
                Path(marker).touch()
                raise RuntimeError(f"toy trainable: failing once at epoch {epoch} ({marker})")
        loss = base + 1.0 / (epoch + 1)
        val_loss = loss + 0.02
        accuracy = math.exp(-val_loss)
        metrics = {
            "loss": loss,
            "train/loss": loss,
            "val/loss": val_loss,
            "val/accuracy": accuracy,
            # the names the guide's sweeps optimise, so every guide recipe runs against this trainable
            "val/top1_accuracy": accuracy,
            "val/f1_score": accuracy,
            "eval/loss": val_loss,
            "eval/accuracy": accuracy,
            "eval/f1": accuracy,
            "epoch": epoch,
        }
        with tempfile.TemporaryDirectory() as ckpt:
            (Path(ckpt) / "state.json").write_text(json.dumps({"epoch": epoch}))
            session.report(metrics, checkpoint_dir=ckpt)
