"""Raw sweep config (YAML or dict) -> validated :class:`SweepSpec`.

Every problem is collected with its key path (``fields.Collector``) and raised together as one
:class:`SweepConfigError`. The top-level keys, metric, early_terminate, command and the
``sweeprunner:`` block are read here; the parameter vocabulary (distribution names and W&B's
inference rules) in ``params.py``; the records they build are in ``distributions.py`` and ``spec.py``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any

from sweeprunner.config.fields import Collector
from sweeprunner.config.params import check_method, check_name_collisions, parse_params
from sweeprunner.config.spec import (
    EarlyTerminate,
    Metric,
    Resources,
    RunnerSettings,
    SweepSpec,
)
from sweeprunner.config.yamlio import check_document, load_yaml_file
from sweeprunner.errors import Issue, KeyPath, SweepConfigError, did_you_mean

METHODS = ("grid", "random", "bayes")
TOP_LEVEL_KEYS = (
    "method", "metric", "parameters", "early_terminate", "run_cap", "name", "description",
    "program", "command", "project", "entity", "controller", "apiVersion", "kind", "job",
    "image_uri", "metrics", "scheduler", "sweeprunner",
)
LABEL_KEYS = ("name", "description", "program", "project", "entity", "apiVersion", "kind", "job", "image_uri")
METRIC_KEYS = ("name", "goal", "target", "impute", "impute_while_running")
EARLY_TERMINATE_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
STOP_TYPES = ("hyperband", "asha", "sync_hyperband", "median", "none")
RUNNER_KEYS = (
    "trainable", "resources", "max_concurrent_trials", "count", "seed", "bayes_sampler",
    "storage", "max_failures", "log_uniform_bounds", "wandb_shim", "log_to_wandb", "trial_timeout", "search_alg",
)
SEARCH_ALGS = ("default", "optuna", "hyperopt")
RESOURCE_KEYS = ("cpu", "gpu", "accelerator_type")


def load_sweep(path: str | os.PathLike[str], *, overrides: Mapping[str, Any] | None = None) -> SweepSpec:
    """Read a sweep YAML file and validate it; ``overrides`` replace keys of the ``sweeprunner:`` block."""
    raw = load_yaml_file(path)
    return parse_sweep(raw, source=str(path), overrides=overrides)


def parse_sweep(raw: Any, *, source: str | None = None, overrides: Mapping[str, Any] | None = None) -> SweepSpec:
    """Validate a raw sweep mapping; raise one :class:`SweepConfigError` listing every problem."""
    c = Collector()
    check_document(raw, source=source)  # a dict from Python gets the YAML document's limits too
    if not isinstance(raw, Mapping):
        raise SweepConfigError([Issue((), f"a sweep config must be a mapping of keys, got {type(raw).__name__}")], source=source)
    raw = dict(raw)
    if overrides:
        block = dict(raw.get("sweeprunner") or {}) if isinstance(raw.get("sweeprunner") or {}, Mapping) else {}
        block.update({k: v for k, v in overrides.items() if v is not None})
        raw["sweeprunner"] = block
    c.unknown_keys(raw, TOP_LEVEL_KEYS, (), "the sweep config")

    runner = _parse_runner(raw.get("sweeprunner"), c)
    c.log_uniform_bounds = runner.log_uniform_bounds if runner else "auto"

    method = raw.get("method")
    if method is None:
        c.add(("method",), "required: one of 'grid', 'random', 'bayes'")
    elif method == "custom" or "scheduler" in raw or "metrics" in raw:
        keys = [k for k in ("scheduler", "metrics") if k in raw] or ["method"]
        c.add((keys[0],), "W&B's custom/Launch schedulers (method: custom, scheduler, metrics) are not supported: "
                          "use method: bayes (Optuna) with one metric")
    elif not isinstance(method, str) or method not in METHODS:
        c.add(("method",), f"must be one of 'grid', 'random', 'bayes', got {method!r}{did_you_mean(str(method), METHODS)}")

    metric = _parse_metric(raw.get("metric"), c) if "metric" in raw else None
    if "parameters" not in raw:
        c.add(("parameters",), "required: a mapping of parameter names to distributions")
        params = None
    else:
        params = parse_params(raw["parameters"], ("parameters",), c)
    early = _parse_early_terminate(raw["early_terminate"], c) if raw.get("early_terminate") is not None else None

    run_cap = c.integer(raw, "run_cap", (), minimum=1)
    if "run_cap" in raw and raw["run_cap"] is None:
        c.add(("run_cap",), "must be an integer >= 1, got null (as W&B); leave run_cap out to run until stopped")
    labels = {key: c.string(raw, key, ()) for key in LABEL_KEYS if key in raw}
    command = _parse_command(raw["command"], c) if "command" in raw else None
    if "controller" in raw:
        _check_controller(raw["controller"], c)

    if not isinstance(method, str):
        method = None
    if method == "bayes" and metric is None and "metric" not in raw:
        c.warnings.append("method: bayes learns from metric.name, and this sweep has no metric: "
                          "it draws configs as random search does (add a metric to enable bayes)")
        method = "random"
    if params is not None:
        check_name_collisions(params, c)
    if method in METHODS and params is not None:
        check_method(method, params, metric, c)
    if runner is not None and runner.search_alg != "default":
        if method == "grid":
            c.add(("sweeprunner", "search_alg"), "applies to random and bayes; a grid runs its points in W&B's order")
        if metric is None:
            c.add(("sweeprunner", "search_alg"), f"{runner.search_alg} learns from metric.name: add a metric section")
    if early is not None and early.type != "none" and metric is None and "metric" not in raw:
        c.add(("early_terminate",), "needs a metric section (metric.name and goal) to judge trials")
    if c.issues:
        raise SweepConfigError(c.issues, source=source)
    for key in ("job", "image_uri"):
        if key in raw:
            c.warnings.append(f"{key}: W&B Launch key, ignored (set sweeprunner.trainable or program)")
    assert params is not None and runner is not None
    return SweepSpec(
        method=method, parameters=params, metric=metric, early_terminate=early, run_cap=run_cap,
        runner=runner, name=labels.get("name"), description=labels.get("description"),
        program=labels.get("program"), command=command, project=labels.get("project"),
        entity=labels.get("entity"), warnings=tuple(c.warnings), source=source, raw=raw,
    )


def _check_controller(raw: Any, c: Collector) -> None:
    """W&B's ``controller: {type: cloud | local}``; sweeprunner is its own controller, so either is accepted."""
    if not isinstance(raw, Mapping):
        c.add(("controller",), f"must be a mapping like {{type: local}}, got {raw!r}")
        return
    c.unknown_keys(raw, ("type",), ("controller",), "controller")
    c.string(raw, "type", ("controller",), choices=("cloud", "local"))


