"""A multi-fidelity learning-curve surrogate on Hartmann6 (used instead of mf-prior-bench's mfh6).

mf-prior-bench 1.10.0 pins ``numpy<2`` and needs ConfigSpace and more_itertools, none of which fit
sweeprunner's venv (numpy 2); installing it would downgrade numpy for everyone. This surrogate
follows mfh6's idea -- the low-fidelity value is the Hartmann6 value plus a bias and a noise that
both shrink to zero at the highest fidelity on a log scale -- with a bias that depends on the config,
so that curves cross and early ranks are only partly right:

    s(t)   = ln t / ln E                      (0 at epoch 1, 1 at the last epoch E)
    y_t(x) = H6(x) + (1 - s(t)) * (b(x) + |eps_t(x)|),   b(x) = 0.25 + x5,   eps ~ N(0, 0.3^2)

``eps`` is deterministic per (config, epoch). At ``t = E`` the value is exactly ``H6(x)``
(f* = -3.32237). Each report is one epoch; the trainable sleeps ``sleep`` seconds per epoch (0 by
default).
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

import numpy as np

from sweeprunner.trial import session

#: the metric this trainable reports (minimize)
METRIC = "loss"
NOISE_SD = 0.3

_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
                  [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_H6_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                         [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def hartmann6(x: np.ndarray) -> float:
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def curve(config: dict[str, Any]) -> list[float]:
    """The whole learning curve of ``config`` (``epochs`` values)."""
    x = np.array([float(config[f"x{i}"]) for i in range(1, 7)])
    epochs = int(config.get("epochs", 27))
    digest = hashlib.sha256(np.round(x, 12).tobytes()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    eps = np.abs(rng.normal(0.0, NOISE_SD, size=epochs))
    final, bias = hartmann6(x), 0.25 + x[4]
    out = []
    for t in range(1, epochs + 1):
        s = math.log(t) / math.log(epochs) if epochs > 1 else 1.0
        out.append(final + (1.0 - s) * (bias + eps[t - 1]))
    return out


def train(config: dict[str, Any]) -> None:
    sleep = float(config.get("sleep", 0.0))
    for epoch, value in enumerate(curve(config)):
        if sleep:
            time.sleep(sleep)
        session.report({METRIC: value, "epoch": epoch})


PARAMETERS = {**{f"x{i}": {"min": 0.0, "max": 1.0} for i in range(1, 7)}, "epochs": {"value": 27}}
