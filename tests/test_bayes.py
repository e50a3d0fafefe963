"""The bayes searcher (sweeprunner/compile/bayes.py): batch-awareness, start-up, seeds, resume, every distribution.

These drive the very searcher ``compile_sweep`` hands to Ray Tune (``ConcurrencyLimiter(OptunaSearch(GP))``)
through its Searcher API, as Tune's controller does, with a real objective.
"""

from __future__ import annotations

import collections
import itertools
import math
import pickle
import time

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from ray.tune.search import Searcher

from sweeprunner.compile import bayes as bayes_module
from sweeprunner.compile.bayes import (
    GP_CROWDED_TRUST_REGION,
    GP_EARLY_TAKEOVER,
    GP_LENGTHSCALE_TIE,
    GP_WARP,
    START_SEQUENCE_WITH_CATEGORICAL,
    TRUST_REGION_REFINE,
    WARPS,
    BackgroundSuggester,
    CappedGPSampler,
    QuasiRandomStartSampler,
    TiedLengthscalePrior,
    from_unit,
    gp_sampler,
    refine_in_box,
    suggest_now,
    training_subset,
    trust_region_candidates,
    warp_losses,
    warped_trials,
)
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
        config = suggest_now(searcher, f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"loss": objective(config)})
        configs.append(config)
    return configs


def test_gp_default_is_optunas_gp_with_a_quasi_random_start_up():
    assert isinstance(bayes().searcher, BackgroundSuggester)
    inner = bayes().searcher.searcher
    assert isinstance(inner._sampler, CappedGPSampler)
    assert isinstance(inner._sampler._independent_sampler, QuasiRandomStartSampler)
    assert inner._sampler._independent_sampler.sequence == "sobol"      # continuous parameters only


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_start_up_trials_of_a_continuous_sweep_cover_the_space_evenly(seed):
    """The first 4 Sobol points of a 2-d sweep fall one in each quadrant (random draws mostly do not)."""
    configs = run(bayes(seed=seed), 4)
    quadrants = {(c["x1"] > 2.5, c["x2"] > 7.5) for c in configs}
    assert len(quadrants) == 4, configs


@pytest.mark.parametrize("extra,sequence", [
    ({"n": {"distribution": "int_uniform", "min": 1, "max": 8}}, "sobol"),
    ({"act": {"values": ["relu", "gelu"]}}, "halton"),
    ({"w": {"values": ["x", "y", "z"], "probabilities": [0.5, 0.3, 0.2]}}, "halton"),
    ({"nested": {"parameters": {"opt": {"values": ["sgd", "adam"]}}}}, "halton"),
    ({"fixed": {"value": "sgd"}}, "sobol"),
])
def test_a_sweep_searching_a_categorical_starts_with_halton_points(extra, sequence):
    searcher = bayes(parameters={"x1": {"min": -5.0, "max": 10.0}, **extra})
    assert searcher.searcher.searcher._sampler._independent_sampler.sequence == sequence


MIXED_SWEEP = {
    "optimizer": {"parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
                                 "momentum": {"min": 0.5, "max": 0.99}}},
    "layers": {"distribution": "int_uniform", "min": 1, "max": 8},
    "activation": {"values": ["relu", "tanh", "gelu", "sigmoid"]},
    "dropout": {"min": 0.0, "max": 0.5},
}


@pytest.mark.parametrize("seed", range(4))
def test_a_categorical_start_up_tries_most_value_and_learning_rate_pairs(seed):
    """16 in flight, the 16 start-up trials: of the 16 (activation, learning-rate decade) pairs they try
    at least 10. The Sobol start-up tried 8, each activation with only 2 of the 4 decades, on every seed
    (its first 16 points leave half of some pairs' 4 x 4 cells empty), so on the mixed space a start-up
    often missed the best learning rate for the best activation."""
    searcher = bayes(parameters=MIXED_SWEEP, seed=seed, max_concurrent_trials=16)
    assert searcher.searcher.searcher._sampler._independent_sampler.sequence == "halton"
    configs = [suggest_now(searcher, f"t{i}") for i in range(16)]
    decades = collections.defaultdict(set)
    for c in configs:
        decades[c["activation"]].add(int(math.log10(c["optimizer"]["lr"]) + 5))
    assert sum(len(d) for d in decades.values()) >= 10, dict(decades)


