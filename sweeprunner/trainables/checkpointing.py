"""One file per checkpoint (``state.pt``): write it, report it, read it back."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

STATE_FILE = "state.pt"

Reporter = Callable[..., None]


def report_with_state(
    reporter: Reporter, metrics: Mapping[str, Any], state: Mapping[str, Any]
) -> None:
    """Save ``state`` into a fresh directory and report it with ``metrics`` (the dir is copied)."""
    with tempfile.TemporaryDirectory(prefix="sweeprunner-ckpt-") as directory:
        torch.save(dict(state), Path(directory) / STATE_FILE)
        reporter(dict(metrics), checkpoint_dir=directory)


def load_state(directory: str | Path | None) -> dict[str, Any] | None:
    """The saved state of a checkpoint directory, or None for a fresh start."""
    if directory is None:
        return None
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {directory} has no {STATE_FILE}")
    return torch.load(path, map_location="cpu", weights_only=True)
