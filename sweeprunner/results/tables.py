"""Results of a sweep directory: one row per trial (pandas), histories, best config, and their files.

Read from the durable records the driver writes as results arrive (``records.py``), so it works
the same for finished, interrupted, killed and resumed sweeps. Ray Tune's own trial directories
add the error text when the records lack it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sweeprunner.results.records import (
    RECORDS_DIR,
    events,
    history,
    last_error_line,
    read_json,
    trial_ids,
)
from sweeprunner.trial.protocol import finite_number, flatten

LAUNCH_FILE = "sweeprunner.json"


def _ray_trial_dir(sweep_dir: Path, trial_id: str) -> Path | None:
    return next(iter(sorted(sweep_dir.glob(f"*_{trial_id}_*"))), None)


def launch_info(sweep_dir: str | Path) -> dict[str, Any]:
    """What ``run`` recorded about this sweep (config, working directory, metric)."""
    path = Path(sweep_dir) / LAUNCH_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def load_trials(sweep_dir: str | Path, metric: str | None = None, mode: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(trials, histories)`` for a sweep directory; one row per trial, one per report."""
    sweep_dir = Path(sweep_dir)
    info = launch_info(sweep_dir)
    metric = metric or info.get("metric")
    mode = mode or info.get("mode")
    outcomes = events(sweep_dir)
    rows, history_rows = [], []
    for trial_id in trial_ids(sweep_dir):
        records = sweep_dir / RECORDS_DIR
        config = read_json(records / f"{trial_id}.config.json")
        results = history(sweep_dir, trial_id)
        trial_info = read_json(records / f"{trial_id}.info.json")
        ray_dir = _ray_trial_dir(sweep_dir, trial_id)
        values = [finite_number(r.get(metric)) if metric else None for r in results]
        finite = [v for v in values if v is not None]
        best = (max(finite) if mode == "max" else min(finite)) if finite else math.nan
        final = values[-1] if values and values[-1] is not None else math.nan
        outcome = outcomes.get(trial_id, {})
        status = outcome.get("event", "incomplete")
        error = (outcome.get("error") or (last_error_line(ray_dir / "error.txt") if ray_dir else None)) if status == "errored" else None
        last = results[-1] if results else {}
        rows.append({
            "trial_id": trial_id,
            "status": status,
            "stopped_early": status == "stopped",
            "iterations": int(last.get("training_iteration", 0) or 0),
            "final_metric": final,
            "best_metric": best,
            "wall_time_s": round(float(last.get("time_total_s", 0.0) or 0.0), 3),
            "node": trial_info.get("node") or last.get("node_ip"),
            "gpu_ids": ",".join(map(str, trial_info.get("gpu_ids", []))),
            "error": error,
            "trial_dir": ray_dir.name if ray_dir else None,
            **{f"config.{k}": v for k, v in flatten(config).items()},
        })
        history_rows += [{"trial_id": trial_id, **r} for r in results]
    trials = pd.DataFrame(rows)
    if not trials.empty and metric:
        worst = -math.inf if mode == "max" else math.inf
        key = trials["best_metric"].fillna(worst)
        trials = trials.assign(_key=key).sort_values("_key", ascending=(mode != "max"), kind="stable").drop(columns="_key")
        trials = trials.reset_index(drop=True)
    trials.attrs.update({"metric": metric, "mode": mode})
    return trials, pd.DataFrame(history_rows)


def best_sweep_config(raw_config: dict[str, Any], best_config: dict[str, Any]) -> dict[str, Any]:
    """A fixed-parameter sweep (every parameter a constant) that retrains the best trial."""

    def constants(config: dict[str, Any], raw_params: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, value in config.items():
            raw = raw_params.get(name) if isinstance(raw_params, dict) else None
            if isinstance(raw, dict) and "parameters" in raw and isinstance(value, dict):
                out[name] = {"parameters": constants(value, raw["parameters"])}
            else:
                out[name] = {"value": value}
        return out

    sweep = {k: v for k, v in raw_config.items() if k not in ("parameters", "early_terminate", "run_cap")}
    sweep["method"] = "grid"
    sweep["parameters"] = constants(best_config, raw_config.get("parameters", {}))
    runner = dict(sweep.get("sweeprunner") or {})
    for key in ("count", "storage"):
        runner.pop(key, None)
    if runner:
        sweep["sweeprunner"] = runner
    else:
        sweep.pop("sweeprunner", None)
    return sweep


def write_results(sweep_dir: str | Path) -> pd.DataFrame:
    """Write results.csv, results.parquet, histories.csv and best.yaml; return the trials table."""
    sweep_dir = Path(sweep_dir)
    trials, histories = load_trials(sweep_dir)
    trials.to_csv(sweep_dir / "results.csv", index=False)
    trials.astype({c: str for c in trials.columns if trials[c].dtype == object}).to_parquet(sweep_dir / "results.parquet", index=False)
    histories.to_csv(sweep_dir / "histories.csv", index=False)
    info = launch_info(sweep_dir)
    scored = trials[trials["best_metric"].notna()] if "best_metric" in trials else trials.iloc[0:0]
    if info.get("config") and not scored.empty and trials.attrs.get("metric"):
        best_config = read_json(sweep_dir / RECORDS_DIR / f"{scored.iloc[0]['trial_id']}.config.json")
        text = yaml.safe_dump(best_sweep_config(info["config"], best_config), sort_keys=False)
        header = (f"# Best trial {scored.iloc[0]['trial_id']} of {sweep_dir}: {trials.attrs['metric']} = "
                  f"{scored.iloc[0]['best_metric']:.6g}\n# Retrain it: python -m sweeprunner best.yaml\n")
        (sweep_dir / "best.yaml").write_text(header + text)
    return trials


def summary_table(trials: pd.DataFrame, top: int = 10) -> str:
    """The top trials with their parameters and metric, as text."""
    if trials.empty:
        return "no trials"
    config_cols = [c for c in trials.columns if c.startswith("config.") and trials[c].astype(str).nunique() > 1]
    cols = ["trial_id", "status", "iterations", "best_metric", *config_cols]
    table = trials[cols].head(top).rename(columns=lambda c: c.removeprefix("config."))
    metric = trials.attrs.get("metric")
    if metric:
        table = table.rename(columns={"best_metric": f"best {metric}"})
    text = table.to_string(index=False, float_format=lambda x: f"{x:.6g}")
    errors = trials[trials["status"] == "errored"]
    for _, row in errors.iterrows():
        text += f"\nerrored {row['trial_id']}: {row['error']}"
    return text


def print_results(sweep_dir: str | Path, top: int = 10) -> int:
    """``sweeprunner results DIR``: print the table and (re)write the result files."""
    from sweeprunner.errors import SweepConfigError

    sweep_dir = Path(sweep_dir)
    if not trial_ids(sweep_dir):
        raise SweepConfigError.single(("directory",), f"{sweep_dir} holds no sweep trials")
    trials = write_results(sweep_dir)
    print(summary_table(trials, top))
    print(f"\nfiles: {sweep_dir}/results.csv, results.parquet, histories.csv" +
          (", best.yaml" if (sweep_dir / "best.yaml").is_file() else ""))
    return 1 if (trials["status"] == "errored").any() else 0