@pytest.mark.parametrize("seed", range(6))
def test_halton_start_up_trials_cover_every_pair_of_parameters(seed):
    """16 Halton start-up points of a 5-parameter sweep leave no pair of parameters with half its 4 x 4
    grid empty. Scrambled Sobol's did, for half the pairs on every seed; random draws did on many seeds."""
    sampler = gp_sampler(seed, dims=5, start_sequence=START_SEQUENCE_WITH_CATEGORICAL)
    study = optuna.create_study(sampler=sampler)
    names = ["lr", "momentum", "layers", "activation", "dropout"]
    asked = [study.ask({n: FloatDistribution(0.0, 1.0) for n in names}).params for _ in range(16)]
    points = np.array([[params[n] for n in names] for params in asked])
    cells = {(a, b): len({(int(4 * x[a]), int(4 * x[b])) for x in points})
             for a, b in itertools.combinations(range(5), 2)}
    assert min(cells.values()) >= 9, cells


def test_a_start_up_sampler_pickled_before_halton_keeps_its_sobol_sequence():
    """An older sweep directory pickled ``SobolStartSampler`` without ``sequence``: on resume it continues
    the Sobol sequence it started, even where new sweeps take Halton's (a categorical is searched)."""
    expected = [QuasiRandomStartSampler(dims=3, seed=4, sequence="sobol")._u(n, 1) for n in (2, 70)]
    old = QuasiRandomStartSampler(dims=3, seed=4, sequence="halton")
    del old.sequence
    text = pickle.dumps(old, protocol=0).replace(b"QuasiRandomStartSampler", b"SobolStartSampler")
    resumed = pickle.loads(text)
    assert [resumed._u(n, 1) for n in (2, 70)] == expected
    assert QuasiRandomStartSampler(dims=3, seed=4, sequence="halton")._u(2, 1) != expected[0]


def test_suggestions_made_with_a_trial_in_flight_differ():
    """Pending-aware: a second suggestion while the first is running does not repeat it."""
    searcher = bayes(seed=3, max_concurrent_trials=4)
    run(searcher, 8)
    first = suggest_now(searcher, "p0")
    second = suggest_now(searcher, "p1")  # p0 still in flight
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


def test_training_subset_keeps_the_best_half_and_the_most_recent():
    study = optuna.create_study(direction="minimize")
    for i in range(10):
        study.add_trial(optuna.create_trial(params={"x": i}, distributions={
            "x": optuna.distributions.IntDistribution(0, 9)}, value=float([5, 1, 7, 0, 9, 8, 6, 4, 3, 2][i])))
    trials = study.trials
    kept = training_subset(trials, study.direction, 4)
    assert [t.number for t in kept] == [1, 3, 8, 9]  # values 1 and 0 (best), then trials 9 and 8 (latest)
    assert training_subset(trials, study.direction, 10) == trials


def test_the_gp_trains_on_at_most_max_points():
    searcher = bayes(seed=2, run_cap=40)
    sampler = searcher.searcher.searcher._sampler
    sampler.max_points = 8
    run(searcher, 14)
    assert sampler._gprs_cache_list[0]._X_train.shape[0] == 8


def _sobol_config(sampler, number):
    """The config the Sobol start-up sequence gives trial ``number`` (x1 in [-5, 10], x2 in [0, 15])."""
    sobol = sampler._independent_sampler
    dists = {"x1": optuna.distributions.FloatDistribution(-5.0, 10.0),
             "x2": optuna.distributions.FloatDistribution(0.0, 15.0)}
    return {name: from_unit(sobol._u(number, sobol._dim_of[name]), dist) for name, dist in dists.items()}


def test_budgets_of_50_or_more_leave_every_fifth_trial_to_the_sobol_sequence():
    """Insurance against a GP stuck in one basin (Hartmann6 at 50 trials: 3 of 16 seeds stuck without it)."""
    searcher = bayes(seed=5, run_cap=50)
    sampler = searcher.searcher.searcher._sampler
    assert sampler.explore_every == 5
    configs = run(searcher, 15)
    for number in (9, 14):                       # after the 5 start-up trials, trials 9, 14, 19, ...
        assert configs[number] == pytest.approx(_sobol_config(sampler, number))
    for number in (5, 6, 7, 8, 10, 11, 12, 13):  # the GP's own suggestions
        assert configs[number] != pytest.approx(_sobol_config(sampler, number))


