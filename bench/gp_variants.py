"""Experimental knobs on sweeprunner's GP sampler, for ``bench/search_quality.py`` (method names ``x<C>:<knobs>``).

``x4:`` is the GP with 4 in flight and no extras (no warp, no early take-over); knobs add them back or
try others, e.g. ``x8:warp=power,early=3`` (8 in flight, the power warp, the GP taking over once 3
trials have completed and 8 started). Knobs: ``warp`` (a name in ``bayes.WARPS``), ``early`` (completed
trials for the early take-over, at 8 started), ``startup`` (Sobol start-up trials), ``explore`` (every
N-th trial a Sobol point; 0 off; default as the budget decides) and ``det=1`` (Optuna's
``deterministic_objective``), ``pending=model`` (only the GP's own running trials count as pending),
``prior=botorch`` (BoTorch's default GP priors), ``noise=<rate>`` (the noise prior's Gamma rate),
``tie=S`` (lengthscales pulled together with strength S; ``tiemin=M``: only with M or more parameters,
as the default does), ``tien=K`` (a pull of K / n with n completed trials), ``fade=N,pow=P`` (with
``tie=S``: S * min(1, N / n) ** P), ``liar=kb|max|mean`` (pending trials imputed -- kriging believer or a
constant liar -- and plain LogEI; ``liarratio=R``: only with at least R x completed trials in flight),
``trvol=V`` (the default's trust region while crowded, ``bayes.trust_region_candidates``, holding a
fraction V of the space; ``trkeep=P``: a categorical keeps the best's value with probability P; the ``tr=L``
loops -- a box of side L -- were run with commit 8ea96f4's knob), ``gpratio=R`` (Sobol points while fewer
than R x the trials in flight have completed), ``trts=N`` (with ``trvol``: Thompson sampling over N points
of the trust region instead of qLogEI), ``wbpick=1`` (W&B's pick rule while crowded,
``bench/wandb_pick.py``) and ``cand=N,candbelow=K`` (below K completed trials the acquisition
is maximised over N random points, no gradient search), ``farexp=R`` (the explore trials maximise the
acquisition over random points at least R from the best trial instead of taking a Sobol point), ``trall=V,trfrom=N,trgrad=K`` (the trust region of volume V at every GP pick once N trials have completed,
crowded or not; K > 0: its K best candidates refined inside the box by ``bayes.refine_in_box``; the ``trgrad`` loops
in ``gp_h50_loops.jsonl`` were run with commit 8ad4073's knob, a sequential scipy L-BFGS-B), ``kernel=rbf``
(a squared-exponential kernel in place of Optuna's Matern 5/2, as BoTorch 0.18's default GP; module-wide, every
variant sets it), ``seq=halton|sobol|random`` (the start-up and exploration sequence; unset: Sobol, as every variant before
the eighth pass ran; the default compiled sweep takes Halton where a categorical is searched).
"""

from __future__ import annotations

from typing import Any

# where Optuna's GP records the parameters it chose
from optuna._gp import gp as optuna_gp
from optuna.samplers._gp.sampler import _RELATIVE_PARAMS_KEY

from sweeprunner.compile import bayes
from sweeprunner.compile.bayes import (
    GP_EARLY_TAKEOVER,
    GP_STARTUP_TRIALS,
    TiedLengthscalePrior,
    explore_every_for,
    gp_sampler,
)

#: the default's probability, restored for every variant without ``trkeep``
_KEEP_CATEGORY = bayes.TRUST_REGION_KEEP_CATEGORY


def parse_knobs(text: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in text.split(",") if kv)


