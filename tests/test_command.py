"""Subprocess trials: W&B macro expansion, metrics lines, logs, failures, stopping."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sweeprunner.trial import session
from sweeprunner.trial.adapters import make_trainable
from sweeprunner.trial.command import (
    CommandError,
    CommandSpec,
    expand_command,
    run_command,
    sweep_args,
    terminate_group,
)
from sweeprunner.trial.protocol import CHECKPOINT_DIR_ENV, JSONL_ENV, TRIAL_DIR_ENV
from sweeprunner.trial.protocol import parse_row as parse_protocol_line

SCRIPTS = Path(__file__).parent / "data" / "scripts"
PY = sys.executable


@pytest.fixture
def trial_dir(tmp_path, monkeypatch):
    """A standalone trial directory; reports land in session.history."""
    path = tmp_path / "trial"
    monkeypatch.setenv(TRIAL_DIR_ENV, str(path))
    monkeypatch.delenv(CHECKPOINT_DIR_ENV, raising=False)
    monkeypatch.delenv(JSONL_ENV, raising=False)
    session.history.clear()
    yield path
    session.history.clear()


# ---------------------------------------------------------------------------- expansion

def test_args_macros_match_wandb_agent_test_vector():
    # the expectations of wandb's own tests/unit_tests/test_wandb_agent.py
    got = sweep_args({"a": True, "b": False, "c": 1, "d": None})
    assert got["args"] == ["--a=True", "--b=False", "--c=1", "--d=None"]
    assert got["args_no_hyphens"] == ["a=True", "b=False", "c=1", "d=None"]
    assert got["args_no_boolean_flags"] == ["--a", "--c=1", "--d=None"]
    assert got["args_json"] == ['{"a": true, "b": false, "c": 1, "d": null}']
    assert got["args_append_hydra"] == ["+a=True", "+b=False", "+c=1", "+d=None"]
    assert got["args_override_hydra"] == ["++a=True", "++b=False", "++c=1", "++d=None"]
    assert got["args_no_equals"] == ["--a", "True", "--b", "False", "--c", "1", "--d", "None"]


def test_values_print_as_python_str_with_numpy_scalars_unwrapped():
    got = sweep_args({"lr": np.float64(1e-5), "n": np.int64(3), "l": [1, 2],
                      "opt": {"lr": np.float32(0.5), "name": "sgd"}})
    assert got["args"] == ["--lr=1e-05", "--n=3", "--l=[1, 2]", "--opt={'lr': 0.5, 'name': 'sgd'}"]
    assert json.loads(got["args_json"][0]) == {"lr": 1e-05, "n": 3, "l": [1, 2],
                                               "opt": {"lr": 0.5, "name": "sgd"}}


def test_default_command_envvars_and_literal_items():
    argv = expand_command(("${env}", "${interpreter}", "${program}", "${args}"), "train.py",
                          {"x": 1}, args_json_file="/t/c.json")
    assert argv == ["/usr/bin/env", PY, "train.py", "--x=1"]
    argv = expand_command(["${envvar:MY_VAR}", "pre-${envvar:MY_VAR}-${envvar:UNSET_Q}", 2,
                           "--cfg=${args_json_file}", "${args_json_file}", "${args_no_equals}"],
                          None, {"x": 1}, args_json_file="/t/c.json",
                          environ={"MY_VAR": "v"})
    # unset variables become their name and macros inside items stay literal, as in W&B
    assert argv == ["v", "pre-v-UNSET_Q", "2", "--cfg=${args_json_file}", "/t/c.json", "--x", "1"]


def test_bad_commands_are_rejected_with_every_problem():
    with pytest.raises(ValueError) as err:
        CommandSpec(program=None, command=("${env}", "${program}", "${argz}", {"a": 1}))
    text = str(err.value)
    assert "command[1]: uses ${program}" in text
    assert "command[2]: unknown macro '${argz}'" in text and "${args_no_hyphens}" in text
    assert "command[3]: must be a string" in text
    assert CommandSpec(program="t.py", command=()).command[0] == "${env}"


def test_protocol_lines():
    assert parse_protocol_line('{"sweeprunner": {"loss": 1}}\n') == {"loss": 1}
    assert parse_protocol_line('  {"sweeprunner": {"loss": 1}}  ') == {"loss": 1}
    for other in ['{"loss": 1}', '{"sweeprunner": 3}', '{"sweeprunner": {}, "x": 1}',
                  "sweeprunner says hi", '{"sweeprunner": {', ""]:
        assert parse_protocol_line(other) is None


# ---------------------------------------------------------------------------- running

def test_argparse_script_with_args_and_the_wandb_shim(trial_dir):
    trainable = make_trainable(program="argparse_train.py", wandb_shim=True, metric_name="loss",
                               workdir=str(SCRIPTS))
    trainable({"lr": 0.02, "epochs": 3, "note": "hi there"})
    assert [r["epoch"] for r in session.history] == [0, 1, 2]
    assert json.loads((trial_dir / "argv.json").read_text()) == [
        "--lr=0.02", "--epochs=3", "--note=hi there"]
    summary = json.loads((trial_dir / "wandb" / "summary.json").read_text())
    assert summary["epoch"] == 2
    assert (trial_dir / "stdout.log").read_text().count('"sweeprunner"') == 3
    assert (trial_dir / "config.json").exists() and (trial_dir / "command.txt").exists()


def test_hydra_style_script_with_args_no_hyphens(trial_dir):
    trainable = make_trainable(command=["${env}", "${interpreter}", "${program}",
                                        "${args_no_hyphens}"],
                               program="hydra_train.py", metric_name="loss",
                               workdir=str(SCRIPTS))
    trainable({"lr": 0.5, "model": {"width": 4}, "epochs": 2})
    assert json.loads((trial_dir / "argv.json").read_text()) == [
        "lr=0.5", "model={'width': 4}", "epochs=2"]
    assert [r["loss"] for r in session.history] == [2.0, 1.0]
    assert "epoch 1 training..." in (trial_dir / "stdout.log").read_text()


@pytest.mark.parametrize("value", ["; rm -rf ~", "--evil", "$(touch pwned) `id` && | > x", "a\nb"])
def test_parameter_values_stay_one_literal_argument(trial_dir, value):
    trainable = make_trainable(program="argparse_train.py", wandb_shim=True, metric_name="loss",
                               workdir=str(SCRIPTS))
    trainable({"lr": 0.01, "epochs": 1, "note": value})
    assert json.loads((trial_dir / "argv.json").read_text()) == [
        "--lr=0.01", "--epochs=1", f"--note={value}"]
    assert not (SCRIPTS / "pwned").exists() and not (SCRIPTS / "x").exists()


def test_args_json_and_args_json_file(trial_dir):
    code = ("import json,sys; a=json.loads(sys.argv[1]); b=json.load(open(sys.argv[2]));"
            "assert a == b, (a, b);"
            "print(json.dumps({'sweeprunner': {'loss': 0, 'note': a['note']}}))")
    trainable = make_trainable(command=["${interpreter}", "-c", code, "${args_json}",
                                        "${args_json_file}"])
    trainable({"note": "--evil; rm -rf ~", "n": {"x": [1, 2]}})
    assert session.history == [{"loss": 0, "note": "--evil; rm -rf ~"}]


def test_gpus_pass_through_cuda_visible_devices(trial_dir, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    code = ("import json,os; print(json.dumps({'sweeprunner': "
            "{'loss': 0, 'cvd': os.environ['CUDA_VISIBLE_DEVICES']}}))")
    make_trainable(command=["${interpreter}", "-c", code])({})
    assert session.history[0]["cvd"] == "3,5"


def test_crash_raises_with_the_stderr_tail_and_keeps_the_logs(trial_dir):
    trainable = make_trainable(program="crash.py", metric_name="loss", workdir=str(SCRIPTS))
    with pytest.raises(CommandError, match="exited with status 3") as err:
        trainable({"lr": 1})
    assert "about to fail" in str(err.value)
    assert session.history == [{"loss": 1.0}]
    assert "about to fail" in (trial_dir / "stderr.log").read_text()


def test_missing_program_and_missing_wandb_get_clear_errors(trial_dir):
    with pytest.raises(CommandError, match="status 2"):
        make_trainable(program="no_such_script.py", workdir=str(SCRIPTS))({})
    with pytest.raises(CommandError, match="cannot run 'no-such-binary-xyz'"):
        make_trainable(command=["no-such-binary-xyz", "${args}"])({})
    if subprocess.run([PY, "-c", "import wandb"], capture_output=True).returncode != 0:
        with pytest.raises(CommandError, match="wandb_shim: true"):
            make_trainable(program="argparse_train.py", workdir=str(SCRIPTS))({"lr": 0.1})


def test_child_checkpoints_are_reported_and_seed_a_retry(trial_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path / "ckpt"))
    code = "import native_train as m, json, sys; m.train(json.loads(sys.argv[1]))"
    trainable = make_trainable(command=["${interpreter}", "-c", code, "${args_json}"],
                               metric_name="loss", workdir=str(SCRIPTS))
    env_path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(SCRIPTS), env_path])))
    trainable({"opt": {"lr": 1.0}, "epochs": 2})
    assert json.loads((tmp_path / "ckpt" / "latest" / "state.json").read_text()) == {"epoch": 1}
    trainable({"opt": {"lr": 1.0}, "epochs": 3})          # resumes after epoch 1
    assert [r["epoch"] for r in session.history] == [0, 1, 2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:   # a zombie counts as dead
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


class _Stop(BaseException):
    """Stands for the SystemExit Ray raises inside report() when it stops a trial."""


@pytest.mark.skipif(sys.platform != "linux", reason="process groups and /proc")
def test_stopping_a_trial_kills_its_whole_process_group(trial_dir, tmp_path):
    pids = tmp_path / "pids.json"
    trainable = make_trainable(command=["${interpreter}", str(SCRIPTS / "forever.py"), str(pids)],
                               stop_grace_s=2.0)

    def stop(*_):
        raise _Stop

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, 1.5)
    try:
        with pytest.raises(_Stop):
            trainable({})
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert len(session.history) > 3
    procs = json.loads(pids.read_text())
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in procs.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in procs.values()), procs


@pytest.mark.skipif(sys.platform != "linux", reason="process groups")
def test_terminate_group_escalates_to_sigkill():
    proc = subprocess.Popen([PY, "-c", "import signal,time; signal.signal(signal.SIGTERM, "
                             "signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"],
                            stdout=subprocess.PIPE, start_new_session=True, text=True)
    assert proc.stdout.readline().strip() == "ready"
    start = time.monotonic()
    terminate_group(proc, grace_s=0.5)
    assert proc.returncode == -signal.SIGKILL and time.monotonic() - start < 5


def test_run_command_directly_with_a_spec(trial_dir):
    spec = CommandSpec(command=("${interpreter}", "-c", "print('plain output only')"))
    run_command(spec, {"a": 1})
    assert session.history == []
    assert (trial_dir / "stdout.log").read_text() == "plain output only\n"


def test_script_rows_without_a_finite_metric_are_all_kept(trial_dir):
    rows = [{"val_loss": 1}, {"val_loss": 2}, {"loss": "bad"}, {"loss": None}, {"val_loss": 3}]
    code = "import json\n" + "".join(f"print(json.dumps({{'sweeprunner': {r!r}}}))\n" for r in rows)
    run_command(CommandSpec(command=("${interpreter}", "-c", code), metric="loss"), {})
    assert session.history == [{"val_loss": 1}, {"val_loss": 2, "loss": "bad"}, {"loss": None},
                               {"val_loss": 3}]


# ---------------------------------------------------------------------------- end to end (Ray)

def _launcher_missing() -> bool:
    try:
        import sweeprunner.run.launch  # noqa: F401
    except ImportError:
        return True
    return False


needs_launcher = pytest.mark.skipif(_launcher_missing(), reason="sweeprunner.run.launch not landed yet")


def _sweep(tmp_path, **extra):
    from tests.test_wandb_compat import run_cli_sweep

    config = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
              "sweeprunner": {"resources": {"cpu": 1, "gpu": 0}, "max_failures": 1}, **extra}
    return run_cli_sweep(config, tmp_path, cwd=SCRIPTS)


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
@needs_launcher
def test_subprocess_sweeps_argparse_and_hydra(tmp_path):
    rc, rows = _sweep(tmp_path / "a", program="argparse_train.py",
                      parameters={"lr": {"values": [0.01, 0.1]}, "epochs": {"value": 2},
                                  "note": {"values": ["; rm -rf ~", "--evil"]}},
                      sweeprunner={"wandb_shim": True, "resources": {"cpu": 1, "gpu": 0}})
    assert rc == 0 and len(rows) == 4 and {r["status"] for r in rows} == {"finished"}
    assert {r["config.note"] for r in rows} == {"; rm -rf ~", "--evil"}
    rc, rows = _sweep(tmp_path / "h", program="hydra_train.py",
                      command=["${env}", "${interpreter}", "${program}", "${args_no_hyphens}"],
                      parameters={"lr": {"values": [0.1, 0.2]},
                                  "model": {"parameters": {"width": {"values": [2, 4]}}}})
    assert rc == 0 and len(rows) == 4 and {r["status"] for r in rows} == {"finished"}


@pytest.mark.ray
@pytest.mark.usefixtures("ray_session")
@needs_launcher
def test_crashing_script_is_retried_then_errored(tmp_path):
    rc, rows = _sweep(tmp_path, program="crash.py", parameters={"lr": {"values": [1]}})
    assert rc == 1 and [r["status"] for r in rows] == ["errored"]
    storage = tmp_path / "storage"
    stderr_logs = list(storage.rglob("stderr.log"))
    assert stderr_logs and stderr_logs[0].read_text().count("about to fail") == 2   # 1 retry


def test_a_stopped_script_gets_its_grace_period_to_clean_up(tmp_path):
    """The group stop sends SIGTERM and waits: the supervisor must not die first and end the grace at once."""
    from sweeprunner.trial.supervisor import launch_argv, terminate_group

    script = tmp_path / "slow_cleanup.py"
    script.write_text("import pathlib, signal, sys, time\n"
                      "def bye(*_):\n    time.sleep(0.5)\n    pathlib.Path(sys.argv[1]).write_text('clean')\n    sys.exit(0)\n"
                      "signal.signal(signal.SIGTERM, bye)\nprint('ready', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen(launch_argv([sys.executable, str(script), str(tmp_path / "done")], 5.0),
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    terminate_group(proc, 5.0)
    assert (tmp_path / "done").read_text() == "clean"
