"""Size and load time of report.html for a large synthetic sweep (1,000 trials x 100 reports).

    .venv/bin/python bench/report_size.py [--trials 1000] [--reports 100]   # -> bench/results/report_size.json

Builds a sweep directory in the format the driver writes (``sweeprunner/results/records.py``),
writes its report and times the load in headless Chromium (when installed): the page sets
``data-load-ms`` on <body> at its load event, after every plot has drawn. A 10-trial page is
timed too: on a loaded machine most of the time is the fixed cost (parsing plotly.js, software WebGL).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

SYNTHETIC_CONFIG = {
    "name": "synthetic", "method": "random", "metric": {"name": "val/loss", "goal": "minimize"},
    "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 3},
    "parameters": {
        "optimizer": {"parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1.0},
                                     "name": {"values": ["adam", "sgd", "adamw"]}}},
        "batch_size": {"values": [16, 32, 64, 128]},
        "dropout": {"min": 0.0, "max": 0.5},
        "epochs": {"value": 100},
    },
    "sweeprunner": {"trainable": "toy"},
}


def synthetic_sweep(directory: str | Path, *, trials: int = 30, reports: int = 20, seed: int = 0,
                    errored: int = 2, incomplete: int = 1, config: dict | None = None) -> Path:
    """A sweep directory in the driver's format: ``trials`` trials of up to ``reports`` reports each;
    a third stopped early, ``errored`` errored (with an error), ``incomplete`` never finished."""
    rng = random.Random(seed)
    directory = Path(directory)
    records = directory / "trials"
    records.mkdir(parents=True, exist_ok=True)
    config = config or SYNTHETIC_CONFIG
    (directory / "sweeprunner.json").write_text(json.dumps({"config": config, "metric": config["metric"]["name"],
                                                            "mode": "min", "source": None}))
    start = time.time() - trials * 10.0
    events = []
    for i in range(trials):
        trial_id = f"{i:08x}"
        params = {"optimizer": {"lr": 10 ** rng.uniform(-5, 0), "name": rng.choice(["adam", "sgd", "adamw"])},
                  "batch_size": rng.choice([16, 32, 64, 128]), "dropout": rng.uniform(0, 0.5), "epochs": reports}
        (records / f"{trial_id}.config.json").write_text(json.dumps(params))
        t0 = start + i * 10.0
        os.utime(records / f"{trial_id}.config.json", (t0, t0))
        floor = 0.1 + 0.05 * (math.log10(params["optimizer"]["lr"]) + 3) ** 2 + params["dropout"] * 0.2
        status = "errored" if i < errored else "incomplete" if i < errored + incomplete else \
            "stopped" if rng.random() < 0.33 else "finished"
        length = rng.randint(1, max(1, reports // 3)) if status in ("stopped", "errored") else reports
        rows = []
        for step in range(1, length + 1):
            loss = floor + 2.0 / step + rng.gauss(0, 0.01)
            rows.append(json.dumps({"val/loss": loss, "train/loss": loss * 0.9, "training_iteration": step,
                                    "timestamp": int(t0 + step), "time_total_s": float(step), "trial_id": trial_id}))
        (records / f"{trial_id}.jsonl").write_text("\n".join(rows) + "\n")
        (records / f"{trial_id}.info.json").write_text(json.dumps({"trial_id": trial_id, "node": "10.0.0.1",
                                                                    "gpu_ids": [str(i % 2)]}))
        if status != "incomplete":
            event = {"trial_id": trial_id, "event": status, "time": t0 + length}
            if status == "errored":
                event["error"] = f"RuntimeError: CUDA out of memory in trial {trial_id}"
            events.append(json.dumps(event))
    (directory / "trial_events.jsonl").write_text("\n".join(events) + "\n")
    return directory


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-quic",
                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--window-size=1400,2000", "--virtual-time-budget=60000"]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def load_in_chromium(page: Path, timeout: float = 120) -> dict:
    """Open ``page`` in headless Chromium: the dumped DOM, the console errors and the load time."""
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        started = time.monotonic()
        proc = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
                               "--v=0", "--dump-dom", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=timeout)
        wall = time.monotonic() - started
    errors = [line for line in proc.stderr.splitlines()
              if "Uncaught" in line or ("CONSOLE" in line and ":ERROR:" in line)]
    match = re.search(r'data-load-ms="(\d+)"', proc.stdout)
    return {"dom": proc.stdout, "errors": errors, "wall_s": wall, "load_ms": int(match.group(1)) if match else None}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--reports", type=int, default=100)
    args = parser.parse_args()
    from common import load, now, write_json  # noqa: I001  (sets sys.path)

    from sweeprunner.results.report import write_report

    with tempfile.TemporaryDirectory(prefix="report-size-") as tmp:
        sweep = synthetic_sweep(Path(tmp) / "sweep", trials=args.trials, reports=args.reports)
        started = time.monotonic()
        page = write_report(sweep)
        write_s = time.monotonic() - started
        out = {"measured": now(), "load_at_start": load(), "trials": args.trials, "reports": args.reports,
               "file_mb": round(page.stat().st_size / 2**20, 2), "write_s": round(write_s, 2)}
        if chromium():
            small = load_in_chromium(write_report(synthetic_sweep(Path(tmp) / "small", trials=10, reports=10)))
            out["chromium_load_ms_10_trials"] = small["load_ms"]  # the fixed cost (plotly.js, WebGL) under this load
            result = load_in_chromium(page)
            out.update(chromium_load_ms=result["load_ms"], chromium_wall_s=round(result["wall_s"], 2),
                       console_errors=len(result["errors"]), plots_drawn=result["dom"].count("class=\"main-svg\""))
        out["load_at_end"] = load()
    print(json.dumps(out, indent=2))
    write_json("report_size", out)


if __name__ == "__main__":
    main()
