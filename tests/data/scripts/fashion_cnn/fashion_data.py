"""The example's `fashion` dataset class, swapped for torchvision FakeData (no download).

Same constructor and items as W&B's fashion_data.py: 28x28 greyscale PIL images, 10 classes.
400 training images, 20 test images.
"""

from torchvision.datasets import FakeData


class fashion(FakeData):  # noqa: N801 -- the example's name
    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(size=400 if train else 20, image_size=(1, 28, 28), num_classes=10,
                         transform=transform, target_transform=target_transform,
                         random_offset=0 if train else 10_000)