def variant_sampler(knobs: dict[str, str], seed: int, dims: int, budget: int) -> Any:
    """The default GP built with the knobs' settings (no warp and no early take-over unless a knob sets them)."""
    explore = knobs.get("explore")
    early = (int(knobs["early"]), GP_EARLY_TAKEOVER[1]) if "early" in knobs else None
    sampler = gp_sampler(seed, dims, startup=int(knobs.get("startup", GP_STARTUP_TRIALS)),
                         start_sequence=None if knobs.get("seq") == "random" else knobs.get("seq", bayes.START_SEQUENCE),
                         explore_every=explore_every_for(budget) if explore is None else (int(explore) or None),
                         warp=knobs.get("warp"), early_takeover=early,
                         lengthscale_tie=float(knobs["tie"]) if "tie" in knobs else None,
                         tie_min_params=int(knobs.get("tiemin", 0)),
                         trust_region=float(knobs["trvol"]) if "trvol" in knobs else None,
                         deterministic_objective=knobs.get("det") == "1")
    # trkeep=P: a categorical keeps the best's value with probability P (module-wide; every variant sets it)
    bayes.TRUST_REGION_KEEP_CATEGORY = float(knobs.get("trkeep", _KEEP_CATEGORY))
    if knobs.get("prior") == "botorch":
        sampler._log_prior = botorch_log_prior
    elif "noise" in knobs:
        sampler._log_prior = quiet_noise_log_prior(float(knobs["noise"]))
    elif "tien" in knobs:
        sampler._log_prior = PerPointTiedPrior(float(knobs["tien"]))
    if "fade" in knobs:
        sampler._log_prior = FadingTiedPrior(float(knobs["tie"]), int(knobs["fade"]), float(knobs.get("pow", 1)))
    if knobs.get("pending") == "model":
        _model_pending_only(sampler)
    if "liar" in knobs:
        _believer_acquisition(sampler, knobs["liar"], float(knobs.get("liarratio", 0)))
    if knobs.get("wbpick") == "1":
        from bench.wandb_pick import install

        install(sampler)
    if "trts" in knobs:
        _thompson_in_trust_region(sampler, int(knobs["trts"]))
    if "gpratio" in knobs:
        _sobol_while_outnumbered(sampler, float(knobs["gpratio"]))
    if "cand" in knobs:
        _candidate_acquisition(sampler, int(knobs["cand"]), int(knobs.get("candbelow", 10**9)))
    if "farexp" in knobs:
        _far_exploration(sampler, float(knobs["farexp"]))
    if "trall" in knobs:
        _trust_region_always(sampler, float(knobs["trall"]), int(knobs.get("trfrom", 0)), int(knobs.get("trgrad", 0)))
    _use_kernel(knobs.get("kernel", "matern52"))
    return sampler


def _trust_region_always(sampler: Any, volume: float, from_completed: int, refine: int) -> None:
    """The crowded trust region (``bayes.trust_region_candidates``, volume ``volume``) at every GP pick once
    ``from_completed`` trials have completed, crowded or not: random candidates in a box around the best
    instead of a gradient search over the whole space (which pins parameters to bounds and picks corners).
    With ``refine`` K > 0 the K best candidates are refined inside the box by the default's ``bayes.refine_in_box``."""
    original_impl, original_opt = sampler._sample_relative_impl, sampler._optimize_acqf
    state = {"completed": 0}

    def sample_relative_impl(study: Any, completed: list, running: list, space: Any) -> Any:
        state["completed"] = len(completed)
        return original_impl(study, completed, running, space)

    def optimize_acqf(acqf: Any, best_params: Any) -> Any:
        if best_params is None or state["completed"] < from_completed:
            return original_opt(acqf, best_params)
        candidates = bayes.trust_region_candidates(acqf.search_space, best_params[0], volume, sampler._rng.rng)
        values = acqf.eval_acqf_no_grad(candidates)
        if refine:
            return bayes.refine_in_box(acqf, candidates, values, refine)
        return candidates[int(values.argmax())]

    sampler._sample_relative_impl, sampler._optimize_acqf = sample_relative_impl, optimize_acqf


_MATERN52 = optuna_gp.Matern52Kernel.apply


def _use_kernel(name: str) -> None:
    """Optuna's GP evaluates ``Matern52Kernel.apply(d)`` on squared scaled distances ``d``; ``rbf`` puts
    ``exp(-d / 2)`` there (the lengthscale priors then read the same scaled distances)."""
    import torch

    kernels = {"matern52": _MATERN52, "rbf": lambda sqdist: torch.exp(-0.5 * sqdist)}
    optuna_gp.Matern52Kernel.apply = staticmethod(kernels[name]) if name != "matern52" else _MATERN52


class FadingTiedPrior(TiedLengthscalePrior):
    """Tied lengthscales whose pull fades past ``fade_from`` points: ``strength * min(1, fade_from / n) ** power``."""

    def __init__(self, strength: float, fade_from: int, power: float) -> None:
        super().__init__(strength)
        self.fade_from, self.power = fade_from, power

    def pull(self, n_points: int) -> float:
        return self.strength * min(1.0, self.fade_from / n_points) ** self.power


