"""The sweep directory on disk: exclusive claims, the lock, damaged and unwritable storage (no Ray needed)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sweeprunner.config.parse import parse_sweep
from sweeprunner.results.records import (
    EVENTS_FILE,
    LAUNCH_FILE,
    LOCK_FILE,
    append_json_line,
    config_path,
    history_path,
    read_json_lines,
    write_json_atomic,
)
from sweeprunner.results.tables import write_results
from sweeprunner.run.storage import SweepLock, check_experiment_state, claim_sweep_directory

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
RAW = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
       "parameters": {"lr": {"values": [0.1, 0.01, 0.001]}}, "sweeprunner": {"trainable": "toy"}}


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sweeprunner", *args], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=120)


def make_sweep_dir(path: Path, trials: dict[str, tuple[float, list[float]]]) -> Path:
    """A sweep directory as the driver leaves it: launch record, configs, histories, events."""
    (path / "trials").mkdir(parents=True)
    write_json_atomic(path / LAUNCH_FILE, {"config": RAW, "source": None, "workdir": str(REPO),
                                           "experiment_path": None, "metric": "loss", "mode": "min"})
    for trial_id, (lr, losses) in trials.items():
        write_json_atomic(config_path(path, trial_id), {"lr": lr})
        for i, loss in enumerate(losses):
            append_json_line(history_path(path, trial_id), {"loss": loss, "training_iteration": i + 1})
        append_json_line(path / EVENTS_FILE, {"trial_id": trial_id, "event": "finished"})
        time.sleep(0.01)  # start order is mtime order
    return path


@contextlib.contextmanager
def mounted(*args: str, target: Path):
    """A real mount (tmpfs, read-only bind) on ``target``; skips when mounting is not allowed here."""
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here ({done.stderr.strip() or 'not root'})")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


# --- exclusive directories and the lock ----------------------------------------------------------------
def test_two_runs_started_at_once_get_two_directories(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = parse_sweep({**RAW, "name": "same"})
    now = dt.datetime(2026, 1, 2, 3, 4, 5, 678000)
    first, second = claim_sweep_directory(spec, now), claim_sweep_directory(spec, now)
    try:
        assert first.records_dir != second.records_dir
        assert Path(first.records_dir).name == "20260102-030405-678"
        assert Path(second.records_dir).name.startswith("20260102-030405-678-")
        assert Path(first.records_dir).is_dir() and Path(second.records_dir).is_dir()
    finally:
        first.lock.release()
        second.lock.release()


def test_a_claim_abandoned_before_anything_ran_leaves_no_directory(tmp_path):
    claim = claim_sweep_directory(parse_sweep({**RAW, "sweeprunner": {"trainable": "toy",
                                                                      "storage": str(tmp_path / "out")}}))
    assert (tmp_path / "out" / LOCK_FILE).is_file()
    claim.abandon()
    assert not (tmp_path / "out").exists()


def hold_lock(directory: Path) -> subprocess.Popen:
    """Another process holding the sweep lock (as a running `run` or `resume` does)."""
    code = ("import sys, time; from sweeprunner.run.storage import SweepLock; "
            f"SweepLock({str(directory)!r}).acquire(); print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code], env=ENV, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_resume_is_refused_naming_the_holder(tmp_path):
    sweep_dir = make_sweep_dir(tmp_path / "out", {"t1": (0.1, [1.0])})
    holder = hold_lock(sweep_dir)
    try:
        done = cli("resume", str(sweep_dir))
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"pid {holder.pid} on host {socket.gethostname()}" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_run_into_a_locked_storage_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    holder = hold_lock(tmp_path / "out")
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(RAW))
    try:
        done = cli("run", str(config), "--storage", str(tmp_path / "out"))
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 2 and f"pid {holder.pid}" in done.stderr, done.stderr


def test_a_stale_lock_of_a_dead_driver_is_recovered(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_FILE).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    lock = SweepLock(tmp_path).acquire()
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    lock.release()
    assert not (tmp_path / LOCK_FILE).exists()


# --- unwritable and damaged storage --------------------------------------------------------------------
def test_storage_under_a_file_is_exit_2_naming_the_path(tmp_path):
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(RAW))
    done = cli("run", str(config), "--storage", "/dev/null/x")
    assert done.returncode == 2, done.stderr
    assert "/dev/null/x" in done.stderr and "Traceback" not in done.stderr


def test_read_only_storage_is_exit_2_naming_the_path(tmp_path):
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(RAW))
    with mounted("--bind", "-o", "ro", str(tmp_path / "ro"), target=tmp_path / "ro") as ro:
        done = cli("run", str(config), "--storage", str(ro / "out"))
    assert done.returncode == 2, done.stderr
    assert str(tmp_path / "ro" / "out") in done.stderr and "Read-only file system" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["results", "resume"])
def test_a_truncated_launch_record_is_exit_2_naming_the_file(tmp_path, command):
    sweep_dir = make_sweep_dir(tmp_path / "out", {"t1": (0.1, [1.0])})
    text = (sweep_dir / LAUNCH_FILE).read_text()
    (sweep_dir / LAUNCH_FILE).write_text(text[: len(text) // 2])
    done = cli(command, str(sweep_dir))
    assert done.returncode == 2, done.stdout + done.stderr
    assert str(sweep_dir / LAUNCH_FILE) in done.stderr and "Traceback" not in done.stderr


def test_truncated_records_are_recovered_and_the_loss_reported(tmp_path):
    sweep_dir = make_sweep_dir(tmp_path / "out", {"best": (0.01, [0.5, 0.1]), "next": (0.1, [0.6, 0.3]),
                                                  "last": (0.001, [0.9])})
    config_path(sweep_dir, "best").write_text('{"lr": 0.0')  # cut off by a full disk
    with open(sweep_dir / EVENTS_FILE, "a") as f:
        f.write('{"trial_id": "la')  # a torn last event
    done = cli("results", str(sweep_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "trial best: its config record is unreadable" in done.stdout
    assert "1 unreadable line(s) skipped" in done.stdout
    best = yaml.safe_load((sweep_dir / "best.yaml").read_text())
    assert best["parameters"] == {"lr": {"value": 0.1}}  # the best trial whose config survived
    parse_sweep(best)


def test_best_yaml_is_never_written_invalid(tmp_path):
    sweep_dir = make_sweep_dir(tmp_path / "out", {"t1": (0.1, [1.0])})
    write_json_atomic(config_path(sweep_dir, "t1"), {})  # a trial with no parameters: not a valid sweep
    trials = write_results(sweep_dir)
    assert not (sweep_dir / "best.yaml").exists()
    assert any("best.yaml not written" in problem for problem in trials.attrs["lost"])


def test_an_append_after_a_torn_line_stays_readable(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n{"a": 2, "b"')
    append_json_line(path, {"a": 3})
    lost: list[str] = []
    assert read_json_lines(path, lost) == [{"a": 1}, {"a": 3}]
    assert lost and "1 unreadable line(s)" in lost[0]


def test_a_full_disk_leaves_no_truncated_record(tmp_path):
    with mounted("-t", "tmpfs", "-o", "size=64k", "tmpfs", target=tmp_path / "full") as full:
        with contextlib.suppress(OSError), open(full / "filler", "wb") as f:
            f.write(b"x" * 200_000)
        with pytest.raises(OSError) as raised:
            write_json_atomic(full / "t1.config.json", {"lr": 0.1, "pad": "y" * 10_000})
        assert raised.value.errno == 28  # ENOSPC
        assert sorted(p.name for p in full.iterdir()) == ["filler"]  # no zero-byte file, no temp file


def test_a_truncated_experiment_state_is_set_aside_for_the_previous_one(tmp_path):
    (tmp_path / "experiment_state-2026-01-01_00-00-00.json").write_text('{"trial_data": []}')
    (tmp_path / "experiment_state-2026-01-02_00-00-00.json").write_text('{"trial_da')
    assert check_experiment_state(str(tmp_path)) == (["experiment_state-2026-01-02_00-00-00.json"], True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment_state-2026-01-01_00-00-00.json",
                                                          "experiment_state-2026-01-02_00-00-00.json.damaged"]
    only = tmp_path / "only"
    only.mkdir()
    (only / "experiment_state-2026-01-02_00-00-00.json").write_text("")
    assert check_experiment_state(str(only)) == (["experiment_state-2026-01-02_00-00-00.json"], False)


def test_a_truncated_searcher_or_callback_state_is_not_handed_to_ray(tmp_path):
    """CI: the disk filled while Ray wrote the searcher's pickle; Ray's restore hit EOFError, logged it and
    started the experiment over with no trials. The cut-off file is set aside and reported instead."""
    import pickle

    (tmp_path / "experiment_state-2026-01-02_00-00-00.json").write_text('{"trial_data": []}')
    (tmp_path / "search_gen_state-2026-01-02_00-00-00.json").write_bytes(pickle.dumps({"counter": 3}))  # sic
    (tmp_path / "callback-states-2026-01-02_00-00-00.pkl").write_bytes(pickle.dumps({"a": 1}))
    (tmp_path / "searcher-state-2026-01-02_00-00-00.pkl").write_bytes(pickle.dumps({"points": [1, 2]}))
    assert check_experiment_state(str(tmp_path)) == ([], True)
    (tmp_path / "searcher-state-2026-01-02_00-00-00.pkl").write_bytes(b"")                # ENOSPC at once
    assert check_experiment_state(str(tmp_path)) == (["searcher-state-2026-01-02_00-00-00.pkl"], False)
    (tmp_path / "searcher-state-2026-01-02_00-00-00.pkl").write_bytes(pickle.dumps({"points": [1, 2]}))
    (tmp_path / "callback-states-2026-01-02_00-00-00.pkl").write_bytes(pickle.dumps({"a": 1})[:-3])  # cut off
    assert check_experiment_state(str(tmp_path)) == (["callback-states-2026-01-02_00-00-00.pkl"], False)
    assert (tmp_path / "callback-states-2026-01-02_00-00-00.pkl.damaged").exists()


def test_reading_results_imports_no_ray(tmp_path):
    sweep_dir = make_sweep_dir(tmp_path / "out", {"t1": (0.1, [1.0])})
    code = ("import sys; from sweeprunner.results import load_trials; from sweeprunner.results.tables import "
            f"print_results; trials, _ = load_trials({str(sweep_dir)!r}); assert len(trials) == 1; "
            f"print_results({str(sweep_dir)!r}); assert 'ray' not in sys.modules, 'ray imported'")
    done = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_restarted_trial_starts_a_clean_history_and_keeps_the_old_attempt(tmp_path):
    from types import SimpleNamespace

    from sweeprunner.run.callbacks import TrialRecorder

    sweep_dir = make_sweep_dir(tmp_path / "out", {"t1": (0.1, [0.9, 0.8, 0.7])})  # an earlier driver's records
    recorder = TrialRecorder(str(sweep_dir))
    trial = SimpleNamespace(trial_id="t1", config={"lr": 0.1})
    recorder.on_trial_result(0, [], trial, {"loss": 0.95, "training_iteration": 1})  # restarted from scratch
    recorder.on_trial_result(0, [], trial, {"loss": 0.85, "training_iteration": 2})
    assert [row["loss"] for row in read_json_lines(history_path(sweep_dir, "t1"))] == [0.95, 0.85]
    old = read_json_lines(sweep_dir / "trials" / "superseded" / "t1.attempt-1.jsonl")
    assert [row["loss"] for row in old] == [0.9, 0.8, 0.7]


def test_the_final_line_never_counts_negative_trials_left(tmp_path, capsys):
    from sweeprunner.run.launch import _finish

    sweep_dir = make_sweep_dir(tmp_path / "out", {f"t{i}": (0.1 * i, [1.0]) for i in range(1, 6)})
    for trial_id in ("t6", "t7"):  # two more that never finished: more trials recorded than planned
        write_json_atomic(config_path(sweep_dir, trial_id), {"lr": 0.5})
    assert _finish(str(sweep_dir), 4, None) == 130
    line = next(line for line in capsys.readouterr().out.splitlines() if "trial(s) left" in line)
    assert line.startswith("interrupted with 2 trial(s) left")
