"""A sweep whose driver is SIGKILLed mid-run is finished by `resume` with exact trial accounting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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


def resume(sweep_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweeprunner", "resume", str(sweep_dir), "--quiet", "--num-cpus", "2"],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=400)


@pytest.mark.slow
def test_sigkill_then_resume_finishes_the_same_sweep(tmp_path):
    config, sweep_dir, driver = start_sweep(tmp_path, "--quiet")
    try:
        wait_for_outcomes(sweep_dir, driver, 2)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        time.sleep(2)
        try:
            os.killpg(driver.pid, signal.SIGKILL)  # whatever the killed driver left behind (only ours)
        except ProcessLookupError:
            pass
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
