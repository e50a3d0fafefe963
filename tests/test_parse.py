"""The config model: W&B's inference rules, YAML numbers, and golden error messages with key paths."""

from __future__ import annotations

import math

import pytest

from sweeprunner.config import distributions as d
from sweeprunner.config.parse import load_sweep, parse_sweep
from sweeprunner.config.yamlio import load_yaml_text
from sweeprunner.errors import SweepConfigError


def leaf(spec, *path):
    return dict(spec.parameters.leaves())[tuple(path)]


def parse_one(param: dict, **top):
    return leaf(parse_sweep({"method": "random", "parameters": {"p": param}, **top}), "p")


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ({"values": [1, 2]}, d.Categorical((1, 2))),
        ({"values": ["a", "b"], "probabilities": [0.3, 0.7]}, d.WeightedCategorical(("a", "b"), (0.3, 0.7))),
        ({"value": 5}, d.Constant(5)),
        ({"min": 1, "max": 10}, d.IntUniform(1, 10)),
        ({"min": 1, "max": 10.5}, d.Uniform(1.0, 10.5)),
        ({"min": 1.0, "max": 10.0}, d.Uniform(1.0, 10.0)),
        ({"distribution": "q_uniform", "min": 32, "max": 512, "q": 32}, d.Uniform(32.0, 512.0, 32, "q_uniform")),
        ({"distribution": "normal"}, d.Normal(0.0, 1.0)),
        ({"distribution": "q_log_normal", "mu": 2, "sigma": 2, "q": 10}, d.Normal(2, 2, 10, "q_log_normal", log=True)),
        ({"distribution": "beta", "a": 2, "b": 5}, d.Beta(2, 5)),
        ({"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1}, d.LogUniform(1e-5, 1e-1)),
    ],
)
def test_inference_and_explicit_distributions(param, expected):
    assert parse_one(param) == expected


def test_log_uniform_positive_bounds_are_values():
    dist = parse_one({"distribution": "log_uniform", "min": 1e-5, "max": 1e-1})
    assert (dist.low, dist.high, dist.wandb_name) == (1e-5, 1e-1, "log_uniform")


def test_log_uniform_nonpositive_bounds_are_legacy_exponents_with_one_warning():
    spec = parse_sweep({"method": "random", "parameters": {"lr": {"distribution": "log_uniform", "min": -9.2, "max": -2.3}}})
    dist = leaf(spec, "lr")
    assert dist.low == pytest.approx(math.exp(-9.2)) and dist.high == pytest.approx(math.exp(-2.3))
    assert spec.warnings == (
        "parameters.lr: log_uniform bounds -9.2..-2.3 read as natural-log exponents (W&B legacy): "
        "samples 1.0e-04..1.0e-01; write log_uniform_values to be explicit",)


def test_sweep_level_switch_forces_exponent_reading():
    spec = parse_sweep({"method": "random", "sweeprunner": {"log_uniform_bounds": "exponents"},
                        "parameters": {"n": {"distribution": "q_log_uniform", "min": 3.4657, "max": 5.5452, "q": 1}}})
    dist = leaf(spec, "n")
    assert dist.low == pytest.approx(32, rel=1e-3) and dist.high == pytest.approx(256, rel=1e-3)
    assert spec.warnings == ()


def test_inv_log_uniform_keeps_exponent_reading():
    dist = parse_one({"distribution": "inv_log_uniform", "min": 1, "max": 3})
    assert dist.low == pytest.approx(math.exp(-3)) and dist.high == pytest.approx(math.exp(-1))


def test_yaml_numbers_follow_yaml_1_2():
    assert load_yaml_text("a: 1e-5\nb: [1e-3, 3e6]\nc: 2_000_000\nd: '1e-5'") == {
        "a": 1e-5, "b": [1e-3, 3e6], "c": 2000000, "d": "1e-5"}


def test_nested_parameters_any_depth(sweep_yaml):
    spec = load_sweep(sweep_yaml("""
method: random
parameters:
  optimizer:
    parameters:
      lr: {distribution: log_uniform_values, min: 1e-4, max: 1e-1}
      adam:
        parameters:
          beta: {values: [0.9, 0.99]}
"""))
    assert [p for p, _ in spec.parameters.leaves()] == [("optimizer", "adam", "beta"), ("optimizer", "lr")]