@pytest.mark.parametrize("sequence", ["halton", "sobol"])
def test_start_up_points_past_the_first_block_are_drawn_without_a_warning(sequence):
    """scipy warns when a Sobol draw is not a power of two; a long sweep must not print that."""
    import warnings

    sampler = QuasiRandomStartSampler(dims=3, seed=0, sequence=sequence)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = [sampler._u(n, 0) for n in (0, 63, 64, 130, 200, 1000)]
    assert all(0.0 <= v < 1.0 for v in values) and len(sampler._points) == 1024
    assert sampler._u(63, 0) == values[1]   # redrawing a longer sequence keeps the earlier points


@pytest.mark.parametrize("sequence", ["halton", "sobol"])
def test_an_unseeded_sweep_keeps_its_start_up_points_when_the_sequence_grows(sequence):
    """Past 64 trials the sequence is redrawn longer; unseeded, it was redrawn with a new scramble, so the
    exploration points after that no longer continued the points already run."""
    sampler = QuasiRandomStartSampler(dims=3, seed=None, sequence=sequence)
    early = [sampler._u(n, d) for n in range(8) for d in range(3)]
    sampler._u(200, 0)
    assert [sampler._u(n, d) for n in range(8) for d in range(3)] == early


@pytest.mark.parametrize("run_cap,every", [(25, None), (49, None), (50, 5), (400, 5)])
def test_small_budgets_keep_every_trial_model_guided(run_cap, every):
    assert bayes(run_cap=run_cap).searcher.searcher._sampler.explore_every == every


def test_a_sampler_pickled_before_exploration_existed_still_suggests():
    searcher = bayes(seed=6, run_cap=60)
    sampler = searcher.searcher.searcher._sampler
    del sampler.explore_every                    # as unpickled from an older sweep directory
    assert len(run(searcher, 8)) == 8


def test_the_default_gp_warps_values_and_takes_over_early_with_many_in_flight():
    sampler = bayes(run_cap=25).searcher.searcher._sampler
    assert (sampler.warp, sampler.early_takeover) == (GP_WARP, GP_EARLY_TAKEOVER) == ("power", (3, 8))


def test_the_power_warp_keeps_the_order_and_evens_out_a_tail_of_bad_losses():
    """A diverged run (loss 1e4) next to losses near 1: fitted as is, the good trials' differences
    are 1e-4 of the spread the GP sees; warped, they are a visible part of it."""
    losses = np.array([1.0, 1.05, 1.1, 1.3, 1.6, 2.0, 2.5, 3.0, 1e4])
    warped = warp_losses(losses, "power")
    assert list(np.argsort(warped)) == list(np.argsort(losses))
    def good_share(v):   # the good trials' spread / all of it
        return (v[7] - v[0]) / np.ptp(v)

    assert good_share(losses) < 1e-3 and good_share(warped) > 0.1
    assert good_share(warp_losses(losses, "power-unclipped")) < 0.01   # the transform alone can't


def test_the_power_warp_compresses_a_long_tail_of_bad_losses():
    """Branin-like: losses spread over three decades; the GP should see the good end in detail."""
    losses = np.array([0.5, 0.9, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 150.0, 300.0])
    warped = warp_losses(losses, "power")
    assert np.array_equal(warped, warp_losses(losses, "power-unclipped"))   # no far outlier: nothing clipped
    assert list(np.argsort(warped)) == list(np.argsort(losses))
    def good_share(v):   # the best four's spread / all of it
        return (v[3] - v[0]) / np.ptp(v)

    assert good_share(losses) < 0.02 and good_share(warped) > 0.06


def test_the_power_warp_leaves_a_tail_of_good_losses_alone():
    """Hartmann6-like: most trials near 0, a few that found the basin far below. Compressing that
    tail would flatten the very region the search has to resolve."""
    losses = np.array([-0.01, -0.02, -0.05, -0.1, -0.1, -0.2, -0.3, -1.5, -2.9, -3.1])
    assert np.array_equal(warp_losses(losses, "power"), losses)
    assert not np.array_equal(warp_losses(losses, "yeo-johnson"), losses)   # the two-sided one bends it


