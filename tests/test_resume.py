"""A sweep whose driver is SIGKILLed mid-run is finished by `resume` with exact trial accounting."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from sweeprunner.compile.sampling import random_configs
from sweeprunner.config.parse import load_sweep

REPO = Path(__file__).resolve().parents[1]

CONFIG = """
name: kill-and-resume
method: random
run_cap: 6
metric: {name: loss, goal: minimize}
parameters:
  lr: {distribution: log_uniform_values, min: 1e-5, max: 1.0}
  epochs: {value: 5}
  sleep: {value: 0.6}
early_terminate: {type: hyperband, min_iter: 1, eta: 3}
sweeprunner: {trainable: toy, seed: 3, max_concurrent_trials: 2}
"""


def events(sweep_dir: Path) -> list[dict]:
    path = sweep_dir / "trial_events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def result_rows(sweep_dir: Path) -> dict[str, int]:
    """Reported rows per trial, from the records the driver appends as results arrive."""
    return {path.name.removesuffix(".jsonl"): len(path.read_text().splitlines())
            for path in (sweep_dir / "trials").glob("*.jsonl")}


ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def start_sweep(tmp_path: Path, *args: str) -> tuple[Path, Path, subprocess.Popen]:
    """Write CONFIG and start `sweeprunner run` on it in its own process group."""
    config = tmp_path / "sweep.yaml"
    config.write_text(CONFIG)
    sweep_dir = tmp_path / "out"
    driver = subprocess.Popen([sys.executable, "-m", "sweeprunner", "run", str(config), "--storage", str(sweep_dir),
                               "--num-cpus", "2", *args], cwd=REPO, env=ENV, start_new_session=True, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return config, sweep_dir, driver


def wait_for_outcomes(sweep_dir: Path, driver: subprocess.Popen, count: int) -> None:
    deadline = time.monotonic() + 240
    while len(events(sweep_dir)) < count and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.2)
    assert len(events(sweep_dir)) >= count, "no trial finished before the deadline"


def sigkill_driver(driver: subprocess.Popen, when: Callable[[], None]) -> None:
    """SIGKILL the driver once ``when()`` returns, then whatever it left behind (only ours)."""
    try:
        when()
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        time.sleep(2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)


def resume(sweep_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweeprunner", "resume", str(sweep_dir), "--quiet", "--num-cpus", "2"],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=400)


@pytest.mark.slow
def test_sigkill_then_resume_finishes_the_same_sweep(tmp_path):
    config, sweep_dir, driver = start_sweep(tmp_path, "--quiet")
    sigkill_driver(driver, lambda: wait_for_outcomes(sweep_dir, driver, 2))
    assert driver.returncode == -signal.SIGKILL
    done_before = {e["trial_id"] for e in events(sweep_dir)}
    rows_before = result_rows(sweep_dir)

    resumed = resume(sweep_dir)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    table = pd.read_csv(sweep_dir / "results.csv")
    assert len(table) == 6 and set(table["status"]) <= {"finished", "stopped"}
    # finished trials were not rerun: their recorded reports are unchanged
    rows_after = result_rows(sweep_dir)
    assert all(rows_after[t] == rows_before[t] for t in done_before), (done_before, rows_before, rows_after)
    # the searcher kept its state: exactly the 6 planned configs ran, none twice
    planned = sorted(c["lr"] for c in random_configs(load_sweep(config), 6, seed=3))
    assert sorted(table["config.lr"]) == pytest.approx(planned)
    # early stopping saw the trials recorded before the kill
    assert json.loads((sweep_dir / "hyperband_rebuilt.json").read_text())["rebuilt_trials"] >= len(done_before)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_prints_how_to_resume_and_resume_finishes(tmp_path):
    _, sweep_dir, driver = start_sweep(tmp_path)
    try:
        wait_for_outcomes(sweep_dir, driver, 1)
        driver.send_signal(signal.SIGINT)
        output, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 130, output
    assert f"continue with: python -m sweeprunner resume {sweep_dir}" in output
    assert "Traceback" not in output
    resumed = resume(sweep_dir)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(pd.read_csv(sweep_dir / "results.csv")) == 6


def run_cli(*args: str, cwd: Path = REPO, timeout: int = 400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweeprunner", *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_a_copied_sweep_directory_resumes_from_its_own_records(tmp_path):
    config, sweep_dir, driver = start_sweep(tmp_path, "--quiet")
    sigkill_driver(driver, lambda: wait_for_outcomes(sweep_dir, driver, 2))
    original_events = (sweep_dir / "trial_events.jsonl").read_text()
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(sweep_dir, copy)
    resumed = resume(copy)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    table = pd.read_csv(copy / "results.csv")
    planned = sorted(c["lr"] for c in random_configs(load_sweep(config), 6, seed=3))
    assert sorted(table["config.lr"]) == pytest.approx(planned)  # none skipped, none twice
    assert (sweep_dir / "trial_events.jsonl").read_text() == original_events  # the original was not touched
    assert not (sweep_dir / "results.csv").exists()


GRID = """
name: {name}
method: grid
metric: {{name: loss, goal: minimize}}
parameters:
  lr: {{values: {values}}}
  epochs: {{value: {epochs}}}
