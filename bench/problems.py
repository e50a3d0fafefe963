"""Benchmark problems for search quality, shared by the W&B and sweeprunner sides.

Each problem is a W&B sweep ``parameters`` dict, an ``evaluate(config) -> float`` to minimize
(``config`` is the nested plain dict a trial receives), the known minimum ``f_star`` and a
config that attains it. Only numpy is needed: the W&B side runs this file inside the oracle
venv (``.venv-wandb``), loading it by path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

METRIC = "objective"


@dataclass(frozen=True)
class Problem:
    name: str
    parameters: dict[str, Any]
    evaluate: Callable[[dict[str, Any]], float]
    f_star: float
    optimum: dict[str, Any]

    def sweep_config(self, method: str, **extra: Any) -> dict[str, Any]:
        """A W&B sweep config minimizing ``objective`` over this problem's parameters."""
        return {
            "method": method,
            "metric": {"name": METRIC, "goal": "minimize"},
            "parameters": self.parameters,
            **extra,
        }


# --- Branin (2-d): three global minima, f* = 0.397887 -------------------------------------
def branin(config: dict[str, Any]) -> float:
    x1, x2 = float(config["x1"]), float(config["x2"])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


BRANIN = Problem(
    name="branin",
    parameters={"x1": {"min": -5.0, "max": 10.0}, "x2": {"min": 0.0, "max": 15.0}},
    evaluate=branin,
    f_star=0.397887,
    optimum={"x1": math.pi, "x2": 2.275},
)

