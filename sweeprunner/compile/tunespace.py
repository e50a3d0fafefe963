"""A sweep's parameters as a Ray Tune search space (``param_space``) with W&B's semantics.

``to_tune_space(spec)`` returns the nested dict of Ray Tune domains a Ray user would write,
and ``tune_space_code(spec)`` the same as Python to paste (``plan --tune``). Where a stock Ray
domain draws exactly as W&B does, it is used:

| W&B | Ray Tune |
|---|---|
| uniform, log_uniform_values (and legacy log_uniform, read as values) | ``tune.uniform``, ``tune.loguniform`` |
| int_uniform min..max (both included) | ``tune.randint(min, max + 1)`` (Ray's upper bound is exclusive) |
| categorical | ``tune.choice`` (``tune.grid_search`` for method grid) |
| normal | ``tune.randn`` |
| q_uniform / q_log_uniform_values / q_normal, float q, bounds on the q grid | ``tune.quniform`` / ``tune.qloguniform`` / ``tune.qrandn`` |
| constant | the value |

Ray has no beta, weighted categorical or log-normal, and its q rounding first snaps the bounds
inward to the q grid and returns floats, while W&B rounds a draw on the unsnapped bounds and
returns ints for an int ``q``. Those parameters get :func:`wandb_domain`: a Ray ``Float`` (or
``Categorical``) domain over the same support whose sampler draws ``u ~ U(0, 1)`` and maps it
through W&B's inverse CDF, exactly as sweeprunner's random search. Ray searchers (Optuna,
HyperOpt, ...) see its support as a uniform range; Ray's random/grid generator draws W&B's values.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from ray import tune
from ray.tune.search import ConcurrencyLimiter
from ray.tune.search.sample import Categorical, Domain, Float, Uniform

from sweeprunner.config import distributions as d
from sweeprunner.config.spec import ParamGroup, SweepSpec
from sweeprunner.errors import Issue, SweepConfigError

#: The most values one ``tune.grid_search`` list may hold (a grid sweep's axis).
MAX_GRID_AXIS = 10_000


class WandbSampler(Uniform):
    """Draws ``dist.ppf(u)`` with ``u`` uniform: W&B's own formula for its distribution.

    A subclass of Ray's ``Uniform`` sampler, so searchers that convert Tune spaces treat the
    domain as a uniform range over its support.
    """

    def __init__(self, dist: d.Distribution) -> None:
        self.dist = dist

    def sample(self, domain: Domain, config: Any = None, size: int = 1, random_state: Any = None) -> Any:
        rng = random_state if random_state is not None else np.random.default_rng()
        items = [self.dist.ppf(float(u)) for u in np.atleast_1d(rng.uniform(0.0, 1.0, size=size))]
        return items if len(items) > 1 else items[0]

    def __str__(self) -> str:
        return f"W&B {self.dist.wandb_name}"


class WandbFloat(Float):
    """A Float domain that keeps W&B's value types (an int ``q`` gives ints)."""

    def cast(self, value: Any) -> Any:
        return value


class WandbCategorical(Categorical):
    """A Categorical domain drawn with W&B's probabilities."""


def wandb_domain(param: Mapping[str, Any]) -> Domain:
    """A Ray Tune domain for one W&B parameter spec, e.g. ``wandb_domain({"distribution": "beta", "a": 2, "b": 5})``."""
    spec = _parse_leaf(param)
    (_, dist), = list(spec.parameters.leaves())
    return _custom(dist)


def _parse_leaf(param: Mapping[str, Any]) -> SweepSpec:
    from sweeprunner.config.parse import parse_sweep

    return parse_sweep({"method": "random", "parameters": {"x": dict(param)}})


def _custom(dist: d.Distribution) -> Domain:
    if isinstance(dist, d.WeightedCategorical):
        domain: Domain = WandbCategorical(list(dist.values))
    elif isinstance(dist, d.Beta):
        domain = WandbFloat(0.0, 1.0)
    elif isinstance(dist, d.Normal):
        domain = WandbFloat(0.0 if dist.log else -math.inf, math.inf)
    elif isinstance(dist, d.Uniform | d.LogUniform):
        domain = WandbFloat(dist.low, dist.high)
    else:
        raise TypeError(f"no custom domain for {dist.wandb_name}")
    domain.set_sampler(WandbSampler(dist))
    return domain