GOLDEN = [
    ({"method": "bayse"}, "method: must be one of 'grid', 'random', 'bayes', got 'bayse' (did you mean 'bayes'?)"),
    ({"parameters": {"optimizer": {"parameters": {"lr": {"distribution": "log_uniform_values", "min": 0, "max": 1}}}}},
     "parameters.optimizer.parameters.lr.min: must be > 0 for log_uniform_values, got 0"),
    ({"parameters": {"lr": {"min": 0.1, "max": 0.01}}}, "parameters.lr: min must be < max, got min=0.1, max=0.01"),
    ({"parameters": {"wd": {"distribution": "unifrom", "min": 0, "max": 1}}},
     "parameters.wd.distribution: unknown distribution 'unifrom' (did you mean 'uniform'?)"),
    ({"parameters": {"wd": {"distirbution": "uniform", "min": 0.0, "max": 1.0}}},
     "parameters.wd.distirbution: unknown key in a uniform parameter (did you mean 'distribution'?)"),
    ({"parameters": {"x": {"distribution": "int_uniform", "min": 1.5, "max": 4}}},
     "parameters.x.min: must be an integer for int_uniform, got 1.5"),
    ({"parameters": {"x": {"values": []}}}, "parameters.x.values: must be a non-empty list, got []"),
    ({"parameters": {"x": {"values": [1, 2], "probabilities": [0.5]}}},
     "parameters.x.probabilities: must have one entry per value (2), got 1"),
    ({"parameters": {"x": {"distribution": "normal", "sigma": -1}}}, "parameters.x.sigma: must be >= 0, got -1"),
    ({"parameters": {"x": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}}}, "parameters.x.q: must be > 0, got 0"),
    ({"parameters": {"x": {"min": "a", "max": 2}}}, "parameters.x.min: must be a number, got 'a'"),
    ({"parameters": {"1x": {"value": 1}}}, "parameters.1x: parameter names must start with a letter or _"),
    ({"parameters": {"x": 5}}, "parameters.x: must be a mapping such as {values: [...]}"),
    ({"parameters": {}}, "parameters: must be a non-empty mapping"),
    ({"metrc": {"name": "loss"}}, "metrc: unknown key in the sweep config (did you mean 'metric'?)"),
    ({"metric": {"name": "loss", "goal": "max"}}, "metric.goal: must be one of 'minimize', 'maximize', got 'max'"),
    ({"run_cap": 0}, "run_cap: must be >= 1, got 0"),
    ({"early_terminate": {"type": "hyperband"}, "metric": {"name": "l"}}, "early_terminate: hyperband needs min_iter, or max_iter and s"),
    ({"early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 1}, "metric": {"name": "l"}},
     "early_terminate.eta: must be > 1, got 1"),
    ({"early_terminate": {"type": "hyperband", "max_iter": 2, "s": 1}, "metric": {"name": "l"}},
     "early_terminate: max_iter 2 with s 1 and eta 3 gives no band >= 1"),
    ({"early_terminate": {"type": "hyperband", "min_iter": 3}}, "early_terminate: needs a metric section"),
    ({"sweeprunner": {"resources": {"gpu": 0.3}}},
     "sweeprunner.resources.gpu: must be a fraction that divides 1 (0.5, 0.25, 0.2, ...) or a whole number, got 0.3"),
    ({"sweeprunner": {"resources": {"gpu": 1.5}}}, "sweeprunner.resources.gpu: must be a whole number when > 1, got 1.5"),
    # found by tests/test_fuzz.py: 1/gpu overflowed to inf and the check raised OverflowError
    ({"sweeprunner": {"resources": {"gpu": 2.2250738585e-313}}},
     "sweeprunner.resources.gpu: must be 0 or at least 0.0001 (Ray's resource precision), got 2.2250738585e-313"),
    ({"sweeprunner": {"resources": {"cpu": 1e-9}}},
     "sweeprunner.resources.cpu: must be at least 0.0001 (Ray's resource precision), got 1e-09"),
    ({"sweeprunner": {"seeed": 1}}, "sweeprunner.seeed: unknown key in sweeprunner settings (did you mean 'seed'?)"),
    ({"command": "python train.py"}, "command: must be a list of strings"),
    ({"method": "grid", "parameters": {"lr": {"min": 0.0, "max": 1.0}}},
     "parameters.lr: grid search needs discrete values (values, int_uniform or q_uniform), got uniform"),
    ({"method": "bayes", "metric": {"goal": "maximize"}, "parameters": {"x": {"values": [1, 2]}}},
     "metric.name: required"),
]


