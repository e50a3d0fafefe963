"""The compiler: which Ray Tune objects a spec becomes, and what they do before any trial runs."""

from __future__ import annotations

import pytest
from ray.tune.schedulers import AsyncHyperBandScheduler, HyperBandScheduler, MedianStoppingRule
from ray.tune.search import ConcurrencyLimiter

from sweeprunner.compile.bayes import suggest_now
from sweeprunner.compile.compiler import compile_sweep
from sweeprunner.compile.schedulers import TargetStopper, WandbHyperbandScheduler
from sweeprunner.compile.searchers import PlannedSearcher
from sweeprunner.config.parse import parse_sweep


def spec(**top):
    raw = {"method": "random", "metric": {"name": "loss"}, "run_cap": 5,
           "parameters": {"x": {"distribution": "uniform", "min": 0, "max": 1}}, **top}
    return parse_sweep(raw)


def test_bayes_suggests_real_values_for_distributions_optuna_lacks():
    compiled = compile_sweep(spec(method="bayes", parameters={
        "n": {"distribution": "normal", "mu": 100, "sigma": 10},
        "b": {"distribution": "q_beta", "a": 2, "b": 5, "q": 0.1},
        "w": {"values": ["a", "b"], "probabilities": [0.9, 0.1]},
        "opt": {"parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
                               "kind": {"values": [{"name": "adam"}, [1, 2]]}}},
        "const": {"value": 7}}, run_cap=20, sweeprunner={"max_concurrent_trials": 20}))
    assert isinstance(compiled.search_alg, ConcurrencyLimiter)
    configs = [suggest_now(compiled.search_alg, f"t{i}") for i in range(12)]
    for config in configs:
        assert 40 < config["n"] < 160  # a real N(100, 10) draw, not the u behind it
        assert 0 <= config["b"] <= 1 and abs(config["b"] * 10 - round(config["b"] * 10)) < 1e-9
        assert config["w"] in ("a", "b") and config["const"] == 7
        assert 1e-5 <= config["opt"]["lr"] <= 1e-1 and config["opt"]["kind"] in ({"name": "adam"}, [1, 2])


def test_bayes_fills_the_cluster_unless_max_concurrent_trials_caps_it():
    """The batch-aware GP runs as many trials as the cluster fits (the limiter only caps at the budget)."""
    assert compile_sweep(spec(method="bayes", run_cap=30)).search_alg.max_concurrent == 30
    capped = compile_sweep(spec(method="bayes", run_cap=30, sweeprunner={"max_concurrent_trials": 3}))
    assert capped.search_alg.max_concurrent == 3


def test_grid_and_random_replay_planned_points_then_finish():
    compiled = compile_sweep(spec(method="grid", parameters={"x": {"values": [1, 2, 3]}}, run_cap=2))
    searcher = compiled.search_alg
    assert isinstance(searcher, PlannedSearcher)
    assert [searcher.suggest("a"), searcher.suggest("b"), searcher.suggest("c")] == [{"x": 1}, {"x": 2}, "FINISHED"]


@pytest.mark.parametrize(("early", "kind"), [
    ({"type": "hyperband", "min_iter": 1}, WandbHyperbandScheduler),
    ({"type": "asha", "min_iter": 2, "max_iter": 20}, AsyncHyperBandScheduler),
    ({"type": "sync_hyperband", "max_iter": 27}, HyperBandScheduler),
    ({"type": "median", "min_iter": 3}, MedianStoppingRule),
])
def test_early_terminate_types(early, kind):
    assert isinstance(compile_sweep(spec(early_terminate=early)).scheduler, kind)
    assert compile_sweep(spec(early_terminate={"type": "none"})).scheduler is None


def test_target_becomes_a_sweep_stopper_in_the_goal_direction():
    stopper = compile_sweep(spec(metric={"name": "acc", "goal": "maximize", "target": 0.9})).stopper
    assert isinstance(stopper, TargetStopper)
    stopper("t1", {"acc": 0.5})
    assert not stopper.stop_all()
    stopper("t2", {"acc": 0.95})
    assert stopper.stop_all() and stopper.reached_by == "t2"


def test_resources_bundle():
    compiled = compile_sweep(spec(sweeprunner={"resources": {"cpu": 4, "gpu": 0.25, "accelerator_type": "A100"}}))
    assert compiled.resources == {"CPU": 4.0, "GPU": 0.25, "accelerator_type:A100": 0.001}


def test_no_budget_compiles_to_until_stopped():
    """W&B's agent runs a random/bayes sweep without run_cap until stopped: Ray's num_samples=-1."""
    from sweeprunner.compile.compiler import trial_count

    unbounded = parse_sweep({"method": "random", "parameters": {"x": {"values": [1, 2, 3]}}})
    assert trial_count(unbounded) is None
    compiled = compile_sweep(unbounded)
    assert (compiled.trials, compiled.num_samples, compiled.tune_config().num_samples) == (None, -1, -1)
    searcher = compiled.search_alg
    assert all(searcher.suggest(f"t{i}") != "FINISHED" for i in range(500))  # an endless stream
    bayes = compile_sweep(parse_sweep({"method": "bayes", "metric": {"name": "loss"},
                                       "parameters": {"x": {"min": 0.0, "max": 1.0}}}))
    assert bayes.num_samples == -1 and not hasattr(bayes.search_alg, "max_concurrent")  # fills the cluster
    assert compile_sweep(parse_sweep({"method": "random", "parameters": {"x": {"values": [1]}},
                                      "sweeprunner": {"count": 3}, "run_cap": 2})).num_samples == 2


def test_auto_bayes_sampler_is_the_gp_at_every_budget():
    """A sweep that runs until stopped (W&B's agent without --count) gets the GP too, not TPE."""
    import optuna

    small = compile_sweep(spec(method="bayes", run_cap=50)).search_alg.searcher.searcher
    large = compile_sweep(spec(method="bayes", run_cap=500)).search_alg.searcher.searcher
    endless = compile_sweep(parse_sweep({"method": "bayes", "metric": {"name": "loss"},  # no limiter: fills the cluster
                                         "parameters": {"x": {"min": 0.0, "max": 1.0}}})).search_alg.searcher
    forced = compile_sweep(spec(method="bayes", run_cap=50, sweeprunner={"bayes_sampler": "tpe"})).search_alg.searcher.searcher
    for searcher in (small, large, endless):
        assert isinstance(searcher._sampler, optuna.samplers.GPSampler)
    assert isinstance(forced._sampler, optuna.samplers.TPESampler)
