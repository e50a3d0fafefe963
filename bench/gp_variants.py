"""Experimental knobs on sweeprunner's GP sampler, for ``bench/search_quality.py`` (method names ``x<C>:<knobs>``).

``x4:`` is the GP with 4 in flight and no extras (no warp, no early take-over); knobs add them back or
try others, e.g. ``x8:warp=power,early=3`` (8 in flight, the power warp, the GP taking over once 3
trials have completed and 8 started). Knobs: ``warp`` (a name in ``bayes.WARPS``), ``early`` (completed
trials for the early take-over, at 8 started), ``startup`` (Sobol start-up trials), ``explore`` (every
N-th trial a Sobol point; 0 off; default as the budget decides) and ``det=1`` (Optuna's
``deterministic_objective``).
"""

from __future__ import annotations

from typing import Any

from sweeprunner.compile.bayes import (
    GP_STARTUP_TRIALS,
    CappedGPSampler,
    SobolStartSampler,
    explore_every_for,
)


def parse_knobs(text: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in text.split(",") if kv)


def variant_sampler(knobs: dict[str, str], seed: int, dims: int, budget: int) -> Any:
    explore = knobs.get("explore")
    return CappedGPSampler(
        seed=seed, n_startup_trials=int(knobs.get("startup", GP_STARTUP_TRIALS)),
        independent_sampler=SobolStartSampler(dims, seed), warn_independent_sampling=False,
        explore_every=explore_every_for(budget) if explore is None else (int(explore) or None),
        warp=knobs.get("warp"), early_takeover=(int(knobs["early"]), 8) if "early" in knobs else None,
        deterministic_objective=knobs.get("det") == "1")
