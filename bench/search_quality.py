"""Search quality: sweeprunner bayes/random vs W&B's engine on Branin, Hartmann6 and a mixed space.

sweeprunner's side drives the searcher that ``compile_sweep`` builds -- the very
``ConcurrencyLimiter(OptunaSearch(...))`` object Ray Tune would drive -- directly with
``suggest(trial_id)`` / ``on_trial_complete(trial_id, result)``, without Ray trials (16 seeds x
2 budgets x 3 problems x several methods through real Ray trials would take hours on 2 cores).
It keeps up to ``max_concurrent_trials`` (default 4, as the runner does) suggestions in flight and
completes the oldest first, as Ray does with equally fast trials. ``random`` is the random
method's planned configs (``sampling.random_configs``).

The default GP looks at the budget (it explores more from 50 trials on), so every budget runs its
own loop (``run_cap`` = the budget), as a sweep with that ``run_cap`` would.

W&B's side comes from ``bench/wandb_baseline.py`` (its JSON, ``--wandb-json``), run if missing.

    .venv/bin/python bench/search_quality.py                      # all problems, 16 seeds, budgets 25 50
    .venv/bin/python bench/search_quality.py --seeds 2 --methods tpe random --problems branin
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from common import RESULTS, load, now, quiet_warnings, table, write_json  # noqa: I001  (sets sys.path)

from bench.problems import ALL_PROBLEMS, METRIC, PROBLEMS, summarize

#: method -> (bayes_sampler, concurrency, sampler override or None, label)
METHODS: dict[str, tuple[str | None, int, str | None, str]] = {
    "tpe": ("tpe", 4, None, "bayes_sampler: tpe (TPE multivariate, constant liar; 4 in flight)"),
    "random": (None, 1, None, "sweeprunner random"),
    "gp": ("gp", 4, None, "sweeprunner bayes default (pending-aware GP on power-warped values, tied lengthscales, "
                          "Sobol start-up of 5 (Halton where a categorical is searched), early take-over and "
                          "a trust region with many in flight, from 50 trials every 5th a point of that sequence; "
                          "4 in flight)"),
    "gp-c8": ("gp", 8, None, "sweeprunner bayes default, 8 in flight"),
    "gp-c16": ("gp", 16, None, "sweeprunner bayes default, 16 in flight"),
    "gp-seq": ("gp", 1, None, "sweeprunner bayes default, 1 in flight"),
    "gp-plain": ("gp", 4, "gp-plain", "Optuna GPSampler as is (10 random start-up trials; 4 in flight)"),
    "gp-plain-c8": ("gp", 8, "gp-plain", "Optuna GPSampler as is, 8 in flight"),
    "gp-plain-c16": ("gp", 16, "gp-plain", "Optuna GPSampler as is, 16 in flight"),
    "gp-s5-random": ("gp", 4, "gp-s5-random", "GPSampler, 5 random start-up trials (4 in flight)"),
    "gp-sobol10": ("gp", 4, "gp-sobol10", "GPSampler, Sobol start-up of 10 (4 in flight)"),
    "gp-sobol3": ("gp", 4, "gp-sobol3", "GPSampler, Sobol start-up of 3 (4 in flight)"),
    "gp-sobol7": ("gp", 4, "gp-sobol7", "GPSampler, Sobol start-up of 7 (4 in flight)"),
    "gp-explore5": ("gp", 4, "gp-explore5", "GPSampler, every 5th trial a Sobol point at any budget (4 in flight)"),
    "gp-explore4": ("gp", 4, "gp-explore4", "GPSampler, every 4th trial a Sobol point at any budget (4 in flight)"),
    "gp-stall6": ("gp", 4, "gp-stall6", "default gp; after 6 trials without improvement every 2nd is Sobol"),
    "gp-stall10": ("gp", 4, "gp-stall10", "default gp; after 10 trials without improvement every 2nd is Sobol"),
    "gp-late5": ("gp", 4, "gp-late5", "default gp; from trial 20 every 5th is Sobol"),
    "gp-sobol3-c8": ("gp", 8, "gp-sobol3", "GPSampler, Sobol start-up of 3, 8 in flight"),
    "gp-sobol2-c8": ("gp", 8, "gp-sobol2", "GPSampler, Sobol start-up of 2, 8 in flight"),
    "gp-sobol3-c16": ("gp", 16, "gp-sobol3", "GPSampler, Sobol start-up of 3, 16 in flight"),
    "gp-sobol2-c16": ("gp", 16, "gp-sobol2", "GPSampler, Sobol start-up of 2, 16 in flight"),
    "tpe-c8": ("tpe", 8, None, "TPE multivariate, constant liar, 8 in flight"),
    "tpe-c16": ("tpe", 16, None, "TPE multivariate, constant liar, 16 in flight"),
    "tpe-seq": ("tpe", 1, None, "TPE, 1 in flight (max_concurrent_trials: 1)"),
    # optuna-integration's BoTorchSampler (needs botorch + optuna-integration; bench/botorch_sampler.py):
    # default candidates with running trials = qEI with X_pending; Sobol start-up of 5 completed trials
    "botorch": ("gp", 4, "botorch", "BoTorchSampler qEI, running trials pending, Sobol start-up of 5 (4 in flight)"),
    "botorch-c8": ("gp", 8, "botorch", "BoTorchSampler qEI, 8 in flight"),
    "botorch-c16": ("gp", 16, "botorch", "BoTorchSampler qEI, 16 in flight"),
    "botorch-qlogei": ("gp", 4, "botorch-qlogei", "BoTorchSampler qLogEI, running trials pending (4 in flight)"),
    "botorch-qlognei": ("gp", 4, "botorch-qlognei", "BoTorchSampler qLogNEI, running trials pending (4 in flight)"),
}
DEFAULT_METHODS = ["gp", "gp-c8", "gp-c16", "gp-plain", "random"]


def method_spec(method: str) -> tuple[str | None, int, str | None, str]:
    """``METHODS[method]``, or a ``x<C>:<knobs>`` variant (bench/gp_variants.py) with C in flight."""
    if method in METHODS:
        return METHODS[method]
    head, _, knobs = method.partition(":")
    if not head.startswith("x") or not head[1:].isdigit():
        raise ValueError(f"unknown method {method!r}")
    return ("gp", int(head[1:]), f"x:{knobs}", f"GP variant {knobs or 'default'}, {head[1:]} in flight")


def _override_sampler(searcher: Any, name: str, seed: int, dims: int, budget: int) -> None:
    import optuna

    from sweeprunner.compile.bayes import gp_sampler

    samplers = {
        "gp-plain": lambda: optuna.samplers.GPSampler(seed=seed),
        "gp-s5-random": lambda: gp_sampler(seed, dims, startup=5, start_sequence=None),
        "gp-sobol10": lambda: gp_sampler(seed, dims, startup=10, start_sequence="sobol"),
        "gp-sobol3": lambda: gp_sampler(seed, dims, startup=3, start_sequence="sobol"),
        "gp-sobol2": lambda: gp_sampler(seed, dims, startup=2, start_sequence="sobol"),
        "gp-sobol7": lambda: gp_sampler(seed, dims, startup=7, start_sequence="sobol"),
        "gp-explore5": lambda: gp_sampler(seed, dims, explore_every=5),
        "gp-explore4": lambda: gp_sampler(seed, dims, explore_every=4),
        "gp-stall6": lambda: _stall_exploring(gp_sampler(seed, dims), 6),
        "gp-stall10": lambda: _stall_exploring(gp_sampler(seed, dims), 10),
        "gp-late5": lambda: _exploring(gp_sampler(seed, dims), 5, after=20),
    }
    if name.startswith("x:"):
        from bench.gp_variants import parse_knobs, variant_sampler

        samplers[name] = lambda: variant_sampler(parse_knobs(name[2:]), seed, dims, budget)
    if name.startswith("botorch"):
        from bench.botorch_sampler import botorch_sampler

        candidates = name.partition("-")[2] or "default"
        samplers[name] = lambda: botorch_sampler(seed, dims, candidates=candidates)
    searcher.searcher.searcher._ot_study.sampler = samplers[name]()


def _stall_exploring(sampler: Any, patience: int) -> Any:
    """After ``patience`` completed trials without a new best, every 2nd trial takes a Sobol point."""
    import optuna

    relative = type(sampler).sample_relative

    def sample_relative(study: Any, trial: Any, search_space: Any) -> Any:
        done = sorted(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)),
                      key=lambda t: t.datetime_complete)
        best, since = None, 0
        for t in done:
            if best is None or t.value < best:
                best, since = t.value, 0
            else:
                since += 1
        if since >= patience and trial.number % 2 == 0:
            return {}
        return relative(sampler, study, trial, search_space)

    sampler.sample_relative = sample_relative
    return sampler


def _exploring(sampler: Any, every: int, after: int) -> Any:
    """Every ``every``-th trial from trial ``after`` on takes the Sobol (independent) sampler's point."""
    relative = type(sampler).sample_relative

    def sample_relative(study: Any, trial: Any, search_space: Any) -> Any:
        if trial.number >= after and trial.number % every == every - 1:
            return {}
        return relative(sampler, study, trial, search_space)

    sampler.sample_relative = sample_relative
    return sampler


