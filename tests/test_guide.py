"""Every sweep config in the user's guide compiles, with the ranges the guide means."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sweeprunner.compile.compiler import compile_sweep
from sweeprunner.compile.sampling import random_configs
from sweeprunner.config import distributions as d
from sweeprunner.config.parse import load_sweep, parse_sweep

REPO = Path(__file__).resolve().parents[1]
GUIDE = Path(__file__).parent / "data" / "wandb-sweeps-guide.md"
RECIPES = REPO / "recipes" / "guide"


def guide_sweep_configs() -> list[dict]:
    """Every complete ``sweep_config = {...}`` literal in the guide (those with ``{...}`` elided are skipped)."""
    text = GUIDE.read_text()
    configs = []
    for match in re.finditer(r"sweep_config(?:_v\d)? = (\{.*?\n\})", text, re.S):
        value = ast.literal_eval(match.group(1))
        if "..." not in repr(value) and "Ellipsis" not in repr(value):
            configs.append(value)
    return configs


def guide_parameter_fragments() -> dict[str, dict]:
    """The ``'name': {...}`` parameter snippets of the guide's distribution and best-practice sections."""
    text = GUIDE.read_text()
    fragments = {}
    for match in re.finditer(r"'(\w+)': (\{[^{}]*\})", text):
        body = ast.literal_eval(match.group(2))
        if isinstance(body, dict) and ({"values", "value", "min", "distribution"} & body.keys()):
            fragments.setdefault(match.group(1) + f"#{len(fragments)}", body)
    return fragments


def _without_labels(spec):
    return spec.method, spec.metric, spec.parameters, spec.early_terminate


def test_guide_has_the_configs_we_expect():
    assert len(guide_sweep_configs()) == 10  # basic, complete, grid, random, bayes, nested, conditional, image, nlp, refined


@pytest.mark.parametrize("raw", guide_sweep_configs(), ids=lambda r: f"{r['method']}-{r.get('metric', {}).get('name', 'nometric')}-{len(r['parameters'])}")
def test_every_guide_config_compiles(raw):
    spec = parse_sweep(raw, overrides={"count": 8})
    compiled = compile_sweep(spec)
    assert compiled.num_samples == (18 if raw["method"] == "grid" else 8)
    for config in random_configs(spec, 50, seed=1):
        for path, dist in spec.parameters.leaves():
            value = config
            for part in path:
                value = value[part]
            if isinstance(dist, d.LogUniform):
                assert dist.low <= value <= dist.high


@pytest.mark.parametrize("name", ["basic", "complete", "grid", "random", "bayes", "nested", "conditional", "refined"])
def test_guide_recipe_matches_the_guide(name):
    """recipes/guide/<name>.yaml is the guide's config, plus what running it needs."""
    recipe = load_sweep(RECIPES / f"{name}.yaml")
    matches = [raw for raw in guide_sweep_configs() if _without_labels(parse_sweep(raw)) == _without_labels(recipe)]
    assert matches, f"recipes/guide/{name}.yaml differs from every guide config"


def test_guide_log_uniform_learning_rates_mean_values():
    """The guide writes log_uniform 1e-5..1e-1 for a learning rate: sampled values lie in that range."""
    spec = load_sweep(RECIPES / "basic.yaml")
    values = [c["learning_rate"] for c in random_configs(spec, 2000, seed=0)]
    assert 1e-5 <= min(values) < 2e-5 and 0.05 < max(values) <= 1e-1
    below = sum(v < 1e-3 for v in values) / len(values)
    assert 0.45 < below < 0.55  # log-uniform: half the mass below the geometric midpoint


def test_guide_parameter_fragments_all_parse():
    fragments = guide_parameter_fragments()
    assert len(fragments) >= 20
    for name, body in fragments.items():
        parse_sweep({"method": "random", "parameters": {name.split("#")[0]: body}})


def test_guide_quantized_parameters_step_as_written():
    spec = load_sweep(RECIPES / "distributions.yaml")
    configs = random_configs(spec, 500, seed=0)
    assert {c["layer_size"] % 32 for c in configs} == {0} and min(c["layer_size"] for c in configs) >= 32
    assert {c["hidden_size"] % 32 for c in configs} == {0} and max(c["hidden_size"] for c in configs) <= 1024


def test_guide_grid_runs_18_in_wandb_order():
    spec = load_sweep(RECIPES / "grid.yaml")
    points = list(compile_sweep(spec).points)
    assert len(points) == 18
    assert points[0] == {"batch_size": 16, "learning_rate": 0.001, "optimizer": "adam"}
    assert points[1] == {"batch_size": 16, "learning_rate": 0.001, "optimizer": "sgd"}
    assert points[-1] == {"batch_size": 64, "learning_rate": 0.1, "optimizer": "sgd"}


def test_guide_complete_hyperband_bands():
    spec = load_sweep(RECIPES / "complete.yaml")
    assert spec.early_terminate.bands == [3, 9]
