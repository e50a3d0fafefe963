"""Bayes suggestion latency after n completed trials: sweeprunner's samplers and W&B's engine.

sweeprunner: the searcher ``compile_sweep`` builds (``ConcurrencyLimiter(OptunaSearch(...))``,
max_concurrent_trials 1). The history is filled through the same searcher -- ``suggest`` then
``on_trial_complete`` with the problem's value -- with the study's sampler swapped for Optuna's
RandomSampler while filling (so filling 500 trials is quick); at n = 50, 200, 500 the real sampler
is put back and ``--repeats`` suggestions are timed (each completed before the next, so n grows by
one per timed suggestion). ``--inflight K`` (default 4, the runner's bayes default) keeps K-1 other
trials running while timing, as a sweep with K trials in flight does (the GP then optimises qLogEI
over them, which costs more than plain LogEI). Median (p50) and p95 wall times are reported, and the
median process CPU time per suggestion (torch on 1 thread), which a loaded machine inflates less. W&B: ``sweeps.next_run`` (bayes) through the oracle with n random
finished runs, timed inside the oracle venv's process (the bridge's ``op_bayes_next``; a first
warm-up call is dropped).

    .venv/bin/python bench/suggest_latency.py
    .venv/bin/python bench/suggest_latency.py --samplers tpe --ns 50 200 --problems hartmann6
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Any

from common import load, quiet_warnings, table, write_json  # noqa: I001  (sets sys.path)

from bench.problems import METRIC, PROBLEMS


def sweeprunner_latency(problem_name: str, sampler: str, ns: list[int], repeats: int, seed: int = 0,
                        inflight: int = 1) -> list[dict]:
    import optuna
    import torch

    from sweeprunner.compile.bayes import suggest_now
    from sweeprunner.compile.compiler import compile_sweep
    from sweeprunner.config.parse import parse_sweep

    torch.set_num_threads(1)
    quiet_warnings()
    problem = PROBLEMS[problem_name]
    runner = {"seed": seed, "bayes_sampler": "gp" if sampler == "botorch" else sampler,
              "max_concurrent_trials": inflight}
    spec = parse_sweep(problem.sweep_config("bayes", run_cap=10_000, sweeprunner=runner))
    searcher = compile_sweep(spec).search_alg
    study = searcher.searcher.searcher._ot_study
    real, filler = study.sampler, optuna.samplers.RandomSampler(seed=seed)
    if sampler == "botorch":  # optuna-integration's BoTorchSampler (qEI, running trials pending; no point cap)
        from bench.botorch_sampler import botorch_sampler
        from sweeprunner.config.distributions import Constant

        real = botorch_sampler(seed, sum(1 for _, d in spec.parameters.leaves() if not isinstance(d, Constant)))
    done, rows = 0, []

    cpu: list[float] = []

    def step(tid: str) -> float:
        t0, c0 = time.perf_counter(), time.process_time()
        config = suggest_now(searcher, tid)
        elapsed = time.perf_counter() - t0
        cpu.append(time.process_time() - c0)
        searcher.on_trial_complete(tid, {METRIC: float(problem.evaluate(config))})
        return elapsed

    for n in sorted(ns):
        study.sampler = filler
        while done < n:
            step(f"f{done}")
            done += 1
        pending = [f"p{n}-{k}" for k in range(inflight - 1)]
        for tid in pending:  # trials in flight while timing (random configs, never completed here)
            suggest_now(searcher, tid)
        study.sampler = real
        load0 = load()
        times = []
        cpu.clear()
        for _ in range(repeats):
            times.append(step(f"t{done}"))
            done += 1
        study.sampler = filler
        for tid in pending:
            searcher.on_trial_complete(tid, None, error=True)
        rows.append({"engine": "sweeprunner", "sampler": sampler, "problem": problem_name, "n": n,
                     "inflight": inflight, **_stats(times), "cpu_ms_median": 1000 * statistics.median(cpu),
                     "repeats": repeats, "load": load0})
        print(rows[-1], flush=True)
    return rows


def _ms(x: float | None) -> str:
    return "" if x is None else f"{x:.1f}"


def _stats(times: list[float]) -> dict[str, float]:
    ms = sorted(1000 * t for t in times)
    p95 = ms[min(len(ms) - 1, math.ceil(0.95 * len(ms)) - 1)]
    return {"ms_median": statistics.median(ms), "ms_p95": p95, "ms_mean": statistics.fmean(ms), "ms_max": ms[-1]}


WANDB_TIMER = r"""
import importlib.util, json, sys, time
spec = importlib.util.spec_from_file_location("wandb_engine", sys.argv[1])
engine = importlib.util.module_from_spec(spec)
spec.loader.exec_module(engine)
req = json.load(sys.stdin)
times = []
for seed in range(req["repeats"] + 1):  # the first call warms up and is dropped
    t0 = time.perf_counter()
    engine.op_bayes_next(req["config"], req["runs"], seed)
    times.append(time.perf_counter() - t0)
