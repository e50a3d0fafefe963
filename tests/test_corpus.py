"""Every one of the 55 real W&B sweep configs either compiles or fails with a clear, correct error."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sweeprunner.compile.compiler import compile_sweep
from sweeprunner.compile.sampling import grid_configs
from sweeprunner.config.parse import load_sweep
from sweeprunner.errors import SweepConfigError

CORPUS = Path(__file__).parent / "data" / "wandb-configs"

#: file-name prefix -> (expected error substrings, why the config cannot run). Everything else compiles.
REJECTED = {
    "sawo0150__dlp-light-correction": (["parameters.batch_size.values: must be a non-empty list, got 1"],
                                       "values is a scalar; W&B's schema rejects it too"),
    "soniajoseph__ViT-Prisma": (["command: must be a list of strings"],
                                "command is a mapping {count: 1}; W&B requires an argument list"),
    "thatguy11325__pokemonred_puffer": (["method: required", "metric.goal_value: unknown key"],
                                        "no method (a CARBS local controller) and a non-W&B metric key"),
    "wandb__examples__examples_keras_keras-cnn-fashion_sweep-tune-hyperopt": (
        ["tune: unknown key", "method: required", "parameters: required"], "the removed `tune:` format (wandb<=0.10)"),
    "wandb__examples__examples_launch_launch-sweeps_custom-scheduler": (
        ["method: required"], "W&B Launch scheduler job; method lives in scheduler.settings"),
    "wandb__examples__examples_launch_launch-sweeps_optuna-scheduler": (
        ["method: required"], "W&B Launch Optuna scheduler; no method"),
    "wandb__examples__examples_launch_launch-sweeps_quickstart": (
        ["scheduler: W&B's custom/Launch schedulers"], "Launch `scheduler:` block; W&B's schema rejects it without engine"),
    "wandb__sweeps__examples_sweep-ax-moo": (["metrics: W&B's custom/Launch schedulers", "metric_constraints: unknown key"],
                                             "method ax / multi-objective: unreleased in W&B"),
    "wandb__wandb__tests_pytest_tests_system_tests_test_sweep_test_wandb_sweep_py__SWEEP_CONFIG_BAYES_PROBABILITIES": (
        ["probabilities: must sum to 1, got [0.1, 0.2, 0.1] (sum 0.4)"], "probabilities sum to 0.4; W&B rejects it"),
}

#: Configs that need a trial budget to compile: the corpus leaves run counts to `wandb agent --count`.
COUNT = {"count": 5}


def _expected(path: Path):
    return next((v for k, v in REJECTED.items() if path.name.startswith(k)), None)


def test_corpus_is_complete():
    assert len(list(CORPUS.glob("*.yaml"))) == 55


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.yaml")), ids=lambda p: p.name[:70])
def test_corpus_config(path: Path):
    expected = _expected(path)
    if expected is None:
        spec = load_sweep(path, overrides=COUNT)
        compiled = compile_sweep(spec)
        assert compiled.num_samples >= 1
        return
    fragments, _why = expected
    with pytest.raises(SweepConfigError) as info:
        load_sweep(path, overrides=COUNT)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message


def test_corpus_legacy_log_uniform_is_read_as_exponents_with_a_warning():
    spec = load_sweep(next(CORPUS.glob("wandb__examples__examples_fastai*")))
    (dist,) = [d for p, d in spec.parameters.leaves() if p == ("learning_rate",)]
    assert dist.low == pytest.approx(2.718281828 ** -11) and dist.high == pytest.approx(2.718281828 ** -2)
    assert any("learning_rate: log_uniform bounds -11..-2 read as natural-log exponents" in w for w in spec.warnings)


def test_corpus_scientific_notation_without_dot_is_a_number():
    spec = load_sweep(next(CORPUS.glob("ultralytics__yolov5*")))
    (dist,) = [d for p, d in spec.parameters.leaves() if p == ("lr0",)]
    assert (dist.low, dist.high) == (1e-5, 1e-1)


def test_corpus_grid_with_run_cap_is_capped():
    spec = load_sweep(next(CORPUS.glob("Luisibear98__mars-steg*")))
    assert spec.run_cap == 36
    assert compile_sweep(spec).num_samples == 12  # the whole grid is smaller than the cap
    capped = compile_sweep(replace(spec, run_cap=5))
    assert capped.num_samples == 5 and list(capped.points) == grid_configs(spec)[:5]