# --- Hartmann6 (6-d on [0,1]^6): f* = -3.32237 ------------------------------------------------
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(config: dict[str, Any]) -> float:
    x = np.array([float(config[f"x{i}"]) for i in range(1, 7)])
    return float(-np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


HARTMANN6 = Problem(
    name="hartmann6",
    parameters={f"x{i}": {"min": 0.0, "max": 1.0} for i in range(1, 7)},
    evaluate=hartmann6,
    f_star=-3.32237,
    optimum=dict(
        zip(
            [f"x{i}" for i in range(1, 7)],
            [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573],
            strict=True,
        )
    ),
)

# --- Mixed: log-scale, int, categorical and nested parameters; f* = 0 by construction --------
# The best learning rate depends on the activation; each activation also carries a penalty,
# zero only for gelu. Every term is >= 0 and all vanish at the optimum below.
_LR_CENTRE = {"relu": -3.0, "tanh": -2.5, "gelu": -3.5, "sigmoid": -2.0}
_ACT_PENALTY = {"relu": 0.3, "tanh": 0.6, "gelu": 0.0, "sigmoid": 1.0}


def mixed(config: dict[str, Any]) -> float:
    opt, act = config["optimizer"], config["activation"]
    return (
        (math.log10(float(opt["lr"])) - _LR_CENTRE[act]) ** 2
        + 10.0 * (float(opt["momentum"]) - 0.9) ** 2
        + 0.05 * (int(config["layers"]) - 5) ** 2
        + 4.0 * (float(config["dropout"]) - 0.2) ** 2
        + _ACT_PENALTY[act]
    )


MIXED = Problem(
    name="mixed",
    parameters={
        "optimizer": {
            "parameters": {
                "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
                "momentum": {"distribution": "uniform", "min": 0.5, "max": 0.99},
                "name": {"value": "sgd"},
            }
        },
        "layers": {"distribution": "int_uniform", "min": 1, "max": 8},
        "activation": {"values": ["relu", "tanh", "gelu", "sigmoid"]},
        "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
        "epochs": {"value": 10},
    },
    evaluate=mixed,
    f_star=0.0,
    optimum={
        "optimizer": {"lr": 10**-3.5, "momentum": 0.9, "name": "sgd"},
        "layers": 5,
        "activation": "gelu",
        "dropout": 0.2,
        "epochs": 10,
    },
)

PROBLEMS: dict[str, Problem] = {p.name: p for p in (BRANIN, HARTMANN6, MIXED)}


# --- Six-hump camel (2-d): a second 2-parameter problem, for choices that hinge on the dimension ----
# Two global minima f* = -1.0316 at (0.0898, -0.7126) and (-0.0898, 0.7126), four local ones.
def camel(config: dict[str, Any]) -> float:
    x1, x2 = float(config["x1"]), float(config["x2"])
    return (4 - 2.1 * x1**2 + x1**4 / 3) * x1**2 + x1 * x2 + (-4 + 4 * x2**2) * x2**2


CAMEL = Problem(
    name="camel",
    parameters={"x1": {"min": -3.0, "max": 3.0}, "x2": {"min": -2.0, "max": 2.0}},
    evaluate=camel,
    f_star=-1.031628,
    optimum={"x1": 0.0898, "x2": -0.7126},
)


# --- Goldstein-Price (2-d), on a log scale as in the BO literature: f* = log(3) at (0, -1) ------------
def goldstein_price(config: dict[str, Any]) -> float:
    x1, x2 = float(config["x1"]), float(config["x2"])
    a = 1 + (x1 + x2 + 1) ** 2 * (19 - 14 * x1 + 3 * x1**2 - 14 * x2 + 6 * x1 * x2 + 3 * x2**2)
    b = 30 + (2 * x1 - 3 * x2) ** 2 * (18 - 32 * x1 + 12 * x1**2 + 48 * x2 - 36 * x1 * x2 + 27 * x2**2)
    return math.log(a * b)


GOLDSTEIN = Problem(
    name="goldstein",
    parameters={"x1": {"min": -2.0, "max": 2.0}, "x2": {"min": -2.0, "max": 2.0}},
    evaluate=goldstein_price,
    f_star=math.log(3.0),
    optimum={"x1": 0.0, "x2": -1.0},
)


# --- Learning rate x weight decay (2-d, both log-scaled): the 2-parameter sweep users run most ---------
# A tilted valley in log-log space (the best weight decay moves with the learning rate) and a steep wall
# where the learning rate diverges (above 10^-1.5). f* = 0 at lr = 1e-3, weight_decay = 1e-4.
def lr_weight_decay(config: dict[str, Any]) -> float:
    u = math.log10(float(config["lr"])) + 3.0
    v = math.log10(float(config["weight_decay"])) + 4.0
    diverged = max(0.0, math.log10(float(config["lr"])) + 1.5)
    return (u - 0.5 * v) ** 2 + 0.2 * (u + v) ** 2 + 20.0 * diverged**2


LR_WEIGHT_DECAY = Problem(
    name="lrwd",
    parameters={
        "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
        "weight_decay": {"distribution": "log_uniform_values", "min": 1e-6, "max": 1e-1},
    },
    evaluate=lr_weight_decay,
    f_star=0.0,
    optimum={"lr": 1e-3, "weight_decay": 1e-4},
)
#: Problems ``bench/search_quality.py --problems`` also accepts; not in the default runs or the report.
EXTRA_PROBLEMS: dict[str, Problem] = {p.name: p for p in (CAMEL, GOLDSTEIN, LR_WEIGHT_DECAY)}
ALL_PROBLEMS: dict[str, Problem] = {**PROBLEMS, **EXTRA_PROBLEMS}


def best_so_far(values: Sequence[float]) -> list[float]:
    return np.minimum.accumulate(np.asarray(values, dtype=float)).tolist()


def summarize(best_values: Sequence[float], f_star: float) -> dict[str, float]:
    """Mean, standard error and median of the best values over seeds, and of their regret."""
    best = np.asarray(best_values, dtype=float)
    regret = best - f_star
    n = len(best)

    def se(a: np.ndarray) -> float:
        return float(a.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan

    return {
        "n": n,
        "best_mean": float(best.mean()),
        "best_se": se(best),
        "best_median": float(np.median(best)),
        "regret_mean": float(regret.mean()),
        "regret_se": se(regret),
        "regret_median": float(np.median(regret)),
    }
