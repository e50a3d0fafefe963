"""A random/bayes sweep without run_cap or --count runs until stopped, as `wandb agent` does (issue 12 §5)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sweeprunner.compile.compiler import UNTIL_STOPPED, compile_sweep
from sweeprunner.compile.sampling import random_configs
from sweeprunner.config.parse import parse_sweep

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
RAW = {"method": "random", "metric": {"name": "loss", "goal": "minimize"},
       "parameters": {"lr": {"min": 0.0, "max": 1.0}}, "sweeprunner": {"seed": 5}}


def test_random_stream_without_budget_goes_past_any_first_batch():
    spec = parse_sweep(RAW)
    compiled = compile_sweep(spec)
    assert compiled.num_samples == UNTIL_STOPPED
    searcher = compiled.search_alg
    drawn = [searcher.suggest(f"t{i}") for i in range(150)]
    assert drawn == random_configs(spec, 150, 5)


def test_bayes_without_budget_fills_the_cluster_unless_capped():
    compiled = compile_sweep(parse_sweep({**RAW, "method": "bayes"}))
    assert compiled.num_samples == UNTIL_STOPPED and not hasattr(compiled.search_alg, "max_concurrent")
    capped = compile_sweep(parse_sweep({**RAW, "method": "bayes", "sweeprunner": {"max_concurrent_trials": 3}}))
    assert capped.num_samples == UNTIL_STOPPED and capped.search_alg.max_concurrent == 3


def _events(sweep_dir: Path) -> list[dict]:
    path = sweep_dir / "trial_events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _run_until(args: list[str], sweep_dir: Path, outcomes: int) -> tuple[int, str]:
    """Start the CLI, wait for ``outcomes`` trial outcomes in total, Ctrl-C it; (exit code, output)."""
    driver = subprocess.Popen([sys.executable, "-m", "sweeprunner", *args], cwd=REPO, env=ENV, text=True,
                              start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while len(_events(sweep_dir)) < outcomes and time.monotonic() < deadline and driver.poll() is None:
            time.sleep(0.2)
        driver.send_signal(signal.SIGINT)
        output, _ = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    return driver.returncode, output


@pytest.mark.slow
def test_run_without_budget_runs_until_ctrl_c_and_resumes(tmp_path):
    config = tmp_path / "sweep.yaml"
    config.write_text("method: random\nmetric: {name: loss, goal: minimize}\n"
                      "parameters:\n  lr: {min: 0.0, max: 1.0}\n  epochs: {value: 2}\n  sleep: {value: 0.3}\n"
                      "sweeprunner: {trainable: toy, seed: 5}\n")
    sweep_dir = tmp_path / "out"
    code, output = _run_until(["run", str(config), "--storage", str(sweep_dir), "--num-cpus", "2"], sweep_dir, 3)
    assert code == 130, output
    assert "runs until stopped" in output
    assert f"continue with: python -m sweeprunner resume {sweep_dir}" in output
    assert "Traceback" not in output
    assert "Resume experiment with" not in output and "Failed to fetch metrics" not in output  # Ray's lines hidden
    first = len(_events(sweep_dir))
    code, output = _run_until(["resume", str(sweep_dir), "--num-cpus", "2"], sweep_dir, first + 2)
    assert code == 130, output
    configs = [json.loads(p.read_text())["lr"] for p in (sweep_dir / "trials").glob("*.config.json")]
    assert len(configs) >= first + 2
    stream = [c["lr"] for c in random_configs(parse_sweep({**RAW}), len(configs), 5)]
    assert sorted(configs) == pytest.approx(sorted(stream))  # the resumed sweep drew on from the same stream
