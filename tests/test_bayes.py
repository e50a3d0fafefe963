"""The bayes searcher (sweeprunner/compile/bayes.py): batch-awareness, start-up, seeds, resume, every distribution.

These drive the very searcher ``compile_sweep`` hands to Ray Tune (``ConcurrencyLimiter(OptunaSearch(GP))``)
through its Searcher API, as Tune's controller does, with a real objective.
"""

from __future__ import annotations

import math

import optuna
import pytest

from sweeprunner.compile.bayes import SobolStartSampler, from_unit
from sweeprunner.compile.compiler import compile_sweep
from sweeprunner.config.parse import parse_sweep


def branin(c):
    x1, x2 = c["x1"], c["x2"]
    b, cc, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + cc * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def bayes(seed=0, run_cap=30, parameters=None, **runner):
    parameters = parameters or {"x1": {"min": -5.0, "max": 10.0}, "x2": {"min": 0.0, "max": 15.0}}
    return compile_sweep(parse_sweep({
        "method": "bayes", "metric": {"name": "loss", "goal": "minimize"}, "run_cap": run_cap,
        "parameters": parameters, "sweeprunner": {"seed": seed, "bayes_sampler": "gp", **runner}})).search_alg


def run(searcher, n, start=0, objective=branin):
    """Suggest and complete ``n`` trials one at a time; returns the configs."""
    configs = []
    for i in range(start, start + n):
        config = searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"loss": objective(config)})
        configs.append(config)
    return configs


def test_gp_default_is_optunas_gp_with_a_sobol_start_up():
    inner = bayes().searcher
    assert isinstance(inner._sampler, optuna.samplers.GPSampler)
    assert isinstance(inner._sampler._independent_sampler, SobolStartSampler)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_start_up_trials_cover_the_space_evenly(seed):
    """The first 4 Sobol points of a 2-d sweep fall one in each quadrant (random draws mostly do not)."""
    configs = run(bayes(seed=seed), 4)
    quadrants = {(c["x1"] > 2.5, c["x2"] > 7.5) for c in configs}
    assert len(quadrants) == 4, configs


def test_suggestions_made_with_a_trial_in_flight_differ():
    """Pending-aware: a second suggestion while the first is running does not repeat it."""
    searcher = bayes(seed=3, max_concurrent_trials=4)
    run(searcher, 8)
    first = searcher.suggest("p0")
    second = searcher.suggest("p1")  # p0 still in flight
    distance = math.hypot((first["x1"] - second["x1"]) / 15, (first["x2"] - second["x2"]) / 15)
    assert distance > 0.05, (first, second)
    # both are model-guided: in the box and not the start-up's Sobol points
    for c in (first, second):
        assert -5 <= c["x1"] <= 10 and 0 <= c["x2"] <= 15


def test_same_seed_same_sweep_other_seed_other_sweep():
    a, b, c = (run(bayes(seed=s), 8) for s in (7, 7, 8))
    assert a == b
    assert a != c


def test_searcher_state_round_trips_through_save_and_restore(tmp_path):
    """resume: a restored searcher continues exactly where the saved one was."""
    original = bayes(seed=5)
    run(original, 7)
    original.save_to_dir(str(tmp_path))
    restored = bayes(seed=5)
    restored.restore_from_dir(str(tmp_path))
    assert run(restored, 3, start=7) == run(original, 3, start=7)


def test_every_wandb_distribution_through_the_gp():
    parameters = {
        "c": {"value": 3},
        "cat": {"values": ["a", "b", "c"]},
        "w": {"values": ["x", "y"], "probabilities": [0.8, 0.2]},
        "i": {"distribution": "int_uniform", "min": 1, "max": 9},
        "u": {"distribution": "uniform", "min": -1, "max": 1},
        "qu": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25},
        "lu": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "lue": {"distribution": "log_uniform", "min": -3, "max": 0},
        "qlu": {"distribution": "q_log_uniform_values", "min": 1, "max": 1000, "q": 1},
        "ilu": {"distribution": "inv_log_uniform_values", "min": 0.1, "max": 10},
        "n": {"distribution": "normal", "mu": 5, "sigma": 1},
        "qn": {"distribution": "q_normal", "mu": 0, "sigma": 2, "q": 0.5},
        "ln": {"distribution": "log_normal", "mu": 0, "sigma": 1},
        "b": {"distribution": "beta", "a": 2, "b": 3},
        "nested": {"parameters": {"depth": {"values": [1, 2]}, "rate": {"min": 0.0, "max": 1.0}}},
    }

    def objective(c):
        return (c["u"] - 0.3) ** 2 + (math.log10(c["lu"]) + 2) ** 2 + (c["n"] - 5) ** 2 + c["nested"]["rate"]

    configs = run(bayes(seed=1, run_cap=20, parameters=parameters), 9, objective=objective)
    for c in configs:  # 5 Sobol start-up trials, then 4 from the GP
        assert c["c"] == 3 and c["cat"] in "abc" and c["w"] in ("x", "y")
        assert isinstance(c["i"], int) and 1 <= c["i"] <= 9
        assert -1 <= c["u"] <= 1 and c["qu"] in (0, 0.25, 0.5, 0.75, 1)
        assert 1e-4 <= c["lu"] <= 1e-1 and math.exp(-3) <= c["lue"] <= 1 and 1 <= c["qlu"] <= 1000
        assert 0.1 <= c["ilu"] <= 10 and 0 < c["n"] < 10 and c["qn"] / 0.5 == round(c["qn"] / 0.5)
        assert c["ln"] > 0 and 0 <= c["b"] <= 1
        assert c["nested"]["depth"] in (1, 2) and 0 <= c["nested"]["rate"] <= 1
    assert len({c["u"] for c in configs}) == len(configs)


@pytest.mark.parametrize(("dist", "u", "expected"), [
    (optuna.distributions.FloatDistribution(0, 10), 0.25, 2.5),
    (optuna.distributions.FloatDistribution(1e-4, 1, log=True), 0.5, 1e-2),
    (optuna.distributions.FloatDistribution(0, 1, step=0.5), 0.99, 1.0),
    (optuna.distributions.IntDistribution(1, 4), 0.0, 1),
    (optuna.distributions.IntDistribution(1, 4), 0.74, 3),
    (optuna.distributions.IntDistribution(1, 4), 1.0, 4),
    (optuna.distributions.CategoricalDistribution([0, 1, 2]), 0.5, 1),
])
def test_from_unit_maps_evenly_in_each_scale(dist, u, expected):
    assert from_unit(u, dist) == pytest.approx(expected)