class PerPointTiedPrior(TiedLengthscalePrior):
    """Tied lengthscales with a pull of ``strength / n`` for n training points: it fades as results arrive."""

    def pull(self, n_points: int) -> float:
        return self.strength / n_points


def _model_pending_only(sampler: Any) -> None:
    """Only running trials whose parameters the GP chose count as pending (not the Sobol start-up's)."""
    impl = sampler._sample_relative_impl

    def sample_relative_impl(study: Any, completed: list, running: list, space: Any) -> Any:
        running = [t for t in running if any(k.startswith(_RELATIVE_PARAMS_KEY) for k in t.system_attrs)]
        return impl(study, completed, running, space)

    sampler._sample_relative_impl = sample_relative_impl


def _believer_acquisition(sampler: Any, how: str, ratio: float) -> None:
    """With ``ratio`` x completed or more trials in flight, pending trials are treated as results whose
    values are a lie -- ``kb``: the GP's posterior mean there (kriging believer, hyperparameters kept),
    ``max``: the worst result so far, ``mean``: the mean result -- and the acquisition is plain LogEI on
    the GP conditioned on them (W&B's engine imputes its running runs this way); otherwise qLogEI as usual."""
    import numpy as np
    import optuna._gp.acqf as acqf_module
    import torch
    from optuna._gp.gp import GPRegressor

    get_acqf = sampler._get_acqf_and_best_params

    def get_acqf_and_best_params(completed: list, gprs: list, space: Any, X: Any, X_running: Any, Y: Any) -> Any:
        if X_running is None or len(X_running) < ratio * len(completed):
            return get_acqf(completed, gprs, space, X, X_running, Y)
        gpr = gprs[0]
        if how == "kb":
            lies = gpr.posterior(torch.from_numpy(X_running))[0].detach()
        else:
            value = Y[:, 0].min() if how == "max" else Y[:, 0].mean()   # scores: larger is better
            lies = torch.full((len(X_running),), float(value), dtype=torch.float64)
        believer = GPRegressor(is_categorical=gpr._is_categorical,
                               X_train=torch.cat([gpr._X_train, torch.from_numpy(X_running)]),
                               y_train=torch.cat([gpr._y_train.squeeze(-1), lies]),
                               inverse_squared_lengthscales=gpr.inverse_squared_lengthscales,
                               kernel_scale=gpr.kernel_scale, noise_var=gpr.noise_var)
        believer._cache_matrix()
        threshold = Y[:, 0].max()
        best = X[np.argmax(Y[:, 0]), np.newaxis]
        return acqf_module.LogEI(gpr=believer, search_space=space, threshold=threshold), best

    sampler._get_acqf_and_best_params = get_acqf_and_best_params


def _thompson_in_trust_region(sampler: Any, n_candidates: int) -> None:
    """While crowded, pick by Thompson sampling in the trust region (TuRBO's batch rule): one joint draw of the
    GP's posterior over ``n_candidates`` points of the box, and its best point; no fantasies of the trials in flight."""
    import numpy as np
    import torch

    optimize = sampler._optimize_acqf

    def optimize_acqf(acqf: Any, best_params: Any) -> Any:
        if not (sampler.trust_region and sampler._crowded) or best_params is None:
            return optimize(acqf, best_params)
        rng = sampler._rng.rng
        xs = bayes.trust_region_candidates(acqf.search_space, best_params[0], sampler.trust_region, rng, n=n_candidates)
        gpr = sampler._gprs_cache_list[0]
        with torch.no_grad():
            mean, cov = gpr.posterior(torch.from_numpy(xs), joint=True)
        cov = cov.numpy() + 1e-9 * np.eye(len(xs))
        chol = np.linalg.cholesky(cov + 1e-6 * np.mean(np.diag(cov)) * np.eye(len(xs)))
        draw = mean.numpy() + chol @ rng.standard_normal(len(xs))
        return xs[int(np.argmax(draw))]       # Optuna's GP models scores: larger is better

    sampler._optimize_acqf = optimize_acqf


