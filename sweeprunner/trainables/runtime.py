"""Where a trial runs: device, GPU count, threads, mixed precision and seeding."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from sweeprunner.trial import session


def trial_gpus() -> float:
    """GPUs given to this trial: Ray's request inside Tune, else the visible CUDA devices."""
    resources = session.trial_resources()
    if resources is not None:
        return float(resources.get("GPU", 0.0))
    return float(torch.cuda.device_count()) if torch.cuda.is_available() else 0.0


def pick_device(name: str) -> torch.device:
    """``auto`` is CUDA when this trial has a GPU, otherwise CPU."""
    if name == "cuda" or (name == "auto" and trial_gpus() > 0 and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("config key 'device': 'cuda' requested but no CUDA device is visible")
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def default_world_size(device_name: str) -> int:
    """Data-parallel processes: one per whole GPU of the trial (1 on CPU)."""
    if device_name == "cpu":
        return 1
    gpus = int(trial_gpus())
    return max(1, min(gpus, torch.cuda.device_count()))


def amp_dtype(mode: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype for ``amp`` = auto|bf16|fp16|none; autocast runs on GPU only."""
    if device.type != "cuda" or mode == "none":
        return None
    if mode == "fp16":
        return torch.float16
    if mode == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def set_threads(cpus: int) -> None:
    """Use the trial's CPUs for torch's intra-op threads."""
    torch.set_num_threads(max(1, cpus))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))


def ensure_isatty() -> None:
    """Give stdout/stderr an ``isatty`` when they lack one.

    Ray Tune's ``log_to_file`` replaces them with a ``Tee`` that has none, and transformers
    calls ``sys.stdout.isatty()`` while loading a model.
    """
    import sys

    for stream in (sys.stdout, sys.stderr):
        if stream is not None and not hasattr(stream, "isatty"):
            try:
                stream.isatty = lambda: False
            except AttributeError:
                pass
