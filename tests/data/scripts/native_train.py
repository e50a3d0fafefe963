"""The native form: train(config) reporting through sweeprunner.session, resuming."""

import json
import tempfile
from pathlib import Path

from sweeprunner.trial import session


def train(config):
    start = 0
    with session.restored_checkpoint() as ckpt:
        if ckpt is not None:
            start = json.loads((ckpt / "state.json").read_text())["epoch"] + 1
    for epoch in range(start, config["epochs"]):
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "state.json").write_text(json.dumps({"epoch": epoch}))
            session.report({"loss": config["opt"]["lr"] / (epoch + 1), "epoch": epoch},
                           checkpoint_dir=tmp)
