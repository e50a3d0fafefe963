"""W&B's own engine (``sweeps==0.3.0``, bayes and random) on the search-quality problems.

Each (problem, method, seed) optimization loop runs inside the oracle venv through the bridge's
``optimize`` op; a whole batch of loops shares one subprocess (``--jobs`` subprocesses run in
parallel). W&B's bayes and random never look at the budget, so one loop of the largest budget
gives every smaller budget as its prefix.

``--concurrency 4 8 16`` adds W&B bayes with that many runs in flight, as parallel agents run it:
each suggestion sees the runs still in flight as running (no metric), the oldest finishes first
(method ``bayes-c4`` ...). ``--merge`` adds rows to an existing ``--json`` file.

    .venv/bin/python bench/wandb_baseline.py                       # budgets 25 and 50, 16 seeds
    .venv/bin/python bench/wandb_baseline.py --problems branin --seeds 4 --json out.json
    .venv/bin/python bench/wandb_baseline.py --methods --concurrency 4 8 16 --json bench/results/wandb.json --merge
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.problems import PROBLEMS, summarize  # noqa: E402
from tests.oracle import OracleError, available, batch  # noqa: E402

METHODS = ("bayes", "random")


def run_wandb(
    problem: str, method: str, budget: int, seeds: list[int], jobs: int = 1, concurrency: int = 1
) -> list[dict[str, Any]]:
    """One W&B loop per seed: ``{"seed", "values", "best", "configs", "seconds", "cpu_seconds"}``."""
    requests = [
        {"op": "optimize", "objective": problem, "budget": budget, "seed": s, "method": method,
         "concurrency": concurrency}
        for s in seeds
    ]
    chunks = [requests[i::jobs] for i in range(jobs) if requests[i::jobs]]
    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        answers = list(pool.map(lambda c: batch(c, timeout=3600), chunks))
    by_seed: dict[int, dict[str, Any]] = {}
    for chunk, chunk_answers in zip(chunks, answers, strict=True):
        for request, answer in zip(chunk, chunk_answers, strict=True):
            if not answer["ok"]:
                raise OracleError(f"{problem}/{method}/seed {request['seed']}: {answer['error']}")
            by_seed[request["seed"]] = {"seed": request["seed"], **answer["result"]}
    return [by_seed[s] for s in seeds]


def benchmark(
    problems: list[str], methods: list[str], budgets: list[int], seeds: list[int], jobs: int,
    concurrency: tuple[int, ...] = (),
) -> dict[str, Any]:
    """Runs every loop; returns per-(problem, method, budget) summaries and timings."""
    rows, traces = [], {}
    runs = [(m, m, 1) for m in methods] + [(f"bayes-c{c}", "bayes", c) for c in concurrency]
    for problem in problems:
        f_star = PROBLEMS[problem].f_star
        for method, engine_method, inflight in runs:
            t0 = time.perf_counter()
            loops = run_wandb(problem, engine_method, max(budgets), seeds, jobs, inflight)
            wall = time.perf_counter() - t0
            traces[f"{problem}/{method}"] = [loop["best"] for loop in loops]
            for budget in budgets:
                rows.append(
                    {
                        "problem": problem,
                        "method": method,
                        "concurrency": inflight,
                        "budget": budget,
                        **summarize([loop["best"][budget - 1] for loop in loops], f_star),
                        "wall_s": wall,
                        "loop_s_mean": sum(lp["seconds"] for lp in loops) / len(loops),
                        "loop_cpu_s_mean": sum(lp["cpu_seconds"] for lp in loops) / len(loops),
                    }
                )
                print(_format_row(rows[-1]), flush=True)
    return {"engine": "sweeps==0.3.0", "seeds": seeds, "rows": rows, "best_traces": traces}


def _format_row(r: dict[str, Any]) -> str:
    return (
        f"{r['problem']:<10} {r['method']:<6} budget {r['budget']:>3}  "
        f"best {r['best_mean']:.4f} ± {r['best_se']:.4f} (median {r['best_median']:.4f})  "
        f"regret {r['regret_mean']:.4f} ± {r['regret_se']:.4f} (median {r['regret_median']:.4f})  "
        f"[{r['n']} seeds; {r['problem']}/{r['method']} wall {r['wall_s']:.0f}s, "
        f"{r['loop_s_mean']:.1f}s/loop, cpu {r['loop_cpu_s_mean']:.1f}s/loop]"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    ap.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--concurrency", nargs="*", type=int, default=[],
                    help="also run bayes with this many runs in flight (e.g. 4 8 16)")
    ap.add_argument("--merge", action="store_true", help="add these rows to the existing --json file")
    ap.add_argument("--budgets", nargs="+", type=int, default=[25, 50])
    ap.add_argument("--seeds", type=int, default=16, help="seeds 0..N-1")
    ap.add_argument("--jobs", type=int, default=1, help="parallel oracle subprocesses")
    ap.add_argument("--json", type=Path, help="write summaries and best-so-far traces here")
    args = ap.parse_args(argv)
    if not available():
        print("W&B oracle venv .venv-wandb missing: run `make oracle`", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    result = benchmark(
        args.problems, args.methods, args.budgets, list(range(args.seeds)), args.jobs, tuple(args.concurrency)
    )
    result["total_wall_s"] = time.perf_counter() - t0
    print(f"total wall {result['total_wall_s']:.0f}s")
    if args.json and args.merge and args.json.is_file():
        old = json.loads(args.json.read_text())
        ours = {(r["problem"], r["method"], r["budget"]) for r in result["rows"]}
        result["rows"] = [r for r in old["rows"] if (r["problem"], r["method"], r["budget"]) not in ours] + result["rows"]
        result["best_traces"] = {**old.get("best_traces", {}), **result["best_traces"]}
        result["seeds"] = old.get("seeds", result["seeds"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
