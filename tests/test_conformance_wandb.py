"""Conformance against W&B's own sweep engine (PyPI ``sweeps==0.3.0``, run in ``.venv-wandb``).

Random sampling is compared by distribution (two-sample KS for continuous values, chi-square on
counts for discrete and quantized ones; p > 0.001 at fixed seeds), grid enumeration, hyperband
bands and hyperband stop decisions exactly. Every oracle answer this module needs comes from
one subprocess (the module-scoped ``wb`` fixture sends one batch).
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats

try:
    from tests import oracle
except ImportError:  # pytest run without the repo root on sys.path
    import oracle  # type: ignore[no-redef]

from sweeprunner.compile.hyperband import runs_to_stop, wandb_bands
from sweeprunner.compile.sampling import grid_configs, random_configs
from sweeprunner.config.parse import load_sweep, parse_sweep
from sweeprunner.errors import SweepConfigError

pytestmark = [
    pytest.mark.oracle,
    pytest.mark.skipif(not oracle.available(), reason=oracle.SKIP_REASON),
]

REPO = Path(__file__).resolve().parents[1]
N = 2000
WANDB_SEED = 20240601
OURS_SEED = 7
P_MIN = 1e-3

# ---------------------------------------------------------------------------------------------
# Random sampling cases: name -> (parameter spec, kind, support or None).
# kind: "continuous" (KS) or "discrete" (chi-square). The v1 log distributions use exponent
# bounds with min <= 0, where sweeprunner's `log_uniform_bounds: auto` reads them as W&B does.
E = math.e
RANDOM_CASES: dict[str, tuple[dict, str, tuple[float, float] | None]] = {
    "categorical": ({"values": ["relu", "tanh", 3, 4.5, True, [1, 2]]}, "discrete", None),
    "categorical_w_probabilities": (
        {"values": ["a", "b", "c", "d"], "probabilities": [0.1, 0.2, 0.3, 0.4]},
        "discrete",
        None,
    ),
    "int_uniform": ({"min": -3, "max": 4}, "discrete", (-3, 4)),
    "int_uniform_explicit": (
        {"distribution": "int_uniform", "min": 0, "max": 9},
        "discrete",
        (0, 9),
    ),
    "uniform": ({"min": -2.5, "max": 7.0}, "continuous", (-2.5, 7.0)),
    "uniform_mixed_int_float": ({"min": 1, "max": 10.5}, "continuous", (1, 10.5)),
    "q_uniform": (
        {"distribution": "q_uniform", "min": 0, "max": 10, "q": 0.5},
        "discrete",
        (0, 10),
    ),
    "q_uniform_int_q": (
        {"distribution": "q_uniform", "min": 0, "max": 10, "q": 3},
        "discrete",
        (0, 9),
    ),
    "q_uniform_default_q": (
        {"distribution": "q_uniform", "min": -0.5, "max": 5.5},
        "discrete",
        (-1, 6),
    ),
    "log_uniform": (
        {"distribution": "log_uniform", "min": -9.2, "max": -2.3},
        "continuous",
        (E**-9.2, E**-2.3),
    ),
    "log_uniform_values": (
        {"distribution": "log_uniform_values", "min": 1e-5, "max": 0.1},
        "continuous",
        (1e-5, 0.1),
    ),
    "q_log_uniform": (
        {"distribution": "q_log_uniform", "min": -1.0, "max": 4.6, "q": 2},
        "discrete",
        (0, 100),
    ),
    "q_log_uniform_values": (
        {"distribution": "q_log_uniform_values", "min": 1, "max": 1000, "q": 10},
        "discrete",
        (0, 1000),
    ),
    "inv_log_uniform": (
        {"distribution": "inv_log_uniform", "min": -2.0, "max": 3.0},
        "continuous",
        (E**-3.0, E**2.0),
    ),
    "inv_log_uniform_values": (
        {"distribution": "inv_log_uniform_values", "min": 1e-3, "max": 10.0},
        "continuous",
        (1e-3, 10.0),
    ),
    "normal": ({"distribution": "normal", "mu": 1.5, "sigma": 2.0}, "continuous", None),
    "normal_defaults": ({"distribution": "normal"}, "continuous", None),
    "q_normal": (
        {"distribution": "q_normal", "mu": 0.0, "sigma": 3.0, "q": 0.5},
        "discrete",
        None,
    ),
    "log_normal": (
        {"distribution": "log_normal", "mu": -1.0, "sigma": 0.5},
        "continuous",
        (0.0, math.inf),
    ),
    "q_log_normal": (
        {"distribution": "q_log_normal", "mu": 2.0, "sigma": 0.5, "q": 1},
        "discrete",
        (0, math.inf),
    ),
    "beta": ({"distribution": "beta", "a": 2.0, "b": 5.0}, "continuous", (0.0, 1.0)),
    "beta_defaults": ({"distribution": "beta"}, "continuous", (0.0, 1.0)),
    "q_beta": (
        {"distribution": "q_beta", "a": 0.5, "b": 0.5, "q": 0.1},
        "discrete",
        (0.0, 1.0),
    ),
}

NESTED_PARAMETERS = {
    "layers": {"min": 1, "max": 4},
    "opt": {
        "parameters": {
            "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
            "name": {"values": ["adam", "sgd", "rmsprop"]},
            "inner": {
                "parameters": {
                    "momentum": {"min": 0.5, "max": 0.99},
                    "k": {"value": 3},
                    "width": {"distribution": "q_normal", "mu": 64, "sigma": 16, "q": 8},
                }
            },
        }
    },
    "tag": {"value": {"nested": [1, "x"]}},
}
NESTED_KINDS = {
    ("layers",): "discrete",
    ("opt", "lr"): "continuous",
    ("opt", "name"): "discrete",
    ("opt", "inner", "momentum"): "continuous",
    ("opt", "inner", "k"): "constant",
    ("opt", "inner", "width"): "discrete",
    ("tag",): "constant",
}

CLI_PARAMETERS = {
    "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0},
    "opt": {"parameters": {"name": {"values": ["adam", "sgd"]}, "beta": {"value": 0.9}}},
}
CLI_N = 400

# ---------------------------------------------------------------------------------------------
# Grid cases: every one must enumerate identically, in the same order, with the same types.
GRID_CASES: dict[str, dict] = {
    "nested_dedupe_ranges": {
        "alpha": {"values": [1, 2.0, 2, 3]},  # 2.0 and 2 collapse; the last one (2) is emitted
        "opt": {
            "parameters": {
                "b_mom": {"values": [0.8, 0.9]},
                "lr": {"distribution": "q_uniform", "min": 0.1, "max": 1.0, "q": 0.3},
                "name": {"value": "sgd"},
            }
        },
        "qq": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 3},
        "zeta": {"min": 1, "max": 3},
        "c": {"value": "const"},
    },
    "whole_number_floats": {
        "big": {"values": [3e6, 3000000, 1.5]},
        "small": {"values": [1, 1.0, 2.0]},
    },
    "q_uniform_default_q_floats": {"x": {"distribution": "q_uniform", "min": 0, "max": 5}},
    "q_uniform_float_steps": {"x": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.1}},
    "q_uniform_max_excluded": {"x": {"distribution": "q_uniform", "min": 0, "max": 12, "q": 4}},
    "int_uniform_negative": {"i": {"distribution": "int_uniform", "min": -2, "max": 2}},
    "structured_values": {
        "d": {"values": [{"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1}, [1, 2], "x", None]},
        "flag": {"values": [True, False]},
    },
    "deep_nesting": {
        "a": {"parameters": {"b": {"parameters": {"c": {"values": [1, 2]}, "k": {"value": 0}}}}},
        "z": {"values": ["p", "q"]},
        "m": {"parameters": {"n": {"min": 0, "max": 1}}},
    },
    "constants_only": {"a": {"value": 1}, "b": {"parameters": {"c": {"value": "x"}}}},
}

# Parameter types W&B's grid refuses ("disallowed type with grid search").
GRID_DISALLOWED: dict[str, dict] = {
    "uniform": {"min": 0.0, "max": 1.0},
    "normal": {"distribution": "normal"},
    "log_uniform_values": {"distribution": "log_uniform_values", "min": 1e-3, "max": 1.0},
    "categorical_w_probabilities": {"values": [1, 2], "probabilities": [0.5, 0.5]},
    "q_log_uniform_values": {"distribution": "q_log_uniform_values", "min": 1, "max": 100, "q": 1},
}

# ---------------------------------------------------------------------------------------------
# Hyperband bands: the research doc's examples, then randomized ones.
BAND_EXAMPLES: list[tuple[dict, list[int]]] = [
    ({"max_iter": 27, "s": 2, "eta": 3}, [3, 9]),
    ({"max_iter": 81, "s": 3, "eta": 3}, [3, 9, 27]),
    ({"max_iter": 18, "s": 2, "eta": 3}, [2, 6]),
    ({"max_iter": 100, "s": 10, "eta": 3}, [1, 3, 11, 33]),
    ({"min_iter": 3, "eta": 3}, [3, 9, 27, 81]),
    ({"min_iter": 3, "eta": 2.5}, [3, 7, 18, 46]),
]


def _random_eta(rng: random.Random) -> float:
    return rng.choice([2, 3, 4, 2.5, 3.0, round(rng.uniform(1.05, 6.0), 3)])


def _random_band_cases(n: int = 200) -> list[dict]:
    rng = random.Random(11)
    cases = []
    for i in range(n):
        if i % 2:
            cases.append(
                {"max_iter": rng.randint(1, 400), "s": rng.randint(0, 7), "eta": _random_eta(rng)}
            )
        else:
            cases.append({"min_iter": rng.randint(1, 40), "eta": _random_eta(rng)})
    return cases


BAND_RANDOM = _random_band_cases()


def _ours_bands(et: dict) -> list[int]:
    if "max_iter" in et:
        return list(wandb_bands(max_iter=et["max_iter"], s=et["s"], eta=et.get("eta", 3.0)))
    return list(wandb_bands(min_iter=et["min_iter"], eta=et.get("eta", 3.0), count=100))


# ---------------------------------------------------------------------------------------------
# Hyperband stop decisions.
STATES = ["running"] * 6 + ["finished", "failed", "crashed", "killed", "pending"]


def _doc_nine_runs(strict: bool) -> list[dict]:
    """The doc's example: run k's 3rd value is k; in the non-strict variant odd runs logged 0."""
    runs = []
    for k in range(1, 10):
        second = 0.0 if (not strict and k % 2) else 10.0
        runs.append({"name": f"r{k}", "state": "running", "history": [10.0, second, float(k)]})
    return runs


def _random_stop_cases(n: int = 300) -> list[dict]:
    rng = random.Random(5)
    cases = []
    while len(cases) < n:
        if rng.random() < 0.5:
            et: dict[str, Any] = {"min_iter": rng.randint(1, 4), "eta": _random_eta(rng)}
        else:
            et = {"max_iter": rng.randint(3, 40), "s": rng.randint(1, 4), "eta": _random_eta(rng)}
            if not (et["max_iter"] / et["eta"] >= 1):
                continue
        choice = rng.random()
        if choice < 0.4:
            et["strict"] = True
        elif choice < 0.8:
            et["strict"] = False  # else: omitted, W&B's default (strict)
        ties = rng.random() < 0.5
        runs = []
        for j in range(rng.randint(1, 12)):
            state = "running" if j == 0 else rng.choice(STATES)
            length = rng.randint(0, 12)
            hist = [
                float(rng.randint(0, 4)) if ties else round(rng.gauss(0.0, 1.0), 4)
                for _ in range(length)
            ]
            runs.append({"name": f"run{j}", "state": state, "history": hist})
        goal = rng.choice(["minimize", "maximize"])
        cases.append({"early_terminate": et, "goal": goal, "runs": runs})
    return cases


STOP_RANDOM = _random_stop_cases()


def _stop_config(early_terminate: dict, goal: str = "minimize") -> dict:
    return {
        "method": "random",
        "metric": {"name": "loss", "goal": goal},
        "early_terminate": {"type": "hyperband", **early_terminate},
        "parameters": {"a": {"value": 1}},
    }


# ---------------------------------------------------------------------------------------------
# Schema validity: configs W&B rejects for reasons sweeprunner must also reject.
INVALID_CONFIGS: dict[str, dict] = {
    "min_not_less_than_max": {"method": "random", "parameters": {"a": {"min": 5, "max": 1}}},
    "unknown_distribution": {
        "method": "random",
        "parameters": {"a": {"distribution": "gaussian", "mu": 0}},
    },
    "empty_values": {"method": "random", "parameters": {"a": {"values": []}}},
    "bad_parameter_name": {"method": "random", "parameters": {"1a": {"values": [1]}}},
    "unknown_parameter_key": {"method": "random", "parameters": {"a": {"value": 1, "foo": 2}}},
    "probabilities_not_summing_to_1": {
        "method": "random",
        "parameters": {"a": {"values": [1, 2], "probabilities": [0.5, 0.6]}},
    },
    "log_uniform_values_nonpositive_min": {
        "method": "random",
        "parameters": {"a": {"distribution": "log_uniform_values", "min": 0, "max": 1}},
    },
    "int_uniform_float_bounds": {
        "method": "random",
        "parameters": {"a": {"distribution": "int_uniform", "min": 0.5, "max": 3}},
    },
    "unknown_method": {"method": "hyperopt", "parameters": {"a": {"values": [1]}}},
    "missing_method": {"parameters": {"a": {"values": [1]}}},
    "eta_not_above_1": {
        "method": "random",
        "metric": {"name": "loss"},
        "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 1},
        "parameters": {"a": {"values": [1]}},
    },
    "hyperband_without_iters": {
        "method": "random",
        "metric": {"name": "loss"},
        "early_terminate": {"type": "hyperband", "eta": 3},
        "parameters": {"a": {"values": [1]}},
    },
    "bad_goal": {
        "method": "bayes",
        "metric": {"name": "loss", "goal": "min"},
        "parameters": {"a": {"min": 0.0, "max": 1.0}},
    },
    "command_not_array": {
        "method": "random",
        "command": "python x.py",
        "parameters": {"a": {"values": [1]}},
    },
    "run_cap_zero": {"method": "random", "run_cap": 0, "parameters": {"a": {"values": [1]}}},
    "unknown_top_level_key": {
        "method": "random",
        "foo": 1,
        "parameters": {"a": {"values": [1]}},
    },
}


# ---------------------------------------------------------------------------------------------
def _requests() -> dict[str, dict]:
    reqs: dict[str, dict] = {}
    for i, (name, (param, _, _)) in enumerate(RANDOM_CASES.items()):
        cfg = {"method": "random", "parameters": {"x": param}}
        reqs[f"random:{name}"] = {"op": "random", "config": cfg, "n": N, "seed": WANDB_SEED + i}
        reqs[f"validate:{name}"] = {"op": "validate", "config": cfg}
        for via in (False, True):
            reqs[f"random_check:{name}:{via}"] = {
                "op": "random",
                "config": cfg,
                "n": 100,
                "seed": 1,
                "via_next_runs": via,
            }
    reqs["random:nested"] = {
        "op": "random",
        "config": {"method": "random", "parameters": NESTED_PARAMETERS},
        "n": N,
        "seed": WANDB_SEED,
    }
    reqs["random:cli"] = {
        "op": "random",
        "config": {"method": "random", "parameters": CLI_PARAMETERS},
        "n": N,
        "seed": WANDB_SEED,
    }
    for name, params in GRID_CASES.items():
        reqs[f"grid:{name}"] = {"op": "grid", "config": {"method": "grid", "parameters": params}}
    for name, param in GRID_DISALLOWED.items():
        reqs[f"grid_disallowed:{name}"] = {
            "op": "grid",
            "config": {"method": "grid", "parameters": {"a": {"values": [1, 2]}, "x": param}},
        }
    for i, (et, _) in enumerate(BAND_EXAMPLES):
        reqs[f"bands:example{i}"] = {"op": "bands", "early_terminate": et}
    for i, et in enumerate(BAND_RANDOM):
        reqs[f"bands:random{i}"] = {"op": "bands", "early_terminate": et}
    for strict in (True, False):
        et = {"min_iter": 1, "eta": 3, "strict": strict}
        reqs[f"stop:doc:{strict}"] = {
            "op": "stop",
            "config": _stop_config(et),
            "runs": _doc_nine_runs(strict),
        }
    for i, case in enumerate(STOP_RANDOM):
        reqs[f"stop:random{i}"] = {
            "op": "stop",
            "config": _stop_config(case["early_terminate"], case["goal"]),
            "runs": case["runs"],
        }
    for name, cfg in INVALID_CONFIGS.items():
        reqs[f"validate:invalid:{name}"] = {"op": "validate", "config": cfg}
    return reqs


@pytest.fixture(scope="module")
def wb() -> dict[str, dict]:
    """All of W&B's answers for this module, from one oracle subprocess."""
    reqs = _requests()
    answers = oracle.batch(list(reqs.values()), timeout=300)
    return dict(zip(reqs, answers, strict=True))