def _parse_metric(raw: Any, c: Collector) -> Metric | None:
    path: KeyPath = ("metric",)
    if not isinstance(raw, Mapping):
        c.add(path, f"must be a mapping with name and goal, got {raw!r}")
        return None
    c.unknown_keys(raw, METRIC_KEYS, path, "metric")
    name = c.string(raw, "name", path)
    if raw.get("name") is None:
        c.add((*path, "name"), "required: the logged metric to optimise, e.g. val/loss")
    goal = c.string(raw, "goal", path, choices=("minimize", "maximize"), default="minimize")
    impute = c.string(raw, "impute", path, choices=("worst", "best", "latest"), default="worst")
    if "impute_while_running" in raw and raw["impute_while_running"] not in ("latest", "best", "worst", "false", False):
        c.add((*path, "impute_while_running"), f"must be one of 'latest', 'best', 'worst', 'false', got {raw['impute_while_running']!r}")
    target = c.number(raw, "target", path)
    if name is None or goal is None or impute is None:
        return None
    return Metric(name=name, goal=goal, target=target, impute=impute)


def _parse_command(raw: Any, c: Collector) -> tuple[str, ...] | None:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        hint = (" (an unquoted {...} is a YAML mapping: quote macros, e.g. - \"${env}\")"
                if isinstance(raw, list) and any(isinstance(x, Mapping) for x in raw) else "")
        c.add(("command",), f"must be a list of strings (an argument list, as W&B's agent takes), got {raw!r}{hint}")
        return None
    return tuple(raw)


def _parse_runner(raw: Any, c: Collector) -> RunnerSettings | None:
    path: KeyPath = ("sweeprunner",)
    if raw is None:
        return RunnerSettings()
    if not isinstance(raw, Mapping):
        c.add(path, f"must be a mapping of sweeprunner settings, got {raw!r}")
        return None
    c.unknown_keys(raw, RUNNER_KEYS, path, "sweeprunner settings")
    resources = _parse_resources(raw.get("resources"), c)
    defaults = RunnerSettings()
    trainable = c.string(raw, "trainable", path)
    if trainable is not None and not trainable.strip():
        c.add((*path, "trainable"), "must name a built-in trainable or module:function, got ''")
    return RunnerSettings(
        trainable=trainable,
        resources=resources or Resources(),
        max_concurrent_trials=c.integer(raw, "max_concurrent_trials", path, minimum=1),
        count=c.integer(raw, "count", path, minimum=1),
        seed=c.integer(raw, "seed", path, minimum=0, default=defaults.seed),
        bayes_sampler=c.string(raw, "bayes_sampler", path, choices=("auto", "tpe", "gp", "random"),
                                default=defaults.bayes_sampler),
        search_alg=c.string(raw, "search_alg", path, choices=SEARCH_ALGS, default="default"),
        storage=c.string(raw, "storage", path),
        max_failures=c.integer(raw, "max_failures", path, minimum=0, default=defaults.max_failures),
        log_uniform_bounds=c.string(raw, "log_uniform_bounds", path, choices=("auto", "exponents"), default="auto"),
        wandb_shim=c.boolean(raw, "wandb_shim", path, False),
        log_to_wandb=c.boolean(raw, "log_to_wandb", path, False),
        trial_timeout_s=_parse_duration(raw.get("trial_timeout"), (*path, "trial_timeout"), c),
    )


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def _parse_duration(raw: Any, path: KeyPath, c: Collector) -> float | None:
    """Seconds from ``3600``, ``"90s"``, ``"30m"``, ``"2h"`` or ``"1d"``; None when absent."""
    if raw is None:
        return None
    match = _DURATION.match(raw) if isinstance(raw, str) else None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        seconds = float(raw)
    elif match:
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    else:
        c.add(path, f"must be seconds or a duration like '30m' or '2h', got {raw!r}")
        return None
    if not (math.isfinite(seconds) and seconds > 0):
        c.add(path, f"must be > 0, got {raw!r}")
        return None
    return seconds


