"""The Optuna samplers behind ``method: bayes``, chosen with ``bench/search_quality.py``.

``gp`` (the default at every budget) is Optuna's ``GPSampler``. Since Optuna 5.1 it is
pending-aware: with trials in flight it maximises qLogEI over the running trials' parameters
(fantasised by the GP), so suggestions made in parallel spread out instead of repeating each
other. sweeprunner adds, measured on Branin, Hartmann6 and a mixed space (docs/benchmarks.md):

* a quasi-random start-up (:class:`QuasiRandomStartSampler`) instead of independent random draws:
  the first trials cover the space evenly. Scrambled Sobol on continuous spaces; scrambled Halton
  where a categorical is searched, because Sobol's first points leave half the cells of some pairs of
  parameters empty and a categorical's values then each see half of another parameter's range (25
  trials, 200 seeds, the mixed space: 16 in flight 0.540 -> 0.468, 8 in flight 0.345 -> 0.302);
* fewer start-up trials (:data:`GP_STARTUP_TRIALS`) so more of a small budget is model-guided;
* a cap on the GP's training points (:data:`GP_MAX_POINTS`, as W&B caps its own at 100) so a
  suggestion's cost stops growing with the sweep (:class:`CappedGPSampler`);
* for budgets of :data:`GP_EXPLORE_FROM_BUDGET` trials or more, every :data:`GP_EXPLORE_EVERY`-th
  trial takes the start-up sequence's next point instead of the GP's: insurance against a GP stuck in one basin
  (on Hartmann6 at 50 trials, 3 of 16 seeds stuck at -1.7 to -2.1 without it, none with it). Small
  budgets skip it: there every model-guided trial counts more than the insurance;
* the GP fits warped objective values (:data:`GP_WARP`, :func:`warp_losses`): a one-sided power
  transform that evens out a long tail of bad trials (Branin at 25 trials: 0.644 -> 0.450);
* with many trials in flight the GP takes over after 3 completed trials instead of 5
  (:data:`GP_EARLY_TAKEOVER`): with 8 or 16 in flight, waiting for 5 spends most of a 25-trial
  budget on start-up points;
* with 3 or more searched parameters the GP's per-parameter lengthscales are pulled towards a
  common value (:data:`GP_LENGTHSCALE_TIE`, :class:`TiedLengthscalePrior`): with a handful of
  results a free lengthscale per parameter overfits (25 trials, 48 seeds: Hartmann6 -2.285 -> -2.504
  with 4 in flight and -1.744 -> -2.015 with 8, the mixed space 0.304 -> 0.197 and 0.446 -> 0.318);
* while at least as many trials are in flight as have completed (8 or 16 in flight, early in a sweep),
  the acquisition is searched only in a box around the best trial (:data:`GP_CROWDED_TRUST_REGION`, a
  TuRBO-style trust region): a GP fitted to 3-7 results, with 8-15 fantasised trials in flight,
  otherwise sends its picks to the corners of the space (25 trials, 48 seeds: Branin 1.979 -> 1.615 with
  16 in flight, 1.244 -> 1.126 with 8); with 1 to 4 in flight it never applies;
* every other GP pick is searched in the same box too, its best candidates refined by gradient ascent
  inside it (:data:`TRUST_REGION_REFINE`, :func:`refine_in_box`): Optuna's search over the whole space
  pins parameters to their bounds and sends picks to corners (on Hartmann6 at 50 trials, up to 19 of 36
  picks had 3 or more parameters at a bound), the box keeps them near the best trial while the quasi-random
  start-up and exploration trials search globally (48 seeds, Hartmann6 at 50 trials: -3.124 -> -3.185;
  25 trials, 4 in flight: Branin 0.491 -> 0.421, mixed 0.197 -> 0.179, Hartmann6 -2.504 -> -2.462);
* :class:`BackgroundSuggester`: the suggestion is computed in a worker thread, so the driver's
  event loop keeps handling results while the GP fits.

Every W&B distribution reaches the sampler as an Optuna float, int or categorical (normal, beta,
weighted categorical... as ``u`` in (0, 1), mapped through the inverse CDF by the space), so the
samplers here never see W&B types. Everything is picklable: Ray's ``OptunaSearch.save`` keeps the
study with its sampler, so ``resume`` continues the same start-up sequence and GP.
"""

