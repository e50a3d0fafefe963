"""Bridge to W&B's own sweep engine (PyPI ``sweeps==0.3.0``), run inside ``.venv-wandb``.

Reads one JSON request on stdin, writes one JSON response on stdout::

    {"op": "random", "config": {...}, "n": 10, "seed": 0}   -> {"ok": true, "result": [...]}
    {"op": "batch", "requests": [{...}, ...]}               -> {"ok": true, "result": [resp, ...]}

Errors raised by the engine come back as ``{"ok": false, "error": "ValueError: ..."}``.
This file imports nothing from sweeprunner (the oracle venv does not have it); the
benchmark problems are loaded from ``bench/problems.py`` by file path.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import random
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

import numpy as np  # noqa: E402
import sweeps  # noqa: E402
from sweeps import RunState, SweepRun  # noqa: E402
from sweeps.params import HyperParameter, HyperParameterSet  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BIG = 10_000_000


def plain(x: Any) -> Any:
    """Numpy scalars/arrays -> Python values, recursively (dicts, lists, tuples)."""
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return [plain(v) for v in x.tolist()]
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    return x


def unwrap(run_config: dict) -> dict:
    """W&B run config ``{"k": {"value": v}}`` -> nested plain dict ``{"k": v}``."""
    return plain({k: v["value"] for k, v in run_config.items()})


def wrap(config: dict) -> dict:
    """Nested plain dict -> W&B run config (only the first level gets ``value``)."""
    return {k: {"value": v} for k, v in config.items()}


def _seed(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)


def op_random(config: dict, n: int, seed: int, via_next_runs: bool = False) -> list[dict]:
    """``n`` random-search configs at ``seed``, as ``sweeps.next_runs`` gives them.

    ``via_next_runs=True`` calls ``next_runs`` itself (~0.3 ms a run). The default draws the
    same ``random.uniform`` numbers in the same order and maps each parameter's column through
    its ``HyperParameter.ppf`` in one vectorised call (scalar calls for
    ``categorical_w_probabilities``, whose array branch differs); tests check both agree.
    """
    _seed(seed)
    cfg = dict(config, method="random")
    if via_next_runs:
        return [unwrap(r.config) for r in sweeps.next_runs(cfg, [], n=n)]
    params = HyperParameterSet.from_config(cfg["parameters"])
    u = np.array([[random.uniform(0.0, 1.0) for _ in params] for _ in range(n)]).reshape(
        n, len(params)
    )
    columns = []
    for j, param in enumerate(params):
        if param.type == HyperParameter.CATEGORICAL_PROB:
            columns.append([param.ppf(x) for x in u[:, j].tolist()])
        elif param.type == HyperParameter.CONSTANT:
            columns.append([param.ppf(x) for x in u[:1, j].tolist()] * n)
        else:
            col = param.ppf(u[:, j])
            columns.append(list(col) if isinstance(col, (list, np.ndarray)) else [col] * n)
    out = []
    for i in range(n):
        for j, param in enumerate(params):
            param.value = columns[j][i]
        out.append(unwrap(params.to_config()))
    return out


def op_grid(config: dict) -> list[dict]:
    cfg = dict(config, method="grid")
    runs = sweeps.next_runs(cfg, [], n=BIG)
    if runs[-1] is not None:
        raise RuntimeError(f"grid has more than {BIG} points")
    return [unwrap(r.config) for r in runs[:-1]]


def _hyperband_config(early_terminate: dict, goal: str = "minimize") -> dict:
    return {
        "method": "random",
        "metric": {"name": "loss", "goal": goal},
        "early_terminate": dict(early_terminate, type="hyperband"),
        "parameters": {"a": {"value": 1}},
    }


def op_bands(early_terminate: dict) -> list[int]:
    """Bands as computed by ``hyperband_stop_runs`` (read from ``early_terminate_info``)."""
    probe = SweepRun(name="probe", state=RunState.running)
    sweeps.stop_runs(_hyperband_config(early_terminate), [probe])
    return plain(probe.early_terminate_info["bands"])


def op_stop(config: dict, runs: list[dict]) -> dict:
    """Runs W&B's ``stop_runs`` stops; also the bands and thresholds it used."""
    metric = config["metric"]["name"]
    sweep_runs = [
        SweepRun(
            **{
                "name": r["name"],
                "state": RunState(r.get("state", "running")),
                "config": wrap(r.get("config", {})),
                "sampledHistory": [{"_step": i, metric: v} for i, v in enumerate(r["history"])],
            }
        )
        for r in runs
    ]
    stopped = sweeps.stop_runs(config, sweep_runs)
    info = next((r.early_terminate_info for r in sweep_runs if r.early_terminate_info), None)
    return {
        "stop": sorted(r.name for r in stopped),
        "bands": plain(info["bands"]) if info else None,
        "thresholds": plain(info["thresholds"]) if info else None,
    }