#: Ray keeps resource quantities to 4 decimal places; less rounds to 0.
RESOURCE_PRECISION = 0.0001


def _parse_resources(raw: Any, c: Collector) -> Resources | None:
    path: KeyPath = ("sweeprunner", "resources")
    if raw is None:
        return Resources()
    if not isinstance(raw, Mapping):
        c.add(path, f"must be a mapping like {{cpu: 4, gpu: 1}}, got {raw!r}")
        return None
    c.unknown_keys(raw, RESOURCE_KEYS, path, "resources")
    cpu = c.number(raw, "cpu", path, default=1.0)
    gpu = c.number(raw, "gpu", path, default=0.0)
    if cpu is not None and cpu <= 0:
        c.add((*path, "cpu"), f"must be > 0, got {cpu!r}")
    elif cpu is not None and cpu < RESOURCE_PRECISION:
        c.add((*path, "cpu"), f"must be at least {RESOURCE_PRECISION} (Ray's resource precision), got {cpu!r}")
    elif cpu is not None and cpu > 1 and not float(cpu).is_integer():
        c.add((*path, "cpu"), f"must be a whole number when > 1, got {cpu!r}")
    if gpu is not None:
        if gpu < 0:
            c.add((*path, "gpu"), f"must be >= 0, got {gpu!r}")
        elif 0 < gpu < RESOURCE_PRECISION:
            c.add((*path, "gpu"), f"must be 0 or at least {RESOURCE_PRECISION} (Ray's resource precision), got {gpu!r}")
        elif 0 < gpu < 1 and abs(1 / gpu - round(1 / gpu)) > 1e-9:
            c.add((*path, "gpu"), f"must be a fraction that divides 1 (0.5, 0.25, 0.2, ...) or a whole number, got {gpu!r}"
                                  " (Ray pools other fractions across GPUs)")
        elif gpu > 1 and not float(gpu).is_integer():
            c.add((*path, "gpu"), f"must be a whole number when > 1, got {gpu!r}")
    accelerator = c.string(raw, "accelerator_type", path)
    if cpu is None or gpu is None:
        return None
    return Resources(cpu=float(cpu), gpu=float(gpu), accelerator_type=accelerator)


def _parse_early_terminate(raw: Any, c: Collector) -> EarlyTerminate | None:
    path: KeyPath = ("early_terminate",)
    if not isinstance(raw, Mapping):
        c.add(path, f"must be a mapping like {{type: hyperband, min_iter: 3}}, got {raw!r}")
        return None
    c.unknown_keys(raw, EARLY_TERMINATE_KEYS, path, "early_terminate")
    kind = c.string(raw, "type", path, choices=STOP_TYPES)
    if "type" not in raw:
        c.add((*path, "type"), f"required: one of {', '.join(repr(t) for t in STOP_TYPES)}")
    min_iter = c.integer(raw, "min_iter", path, minimum=1)
    max_iter = c.integer(raw, "max_iter", path, minimum=1)
    s = c.integer(raw, "s", path, minimum=0)
    eta = c.number(raw, "eta", path, default=3.0)
    strict = c.boolean(raw, "strict", path, True)
    if eta is not None and eta <= 1:
        c.add((*path, "eta"), f"must be > 1, got {eta!r}")
        eta = None
    if kind is None or eta is None or any(raw.get(k) is not None and v is None for k, v in
                                          (("min_iter", min_iter), ("max_iter", max_iter), ("s", s))):
        return None
    if kind == "hyperband":
        if min_iter is None and (max_iter is None or s is None):
            c.add(path, "hyperband needs min_iter, or max_iter and s")
            return None
        if max_iter is not None and s is not None and min_iter is not None:
            c.warnings.append(f"early_terminate: min_iter {min_iter} is ignored because max_iter and s are given (W&B's rule)")
        spec = EarlyTerminate("hyperband", min_iter, max_iter, s, eta, strict)
        if not spec.bands:
            c.add(path, f"max_iter {max_iter} with s {s} and eta {eta:g} gives no band >= 1: lower eta or s, or raise max_iter")
            return None
        return spec
    if kind == "sync_hyperband" and max_iter is None:
        c.add((*path, "max_iter"), "required for sync_hyperband: the most reports a trial may make")
        return None
    if not strict and kind != "hyperband":
        c.add((*path, "strict"), f"applies to type hyperband only, not {kind!r}")
    return EarlyTerminate(kind, min_iter, max_iter, s, eta, strict)
