"""The compiled plan of a sweep, as a dict (``plan --json``) and as readable text (``plan``)."""

from __future__ import annotations

from typing import Any

from sweeprunner.compile.compiler import (
    DEFAULT_BAYES_CONCURRENCY,
    bayes_sampler,
    planned_points,
    trial_count,
)
from sweeprunner.config.spec import SweepSpec

SAMPLERS = {
    "tpe": "Optuna TPESampler(multivariate, constant_liar)",
    "gp": "Optuna GPSampler (pending-aware, Sobol start-up, <= 100 training points)",
    "random": "Optuna RandomSampler",
}


def _budget_source(spec: SweepSpec) -> str:
    if spec.method == "grid":
        return "the grid" + (f", capped by run_cap {spec.run_cap}" if spec.run_cap else "")
    names = [name for name, value in (("run_cap", spec.run_cap), ("count", spec.runner.count)) if value]
    return " and ".join(names)


def _search(spec: SweepSpec, trials: int) -> dict[str, Any]:
    if spec.method == "bayes":
        cap = spec.runner.max_concurrent_trials or DEFAULT_BAYES_CONCURRENCY
        limit = min(cap, trials) if cap else None  # None: fill the cluster
        sampler = bayes_sampler(spec, trials)
        auto = " (auto)" if spec.runner.bayes_sampler == "auto" else ""
        return {"searcher": f"OptunaSearch with {SAMPLERS[sampler]}{auto}", "sampler": sampler, "seed": spec.runner.seed,
                "max_concurrent": limit}
    kind = "W&B grid order (last name fastest)" if spec.method == "grid" else "W&B random draws"
    return {"searcher": f"PlannedSearcher: {kind}", "seed": spec.runner.seed,
            "max_concurrent": spec.runner.max_concurrent_trials}


def _scheduler(spec: SweepSpec) -> dict[str, Any] | None:
    et = spec.early_terminate
    if et is None or et.type == "none":
        return None
    if et.type == "hyperband":
        bands = et.bands
        shown = bands if len(bands) <= 8 else [*bands[:6], "..."]
        return {"type": "hyperband", "scheduler": "WandbHyperbandScheduler (W&B's rule; stops, never pauses)",
                "bands": shown, "eta": et.eta, "strict": et.strict, "iteration": "one report of the metric"}
    names = {"asha": "AsyncHyperBandScheduler (ASHA)", "sync_hyperband": "HyperBandScheduler (pauses; needs checkpoints)",
             "median": "MedianStoppingRule"}
    return {"type": et.type, "scheduler": names[et.type], "min_iter": et.min_iter, "max_iter": et.max_iter,
            "eta": et.eta, "iteration": "training_iteration (one report)"}


def describe_plan(spec: SweepSpec) -> dict[str, Any]:
    """Everything a user needs to check before running, as plain data."""
    points = planned_points(spec) if spec.method == "grid" else None
    trials = len(points) if points is not None else trial_count(spec)
    res = spec.runner.resources
    params = []
    for path, dist in spec.parameters.leaves():
        params.append({"name": ".".join(path), "distribution": dist.wandb_name, "detail": dist.describe()})
    return {
        "name": spec.name,
        "source": spec.source,
        "method": spec.method,
        "metric": None if spec.metric is None else {
            "name": spec.metric.name, "goal": spec.metric.goal, "target": spec.metric.target},
        "trials": trials,
        "trial_budget_from": _budget_source(spec),
        "search": _search(spec, trials),
        "parameters": params,
        "early_terminate": _scheduler(spec),
        "resources_per_trial": {"cpu": res.cpu, "gpu": res.gpu, "accelerator_type": res.accelerator_type},
        "concurrency": spec.runner.max_concurrent_trials or "fill the cluster",
        "trainable": spec.runner.trainable or (f"program {spec.program}" if spec.program else None)
        or ("command" if spec.command else None),
        "max_failures": spec.runner.max_failures,
        "warnings": list(spec.warnings),
    }


def render_plan(plan: dict[str, Any]) -> str:
    """The plan as aligned text."""
    metric = plan["metric"]
    lines = [f"sweep       {plan['name'] or '(unnamed)'}" + (f"  [{plan['source']}]" if plan["source"] else ""),
             f"method      {plan['method']}: {plan['search']['searcher']}, seed {plan['search']['seed']}",
             f"metric      {metric['name']} ({metric['goal']})" + (
                 f", sweep stops at target {metric['target']:g}" if metric and metric["target"] is not None else "")
             if metric else "metric      none (results are listed, no best trial)",
             f"trials      {plan['trials']} (from {plan['trial_budget_from']})",
             f"trainable   {plan['trainable'] or 'not set: add sweeprunner.trainable, program or command before run'}",
             "parameters"]
    width = max(len(p["name"]) for p in plan["parameters"])
    lines += [f"  {p['name']:<{width}}  {p['detail']}" for p in plan["parameters"]]
    sched = plan["early_terminate"]
    if sched is None:
        lines.append("early stop  none")
    elif sched["type"] == "hyperband":
        bands = ", ".join(map(str, sched["bands"]))
        lines.append(f"early stop  {sched['scheduler']}: judged at reports {bands}; eta {sched['eta']:g}; "
                     f"{'strict (value at the band)' if sched['strict'] else 'best value so far'}")
    else:
        lines.append(f"early stop  {sched['scheduler']}: min_iter {sched['min_iter']}, max_iter {sched['max_iter']}, "
                     f"eta {sched['eta']:g}")
    res = plan["resources_per_trial"]
    gpu = f", {res['gpu']:g} GPU" if res["gpu"] else ", no GPU"
    acc = f" ({res['accelerator_type']})" if res["accelerator_type"] else ""
    lines.append(f"resources   {res['cpu']:g} CPU{gpu}{acc} per trial; concurrency: {plan['concurrency']}"
                 + (f"; bayes at most {plan['search']['max_concurrent']} at once"
                    if plan["method"] == "bayes" and plan["search"]["max_concurrent"] else ""))
    lines.append(f"retries     {plan['max_failures']} per trial, from its latest checkpoint")
    lines += [f"warning     {w}" for w in plan["warnings"]]
    return "\n".join(lines)
