"""plan describes the CompiledSweep it is given; compiling changes no process-wide state (issue 10)."""

from __future__ import annotations

import logging
import warnings

from sweeprunner.compile.compiler import compile_sweep
from sweeprunner.config.parse import parse_sweep

BAYES = {"method": "bayes", "metric": {"name": "loss"}, "run_cap": 10,
         "parameters": {"x": {"min": 0.0, "max": 1.0}, "n": {"distribution": "q_log_normal", "q": 1}}}


def test_compiling_bayes_leaves_optuna_logging_and_warning_filters_alone():
    import optuna

    compile_sweep(parse_sweep(BAYES))  # first import of Ray/Optuna adds their own filters
    warnings.filters[:] = [f for f in warnings.filters if "Define-by-run" not in str(f[1])]
    optuna.logging.set_verbosity(logging.INFO)
    filters = list(warnings.filters)
    compile_sweep(parse_sweep(BAYES))
    assert optuna.logging.get_verbosity() == logging.INFO
    assert warnings.filters == filters


def test_plan_reads_the_compiled_objects_not_its_own_table():
    from sweeprunner.compile.plan import describe_plan

    compiled = compile_sweep(parse_sweep({**BAYES, "sweeprunner": {"bayes_sampler": "tpe", "max_concurrent_trials": 3}}))
    plan = describe_plan(compiled)
    assert plan["search"]["searcher"] == "OptunaSearch with Optuna TPESampler"
    assert plan["search"]["max_concurrent"] == compiled.search_alg.max_concurrent == 3
    grid = describe_plan(compile_sweep(parse_sweep({"method": "grid", "parameters": {"x": {"values": [1, 2]}}})))
    assert grid["search"]["searcher"] == "PlannedSearcher: W&B grid order (last name fastest)" and grid["trials"] == 2


def test_plan_names_the_closest_ray_scheduler_to_wandb_hyperband():
    from sweeprunner.compile.plan import describe_plan, render_plan

    spec = parse_sweep({**BAYES, "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2}})
    plan = describe_plan(compile_sweep(spec))
    sched = plan["early_terminate"]
    assert sched["scheduler"].startswith("WandbHyperbandScheduler") and sched["bands"] == [3, 9]
    assert sched["closest_ray_scheduler"] == "AsyncHyperBandScheduler(grace_period=3, reduction_factor=3, brackets=1, max_t=27)"
    assert any("max_t" in d for d in sched["differences"]) and any("pauses" in d for d in sched["differences"])
    assert "closest Ray scheduler: AsyncHyperBandScheduler" in render_plan(plan)


def test_plan_of_a_capped_huge_grid_states_its_size():
    from sweeprunner.compile.plan import describe_plan

    spec = parse_sweep({"method": "grid", "run_cap": 5, "parameters": {
        "x": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 1e-10}, "y": {"values": [1, 2]}}})
    plan = describe_plan(compile_sweep(spec))
    assert plan["trials"] == 5 and plan["trial_budget_from"] == "the grid of 20,000,000,000 points, capped by run_cap 5"
