"""What the HTML report shows, read from a sweep directory: trials, curves, parameters, importance.

No Ray and no plotting here: ``report.py`` turns a :class:`SweepData` into figures and HTML.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sweeprunner.results.records import RECORDS_DIR, events
from sweeprunner.results.tables import launch_info, load_trials

Scale = Literal["linear", "log", "category"]
FANOVA = {"n_trees": 32, "max_depth": 8, "seed": 0}  # Optuna's default 64 x 64 takes over a minute for 1,000 trials
IMPORTANCE_METHOD = ("fANOVA (optuna.importance.FanovaImportanceEvaluator: a random forest of 32 trees, depth 8, seed 0, "
                     "fitted to the trials; the share of the metric's variance each parameter explains)")
CORRELATION_METHOD = "Pearson's r between each numeric parameter and the metric (as W&B's sweep panel)"


@dataclass(frozen=True)
class Param:
    """One searched parameter as the report plots it."""

    name: str  # dotted for nested parameters: "optimizer.lr"
    scale: Scale

    @property
    def column(self) -> str:
        return f"config.{self.name}"


@dataclass(frozen=True)
class SweepData:
    """Everything the report needs, derived from the sweep directory once."""

    sweep_dir: Path
    name: str
    method: str
    metric: str | None
    mode: str | None
    trials: pd.DataFrame  # one row per trial (load_trials) + start_time, end_time
    curves: dict[str, np.ndarray]  # trial_id -> the metric's finite values, in report order
    params: tuple[Param, ...]
    bands: tuple[int, ...] = ()
    early_terminate: str | None = None
    raw_config: dict[str, Any] = field(default_factory=dict)

    @property
    def scored(self) -> pd.DataFrame:
        """Trials that reported a finite metric, best first."""
        if self.trials.empty or "best_metric" not in self.trials:
            return self.trials.iloc[0:0]
        return self.trials[self.trials["best_metric"].notna()]

    @property
    def best(self) -> pd.Series | None:
        scored = self.scored
        return scored.iloc[0] if len(scored) else None


def _spec_params(raw_config: dict[str, Any]) -> dict[str, Scale]:
    """Searched parameters in the config's order with their scale; {} when the config does not parse."""
    from sweeprunner.config.distributions import (
        Categorical,
        Constant,
        LogUniform,
        Normal,
        WeightedCategorical,
    )
    from sweeprunner.config.parse import parse_sweep
    from sweeprunner.errors import SweepConfigError

    try:
        spec = parse_sweep(raw_config)
    except (SweepConfigError, TypeError, ValueError):
        return {}
    scales: dict[str, Scale] = {}
    for path, dist in spec.parameters.leaves():
        if isinstance(dist, Constant):
            continue
        if isinstance(dist, LogUniform) or (isinstance(dist, Normal) and dist.log):
            scales[".".join(path)] = "log"
        elif isinstance(dist, Categorical | WeightedCategorical) and not all(_is_number(v) for v in dist.values):
            scales[".".join(path)] = "category"
        else:
            scales[".".join(path)] = "linear"
    return scales


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def _params(trials: pd.DataFrame, spec_scales: dict[str, Scale]) -> tuple[Param, ...]:
    """Parameters that take more than one value, spec order first; the scale from the spec, else from the data."""
    columns = [c for c in trials.columns if c.startswith("config.")]
    varying = [c for c in columns if trials[c].astype(str).nunique() > 1]
    names = [c.removeprefix("config.") for c in varying]
    order = {name: i for i, name in enumerate(spec_scales)}
    names.sort(key=lambda n: order.get(n, len(order)))
    params = []
    for name in names:
        values = trials[f"config.{name}"].dropna()
        numeric = all(_is_number(v) for v in values)
        scale = spec_scales.get(name) or "linear"
        if not numeric:
            scale = "category"
        elif scale == "log" and not (values.astype(float) > 0).all():
            scale = "linear"
        params.append(Param(name, scale))
    return tuple(params)


def _times(sweep_dir: Path, trials: pd.DataFrame, histories: pd.DataFrame) -> pd.DataFrame:
    """Add ``start_time`` (when the trial's config was recorded) and ``end_time`` (last result or outcome)."""
    records = sweep_dir / RECORDS_DIR
    outcomes = events(sweep_dir)
    last_report = {}
    if not histories.empty and "timestamp" in histories:
        last_report = histories.groupby("trial_id")["timestamp"].max().to_dict()
    starts, ends = [], []
    for trial_id in trials["trial_id"]:
        path = records / f"{trial_id}.config.json"
        start = path.stat().st_mtime if path.is_file() else math.nan
        end = max(float(last_report.get(trial_id, math.nan)), float(outcomes.get(trial_id, {}).get("time", math.nan)))
        starts.append(start)
        ends.append(end if math.isfinite(end) else start)
    return trials.assign(start_time=starts, end_time=ends)


