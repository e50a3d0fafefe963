"""The search-quality benchmark's problems (bench/problems.py): each known minimum is attained at its
optimum and no random point of the space goes below it (a wrong f_star would distort every regret)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.problems import EXTRA_PROBLEMS, PROBLEMS

ALL_PROBLEMS = {**PROBLEMS, **EXTRA_PROBLEMS}


def _draw(parameters: dict, rng: np.random.Generator) -> dict:
    """One random config of a W&B ``parameters`` dict (the distributions the bench problems use)."""
    config = {}
    for name, p in parameters.items():
        if "parameters" in p:
            config[name] = _draw(p["parameters"], rng)
        elif "value" in p:
            config[name] = p["value"]
        elif "values" in p:
            config[name] = p["values"][rng.integers(len(p["values"]))]
        elif p.get("distribution") == "int_uniform":
            config[name] = int(rng.integers(p["min"], p["max"] + 1))
        elif p.get("distribution") == "log_uniform_values":
            config[name] = math.exp(rng.uniform(math.log(p["min"]), math.log(p["max"])))
        else:
            config[name] = rng.uniform(p["min"], p["max"])
    return config


@pytest.mark.parametrize("name", sorted(ALL_PROBLEMS))
def test_each_problem_attains_its_known_minimum_and_nothing_goes_below_it(name):
    problem = ALL_PROBLEMS[name]
    assert problem.evaluate(problem.optimum) == pytest.approx(problem.f_star, abs=1e-4)
    rng = np.random.default_rng(0)
    values = [problem.evaluate(_draw(problem.parameters, rng)) for _ in range(5000)]
    assert min(values) >= problem.f_star - 1e-6
    assert np.ptp(values) > 1.0            # not flat: a search has something to find