def _finished_run(name: str, config: dict, state: str, value: float | None, metric: str):
    kw: dict[str, Any] = {"name": name, "state": RunState(state), "config": wrap(config)}
    if value is not None:
        kw["sampledHistory"] = [{"_step": 0, metric: value}]
        kw["summaryMetrics"] = {metric: value}
    return SweepRun(**kw)


def op_bayes_next(config: dict, runs: list[dict], seed: int) -> dict:
    """W&B's next bayes suggestion given past runs ``{config, state, value}``."""
    _seed(seed)
    metric = config["metric"]["name"]
    past = [
        _finished_run(f"r{i}", r["config"], r.get("state", "finished"), r.get("value"), metric)
        for i, r in enumerate(runs)
    ]
    cfg = dict(config, method="bayes")
    suggestion = sweeps.next_run(cfg, past)
    return unwrap(suggestion.config)


def op_validate(config: dict) -> list[str]:
    return list(sweeps.schema_violations_from_proposed_config(config))


def _load_problems():
    """``bench/problems.py``, loaded by path (registered first: it defines dataclasses)."""
    name = "_sweeprunner_bench_problems"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "bench" / "problems.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def op_optimize(objective: str, budget: int, seed: int, method: str, concurrency: int = 1) -> dict:
    """A whole W&B optimization loop on a bench problem; returns values and best-so-far.

    ``concurrency`` > 1 runs bayes as that many parallel agents would: up to ``concurrency`` runs
    are in flight, each new suggestion sees them as running (no metric yet), and the oldest
    finishes first. ``values`` are in completion order.
    """
    problems = _load_problems()
    problem = problems.PROBLEMS[objective]
    cfg = {
        "method": method,
        "metric": {"name": "objective", "goal": "minimize"},
        "parameters": problem.parameters,
    }
    _seed(seed)
    t0, c0 = time.perf_counter(), time.process_time()
    values: list[float] = []
    configs: list[dict] = []
    if method == "random":
        configs = [unwrap(r.config) for r in sweeps.next_runs(cfg, [], n=budget)]
        values = [float(problem.evaluate(c)) for c in configs]
    elif method == "bayes":
        past: list[SweepRun] = []
        inflight: list[tuple[str, dict]] = []
        suggested = 0
        while len(values) < budget:
            while suggested < budget and len(inflight) < max(1, concurrency):
                running = [_finished_run(name, c, "running", None, "objective") for name, c in inflight]
                run = sweeps.next_run(cfg, past + running)
                inflight.append((f"r{suggested}", unwrap(run.config)))
                suggested += 1
            name, config = inflight.pop(0)
            value = float(problem.evaluate(config))
            configs.append(config)
            values.append(value)
            past.append(_finished_run(name, config, "finished", value, "objective"))
    else:
        raise ValueError(f"unknown method {method!r}")
    best = np.minimum.accumulate(values).tolist()
    return {
        "values": values,
        "best": best,
        "configs": configs,
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
    }


OPS = {
    "random": op_random,
    "grid": op_grid,
    "bands": op_bands,
    "stop": op_stop,
    "bayes_next": op_bayes_next,
    "validate": op_validate,
    "optimize": op_optimize,
}


def handle(request: dict) -> dict:
    request = dict(request)
    op = request.pop("op")
    if op == "batch":
        return {"ok": True, "result": [handle(r) for r in request["requests"]]}
    try:
        return {"ok": True, "result": plain(OPS[op](**request))}
    except Exception as exc:  # reported to the caller, who decides
        return {
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=4),
        }


def _json_default(x: Any) -> Any:
    out = plain(x)
    if out is x:
        raise TypeError(f"not JSON serialisable: {type(x).__name__}")
    return out


def main() -> None:
    request = json.load(sys.stdin)
    response = handle(request)
    json.dump(response, sys.stdout, default=_json_default, allow_nan=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