@pytest.mark.parametrize("how", WARPS)
def test_every_warp_is_monotone_and_leaves_tiny_or_flat_inputs_alone(how):
    rng = np.random.default_rng(0)
    losses = rng.lognormal(size=40)
    warped = warp_losses(losses, how)
    assert np.all(np.diff(warped[np.argsort(losses)]) > 0)
    assert np.array_equal(warp_losses(np.array([3.0, 1.0]), how), [3.0, 1.0])
    assert np.array_equal(warp_losses(np.full(5, 2.0), how), np.full(5, 2.0))


def test_warped_trials_keep_the_direction_and_leave_non_finite_values_to_optuna():
    study = optuna.create_study(direction="maximize")
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    for i, acc in enumerate([0.9, 0.91, 0.92, 0.1, 0.93, float("-inf"), 0.05]):   # two diverged runs, one -inf
        study.add_trial(optuna.create_trial(params={"x": i / 10}, distributions=dist, value=acc))
    twins = warped_trials(study.trials, study.direction, "power")
    values = [t.value for t in twins]
    assert values[5] == float("-inf") and [t.value for t in study.trials][0] == 0.9   # originals untouched
    finite = [i for i in range(7) if i != 5]
    assert sorted(finite, key=lambda i: values[i]) == sorted(finite, key=lambda i: study.trials[i].value)
    assert [t.params for t in twins] == [t.params for t in study.trials]


def test_the_gp_is_fitted_to_the_warped_values():
    """With a diverged trial among Branin's, the GP's (standardized) training targets still spread
    the good trials apart; without the warp they sit within 1e-4 of each other."""
    def spread_of_good_targets(warp):
        searcher = bayes(seed=4, run_cap=30)
        sampler = searcher.searcher.searcher._sampler
        sampler.warp = warp
        run(searcher, 9, objective=lambda c: 1e6 if c["x1"] > 9.0 else branin(c))
        run(searcher, 1, start=9, objective=lambda c: 1e6)   # a diverged run
        run(searcher, 1, start=10)
        y = sampler._gprs_cache_list[0]._y_train.squeeze(-1).numpy()
        good = np.sort(y)[-5:]   # the GP maximises: the best five trials
        return np.ptp(good)
    plain, warped = spread_of_good_targets(None), spread_of_good_targets("power")
    assert plain < 1e-3 and warped > 0.05   # measured: 3e-5 and 0.12


def _fitted_lengthscales(lengthscale_tie, seed=3):
    """The GP's lengthscales after 12 trials of a 6-parameter objective that only x0 and x1 drive."""
    names = [f"x{i}" for i in range(6)]
    study = optuna.create_study(sampler=gp_sampler(seed=seed, dims=6, lengthscale_tie=lengthscale_tie))
    space = {n: optuna.distributions.FloatDistribution(0, 1) for n in names}
    for _ in range(12):
        trial = study.ask(space)
        study.tell(trial, (trial.params["x0"] - 0.3) ** 2 + 0.5 * (trial.params["x1"] - 0.7) ** 2)
    study.ask(space)   # fits the GP on the 12 results
    return study.sampler._gprs_cache_list[0].inverse_squared_lengthscales.detach().numpy() ** -0.5


SIX_PARAMETERS = {f"x{i}": {"min": 0.0, "max": 1.0} for i in range(6)}


def test_the_default_gp_pulls_its_lengthscales_together():
    sampler = bayes(run_cap=25, parameters=SIX_PARAMETERS).searcher.searcher._sampler
    assert isinstance(sampler._log_prior, TiedLengthscalePrior) and sampler._log_prior.strength == GP_LENGTHSCALE_TIE
    spread_free = np.ptp(np.log(_fitted_lengthscales(None)))
    spread_tied = np.ptp(np.log(_fitted_lengthscales(GP_LENGTHSCALE_TIE)))
    assert spread_tied < 0.5 * spread_free   # measured: 0.09 and 1.6 (log units)


def test_the_tied_prior_is_optunas_when_lengthscales_agree_and_lower_when_they_scatter():
    import torch
    from optuna._gp.gp import GPRegressor
    from optuna._gp.prior import default_log_prior

    def gpr(isl):
        return GPRegressor(is_categorical=torch.zeros(3, dtype=torch.bool), X_train=torch.rand(4, 3, dtype=torch.float64),
                           y_train=torch.rand(4, dtype=torch.float64),
                           inverse_squared_lengthscales=torch.tensor(isl, dtype=torch.float64),
                           kernel_scale=torch.tensor(1.0, dtype=torch.float64), noise_var=torch.tensor(0.01, dtype=torch.float64))
    prior = TiedLengthscalePrior(1.0)
    same, scattered = gpr([2.0, 2.0, 2.0]), gpr([0.02, 2.0, 200.0])
    assert float(prior(same)) == pytest.approx(float(default_log_prior(same)))
    expected_pull = ((np.log([0.02, 2.0, 200.0]) - np.log(2.0)) ** 2).sum()    # mean of the logs is log 2
    assert float(default_log_prior(scattered) - prior(scattered)) == pytest.approx(expected_pull)