from __future__ import annotations

import math
import os
import pickle
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
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
from ray.tune.search import Searcher

#: Model-free trials before the GP takes over (Optuna's default is 10).
GP_STARTUP_TRIALS = 5
#: With many trials in flight the GP takes over once this many have completed and this many started.
GP_EARLY_TAKEOVER = (3, 8)
#: How the objective is transformed before the GP fit (:func:`warp_losses`); None fits it as is.
GP_WARP = "power"
#: How strongly the GP's log lengthscales are pulled together (:class:`TiedLengthscalePrior`); None: Optuna's prior.
GP_LENGTHSCALE_TIE = 1.0
#: Fewest searched parameters for which the lengthscales are tied (two lengthscales have little to overfit).
GP_TIE_MIN_PARAMS = 3
#: While trials in flight are at least as many as completed ones, the acquisition is searched in a box
#: around the best trial holding this fraction of the space's non-categorical volume; None: everywhere.
GP_CROWDED_TRUST_REGION = 0.04
#: The box is never narrower than this along a parameter (the side measured with 2 parameters; with 1, 4% is a sliver).
TRUST_REGION_MIN_SIDE = 0.2
#: In that box a categorical parameter keeps the best trial's value with this probability.
TRUST_REGION_KEEP_CATEGORY = 0.8
#: Candidate points the acquisition is evaluated at in the box.
TRUST_REGION_CANDIDATES = 2048
#: Outside the crowded regime, the best this-many box candidates are refined by L-BFGS-B inside the box.
TRUST_REGION_REFINE = 5
#: Completed trials the GP trains on at most: the best half and the most recent rest.
GP_MAX_POINTS = 100
#: With a budget of at least GP_EXPLORE_FROM_BUDGET trials, every GP_EXPLORE_EVERY-th trial is a start-up sequence point.
GP_EXPLORE_EVERY = 5
GP_EXPLORE_FROM_BUDGET = 50
#: How long ``suggest`` waits for a suggestion before handing the driver back ``None`` (ask again later).
SUGGEST_WAIT_S = 0.05
#: Fewest start-up points drawn at once; a power of two (keeps a Sobol sequence balanced, and scipy quiet).
_START_BLOCK = 64
#: The quasi-random sequence of the start-up and exploration trials (scipy.stats.qmc): "halton" or "sobol".
START_SEQUENCE = "sobol"
#: The sequence for a space with a categorical parameter (see :class:`QuasiRandomStartSampler`).
START_SEQUENCE_WITH_CATEGORICAL = "halton"


class QuasiRandomStartSampler(BaseSampler):
    """Independent sampler that gives trial ``k`` the ``k``-th point of a scrambled quasi-random sequence.

    Used as the GP's ``independent_sampler``, so its start-up trials fill the space evenly.
    Parameters get a dimension in the order they are first asked for (a define-by-run space
    asks in the same order every trial); beyond ``dims`` parameters it draws at random.

    The sequence is scrambled Sobol (``sequence="sobol"``) or scrambled Halton (``"halton"``, for spaces
    with a categorical parameter). Sobol's first 16 points in 5 dimensions fall in only 8 of the 16
    cells of a 4 x 4 grid for half the pairs of parameters, on every seed; Halton's leave no pair that
    empty. A categorical's value is picked by the coarse bins of its coordinate, exactly where those
    holes are: a 4-way categorical saw each of its values tried with only half the learning rate's range
    (16 start-up points on the mixed space, 200 seeds: best 0.759 with Sobol, 0.680 with random draws,
    0.635 with Halton). On continuous spaces Sobol's start-up measured as good or better (Branin,
    Hartmann6). A sampler pickled before ``sequence`` existed (an older sweep directory) keeps its
    Sobol sequence on ``resume``.
    """

    def __init__(self, dims: int, seed: int | None = None, sequence: str = START_SEQUENCE) -> None:
        if sequence not in ("halton", "sobol"):
            raise ValueError(f"sequence must be 'halton' or 'sobol', got {sequence!r}")
        self.dims = max(1, dims)
        # an unseeded sweep still needs one scramble for its whole life: the sequence is redrawn longer as it grows
        self.seed = seed if seed is not None else secrets.randbits(32)
        self.sequence = sequence
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

            size = max(_START_BLOCK, 1 << number.bit_length())   # a power of two, past ``number``
            engine = (qmc.Sobol if getattr(self, "sequence", "sobol") == "sobol" else qmc.Halton)
            self._points = engine(d=self.dims, scramble=True, seed=self.seed).random(size)
        return float(self._points[number, dim])

    def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: BaseDistribution) -> Any:
        dim = self._dim_of.setdefault(param_name, len(self._dim_of))
        if dim >= self.dims:
            return self._random.sample_independent(study, trial, param_name, param_distribution)
        return from_unit(self._u(trial.number, dim), param_distribution)


