"""The text_classification trainable with a tiny BERT built locally and loaded via from_pretrained."""

from __future__ import annotations

import math

import pytest

from sweeprunner.trainables import BUILTIN, text_assets
from sweeprunner.trainables.text import train
from sweeprunner.trial import session
from sweeprunner.trial.adapters import load_target

METRICS = {"eval/f1", "eval/accuracy", "eval/loss", "train/loss", "learning_rate", "epoch", "step"}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweeprunner-cache")
    text_assets.tiny_bert(path)  # builds tiny-sentiment too
    return str(path)


pytestmark = pytest.mark.usefixtures("standalone_trainable")


def tiny(cache_dir: str, **overrides):
    return {
        "model_name": text_assets.TINY_BERT,
        "dataset": text_assets.TINY_SENTIMENT,
        "cache_dir": cache_dir,
        "num_train_epochs": 1,
        "learning_rate": 3e-3,
        "per_device_train_batch_size": 32,
        "max_train_samples": 256,
        "max_eval_samples": 64,
        **overrides,
    }


def test_builtin_name_resolves_to_this_trainable():
    assert load_target(BUILTIN["text_classification"]) is train


def test_one_epoch_reports_every_metric_and_steps_when_asked(cache_dir):
    train(
        tiny(
            cache_dir,
            eval_steps=2,
            warmup_ratio=0.1,
            adam_beta1=0.85,
            adam_beta2=0.99,
            weight_decay=0.01,
            gradient_accumulation_steps=2,
        )
    )
    rows = session.history
    assert [row["step"] for row in rows] == [2, 4]  # 8 batches / accumulation 2 = 4 steps
    assert all(set(row) == METRICS for row in rows)
    assert rows[-1]["epoch"] == 0 and all(math.isfinite(v) for v in rows[-1].values())


def test_resume_continues_the_epoch_count(cache_dir, tmp_path):
    train(tiny(cache_dir))
    assert (tmp_path / "ckpt" / "latest" / "state.pt").is_file()
    first = session.history[-1]["step"]
    session.history.clear()
    train(tiny(cache_dir, num_train_epochs=2))
    assert [row["epoch"] for row in session.history] == [1]
    assert session.history[0]["step"] == 2 * first


def test_local_directory_model_and_csv_files_with_three_string_labels(cache_dir, tmp_path):
    import csv

    rows = text_assets.sentiment_rows(90, seed=3)
    names = {0: "neg", 1: "pos"}
    with (
        open(tmp_path / "train.csv", "w", newline="") as fh,
        open(tmp_path / "dev.csv", "w", newline="") as dev,
    ):
        for handle in (fh, dev):
            csv.writer(handle).writerow(["review", "sentiment"])
        for i, row in enumerate(rows):
            label = "meh" if i % 3 == 0 else names[row["label"]]
            csv.writer(dev if i % 5 == 0 else fh).writerow([row["text"], label])
    model_dir = text_assets.build_tiny_bert(tmp_path / "my-bert", [row["text"] for row in rows])
    train(
        {
            "model_name": str(model_dir),
            "train_file": str(tmp_path / "train.csv"),
            "eval_file": str(tmp_path / "dev.csv"),
            "text_column": "review",
            "label_column": "sentiment",
            "num_train_epochs": 1,
            "per_device_train_batch_size": 16,
            "max_seq_length": 16,
        }
    )
    (row,) = session.history
    assert set(row) == METRICS and 0.0 <= row["eval/f1"] <= 1.0  # macro F1 over 3 classes


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"optimizer": "adamax"}, ["'optimizer'", "adamax"]),
        ({"lr_scheduler_type": "cosin"}, ["'lr_scheduler_type'", "did you mean 'cosine'"]),
        ({"fp16": True, "bf16": True}, ["'fp16'", "'bf16'"]),
        ({"model_name": "builtin:huge-bert"}, ["'model_name'", "builtin:tiny-bert"]),
        ({"dataset": "builtin:imdb"}, ["'dataset'"]),
        ({"text_column": "body"}, ["'text_column'", "'body'"]),
        ({"per_device_train_batch_size": 0}, ["'per_device_train_batch_size'"]),
    ],
)
def test_bad_values_name_the_key(cache_dir, overrides, words):
    with pytest.raises(ValueError) as info:
        train(tiny(cache_dir, **overrides))
    for word in words:
        assert word in str(info.value)
    assert session.history == []
