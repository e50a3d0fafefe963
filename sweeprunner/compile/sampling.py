"""One pure function per search method that W&B defines without a model: random and grid.

Both return plain nested dicts (``config["optimizer"]["lr"]``), exactly what a trial receives.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import numpy as np

from sweeprunner.config.distributions import Constant
from sweeprunner.config.spec import LeafPath, SweepSpec


def set_leaf(config: dict[str, Any], path: LeafPath, value: Any) -> None:
    """Set ``config[p0][p1]...`` creating the nested dicts on the way."""
    node = config
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = copy.deepcopy(value)


def random_configs(spec: SweepSpec, n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` independent draws, each leaf ``ppf(u)`` with ``u`` uniform, as W&B's random search."""
    rng = np.random.default_rng(seed)
    leaves = list(spec.parameters.leaves())
    configs = []
    for _ in range(n):
        config: dict[str, Any] = {}
        for path, dist in leaves:
            value = dist.value if isinstance(dist, Constant) else dist.ppf(float(rng.random()))
            set_leaf(config, path, value)
        configs.append(config)
    return configs


def grid_configs(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every grid point in W&B's order: leaves sorted by name, the last one varying fastest.

    Duplicate values collapse (``2.0`` equals ``2``), constants appear in every point, and
    ``run_cap`` is not applied here.
    """
    leaves = list(spec.parameters.leaves())
    axes = [(path, dist.grid_values()) for path, dist in leaves if not isinstance(dist, Constant)]
    configs = []
    for combo in itertools.product(*(values for _, values in axes)):
        config: dict[str, Any] = {}
        chosen = dict(zip((path for path, _ in axes), combo, strict=True))
        for path, dist in leaves:
            set_leaf(config, path, dist.value if isinstance(dist, Constant) else chosen[path])
        configs.append(config)
    return configs
