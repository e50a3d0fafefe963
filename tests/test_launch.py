"""Running sweeps on a real (local) Ray: GPU allotment, fit check, retries, results, early stopping."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
import yaml

from sweeprunner.config.parse import load_sweep, parse_sweep
from sweeprunner.errors import SweepConfigError
from sweeprunner.run.launch import LaunchOptions, run_sweep

pytestmark = pytest.mark.ray
QUIET = LaunchOptions(quiet=True)


def sweep(tmp_path, parameters, *, method="grid", runner=None, **top):
    raw = {"method": method, "metric": {"name": "loss", "goal": "minimize"}, "parameters": parameters,
           "sweeprunner": {"trainable": "toy", "storage": str(tmp_path / "out"), **(runner or {})}, **top}
    return parse_sweep(raw)


def results(tmp_path) -> pd.DataFrame:
    return pd.read_csv(tmp_path / "out" / "results.csv")


def test_fractional_gpus_pack_two_trials_per_device(ray_session, tmp_path):
    spec = sweep(tmp_path, {"x": {"values": [1, 2, 3, 4]}, "parties": {"value": 4},
                            "barrier_dir": {"value": str(tmp_path / "barrier")}},
                 runner={"trainable": "tests/data/trainables/edge_cases.py:barrier", "resources": {"cpu": 0.5, "gpu": 0.5}})
    assert run_sweep(spec, options=QUIET) == 0
    table = results(tmp_path)
    assert sorted(table["gpu_ids"].astype(str)) == ["0", "0", "1", "1"]
    histories = pd.read_csv(tmp_path / "out" / "histories.csv")
    assert histories["seen"].tolist() == [4, 4, 4, 4]  # all four ran at once


def test_whole_gpus_are_visible_and_cpu_trials_see_none(ray_session, tmp_path):
    target = "tests/data/trainables/edge_cases.py:report_visible_devices"
    two = sweep(tmp_path / "a", {"x": {"value": 1}}, runner={"trainable": target, "resources": {"cpu": 1, "gpu": 2}})
    assert run_sweep(two, options=QUIET) == 0
    row = results(tmp_path / "a").iloc[0]
    assert row["gpu_ids"] == "0,1"
    history = pd.read_csv(tmp_path / "a" / "out" / "histories.csv")
    assert history["visible"].tolist() == [2]
    cpu = sweep(tmp_path / "b", {"x": {"value": 1}}, runner={"trainable": target, "resources": {"cpu": 1}})
    assert run_sweep(cpu, options=QUIET) == 0
    assert pd.read_csv(tmp_path / "b" / "out" / "histories.csv")["visible"].tolist() == [0]
    info = json.loads(next((tmp_path / "b" / "out" / "trials").glob("*.info.json")).read_text())
    assert info["cuda_visible_devices"] == "" and info["gpu_ids"] == []


def test_infeasible_request_fails_within_seconds(ray_session, tmp_path):
    spec = sweep(tmp_path, {"x": {"value": 1}}, runner={"resources": {"cpu": 1, "gpu": 3}})
    started = time.monotonic()
    with pytest.raises(SweepConfigError, match=r"one trial asks for \{CPU: 1, GPU: 3\}, more than any node"):
        run_sweep(spec, options=QUIET)
    assert time.monotonic() - started < 10
    assert not (tmp_path / "out").exists()  # nothing was started


def test_failing_trial_is_retried_then_errored_and_the_sweep_goes_on(ray_session, tmp_path):
    spec = sweep(tmp_path, {"fail_at_epoch": {"values": [1, 99]}, "epochs": {"value": 3}},
                 runner={"max_failures": 1})
    assert run_sweep(spec, options=QUIET) == 1
    table = results(tmp_path).set_index("config.fail_at_epoch")
    assert table.loc[99, "status"] == "finished" and table.loc[99, "iterations"] == 3
    assert table.loc[1, "status"] == "errored"
    assert "fail_at_epoch=1" in table.loc[1, "error"]


def test_retry_resumes_from_the_latest_checkpoint(ray_session, tmp_path):
    marker = tmp_path / "failed-once"
    spec = sweep(tmp_path, {"fail_at_epoch": {"value": 2}, "fail_once_marker": {"value": str(marker)},
                            "epochs": {"value": 4}})
    assert run_sweep(spec, options=QUIET) == 0
    assert marker.exists()
    histories = pd.read_csv(tmp_path / "out" / "histories.csv")
    assert histories["epoch"].tolist() == [0, 1, 2, 3]  # epochs 0-1 were not rerun
    assert histories["training_iteration"].tolist() == [1, 2, 3, 4]


def test_nan_metrics_count_as_worst(ray_session, tmp_path):
    spec = sweep(tmp_path, {"x": {"values": [1, 2, 3]}},
                 runner={"trainable": "tests/data/trainables/edge_cases.py:nan_loss"})
    assert run_sweep(spec, options=QUIET) == 0
    table = results(tmp_path)
    assert table["config.x"].tolist() == [2, 3, 1]  # best first; NaN last
    assert table["status"].tolist() == ["finished"] * 3


def test_hyperband_stops_some_trials_and_results_say_so(ray_session, tmp_path):
    spec = sweep(tmp_path, {"lr": {"values": [1e-3, 1e-1, 1.0, 1e-5, 3e-3, 10.0]}, "epochs": {"value": 4},
                            "sleep": {"value": 0.2}},
                 early_terminate={"type": "hyperband", "min_iter": 1, "eta": 3})
    assert run_sweep(spec, options=QUIET) == 0
    table = results(tmp_path)
    stopped = table[table["stopped_early"]]
    assert 0 < len(stopped) < len(table)
    assert (stopped["iterations"] < 4).all()
    assert (table[~table["stopped_early"]]["iterations"] == 4).all()
    assert table.iloc[0]["config.lr"] == pytest.approx(1e-3)


def test_metric_target_stops_the_whole_sweep(ray_session, tmp_path):
    spec = sweep(tmp_path, {"lr": {"values": [1e-3] * 1 + [2e-3, 5e-3, 1e-2]}, "epochs": {"value": 50},
                            "sleep": {"value": 0.05}},
                 metric={"name": "loss", "goal": "minimize", "target": 0.5}, runner={"max_concurrent_trials": 1})
    code = run_sweep(spec, options=QUIET)
    assert code == 0
    table = results(tmp_path)
    assert table["iterations"].max() < 50 and len(table) < 4


def test_results_files(ray_session, tmp_path):
    spec = sweep(tmp_path, {"opt": {"parameters": {"lr": {"values": [1e-3, 1e-2]}}}, "epochs": {"value": 2}})
    assert run_sweep(spec, options=QUIET) == 0
    out = tmp_path / "out"
    table = pd.read_csv(out / "results.csv")
    for column in ("trial_id", "status", "stopped_early", "iterations", "final_metric", "best_metric", "wall_time_s",
                   "node", "gpu_ids", "config.opt.lr", "config.epochs"):
        assert column in table.columns
    assert pd.read_parquet(out / "results.parquet")["trial_id"].tolist() == table["trial_id"].tolist()
    histories = pd.read_csv(out / "histories.csv")
    assert len(histories) == 4 and set(histories["trial_id"]) == set(table["trial_id"])
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best["method"] == "grid"
    assert best["parameters"]["opt"] == {"parameters": {"lr": {"value": 1e-3}}}
    rerun = load_sweep(out / "best.yaml")
    assert rerun.runner.trainable == "toy"


def test_storage_that_already_holds_a_sweep_is_refused(ray_session, tmp_path):
    spec = sweep(tmp_path, {"x": {"value": 1}, "epochs": {"value": 1}})
    assert run_sweep(spec, options=QUIET) == 0
    with pytest.raises(SweepConfigError, match="already holds a sweep: continue it with"):
        run_sweep(spec, options=QUIET)


def test_uri_storage_keeps_records_locally_and_uploads_results(ray_session, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    remote = tmp_path / "bucket" / "sweeps" / "uri-sweep"
    spec = sweep(tmp_path, {"x": {"values": [1, 2]}, "epochs": {"value": 1}},
                 runner={"storage": f"file://{remote}"})
    assert run_sweep(spec, options=QUIET) == 0
    local = tmp_path / "sweeps" / "uri-sweep"
    assert len(pd.read_csv(local / "results.csv")) == 2
    assert len(pd.read_csv(remote / "results.csv")) == 2 and (remote / "trials").is_dir()
    assert any(remote.glob("experiment_state*.json"))  # Ray's own files went to the URI


def test_private_cluster_config_call_still_exists(ray_session):
    """The one private Ray call (run/cluster.py: no public API gives the autoscaler's node types) still
    exists in this Ray, and on a cluster without a v2 autoscaler it answers None, not an error."""
    from ray._private.state import state

    from sweeprunner.run.cluster import autoscaler_node_types, v2_cluster_config

    assert callable(state.get_cluster_config)
    assert v2_cluster_config() is None
    assert autoscaler_node_types() == []
