"""Runner overhead: 200 trials x 10 reports of a trivial trainable, sweeprunner vs raw Ray Tune.

One process, one ``ray.init(num_cpus=2)`` (1 CPU per trial, so 2 trials at a time), for:

* ``raw-default``: ``Tuner(fn, param_space={"x": tune.uniform(0, 1)}, tune_config=TuneConfig(num_samples=200))``
  (a fresh worker process per trial; ~1 s per trial on 2 cores). Run once: it is slow.
* ``raw-reuse``: the same with ``TuneConfig(reuse_actors=True)``, the best hand-tuned setting that
  keeps Ray's outputs.
* ``raw-reuse-nologgers``: also ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1`` (faster, but no
  progress.csv/result.json per trial: ``Result.metrics_dataframe`` is empty).
* ``sweeprunner``: ``run_sweep`` of a random sweep with ``run_cap: 200`` and ``bench/trivial.py:train``
  (reports through ``sweeprunner.session.report``), including its progress view and the results
  files (results.csv/parquet, histories.csv, best.yaml).

All raw runs use ``RunConfig(storage_path=<tmp>, verbose=0)``. The short runs are interleaved
``--reps`` times. Wall time = around ``Tuner.fit()`` / ``run_sweep()``; per-trial overhead =
wall x 2 slots / 200 trials (the trainable itself does nothing).

    .venv/bin/python bench/overhead.py                 # reps 3 + raw default once (~4-5 min)
    .venv/bin/python bench/overhead.py --skip-default --trials 50 --reps 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import REPO, load, table, write_json  # noqa: I001  (sets sys.path)

REPORTS = 10


def raw_trainable(config: dict[str, Any]) -> None:
    from ray import tune

    for i in range(REPORTS):
        tune.report({"loss": float(config["x"]) + 1.0 / (i + 1)})


def run_raw(trials: int, root: Path, name: str, *, reuse: bool | None, no_loggers: bool = False) -> float:
    from ray import tune

    kwargs = {"num_samples": trials}
    if reuse is not None:
        kwargs["reuse_actors"] = reuse
    old = os.environ.get("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS")
    if no_loggers:
        os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    try:
        tuner = tune.Tuner(raw_trainable, param_space={"x": tune.uniform(0, 1)},
                           tune_config=tune.TuneConfig(**kwargs),
                           run_config=tune.RunConfig(name=name, storage_path=str(root), verbose=0))
        t0 = time.perf_counter()
        results = tuner.fit()
        wall = time.perf_counter() - t0
    finally:
        if no_loggers:
            if old is None:
                os.environ.pop("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", None)
            else:
                os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = old
    assert len(results) == trials and not results.errors, results.errors
    return wall


def run_sweeprunner(trials: int, root: Path, name: str) -> float:
    from sweeprunner.config.parse import parse_sweep
    from sweeprunner.results.tables import load_trials
    from sweeprunner.run.launch import LaunchOptions, run_sweep

    spec = parse_sweep({"name": name, "method": "random", "metric": {"name": "loss", "goal": "minimize"},
                        "parameters": {"x": {"min": 0.0, "max": 1.0}}, "run_cap": trials,
                        "sweeprunner": {"trainable": "bench/trivial.py:train", "resources": {"cpu": 1},
                                        "storage": str(root / name)}})
    t0 = time.perf_counter()
    code = run_sweep(spec, options=LaunchOptions(quiet=True))
    wall = time.perf_counter() - t0
    done, _ = load_trials(root / name)
    assert code == 0 and len(done) == trials and (done["iterations"] == REPORTS).all(), (code, len(done))
    return wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--skip-default", action="store_true", help="skip raw Ray's default setting (~200 s)")
    ap.add_argument("--num-cpus", type=int, default=2)
    args = ap.parse_args(argv)

    import ray

    os.chdir(REPO)  # the trivial trainable is named by a path relative to the working directory
    load_start, t_all = load(), time.perf_counter()
    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)  # never join another engineer's cluster
    init_s = time.perf_counter() - t0
    root = Path(tempfile.mkdtemp(prefix="sweeprunner-bench-overhead-"))
    runs: list[dict[str, Any]] = []

    def record(setting: str, rep: int, fn) -> None:
        load0 = load()
        wall = fn()
        runs.append({"setting": setting, "rep": rep, "wall_s": round(wall, 2), "load": [load0, load()]})
        print(runs[-1], flush=True)

    try:
        # warm-up (worker start, imports), not recorded
        run_raw(min(10, args.trials), root, "warmup", reuse=True)
        for rep in range(args.reps):
            record("raw-reuse", rep, lambda r=rep: run_raw(args.trials, root, f"reuse-{r}", reuse=True))
            record("sweeprunner", rep, lambda r=rep: run_sweeprunner(args.trials, root, f"sr-{r}"))
            record("raw-reuse-nologgers", rep,
                   lambda r=rep: run_raw(args.trials, root, f"nolog-{r}", reuse=True, no_loggers=True))
        if not args.skip_default:
            record("raw-default", 0, lambda: run_raw(args.trials, root, "default", reuse=None))
    finally:
        ray.shutdown()
        shutil.rmtree(root, ignore_errors=True)

    summary = []
    for setting in ("raw-default", "raw-reuse", "raw-reuse-nologgers", "sweeprunner"):
        walls = [r["wall_s"] for r in runs if r["setting"] == setting]
        if walls:
            med = statistics.median(walls)
            summary.append({"setting": setting, "runs": len(walls), "wall_median_s": med, "wall_min_s": min(walls),
                            "wall_all_s": walls, "ms_per_trial_wall": 1000 * med / args.trials,
                            "slot_ms_per_trial": 1000 * med * args.num_cpus / args.trials,
                            "ms_per_report_slot": 1000 * med * args.num_cpus / (args.trials * REPORTS)})
    by = {s["setting"]: s for s in summary}
    sr = by.get("sweeprunner")
    ratios = {}
    if sr:
        for other in ("raw-default", "raw-reuse", "raw-reuse-nologgers"):
            if other in by:
                ratios[f"sweeprunner/{other}"] = round(sr["wall_median_s"] / by[other]["wall_median_s"], 3)
    print(table(["setting", "runs", "wall median s", "wall min s", "ms/trial (wall)", "slot-ms/trial", "ratio sweeprunner / this"],
                [[s["setting"], s["runs"], f"{s['wall_median_s']:.1f}", f"{s['wall_min_s']:.1f}",
                  f"{s['ms_per_trial_wall']:.0f}", f"{s['slot_ms_per_trial']:.0f}",
                  ratios.get(f"sweeprunner/{s['setting']}", "")] for s in summary]))
    wall = time.perf_counter() - t_all
    print(f"ray.init {init_s:.1f}s; wall {wall:.0f}s, load {load_start} -> {load()}")
    write_json("overhead", {"load_at_start": load_start, "wall_s": wall, "trials": args.trials, "reports": REPORTS,
                            "num_cpus": args.num_cpus, "ray_init_s": init_s, "runs": runs, "summary": summary,
                            "ratios": ratios})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
