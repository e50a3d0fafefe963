"""Validated :class:`SweepSpec` -> the Ray Tune objects that run it.

| sweep | Ray Tune |
|---|---|
| grid / random | :class:`PlannedSearcher` over the configs ``sampling.py`` plans |
| bayes | ``ConcurrencyLimiter(BackgroundSuggester(OptunaSearch(<define-by-run space>, sampler)))`` (compile/bayes.py) |
| early_terminate hyperband | :class:`WandbHyperbandScheduler` (W&B's rule, stop only) |
| early_terminate asha / sync_hyperband / median | ``AsyncHyperBandScheduler`` / ``HyperBandScheduler`` / ``MedianStoppingRule`` |
| metric.target | :class:`TargetStopper` |
| sweeprunner.resources | ``PlacementGroupFactory([{CPU, GPU, accelerator_type:X}])`` |
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from sweeprunner.compile.sampling import grid_configs, random_configs
from sweeprunner.config.distributions import Constant, Distribution
from sweeprunner.config.spec import LeafPath, SweepSpec
from sweeprunner.errors import SweepConfigError

#: Default cap on concurrently running bayes trials: none, the cluster is filled (one trial per free
#: slot, like one W&B agent per GPU). The GP is batch-aware (qLogEI over the trials in flight), so
#: parallel suggestions spread out; ``max_concurrent_trials`` still caps it. Trade-off measured in
#: docs/benchmarks.md (fewer trials in flight find better values within a small budget).
DEFAULT_BAYES_CONCURRENCY: int | None = None
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
    num_samples: int
    points: tuple[dict[str, Any], ...] | None
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


def trial_count(spec: SweepSpec, grid_size: int | None = None) -> int:
    """How many trials run; random/bayes without run_cap or count is a config error."""
    if spec.method != "grid" and not (spec.run_cap or spec.runner.count):
        raise SweepConfigError.single(
            ("run_cap",), f"{spec.method} search needs a trial budget: set run_cap, sweeprunner.count, "
                          "or pass --count N", source=spec.source)
    return spec.trial_count(grid_size)


def trial_resources(spec: SweepSpec) -> dict[str, float]:
    """The resource bundle of one trial, in Ray's names."""
    res = spec.runner.resources
    bundle = {"CPU": res.cpu}
    if res.gpu:
        bundle["GPU"] = res.gpu
    if res.accelerator_type:
        bundle[f"accelerator_type:{res.accelerator_type}"] = 0.001
    return bundle


#: Above this many trials ``bayes_sampler: auto`` picks TPE: GP's suggestion cost grows with the trials.
GP_MAX_TRIALS = 200


def bayes_sampler(spec: SweepSpec, num_samples: int) -> str:
    """The Optuna sampler bayes uses. ``auto`` (the default) is GP up to 200 trials, TPE above.

    Chosen with bench/search_quality.py: at 50 trials GP beats W&B's bayes on Branin, Hartmann6
    and a mixed space, TPE does not; GP's cost per suggestion (0.1-0.5 s at 50-200 trials, over
    1 s at 500) is why large sweeps get TPE (5-12 ms). See docs/benchmarks.md.
    """
    choice = spec.runner.bayes_sampler
    if choice == "auto":
        return "gp" if num_samples <= GP_MAX_TRIALS else "tpe"
    return choice


def build_search_alg(spec: SweepSpec, points: list[dict[str, Any]] | None, num_samples: int,
                     records_dir: str | None = None) -> Any:
    """grid/random replay their planned points; bayes asks Optuna."""
    if spec.method in ("grid", "random"):
        from sweeprunner.compile.searchers import PlannedSearcher

        return PlannedSearcher(points or [], records_dir=records_dir)
    import optuna
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    from sweeprunner.compile.bayes import BackgroundSuggester, make_sampler

    leaves = list(spec.parameters.leaves())
    dims = sum(1 for _, dist in leaves if not isinstance(dist, Constant))
    sampler = make_sampler(bayes_sampler(spec, num_samples), spec.runner.seed, dims)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Ray times the define-by-run call, which includes the sampler's own model fit (GP: ~0.1-1 s).
    warnings.filterwarnings("ignore", message="Define-by-run function passed in the `space` argument")
    searcher = OptunaSearch(space=DefineByRunSpace(leaves), metric=spec.metric.name,
                            mode=spec.metric.mode, sampler=sampler)
    limit = spec.runner.max_concurrent_trials or DEFAULT_BAYES_CONCURRENCY or num_samples
    # the GP fits in a worker thread: Tune's event loop keeps handling results meanwhile
    return ConcurrencyLimiter(BackgroundSuggester(searcher), max_concurrent=min(limit, num_samples))


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


def planned_points(spec: SweepSpec, num_samples: int | None = None) -> list[dict[str, Any]] | None:
    """The configs grid/random will run, in order (None for bayes)."""
    if spec.method == "grid":
        points = grid_configs(spec)
        return points[: spec.run_cap] if spec.run_cap else points
    if spec.method == "random":
        return random_configs(spec, num_samples if num_samples is not None else trial_count(spec), spec.runner.seed)
    return None


def compile_sweep(spec: SweepSpec, *, experiment_dir: str | None = None) -> CompiledSweep:
    """Build the Ray Tune objects for ``spec``; raises :class:`SweepConfigError` for a missing budget."""
    if spec.method == "grid":
        points = planned_points(spec)
        num_samples = len(points)
    else:
        num_samples = trial_count(spec)
        points = planned_points(spec, num_samples)
    return CompiledSweep(
        spec=spec,
        num_samples=num_samples,
        points=tuple(points) if points is not None else None,
        search_alg=build_search_alg(spec, points, num_samples, experiment_dir),
        scheduler=build_scheduler(spec, experiment_dir),
        stopper=build_stopper(spec),
        resources=trial_resources(spec),
        max_concurrent_trials=spec.runner.max_concurrent_trials,
    )