def test_with_two_parameters_the_gp_keeps_optunas_prior():
    from optuna._gp.prior import default_log_prior

    assert bayes(run_cap=25).searcher.searcher._sampler._log_prior is default_log_prior
    assert gp_sampler(seed=0, dims=2, tie_min_params=2)._log_prior.strength == GP_LENGTHSCALE_TIE


def test_a_gp_with_tied_lengthscales_pickles_and_suggests_on():
    def objective(c):
        return sum((c[f"x{i}"] - 0.3) ** 2 for i in range(6))
    searcher = bayes(seed=5, run_cap=30, parameters=SIX_PARAMETERS)
    run(searcher, 7, objective=objective)
    clone = pickle.loads(pickle.dumps(searcher))
    assert isinstance(clone.searcher.searcher._sampler._log_prior, TiedLengthscalePrior)
    assert len(run(clone, 2, start=7, objective=objective)) == 2


def _gp_suggested(trial):
    """Whether Optuna's GP (not the Sobol start-up) chose ``trial``'s parameters."""
    frozen = trial.study.trials[trial.number]
    return any(key.startswith("gp:relative_params") for key in frozen.system_attrs)


def test_with_many_trials_in_flight_the_gp_takes_over_after_three_results():
    """16 in flight: waiting for 5 results would leave a 25-trial sweep 20 start-up points."""
    study = optuna.create_study(sampler=gp_sampler(seed=0, dims=2), direction="minimize")
    space = {"x1": optuna.distributions.FloatDistribution(-5, 10), "x2": optuna.distributions.FloatDistribution(0, 15)}
    running = [study.ask(space) for _ in range(16)]
    assert not any(_gp_suggested(t) for t in running)       # no result yet: the Sobol points
    for trial in running[:2]:
        study.tell(trial, branin(trial.params))
    assert not _gp_suggested(study.ask(space))               # 2 results: still start-up
    study.tell(running[2], branin(running[2].params))
    assert _gp_suggested(study.ask(space))                   # 3 results, 17 started: the GP


@pytest.mark.parametrize("in_flight", [1, 4])
def test_with_few_trials_in_flight_the_start_up_is_unchanged(in_flight):
    """The GP's first suggestion comes after 5 results, as before the early take-over existed."""
    study = optuna.create_study(sampler=gp_sampler(seed=1, dims=2), direction="minimize")
    space = {"x1": optuna.distributions.FloatDistribution(-5, 10), "x2": optuna.distributions.FloatDistribution(0, 15)}
    running = [study.ask(space) for _ in range(in_flight)]
    while True:
        oldest = running.pop(0)
        study.tell(oldest, branin(oldest.params))
        running.append(study.ask(space))
        completed = len(study.trials) - len(running)
        assert _gp_suggested(running[-1]) == (completed >= 5), (completed, running[-1].number)
        if completed >= 6:
            break


BRANIN_SPACE = {"x1": optuna.distributions.FloatDistribution(-5, 10),
                "x2": optuna.distributions.FloatDistribution(0, 15)}


def _crowded_pick(seed, trust_region):
    """16 trials in flight, the first 3 completed: the best one's parameters and the GP's next pick."""
    study = optuna.create_study(sampler=gp_sampler(seed=seed, dims=2, trust_region=trust_region), direction="minimize")
    running = [study.ask(BRANIN_SPACE) for _ in range(16)]
    for trial in running[:3]:
        study.tell(trial, branin(trial.params))
    pick = study.ask(BRANIN_SPACE)
    assert _gp_suggested(pick)
    return study.best_trial.params, pick.params


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_with_trials_in_flight_outnumbering_results_the_gp_searches_near_the_best(seed):
    """3 results and 15 fantasised trials in flight sent Optuna's acquisition to the corners (x1 at a bound
    on every seed here); the default searches a box of 4% of the space around the best trial instead."""
    best, pick = _crowded_pick(seed, GP_CROWDED_TRUST_REGION)
    side = GP_CROWDED_TRUST_REGION ** 0.5            # two parameters: a square of side 0.2
    for name, dist in BRANIN_SPACE.items():
        width = dist.high - dist.low
        low = min(max(best[name] - side * width / 2, dist.low), dist.high - side * width)
        assert low - 1e-9 <= pick[name] <= low + side * width + 1e-9, (name, best, pick)
    _, unconstrained = _crowded_pick(seed, None)
    # what the trust region replaces: a pick at (within 1% of) a bound of the space
    assert any(min(unconstrained[n] - d.low, d.high - unconstrained[n]) <= 0.01 * (d.high - d.low)
               for n, d in BRANIN_SPACE.items()), unconstrained


