"""W&B's hyperband early-termination rule as pure functions (bands, thresholds, stop decisions).

An "iteration" is the number of values of the metric a trial has logged. Values are in
*minimize* sense here: callers negate them for ``goal: maximize``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence


def wandb_bands(*, min_iter: int | None = None, max_iter: int | None = None, s: int | None = None,
                eta: int | float = 3.0, count: int = 100) -> list[int]:
    """The report counts at which trials are judged.

    ``max_iter`` + ``s``: ``int(max_iter / eta**k)`` for k = 1..s while >= 1 (27, s=2, eta=3 -> [3, 9]).
    ``min_iter``: ``int(min_iter * eta**k)`` for k = 0..count-1 (3, eta=3 -> [3, 9, 27, ...]).
    """
    bands: list[int] = []
    if max_iter is not None and s is not None:
        band = float(max_iter)
        for _ in range(s):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
    elif min_iter is not None:
        band = min_iter  # exact int products for an int eta, as W&B
        for _ in range(count):
            if isinstance(band, float) and math.isinf(band):
                break  # a huge eta overflows: no trial reports that often anyway
            bands.append(int(band))
            band *= eta
    return sorted(bands)


def band_thresholds(histories: Mapping[str, Sequence[float]], bands: Sequence[int], eta: float) -> list[float]:
    """Per band: the ``int(n / eta)``-th smallest value among the n trials that reached it."""
    r = 1.0 / eta
    thresholds = []
    for band in bands:
        values = sorted(h[band - 1] for h in histories.values() if len(h) >= band)
        thresholds.append(values[int(r * len(values))] if values else math.inf)
    return thresholds


def runs_to_stop(histories: Mapping[str, Sequence[float]], running: Collection[str], bands: Sequence[int],
                 eta: float, strict: bool) -> set[str]:
    """The running trials W&B's hyperband would stop now.

    A trial is judged at the largest band it has reached; ``strict`` compares its value at that
    band, otherwise its best value so far. Thresholds use every trial's history, any state.
    """
    thresholds = band_thresholds(histories, bands, eta)
    stop = set()
    for name in running:
        history = histories.get(name, ())
        reached = [i for i, band in enumerate(bands) if band <= len(history)]
        if not reached:
            continue
        index = reached[-1]
        value = history[bands[index] - 1] if strict else min(history)
        if value > thresholds[index]:
            stop.add(name)
    return stop
