"""The image_classification trainable on tiny real data (digits, FakeData, an ImageFolder)."""

from __future__ import annotations

import math

import pytest
import torch

from sweeprunner.trainables import BUILTIN
from sweeprunner.trainables.vision import train
from sweeprunner.trainables.vision_models import build_model
from sweeprunner.trial import session
from sweeprunner.trial.adapters import load_target

METRICS = {
    "train/loss",
    "train/accuracy",
    "val/loss",
    "val/accuracy",
    "val/top1_accuracy",
    "val/top5_accuracy",
    "learning_rate",
    "epoch",
    "train/samples_per_second",
}
TINY = {"architecture": "simple_cnn", "image_size": 8, "batch_size": 128, "epochs": 1}


pytestmark = pytest.mark.usefixtures("standalone_trainable")


def test_builtin_name_resolves_to_this_trainable():
    assert load_target(BUILTIN["image_classification"]) is train


def test_one_epoch_on_digits_reports_every_metric():
    train(dict(TINY))
    (row,) = session.history
    assert set(row) == METRICS
    assert row["epoch"] == 0
    assert 0.0 <= row["val/top1_accuracy"] <= row["val/top5_accuracy"] <= 1.0
    assert row["val/accuracy"] == row["val/top1_accuracy"]
    assert all(math.isfinite(v) for v in row.values())


def test_resume_continues_the_epoch_count(tmp_path):
    train({**TINY, "epochs": 1})
    assert (tmp_path / "ckpt" / "latest" / "state.pt").is_file()
    session.history.clear()
    train({**TINY, "epochs": 3})
    assert [row["epoch"] for row in session.history] == [1, 2]
    assert session.history[-1]["learning_rate"] == pytest.approx(0.0, abs=1e-12)  # cosine ends at 0


def test_torchvision_model_with_mixup_cutmix_smoothing_and_sgd():
    train(
        {
            "architecture": "resnet18",
            "image_size": 32,
            "batch_size": 16,
            "epochs": 1,
            "max_steps_per_epoch": 2,
            "optimizer": "sgd",
            "nesterov": True,
            "momentum": 0.9,
            "mixup_alpha": 0.4,
            "cutmix_alpha": 1.0,
            "label_smoothing": 0.1,
            "dropout": 0.2,
            "warmup_epochs": 0.5,
            "data": "digits",
        }
    )
    (row,) = session.history
    assert set(row) == METRICS and math.isfinite(row["train/loss"])


def test_fake_data_with_few_classes_has_no_top5():
    train(
        {
            **TINY,
            "data": "fake",
            "fake_samples": 40,
            "num_classes": 3,
            "image_size": 16,
            "optimizer": "rmsprop",
        }
    )
    (row,) = session.history
    assert set(row) == METRICS - {"val/top5_accuracy"}


def test_imagefolder_layout(tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        for label, color in (("cat", (255, 0, 0)), ("dog", (0, 0, 255))):
            folder = tmp_path / "images" / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (20, 20), color).save(folder / f"{i}.png")
    train(
        {
            **TINY,
            "data": str(tmp_path / "images"),
            "image_size": 16,
            "batch_size": 4,
            "optimizer": "adam",
        }
    )
    (row,) = session.history
    assert row["val/accuracy"] >= 0.0 and "val/top5_accuracy" not in row


def test_head_is_replaced_with_dropout_before_the_classifier():
    resnet = build_model(
        "resnet18", num_classes=7, dropout=0.3, pretrained=False, weights_path=None
    )
    assert isinstance(resnet.fc[0], torch.nn.Dropout) and resnet.fc[0].p == 0.3
    assert resnet.fc[1].out_features == 7
    effnet = build_model(
        "efficientnet_b0", num_classes=4, dropout=0.25, pretrained=False, weights_path=None
    )
    assert effnet.classifier[0].p == 0.25 and effnet.classifier[1].out_features == 4


def test_weights_path_loads_a_local_state_dict(tmp_path):
    import torchvision

    source = torchvision.models.resnet18(num_classes=1000)
    torch.save(source.state_dict(), tmp_path / "resnet18.pth")
    model = build_model(
        "resnet18",
        num_classes=3,
        dropout=0.0,
        pretrained=True,
        weights_path=str(tmp_path / "resnet18.pth"),
    )
    assert torch.equal(model.conv1.weight, source.conv1.weight)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"optimizer": "adamax"}, ["'optimizer'", "adamax"]),
        ({"architecture": "resnet19"}, ["'architecture'", "did you mean 'resnet18'"]),
        ({"data": "imagenette"}, ["'data'", "imagenette"]),
        ({"amp": "fp8"}, ["'amp'"]),
        ({"batch_size": 0}, ["'batch_size'"]),
        ({"dropout": "high"}, ["'dropout'"]),
    ],
)
def test_bad_values_name_the_key(overrides, words):
    with pytest.raises(ValueError) as info:
        train({**TINY, **overrides})
    for word in words:
        assert word in str(info.value)
    assert session.history == []
