"""The plan of a compiled sweep, as a dict (``plan --json``) and as readable text (``plan``).

It describes the :class:`CompiledSweep` it is given: the searcher, its concurrency limit and the
scheduler are read from the Ray Tune objects that were built, not decided again here; the numbers
(parameters, bands, resources) come from the spec they were compiled from.
"""

from __future__ import annotations

from typing import Any

from sweeprunner.compile.compiler import CompiledSweep, compile_sweep
from sweeprunner.compile.sampling import GridPlan
from sweeprunner.config.spec import SweepSpec

#: How the W&B hyperband rule sweeprunner runs relates to Ray's nearest scheduler (issue 13).
HYPERBAND_VS_ASHA = (
    "both judge a trial at report counts growing by eta and keep the best 1/eta of the trials that reached "
    "that count, stopping (never pausing) the rest",
    "W&B's bands are min_iter*eta^k (or max_iter/eta^k for k=1..s); ASHA's rungs are grace_period*eta^k up to max_t, "
    "and ASHA also ends every trial at max_t, while W&B lets a trial run to its own end",
    "W&B judges a trial at the largest band it has reached, every time it reports, against all trials' values at "
    "that band (finished ones included); ASHA decides once per rung, when the trial reaches it",
    "strict: false judges the best value so far; ASHA always uses the value at the rung",
    "Ray's HyperBandScheduler (sync_hyperband) is further away: it runs brackets of its own and pauses trials "
    "(needs checkpoints)",
)


def _budget_source(compiled: CompiledSweep) -> str:
    spec = compiled.spec
    if isinstance(compiled.points, GridPlan):
        size = compiled.points.full_size
        shown = f"{size:,}" if size < 10**15 else f"about 10^{len(str(size)) - 1}"
        return f"the grid of {shown} points" + (f", capped by run_cap {spec.run_cap}" if spec.run_cap else "")
    names = [name for name, value in (("run_cap", spec.run_cap), ("count", spec.runner.count)) if value]
    return " and ".join(names) or "no run_cap or count: runs until stopped (Ctrl-C; resumable), as W&B's agent"


def _search(compiled: CompiledSweep) -> dict[str, Any]:
    """The searcher that was built, unwrapped from its concurrency limiter."""
    alg = compiled.search_alg
    limit = getattr(alg, "max_concurrent", None)
    if limit is not None and limit >= compiled.num_samples > 0:
        limit = None  # as many as the whole budget: the cluster's free slots decide
    inner = alg
    while hasattr(inner, "searcher"):  # ConcurrencyLimiter, BackgroundSuggester
        inner = inner.searcher
    seed = compiled.spec.runner.seed
    if compiled.points is not None:
        kind = "W&B grid order (last name fastest)" if isinstance(compiled.points, GridPlan) else "W&B random draws"
        return {"searcher": f"{type(inner).__name__}: {kind}", "seed": seed,
                "max_concurrent": compiled.max_concurrent_trials}
    sampler = getattr(inner, "_sampler", None)  # OptunaSearch keeps its sampler here (no public accessor)
    text = type(inner).__name__ + (f" with Optuna {type(sampler).__name__}" if sampler is not None else "")
    if compiled.spec.runner.search_alg != "default":
        text += f" (sweeprunner.search_alg: {compiled.spec.runner.search_alg}, over the Ray Tune space of plan --tune)"
    elif compiled.spec.runner.bayes_sampler == "auto":
        text += " (auto)"
    out: dict[str, Any] = {"searcher": text, "seed": seed, "max_concurrent": limit}
    if sampler is not None:
        out["sampler"] = type(sampler).__name__
    return out


