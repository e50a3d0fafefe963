"""The Optuna samplers behind ``method: bayes``, chosen with ``bench/search_quality.py``.

``gp`` (the default up to 200 trials) is Optuna's ``GPSampler``. Since Optuna 5.1 it is
pending-aware: with trials in flight it maximises qLogEI over the running trials' parameters
(fantasised by the GP), so suggestions made in parallel spread out instead of repeating each
other. sweeprunner adds, measured on Branin, Hartmann6 and a mixed space (docs/benchmarks.md):

* a scrambled-Sobol start-up (:class:`SobolStartSampler`) instead of independent random draws:
  the first trials cover the space evenly;
* fewer start-up trials (:data:`GP_STARTUP_TRIALS`) so more of a small budget is model-guided.

Every W&B distribution reaches the sampler as an Optuna float, int or categorical (normal, beta,
weighted categorical... as ``u`` in (0, 1), mapped through the inverse CDF by the space), so the
samplers here never see W&B types. Everything is picklable: Ray's ``OptunaSearch.save`` keeps the
study with its sampler, so ``resume`` continues the same Sobol sequence and GP.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler

#: Model-free trials before the GP takes over (Optuna's default is 10).
GP_STARTUP_TRIALS = 5
#: Sobol points drawn at a time (a power of two keeps the sequence balanced).
_SOBOL_BLOCK = 64


class SobolStartSampler(BaseSampler):
    """Independent sampler that gives trial ``k`` the ``k``-th point of a scrambled Sobol sequence.

    Used as the GP's ``independent_sampler``, so its start-up trials fill the space evenly.
    Parameters get a Sobol dimension in the order they are first asked for (a define-by-run space
    asks in the same order every trial); beyond ``dims`` parameters it draws at random.
    """

    def __init__(self, dims: int, seed: int | None = None) -> None:
        self.dims = max(1, dims)
        self.seed = seed
        self._dim_of: dict[str, int] = {}
        self._points = np.empty((0, self.dims))
        self._random = RandomSampler(seed=seed)

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: Any, trial: Any, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return {}

    def reseed_rng(self) -> None:
        self._random.reseed_rng()

    def _u(self, number: int, dim: int) -> float:
        if number >= len(self._points):
            from scipy.stats import qmc

            blocks = number // _SOBOL_BLOCK + 1
            engine = qmc.Sobol(d=self.dims, scramble=True, seed=self.seed)
            self._points = engine.random(blocks * _SOBOL_BLOCK)
        return float(self._points[number, dim])

    def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: BaseDistribution) -> Any:
        dim = self._dim_of.setdefault(param_name, len(self._dim_of))
        if dim >= self.dims:
            return self._random.sample_independent(study, trial, param_name, param_distribution)
        return from_unit(self._u(trial.number, dim), param_distribution)


def from_unit(u: float, dist: BaseDistribution) -> Any:
    """Map ``u`` in [0, 1) onto an Optuna distribution, evenly in its (log) scale."""
    u = min(max(u, 0.0), math.nextafter(1.0, 0.0))
    if isinstance(dist, CategoricalDistribution):
        return dist.choices[int(u * len(dist.choices))]
    if isinstance(dist, IntDistribution):
        if dist.log:
            lo, hi = math.log(dist.low - 0.5), math.log(dist.high + 0.5)
            value = round(math.exp(lo + u * (hi - lo)))
        else:
            steps = (dist.high - dist.low) // dist.step + 1
            value = dist.low + int(u * steps) * dist.step
        return int(min(max(value, dist.low), dist.high))
    if isinstance(dist, FloatDistribution):
        if dist.log:
            value = math.exp(math.log(dist.low) + u * (math.log(dist.high) - math.log(dist.low)))
        elif dist.step is not None:
            steps = round((dist.high - dist.low) / dist.step) + 1
            value = dist.low + int(u * steps) * dist.step
        else:
            value = dist.low + u * (dist.high - dist.low)
        return float(min(max(value, dist.low), dist.high))
    raise TypeError(f"unsupported distribution {dist!r}")


def gp_sampler(seed: int | None, dims: int, startup: int = GP_STARTUP_TRIALS, sobol: bool = True) -> BaseSampler:
    """Optuna's pending-aware GP with a Sobol start-up of ``startup`` trials."""
    independent = SobolStartSampler(dims, seed) if sobol else None
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup, independent_sampler=independent,
                                     warn_independent_sampling=False)


def make_sampler(name: str, seed: int | None, dims: int) -> BaseSampler:
    """The sampler ``bayes_sampler: <name>`` resolves to (``auto`` is resolved by the compiler)."""
    if name == "gp":
        return gp_sampler(seed, dims)
    if name == "tpe":
        return optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed)
    if name == "random":
        return RandomSampler(seed=seed)
    raise ValueError(f"unknown bayes sampler {name!r}")
