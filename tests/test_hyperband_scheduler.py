"""W&B's hyperband rule: the research doc's worked example, and the Ray scheduler that applies it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from ray.tune.schedulers import TrialScheduler

from sweeprunner.compile.hyperband import band_thresholds, runs_to_stop, wandb_bands
from sweeprunner.compile.schedulers import WandbHyperbandScheduler


@pytest.mark.parametrize(("kwargs", "bands"), [
    ({"max_iter": 27, "s": 2}, [3, 9]), ({"max_iter": 81, "s": 3}, [3, 9, 27]), ({"max_iter": 18, "s": 2}, [2, 6]),
    ({"max_iter": 100, "s": 10}, [1, 3, 11, 33]), ({"max_iter": 2, "s": 1}, []),
])
def test_max_iter_bands(kwargs, bands):
    assert wandb_bands(**kwargs, eta=3) == bands


def test_min_iter_bands():
    assert wandb_bands(min_iter=3, eta=3)[:4] == [3, 9, 27, 81]
    assert wandb_bands(min_iter=3, eta=2.5)[:4] == [3, 7, 18, 46]


def nine_runs():
    """The doc's example: 9 runs with 3 values each; run k's 3rd value is k; odd runs logged 0 at step 2."""
    return {f"r{k}": [10.0, 0.0 if k % 2 else 10.0, float(k)] for k in range(1, 10)}


def test_doc_example_strict_stops_runs_5_to_9():
    histories = nine_runs()
    bands = wandb_bands(min_iter=1, eta=3)
    assert band_thresholds(histories, bands, 3)[1] == 4.0  # band 3: sorted(1..9)[int(9/3)]
    assert runs_to_stop(histories, histories, bands, 3, strict=True) == {f"r{k}" for k in range(5, 10)}


def test_doc_example_non_strict_stops_only_runs_6_and_8():
    histories = nine_runs()
    assert runs_to_stop(histories, histories, wandb_bands(min_iter=1, eta=3), 3, strict=False) == {"r6", "r8"}


def test_a_single_run_is_never_stopped():
    assert runs_to_stop({"a": [5.0, 9.0, 9.0]}, ["a"], [1, 3], 3, strict=True) == set()


def feed(scheduler, trial_id, value):
    return scheduler.on_trial_result(None, SimpleNamespace(trial_id=trial_id), {"loss": value})


def make_scheduler(**kwargs):
    scheduler = WandbHyperbandScheduler(bands=wandb_bands(min_iter=1, eta=3), eta=3, strict=True, **kwargs)
    scheduler.set_search_properties("loss", "min")
    return scheduler


def test_scheduler_stops_by_the_rule_and_counts_only_metric_reports():
    scheduler = make_scheduler()
    assert feed(scheduler, "a", 1.0) == TrialScheduler.CONTINUE
    assert feed(scheduler, "b", 0.5) == TrialScheduler.CONTINUE
    # c at band 1: V = [1.0, 0.5, 3.0] -> threshold sorted(V)[1] = 1.0; 3.0 > 1.0 -> stop
    assert feed(scheduler, "c", 3.0) == TrialScheduler.STOP
    assert scheduler.on_trial_result(None, SimpleNamespace(trial_id="d"), {"other": 1}) == TrialScheduler.CONTINUE
    assert feed(scheduler, "d", float("nan")) == TrialScheduler.CONTINUE  # NaN is not a report (W&B drops it)
    assert "d" not in scheduler.histories and scheduler.stopped == {"c"}


def test_scheduler_maximize_negates():
    scheduler = WandbHyperbandScheduler(bands=[1], eta=3, strict=True)
    scheduler.set_search_properties("acc", "max")
    scheduler.on_trial_result(None, SimpleNamespace(trial_id="a"), {"acc": 0.9})
    scheduler.on_trial_result(None, SimpleNamespace(trial_id="b"), {"acc": 0.8})
    assert scheduler.on_trial_result(None, SimpleNamespace(trial_id="c"), {"acc": 0.1}) == TrialScheduler.STOP


def test_scheduler_rebuilds_histories_from_disk_after_a_restart(tmp_path):
    records = tmp_path / "trials"
    records.mkdir()
    for trial_id, values in {"a": [1.0, 0.9, 0.8], "b": [0.5, 0.4, 0.3]}.items():
        (records / f"{trial_id}.config.json").write_text("{}")
        lines = [json.dumps({"trial_id": trial_id, "loss": v, "training_iteration": i + 1}) for i, v in enumerate(values)]
        (records / f"{trial_id}.jsonl").write_text("\n".join(lines) + "\n")
    scheduler = make_scheduler(experiment_dir=str(tmp_path))
    # A new trial's first report is judged against the recorded ones: V = [1.0, 0.5, 2.0] -> threshold 1.0.
    assert feed(scheduler, "c", 2.0) == TrialScheduler.STOP
    assert scheduler.histories["a"] == [1.0, 0.9, 0.8] and scheduler.histories["b"] == [0.5, 0.4, 0.3]
    assert json.loads((tmp_path / "hyperband_rebuilt.json").read_text()) == {"rebuilt_trials": 2, "reports": 6}


def test_a_trial_restarted_from_scratch_is_judged_on_its_new_attempt_only():
    scheduler = make_scheduler()
    for trial_id, value in (("a", 1.0), ("b", 0.5)):
        scheduler.on_trial_result(None, SimpleNamespace(trial_id=trial_id), {"loss": value, "training_iteration": 1})
    for i, value in enumerate([0.9, 0.8, 0.7], start=1):
        scheduler.on_trial_result(None, SimpleNamespace(trial_id="c"), {"loss": value, "training_iteration": i})
    # c restarts from scratch (no checkpoint): its report for iteration 1 is its first again, not its 4th
    decision = scheduler.on_trial_result(None, SimpleNamespace(trial_id="c"), {"loss": 0.6, "training_iteration": 1})
    assert scheduler.histories["c"] == [0.6] and scheduler.iterations["c"] == [1]
    assert decision == TrialScheduler.CONTINUE  # band 1: V = [1.0, 0.5, 0.6] -> threshold 0.6; 0.6 is not worse
    # a restart from an older checkpoint drops only the reports it redoes
    scheduler.on_trial_result(None, SimpleNamespace(trial_id="c"), {"loss": 0.5, "training_iteration": 2})
    scheduler.on_trial_result(None, SimpleNamespace(trial_id="c"), {"loss": 0.55, "training_iteration": 2})
    assert scheduler.histories["c"] == [0.6, 0.55]
