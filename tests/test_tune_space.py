"""The compiler emits Ray Tune search spaces (issue 13): ``to_tune_space``, ``plan --tune``, and
random draws from the emitted space against W&B's own engine (the conformance harness)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ray import tune
from ray.tune.search.sample import Domain, Float, Integer

from sweeprunner.compile.sampling import grid_configs
from sweeprunner.compile.tunespace import WandbFloat, to_tune_space, tune_space_code, wandb_domain
from sweeprunner.config.parse import parse_sweep

try:
    from tests import oracle
    from tests.test_conformance_wandb import RANDOM_CASES, WANDB_SEED, N, _assert_same_distribution
except ImportError:  # pytest run without the repo root on sys.path
    import oracle  # type: ignore[no-redef]
    from test_conformance_wandb import RANDOM_CASES, WANDB_SEED, N, _assert_same_distribution  # type: ignore

REPO = Path(__file__).resolve().parents[1]
MIXED = {"method": "random", "parameters": {
    "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 0.1},
    "b": {"distribution": "q_beta", "a": 2, "b": 5, "q": 0.1},
    "w": {"values": ["a", "b"], "probabilities": [0.9, 0.1]},
    "n": {"distribution": "q_normal", "mu": 0, "sigma": 3, "q": 1},
    "qu": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.1},
    "opt": {"parameters": {"k": {"min": 2, "max": 8}, "c": {"value": 3}}}}}


def draws(domain: Domain, n: int, seed: int) -> list:
    """n draws as Ray's variant generator makes them (one value each, cast to the domain's type)."""
    rng = np.random.default_rng(seed)
    return [domain.cast(x) for x in domain.sample(size=n, random_state=rng)]


def test_space_is_nested_stock_domains_where_ray_matches_wandb():
    space = to_tune_space(parse_sweep(MIXED))
    assert space["opt"]["c"] == 3 and isinstance(space["opt"]["k"], Integer)
    assert (space["opt"]["k"].lower, space["opt"]["k"].upper) == (2, 9)  # W&B's max is included
    assert set(draws(space["opt"]["k"], 500, 0)) == set(range(2, 9))
    assert type(space["lr"]) is Float and type(space["qu"]) is Float
    assert isinstance(space["b"], WandbFloat) and isinstance(space["n"], WandbFloat)
    assert all(isinstance(v, int) for v in draws(space["n"], 50, 1))  # an int q gives ints, as W&B


def test_plan_tune_prints_python_that_builds_the_same_space(sweep_yaml):
    import yaml

    path = sweep_yaml(yaml.safe_dump(MIXED))
    done = subprocess.run([sys.executable, "-m", "sweeprunner", "plan", "--tune", str(path)], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == tune_space_code(parse_sweep(MIXED))
    namespace: dict = {}
    exec(done.stdout, namespace)  # paste-able
    pasted, ours = namespace["param_space"], to_tune_space(parse_sweep(MIXED))
    assert list(pasted) == list(ours) and type(pasted["b"]) is type(ours["b"])
    assert draws(pasted["b"], 50, 3) == draws(ours["b"], 50, 3) and draws(pasted["lr"], 5, 3) == draws(ours["lr"], 5, 3)


def test_grid_space_holds_wandbs_grid_points():
    spec = parse_sweep({"method": "grid", "parameters": {
        "a": {"values": [1, 2.0, 2]}, "q": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25},
        "c": {"value": "k"}}})
    space = to_tune_space(spec)
    assert space == {"a": tune.grid_search([1, 2]), "c": "k", "q": tune.grid_search([0.0, 0.25, 0.5, 0.75])}
    assert len(grid_configs(spec)) == 2 * 4


def test_wandb_domain_reads_a_wandb_parameter_spec():
    domain = wandb_domain({"values": ["x", "y"], "probabilities": [0.25, 0.75]})
    values = draws(domain, 4000, 0)
    assert set(values) == {"x", "y"} and 0.70 < values.count("y") / 4000 < 0.80


@pytest.mark.oracle
@pytest.mark.skipif(not oracle.available(), reason=oracle.SKIP_REASON)
def test_random_draws_from_the_emitted_space_match_wandb():
    """Every W&B distribution in the conformance cases, drawn from the emitted Ray Tune domain."""
    names = list(RANDOM_CASES)
    requests = [{"op": "random", "config": {"method": "random", "parameters": {"x": RANDOM_CASES[name][0]}},
                 "n": N, "seed": WANDB_SEED + 1000 + i} for i, name in enumerate(names)]
    answers = oracle.batch(requests, timeout=300)
    for i, (name, answer) in enumerate(zip(names, answers, strict=True)):
        param, kind, _ = RANDOM_CASES[name]
        domain = to_tune_space(parse_sweep({"method": "random", "parameters": {"x": param}}))["x"]
        theirs = [c["x"] for c in oracle.result(answer)]
        ours = draws(domain, N, seed=17 + i) if isinstance(domain, Domain) else [domain] * N
        _assert_same_distribution(f"tune space {name}", kind if isinstance(domain, Domain) else "constant", ours, theirs)


def test_search_alg_optuna_drives_the_emitted_space_with_constants():
    from ray.tune.search.optuna import OptunaSearch

    from sweeprunner.compile.compiler import compile_sweep
    from sweeprunner.compile.plan import describe_plan

    raw = {"method": "bayes", "metric": {"name": "loss"}, "run_cap": 6, "sweeprunner": {"search_alg": "optuna"},
           "parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
                          "k": {"min": 1, "max": 3}, "opt": {"parameters": {"name": {"values": ["adam", "sgd"]},
                                                                            "beta": {"value": 0.9}}}}}
    compiled = compile_sweep(parse_sweep(raw))
    assert isinstance(compiled.search_alg.searcher, OptunaSearch) and compiled.points is None
    configs = [compiled.search_alg.suggest(f"t{i}") for i in range(4)]
    for config in configs:
        assert 1e-4 <= config["lr"] <= 1e-1 and config["k"] in (1, 2, 3)
        assert config["opt"]["name"] in ("adam", "sgd") and config["opt"]["beta"] == 0.9
    assert compiled.search_alg.suggest("t5") is None  # 4 in flight, as bayes
    assert "OptunaSearch" in describe_plan(compiled)["search"]["searcher"]
    assert compile_sweep(parse_sweep({k: v for k, v in raw.items() if k != "sweeprunner"})).search_alg.searcher \
        is not None  # the default is unchanged


def test_search_alg_refusals_are_config_errors():
    from sweeprunner.compile.compiler import compile_sweep
    from sweeprunner.errors import SweepConfigError

    base = {"metric": {"name": "loss"}, "run_cap": 4, "sweeprunner": {"search_alg": "optuna"}}
    with pytest.raises(SweepConfigError, match="sweeprunner.search_alg: applies to random and bayes"):
        parse_sweep({**base, "method": "grid", "parameters": {"x": {"values": [1]}}})
    with pytest.raises(SweepConfigError, match="must be one of 'default', 'optuna', 'hyperopt'"):
        parse_sweep({**base, "method": "bayes", "sweeprunner": {"search_alg": "ax"}, "parameters": {"x": {"values": [1]}}})
    unbounded = parse_sweep({**base, "method": "bayes", "parameters": {"w": {"distribution": "log_normal"}}})
    with pytest.raises(SweepConfigError, match="parameters.w: has no bounds"):
        compile_sweep(unbounded)


def test_search_alg_hyperopt_drives_the_emitted_space():
    pytest.importorskip("hyperopt")  # the optional extra: pip install 'sweeprunner[hyperopt]'
    from ray.tune.search.hyperopt import HyperOptSearch

    from sweeprunner.compile.compiler import compile_sweep

    compiled = compile_sweep(parse_sweep({
        "method": "random", "metric": {"name": "loss"}, "run_cap": 5, "sweeprunner": {"search_alg": "hyperopt"},
        "parameters": {"n": {"distribution": "normal", "mu": 5, "sigma": 1}, "b": {"distribution": "beta", "a": 2, "b": 3},
                       "k": {"min": 1, "max": 3}, "c": {"value": "x"}}}))
    assert isinstance(compiled.search_alg.searcher, HyperOptSearch)
    for config in (compiled.search_alg.suggest(f"t{i}") for i in range(4)):
        assert 0 <= config["b"] <= 1 and config["k"] in (1, 2, 3) and config["c"] == "x" and 0 < config["n"] < 10
