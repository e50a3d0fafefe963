"""The DDP path of image_classification: 2 processes on CPU with the gloo backend."""

from __future__ import annotations

import pytest

from sweeprunner.trainables.vision import train
from sweeprunner.trial import session
from sweeprunner.trial.protocol import CHECKPOINT_DIR_ENV, NUM_CPUS_ENV

TINY_DDP = {
    "architecture": "simple_cnn",
    "image_size": 8,
    "batch_size": 64,
    "device": "cpu",
    "ddp_workers": 2,
    "max_steps_per_epoch": 3,
}


@pytest.fixture(autouse=True)
def standalone(tmp_path, monkeypatch):
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path / "ckpt"))
    monkeypatch.setenv(NUM_CPUS_ENV, "2")
    session.history.clear()
    yield
    session.history.clear()


def test_two_gloo_workers_train_report_and_checkpoint(tmp_path):
    train({**TINY_DDP, "epochs": 2})
    assert [row["epoch"] for row in session.history] == [0, 1]
    # 3 steps x 64 images x 2 ranks per epoch, summed over ranks
    assert session.history[0]["train/samples_per_second"] > 0
    assert (tmp_path / "ckpt" / "latest" / "state.pt").is_file()


@pytest.mark.slow
def test_a_failing_rank_fails_the_trial_with_its_traceback():
    with pytest.raises(RuntimeError, match=r"DDP rank \d failed:(.|\n)*num_classes"):
        train({**TINY_DDP, "epochs": 1, "num_classes": 3})  # digits has 10: raised inside the ranks
    assert session.history == []