#: The class's name before the Halton sequence: sweep directories pickled then unpickle through it.
SobolStartSampler = QuasiRandomStartSampler


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


class CappedGPSampler(optuna.samplers.GPSampler):
    """Optuna's GPSampler trained on at most ``max_points`` completed trials, with three additions.

    * **Capped training set:** exact GP fitting costs O(n^3) and the acquisition's cost grows with n
      too; beyond the cap the GP sees the best ``max_points // 2`` trials (the region that matters for
      expected improvement) and the most recent of the rest.
    * **Warped values** (``warp``, see :func:`warp_losses`): the GP is fitted to a monotone transform
      of the objective, so a few very bad trials (a diverged run's loss of 1e4 next to losses near 1)
      no longer flatten the differences between the good ones.
    * **Tied lengthscales** (``lengthscale_tie``, see :class:`TiedLengthscalePrior`).
    * **A trust region** (``trust_region``, a volume fraction): the acquisition is maximised over
      candidates in a box around the best trial (:func:`trust_region_candidates`) instead of over the
      whole space. While at least as many trials are running as have completed (crowded), the best
      candidate is the pick; otherwise the best :data:`TRUST_REGION_REFINE` candidates are refined by
      gradient ascent inside the box (:func:`refine_in_box`).
    * **Early take-over** (``early_takeover=(completed, started)``): the GP normally waits for
      ``n_startup_trials`` completed trials; with many trials in flight that wait spends most of a small
      budget on start-up points, so it takes over once ``completed`` trials have completed and
      ``started`` have been started. With 1 to 4 in flight nothing changes.

    With ``explore_every`` set, every ``explore_every``-th trial after the start-up is left to the
    independent sampler (the start-up sequence's point for that trial).
    """

    def __init__(self, *, max_points: int = GP_MAX_POINTS, explore_every: int | None = None,
                 warp: str | None = None, early_takeover: tuple[int, int] | None = None,
                 lengthscale_tie: float | None = None, trust_region: float | None = None,
                 **kwargs: Any) -> None:
        startup = kwargs.get("n_startup_trials", 10)
        if early_takeover is not None:   # Optuna's own check becomes the early minimum; ours the usual one
            kwargs["n_startup_trials"] = min(startup, early_takeover[0])
        super().__init__(**kwargs)
        self.max_points = max_points
        self.explore_every = explore_every
        self.warp = warp
        self.early_takeover = early_takeover
        self.startup_trials = startup
        self.trust_region = trust_region
        self._crowded = False
        if lengthscale_tie is not None:   # an attribute of Optuna's GPSampler: pickled with it
            self._log_prior = TiedLengthscalePrior(lengthscale_tie)

    def sample_relative(self, study: Any, trial: Any, search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        # samplers pickled by an older version lack the newer attributes: they behave as they did
        startup = getattr(self, "startup_trials", self._n_startup_trials)
        early = getattr(self, "early_takeover", None)
        if early is not None and trial.number < early[1]:
            completed = study._get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,), use_cache=False)
            if len(completed) < startup:
                return {}
        if self.explores(trial.number):
            return {}
        return super().sample_relative(study, trial, search_space)

    def explores(self, number: int) -> bool:
        """Whether trial ``number`` is left to the independent sampler (every ``explore_every``-th after the start-up)."""
        every = getattr(self, "explore_every", None)
        startup = getattr(self, "startup_trials", self._n_startup_trials)
        return bool(every) and number >= startup and number % every == every - 1

    def _sample_relative_impl(self, study: Any, completed_trials: list, running_trials: list,
                              search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        trials = training_subset(completed_trials, study.direction, self.max_points)
        warp = getattr(self, "warp", None)
        if warp:
            trials = warped_trials(trials, study.direction, warp)
        self._crowded = len(running_trials) >= len(completed_trials)
        try:
            return super()._sample_relative_impl(study, trials, running_trials, search_space)
        finally:
            self._crowded = False

    def _optimize_acqf(self, acqf: Any, best_params: np.ndarray | None) -> np.ndarray:
        volume = getattr(self, "trust_region", None)
        if not volume or best_params is None:
            return super()._optimize_acqf(acqf, best_params)
        candidates = trust_region_candidates(acqf.search_space, best_params[0], volume, self._rng.rng)
        values = acqf.eval_acqf_no_grad(candidates)
        if getattr(self, "_crowded", False):
            return candidates[int(np.argmax(values))]
        return refine_in_box(acqf, candidates, values, TRUST_REGION_REFINE, tol=self._tol)


def trust_region_candidates(space: Any, best: np.ndarray, volume: float, rng: np.random.RandomState,
                            n: int = TRUST_REGION_CANDIDATES) -> np.ndarray:
    """``n`` random points (Optuna's normalised GP coordinates) in a box around ``best``.

    The box has side ``volume ** (1 / d)`` (at least :data:`TRUST_REGION_MIN_SIDE`) along each of the d
    non-categorical parameters, moved inside the space where ``best`` is near a bound; a categorical keeps
    ``best``'s value with probability :data:`TRUST_REGION_KEEP_CATEGORY`, otherwise any value. Integer and
    stepped parameters are rounded.
    """
    from optuna._gp.search_space import _round_one_normalized_param

    points = space.sample_normalized_params(n, rng=rng)   # categoricals already drawn from all values
    ordered = ~space.is_categorical
    side = min(1.0, max(TRUST_REGION_MIN_SIDE, volume ** (1.0 / max(1, int(ordered.sum())))))
    for i in range(space.dim):
        if not ordered[i]:
            stay = rng.random_sample(n) < TRUST_REGION_KEEP_CATEGORY
            points[stay, i] = best[i]
            continue
        low = min(max(best[i] - side / 2, 0.0), 1.0 - side)
        points[:, i] = low + side * rng.random_sample(n)
        if space._steps[i] != 0.0:
            points[:, i] = _round_one_normalized_param(points[:, i], space._scale_types[i],
                                                       tuple(space._bounds[i]), space._steps[i])
    return points


def refine_in_box(acqf: Any, candidates: np.ndarray, values: np.ndarray, starts: int, tol: float = 1e-4) -> np.ndarray:
    """The best of ``candidates`` (acquisition ``values``) after gradient ascents, to Optuna's tolerance ``tol``
    (its GPSampler's ``_tol``), from the ``starts`` best of them, each continuous parameter kept within the candidates' range (the trust region's box); categorical,
    integer and stepped parameters keep the candidate's value. The ascents run as one batched L-BFGS-B,
    preconditioned by the GP's lengthscales, as Optuna's own acquisition search runs them."""
    import torch
    from optuna._gp.batched_lbfgsb import batched_lbfgsb
    from optuna._gp.thread_limiting import limit_threads_in_optimization

    cont = acqf.search_space.continuous_indices
    best = int(np.argmax(values))
    if len(cont) == 0:
        return candidates[best]
    scale = acqf.length_scales[cont]
    starts_x = candidates[np.argsort(-values)[:starts]]
    low, high = candidates[:, cont].min(axis=0), candidates[:, cont].max(axis=0)

    def negative(scaled: np.ndarray, fixed: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        x = np.array(fixed)
        x[:, cont] = scaled * scale
        tensor = torch.from_numpy(x).requires_grad_(True)
        value = acqf.eval_acqf(tensor)
        value.sum().backward()
        return -np.atleast_1d(value.detach().numpy()), -tensor.grad.detach().numpy()[:, cont] * scale

    with limit_threads_in_optimization():
        scaled, negative_values, _ = batched_lbfgsb(
            func_and_grad=negative, x0_batched=starts_x[:, cont] / scale, batched_args=(list(starts_x.copy()),),
            bounds=list(zip(low / scale, high / scale, strict=True)), pgtol=math.sqrt(tol), max_iters=200)
    top = int(np.argmin(negative_values))
    if -negative_values[top] <= values[best]:
        return candidates[best]
    pick = starts_x[top].copy()
    pick[cont] = np.clip(scaled[top] * scale, low, high)
    return pick


class TiedLengthscalePrior:
    """Optuna's GP prior plus ``-strength * sum((log l_i - mean log l)^2)`` over the lengthscales ``l_i``.

    Optuna's GP has one lengthscale per parameter (ARD). Fitted to the handful of results a small
    sweep has, they scatter: a parameter that happened to vary little among the good trials looks
    irrelevant, and the acquisition stops searching along it. This hierarchical pull keeps them
    near a common value unless the data insist (``strength`` -> infinity is W&B's isotropic Matern
    kernel; 0 is plain ARD). A class rather than a closure so a pickled sampler keeps it.
    """

    def __init__(self, strength: float) -> None:
        self.strength = strength

    def __call__(self, gpr: Any) -> Any:
        import torch
        from optuna._gp.prior import default_log_prior

        log_isl = torch.log(gpr.inverse_squared_lengthscales)
        return default_log_prior(gpr) - self.pull(len(gpr._X_train)) * ((log_isl - log_isl.mean()) ** 2).sum()

    def pull(self, n_points: int) -> float:
        """The strength of the pull with ``n_points`` training points (constant here)."""
        return self.strength


#: The warps :func:`warp_losses` knows; ``power`` is the default (``bench/search_quality.py`` measured them all).
WARPS = ("power", "power-unclipped", "yeo-johnson", "log", "rank")
#: ``power`` first clips losses above the upper quartile plus this many interquartile ranges.
OUTLIER_FENCE_IQRS = 20.0


def warp_losses(losses: np.ndarray, how: str) -> np.ndarray:
    """A monotone (order-keeping) transform of ``losses`` (lower is better) for the GP to fit.

    * ``power``: far outliers (above the upper quartile plus :data:`OUTLIER_FENCE_IQRS` interquartile
      ranges: a diverged run's 1e4 next to losses near 1) are first clipped to that fence; then HEBO's
      power transform, one-sided: a Yeo-Johnson transform of the standardized losses with its
      maximum-likelihood exponent, used only when that exponent is below 1, i.e. when it compresses a
      long tail of bad losses. A long tail of *good* losses (the few trials that found the basin) is
      left as it is: compressing it would flatten the region the search must resolve.
    * ``power-unclipped``: the same without the clipping (one far outlier then still squashes the
      others together, as it does with no warp).
    * ``yeo-johnson``: the transform whichever way it bends, unclipped.
    * ``log``: ``log(loss - best + 5% of (median - best))``.
    * ``rank``: normal quantiles of the ranks (a Gaussian copula).

    Fewer than 3 losses, or all equal, are returned unchanged.
    """
    losses = np.asarray(losses, dtype=float)
    if len(losses) < 3 or np.ptp(losses) <= 0:
        return losses
    if how in ("power", "power-unclipped", "yeo-johnson"):
        from scipy.stats import yeojohnson, yeojohnson_normmax

        if how == "power":
            q1, q3 = np.percentile(losses, [25, 75])
            if q3 > q1:
                losses = np.minimum(losses, q3 + OUTLIER_FENCE_IQRS * (q3 - q1))
        z = (losses - losses.mean()) / losses.std()
        exponent = yeojohnson_normmax(z)
        if how != "yeo-johnson" and exponent >= 1.0:
            return losses
        return np.asarray(yeojohnson(z, lmbda=exponent), dtype=float)
    if how == "log":
        best = losses.min()
        return np.log(losses - best + max(np.median(losses) - best, 1e-12) * 0.05)
    if how == "rank":
        from scipy.stats import norm, rankdata

        return np.asarray(norm.ppf((rankdata(losses) - 0.5) / len(losses)), dtype=float)
    raise ValueError(f"unknown warp {how!r}; known: {', '.join(WARPS)}")


def warped_trials(trials: list, direction: optuna.study.StudyDirection, how: str) -> list:
    """Shallow copies of ``trials`` carrying warped values (non-finite values are left to Optuna)."""
    import copy

    sign = 1.0 if direction == optuna.study.StudyDirection.MINIMIZE else -1.0
    values = np.array([t.value for t in trials], dtype=float)
    finite = np.isfinite(values)
    if finite.sum() < 3:
        return trials
    warped = values.copy()
    warped[finite] = sign * warp_losses(sign * values[finite], how)
    copies = []
    for trial, value in zip(trials, warped, strict=True):
        twin = copy.copy(trial)
        twin.values = [float(value)]
        copies.append(twin)
    return copies


def training_subset(trials: list, direction: optuna.study.StudyDirection, cap: int) -> list:
    """At most ``cap`` trials: the best ``cap // 2`` and the most recent others, in trial order."""
    if len(trials) <= cap:
        return trials
    sign = 1.0 if direction == optuna.study.StudyDirection.MINIMIZE else -1.0
    by_value = sorted(range(len(trials)), key=lambda i: sign * trials[i].value)
    keep = set(by_value[: cap // 2])
    for i in range(len(trials) - 1, -1, -1):
        if len(keep) >= cap:
            break
        keep.add(i)
    return [trials[i] for i in sorted(keep)]


def gp_sampler(seed: int | None, dims: int, startup: int = GP_STARTUP_TRIALS,
               start_sequence: str | None = START_SEQUENCE,
               max_points: int = GP_MAX_POINTS, explore_every: int | None = None,
               warp: str | None = GP_WARP, early_takeover: tuple[int, int] | None = GP_EARLY_TAKEOVER,
               lengthscale_tie: float | None = GP_LENGTHSCALE_TIE, tie_min_params: int = GP_TIE_MIN_PARAMS,
               trust_region: float | None = GP_CROWDED_TRUST_REGION, **gp_options: Any) -> BaseSampler:
    """Optuna's pending-aware GP with a quasi-random start-up of ``startup`` trials (``start_sequence``,
    see :class:`QuasiRandomStartSampler`; None: Optuna's random draws), capped training points,
    warped values, tied lengthscales (with ``tie_min_params`` or more parameters), an early take-over
    and a trust region around the best trial (``None`` turns each off);
    ``gp_options`` go to Optuna's ``GPSampler`` as they are."""
    independent = QuasiRandomStartSampler(dims, seed, start_sequence) if start_sequence else None
    if dims < tie_min_params:
        lengthscale_tie = None
    return CappedGPSampler(seed=seed, n_startup_trials=startup, independent_sampler=independent,
                           warn_independent_sampling=False, max_points=max_points, explore_every=explore_every,
                           warp=warp, early_takeover=early_takeover, lengthscale_tie=lengthscale_tie,
                           trust_region=trust_region, **gp_options)


def explore_every_for(budget: int) -> int | None:
    """How often the GP leaves a trial to the start-up sequence for a sweep of ``budget`` trials
    (negative: runs until stopped)."""
    return GP_EXPLORE_EVERY if budget < 0 or budget >= GP_EXPLORE_FROM_BUDGET else None


def make_sampler(name: str, seed: int | None, dims: int, budget: int = -1,
                 categorical: bool = False) -> BaseSampler:
    """The sampler ``bayes_sampler: <name>`` resolves to (``auto`` is resolved by the compiler) for a
    sweep of ``budget`` trials (negative: runs until stopped) over ``dims`` searched parameters,
    ``categorical`` when one of them is a (weighted) categorical."""
    if name == "gp":
        sequence = START_SEQUENCE_WITH_CATEGORICAL if categorical else START_SEQUENCE
        return gp_sampler(seed, dims, start_sequence=sequence, explore_every=explore_every_for(budget))
    if name == "tpe":
        return optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed)
    if name == "random":
        return RandomSampler(seed=seed)
    raise ValueError(f"unknown bayes sampler {name!r}")


class BackgroundSuggester(Searcher):
    """Wraps a Ray Tune searcher so its ``suggest`` runs in a worker thread.

    Ray Tune asks for a suggestion on the driver's event loop; a GP fit there would hold up the
    handling of every result behind it. Here ``suggest`` starts the inner suggestion in a thread
    and waits at most :data:`SUGGEST_WAIT_S` (start-up suggestions come back at once); a slower
    one returns ``None`` -- Tune's "nothing yet, ask again" -- and is handed out on a later call,
    under that call's trial id. Results arriving meanwhile reach the inner searcher (Optuna's
    storage is thread-safe), so the suggestion after them sees them.
    """

    def __init__(self, searcher: Searcher) -> None:
        super().__init__(metric=searcher.metric, mode=searcher.mode)
        self.searcher = searcher
        self._alias: dict[str, str] = {}
        self._count = 0
        # inner ids unique to this wrapper: a later agent call's wrapper, over a restored inner
        # searcher that already knows this one's ids, never hands out one of them again
        self._prefix = secrets.token_hex(3)
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sweeprunner-suggest")
        self._lock = threading.Lock()
        self._pending: tuple[str, Future] | None = None

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        ok = self.searcher.set_search_properties(metric, mode, config, **spec)
        self._metric, self._mode = self.searcher.metric, self.searcher.mode
        return ok

    def suggest(self, trial_id: str) -> dict | str | None:
        if self._pending is None:
            inner_id = f"{self._prefix}-s{self._count}"
            self._count += 1
            self._pending = (inner_id, self._pool.submit(self._suggest, inner_id))
        inner_id, future = self._pending
        try:
            config = future.result(timeout=SUGGEST_WAIT_S)
        except FutureTimeout:
            return None
        self._pending = None
        if config is not None and config != Searcher.FINISHED:
            self._alias[trial_id] = inner_id
        return config

    def _suggest(self, inner_id: str) -> Any:
        with self._lock:
            return self.searcher.suggest(inner_id)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._alias:
            self.searcher.on_trial_result(self._alias[trial_id], result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        inner_id = self._alias.pop(trial_id, None)
        if inner_id is not None:
            self.searcher.on_trial_complete(inner_id, result=result, error=error)

    def _settle(self) -> tuple[str, Any] | None:
        """Finish the outstanding suggestion (the inner state must be quiet to be saved)."""
        if self._pending is None:
            return None
        inner_id, future = self._pending
        return inner_id, future.result()

    # Tune saves a wrapper (anything with ``.searcher``) through get_state/set_state and the base
    # searcher through its own save_to_dir, right after: settling here keeps the two consistent.
    def get_state(self) -> dict:
        return {"alias": dict(self._alias), "count": self._count, "ready": self._settle()}

    def set_state(self, state: dict) -> None:
        self._alias, self._count = dict(state["alias"]), state["count"]
        self._pending = None
        if state["ready"] is not None:
            future: Future = Future()
            future.set_result(state["ready"][1])
            self._pending = (state["ready"][0], future)

    def save(self, checkpoint_path: str) -> None:
        ready = self._settle()
        tmp = f"{checkpoint_path}.inner"
        self.searcher.save(tmp)
        with open(tmp, "rb") as fh:
            inner = fh.read()
        os.remove(tmp)
        with open(checkpoint_path, "wb") as fh:
            pickle.dump({"inner": inner, "alias": self._alias, "count": self._count, "ready": ready}, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            state = pickle.load(fh)
        tmp = f"{checkpoint_path}.inner"
        with open(tmp, "wb") as fh:
            fh.write(state["inner"])
        try:
            self.searcher.restore(tmp)
        finally:
            os.remove(tmp)
        self.set_state(state)

    def __getstate__(self) -> dict:
        ready = self._settle()
        state = {k: v for k, v in self.__dict__.items() if k not in ("_pool", "_lock", "_pending")}
        state["_ready"] = ready
        return state

    def __setstate__(self, state: dict) -> None:
        ready = state.pop("_ready", None)
        self.__dict__.update(state)
        self._init_runtime()
        if ready is not None:
            future: Future = Future()
            future.set_result(ready[1])
            self._pending = (ready[0], future)


def suggest_now(searcher: Searcher, trial_id: str) -> Any:
    """``searcher.suggest`` until it answers (a :class:`BackgroundSuggester` says ``None`` while busy)."""
    while (config := searcher.suggest(trial_id)) is None:
        pass
    return config