def test_crowded_picks_take_the_best_box_candidate_and_the_others_refine_it(monkeypatch):
    calls = []

    def spy(acqf, candidates, values, starts, **options):
        calls.append(starts)
        return refine_in_box(acqf, candidates, values, starts, **options)

    monkeypatch.setattr(bayes_module, "refine_in_box", spy)
    _crowded_pick(0, GP_CROWDED_TRUST_REGION)      # 3 results, 15 in flight: the best candidate, no refining
    assert calls == []
    run(bayes(seed=3, run_cap=30, max_concurrent_trials=4), 8)     # one at a time: 3 GP picks, each refined
    assert calls == [TRUST_REGION_REFINE] * 3


H6_SPACE = {f"x{i}": optuna.distributions.FloatDistribution(0.0, 1.0) for i in range(1, 7)}


def _corner_picks(trust_region, seed=5, trials=30, in_flight=4):
    """Hartmann6 with 4 in flight: how many GP picks put 3 or more of the 6 parameters on a bound."""
    from bench.problems import hartmann6

    study = optuna.create_study(sampler=gp_sampler(seed=seed, dims=6, trust_region=trust_region))
    running, corners = [], 0
    while len(study.trials) < trials:
        running += [study.ask(H6_SPACE) for _ in range(in_flight - len(running))]
        trial = running.pop(0)
        study.tell(trial, hartmann6(trial.params))
        on_bound = sum(min(v, 1.0 - v) < 1e-6 for v in trial.params.values())
        corners += _gp_suggested(trial) and on_bound >= 3
    return corners


@pytest.mark.slow   # two 30-trial GP loops in 6 dimensions: 20-40 s on 2 cores
def test_gp_picks_stay_near_the_best_instead_of_going_to_the_corners():
    """Optuna's search over the whole space pinned parameters to bounds and sent picks to corners (9 picks in the
    first 30 trials on this seed; 19 of 36 GP picks over 50 trials); the trust region with refining keeps them off."""
    assert _corner_picks(None) >= 5
    assert _corner_picks(GP_CROWDED_TRUST_REGION) == 0


def test_refining_climbs_the_acquisition_and_stays_in_the_candidates_box():
    """The pick improves on the best candidate and keeps every continuous parameter within the box the
    candidates span; a stepped parameter keeps its candidate's value."""
    import torch
    from optuna._gp.search_space import SearchSpace

    space = SearchSpace({"a": optuna.distributions.FloatDistribution(0.0, 1.0),
                         "b": optuna.distributions.FloatDistribution(0.0, 1.0),
                         "n": optuna.distributions.IntDistribution(1, 8)})

    class Bowl:      # an acquisition peaking at a = 0.9, b = 0.5, outside the box in a
        search_space = space
        length_scales = np.array([0.5, 0.2, 1.0])

        def eval_acqf(self, x):
            return -((x[..., :2] - torch.tensor([0.9, 0.5], dtype=x.dtype)) ** 2).sum(dim=-1)

        def eval_acqf_no_grad(self, xs):
            return self.eval_acqf(torch.from_numpy(xs)).numpy()

    best = np.array([0.3, 0.45, 0.5])
    candidates = trust_region_candidates(space, best, 0.04, np.random.RandomState(0), n=256)
    values = Bowl().eval_acqf_no_grad(candidates)
    pick = refine_in_box(Bowl(), candidates, values, starts=3)
    low, high = candidates[:, :2].min(axis=0), candidates[:, :2].max(axis=0)
    assert pick[0] == pytest.approx(high[0]) and pick[1] == pytest.approx(0.5, abs=0.01)   # the box's edge in a
    assert np.all(pick[:2] >= low - 1e-12) and np.all(pick[:2] <= high + 1e-12)
    assert -np.sum((pick[:2] - [0.9, 0.5]) ** 2) > values.max()
    assert pick[2] in set(candidates[:, 2])


