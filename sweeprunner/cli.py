"""``python -m sweeprunner``: validate, plan, sample, run, resume, results and report.

Exit codes: 0 success; 1 some trials errored; 2 bad config or arguments; 130 interrupted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from sweeprunner.errors import SweepConfigError

COMMANDS = ("validate", "plan", "sample", "run", "resume", "results", "report")
EXIT_OK, EXIT_TRIALS_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 too; keep its usage line
        self.print_usage(sys.stderr)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = ("count", "seed", "storage", "max_concurrent_trials")
    return {key: getattr(args, key, None) for key in keys if getattr(args, key, None) is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sweeprunner", description="Run W&B-style sweep configs on Ray Tune, on your own hardware.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def with_config(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("config", help="sweep YAML file")
        return p

    with_config("validate", "Check a sweep config; print every problem with its key path.")
    p = with_config("plan", "Show what the sweep compiles to: parameters, searcher, scheduler, resources, trials.")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--tune", action="store_true", help="print the parameters as a Ray Tune param_space (Python)")
    p.add_argument("--count", type=int, help="trials for random/bayes when run_cap is absent")
    p = with_config("sample", "Print N parameter sets as the random method draws them (grid: the grid points).")
    p.add_argument("-n", type=int, default=10, help="how many (grid: the first N; default 10)")
    p.add_argument("--seed", type=int, help="random seed (default: sweeprunner.seed, else 0)")
    p = with_config("run", "Run the sweep on an embedded local Ray or an existing cluster.")
    p.add_argument("--address", help="Ray cluster address: auto or HOST:PORT (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--num-cpus", type=int, help="CPUs of the embedded local Ray (default: all)")
    p.add_argument("--num-gpus", type=int, help="GPUs of the embedded local Ray (logical GPUs allowed; default: detected)")
    p.add_argument("--storage", help="results directory (absolute or relative path) or URI (s3://, gs://)")
    p.add_argument("--count", type=int, help="trials for random/bayes (as wandb agent --count); without it and "
                                             "without run_cap they run until stopped (Ctrl-C, then resume)")
    p.add_argument("--seed", type=int, help="seed for every method")
    p.add_argument("--max-concurrent", dest="max_concurrent_trials", type=int, help="most trials at once")
    p.add_argument("--quiet", action="store_true", help="no progress output, only the summary")
    p = sub.add_parser("resume", help="Continue an interrupted sweep from its directory.",
                       description="Continue an interrupted sweep: finished trials are kept, running ones resume "
                                   "from checkpoints, the searcher and early stopping keep their state.")
    p.add_argument("directory", help="the sweep directory printed when the sweep started")
    p.add_argument("--address")
    p.add_argument("--num-cpus", type=int)
    p.add_argument("--num-gpus", type=int)
    p.add_argument("--quiet", action="store_true")
    p = sub.add_parser("results", help="Print and export the results of a finished or interrupted sweep.")
    p.add_argument("directory")
    p.add_argument("--top", type=int, default=10, help="rows in the summary table")
    p = sub.add_parser("report", help="Write DIR/report.html: one self-contained page with the sweep's plots and table.")
    p.add_argument("directory")
    return parser


def _cmd_validate(args: argparse.Namespace) -> int:
    from sweeprunner.compile.compiler import planned_points
    from sweeprunner.config.parse import load_sweep
    from sweeprunner.trial.preflight import runnable_problems

    spec = load_sweep(args.config)
    for warning in spec.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if spec.method == "grid":
        planned_points(spec)  # a grid too big to run is refused here, not when it runs
    problems = runnable_problems(spec, os.getcwd())
    if problems:
        raise SweepConfigError(problems, source=spec.source)
    print(f"{args.config}: ok ({spec.method}, {sum(1 for _ in spec.parameters.leaves())} parameters)")
    return EXIT_OK


def _cmd_plan(args: argparse.Namespace) -> int:
    from sweeprunner.compile.compiler import compile_sweep, quiet_search_libraries
    from sweeprunner.compile.plan import describe_plan, render_plan
    from sweeprunner.config.parse import load_sweep

    spec = load_sweep(args.config, overrides=_overrides(args))
    if args.tune:
        from sweeprunner.compile.tunespace import tune_space_code

        print(tune_space_code(spec), end="")
        return EXIT_OK
    quiet_search_libraries()
    plan = describe_plan(compile_sweep(spec))
    print(json.dumps(plan, indent=2, default=str) if args.json else render_plan(plan))
    return EXIT_OK


def _cmd_sample(args: argparse.Namespace) -> int:
    from sweeprunner.compile.sampling import GridPlan, RandomPlan
    from sweeprunner.config.parse import load_sweep

    if args.n < 1:
        raise SweepConfigError.single(("-n",), f"must be >= 1, got {args.n}")
    spec = load_sweep(args.config)
    seed = args.seed if args.seed is not None else spec.runner.seed
    plan = GridPlan(spec) if spec.method == "grid" else RandomPlan(spec, args.n, seed)
    for config in itertools.islice(plan, args.n):
        print(json.dumps(config, default=str))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from sweeprunner.run.launch import LaunchOptions, run_sweep_file

    options = LaunchOptions(address=args.address, num_cpus=args.num_cpus, num_gpus=args.num_gpus, quiet=args.quiet)
    return run_sweep_file(args.config, overrides=_overrides(args), options=options)


def _cmd_resume(args: argparse.Namespace) -> int:
    from sweeprunner.run.launch import LaunchOptions, resume_sweep

    options = LaunchOptions(address=args.address, num_cpus=args.num_cpus, num_gpus=args.num_gpus, quiet=args.quiet)
    return resume_sweep(args.directory, options=options)


def _cmd_results(args: argparse.Namespace) -> int:
    from sweeprunner.results.tables import print_results

    return print_results(args.directory, top=args.top)


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sweeprunner.results.records import trial_ids
    from sweeprunner.results.report import write_report
    from sweeprunner.results.tables import LAUNCH_FILE

    directory = Path(args.directory)
    if not (directory / LAUNCH_FILE).is_file() and not trial_ids(directory):
        raise SweepConfigError.single(("directory",), f"{directory} is not a sweeprunner sweep directory (no {LAUNCH_FILE})")
    print(write_report(directory))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        argv.insert(0, "run")  # `python -m sweeprunner CONFIG` is `run CONFIG`
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = {"validate": _cmd_validate, "plan": _cmd_plan, "sample": _cmd_sample, "run": _cmd_run,
               "resume": _cmd_resume, "results": _cmd_results,
               "report": _cmd_report}[args.command]
    try:
        return handler(args)
    except SweepConfigError as exc:
        print(f"error: invalid sweep config\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
