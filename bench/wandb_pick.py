"""W&B's bayes pick rule inside sweeprunner's GP sampler while crowded (``bench/gp_variants.py`` knob ``wbpick=1``).

A re-implementation of ``sweeps.bayes_search.next_sample`` (sweeps 0.3.0) for an experiment: scikit-learn's GP
with an isotropic Matern 1.5 kernel on [0, 1] coordinates, the trials in flight imputed with its posterior mean
and the GP refitted (kriging believer), expected improvement over 1000 uniform random points, and a random point
when a kernel hyperparameter ends at its bound. It replaces the GP's pick while at least as many trials are in
flight as have completed (3 or more, from trial 8), everything else as the default. Categoricals sit at the
centres of equal slices of [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from optuna._gp import search_space as gp_space
from optuna.samplers._gp.sampler import _get_params


def _fit(X: np.ndarray, y: np.ndarray) -> tuple[Any, float, float]:
    """W&B's ``fit_normalized_gaussian_process``: y scaled by its largest magnitude, then standardised."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import Matern

    gp = GaussianProcessRegressor(kernel=Matern(nu=1.5), n_restarts_optimizer=2, alpha=1e-7, random_state=2)
    scale = max(float(np.max(np.abs(y))), 1.0)
    scaled = y / scale
    mean, std = scaled.mean(), scaled.std() + 1e-6 / scale
    gp.fit(X, (scaled - mean) / std)
    return gp, mean * scale, std * scale


def wandb_pick(X: np.ndarray, y: np.ndarray, X_running: np.ndarray | None, rng: np.random.RandomState) -> np.ndarray:
    """The point W&B's engine would run next (minimising ``y``), in [0, 1] coordinates."""
    from scipy.stats import norm

    gp, mean, std = _fit(X, y)
    if X_running is not None and len(X_running):
        fantasy = gp.predict(X_running) * std + mean
        X, y = np.vstack([X, X_running]), np.concatenate([y, fantasy])
        gp, mean, std = _fit(X, y)
    candidates = rng.uniform(size=(1000, X.shape[1]))
    predicted, cov = gp.predict(candidates, return_cov=True)
    spread = np.sqrt(np.clip(np.diag(cov), 0, None))
    best = (y.min() - mean) / std
    z = -(predicted - best) / (spread + 1e-6)
    improvement = -(predicted - best) * norm.cdf(z) + spread * norm.pdf(z)
    index = int(np.argmax(improvement))
    if np.isclose(gp.kernel_.bounds, np.atleast_2d(gp.kernel_.theta).T).any():
        index = int(rng.randint(0, len(candidates) - 1))
    return candidates[index]


def install(sampler: Any) -> None:
    """Let ``sampler`` pick by W&B's rule while trials in flight outnumber results."""
    relative = sampler.sample_relative
    rng = np.random.RandomState(0)

    def sample_relative(study: Any, trial: Any, search_space: dict) -> dict:
        if not search_space:
            return relative(study, trial, search_space)
        trials = study._get_trials(deepcopy=False, use_cache=False)
        done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
        running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING and t.number != trial.number
                   and search_space.keys() <= _get_params(t).keys()]
        if len(done) < 3 or len(running) < len(done) or trial.number < 8:
            return relative(study, trial, search_space)
        space = gp_space.SearchSpace(search_space)
        slices = np.where(space.is_categorical, space._bounds[:, 1], 1.0)

        def unit(group: list, params: list | None = None) -> np.ndarray:
            X = space.get_normalized_params(group, params) if params is not None else space.get_normalized_params(group)
            return np.where(space.is_categorical, (X + 0.5) / slices, X)

        X_running = unit(running, [_get_params(t) for t in running]) if running else None
        x = wandb_pick(unit(done), np.array([t.value for t in done]), X_running, rng)
        for i in range(space.dim):
            if space.is_categorical[i]:
                x[i] = min(int(x[i] * slices[i]), int(slices[i]) - 1)
            elif space._steps[i] != 0.0:
                x[i] = gp_space._round_one_normalized_param(np.array([x[i]]), space._scale_types[i],
                                                            tuple(space._bounds[i]), space._steps[i])[0]
        return space.get_unnormalized_param(x)

    sampler.sample_relative = sample_relative