def test_trust_region_candidates_fill_a_box_of_the_given_volume_around_the_best():
    from optuna._gp.search_space import SearchSpace

    space = SearchSpace({
        "act": optuna.distributions.CategoricalDistribution(["relu", "tanh", "gelu", "sigmoid"]),
        "dropout": optuna.distributions.FloatDistribution(0.0, 0.5),
        "layers": optuna.distributions.IntDistribution(1, 8),
        "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
    })
    best = np.array([2.0, 0.98, 0.5, 0.3])           # gelu, dropout near its upper bound
    points = trust_region_candidates(space, best, 0.008, np.random.RandomState(0), n=4096)
    side = 0.008 ** (1 / 3)                           # three ordered parameters: a cube of side 0.2
    assert points[:, 1].min() >= 1 - side - 1e-12 and points[:, 1].max() <= 1.0   # moved inside the bound
    assert points[:, 3].min() >= 0.2 - 1e-12 and points[:, 3].max() <= 0.4 + 1e-12
    layers = {space.get_unnormalized_param(p)["layers"] for p in points}
    assert layers <= {4, 5, 6} and all(isinstance(v, int) for v in layers)        # rounded to whole layers
    kept = np.mean(points[:, 0] == 2.0)
    assert 0.8 <= kept <= 0.88                        # 80% keep gelu, the rest draw any of the 4 values
    assert set(points[:, 0]) == {0.0, 1.0, 2.0, 3.0}


