"""Every sweep config of the guide runs end to end (recipes/guide/*.yaml, against the toy trainable)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sweeprunner.config.parse import load_sweep
from sweeprunner.run.launch import LaunchOptions, run_sweep

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes" / "guide").glob("*.yaml"))

pytestmark = pytest.mark.ray


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_guide_recipe_runs(ray_session, tmp_path, path):
    spec = load_sweep(path, overrides={"count": 3, "storage": str(tmp_path / "out")})
    assert run_sweep(spec, options=LaunchOptions(quiet=True)) == 0
    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(table) == (min(18, spec.run_cap or 18) if spec.method == "grid" else 3)
    assert set(table["status"]) <= {"finished", "stopped"}
    if spec.metric is not None:
        assert table["best_metric"].notna().all()  # the trial reported the guide's metric
