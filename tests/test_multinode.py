"""Node loss: on a multi-node cluster, trials on a killed node are rescheduled and resume from checkpoints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_killed_worker_node_loses_no_trial(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(REPO / "tests" / "data" / "multinode_sweep.py"), str(out)],
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                          timeout=600)
    summary_file = out.with_suffix(".summary.json")
    assert summary_file.exists(), done.stdout + done.stderr
    summary = json.loads(summary_file.read_text())
    assert summary == {"exit_code": 0, "victim": summary["victim"], "killed": True}, done.stdout + done.stderr
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 4 and (table["status"] == "finished").all() and (table["iterations"] == 6).all()
    moved = 0
    for trial_id in table["trial_id"]:
        info = json.loads((out / "trials" / f"{trial_id}.info.json").read_text())
        epochs = [json.loads(line)["epoch"] for line in (out / "trials" / f"{trial_id}.jsonl").read_text().splitlines()]
        assert sorted(epochs) == list(range(6)), (trial_id, epochs)  # resumed from checkpoints, never from scratch
        nodes = [start["node_id"] for start in info["starts"]]
        if summary["victim"] in nodes and len(nodes) > 1:
            assert nodes[-1] != summary["victim"]
            moved += 1
    assert moved >= 1  # at least one trial was rescheduled off the killed node