def test_a_one_parameter_box_is_no_narrower_than_the_minimum_side():
    from optuna._gp.search_space import SearchSpace

    space = SearchSpace({"lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True)})
    points = trust_region_candidates(space, np.array([0.5]), GP_CROWDED_TRUST_REGION, np.random.RandomState(1), n=1024)
    assert points.min() >= 0.4 - 1e-12 and points.max() <= 0.6 + 1e-12 and np.ptp(points) > 0.19


def test_a_crowded_sweep_over_categorical_and_integer_parameters_maximising_suggests_near_its_best():
    """16 in flight, a metric to maximise, a categorical, an integer and a nested float: the trust region's
    picks are valid configurations, and the integer stays within the box around the best trial."""
    parameters = {"act": {"values": ["relu", "tanh", "gelu"]},
                  "layers": {"distribution": "int_uniform", "min": 1, "max": 20},
                  "opt": {"parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}}}}
    searcher = compile_sweep(parse_sweep({
        "method": "bayes", "metric": {"name": "acc", "goal": "maximize"}, "run_cap": 40, "parameters": parameters,
        "sweeprunner": {"seed": 2, "bayes_sampler": "gp", "max_concurrent_trials": 16}})).search_alg

    def accuracy(c):
        return -abs(c["layers"] - 12) - abs(math.log10(c["opt"]["lr"]) + 2.5) + (c["act"] == "gelu")

    running = [(f"t{i}", suggest_now(searcher, f"t{i}")) for i in range(16)]
    done = []
    for k in range(5):                       # 3 to 7 results, 15 in flight: crowded
        trial_id, config = running.pop(0)
        searcher.on_trial_complete(trial_id, {"acc": accuracy(config)})
        done.append(config)
        if len(done) < 3:
            continue
        config = suggest_now(searcher, f"n{k}")
        running.append((f"n{k}", config))
        best = max(done, key=accuracy)
        assert config["act"] in {"relu", "tanh", "gelu"} and isinstance(config["layers"], int)
        assert 1e-4 <= config["opt"]["lr"] <= 1e-1
        assert abs(config["layers"] - best["layers"]) <= 0.2 * 20, (best, config)   # a box of side 0.04 ** 0.5


def test_a_sampler_pickled_before_warping_existed_still_suggests():
    searcher = bayes(seed=7, run_cap=30, max_concurrent_trials=8)
    sampler = searcher.searcher.searcher._sampler
    for name in ("warp", "early_takeover", "startup_trials", "trust_region", "_crowded"):
        delattr(sampler, name)                   # as unpickled from an older sweep directory
    assert len(run(searcher, 8)) == 8


class SlowSearcher(Searcher):
    """A real compiled searcher behind a fixed delay: a GP fit as slow as a loaded machine makes it."""

    def __init__(self, inner, delay):
        super().__init__(metric="loss", mode="min")
        self.inner, self.delay, self.completed = inner, delay, []

    def suggest(self, trial_id):
        time.sleep(self.delay)
        return self.inner.suggest(trial_id)

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append(trial_id)
        self.inner.on_trial_complete(trial_id, result=result, error=error)


def test_a_slow_suggestion_does_not_hold_up_the_driver():
    slow = SlowSearcher(bayes(seed=4).searcher.searcher, delay=0.6)
    searcher = BackgroundSuggester(slow)
    t0 = time.perf_counter()
    assert searcher.suggest("ray-a") is None  # Tune's "ask again later", answered at once
    assert time.perf_counter() - t0 < 0.4
    config = suggest_now(searcher, "ray-b")  # handed out under the id Tune asks with
    searcher.suggest("ray-c")  # the next one starts computing ...
    t1 = time.perf_counter()
    searcher.on_trial_complete("ray-b", {"loss": branin(config)})  # ... and a result goes through meanwhile
    assert time.perf_counter() - t1 < 0.3
    assert slow.completed == [f"{searcher._prefix}-s0"]  # the first inner id
    searcher.on_trial_complete("never-suggested", {"loss": 1.0})  # ids it never handed out are ignored
    assert suggest_now(searcher, "ray-d") is not None


def test_tune_style_checkpoint_keeps_the_outstanding_suggestion(tmp_path):
    """Tune saves wrappers with get_state/set_state and the base searcher with save_to_dir/restore_from_dir."""
    searcher = bayes(seed=8).searcher
    run(searcher, 6)
    searcher.suggest("busy")  # a GP suggestion, possibly still computing
    state = searcher.get_state()
    searcher.searcher.save_to_dir(str(tmp_path))
    restored = bayes(seed=8).searcher
    restored.set_state(state)
    restored.searcher.restore_from_dir(str(tmp_path))
    assert suggest_now(restored, "next") == suggest_now(searcher, "next")
    assert suggest_now(restored, "after") == suggest_now(searcher, "after")


def test_background_suggester_pickles_with_its_outstanding_suggestion():
    searcher = bayes(seed=6).searcher
    run(searcher, 3)
    searcher.suggest("busy")  # may still be computing
    copy = pickle.loads(pickle.dumps(searcher))
    assert suggest_now(copy, "next") == suggest_now(searcher, "next")


BAYES_KILL_CONFIG = """
name: bayes-kill-and-resume
method: bayes
run_cap: 8
metric: {name: loss, goal: minimize}
parameters:
  lr: {distribution: log_uniform_values, min: 1e-5, max: 1.0}
  epochs: {value: 3}
  sleep: {value: 0.5}
sweeprunner: {trainable: toy, seed: 3, max_concurrent_trials: 2}
"""


@pytest.mark.slow
def test_bayes_sweep_killed_then_resumed_runs_its_budget_once(tmp_path):
    """The GP searcher (behind BackgroundSuggester) is checkpointed by Tune and restored by `resume`."""
    import os
    import signal

    import pandas as pd

    from tests import test_resume as tr

    config = tmp_path / "sweep.yaml"
    config.write_text(BAYES_KILL_CONFIG)
    sweep_dir = tmp_path / "out"
    driver = tr.subprocess.Popen([tr.sys.executable, "-m", "sweeprunner", "run", str(config), "--storage",
                                  str(sweep_dir), "--num-cpus", "2", "--quiet"], cwd=tr.REPO, env=tr.ENV,
                                 start_new_session=True, text=True, stdout=tr.subprocess.PIPE,
                                 stderr=tr.subprocess.STDOUT)
    try:
        tr.wait_for_outcomes(sweep_dir, driver, 3)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        time.sleep(2)
        try:
            os.killpg(driver.pid, signal.SIGKILL)  # what the killed driver left behind (only ours)
        except ProcessLookupError:
            pass
    assert list(sweep_dir.glob("**/searcher-state-*.pkl")), "Tune saved no searcher state"
    resumed = tr.resume(sweep_dir)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    table = pd.read_csv(sweep_dir / "results.csv")
    assert len(table) == 8 and set(table["status"]) <= {"finished", "stopped"}
    assert table["config.lr"].nunique() == 8  # no config handed out twice across the kill
