"""Shared fixtures: one Ray session for the whole test run (2 CPUs, 2 logical GPUs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from sweeprunner.trial.protocol import CHECKPOINT_DIR_ENV, NUM_CPUS_ENV

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")


@pytest.fixture(scope="session")
def ray_session():
    """A local Ray with 2 CPUs and 2 logical GPUs, shared by every test that needs Ray."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
    yield ray
    # Stop only the Ray this test run started (never `ray stop`).
    ray.shutdown()


@pytest.fixture
def sweep_yaml(tmp_path):
    """Write a sweep config (a YAML string) to a file and return its path."""

    def write(text: str, name: str = "sweep.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def standalone_trainable(tmp_path, monkeypatch):
    """A trainable called directly (no Ray): checkpoints in tmp, 1 CPU, a clean report history."""
    import torch

    from sweeprunner.trial import session

    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path / "ckpt"))
    monkeypatch.setenv(NUM_CPUS_ENV, "1")
    threads = torch.get_num_threads()
    session.history.clear()
    yield
    session.history.clear()
    torch.set_num_threads(threads)


@pytest.fixture
def wandb_trial_dir(tmp_path, monkeypatch):
    """A standalone W&B-style trial: its own directory and cwd, an empty history, no W&B run settings
    from the environment, and no ``wandb`` module left behind."""
    from sweeprunner.trial import session
    from sweeprunner.trial.protocol import CHECKPOINT_DIR_ENV, JSONL_ENV, TRIAL_DIR_ENV

    monkeypatch.setenv(TRIAL_DIR_ENV, str(tmp_path / "trial"))
    for name in (CHECKPOINT_DIR_ENV, JSONL_ENV, "WANDB_SWEEP_ID", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_NOTES",
                 "WANDB_TAGS", "WANDB_RUN_GROUP", "WANDB_JOB_TYPE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    session.history.clear()
    saved = sys.modules.get("wandb")
    yield tmp_path / "trial"
    session.history.clear()
    if saved is None:
        sys.modules.pop("wandb", None)
    else:
        sys.modules["wandb"] = saved
