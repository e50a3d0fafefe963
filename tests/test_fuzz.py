"""Fuzzing: any mutation of a valid config yields a valid plan or a SweepConfigError, nothing else."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sweeprunner.compile.plan import describe_plan, render_plan
from sweeprunner.compile.sampling import grid_configs, random_configs
from sweeprunner.config.parse import parse_sweep
from sweeprunner.errors import SweepConfigError

BASE = {
    "method": "bayes",
    "metric": {"name": "val/loss", "goal": "minimize", "target": 0.1},
    "run_cap": 20,
    "parameters": {
        "lr": {"distribution": "log_uniform", "min": 1e-5, "max": 1e-1},
        "bs": {"values": [16, 32, 64]},
        "layers": {"distribution": "int_uniform", "min": 2, "max": 8},
        "drop": {"distribution": "q_uniform", "min": 0.0, "max": 0.5, "q": 0.1},
        "wd": {"distribution": "normal", "mu": 0.0, "sigma": 1.0},
        "b": {"distribution": "beta", "a": 2, "b": 5},
        "opt": {"parameters": {"name": {"value": "adam"}, "m": {"values": [0.9, 0.99], "probabilities": [0.5, 0.5]}}},
    },
    "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 3},
    "sweeprunner": {"trainable": "toy", "resources": {"cpu": 1, "gpu": 0.5}, "seed": 1},
}

JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 1000), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.lists(st.integers(-3, 3), max_size=3),
    st.sampled_from(["grid", "random", "bayes", "uniform", "log_uniform_values", "int_uniform", "hyperband",
                     "maximize", "q_beta", "normal", "constant", "categorical_w_probabilities", "asha", "median"]),
    st.dictionaries(st.sampled_from(["min", "max", "values", "value", "q", "distribution", "parameters"]),
                    st.integers(-2, 5), max_size=3),
)


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))


@st.composite
def mutated(draw):
    config = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        candidates = [p for p in paths(config) if p]
        path = draw(st.sampled_from(candidates))
        parent = config
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            parent.pop(path[-1], None)
        elif action == "replace":
            parent[path[-1]] = draw(JUNK)
        elif isinstance(parent.get(path[-1]), dict):
            parent[path[-1]][draw(st.sampled_from(["min", "max", "q", "mu", "x", "distribution", "type", "gpu"]))] = draw(JUNK)
    return config


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_configs_give_a_plan_or_a_config_error(config):
    try:
        spec = parse_sweep(config)
        plan = describe_plan(spec)
        assert render_plan(plan)
        if spec.method == "grid":
            grid_configs(spec)
        else:
            assert len(random_configs(spec, 3, seed=0)) == 3
    except SweepConfigError as exc:
        assert exc.issues and all(str(issue) for issue in exc.issues)
