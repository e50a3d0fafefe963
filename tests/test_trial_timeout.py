"""``sweeprunner.trial_timeout`` ends a hung trial with the reason (issue 11 item 9)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from sweeprunner.config.parse import parse_sweep
from sweeprunner.errors import SweepConfigError
from sweeprunner.trial import session
from sweeprunner.trial.adapters import make_trainable
from sweeprunner.trial.watchdog import TrialTimeout, deadline

SCRIPTS = Path(__file__).parent / "data" / "scripts"


@pytest.mark.parametrize(("value", "seconds"), [(30, 30.0), ("90s", 90.0), ("30m", 1800.0), ("2h", 7200.0),
                                                ("1.5h", 5400.0)])
def test_trial_timeout_accepts_seconds_and_durations(value, seconds):
    raw = {"method": "random", "parameters": {"x": {"value": 1}}, "sweeprunner": {"trial_timeout": value}}
    assert parse_sweep(raw).runner.trial_timeout_s == seconds


@pytest.mark.parametrize(("value", "message"), [(0, "must be > 0, got 0"), (-5, "must be > 0"),
                                                ("soon", "like '30m' or '2h'"), (True, "like '30m'")])
def test_a_bad_trial_timeout_names_its_key_path(value, message):
    raw = {"method": "random", "parameters": {"x": {"value": 1}}, "sweeprunner": {"trial_timeout": value}}
    with pytest.raises(SweepConfigError, match=rf"sweeprunner\.trial_timeout: .*{message}"):
        parse_sweep(raw)


def test_deadline_interrupts_python_code_and_leaves_fast_code_alone():
    with deadline(5):
        pass
    start = time.monotonic()
    with pytest.raises(TrialTimeout, match=r"trial_timeout \(0.3 s\)"), deadline(0.3):
        while True:
            time.sleep(0.01)
    assert time.monotonic() - start < 3


def test_deadline_falls_back_to_the_last_resort_for_code_stuck_outside_python():
    called = []
    with pytest.raises(TrialTimeout), deadline(0.2, grace_s=0.3, last_resort=called.append):
        time.sleep(1.5)   # one C call: the timeout exception lands only after it (here: not killed)
    assert called and "trial_timeout (0.2 s)" in called[0]


def test_a_script_past_the_timeout_is_ended_with_its_process_group(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEPRUNNER_TRIAL_DIR", str(tmp_path / "trial"))
    session.history.clear()
    pids = tmp_path / "pids.json"
    trainable = make_trainable(command=["${interpreter}", str(SCRIPTS / "forever.py"), str(pids)],
                               stop_grace_s=1.0, timeout_s=1.5)
    with pytest.raises(TrialTimeout, match=r"trial_timeout \(1.5 s\); its process group was ended"):
        trainable({})
    assert len(session.history) > 3
    procs = json.loads(pids.read_text()).values()
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in procs)
    session.history.clear()


@pytest.mark.ray
def test_a_hung_trial_is_ended_marked_errored_and_retried(ray_session, tmp_path):
    from sweeprunner.run.launch import LaunchOptions, run_sweep

    raw = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
           "parameters": {"x": {"values": [1, 2]}},
           "sweeprunner": {"trainable": "tests/data/trainables/edge_cases.py:hang", "storage": str(tmp_path / "out"),
                           "trial_timeout": 2, "max_failures": 1}}
    start = time.monotonic()
    assert run_sweep(parse_sweep(raw), options=LaunchOptions(quiet=True)) == 1
    assert time.monotonic() - start < 60
    table = pd.read_csv(tmp_path / "out" / "results.csv").set_index("config.x")
    assert table.loc[1, "status"] == "errored" and "trial_timeout (2 s)" in table.loc[1, "error"]
    assert table.loc[2, "status"] == "finished"
    info = json.loads((tmp_path / "out" / "trials" / f"{table.loc[1, 'trial_id']}.info.json").read_text())
    assert len(info["starts"]) == 2   # retried once (max_failures: 1)


def test_the_progress_view_says_when_no_result_has_come_for_long():
    import io
    from types import SimpleNamespace

    from sweeprunner.run.callbacks import ProgressView

    stream = io.StringIO()
    view = ProgressView(total=2, metric="loss", mode="min", recorder=None, stream=stream, interval_s=0,
                        stalled_after_s=60)
    trial = SimpleNamespace(trial_id="t1")
    view.on_trial_start(0, [], trial)
    view.on_trial_result(0, [], trial, {"loss": 1.0})
    assert "no result" not in view.status_line()
    view.last_result_at -= 125                 # two minutes without a report
    view.on_step_end(0, [])                    # printed although no trial event came
    assert "no result for 2m05s" in stream.getvalue().splitlines()[-1]
