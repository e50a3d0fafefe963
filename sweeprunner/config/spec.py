"""The validated sweep: frozen records built by ``parse.py`` and read by everything after it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from sweeprunner.config.distributions import Distribution

Method = Literal["grid", "random", "bayes"]
Goal = Literal["minimize", "maximize"]
StopType = Literal["hyperband", "asha", "sync_hyperband", "median", "none"]
LeafPath = tuple[str, ...]


@dataclass(frozen=True)
class ParamGroup:
    """A ``parameters:`` block: names mapped to distributions or nested groups, sorted by name."""

    items: tuple[tuple[str, Distribution | ParamGroup], ...]

    def leaves(self, prefix: LeafPath = ()) -> Iterator[tuple[LeafPath, Distribution]]:
        """Every leaf with its path, depth first, names sorted at each level (W&B's order)."""
        for name, node in self.items:
            if isinstance(node, ParamGroup):
                yield from node.leaves((*prefix, name))
            else:
                yield (*prefix, name), node


@dataclass(frozen=True)
class Metric:
    """What the sweep optimises."""

    name: str
    goal: Goal = "minimize"
    target: float | None = None
    impute: Literal["worst", "best", "latest"] = "worst"

    @property
    def mode(self) -> Literal["min", "max"]:
        return "min" if self.goal == "minimize" else "max"


@dataclass(frozen=True)
class EarlyTerminate:
    """Early stopping. ``hyperband`` is W&B's rule; the other types are Ray schedulers."""

    type: StopType
    min_iter: int | None = None
    max_iter: int | None = None
    s: int | None = None
    eta: int | float = 3.0
    strict: bool = True

    @property
    def bands(self) -> list[int]:
        """The report counts at which trials are judged (W&B's hyperband bands)."""
        from sweeprunner.compile.hyperband import wandb_bands

        return wandb_bands(min_iter=self.min_iter, max_iter=self.max_iter, s=self.s, eta=self.eta)


@dataclass(frozen=True)
class Resources:
    """What one trial is given."""

    cpu: float = 1.0
    gpu: float = 0.0
    accelerator_type: str | None = None


@dataclass(frozen=True)
class RunnerSettings:
    """sweeprunner's own keys (the ``sweeprunner:`` block)."""

    trainable: str | None = None
    resources: Resources = field(default_factory=Resources)
    max_concurrent_trials: int | None = None
    count: int | None = None
    seed: int = 0
    bayes_sampler: Literal["auto", "tpe", "gp", "random"] = "auto"
    search_alg: Literal["default", "optuna", "hyperopt"] = "default"  # a Ray Tune searcher over to_tune_space
    storage: str | None = None
    max_failures: int = 2
    log_uniform_bounds: Literal["auto", "exponents"] = "auto"
    wandb_shim: bool = False
    log_to_wandb: bool = False  # also send runs to W&B (Ray's WandbLoggerCallback; needs real wandb)
    trial_timeout_s: float | None = None  # a trial running longer is ended and counts as failed


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep config."""

    method: Method
    parameters: ParamGroup
    metric: Metric | None = None
    early_terminate: EarlyTerminate | None = None
    run_cap: int | None = None
    runner: RunnerSettings = field(default_factory=RunnerSettings)
    name: str | None = None
    description: str | None = None
    program: str | None = None
    command: tuple[str, ...] | None = None
    project: str | None = None
    entity: str | None = None
    warnings: tuple[str, ...] = ()
    source: str | None = None
    raw: Any = None  # the mapping it was parsed from (for best.yaml and plans)
