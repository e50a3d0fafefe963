"""Built-in trainables and the resolver from a recipe's ``trainable:`` name to a function.

Trainable modules import torch/transformers, so they are imported only when resolved.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from sweeprunner.errors import did_you_mean

#: Built-in trainable names -> ``"module:function"``.
BUILTIN: dict[str, str] = {
    "image_classification": "sweeprunner.trainables.vision:train",
    "text_classification": "sweeprunner.trainables.text:train",
    "toy": "sweeprunner.trainables.toy:train",
}

Trainable = Callable[[dict[str, Any]], None]


def resolve_trainable(name: str) -> Trainable:
    """Return the function for a built-in name or a ``"module:function"`` reference."""
    target = BUILTIN.get(name, name)
    if ":" not in target:
        raise ValueError(
            f"unknown trainable {name!r}{did_you_mean(name, BUILTIN)}: "
            f"use one of {sorted(BUILTIN)} or 'package.module:function'"
        )
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"trainable {name!r} must look like 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(
            f"trainable {name!r}: cannot import module {module_name!r}: {exc}"
        ) from exc
    fn = getattr(module, attr, None)
    if fn is None:
        raise ValueError(
            f"trainable {name!r}: module {module_name!r} has no attribute {attr!r}"
            f"{did_you_mean(attr, [a for a in dir(module) if not a.startswith('_')])}"
        )
    if not callable(fn):
        raise ValueError(f"trainable {name!r}: {module_name}.{attr} is not callable")
    return fn
