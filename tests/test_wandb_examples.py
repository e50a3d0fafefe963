"""W&B's own example projects, run through sweeprunner on a real local Ray (issue 12 "Done when").

The scripts under tests/data/scripts/ are W&B's files (github.com/wandb/examples) with only the
dataset swapped for FakeData and sizes shrunk; the sweep YAMLs are W&B's, plus a budget and a
`sweeprunner:` block.
"""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest
import yaml

from tests.test_wandb_compat import needs_launcher, run_cli_sweep

SCRIPTS = Path(__file__).parent / "data" / "scripts"


def _trial_dir(storage: Path, trial_id: str) -> Path:
    """A trial's own files, in the sweep directory."""
    candidates = [p for p in storage.glob(f"*{trial_id}*") if (p / "wandb").is_dir()]
    assert len(candidates) == 1, f"trial directory of {trial_id}: {candidates}"
    return candidates[0]


def _script_processes(name: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if any(part.endswith(name) for part in cmdline):
            found.append(proc)
    return found


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
@needs_launcher
def test_wandb_cross_validation_example_runs_through_the_shim(tmp_path):
    folder = SCRIPTS / "wandb_cv"
    config = yaml.safe_load((folder / "sweep-cross-validation.yaml").read_text())
    config.update(run_cap=2, sweeprunner={"wandb_shim": True, "seed": 0, "resources": {"cpu": 1, "gpu": 0}})
    rc, rows = run_cli_sweep(config, tmp_path, cwd=folder)
    assert rc == 0 and [r["status"] for r in rows] == ["finished", "finished"]
    storage = tmp_path / "storage"
    for row in rows:
        trial = _trial_dir(storage, row["trial_id"])
        runs = sorted((trial / "runs").iterdir())
        assert len(runs) == 5, runs
        folds = [json.loads((r / "summary.json").read_text())["val_accuracy"] for r in runs]
        assert float(row["final_metric"]) == pytest.approx(sum(folds) / 5)
        assert row["iterations"] == "1"
    assert _script_processes("train-cross-validation.py") == []


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
@needs_launcher
def test_wandb_fashion_cnn_grid_hyperband_runs_unchanged(tmp_path):
    folder = SCRIPTS / "fashion_cnn"
    config = yaml.safe_load((folder / "sweep-grid-hyperband.yaml").read_text())
    # sizes shrunk: 9 epochs (one log each) and hyperband over 9 iterations; 6 grid points
    config["parameters"]["epochs"] = {"value": 9}
    config["early_terminate"]["max_iter"] = 9
    config.update(run_cap=6, sweeprunner={"wandb_shim": True, "resources": {"cpu": 1, "gpu": 0}})
    rc, rows = run_cli_sweep(config, tmp_path, cwd=folder)
    assert rc == 0 and len(rows) == 6, rows
    assert {r["status"] for r in rows} <= {"finished", "stopped"}
    assert any(r["stopped_early"].lower() == "true" for r in rows)
    storage = tmp_path / "storage"
    for row in rows:
        trial = _trial_dir(storage, row["trial_id"])
        summary = json.loads((trial / "wandb" / "summary.json").read_text())   # finished at exit
        assert summary["loss"] == pytest.approx(float(row["final_metric"]))
        if row["status"] == "finished":
            assert row["iterations"] == "9" and (trial / "files" / "model.pt").stat().st_size > 0
