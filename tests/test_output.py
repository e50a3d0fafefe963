"""What `run` prints (issue 12 §6): Ray's own lines hidden, a steady ETA, honest result files, warnings as `plan`."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sweeprunner.config.parse import parse_sweep
from sweeprunner.results.tables import retrain_comment
from sweeprunner.run.callbacks import ProgressView
from sweeprunner.run.launch import LaunchOptions, run_sweep
from sweeprunner.run.output import hide_ray_lines, run_warnings

REPO = Path(__file__).resolve().parents[1]


def _eta_seconds(line: str) -> int:
    minutes, seconds = re.search(r"~(\d+)m(\d+)s left", line).groups()
    return int(minutes) * 60 + int(seconds)


def test_eta_counts_down_and_moves_only_part_way_on_a_burst_of_outcomes():
    now = [0.0]
    view = ProgressView(total=20, metric=None, mode=None, recorder=None, quiet=True, stream=io.StringIO())
    view.clock, view.started_at = (lambda: now[0]), 0.0
    now[0] = 60.0
    view.finished = {"t0"}
    first = _eta_seconds(view.status_line())  # 60 s per trial, 19 left
    assert first == 19 * 60
    now[0] = 70.0
    assert _eta_seconds(view.status_line()) == first - 10  # no new outcome: it counts down
    view.finished = {f"t{i}" for i in range(6)}  # a burst: the raw estimate drops to 14 * 70 / 6 = 163 s
    shown = _eta_seconds(view.status_line())
    assert 163 < shown < first - 10 and (first - 10) - shown <= 0.3 * ((first - 10) - 163) + 1
    for done in range(7, 12):  # steady outcomes pull it to the raw estimate
        now[0] += 12.0
        view.finished = {f"t{i}" for i in range(done)}
        line = view.status_line()
    raw = now[0] / 11 * 9
    assert abs(_eta_seconds(line) - raw) < abs(shown - raw)


def test_progress_without_a_budget_says_until_stopped():
    view = ProgressView(total=-1, metric=None, mode=None, recorder=None, quiet=True, stream=io.StringIO())
    assert "trials 0 (until stopped)" in view.status_line()


def test_ray_resume_hint_and_fetch_failures_are_hidden(caplog):
    hide_ray_lines()
    hide_ray_lines()  # idempotent
    with caplog.at_level(logging.INFO):
        logging.getLogger("ray.tune.tune").warning("Experiment has been interrupted, but the most recent state was "
                                                   "saved.\nResume experiment with: Tuner.restore(path=...)")
        logging.getLogger("ray.tune.analysis.experiment_analysis").warning("Failed to fetch metrics for 2 trial(s)")
        logging.getLogger("ray.tune.tune").warning("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]


def test_log_uniform_read_as_values_is_warned_by_run_as_by_plan():
    spec = parse_sweep({"method": "random", "parameters": {"lr": {"distribution": "log_uniform", "min": 1e-4, "max": 0.1}}})
    [warning] = run_warnings(spec)
    assert warning.startswith("lr: log_uniform bounds 0.0001..0.1 read as values") and "log_uniform_bounds" in warning
    exact = parse_sweep({"method": "random", "parameters": {"lr": {"distribution": "log_uniform_values",
                                                                   "min": 1e-4, "max": 0.1}}})
    assert run_warnings(exact) == []


def test_retrain_comment_names_where_to_run_it(tmp_path):
    info = {"config": {"program": "train.py"}, "workdir": "/home/me/my project"}
    comment = retrain_comment(info, tmp_path / "best.yaml")
    assert comment == f"# Retrain it: cd '/home/me/my project' && python -m sweeprunner run {tmp_path / 'best.yaml'}"
    assert "run_sweep(" in retrain_comment({"config": {"method": "grid"}, "workdir": "/x"}, tmp_path / "best.yaml")


@pytest.mark.ray
def test_quiet_run_prints_no_ray_trial_lines_and_lists_only_written_files(ray_session, tmp_path, capfd):
    (tmp_path / "silent.py").write_text("print('no metrics here')\n")
    spec = parse_sweep({"method": "grid", "metric": {"name": "loss"}, "parameters": {"x": {"values": [1, 2]}},
                        "program": str(tmp_path / "silent.py"), "sweeprunner": {"storage": str(tmp_path / "out")}})
    run_sweep(spec, options=LaunchOptions(quiet=True))
    out = capfd.readouterr()
    assert not re.search(r"^Trial \S+ (completed|finished)", out.out + out.err, re.M)
    assert "Wrote the latest version" not in out.err
    [final] = [line for line in out.out.splitlines() if line.startswith("results: ")]
    assert final.endswith("(results.csv, results.parquet, histories.csv)")
    assert not (tmp_path / "out" / "best.yaml").exists()


@pytest.mark.slow
def test_best_yaml_retrains_from_another_directory(tmp_path):
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir(), elsewhere.mkdir()
    (project / "train.py").write_text("import json, sys\nx = float(sys.argv[1].split('=')[1])\n"
                                      "print(json.dumps({'sweeprunner': {'loss': x}}))\n")
    (project / "sweep.yaml").write_text("method: grid\nprogram: train.py\nmetric: {name: loss}\n"
                                        "parameters:\n  x: {values: [2, 1]}\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.run([sys.executable, "-m", "sweeprunner", "run", "sweep.yaml", "--quiet", "--num-cpus", "2"],
                           cwd=project, env=env, capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr
    [best] = list(project.glob("sweeps/*/*/best.yaml"))
    command = next(line for line in best.read_text().splitlines() if line.startswith("# Retrain it: "))
    command = command.removeprefix("# Retrain it: ").replace("python ", f"{sys.executable} ", 1)
    command = command.replace(" run ", " run --quiet --num-cpus 2 ", 1)
    again = subprocess.run(command, shell=True, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    assert yaml.safe_load(best.read_text())["parameters"] == {"x": {"value": 1}}


def test_a_ray_warning_with_a_pasted_traceback_reaches_the_console_as_one_line():
    import logging

    from sweeprunner.run.output import OneLineErrors

    text = ("Last sync command failed: Traceback (most recent call last):\n  File \"syncer.py\", line 343\n"
            "OSError: [Errno 28] No space left on device\n")
    record = logging.LogRecord("ray.train", logging.WARNING, __file__, 1, text, (), None)
    assert OneLineErrors().filter(record)
    assert record.getMessage() == "Last sync command failed: OSError: [Errno 28] No space left on device"