@pytest.mark.parametrize(("change", "message"), GOLDEN, ids=[m[:50] for _, m in GOLDEN])
def test_golden_error_messages(change, message):
    raw = {"method": "random", "parameters": {"x": {"values": [1]}}, **change}
    with pytest.raises(SweepConfigError) as info:
        parse_sweep(raw)
    assert any(str(issue).startswith(message) for issue in info.value.issues), str(info.value)


def test_all_problems_are_reported_together():
    with pytest.raises(SweepConfigError) as info:
        parse_sweep({"method": "bayse", "metric": {"name": "a", "goal": "up"},
                     "parameters": {"a": {"min": 2, "max": 1}, "b": {"values": 3}}})
    paths = [".".join(map(str, i.path)) for i in info.value.issues]
    assert paths == ["method", "metric.goal", "parameters.a", "parameters.b.values"]


def test_error_names_the_file(sweep_yaml):
    path = sweep_yaml("method: random\nparameters: {lr: {min: 1, max: 0}}\n")
    with pytest.raises(SweepConfigError, match=rf"^{path}: parameters.lr: min must be < max"):
        load_sweep(path)


def test_yaml_syntax_and_duplicate_keys_are_config_errors(sweep_yaml):
    with pytest.raises(SweepConfigError, match="line 3, column 1: duplicate key 'method'"):
        load_sweep(sweep_yaml("method: random\nparameters: {x: {value: 1}}\nmethod: grid\n"))
    with pytest.raises(SweepConfigError, match="invalid YAML at line"):
        load_sweep(sweep_yaml("method: [random\n"))


def test_spec_is_frozen():
    spec = parse_sweep({"method": "random", "parameters": {"x": {"values": [1]}}})
    with pytest.raises(AttributeError):
        spec.method = "grid"  # type: ignore[misc]


def test_hyperband_forms():
    et = parse_sweep({"method": "random", "metric": {"name": "l"}, "parameters": {"x": {"values": [1]}},
                      "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2}}).early_terminate
    assert et.bands == [3, 9] and et.strict is True and et.eta == 3
    et = parse_sweep({"method": "random", "metric": {"name": "l"}, "parameters": {"x": {"values": [1]}},
                      "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 2.5, "strict": False}}).early_terminate
    assert et.bands[:4] == [3, 7, 18, 46] and et.strict is False


def test_sweeprunner_block_defaults_and_values():
    spec = parse_sweep({"method": "random", "parameters": {"x": {"values": [1]}},
                        "sweeprunner": {"trainable": "toy", "resources": {"cpu": 2, "gpu": 0.25, "accelerator_type": "A100"},
                                        "count": 7, "seed": 3, "bayes_sampler": "gp", "max_concurrent_trials": 2}})
    r = spec.runner
    assert (r.trainable, r.resources.cpu, r.resources.gpu, r.resources.accelerator_type) == ("toy", 2.0, 0.25, "A100")
    assert (r.count, r.seed, r.bayes_sampler, r.max_concurrent_trials, r.max_failures) == (7, 3, "gp", 2, 2)


def test_bayes_without_metric_runs_as_random_with_a_warning():
    spec = parse_sweep({"method": "bayes", "parameters": {"x": {"values": [1, 2]}}})
    assert spec.method == "random"
    assert spec.warnings == ("method: bayes learns from metric.name, and this sweep has no metric: "
                             "it draws configs as random search does (add a metric to enable bayes)",)
