"""The command line: exit codes, messages, and the validate/plan/sample output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweeprunner", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_validate_ok():
    done = cli("validate", "recipes/guide/complete.yaml")
    assert done.returncode == 0
    assert done.stdout.strip() == "recipes/guide/complete.yaml: ok (bayes, 6 parameters)"
    assert "min_iter 5 is ignored because max_iter and s are given" in done.stderr


def test_bad_config_exits_2_with_every_key_path_and_no_traceback(sweep_yaml):
    path = sweep_yaml("method: bayse\nparameters:\n  lr: {distribution: log_uniform_values, min: 0, max: 1}\n")
    done = cli("validate", str(path))
    assert done.returncode == 2
    assert f"{path}: method: must be one of 'grid', 'random', 'bayes', got 'bayse' (did you mean 'bayes'?)" in done.stderr
    assert f"{path}: parameters.lr.min: must be > 0 for log_uniform_values, got 0" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["validate", "plan", "sample", "run"])
def test_missing_file_exits_2(command, tmp_path):
    done = cli(command, str(tmp_path / "nope.yaml"))
    assert done.returncode == 2 and "cannot read config file" in done.stderr and "Traceback" not in done.stderr


def test_random_without_budget_is_valid_and_runs_until_stopped(sweep_yaml):
    path = sweep_yaml("method: random\nparameters: {x: {values: [1, 2]}}\n")
    done = cli("validate", str(path))
    assert done.returncode == 0, done.stderr
    plan = cli("plan", str(path))
    assert plan.returncode == 0 and "trials      until stopped (no run_cap or count" in plan.stdout
    assert json.loads(cli("plan", str(path), "--json").stdout)["trials"] is None
    assert json.loads(cli("plan", str(path), "--count", "3", "--json").stdout)["trials"] == 3


def test_plan_text_and_json():
    text = cli("plan", "recipes/guide/complete.yaml").stdout
    assert "judged at reports 3, 9; eta 3" in text
    assert "learning_rate  log_uniform 1e-05..0.1 (log scale) [bounds read as values]" in text
    plan = json.loads(cli("plan", "recipes/guide/complete.yaml", "--json").stdout)
    assert plan["trials"] == 12 and plan["early_terminate"]["bands"] == [3, 9]
    assert plan["search"]["max_concurrent"] is None and plan["resources_per_trial"]["gpu"] == 0  # fill the cluster


def test_sample_prints_json_lines_reproducibly():
    first = cli("sample", "recipes/guide/nested.yaml", "-n", "5", "--seed", "7").stdout.splitlines()
    again = cli("sample", "recipes/guide/nested.yaml", "-n", "5", "--seed", "7").stdout.splitlines()
    other = cli("sample", "recipes/guide/nested.yaml", "-n", "5", "--seed", "8").stdout.splitlines()
    assert first == again != other and len(first) == 5
    row = json.loads(first[0])
    assert set(row) == {"model", "optimizer"} and set(row["optimizer"]) == {"lr", "type"}
    assert 1e-5 <= row["optimizer"]["lr"] <= 1e-1


def test_sample_grid_prints_points_in_order():
    rows = [json.loads(line) for line in cli("sample", "recipes/guide/grid.yaml", "-n", "3").stdout.splitlines()]
    assert [r["optimizer"] for r in rows] == ["adam", "sgd", "adam"]


def test_help_everywhere():
    for args in ([], ["run"], ["plan"], ["sample"], ["resume"], ["results"]):
        done = cli(*args, "--help")
        assert done.returncode == 0 and "usage: sweeprunner" in done.stdout


def test_unknown_option_exits_2():
    done = cli("plan", "recipes/guide/basic.yaml", "--bogus")
    assert done.returncode == 2 and "unrecognized arguments: --bogus" in done.stderr


def test_results_of_a_missing_directory_exits_2(tmp_path):
    done = cli("results", str(tmp_path))
    assert done.returncode == 2 and "holds no sweep trials" in done.stderr


def test_log_to_wandb_without_wandb_is_a_clear_config_error(sweep_yaml):
    path = sweep_yaml("method: grid\nparameters: {x: {values: [1]}}\nsweeprunner: {trainable: toy, log_to_wandb: true}\n")
    done = cli("run", str(path), "--storage", str(path.parent / "out"))
    assert done.returncode == 2
    assert "sweeprunner.log_to_wandb: logging to W&B needs the real `wandb` package (pip install wandb)" in done.stderr