def run_loop(problem_name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    """One optimisation loop; values in completion order, and mean suggestion latency."""
    import torch

    torch.set_num_threads(1)
    quiet_warnings()
    from sweeprunner.compile.bayes import suggest_now
    from sweeprunner.compile.compiler import compile_sweep
    from sweeprunner.compile.sampling import random_configs
    from sweeprunner.config.parse import parse_sweep

    problem = ALL_PROBLEMS[problem_name]
    sampler, concurrency, override, _ = method_spec(method)
    t0 = time.perf_counter()
    if sampler is None:
        spec = parse_sweep(problem.sweep_config("random", run_cap=budget, sweeprunner={"seed": seed}))
        values = [problem.evaluate(c) for c in random_configs(spec, budget, seed)]
        return {"seed": seed, "values": values, "seconds": time.perf_counter() - t0, "suggest_ms": 0.0}
    runner = {"seed": seed, "bayes_sampler": sampler, "max_concurrent_trials": concurrency}
    spec = parse_sweep(problem.sweep_config("bayes", run_cap=budget, sweeprunner=runner))
    searcher = compile_sweep(spec).search_alg
    if override:
        from sweeprunner.config.distributions import Constant

        dims = sum(1 for _, d in spec.parameters.leaves() if not isinstance(d, Constant))  # as compile_sweep counts
        _override_sampler(searcher, override, seed, dims, budget)
    inflight: collections.deque = collections.deque()
    values: list[float] = []
    suggested, suggest_s = 0, 0.0
    while len(values) < budget:
        while suggested < budget and len(inflight) < concurrency:
            trial_id = f"t{suggested}"
            s0 = time.perf_counter()
            config = suggest_now(searcher, trial_id)
            suggest_s += time.perf_counter() - s0
            if config is None:
                break
            inflight.append((trial_id, config))
            suggested += 1
        trial_id, config = inflight.popleft()
        value = float(problem.evaluate(config))
        values.append(value)
        searcher.on_trial_complete(trial_id, {METRIC: value})
    return {"seed": seed, "values": values, "seconds": time.perf_counter() - t0,
            "suggest_ms": 1000 * suggest_s / budget}


def _read_loops(path: str) -> dict[tuple[str, str, int, int], dict[str, Any]]:
    """Loops already run (``--loops`` JSON lines), by (problem, method, seed, budget)."""
    if not os.path.exists(path):
        return {}
    loops = {}
    with open(path) as fh:
        for line in fh:
            if line.strip():
                loop = json.loads(line)
                loops[(loop["problem"], loop["method"], loop["seed"], loop["budget"])] = loop
    return loops


def _row(problem: str, method: str, budget: int, loops: list[dict[str, Any]], label: str) -> dict[str, Any]:
    best = [min(loop["values"][:budget]) for loop in loops]
    return {"problem": problem, "method": method, "label": label, "budget": budget,
            **summarize(best, ALL_PROBLEMS[problem].f_star),
            "loop_s_mean": sum(lp["seconds"] for lp in loops) / len(loops),
            "suggest_ms_mean": sum(lp.get("suggest_ms", 0.0) for lp in loops) / len(loops)}


def wandb_rows(path: str, problems: list[str], budgets: list[int]) -> list[dict[str, Any]]:
    if not os.path.exists(path):
        from bench.wandb_baseline import benchmark

        print(f"{path} missing: running W&B's engine (bench/wandb_baseline.py)", flush=True)
        result = benchmark(problems, ["bayes", "random"], budgets, list(range(16)), jobs=1)
        with open(path, "w") as fh:
            json.dump(result, fh, indent=1)
    with open(path) as fh:
        data = json.load(fh)
    rows = []
    for r in data["rows"]:
        if r["problem"] in problems and r["budget"] in budgets:
            rows.append({**r, "method": f"wandb-{r['method']}", "label": f"W&B engine {data.get('engine', '')} {r['method']}",
                         "loop_s_mean": r.get("loop_s_mean")})
    return rows


def fmt(x: float, digits: int = 3) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(ALL_PROBLEMS))
    ap.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, help=f"{', '.join(METHODS)} or x<C>:<knobs>")
    ap.add_argument("--budgets", nargs="+", type=int, default=[25, 50])
    ap.add_argument("--seeds", type=int, default=16, help="seeds 0..N-1")
    ap.add_argument("--gp-seeds", type=int, default=None, help="fewer seeds for the slow GP methods")
    ap.add_argument("--jobs", type=int, default=2, help="parallel loop processes")
    ap.add_argument("--wandb-json", default=str(RESULTS / "wandb.json"))
    ap.add_argument("--no-wandb", action="store_true")
    ap.add_argument("--out", default="search_quality")
    ap.add_argument("--loops", help="JSON-lines file: finished loops are appended to it and not run again")
    ap.add_argument("--no-run", action="store_true", help="only summarise the loops already in --loops")
    ap.add_argument("--merge", action="store_true",
                    help="add these methods' rows to an existing bench/results/<out>.json instead of replacing it")
    args = ap.parse_args(argv)

    load_start, t0 = load(), time.perf_counter()
    jobs = []
    for seed in range(args.seeds):  # seed-major: a stopped run has every method on the same seeds
        for problem in args.problems:
            for method in args.methods:
                if not (args.gp_seeds and method.startswith("gp") and seed >= args.gp_seeds):
                    jobs += [(problem, method, seed, budget) for budget in args.budgets]
    loops: dict[tuple[str, str, int], list[dict[str, Any]]] = collections.defaultdict(list)
    done = _read_loops(args.loops) if args.loops else {}
    todo = [job for job in jobs if job not in done] if not args.no_run else []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(run_loop, *job): job for job in todo}
        for future in as_completed(futures):
            job, res = futures[future], future.result()
            done[job] = res
            if args.loops:  # each finished loop is kept at once: a long run can be stopped and resumed
                with open(args.loops, "a") as fh:
                    fh.write(json.dumps({"problem": job[0], "method": job[1], "budget": job[3], **res}) + "\n")
    for job in jobs:
        if job in done:  # with --no-run, only the loops that ran
            loops[(job[0], job[1], job[3])].append(done[job])
    rows = []
    for problem in args.problems:
        for method in args.methods:
            for b in args.budgets:
                if loops[(problem, method, b)]:
                    rows.append(_row(problem, method, b, loops[(problem, method, b)], method_spec(method)[3]))
    if not args.no_wandb:
        rows += wandb_rows(args.wandb_json, args.problems, args.budgets)
    rows.sort(key=lambda r: (args.problems.index(r["problem"]), r["budget"]))
    print(table(["problem", "budget", "method", "seeds", "best mean ± se", "median", "regret mean", "s/loop"],
                [[r["problem"], r["budget"], r["method"], r["n"], f"{fmt(r['best_mean'])} ± {fmt(r['best_se'])}",
                  fmt(r["best_median"]), fmt(r["regret_mean"]), fmt(r.get("loop_s_mean") or math.nan, 1)] for r in rows]))
    wall = time.perf_counter() - t0
    print(f"wall {wall:.0f}s, load {load_start} -> {load()}")
    payload = {"load_at_start": load_start, "wall_s": wall, "seeds": args.seeds, "gp_seeds": args.gp_seeds,
               "budgets": args.budgets, "methods": {m: method_spec(m)[3] for m in args.methods}, "rows": rows,
               "traces": {f"{p}/{m}/{b}": [lp["values"] for lp in ls] for (p, m, b), ls in loops.items()}}
    previous = RESULTS / f"{args.out}.json"
    if args.merge and previous.is_file():
        old = json.loads(previous.read_text())
        ours = {(r["problem"], r["method"], r["budget"]) for r in rows}
        payload["rows"] = [r for r in old["rows"] if (r["problem"], r["method"], r["budget"]) not in ours] + rows
        payload["rows"].sort(key=lambda r: (list(ALL_PROBLEMS).index(r["problem"]), r["budget"]))
        payload["methods"] = {**old["methods"], **payload["methods"]}
        payload["traces"] = {**old["traces"], **payload["traces"]}
        payload["budgets"] = sorted(set(old["budgets"]) | set(args.budgets))
        payload["runs"] = old.get("runs", [{k: old[k] for k in ("date", "load_at_start", "load_at_end", "wall_s")}]) + [
            {"date": now(), "load_at_start": load_start, "wall_s": wall, "methods": args.methods, "budgets": args.budgets}]
        payload["load_at_start"] = old["load_at_start"]
    write_json(args.out, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
