"""Errors that can't succeed: caught before Ray starts, or failed once without retries (issue 12 §4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sweeprunner import api
from sweeprunner.config.parse import parse_sweep
from sweeprunner.errors import SweepConfigError
from sweeprunner.run.launch import LaunchOptions, make_trial_function, run_sweep
from sweeprunner.trial import wandb_compat

REPO = Path(__file__).resolve().parents[1]
QUIET = LaunchOptions(quiet=True)


def spec_for(tmp_path, runner=None, **top):
    raw = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"}, "parameters": {"x": {"values": [1, 2]}},
           "sweeprunner": {"storage": str(tmp_path / "out"), "max_failures": 3, **(runner or {})}, **top}
    return parse_sweep(raw)


def check(tmp_path, **kwargs):
    make_trial_function(spec_for(tmp_path, **kwargs), str(tmp_path))


# ---------------------------------------------------------------------------- before Ray starts

def test_missing_program_file_is_reported_under_program(tmp_path):
    with pytest.raises(SweepConfigError, match=r"program: no file .*train\.py"):
        check(tmp_path, program="train.py")


def test_plain_import_wandb_without_the_shim_says_to_set_it(tmp_path):
    (tmp_path / "train.py").write_text("import os\nimport wandb\n\nwandb.init()\n")
    with pytest.raises(SweepConfigError, match=r"sweeprunner.wandb_shim: .*imports wandb .*line 2.*wandb_shim: true"):
        check(tmp_path, program="train.py")
    check(tmp_path, program="train.py", runner={"wandb_shim": True})  # with the shim it is fine


def test_program_with_syntax_error_or_missing_package(tmp_path):
    (tmp_path / "bad.py").write_text("def f(:\n  pass\n")
    with pytest.raises(SweepConfigError, match=r"program: .*syntax error in .*bad\.py, line 1"):
        check(tmp_path, program="bad.py")
    (tmp_path / "deps.py").write_text("import json\nimport helper\nimport no_such_package_xyz\n")
    (tmp_path / "helper.py").write_text("")
    with pytest.raises(SweepConfigError, match=r"imports 'no_such_package_xyz' .*line 3"):
        check(tmp_path, program="deps.py")
    (tmp_path / "optional.py").write_text("try:\n    import no_such_package_xyz\nexcept ImportError:\n    pass\n")
    check(tmp_path, program="optional.py")  # optional dependencies are not required


def test_unimportable_trainable_is_a_config_error(tmp_path):
    with pytest.raises(SweepConfigError, match=r"sweeprunner.trainable: .*no module named 'no_such_mod'"):
        check(tmp_path, runner={"trainable": "no_such_mod:train"})
    (tmp_path / "mod.py").write_text("def other():\n    pass\n")
    with pytest.raises(SweepConfigError, match=r"defines no function 'train'"):
        check(tmp_path, runner={"trainable": "mod:train"})
    with pytest.raises(SweepConfigError, match=r"no file .*missing\.py"):
        check(tmp_path, runner={"trainable": "missing.py:train"})
    (tmp_path / "mod.py").write_text("import wandb\n\ndef train():\n    pass\n")
    with pytest.raises(SweepConfigError, match=r"wandb_shim"):
        check(tmp_path, runner={"trainable": "mod:train"})
    check(tmp_path, runner={"trainable": "toy"})  # the built-ins pass


def test_cli_reports_a_missing_program_with_exit_2_before_ray(tmp_path):
    config = tmp_path / "sweep.yaml"
    config.write_text("method: grid\nprogram: nowhere.py\nparameters:\n  x: {values: [1]}\n")
    proc = subprocess.run([sys.executable, "-m", "sweeprunner", "run", str(config)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2
    assert "program: no file" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "sweeps").exists()


# ---------------------------------------------------------------------------- not retried

def _starts(directory: Path) -> dict[str, int]:
    return {p.name.split(".")[0]: len(json.loads(p.read_text())["starts"])
            for p in (directory / "trials").glob("*.info.json")}


@pytest.mark.ray
def test_import_error_in_a_trial_fails_once_with_one_line(ray_session, tmp_path, capsys):
    def train(config):
        import no_such_module_at_runtime  # noqa: F401

    results = api.run_sweep({"method": "grid", "parameters": {"x": {"values": [1, 2]}},
                             "sweeprunner": {"max_failures": 3, "storage": str(tmp_path / "out")}}, trainable=train)
    out = capsys.readouterr()
    assert results.exit_code == 1
    assert set(_starts(tmp_path / "out").values()) == {1}  # no retries
    assert set(results.trials["status"]) == {"errored"}
    assert all("ModuleNotFoundError: No module named 'no_such_module_at_runtime'" in e for e in results.trials["error"])
    lines = [line for line in out.err.splitlines() if "failed (not retried)" in line]
    assert len(lines) == 2
    [error_txt] = list((tmp_path / "out").glob("*/error.txt"))[:1]
    assert "Traceback" in error_txt.read_text() and "no_such_module_at_runtime" in error_txt.read_text()
    assert "Traceback" not in out.err + out.out


@pytest.mark.ray
def test_missing_compat_api_and_early_exception_fail_once(ray_session, tmp_path):
    def train():
        with wandb_compat.init() as run:
            if run.config.x == 1:
                wandb_compat.no_such_api()
            raise ValueError("bad before the first report")

    results = api.run_sweep({"method": "grid", "parameters": {"x": {"values": [1, 2]}},
                             "sweeprunner": {"max_failures": 3, "storage": str(tmp_path / "out")}},
                            trainable=train, quiet=True)
    table = results.trials.set_index("config.x")
    assert set(_starts(tmp_path / "out").values()) == {1}
    assert "AttributeError" in table.loc[1, "error"] and "no_such_api" in table.loc[1, "error"]
    assert table.loc[2, "error"] == "ValueError: bad before the first report"


@pytest.mark.ray
def test_command_failing_before_its_first_report_fails_once(ray_session, tmp_path):
    (tmp_path / "fail.py").write_text("import sys\nprint('oops', file=sys.stderr)\nsys.exit(4)\n")
    spec = spec_for(tmp_path, program=str(tmp_path / "fail.py"))
    assert run_sweep(spec, options=QUIET) == 1
    assert set(_starts(tmp_path / "out").values()) == {1}
    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert all(e.startswith("trial command exited with status 4: oops") for e in table["error"])


@pytest.mark.ray
def test_error_after_a_report_is_still_retried(ray_session, tmp_path):
    spec = spec_for(tmp_path, program=str(REPO / "tests" / "data" / "scripts" / "crash.py"),
                    runner={"max_failures": 1})
    assert run_sweep(spec, options=QUIET) == 1
    assert set(_starts(tmp_path / "out").values()) == {2}  # one retry, as configured


def test_a_trial_timeout_before_the_first_report_is_retried():
    from sweeprunner.trial.failures import is_deterministic
    from sweeprunner.trial.watchdog import TrialTimeout, timeout_message

    assert not is_deterministic(TrialTimeout(timeout_message(5)), reported=False)
    assert is_deterministic(RuntimeError("boom before any report"), reported=False)