def _on_grid(x: float, q: float) -> bool:
    return math.isclose(x / q, round(x / q), rel_tol=0.0, abs_tol=1e-9)


def _raw(dist: d.Distribution) -> dict[str, Any]:
    """The W&B parameter spec of a record (bounds as values: legacy exponents already read)."""
    if isinstance(dist, d.WeightedCategorical):
        return {"values": list(dist.values), "probabilities": list(dist.probabilities)}
    if isinstance(dist, d.Beta):
        return {"distribution": dist.wandb_name, "a": dist.a, "b": dist.b, **({"q": dist.q} if dist.q else {})}
    if isinstance(dist, d.Normal):
        return {"distribution": dist.wandb_name, "mu": dist.mu, "sigma": dist.sigma, **({"q": dist.q} if dist.q else {})}
    if isinstance(dist, d.LogUniform):
        return {"distribution": "q_log_uniform_values", "min": dist.low, "max": dist.high, "q": dist.q}
    assert isinstance(dist, d.Uniform)
    return {"distribution": "q_uniform", "min": dist.low, "max": dist.high, "q": dist.q}


def _leaf(dist: d.Distribution, grid: bool, where: str) -> tuple[Any, str]:
    """(the Ray Tune domain or constant, the Python that builds it)."""
    if isinstance(dist, d.Constant):
        return dist.value, repr(dist.value)
    if grid:
        if dist.grid_size() > MAX_GRID_AXIS:
            raise SweepConfigError.single(("parameters", where), f"{dist.grid_size():,} grid values: more than the "
                                          f"{MAX_GRID_AXIS:,} a tune.grid_search list may hold here")
        values = [dist.grid_value(i) for i in range(dist.grid_size())]
        return tune.grid_search(values), f"tune.grid_search({values!r})"
    if isinstance(dist, d.Categorical):
        return tune.choice(list(dist.values)), f"tune.choice({list(dist.values)!r})"
    if isinstance(dist, d.IntUniform):
        return tune.randint(dist.low, dist.high + 1), f"tune.randint({dist.low}, {dist.high + 1})"
    q = getattr(dist, "q", None)
    float_q = isinstance(q, float)
    if isinstance(dist, d.Uniform):
        if q is None:
            return tune.uniform(dist.low, dist.high), f"tune.uniform({dist.low!r}, {dist.high!r})"
        if float_q and _on_grid(dist.low, q) and _on_grid(dist.high, q):
            return tune.quniform(dist.low, dist.high, q), f"tune.quniform({dist.low!r}, {dist.high!r}, {q!r})"
    if isinstance(dist, d.LogUniform):
        if q is None:
            return tune.loguniform(dist.low, dist.high), f"tune.loguniform({dist.low!r}, {dist.high!r})"
        if float_q and _on_grid(dist.low, q) and _on_grid(dist.high, q):
            return (tune.qloguniform(dist.low, dist.high, q),
                    f"tune.qloguniform({dist.low!r}, {dist.high!r}, {q!r})")
    if isinstance(dist, d.Normal) and not dist.log and dist.sigma > 0:
        if q is None:
            return tune.randn(dist.mu, dist.sigma), f"tune.randn({dist.mu!r}, {dist.sigma!r})"
        if float_q:
            return tune.qrandn(dist.mu, dist.sigma, q), f"tune.qrandn({dist.mu!r}, {dist.sigma!r}, {q!r})"
    return _custom(dist), f"wandb_domain({_raw(dist)!r})"