print(json.dumps(times[1:]))
"""


def wandb_latency(problem_name: str, ns: list[int], repeats: int) -> list[dict]:
    """Times ``sweeps.next_run`` inside the oracle venv (the bridge's ``op_bayes_next``), no start-up included."""
    import json
    import subprocess

    from sweeprunner.compile.sampling import random_configs
    from sweeprunner.config.parse import parse_sweep
    from tests.oracle import BRIDGE, available, python_path

    if not available():
        print("W&B oracle venv .venv-wandb missing: skipping W&B latency (make oracle)")
        return []
    problem = PROBLEMS[problem_name]
    config = problem.sweep_config("bayes")
    rows = []
    for n in ns:
        configs = random_configs(parse_sweep(config | {"run_cap": n}), n, seed=n)
        runs = [{"config": c, "value": problem.evaluate(c)} for c in configs]
        load0 = load()
        proc = subprocess.run([str(python_path()), "-c", WANDB_TIMER, str(BRIDGE)], capture_output=True, text=True,
                              input=json.dumps({"config": config, "runs": runs, "repeats": repeats}), timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-3000:])
        times = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append({"engine": "wandb sweeps==0.3.0", "sampler": "bayes (GP)", "problem": problem_name, "n": n,
                     "inflight": 1, **_stats(times), "repeats": repeats, "load": load0})
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="+", default=["hartmann6", "mixed"], choices=list(PROBLEMS))
    ap.add_argument("--samplers", nargs="+", default=["gp", "tpe"], choices=["tpe", "gp", "random", "botorch"])
    ap.add_argument("--ns", nargs="+", type=int, default=[50, 200, 500])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--inflight", type=int, default=4, help="trials in flight while timing (others stay running)")
    ap.add_argument("--no-wandb", action="store_true")
    ap.add_argument("--out", default="suggest_latency")
    args = ap.parse_args(argv)
    try:
        import greenlet  # noqa: F401  (Optuna's GPSampler optimises its acquisition in parallel with it)

        has_greenlet = True
    except ImportError:
        has_greenlet = False

    load_start, t0 = load(), time.perf_counter()
    rows: list[dict[str, Any]] = []
    for problem in args.problems:
        for sampler in args.samplers:
            for row in sweeprunner_latency(problem, sampler, args.ns, args.repeats, inflight=args.inflight):
                if sampler == "gp":
                    row["sampler"] = "gp (with greenlet)" if has_greenlet else "gp (no greenlet)"
                rows.append(row)
        if not args.no_wandb:
            rows += wandb_latency(problem, args.ns, args.repeats)
    print(table(["engine", "sampler", "problem", "n completed", "in flight", "p50 ms", "p95 ms", "max", "CPU ms p50",
                 "load 1m"],
                [[r["engine"], r["sampler"], r["problem"], r["n"], r["inflight"], f"{r['ms_median']:.1f}",
                  f"{r['ms_p95']:.1f}", f"{r['ms_max']:.1f}", _ms(r.get("cpu_ms_median")), r["load"][0]] for r in rows]))
    wall = time.perf_counter() - t0
    print(f"wall {wall:.0f}s, load {load_start} -> {load()}")
    write_json(args.out, {"load_at_start": load_start, "wall_s": wall, "rows": rows, "greenlet": has_greenlet})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
