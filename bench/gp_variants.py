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
    GP_EARLY_TAKEOVER,
    GP_STARTUP_TRIALS,
    explore_every_for,
    gp_sampler,
)


def parse_knobs(text: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in text.split(",") if kv)


def variant_sampler(knobs: dict[str, str], seed: int, dims: int, budget: int) -> Any:
    """The default GP built with the knobs' settings (no warp and no early take-over unless a knob sets them)."""
    explore = knobs.get("explore")
    early = (int(knobs["early"]), GP_EARLY_TAKEOVER[1]) if "early" in knobs else None
    return gp_sampler(seed, dims, startup=int(knobs.get("startup", GP_STARTUP_TRIALS)),
                      explore_every=explore_every_for(budget) if explore is None else (int(explore) or None),
                      warp=knobs.get("warp"), early_takeover=early, deterministic_objective=knobs.get("det") == "1")
