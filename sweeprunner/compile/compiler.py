"""Validated :class:`SweepSpec` -> the Ray Tune objects that run it.

| sweep | Ray Tune |
|---|---|
| grid / random | :class:`PlannedSearcher` over the lazy plan ``sampling.py`` makes (``GridPlan``/``RandomPlan``) |
| bayes | ``ConcurrencyLimiter(BackgroundSuggester(OptunaSearch(<define-by-run space>, sampler)))`` (compile/bayes.py) |
| sweeprunner.search_alg: optuna / hyperopt | that Ray searcher over ``tunespace.to_tune_space(spec)`` |
| no run_cap or count (random/bayes) | ``num_samples=-1``: until stopped, as W&B's agent |
| early_terminate hyperband | :class:`WandbHyperbandScheduler` (W&B's rule, stop only) |
| early_terminate asha / sync_hyperband / median | ``AsyncHyperBandScheduler`` / ``HyperBandScheduler`` / ``MedianStoppingRule`` |
| metric.target | :class:`TargetStopper` |
| sweeprunner.resources | ``PlacementGroupFactory([{CPU, GPU, accelerator_type:X}])`` |
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from sweeprunner.compile.sampling import GridPlan, RandomPlan, grid_size
from sweeprunner.config.distributions import (
    Categorical,
    Constant,
    Distribution,
    WeightedCategorical,
)
from sweeprunner.config.spec import LeafPath, SweepSpec

#: Default cap on concurrently running bayes trials: none, the cluster is filled (one trial per free
#: slot, like one W&B agent per GPU). The GP is batch-aware (qLogEI over the trials in flight), so
#: parallel suggestions spread out; ``max_concurrent_trials`` still caps it. Trade-off measured in
#: docs/benchmarks.md (fewer trials in flight find better values within a small budget).
DEFAULT_BAYES_CONCURRENCY: int | None = None
#: Ray's ``num_samples`` for a sweep without a budget: run until the searcher or the user stops it.
UNTIL_STOPPED = -1
#: ``max_t`` for ASHA when the sweep gives no max_iter: large enough never to cut a trial short.
UNBOUNDED_REPORTS = 10**6


class DefineByRunSpace:
    """Optuna define-by-run space: asks the trial for each leaf, returns the real values.

    Ray's OptunaSearch merges the returned dict over the captured suggestions, so the trial's
    config holds real values (a normal's draw, not the uniform number behind it).
    """

    def __init__(self, leaves: list[tuple[LeafPath, Distribution]]) -> None:
        self.leaves = leaves

    def __call__(self, trial: Any) -> dict[str, Any]:
        values = {}
        for path, dist in self.leaves:
            key = "/".join(path)
            values[key] = dist.value if isinstance(dist, Constant) else dist.suggest(trial, key)
        return values


@dataclass(frozen=True)
class CompiledSweep:
    """Everything ``Tuner`` needs, built from one spec."""

    spec: SweepSpec
    trials: int | None  # None: until stopped (no run_cap or count, as W&B's agent)
    num_samples: int  # Ray's num_samples: ``trials``, or -1 (Ray's "until the searcher is done")
    points: GridPlan | RandomPlan | None  # grid/random configs, computed lazily
    search_alg: Any
    scheduler: Any
    stopper: Any
    resources: dict[str, float]
    max_concurrent_trials: int | None

    def tune_config(self, *, reuse_actors: bool = False) -> Any:
        from ray.tune import TuneConfig

        metric = self.spec.metric
        return TuneConfig(
            metric=metric.name if metric else None,
            mode=metric.mode if metric else None,
            search_alg=self.search_alg,
            scheduler=self.scheduler,
            num_samples=self.num_samples,
            # bayes already limits concurrency in its ConcurrencyLimiter
            max_concurrent_trials=None if self.spec.method == "bayes" else self.max_concurrent_trials,
            reuse_actors=reuse_actors,
        )

    def placement_group(self) -> Any:
        from ray.tune import PlacementGroupFactory

        return PlacementGroupFactory([self.resources])


def trial_count(spec: SweepSpec) -> int | None:
    """How many trials the sweep runs; None means until stopped.

    grid: its size capped by ``run_cap`` (computed, not enumerated). random/bayes: the smaller
    of ``run_cap`` and ``sweeprunner.count`` (``--count``); with neither, None: W&B's agent
    runs such a sweep until it is stopped, and so does sweeprunner.
    """
    if spec.method == "grid":
        size = grid_size(spec)
        return min(size, spec.run_cap) if spec.run_cap else size
    limits = [n for n in (spec.run_cap, spec.runner.count) if n]
    return min(limits) if limits else None


def trial_resources(spec: SweepSpec) -> dict[str, float]:
    """The resource bundle of one trial, in Ray's names."""
    res = spec.runner.resources
    bundle = {"CPU": res.cpu}
    if res.gpu:
        bundle["GPU"] = res.gpu
    if res.accelerator_type:
        bundle[f"accelerator_type:{res.accelerator_type}"] = 0.001
    return bundle


def bayes_sampler(spec: SweepSpec, num_samples: int) -> str:
    """The Optuna sampler bayes uses: ``auto`` (the default) is the GP at every budget.

    Chosen with bench/search_quality.py: GP beats TPE on Branin, Hartmann6 and a mixed space at
    25 and 50 trials, and at every prefix of a 300-trial sweep (where TPE only catches up on
    Hartmann6); it beats W&B's bayes at 50. The 100-point cap keeps its suggestion under ~0.1 s
    however long the sweep runs. See docs/benchmarks.md.
    """
    choice = spec.runner.bayes_sampler
    return "gp" if choice == "auto" else choice


def build_search_alg(spec: SweepSpec, points: GridPlan | RandomPlan | None, num_samples: int,
                     records_dir: str | None = None) -> Any:
    """grid/random replay their planned points; bayes asks Optuna."""
    if spec.runner.search_alg != "default":
        from sweeprunner.compile.tunespace import tune_searcher

        return tune_searcher(spec, num_samples)
    if spec.method in ("grid", "random"):
        from sweeprunner.compile.searchers import PlannedSearcher

        return PlannedSearcher(points if points is not None else [], records_dir=records_dir)
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    from sweeprunner.compile.bayes import BackgroundSuggester, make_sampler

    leaves = list(spec.parameters.leaves())
    dims = sum(1 for _, dist in leaves if not isinstance(dist, Constant))
    categorical = any(isinstance(dist, (Categorical, WeightedCategorical)) for _, dist in leaves)
    sampler = make_sampler(bayes_sampler(spec, num_samples), spec.runner.seed, dims, num_samples, categorical)
    searcher = BackgroundSuggester(OptunaSearch(space=DefineByRunSpace(leaves), metric=spec.metric.name,
                                                mode=spec.metric.mode, sampler=sampler))
    # the GP fits in a worker thread: Tune's event loop keeps handling results meanwhile
    limit = spec.runner.max_concurrent_trials or DEFAULT_BAYES_CONCURRENCY
    if limit is None and num_samples == UNTIL_STOPPED:
        return searcher  # fill the cluster, for as long as the sweep runs
    limit = limit or num_samples
    return ConcurrencyLimiter(searcher, max_concurrent=limit if num_samples == UNTIL_STOPPED else min(limit, num_samples))


def quiet_search_libraries() -> None:
    """Process-wide logging settings for a sweep's entry point (the CLI, the Python sweep API), never
    a side effect of compiling: Optuna's per-trial INFO lines off, and Ray's warning that the
    define-by-run call is slow silenced (Ray times it, and it includes the sampler's model fit,
    GP: ~0.1-1 s)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", message="Define-by-run function passed in the `space` argument")


def build_scheduler(spec: SweepSpec, experiment_dir: str | None = None) -> Any:
    """early_terminate -> a Ray scheduler, or None."""
    et = spec.early_terminate
    if et is None or et.type == "none":
        return None
    if et.type == "hyperband":
        from sweeprunner.compile.schedulers import WandbHyperbandScheduler

        return WandbHyperbandScheduler(bands=et.bands, eta=et.eta, strict=et.strict, experiment_dir=experiment_dir)
    from ray.tune.schedulers import AsyncHyperBandScheduler, HyperBandScheduler, MedianStoppingRule

    if et.type == "asha":
        return AsyncHyperBandScheduler(time_attr="training_iteration", grace_period=et.min_iter or 1,
                                       max_t=et.max_iter or UNBOUNDED_REPORTS, reduction_factor=et.eta, brackets=1)
    if et.type == "sync_hyperband":
        return HyperBandScheduler(time_attr="training_iteration", max_t=et.max_iter, reduction_factor=et.eta)
    return MedianStoppingRule(time_attr="training_iteration", grace_period=et.min_iter or 1, min_samples_required=3)


def build_stopper(spec: SweepSpec) -> Any:
    if spec.metric is None or spec.metric.target is None:
        return None
    from sweeprunner.compile.schedulers import TargetStopper

    return TargetStopper(spec.metric.name, spec.metric.target, spec.metric.mode)


def planned_points(spec: SweepSpec, trials: int | None = None) -> GridPlan | RandomPlan | None:
    """The configs grid/random will run, in order, as a lazy plan (None for bayes or a Ray searcher)."""
    if spec.runner.search_alg != "default":
        return None
    if spec.method == "grid":
        return GridPlan(spec)
    if spec.method == "random":
        return RandomPlan(spec, trials if trials is not None else trial_count(spec), spec.runner.seed)
    return None


def compile_sweep(spec: SweepSpec, *, experiment_dir: str | None = None) -> CompiledSweep:
    """Build the Ray Tune objects for ``spec``; raises :class:`SweepConfigError` for a grid too big to run."""
    points = planned_points(spec)
    trials = len(points) if isinstance(points, GridPlan) else trial_count(spec)
    num_samples = UNTIL_STOPPED if trials is None else trials
    return CompiledSweep(
        spec=spec,
        trials=trials,
        num_samples=num_samples,
        points=points,
        search_alg=build_search_alg(spec, points, num_samples, experiment_dir),
        scheduler=build_scheduler(spec, experiment_dir),
        stopper=build_stopper(spec),
        resources=trial_resources(spec),
        max_concurrent_trials=spec.runner.max_concurrent_trials,
    )