def _space(group: ParamGroup, grid: bool, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    space: dict[str, Any] = {}
    code: dict[str, Any] = {}
    for name, node in group.items:
        where = f"{prefix}{name}"
        if isinstance(node, ParamGroup):
            space[name], code[name] = _space(node, grid, f"{where}.parameters.")
        else:
            space[name], code[name] = _leaf(node, grid, where)
    return space, code


def to_tune_space(spec: SweepSpec) -> dict[str, Any]:
    """The sweep's nested ``param_space`` of Ray Tune domains (``tune.grid_search`` lists for grid)."""
    return _space(spec.parameters, spec.method == "grid", "")[0]


def tune_space_code(spec: SweepSpec) -> str:
    """:func:`to_tune_space` as Python to paste (``plan --tune``)."""
    code = _space(spec.parameters, spec.method == "grid", "")[1]
    uses_custom = "wandb_domain(" in repr(code)

    def render(node: dict[str, Any], indent: int) -> str:
        pad = "    " * (indent + 1)
        items = [f"{pad}{name!r}: {render(v, indent + 1) if isinstance(v, dict) else v}," for name, v in node.items()]
        return "{\n" + "\n".join(items) + "\n" + "    " * indent + "}"

    head = ["from ray import tune"]
    if uses_custom:
        head.append("from sweeprunner.compile.tunespace import wandb_domain  # W&B's beta, weighted, log-normal, q")
    note = ("# grid: the same points as W&B's grid; Ray enumerates them in its own order" if spec.method == "grid"
            else "# random draws follow W&B's distributions; a Ray searcher searches each domain's range")
    return "\n".join([*head, "", note, f"param_space = {render(code, 0)}"]) + "\n"


# ---------------------------------------------------------------------------- any Ray searcher

class _WithConstants(ConcurrencyLimiter):
    """A concurrency limit around a Ray searcher, adding the sweep's constants to each suggestion.

    Ray's searchers drop the constant entries of the space they convert; Tuner would merge them
    from ``param_space``, which sweeprunner leaves empty (its searchers carry the space).
    """

    def __init__(self, searcher: Any, max_concurrent: int, constants: dict[str, Any]) -> None:
        super().__init__(searcher, max_concurrent=max_concurrent)
        self.constants = constants

    def suggest(self, trial_id: str) -> Any:
        config = super().suggest(trial_id)
        return _merge(copy.deepcopy(self.constants), config) if isinstance(config, dict) else config


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        base[key] = _merge(base.get(key, {}), value) if isinstance(value, Mapping) else value
    return base


def _split(space: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(domains, constants, names of unbounded custom domains) of a nested space."""
    domains: dict[str, Any] = {}
    constants: dict[str, Any] = {}
    unbounded: list[str] = []
    for name, value in space.items():
        if isinstance(value, Mapping) and "grid_search" not in value:
            domains[name], constants[name], inner = _split(value, f"{prefix}{name}.parameters.")
            unbounded += inner
            domains = {k: v for k, v in domains.items() if v}
            constants = {k: v for k, v in constants.items() if v != {}}
        elif isinstance(value, Domain):
            domains[name] = value
            if isinstance(value, WandbFloat) and not (math.isfinite(value.lower) and math.isfinite(value.upper)):
                unbounded.append(f"{prefix}{name}")
        else:
            constants[name] = value
    return domains, constants, unbounded


#: The default concurrency of a Ray searcher (as bayes): each suggestion should see earlier results.
TUNE_SEARCHER_CONCURRENCY = 4


def tune_searcher(spec: SweepSpec, num_samples: int) -> Any:
    """``sweeprunner.search_alg``: Ray's OptunaSearch or HyperOptSearch over :func:`to_tune_space`."""
    domains, constants, unbounded = _split(to_tune_space(spec))
    name = spec.runner.search_alg
    if unbounded:
        raise SweepConfigError([Issue(("parameters", *where.split(".")), f"has no bounds, and Ray's {name} searcher "
                                      "searches a range: use search_alg: default (bayes searches it through its CDF)")
                                for where in unbounded], source=spec.source)
    assert spec.metric is not None
    seed = spec.runner.seed
    try:
        if name == "optuna":
            from ray.tune.search.optuna import OptunaSearch

            searcher = OptunaSearch(space=domains, metric=spec.metric.name, mode=spec.metric.mode, seed=seed)
        else:
            try:
                import hyperopt  # noqa: F401
            except ImportError:
                raise SweepConfigError.single(("sweeprunner", "search_alg"), "hyperopt is not installed: pip install "
                                              "'sweeprunner[hyperopt]' (or hyperopt)", source=spec.source) from None
            from ray.tune.search.hyperopt import HyperOptSearch

            searcher = HyperOptSearch(space=HyperOptSearch.convert_search_space(domains), metric=spec.metric.name,
                                      mode=spec.metric.mode,
                                      random_state_seed=seed)
    except ValueError as exc:  # Ray's space conversion: a domain this searcher can't search
        raise SweepConfigError.single(("sweeprunner", "search_alg"), f"{name}: {exc}", source=spec.source) from None
    limit = spec.runner.max_concurrent_trials or TUNE_SEARCHER_CONCURRENCY
    return _WithConstants(searcher, limit if num_samples < 0 else min(limit, num_samples), constants)
