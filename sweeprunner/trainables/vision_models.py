"""Image classifiers by name: any torchvision classification model, plus ``simple_cnn``."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from sweeprunner.errors import did_you_mean

EXTRA = ("simple_cnn",)


def architectures() -> list[str]:
    """Every accepted ``architecture``: torchvision's classification models and ``simple_cnn``."""
    import torchvision

    return [*torchvision.models.list_models(module=torchvision.models), *EXTRA]


def check_architecture(name: str) -> None:
    names = architectures()
    if name not in names:
        raise ValueError(
            f"config key 'architecture': unknown model {name!r}{did_you_mean(name, names)}; "
            "use a torchvision classification model (torchvision.models.list_models()) or 'simple_cnn'"
        )


class SimpleCNN(nn.Module):
    """A small conv net for smoke runs on tiny images (e.g. digits)."""

    def __init__(self, num_classes: int, dropout: float = 0.0, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _replace_head(model: nn.Module, num_classes: int, dropout: float) -> None:
    """Swap the last Linear layer for one with ``num_classes`` outputs, with Dropout before it."""
    linears = [(name, mod) for name, mod in model.named_modules() if isinstance(mod, nn.Linear)]
    if not linears:
        raise ValueError(
            f"config key 'architecture': {type(model).__name__} has no Linear classifier head"
        )
    name, old = linears[-1]
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    new = nn.Linear(old.in_features, num_classes)
    if (
        isinstance(parent, nn.Sequential)
        and attr.isdigit()
        and int(attr) > 0
        and isinstance(parent[int(attr) - 1], nn.Dropout)
    ):
        parent[int(attr) - 1].p = dropout  # e.g. efficientnet: classifier = [Dropout, Linear]
        parent[int(attr)] = new
    else:
        setattr(parent, attr, nn.Sequential(nn.Dropout(dropout), new))


def _pretrained_weights(name: str):
    import torchvision

    try:
        return torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, KeyError) as exc:
        raise ValueError(
            f"config key 'pretrained': torchvision has no weights for {name!r}"
        ) from exc


def build_model(
    name: str, *, num_classes: int, dropout: float, pretrained: bool, weights_path: str | None
) -> nn.Module:
    """Create ``name`` (ImageNet weights when ``pretrained``) with a fresh ``num_classes`` head."""
    check_architecture(name)
    if name == "simple_cnn":
        return SimpleCNN(num_classes, dropout)
    import torchvision

    kwargs = {"aux_logits": False} if name in ("inception_v3", "googlenet") else {}
    if weights_path:
        model = torchvision.models.get_model(name, weights=None, **kwargs)
        state = torch.load(Path(weights_path).expanduser(), map_location="cpu", weights_only=True)
        state = state.get("model", state) if isinstance(state, dict) else state
        missing = model.load_state_dict(state, strict=False).missing_keys
        if missing:
            raise ValueError(
                f"config key 'weights_path': {weights_path!r} does not fit architecture {name!r} "
                f"(missing {len(missing)} tensors, e.g. {missing[:3]})"
            )
    elif pretrained:
        weights = _pretrained_weights(name)
        try:
            model = torchvision.models.get_model(name, weights=weights, **kwargs)
        except Exception as exc:  # URLError / OSError when offline
            filename = Path(weights.url).name
            raise RuntimeError(
                f"pretrained weights for architecture {name!r} could not be loaded ({exc}). "
                f"Without internet, download {weights.url} elsewhere and either put it at "
                f"$TORCH_HOME/hub/checkpoints/{filename} (default ~/.cache/torch) or set the "
                f"config key 'weights_path' to the local file."
            ) from exc
    else:
        model = torchvision.models.get_model(name, weights=None, **kwargs)
    _replace_head(model, num_classes, dropout)
    return model
