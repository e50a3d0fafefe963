"""Early-termination savings: the same trials with and without hyperband, through the real runner.

(a) the learning-curve surrogate on Hartmann6 (``bench/lc_surrogate.py``; mf-prior-bench's mfh6
    does not install next to numpy 2): random search, 81 trials x 27 epochs, per seed, with
    ``early_terminate`` none, W&B ``hyperband`` (min_iter 1, eta 3: judged at epochs 1, 3, 9) and
    Ray's ``asha`` (for reference).
(b) the digits smoke image recipe (``recipes/smoke-image.yaml``, 12 trials x 6 epochs) as written,
    except ``method: random`` so that both runs train exactly the same 12 configs (bayes would pick
    different configs once trials are stopped), with and without its hyperband.

Each run goes through ``sweeprunner.run.launch.run_sweep``; epochs consumed = the sum of the
``iterations`` column of its results (one report = one epoch). "best final" is the best metric at
the last epoch among trials that trained to the end (what the sweep would hand you as its best model).

    .venv/bin/python bench/early_termination.py                 # (a) 3 seeds + (b)
    .venv/bin/python bench/early_termination.py --parts a --seeds 1
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from common import REPO, RESULTS, load, now, table, write_json  # noqa: I001  (sets sys.path)

SURROGATE_TYPES = {
    "none": None,
    "hyperband": {"type": "hyperband", "min_iter": 1, "eta": 3},
    "asha": {"type": "asha", "min_iter": 1, "max_iter": 27, "eta": 3},
}


def _run(raw: dict[str, Any], storage: Path) -> dict[str, Any]:
    from sweeprunner.config.parse import parse_sweep
    from sweeprunner.results.tables import load_trials
    from sweeprunner.run.launch import LaunchOptions, run_sweep

    raw = copy.deepcopy(raw)
    raw.setdefault("sweeprunner", {})["storage"] = str(storage)
    spec = parse_sweep(raw)
    t0, load0 = time.perf_counter(), load()
    code = run_sweep(spec, options=LaunchOptions(quiet=True))
    wall = time.perf_counter() - t0
    trials, _ = load_trials(storage)
    epochs = int(raw["parameters"]["epochs"]["value"])
    full = trials[trials["iterations"] >= epochs]
    maximize = spec.metric.mode == "max"
    pick = max if maximize else min
    return {
        "exit_code": code,
        "trials": len(trials),
        "errored": int((trials["status"] == "errored").sum()),
        "stopped_early": int(trials["stopped_early"].sum()),
        "epochs": int(trials["iterations"].sum()),
        "max_epochs": len(trials) * epochs,
        "best_final": float(pick(full["final_metric"])) if len(full) else float("nan"),
        "best_any": float(pick(trials["best_metric"])),
        "wall_s": round(wall, 1),
        "load": [load0, load()],
    }


def _compare(rows: list[dict[str, Any]], maximize: bool) -> None:
    """Add epochs saved (x) and the best-final gap (%) vs the 'none' row of the same seed."""
    base = {r["seed"]: r for r in rows if r["early_terminate"] == "none"}
    for r in rows:
        b = base.get(r["seed"])
        if not b:
            continue
        r["epoch_ratio"] = round(b["epochs"] / r["epochs"], 2) if r["epochs"] else float("nan")
        gap = (b["best_final"] - r["best_final"]) if maximize else (r["best_final"] - b["best_final"])
        r["best_gap_pct"] = round(100 * gap / abs(b["best_final"]), 2)


def _partial(rows: list[dict[str, Any]]) -> None:
    """Keep what is done so far (a long run that is interrupted still leaves its rows)."""
    write_json("early_termination.partial", {"rows": rows})


def surrogate(seeds: list[int], trials: int, root: Path) -> list[dict[str, Any]]:
    from bench.lc_surrogate import PARAMETERS

    rows = []
    for seed in seeds:
        for name, et in SURROGATE_TYPES.items():
            raw = {"name": f"lc-{name}-{seed}", "method": "random", "metric": {"name": "loss", "goal": "minimize"},
                   "parameters": PARAMETERS, "run_cap": trials,
                   "sweeprunner": {"trainable": "bench/lc_surrogate.py:train", "seed": seed,
                                   "resources": {"cpu": 1}}}
            if et:
                raw["early_terminate"] = et
            row = {"part": "a", "seed": seed, "early_terminate": name, **_run(raw, root / f"lc-{name}-{seed}")}
            rows.append(row)
            print(row, flush=True)
            _compare(rows, maximize=False)
            _partial(rows)
    _compare(rows, maximize=False)
    return rows


def smoke_image(root: Path, seed: int) -> list[dict[str, Any]]:
    from sweeprunner.config.yamlio import load_yaml_file

    raw = load_yaml_file(REPO / "recipes" / "smoke-image.yaml")
    raw["method"] = "random"
    raw["sweeprunner"]["seed"] = seed
    rows = []
    for name in ("none", "hyperband"):
        variant = copy.deepcopy(raw)
        if name == "none":
            variant.pop("early_terminate", None)
        row = {"part": "b", "seed": seed, "early_terminate": name,
               "early_terminate_config": variant.get("early_terminate"), **_run(variant, root / f"img-{name}")}
        rows.append(row)
        print(row, flush=True)
    _compare(rows, maximize=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="+", default=["a", "b"], choices=["a", "b"])
    ap.add_argument("--seeds", type=int, default=3, help="surrogate seeds 0..N-1")
    ap.add_argument("--trials", type=int, default=81, help="surrogate trials per run")
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the sweep directories")
    args = ap.parse_args(argv)

    import ray

    os.chdir(REPO)  # the surrogate trainable is named by a path relative to the working directory
    root = Path(tempfile.mkdtemp(prefix="sweeprunner-bench-et-"))
    load_start, t0 = load(), time.perf_counter()
    rows: list[dict[str, Any]] = []
    try:
        # address="local": never join another engineer's cluster found through /tmp/ray
        ray.init(address="local", num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
        if "a" in args.parts:
            rows += surrogate(list(range(args.seeds)), args.trials, root)
        if "b" in args.parts:
            rows += smoke_image(root, seed=0)
    finally:
        ray.shutdown()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(table(["part", "seed", "early_terminate", "trials", "stopped", "epochs", "epochs saved (x)", "best final",
                 "gap vs none (%)", "wall s"],
                [[r["part"], r["seed"], r["early_terminate"], r["trials"], r["stopped_early"], r["epochs"],
                  r.get("epoch_ratio"), f"{r['best_final']:.4f}", r.get("best_gap_pct"), r["wall_s"]] for r in rows]))
    wall = time.perf_counter() - t0
    print(f"wall {wall:.0f}s, load {load_start} -> {load()}")
    kept = []
    for name in ("early_termination", "early_termination.partial"):  # keep other parts' rows from earlier runs
        previous = RESULTS / f"{name}.json"
        if previous.is_file() and not kept:
            old = json.loads(previous.read_text())
            kept = [dict(r, measured=old["date"]) for r in old["rows"] if r["part"] not in args.parts]
    rows = kept + [dict(r, measured=now()) for r in rows]
    write_json("early_termination", {"load_at_start": load_start, "wall_s": wall, "rows": rows,
                                     "surrogate_trials": args.trials, "surrogate_types": SURROGATE_TYPES})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
