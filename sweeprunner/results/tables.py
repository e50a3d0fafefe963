"""Results of a sweep directory: one row per trial (pandas), histories, best config, and their files.

Read from the durable records the driver writes as results arrive (``records.py``), so it works
the same for finished, interrupted, killed and resumed sweeps. Ray Tune's own trial directories
add the error text when the records lack it.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sweeprunner.errors import SweepConfigError
from sweeprunner.results.records import (
    BEST_YAML,
    HISTORIES_CSV,
    LAUNCH_FILE,
    RESULTS_CSV,
    RESULTS_PARQUET,
    events,
    history,
    info_path,
    last_error_line,
    launch_info,
    read_json,
    trial_config,
    trial_ids,
    write_atomic,
)
from sweeprunner.trial.protocol import finite_number, flatten

__all__ = ["LAUNCH_FILE", "best_sweep_config", "launch_info", "load_trials", "print_results", "summary_table",
           "write_results"]


def _ray_trial_dir(sweep_dir: Path, trial_id: str) -> Path | None:
    return next(iter(sorted(sweep_dir.glob(f"*_{trial_id}_*"))), None)


def load_trials(sweep_dir: str | Path, metric: str | None = None, mode: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(trials, histories)`` for a sweep directory; one row per trial, one per report.

    Damaged records (torn lines, an unreadable config) are recovered as far as they can be; what was
    lost is listed in ``trials.attrs["lost"]``."""
    sweep_dir = Path(sweep_dir)
    info = launch_info(sweep_dir)
    metric = metric or info.get("metric")
    mode = mode or info.get("mode")
    lost: list[str] = []
    outcomes = events(sweep_dir, lost)
    rows, history_rows = [], []
    for trial_id in trial_ids(sweep_dir):
        config = trial_config(sweep_dir, trial_id)
        if config is None:
            lost.append(f"trial {trial_id}: its config record is unreadable (truncated?): its parameters are lost")
        results = history(sweep_dir, trial_id, lost)
        trial_info = read_json(info_path(sweep_dir, trial_id))
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
            **{f"config.{k}": v for k, v in flatten(config or {}).items()},
        })
        history_rows += [{"trial_id": trial_id, **r} for r in results]
    trials = pd.DataFrame(rows)
    if not trials.empty and metric:
        worst = -math.inf if mode == "max" else math.inf
        key = trials["best_metric"].fillna(worst)
        trials = trials.assign(_key=key).sort_values("_key", ascending=(mode != "max"), kind="stable").drop(columns="_key")
        trials = trials.reset_index(drop=True)
    trials.attrs.update({"metric": metric, "mode": mode, "lost": lost})
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


def retrain_comment(info: dict[str, Any], best_yaml: Path) -> str:
    """How to rerun best.yaml, from any directory: paths in the config are relative to the sweep's workdir."""
    config = info.get("config") or {}
    runner = config.get("sweeprunner") or {}
    if not (config.get("program") or config.get("command") or (isinstance(runner, dict) and runner.get("trainable"))):
        return f"# Retrain it (Python, with the function the agent ran): sweeprunner.run_sweep({str(best_yaml)!r}, trainable=train)"
    workdir = info.get("workdir")
    where = f"cd {shlex.quote(workdir)} && " if workdir else ""
    return f"# Retrain it: {where}python -m sweeprunner run {shlex.quote(str(best_yaml))}"


def write_results(sweep_dir: str | Path) -> pd.DataFrame:
    """Write results.csv, results.parquet, histories.csv and best.yaml; return the trials table.

    best.yaml is written only when it is a valid sweep (checked with ``parse_sweep``); otherwise the
    reason goes to ``trials.attrs["lost"]``."""
    sweep_dir = Path(sweep_dir)
    trials, histories = load_trials(sweep_dir)
    write_atomic(sweep_dir / RESULTS_CSV, trials.to_csv(index=False))
    parquet = sweep_dir / f".{RESULTS_PARQUET}.tmp"
    trials.astype({c: str for c in trials.columns if trials[c].dtype == object}).to_parquet(parquet, index=False)
    parquet.replace(sweep_dir / RESULTS_PARQUET)
    write_atomic(sweep_dir / HISTORIES_CSV, histories.to_csv(index=False))
    text = _best_yaml(sweep_dir, trials)
    if text:
        write_atomic(sweep_dir / BEST_YAML, text)
    return trials


def _best_yaml(sweep_dir: Path, trials: pd.DataFrame) -> str | None:
    """best.yaml's text for the best trial whose config is readable, when it is a valid sweep."""
    from sweeprunner.config.parse import parse_sweep

    info = launch_info(sweep_dir)
    scored = trials[trials["best_metric"].notna()] if "best_metric" in trials else trials.iloc[0:0]
    if not info.get("config") or not trials.attrs.get("metric"):
        return None
    for _, best in scored.iterrows():
        best_config = trial_config(sweep_dir, best["trial_id"])
        if best_config is None:
            continue
        sweep = best_sweep_config(info["config"], best_config)
        try:
            parse_sweep(sweep)
        except (SweepConfigError, ValueError, TypeError) as exc:
            trials.attrs["lost"].append(f"best.yaml not written: the best trial's config is not a valid sweep ({exc})")
            return None
        header = (f"# Best trial {best['trial_id']} of {sweep_dir}: {trials.attrs['metric']} = "
                  f"{best['best_metric']:.6g}\n{retrain_comment(info, sweep_dir / BEST_YAML)}\n")
        return header + yaml.safe_dump(sweep, sort_keys=False)
    return None


def summary_table(trials: pd.DataFrame, top: int = 10) -> str:
    """The top trials with their parameters and metric, as text."""
    if trials.empty:
        return "\n".join(["no trials", *(f"warning: damaged records: {p}" for p in trials.attrs.get("lost", []))])
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
    for problem in trials.attrs.get("lost", []):
        text += f"\nwarning: damaged records: {problem}"
    return text


def print_results(sweep_dir: str | Path, top: int = 10) -> int:
    """``sweeprunner results DIR``: print the table and (re)write the result files."""
    sweep_dir = Path(sweep_dir)
    if not trial_ids(sweep_dir):
        raise SweepConfigError.single(("directory",), f"{sweep_dir} holds no sweep trials")
    trials = write_results(sweep_dir)
    print(summary_table(trials, top))
    print(f"\nfiles: {sweep_dir}/{RESULTS_CSV}, {RESULTS_PARQUET}, {HISTORIES_CSV}" +
          (f", {BEST_YAML}" if (sweep_dir / BEST_YAML).is_file() else ""))
    return 1 if (trials["status"] == "errored").any() else 0
