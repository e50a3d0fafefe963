"""The search-quality benchmark's problems (bench/problems.py): each known minimum is attained at its
optimum and no random point of the space goes below it (a wrong f_star would distort every regret)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.problems import ALL_PROBLEMS
from sweeprunner.compile.sampling import random_configs
from sweeprunner.config.parse import parse_sweep


@pytest.mark.parametrize("name", sorted(ALL_PROBLEMS))
def test_each_problem_attains_its_known_minimum_and_nothing_goes_below_it(name):
    problem = ALL_PROBLEMS[name]
    assert problem.evaluate(problem.optimum) == pytest.approx(problem.f_star, abs=1e-4)
    spec = parse_sweep(problem.sweep_config("random", run_cap=5000))
    values = [problem.evaluate(config) for config in random_configs(spec, 5000, seed=0)]   # W&B's own draws
    assert min(values) >= problem.f_star - 1e-6
    assert np.ptp(values) > 1.0            # not flat: a search has something to find