def _scheduler(compiled: CompiledSweep) -> dict[str, Any] | None:
    et, scheduler = compiled.spec.early_terminate, compiled.scheduler
    if et is None or scheduler is None:
        return None
    name = type(scheduler).__name__
    if et.type == "hyperband":
        bands = et.bands
        shown = bands if len(bands) <= 8 else [*bands[:6], "..."]
        return {"type": "hyperband", "scheduler": f"{name} (W&B's rule; stops, never pauses)", "bands": shown,
                "eta": et.eta, "strict": et.strict, "iteration": "one report of the metric",
                "closest_ray_scheduler": f"AsyncHyperBandScheduler(grace_period={bands[0]}, reduction_factor={et.eta:g}, "
                                         f"brackets=1, max_t={et.max_iter or 'none: W&B sets no end'})",
                "differences": list(HYPERBAND_VS_ASHA)}
    return {"type": et.type, "scheduler": name, "min_iter": et.min_iter, "max_iter": et.max_iter,
            "eta": et.eta, "iteration": "training_iteration (one report)"}


def describe_plan(compiled: CompiledSweep | SweepSpec) -> dict[str, Any]:
    """Everything a user needs to check before running, as plain data (a spec is compiled first)."""
    if isinstance(compiled, SweepSpec):
        compiled = compile_sweep(compiled)
    spec = compiled.spec
    res = spec.runner.resources
    params = [{"name": ".".join(path), "distribution": dist.wandb_name, "detail": dist.describe()}
              for path, dist in spec.parameters.leaves()]
    return {
        "name": spec.name,
        "source": spec.source,
        "method": spec.method,
        "metric": None if spec.metric is None else {
            "name": spec.metric.name, "goal": spec.metric.goal, "target": spec.metric.target},
        "trials": compiled.trials,
        "trial_budget_from": _budget_source(compiled),
        "search": _search(compiled),
        "parameters": params,
        "early_terminate": _scheduler(compiled),
        "stopper": type(compiled.stopper).__name__ if compiled.stopper is not None else None,
        "resources_per_trial": {"cpu": res.cpu, "gpu": res.gpu, "accelerator_type": res.accelerator_type},
        "concurrency": compiled.max_concurrent_trials or "fill the cluster",
        "trainable": spec.runner.trainable or (f"program {spec.program}" if spec.program else None)
        or ("command" if spec.command else None),
        "max_failures": spec.runner.max_failures,
        "warnings": list(spec.warnings),
    }


def render_plan(plan: dict[str, Any]) -> str:
    """The plan as aligned text."""
    metric = plan["metric"]
    trials = (f"trials      {plan['trials']} (from {plan['trial_budget_from']})" if plan["trials"] is not None
              else f"trials      until stopped ({plan['trial_budget_from']})")
    lines = [f"sweep       {plan['name'] or '(unnamed)'}" + (f"  [{plan['source']}]" if plan["source"] else ""),
             f"method      {plan['method']}: {plan['search']['searcher']}, seed {plan['search']['seed']}",
             f"metric      {metric['name']} ({metric['goal']})" + (
                 f", sweep stops at target {metric['target']:g}" if metric and metric["target"] is not None else "")
             if metric else "metric      none (results are listed, no best trial)",
             trials,
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
        lines.append(f"            closest Ray scheduler: {sched['closest_ray_scheduler']}; how they differ:")
        lines += [f"            - {difference}" for difference in sched["differences"]]
    else:
        lines.append(f"early stop  {sched['scheduler']}: min_iter {sched['min_iter']}, max_iter {sched['max_iter']}, "
                     f"eta {sched['eta']:g}")
    res = plan["resources_per_trial"]
    gpu = f", {res['gpu']:g} GPU" if res["gpu"] else ", no GPU"
    acc = f" ({res['accelerator_type']})" if res["accelerator_type"] else ""
    limit = plan["search"]["max_concurrent"]
    lines.append(f"resources   {res['cpu']:g} CPU{gpu}{acc} per trial; concurrency: {plan['concurrency']}"
                 + (f"; the searcher allows at most {limit} at once" if plan["method"] == "bayes" and limit else ""))
    lines.append(f"retries     {plan['max_failures']} per trial, from its latest checkpoint")
    lines += [f"warning     {w}" for w in plan["warnings"]]
    return "\n".join(lines)
