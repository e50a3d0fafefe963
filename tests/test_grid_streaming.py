"""Grids and random plans are streamed: sizes are computed, points are made one at a time (issue 11 item 10)."""

from __future__ import annotations

import itertools
import random
import resource
import time

import numpy as np
import pytest

from sweeprunner.compile.compiler import compile_sweep, trial_count
from sweeprunner.compile.sampling import (
    MAX_GRID_TRIALS,
    GridPlan,
    RandomPlan,
    grid_configs,
    grid_size,
    random_configs,
)
from sweeprunner.compile.searchers import PlannedSearcher  # (imports Ray before any timing)
from sweeprunner.config.distributions import Uniform
from sweeprunner.config.parse import parse_sweep
from sweeprunner.errors import SweepConfigError


def grid(parameters, **top):
    return parse_sweep({"method": "grid", "parameters": parameters, **top})


def test_q_uniform_grid_values_are_numpy_arange_exactly():
    rnd = random.Random(0)
    for _ in range(1500):
        low = rnd.choice([rnd.randint(-50, 50), round(rnd.uniform(-50, 50), rnd.randint(0, 4)), rnd.uniform(-1, 1)])
        high = low + rnd.choice([rnd.randint(1, 100), rnd.uniform(0.001, 100), round(rnd.uniform(0.1, 30), 2)])
        q = rnd.choice([rnd.randint(1, 7), 0.1, 0.3, 1.0, 0.25, round(rnd.uniform(0.01, 3), 2) or 0.5])
        dist = Uniform(low, high, q, "q_uniform")
        expected = [v.item() for v in np.arange(low, high, q)]
        ours = [dist.grid_value(i) for i in range(dist.grid_size())]
        assert ours == expected and list(map(type, ours)) == list(map(type, expected)), (low, high, q)


def test_lazy_grid_is_the_itertools_product_in_wandb_order():
    spec = grid({"b": {"values": [1, 2.0, 2, "x"]}, "a": {"parameters": {"z": {"min": 1, "max": 3}, "c": {"value": 0}}},
                 "q": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.3}})
    axes = [[1, 2, 3], [1, 2, "x"], [0.0, 0.3, 0.6, 0.8999999999999999]]  # a.z, b, q (names sorted)
    expected = [{"a": {"c": 0, "z": z}, "b": b, "q": q} for z, b, q in itertools.product(*axes)]
    assert grid_configs(spec) == expected and grid_size(spec) == 36


@pytest.mark.parametrize(("parameters", "size"), [
    ({f"p{i}": {"values": list(range(10))} for i in range(9)}, 10**9),
    ({"x": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 1e-10}, "y": {"values": [1, 2]}}, 2 * 10**10),
    ({"x": {"min": 0, "max": 2**63}}, 2**63 + 1),
    ({"x": {"min": -(2**70), "max": 2**70}, "y": {"min": 0, "max": 2**70}}, (2**71 + 1) * (2**70 + 1)),
])
def test_huge_grid_with_run_cap_costs_only_the_capped_points(parameters, size):
    start, rss = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    spec = grid(parameters, run_cap=5)
    assert grid_size(spec) == size and trial_count(spec) == 5
    compiled = compile_sweep(spec)
    assert compiled.num_samples == 5 and len(grid_configs(spec)) == 5
    searcher = compiled.search_alg
    assert [searcher.suggest(str(i)) for i in range(6)][-1] == "FINISHED"
    assert time.perf_counter() - start < 3.0  # was 90 s and 2 GB for 10^7 points
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 100_000  # KiB: no list of points


def test_int_uniform_to_2_63_first_points():
    first = grid_configs(grid({"x": {"min": 0, "max": 2**63}, "y": {"values": ["a", "b"]}}, run_cap=3))
    assert first == [{"x": 0, "y": "a"}, {"x": 0, "y": "b"}, {"x": 1, "y": "a"}]


def test_absurd_grid_without_run_cap_is_refused_stating_its_size():
    spec = grid({"x": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 1e-10}})
    with pytest.raises(SweepConfigError) as err:
        compile_sweep(spec)
    assert "parameters: the grid has 10,000,000,000 points, more than the 1,000,000 a sweep may run" in str(err.value)
    with pytest.raises(SweepConfigError, match="about 10\\^38 points"):
        GridPlan(grid({"x": {"min": 0, "max": 2**127}}))
    assert len(GridPlan(grid({"x": {"min": 1, "max": MAX_GRID_TRIALS}}))) == MAX_GRID_TRIALS


def test_random_plan_random_access_equals_the_stream():
    spec = parse_sweep({"method": "random", "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1}, "c": {"value": 3},
        "o": {"parameters": {"n": {"values": ["a", "b", "c"]}, "m": {"distribution": "normal"}}}}})
    stream = random_configs(spec, 40, seed=11)
    plan = RandomPlan(spec, None, seed=11)
    assert [plan[i] for i in (0, 1, 17, 39)] == [stream[i] for i in (0, 1, 17, 39)]
    assert list(itertools.islice(plan, 40)) == stream
    with pytest.raises(TypeError):
        len(plan)


def test_planned_searcher_saves_its_lazy_plan_and_position(tmp_path):
    spec = parse_sweep({"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}})  # until stopped
    searcher = compile_sweep(spec).search_alg
    first = [searcher.suggest(str(i)) for i in range(3)]
    searcher.save(str(tmp_path / "state.pkl"))
    assert (tmp_path / "state.pkl").stat().st_size < 5_000  # the plan, not its points
    restored = PlannedSearcher([])
    restored.restore(str(tmp_path / "state.pkl"))
    assert restored.suggest("3") == random_configs(spec, 4, seed=0)[3] and first == random_configs(spec, 3, seed=0)