# ---------------------------------------------------------------------------------------------
# Helpers
def _py(x: Any) -> Any:
    """Numpy scalars -> Python; -0.0 -> 0.0 (W&B's rounding emits both)."""
    if isinstance(x, dict):
        return {k: _py(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_py(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and x == 0.0:
        return 0.0
    return x


def _key(x: Any) -> str:
    return json.dumps(_py(x), sort_keys=True)


def _leaves(cfg: dict, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Flatten a nested run config; dict-valued constants stay whole (their paths are listed)."""
    out: dict[tuple[str, ...], Any] = {}
    for k, v in cfg.items():
        path = (*prefix, k)
        if isinstance(v, dict) and path not in NESTED_KINDS and path != ("x",):
            out.update(_leaves(v, path))
        else:
            out[path] = v
    return out


def _types(values: list) -> set[str]:
    return {type(_py(v)).__name__ for v in values}


def _assert_same_distribution(label: str, kind: str, ours: list, theirs: list) -> None:
    assert len(ours) and len(theirs)
    assert _types(ours) == _types(theirs), (
        f"{label}: value types differ: sweeprunner {sorted(_types(ours))} vs W&B {sorted(_types(theirs))}"
    )
    if kind == "constant":
        assert {_key(v) for v in ours} == {_key(v) for v in theirs}, label
        return
    if kind == "continuous":
        a = np.asarray(ours, dtype=float)
        b = np.asarray(theirs, dtype=float)
        res = stats.ks_2samp(a, b)
        assert res.pvalue > P_MIN, (
            f"{label}: KS statistic {res.statistic:.4f}, p={res.pvalue:.2e}; "
            f"sweeprunner mean {a.mean():.6g} median {np.median(a):.6g} range [{a.min():.6g}, {a.max():.6g}]; "
            f"W&B mean {b.mean():.6g} median {np.median(b):.6g} range [{b.min():.6g}, {b.max():.6g}]"
        )
        return
    ca, cb = Counter(map(_key, ours)), Counter(map(_key, theirs))
    only_ours = set(ca) - set(cb)
    rare_only_ours = {k for k in only_ours if ca[k] >= 10}
    assert not rare_only_ours, f"{label}: values W&B never drew: {sorted(rare_only_ours)[:10]}"
    # pool categories whose combined count is under 10 so the chi-square approximation holds
    keys = sorted(set(ca) | set(cb))
    common = [k for k in keys if ca[k] + cb[k] >= 10]
    rows = [[ca[k] for k in common], [cb[k] for k in common]]
    rare_a = sum(ca[k] for k in keys if k not in common)
    rare_b = sum(cb[k] for k in keys if k not in common)
    if rare_a + rare_b:
        rows[0].append(rare_a)
        rows[1].append(rare_b)
    if len(rows[0]) == 1:
        assert set(ca) == set(cb), label
        return
    res = stats.chi2_contingency(np.array(rows))
    top = ", ".join(f"{k}: {ca[k]} vs {cb[k]}" for k in sorted(keys, key=lambda k: -cb[k])[:8])
    assert res.pvalue > P_MIN, (
        f"{label}: chi-square {res.statistic:.1f} (dof {res.dof}), p={res.pvalue:.2e}; "
        f"counts sweeprunner vs W&B: {top}"
    )


# ---------------------------------------------------------------------------------------------
# Random sampling
def test_oracle_fast_random_path_is_next_runs(wb: dict) -> None:
    """The bridge's vectorised sampler returns exactly what ``sweeps.next_runs`` returns."""
    for name in RANDOM_CASES:
        fast = oracle.result(wb[f"random_check:{name}:False"])
        engine = oracle.result(wb[f"random_check:{name}:True"])
        assert json.dumps(fast, sort_keys=True) == json.dumps(engine, sort_keys=True), name


@pytest.mark.parametrize("name", list(RANDOM_CASES))
def test_random_distribution_matches_wandb(wb: dict, name: str) -> None:
    param, kind, support = RANDOM_CASES[name]
    theirs = [c["x"] for c in oracle.result(wb[f"random:{name}"])]
    spec = parse_sweep({"method": "random", "parameters": {"x": param}})
    configs = random_configs(spec, N, OURS_SEED)
    assert len(configs) == N
    assert all(set(c) == {"x"} for c in configs)
    ours = [c["x"] for c in configs]
    if support is not None:
        lo, hi = support
        bad = [v for v in ours if not (lo - 1e-12 <= float(v) <= hi + 1e-12)]
        assert not bad, f"{name}: values outside [{lo}, {hi}]: {bad[:5]}"
    _assert_same_distribution(name, kind, ours, theirs)


def test_random_nested_matches_wandb(wb: dict) -> None:
    theirs = oracle.result(wb["random:nested"])
    ours = random_configs(
        parse_sweep({"method": "random", "parameters": NESTED_PARAMETERS}), N, OURS_SEED
    )
    assert len(ours) == N
    their_paths = {tuple(sorted(_leaves(c))) for c in theirs}
    our_paths = {tuple(sorted(_leaves(_py(c)))) for c in ours}
    assert our_paths == their_paths == {tuple(sorted(NESTED_KINDS))}
    for path, kind in NESTED_KINDS.items():
        _assert_same_distribution(
            ".".join(path),
            kind,
            [_leaves(_py(c))[path] for c in ours],
            [_leaves(c)[path] for c in theirs],
        )


def test_load_sweep_yaml_equals_parse_sweep(tmp_path: Path) -> None:
    raw = {"method": "random", "parameters": NESTED_PARAMETERS}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(raw))
    from_file = random_configs(load_sweep(path), 50, 1)
    assert _key(from_file) == _key(random_configs(parse_sweep(raw), 50, 1))


def test_random_is_reproducible_per_seed() -> None:
    spec = parse_sweep({"method": "random", "parameters": NESTED_PARAMETERS})
    assert _key(random_configs(spec, 20, 3)) == _key(random_configs(spec, 20, 3))
    assert _key(random_configs(spec, 20, 3)) != _key(random_configs(spec, 20, 4))


def test_sample_cli_matches_wandb(wb: dict, tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"method": "random", "parameters": CLI_PARAMETERS}))
    proc = subprocess.run(
        [sys.executable, "-m", "sweeprunner", "sample", str(path), "-n", str(CLI_N), "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == CLI_N
    ours = [json.loads(line) for line in lines]
    theirs = oracle.result(wb["random:cli"])
    assert {_key(sorted(_leaves(c))) for c in ours} == {_key(sorted(_leaves(c))) for c in theirs}
    _assert_same_distribution(
        "cli lr", "continuous", [c["lr"] for c in ours], [c["lr"] for c in theirs]
    )
    _assert_same_distribution(
        "cli opt.name",
        "discrete",
        [c["opt"]["name"] for c in ours],
        [c["opt"]["name"] for c in theirs],
    )
    assert {c["opt"]["beta"] for c in ours} == {0.9}


# ---------------------------------------------------------------------------------------------
# Grid
@pytest.mark.parametrize("name", list(GRID_CASES))
def test_grid_matches_wandb_exactly(wb: dict, name: str) -> None:
    theirs = [_key(c) for c in oracle.result(wb[f"grid:{name}"])]
    ours = [
        _key(c)
        for c in grid_configs(parse_sweep({"method": "grid", "parameters": GRID_CASES[name]}))
    ]
    first_diff = next(
        (i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), None
    )
    assert ours == theirs, (
        f"{name}: {len(ours)} sweeprunner points vs {len(theirs)} W&B points; first difference at "
        f"index {first_diff}: sweeprunner {ours[first_diff] if first_diff is not None else '-'} vs "
        f"W&B {theirs[first_diff] if first_diff is not None else '-'}"
    )


def test_grid_case_sanity(wb: dict) -> None:
    """The oracle's grids show the documented W&B behaviours these cases are meant to pin down."""
    g = oracle.result(wb["grid:nested_dedupe_ranges"])
    assert (
        len(g) == 3 * 2 * 3 * 4 * 3
    )  # alpha{1,2,3} b_mom{2} lr{0.1,0.4,0.7..} qq{0,3,6,9} zeta{1,2,3}
    assert [c["zeta"] for c in g[:3]] == [1, 2, 3]  # the last name varies fastest
    assert {json.dumps(c["alpha"]) for c in g} == {"1", "2", "3"}
    assert [_key(c) for c in oracle.result(wb["grid:whole_number_floats"])] == [
        _key({"big": b, "small": s}) for b in (3000000, 1.5) for s in (1.0, 2.0)
    ]
    assert [c["x"] for c in oracle.result(wb["grid:q_uniform_max_excluded"])] == [0, 4, 8]
    assert len(oracle.result(wb["grid:constants_only"])) == 1


@pytest.mark.parametrize("name", list(GRID_DISALLOWED))
def test_grid_refuses_what_wandb_refuses(wb: dict, name: str) -> None:
    answer = wb[f"grid_disallowed:{name}"]
    assert not answer["ok"] and "disallowed type with grid search" in answer["error"]
    raw = {"method": "grid", "parameters": {"a": {"values": [1, 2]}, "x": GRID_DISALLOWED[name]}}
    with pytest.raises((SweepConfigError, ValueError)):
        grid_configs(parse_sweep(raw))


# ---------------------------------------------------------------------------------------------
# Hyperband bands
@pytest.mark.parametrize("i", range(len(BAND_EXAMPLES)))
def test_bands_doc_examples(wb: dict, i: int) -> None:
    et, expected = BAND_EXAMPLES[i]
    theirs = oracle.result(wb[f"bands:example{i}"])
    assert theirs[: len(expected)] == expected
    assert _ours_bands(et) == theirs


def test_bands_randomized(wb: dict) -> None:
    mismatches = []
    for i, et in enumerate(BAND_RANDOM):
        answer = wb[f"bands:random{i}"]
        if not answer["ok"]:  # W&B refuses (no band at all): sweeprunner must not invent bands
            try:
                ours = _ours_bands(et)
            except (ValueError, SweepConfigError):
                continue
            if ours:
                mismatches.append((et, ours, answer["error"]))
            continue
        ours, theirs = _ours_bands(et), answer["result"]
        if ours != theirs:
            k = next(
                (k for k, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), None
            )
            mismatches.append(
                f"{et}: {len(ours)} vs {len(theirs)} bands; first difference at index {k}: "
                f"sweeprunner {ours[k] if k is not None else '-'} vs W&B {theirs[k] if k is not None else '-'}"
            )
    assert not mismatches, (
        f"{len(mismatches)} band mismatches (case, sweeprunner, W&B): {mismatches[:5]}"
    )


# ---------------------------------------------------------------------------------------------
# Hyperband stop decisions
def _ours_stop(runs: list[dict], goal: str, et: dict, bands: list[int]) -> set[str]:
    sign = -1.0 if goal == "maximize" else 1.0
    histories = {r["name"]: [sign * v for v in r["history"]] for r in runs}
    running = {r["name"] for r in runs if r["state"] == "running"}
    return set(
        runs_to_stop(
            histories, running, bands, float(et.get("eta", 3)), bool(et.get("strict", True))
        )
    )


@pytest.mark.parametrize("strict", [True, False])
def test_stop_doc_nine_runs(wb: dict, strict: bool) -> None:
    expected = {f"r{k}" for k in (5, 6, 7, 8, 9)} if strict else {"r6", "r8"}
    answer = oracle.result(wb[f"stop:doc:{strict}"])
    assert set(answer["stop"]) == expected
    et = {"min_iter": 1, "eta": 3, "strict": strict}
    assert (
        _ours_stop(_doc_nine_runs(strict), "minimize", et, wandb_bands(min_iter=1, eta=3))
        == expected
    )


def test_stop_randomized(wb: dict) -> None:
    mismatches = []
    n_stopping = 0
    for i, case in enumerate(STOP_RANDOM):
        answer = oracle.result(wb[f"stop:random{i}"])
        theirs = set(answer["stop"])
        n_stopping += bool(theirs)
        ours = _ours_stop(case["runs"], case["goal"], case["early_terminate"], answer["bands"])
        if ours != theirs:
            mismatches.append(
                {
                    "case": i,
                    "sweeprunner": sorted(ours),
                    "wandb": sorted(theirs),
                    **case,
                    "thresholds": answer["thresholds"][:6],
                }
            )
    assert n_stopping > len(STOP_RANDOM) // 4  # the cases exercise stopping, not just "keep all"
    assert not mismatches, f"{len(mismatches)} of {len(STOP_RANDOM)} differ; first: {mismatches[0]}"


def test_stop_randomized_bands_from_wandb_bands(wb: dict) -> None:
    """The bands sweeprunner computes for the random stop cases are the ones W&B used."""
    for i, case in enumerate(STOP_RANDOM):
        assert _ours_bands(case["early_terminate"]) == oracle.result(wb[f"stop:random{i}"])["bands"]


# ---------------------------------------------------------------------------------------------
# Validation
@pytest.mark.parametrize("name", list(INVALID_CONFIGS))
def test_wandb_invalid_configs_are_rejected(wb: dict, name: str) -> None:
    violations = oracle.result(wb[f"validate:invalid:{name}"])
    assert violations, f"{name}: W&B accepts it, so the case is wrong"
    with pytest.raises(SweepConfigError):
        parse_sweep(INVALID_CONFIGS[name])


@pytest.mark.parametrize("name", list(RANDOM_CASES))
def test_wandb_valid_random_cases_parse(wb: dict, name: str) -> None:
    """Every sampling case W&B validates without complaint parses (the v1 log ones warn in W&B)."""
    violations = oracle.result(wb[f"validate:{name}"])
    if name in ("log_uniform", "q_log_uniform", "inv_log_uniform"):
        assert any("base-e exponents" in v for v in violations), violations
    else:
        assert violations == [], violations
    parse_sweep({"method": "random", "parameters": {"x": RANDOM_CASES[name][0]}})
