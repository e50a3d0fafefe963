"""The Python sweep API: sweep/agent (W&B's workflow, repeated agent calls) and run_sweep."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sweeprunner import api
from sweeprunner.compile.compiler import compile_sweep
from sweeprunner.compile.sampling import random_configs
from sweeprunner.config.parse import parse_sweep
from sweeprunner.errors import SweepConfigError
from sweeprunner.results.records import RECORDS_DIR
from sweeprunner.trial import wandb_compat

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "tests" / "data" / "scripts"
RANDOM = {"method": "random", "metric": {"name": "loss", "goal": "minimize"},
          "parameters": {"x": {"min": 0.0, "max": 1.0}}, "sweeprunner": {"seed": 7}}


def _configs(directory: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((Path(directory) / RECORDS_DIR).glob("*.config.json"))]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_repeated_agent_calls_continue_the_random_stream(ray_session, in_tmp):
    def train():
        with wandb_compat.init() as run:
            wandb_compat.log({"loss": run.config.x})

    sweep_id = wandb_compat.sweep(RANDOM, project="p")
    wandb_compat.agent(sweep_id, function=train, count=2, quiet=True)
    wandb_compat.agent(sweep_id, train, count=2, quiet=True)
    directory = api.sweep_dir_of(sweep_id)
    expected = random_configs(parse_sweep(RANDOM), 4, 7)
    assert sorted(c["x"] for c in _configs(directory)) == sorted(c["x"] for c in expected)
    results = pd.read_csv(Path(directory) / "results.csv")
    assert len(results) == 4 and set(results["status"]) == {"finished"}
    assert (Path(directory) / "best.yaml").is_file()


def test_repeated_agent_calls_continue_the_bayes_model(ray_session, in_tmp):
    config = {**RANDOM, "method": "bayes"}

    def train(cfg):
        from sweeprunner import session

        session.report({"loss": cfg["x"]})

    sweep_id = api.sweep(config)
    api.agent(sweep_id, function=train, count=2, quiet=True)
    first = {c["x"] for c in _configs(api.sweep_dir_of(sweep_id))}
    api.agent(sweep_id, function=train, count=2, quiet=True)
    second = {c["x"] for c in _configs(api.sweep_dir_of(sweep_id))} - first
    # a fresh seeded sampler would repeat the first call's points; the restored one continues
    assert len(first) == 2 and len(second) == 2


def test_grid_agents_take_the_next_points_then_stop(ray_session, in_tmp, capsys):
    config = {"method": "grid", "parameters": {"a": {"values": [1, 2]}, "b": {"values": [3, 4]}}}

    def train(cfg):
        from sweeprunner import session

        session.report({"loss": cfg["a"] * cfg["b"]})

    sweep_id = api.sweep(config)
    api.agent(sweep_id, function=train, count=3, quiet=True)
    api.agent(sweep_id, function=train, count=3, quiet=True)
    configs = _configs(api.sweep_dir_of(sweep_id))
    assert sorted((c["a"], c["b"]) for c in configs) == [(1, 3), (1, 4), (2, 3), (2, 4)]
    capsys.readouterr()
    api.agent(sweep_id, function=train, count=3, quiet=True)
    assert "all 4 trial(s) already run" in capsys.readouterr().err
    assert len(_configs(api.sweep_dir_of(sweep_id))) == 4


def test_an_interrupted_earlier_agent_call_does_not_fail_the_next(ray_session, in_tmp, capsys):
    def train(cfg):
        from sweeprunner import session

        session.report({"loss": cfg["x"]})

    sweep_id = api.sweep(RANDOM)
    records = Path(api.sweep_dir_of(sweep_id)) / RECORDS_DIR
    records.mkdir()
    (records / "deadbeef.config.json").write_text(json.dumps({"x": 0.5}))  # started, never finished (a killed agent)
    assert api.run_agent(sweep_id, function=train, count=1, options=api.LaunchOptions(quiet=True)) == 0
    table = pd.read_csv(records.parent / "results.csv").set_index("trial_id")
    assert table.loc["deadbeef", "status"] == "incomplete" and (table["status"] == "finished").sum() == 1
    assert "interrupted with" not in capsys.readouterr().out


def test_run_sweep_returns_dataframes(ray_session, in_tmp):
    def train(cfg):
        from sweeprunner import session

        for step in range(3):
            session.report({"loss": cfg["x"] + step})

    results = api.run_sweep(RANDOM, trainable=train, count=3, quiet=True)
    assert results.exit_code == 0
    assert len(results.trials) == 3 and len(results.histories) == 9
    assert results.best is not None and results.best["best_metric"] == results.trials["best_metric"].min()
    assert Path(results.directory, "results.csv").is_file()


def test_module_with_top_level_sweep_and_agent_runs_as_a_trial(ray_session, in_tmp):
    """A trial that imports a module calling wandb.sweep/agent at import does not start a nested sweep."""
    config = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
              "parameters": {"x": {"values": [5, 6]}},
              "sweeprunner": {"trainable": f"{SCRIPTS / 'toplevel_agent.py'}:train"}}
    results = api.run_sweep(config, quiet=True)
    assert results.exit_code == 0
    assert sorted(results.trials["best_metric"]) == [5, 6]
    assert len(list(Path(in_tmp, "sweeps").glob("*/*"))) == 1  # no nested sweep directory


def test_sweep_and_agent_inside_a_trial_are_no_ops(monkeypatch, capsys):
    monkeypatch.setenv("SWEEPRUNNER_IN_TRIAL", "1")
    monkeypatch.setenv(api.SWEEP_ID_ENV, "abcd1234")
    assert api.sweep({"method": "grid", "parameters": {}}) == "abcd1234"
    assert api.agent("abcd1234", function=print, count=1) is None
    assert "ignored" in capsys.readouterr().err


def test_unknown_sweep_id_and_bad_config_are_config_errors(in_tmp):
    with pytest.raises(SweepConfigError, match="sweep_id: no sweep 'nope'"):
        api.agent("nope", function=print, count=1)
    with pytest.raises(SweepConfigError, match="parameters.x: min must be < max"):
        api.sweep({"method": "random", "parameters": {"x": {"min": 1.0, "max": 0.0}}})
    assert not Path(in_tmp, "sweeps").exists()


def run_as_main(script: str, cwd: Path, *, timeout: int) -> subprocess.CompletedProcess:
    """Run a test script as ``__main__`` (as a user runs it), on its own embedded Ray."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0"}
    env.pop("RAY_ADDRESS", None)
    return subprocess.run([sys.executable, str(SCRIPTS / script)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.slow
def test_guide_workflow_runs_as_main_script(tmp_path):
    """The guide's code (train defined in __main__, sweep + two agent calls) with only the import changed."""
    proc = run_as_main("api_main.py", tmp_path, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep_id = proc.stdout.split("SWEEP_ID ")[1].split()[0]
    [info] = list(tmp_path.glob("sweeps/*/*/sweeprunner.json"))
    assert json.loads(info.read_text())["sweep_id"] == sweep_id
    results = pd.read_csv(info.parent / "results.csv")
    assert len(results) == 3 and set(results["status"]) == {"finished"}
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.slow
def test_wandb_pytorch_notebook_runs_with_one_import_line_changed(tmp_path):
    """W&B's PyTorch sweeps notebook (code cells as a script, MNIST swapped for FakeData)."""
    proc = run_as_main("wandb_pytorch_notebook.py", tmp_path, timeout=500)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    [directory] = list(tmp_path.glob("sweeps/pytorch-sweeps-demo/*"))
    results = pd.read_csv(directory / "results.csv")
    assert len(results) == 5 and set(results["status"]) == {"finished"}
    assert results["best_metric"].notna().all() and results["config.batch_size"].between(32, 256).all()
    assert "Traceback" not in proc.stdout + proc.stderr


def test_agent_budget_follows_count_run_cap_and_the_grid():
    random = parse_sweep(RANDOM)
    assert api._budget(random, 0, None) is None  # no run_cap, no count: until stopped, as `wandb agent`
    assert api._budget(random, 5, 3) == 3
    capped = parse_sweep({**RANDOM, "run_cap": 4})
    assert api._budget(capped, 3, 5) == 1 and api._budget(capped, 4, 5) == 0
    grid = parse_sweep({"method": "grid", "parameters": {"a": {"values": [1, 2, 3]}}})
    assert api._budget(grid, 1, None) == 2 and api._budget(grid, 1, 1) == 1
    with pytest.raises(SweepConfigError, match="count: must be >= 1, got 0"):
        api._budget(random, 0, 0)


def test_sweep_from_a_yaml_path_is_found_by_id_from_another_process_directory(in_tmp):
    (in_tmp / "cfg.yaml").write_text("method: grid\nparameters:\n  a: {values: [1]}\n")
    sweep_id = api.sweep(str(in_tmp / "cfg.yaml"), project="proj")
    directory = Path(api.sweep_dir_of(sweep_id))
    assert directory.parent == in_tmp / "sweeps" / "proj"
    info = json.loads((directory / "sweeprunner.json").read_text())
    assert info["sweep_id"] == sweep_id and info["config"]["project"] == "proj"
    api._SWEEPS.clear()  # as in a new process: found under ./sweeps by its id
    assert api.sweep_dir_of(sweep_id) == str(directory)
    assert api.sweep_dir_of(str(directory)) == str(directory)


def test_resume_of_a_function_sweep_says_to_call_agent(in_tmp):
    from sweeprunner.run.launch import resume_sweep

    sweep_id = api.sweep(RANDOM)
    with pytest.raises(SweepConfigError, match=rf"directory: sweep {sweep_id} runs a Python function.*"
                                               rf"sweeprunner.agent\('{sweep_id}', function=train\)"):
        resume_sweep(api.sweep_dir_of(sweep_id))


def test_a_second_wrapper_over_a_restored_searcher_never_reuses_inner_ids():
    from sweeprunner.compile.bayes import BackgroundSuggester, suggest_now

    inner = compile_sweep(parse_sweep({**RANDOM, "method": "bayes"})).search_alg
    while isinstance(inner, BackgroundSuggester) or hasattr(inner, "searcher"):
        inner = inner.searcher
    first, second = BackgroundSuggester(inner), BackgroundSuggester(inner)
    a = suggest_now(first, "ray-1")
    first.on_trial_complete("ray-1", {"loss": a["x"]})
    b = suggest_now(second, "ray-2")  # a later agent call over the same (restored) inner searcher
    assert b != a
