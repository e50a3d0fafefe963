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
