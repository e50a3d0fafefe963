"""The configs W&B's model-free methods give, as lazy plans: random draws and grid points.

Both are pure and streamed: a plan computes point ``i`` on demand (``plan[i]``, ``iter(plan)``),
so a grid of 10^9 points capped by ``run_cap: 5`` costs five points, and an unbounded random
sweep (no ``run_cap``, W&B's "until stopped") is an endless stream. Each point is a plain nested
dict (``config["optimizer"]["lr"]``), exactly what a trial receives.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from sweeprunner.config.distributions import Constant, Distribution
from sweeprunner.config.spec import LeafPath, SweepSpec
from sweeprunner.errors import SweepConfigError

#: The most grid points a sweep may run: a bigger grid needs ``run_cap`` (it then runs the first points).
MAX_GRID_TRIALS = 1_000_000


def set_leaf(config: dict[str, Any], path: LeafPath, value: Any) -> None:
    """Set ``config[p0][p1]...`` creating the nested dicts on the way."""
    node = config
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = copy.deepcopy(value)


def grid_size(spec: SweepSpec) -> int:
    """How many points the whole grid has (before ``run_cap``), by arithmetic: nothing is built."""
    return math.prod(dist.grid_size() for _, dist in spec.parameters.leaves() if not isinstance(dist, Constant))


class GridPlan:
    """Every grid point in W&B's order (``itertools.product`` over the leaves sorted by name, the
    last varying fastest), computed one at a time; ``run_cap`` keeps the first ones.

    Duplicate values collapse (``2.0`` equals ``2``) and constants appear in every point.
    Raises :class:`SweepConfigError` stating the size when the sweep would run more than
    :data:`MAX_GRID_TRIALS` points.
    """

    def __init__(self, spec: SweepSpec) -> None:
        self.leaves: list[tuple[LeafPath, Distribution]] = list(spec.parameters.leaves())
        self.axes = [(path, dist, dist.grid_size()) for path, dist in self.leaves if not isinstance(dist, Constant)]
        self.full_size = math.prod(size for _, _, size in self.axes)
        self.size = min(self.full_size, spec.run_cap) if spec.run_cap else self.full_size
        if self.size > MAX_GRID_TRIALS:
            raise SweepConfigError.single(
                ("parameters",), f"the grid has {_count(self.full_size)} points, more than the {MAX_GRID_TRIALS:,} a "
                "sweep may run: set run_cap to run its first points, or use fewer values (a larger q, a "
                "narrower int_uniform range)", source=spec.source)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < self.size:
            raise IndexError(index)
        chosen: dict[LeafPath, Any] = {}
        for path, dist, size in reversed(self.axes):  # mixed radix: the last axis is the fastest digit
            index, digit = divmod(index, size)
            chosen[path] = dist.grid_value(digit)
        config: dict[str, Any] = {}
        for path, dist in self.leaves:
            set_leaf(config, path, dist.value if isinstance(dist, Constant) else chosen[path])
        return config

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(self.size))


class RandomPlan:
    """W&B's random search: each leaf ``ppf(u)`` with ``u`` uniform, ``size`` draws (None: endless).

    Draw ``i`` is computed directly: every non-constant leaf takes one 64-bit number from a PCG64
    stream seeded with ``seed``, so point ``i`` starts ``i * leaves`` numbers in (``advance``).
    """

    def __init__(self, spec: SweepSpec, size: int | None, seed: int) -> None:
        self.leaves: list[tuple[LeafPath, Distribution]] = list(spec.parameters.leaves())
        self.draws_per_point = sum(1 for _, dist in self.leaves if not isinstance(dist, Constant))
        self.size = size
        self.seed = seed

    def __len__(self) -> int:
        if self.size is None:
            raise TypeError("an unbounded random plan has no length")
        return self.size

    def _point(self, rng: np.random.Generator) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for path, dist in self.leaves:
            set_leaf(config, path, dist.value if isinstance(dist, Constant) else dist.ppf(float(rng.random())))
        return config

    def __getitem__(self, index: int) -> dict[str, Any]:
        if index < 0 or (self.size is not None and index >= self.size):
            raise IndexError(index)
        bits = np.random.PCG64(self.seed)
        bits.advance(index * self.draws_per_point)
        return self._point(np.random.Generator(bits))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rng = np.random.default_rng(self.seed)
        i = 0
        while self.size is None or i < self.size:
            yield self._point(rng)
            i += 1


def random_configs(spec: SweepSpec, n: int, seed: int) -> list[dict[str, Any]]:
    """The first ``n`` random-search draws at ``seed``."""
    return list(RandomPlan(spec, n, seed))


def grid_configs(spec: SweepSpec, n: int | None = None) -> list[dict[str, Any]]:
    """The grid points the sweep runs (``run_cap`` applied), or only the first ``n``."""
    plan = GridPlan(spec)
    return [plan[i] for i in range(min(len(plan), n) if n is not None else len(plan))]


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**15 else f"about 10^{len(str(n)) - 1}"