def _curves(histories: pd.DataFrame, metric: str | None) -> dict[str, np.ndarray]:
    if histories.empty or not metric or metric not in histories:
        return {}
    values = pd.to_numeric(histories[metric], errors="coerce")
    frame = pd.DataFrame({"trial_id": histories["trial_id"], "v": values}).dropna()
    frame = frame[np.isfinite(frame["v"])]
    return {trial_id: group["v"].to_numpy(float) for trial_id, group in frame.groupby("trial_id", sort=False)}


def load_sweep_data(sweep_dir: str | Path) -> SweepData:
    """Read a sweep directory (finished, running, interrupted or resumed) into a :class:`SweepData`."""
    sweep_dir = Path(sweep_dir)
    info = launch_info(sweep_dir)
    raw = info.get("config") if isinstance(info.get("config"), dict) else {}
    trials, histories = load_trials(sweep_dir)
    metric, mode = trials.attrs.get("metric"), trials.attrs.get("mode")
    if not trials.empty:
        trials = _times(sweep_dir, trials, histories)
    spec_scales = _spec_params(raw) if raw else {}
    bands: tuple[int, ...] = ()
    early = raw.get("early_terminate") if isinstance(raw.get("early_terminate"), dict) else None
    if early and early.get("type") == "hyperband":
        from sweeprunner.compile.hyperband import wandb_bands

        try:
            bands = tuple(wandb_bands(min_iter=early.get("min_iter"), max_iter=early.get("max_iter"), s=early.get("s"),
                                      eta=early.get("eta", 3), count=30))
        except (TypeError, ValueError, OverflowError):
            bands = ()
    name = str(raw.get("name") or Path(str(info.get("source") or sweep_dir.name)).stem)
    return SweepData(sweep_dir=sweep_dir, name=name, method=str(raw.get("method", "?")), metric=metric, mode=mode,
                     trials=trials, curves=_curves(histories, metric),
                     params=_params(trials, spec_scales) if not trials.empty else (),
                     bands=bands, early_terminate=early.get("type") if early else None, raw_config=raw)


def gpus_used(trials: pd.DataFrame) -> list[str]:
    """``node:gpu`` for every GPU a trial held."""
    used = set()
    for node, ids in zip(trials.get("node", []), trials.get("gpu_ids", []), strict=False):
        for gpu in str(ids or "").split(","):
            if gpu.strip() and gpu.strip() != "nan":
                used.add(f"{node}:{gpu.strip()}")
    return sorted(used)


def wall_time_s(trials: pd.DataFrame) -> float:
    """From the first trial's start to the last result or outcome."""
    if trials.empty or "start_time" not in trials:
        return 0.0
    span = np.nanmax(trials["end_time"]) - np.nanmin(trials["start_time"])
    return float(span) if math.isfinite(span) else 0.0


def timestamp(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S") if math.isfinite(seconds) else "?"


def param_values(data: SweepData, param: Param, frame: pd.DataFrame | None = None) -> pd.Series:
    """The parameter's values as plotted: floats for numeric scales, strings for categories."""
    frame = data.scored if frame is None else frame
    values = frame[param.column]
    if param.scale == "category":
        return values.map(lambda v: "null" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return pd.to_numeric(values, errors="coerce").astype(float)


def importance(data: SweepData) -> tuple[dict[str, float], dict[str, float | None], str | None]:
    """``(importance, correlation, why_not)`` per parameter; ``why_not`` says why importance is missing."""
    scored = data.scored
    params = [p for p in data.params if param_values(data, p).nunique() > 1]
    if len(scored) < 3 or not params:
        return {}, {}, ("importance and correlation need at least 3 trials that reported the metric and a parameter "
                        "that varies among them")
    metric = scored["best_metric"].astype(float)
    correlation: dict[str, float | None] = {}
    for p in params:
        if p.scale == "category":
            correlation[p.name] = None
        else:
            x = param_values(data, p)
            correlation[p.name] = None if x.std() == 0 or metric.std() == 0 else float(x.corr(metric))
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {}
    for p in params:
        x = param_values(data, p)
        if p.scale == "category":
            distributions[p.name] = CategoricalDistribution(sorted(x.unique()))
        else:
            distributions[p.name] = FloatDistribution(float(x.min()), float(x.max()), log=p.scale == "log")
    study = optuna.create_study(direction="maximize" if data.mode == "max" else "minimize")
    columns = {p.name: param_values(data, p).tolist() for p in params}
    for i, value in enumerate(metric.tolist()):
        study.add_trial(optuna.trial.create_trial(params={n: columns[n][i] for n in columns},
                                                  distributions=distributions, value=value))
    try:
        scores = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(**FANOVA), normalize=True)
    except (RuntimeError, ValueError) as exc:
        return {}, correlation, f"fANOVA failed: {exc}"
    return {k: float(v) for k, v in scores.items()}, correlation, None
