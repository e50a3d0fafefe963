"""Image datasets by name: an ImageFolder directory, cifar10/cifar100, digits, fake."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset, TensorDataset

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NAMED = ("digits", "fake", "cifar10", "cifar100")
DEFAULT_SIZE = {"digits": 32, "cifar10": 32, "cifar100": 32, "fake": 224, "folder": 224}


@dataclass
class ImageData:
    train: Dataset
    val: Dataset
    num_classes: int
    in_memory: bool  # tensors already prepared: no DataLoader workers needed


def kind_of(data: str) -> str:
    """``folder`` for a directory path, else the dataset name (validated)."""
    name = data.lower()
    if name in NAMED:
        return name
    if os.sep in data or data.startswith((".", "~")) or Path(data).expanduser().is_dir():
        return "folder"
    raise ValueError(
        f"config key 'data': {data!r} is neither one of {list(NAMED)} nor an existing "
        "directory with train/ and val/ class folders (ImageFolder layout)"
    )


def imagenet_transforms(size: int, train: bool):
    """The standard ImageNet pipeline: RandomResizedCrop+flip for training, resize+center crop."""
    from torchvision import transforms as T

    normalize = T.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    if train:
        return T.Compose(
            [T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(), normalize]
        )
    return T.Compose(
        [T.Resize(int(round(size * 256 / 224))), T.CenterCrop(size), T.ToTensor(), normalize]
    )


def _cifar_transforms(size: int, train: bool):
    from torchvision import transforms as T

    steps = [T.Resize(size)] if size != 32 else []
    if train:
        steps += [T.RandomCrop(size, padding=size // 8), T.RandomHorizontalFlip()]
    return T.Compose([*steps, T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])


def _digits(size: int) -> ImageData:
    """scikit-learn's bundled 8x8 digits (1797 images), fixed stratified 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).div_(16.0).unsqueeze(1)
    if size != 8:
        images = torch.nn.functional.interpolate(
            images, size=(size, size), mode="bilinear", align_corners=False
        )
    images = images.expand(-1, 3, -1, -1)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    images = ((images - mean) / std).contiguous()
    labels = torch.tensor(digits.target, dtype=torch.long)
    train_idx, val_idx = train_test_split(
        list(range(len(labels))), test_size=0.2, random_state=0, stratify=digits.target
    )
    return ImageData(
        TensorDataset(images[train_idx], labels[train_idx]),
        TensorDataset(images[val_idx], labels[val_idx]),
        10,
        in_memory=True,
    )


def load_image_data(
    data: str, *, size: int, download_dir: str, num_classes: int | None, fake_samples: int
) -> ImageData:
    """Build train/val datasets for ``data`` at ``size`` x ``size`` pixels."""
    kind = kind_of(data)
    if kind == "digits":
        return _digits(size)
    from torchvision import datasets
    from torchvision import transforms as T

    if kind == "fake":
        classes = num_classes or 10
        tf = T.Compose([T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
        shape = (3, size, size)
        train = datasets.FakeData(fake_samples, shape, classes, transform=tf, random_offset=0)
        val = datasets.FakeData(
            max(classes, fake_samples // 10),
            shape,
            classes,
            transform=tf,
            random_offset=fake_samples,
        )
        return ImageData(train, val, classes, in_memory=False)
    if kind in ("cifar10", "cifar100"):
        cls = datasets.CIFAR10 if kind == "cifar10" else datasets.CIFAR100
        root = str(Path(download_dir).expanduser())
        try:
            train = cls(root, train=True, download=True, transform=_cifar_transforms(size, True))
            val = cls(root, train=False, download=True, transform=_cifar_transforms(size, False))
        except Exception as exc:  # URLError, RuntimeError from torchvision's downloader
            raise RuntimeError(
                f"data={kind}: could not download or read it under download_dir={root!r} ({exc}); "
                "on an offline machine copy the extracted dataset there first"
            ) from exc
        return ImageData(train, val, len(train.classes), in_memory=False)
    root = Path(data).expanduser()
    missing = [split for split in ("train", "val") if not (root / split).is_dir()]
    if missing:
        raise ValueError(
            f"config key 'data': {str(root)!r} needs ImageFolder subdirectories train/ and val/ "
            f"(missing: {', '.join(missing)})"
        )
    train = datasets.ImageFolder(str(root / "train"), transform=imagenet_transforms(size, True))
    val = datasets.ImageFolder(str(root / "val"), transform=imagenet_transforms(size, False))
    if train.classes != val.classes:
        raise ValueError(
            f"config key 'data': train/ and val/ of {str(root)!r} have different class folders"
        )
    return ImageData(train, val, len(train.classes), in_memory=False)