def _sobol_while_outnumbered(sampler: Any, ratio: float) -> None:
    """The trial takes its Sobol point while fewer than ``ratio`` x (trials in flight) have completed."""
    import optuna

    relative = sampler.sample_relative

    def sample_relative(study: Any, trial: Any, search_space: Any) -> Any:
        trials = study._get_trials(deepcopy=False, use_cache=False)
        done = sum(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
        running = sum(t.state == optuna.trial.TrialState.RUNNING for t in trials) - 1   # not this one
        if done < ratio * running:
            return {}
        return relative(study, trial, search_space)

    sampler.sample_relative = sample_relative


def _candidate_acquisition(sampler: Any, n_candidates: int, below: int) -> None:
    """While fewer than ``below`` trials have completed, maximise the acquisition over ``n_candidates``
    random points only (as W&B's engine does), with no gradient search towards the bounds."""
    impl, optimize = sampler._sample_relative_impl, sampler._optimize_acqf

    def sample_relative_impl(study: Any, completed: list, running: list, space: Any) -> Any:
        sampler._n_completed = len(completed)
        return impl(study, completed, running, space)

    def optimize_acqf(acqf: Any, best_params: Any) -> Any:
        if sampler._n_completed >= below:
            return optimize(acqf, best_params)
        xs = acqf.search_space.sample_normalized_params(n_candidates, rng=sampler._rng.rng)
        return xs[int(acqf.eval_acqf_no_grad(xs).argmax())]

    sampler._sample_relative_impl, sampler._optimize_acqf = sample_relative_impl, optimize_acqf


def _far_exploration(sampler: Any, radius: float, n_candidates: int = 4096) -> None:
    """The explore trials (every ``explore_every``-th) maximise the acquisition over random points at least
    ``radius`` (max-norm over the non-categorical parameters, normalised coordinates) from the best trial,
    instead of taking the next Sobol point: exploration steered by the model, away from the incumbent's basin."""
    import numpy as np
    import optuna

    optimize = sampler._optimize_acqf
    sampler._far = False

    def sample_relative(study: Any, trial: Any, search_space: Any) -> Any:
        if sampler.explores(trial.number):
            sampler._far = True
            try:
                return optuna.samplers.GPSampler.sample_relative(sampler, study, trial, search_space)
            finally:
                sampler._far = False
        return type(sampler).sample_relative(sampler, study, trial, search_space)

    def optimize_acqf(acqf: Any, best_params: Any) -> Any:
        if not sampler._far or best_params is None:
            return optimize(acqf, best_params)
        space = acqf.search_space
        xs = space.sample_normalized_params(n_candidates, rng=sampler._rng.rng)
        ordered = ~space.is_categorical
        far = np.abs(xs[:, ordered] - best_params[0][ordered]).max(axis=1) >= radius
        xs = xs[far] if far.any() else xs
        return xs[int(acqf.eval_acqf_no_grad(xs).argmax())]

    sampler.sample_relative, sampler._optimize_acqf = sample_relative, optimize_acqf


def botorch_log_prior(gpr: Any) -> Any:
    """BoTorch 0.18's default GP priors (Hvarfner et al. 2024) on Optuna's GP: log-normal lengthscales
    scaled with the dimension, log-normal noise LogNormal(-4, 1); Optuna's Gamma(2, 1) kernel scale."""
    import math

    import torch

    dims = len(gpr.inverse_squared_lengthscales)
    log_lengthscale = -0.5 * torch.log(gpr.inverse_squared_lengthscales)
    log_noise = torch.log(gpr.noise_var)
    loc, scale = math.sqrt(2) + math.log(dims) / 2, math.sqrt(3)
    return (   # log-normal densities of the lengthscales and the noise (mode exp(loc - scale^2)), as GPyTorch's
        -(log_lengthscale + (log_lengthscale - loc) ** 2 / (2 * scale**2)).sum()
        - log_noise - (log_noise + 4.0) ** 2 / 2
        + torch.log(gpr.kernel_scale) - gpr.kernel_scale
    )


def quiet_noise_log_prior(rate: float) -> Any:
    """Optuna's default prior with the noise variance's Gamma(1.1, 30) rate replaced (larger: less noise)."""
    import torch

    def log_prior(gpr: Any) -> Any:
        return (
            -(0.1 / gpr.inverse_squared_lengthscales + 0.1 * gpr.inverse_squared_lengthscales).sum()
            + torch.log(gpr.kernel_scale) - gpr.kernel_scale
            + 0.1 * torch.log(gpr.noise_var) - rate * gpr.noise_var
        )

    return log_prior
