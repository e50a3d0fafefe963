"""The toy trainable and the trainable resolver."""

from __future__ import annotations

import pytest

from sweeprunner.config.parse import parse_sweep
from sweeprunner.trainables import BUILTIN, toy
from sweeprunner.trial import session
from sweeprunner.trial.adapters import load_target
from sweeprunner.trial.preflight import runnable_problems
from sweeprunner.trial.protocol import CHECKPOINT_DIR_ENV


@pytest.fixture(autouse=True)
def standalone(tmp_path, monkeypatch):
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path / "ckpt"))
    session.history.clear()
    yield
    session.history.clear()


def builtin(name):
    """The production path from a recipe's ``trainable:`` to a function (run/launch.py)."""
    return load_target(BUILTIN.get(name, name))


def test_builtin_names_and_module_function_load():
    assert set(BUILTIN) >= {"image_classification", "text_classification", "toy"}
    assert builtin("toy") is toy.train
    assert builtin("sweeprunner.trainables.toy:train") is toy.train


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("image_clasification", ["did you mean 'image_classification'"]),
        ("no.such.module:train", ["no module named 'no'"]),
        ("sweeprunner.trainables.toy:trian", ["defines no function 'trian'", "did you mean 'train'"]),
        ("sweeprunner.trainables.toy:", ["module:function"]),
    ],
)
def test_unusable_trainables_are_clear_config_errors(name, words, tmp_path):
    spec = parse_sweep({"method": "random", "parameters": {"x": {"values": [1]}}, "sweeprunner": {"trainable": name}})
    (issue,) = runnable_problems(spec, tmp_path)
    assert issue.path == ("sweeprunner", "trainable")
    for word in words:
        assert word in issue.message


def test_curve_is_deterministic_and_best_near_lr_1e_3(tmp_path, monkeypatch):
    toy.train({"lr": 1e-3, "epochs": 3})
    good = [row["loss"] for row in session.history]
    session.history.clear()
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path / "other"))
    toy.train({"lr": 1e-1, "epochs": 3})
    bad = [row["loss"] for row in session.history]
    assert good == sorted(good, reverse=True) and all(g < b for g, b in zip(good, bad, strict=True))
    assert set(session.history[0]) == {"loss", "train/loss", "val/loss", "val/accuracy", "val/top1_accuracy",
                                       "val/f1_score", "eval/loss", "eval/accuracy", "eval/f1", "epoch"}


def test_resumes_from_its_checkpoint():
    toy.train({"epochs": 2})
    session.history.clear()
    toy.train({"epochs": 4})
    assert [row["epoch"] for row in session.history] == [2, 3]


def test_fail_once_marker_fails_then_resumes(tmp_path, monkeypatch):
    config = {"epochs": 4, "fail_at_epoch": 2, "fail_once_marker": str(tmp_path / "failed")}
    with pytest.raises(RuntimeError, match="failing once"):
        toy.train(config)
    toy.train(config)
    assert [row["epoch"] for row in session.history] == [0, 1, 2, 3]
    monkeypatch.setenv(CHECKPOINT_DIR_ENV, str(tmp_path / "fresh"))
    with pytest.raises(RuntimeError, match="fail_at_epoch"):
        toy.train({"epochs": 2, "fail_at_epoch": 0})
