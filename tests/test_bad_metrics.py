"""Bad metric values and reserved keys never crash or steer the driver (issue 11 items 12, 13)."""

from __future__ import annotations

import math
import pickle

import pandas as pd
import pytest

from sweeprunner.config.parse import parse_sweep
from sweeprunner.run.launch import LaunchOptions, run_sweep

pytestmark = pytest.mark.ray
QUIET = LaunchOptions(quiet=True)
TRAINABLE = "tests/data/trainables/edge_cases.py:bad_loss"
KINDS = ["ok", "nan", "text", "none", "inf"]


def _run(tmp_path, parameters, goal="minimize", **top):
    raw = {"method": "grid", "metric": {"name": "loss", "goal": goal}, "parameters": parameters,
           "sweeprunner": {"trainable": TRAINABLE, "storage": str(tmp_path / "out")}, **top}
    code = run_sweep(parse_sweep(raw), options=QUIET)
    out = tmp_path / "out"
    return code, pd.read_csv(out / "results.csv"), pd.read_csv(out / "histories.csv", keep_default_na=False)


@pytest.mark.parametrize(("early_terminate", "goal"), [
    ({"type": "asha", "min_iter": 1, "eta": 2}, "minimize"),
    ({"type": "asha", "min_iter": 1, "eta": 2}, "maximize"),
    ({"type": "hyperband", "min_iter": 1, "eta": 2}, "minimize"),
], ids=["asha-min", "asha-max", "hyperband-min"])
def test_bad_metric_values_count_as_worst_under_early_stopping(ray_session, tmp_path, early_terminate, goal):
    code, table, histories = _run(tmp_path, {"kind": {"values": KINDS}, "x": {"value": 0.5},
                                              "epochs": {"value": 3}},
                                  goal=goal, early_terminate=early_terminate)
    assert code == 0
    assert len(table) == len(KINDS) and not (table["status"] == "errored").any()
    assert table.iloc[0]["config.kind"] == "ok"            # the only finite metric is the best
    assert table["best_metric"].notna().sum() == 1
    raw = set(histories["loss"].astype(str))                # the raw values stay in the histories
    assert {"nan", "oops", "inf", ""} <= raw and "raw/loss" not in histories.columns


def test_bad_metric_values_reach_bayes_as_worst_not_as_failures(ray_session, tmp_path):
    code, table, histories = _run(tmp_path, {"x": {"min": 0.0, "max": 1.0}, "epochs": {"value": 1}},
                                  method="bayes", run_cap=6)
    assert code == 0
    assert len(table) == 6 and not (table["status"] == "errored").any()
    finite = table["best_metric"].dropna()
    assert (finite >= 1.5).all() and len(finite) == (table["config.x"] >= 0.5).sum()
    assert len(histories) == 6
    [state] = (tmp_path / "out").glob("searcher-state-*.pkl")   # what Optuna was told
    study = pickle.loads(state.read_bytes())["_ot_study"]
    told = sorted((t.state.name, t.values[0]) for t in study.trials)
    assert [s for s, _ in told] == ["COMPLETE"] * 6
    assert sum(v == math.inf for _, v in told) == len(table) - len(finite)


def test_reserved_keys_never_steer_ray(ray_session, tmp_path):
    code, table, histories = _run(tmp_path, {"x": {"values": [0.5, 0.7]}, "kind": {"value": "ok"},
                                             "epochs": {"value": 4}, "reserved": {"value": True}})
    assert code == 0
    assert table["iterations"].tolist() == [4, 4] and not table["stopped_early"].any()
    assert (histories["user/done"] == True).all() and (histories["user/training_iteration"] == 1000).all()  # noqa: E712
    assert sorted(histories["training_iteration"].unique().tolist()) == [1, 2, 3, 4]
    assert set(histories["trial_id"]) == set(table["trial_id"])