sweeprunner: {{trainable: toy, max_concurrent_trials: 2}}
"""


@pytest.mark.slow
def test_two_runs_of_one_sweep_at_once_get_two_directories(tmp_path):
    config = tmp_path / "sweep.yaml"
    config.write_text(GRID.format(name="twice", epochs=1, values=[0.1, 0.03, 0.01, 0.003, 0.001]))
    runs = [subprocess.Popen([sys.executable, "-m", "sweeprunner", "run", str(config), "--quiet", "--num-cpus", "1"],
                             cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=400)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    directories = sorted((tmp_path / "sweeps" / "twice").iterdir())
    assert len(directories) == 2
    for directory in directories:
        assert len(pd.read_csv(directory / "results.csv")) == 5
        assert not (directory / "sweeprunner.lock").exists()  # released at the end


@pytest.mark.slow
def test_a_full_disk_stops_cleanly_and_resume_finishes_after_room_is_made(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(full)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'not root'})")
    try:
        config = tmp_path / "sweep.yaml"
        lrs = [0.1, 0.03, 0.01, 0.003, 0.001, 0.0003, 0.0001, 0.00003]
        config.write_text(GRID.format(name="full-disk", epochs=30, values=lrs))
        sweep_dir = full / "out"
        run = run_cli("run", str(config), "--storage", str(sweep_dir), "--num-cpus", "2")
        output = run.stdout + run.stderr
        assert run.returncode == 1, output
        assert "No space left on device" in output and "Traceback" not in output
        assert f"continue with: python -m sweeprunner resume {sweep_dir}" in output
        assert all(path.stat().st_size > 0 for path in (sweep_dir / "trials").glob("*.config.json"))
        subprocess.run(["mount", "-o", "remount,size=20m", str(full)], check=True)  # make room
        resumed = run_cli("resume", str(sweep_dir), "--num-cpus", "2")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        table = pd.read_csv(sweep_dir / "results.csv")
        assert len(table) == 8 and set(table["status"]) == {"finished"}
        assert sorted(table["config.lr"]) == pytest.approx(sorted(lrs))
    finally:
        subprocess.run(["umount", "-l", str(full)], check=False)


@pytest.mark.slow
def test_a_trial_restarted_from_scratch_on_resume_gets_a_clean_history(tmp_path):
    config = tmp_path / "sweep.yaml"
    config.write_text("""
method: grid
metric: {name: loss, goal: minimize}
parameters:
  x: {values: [1, 2]}
  steps: {value: 10}
  sleep: {value: 0.5}
sweeprunner: {trainable: "tests/data/trainables/edge_cases.py:no_checkpoint", max_concurrent_trials: 2}
""")
    sweep_dir = tmp_path / "out"
    driver = subprocess.Popen([sys.executable, "-m", "sweeprunner", "run", str(config), "--storage", str(sweep_dir),
                               "--num-cpus", "2", "--quiet"], cwd=REPO, env=ENV, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def two_trials_three_reports_each() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (len(result_rows(sweep_dir)) == 2
                                                   and min(result_rows(sweep_dir).values()) >= 3):
            time.sleep(0.2)

    sigkill_driver(driver, two_trials_three_reports_each)
    before = result_rows(sweep_dir)
    assert len(before) == 2 and min(before.values()) >= 3, before
    resumed = resume(sweep_dir)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    histories = pd.read_csv(sweep_dir / "histories.csv")
    for trial_id, rows in histories.groupby("trial_id"):
        assert rows["training_iteration"].tolist() == list(range(1, 11)), trial_id  # one clean attempt
        assert rows["step"].tolist() == list(range(10))
        old = (sweep_dir / "trials" / "superseded" / f"{trial_id}.attempt-1.jsonl").read_text().splitlines()
        assert len(old) >= 3  # the first attempt's rows are kept aside, not lost
    assert set(pd.read_csv(sweep_dir / "results.csv")["iterations"]) == {10}
