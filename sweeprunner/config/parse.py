"""Raw sweep config (YAML or dict) -> validated :class:`SweepSpec`.

Every problem is collected with its key path and raised together as one
:class:`SweepConfigError`. W&B's vocabulary (distribution names, inference rules, key names)
lives here; the records it builds are in ``distributions.py`` and ``spec.py``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any

from sweeprunner.config import distributions as d
from sweeprunner.config.spec import (
    EarlyTerminate,
    Metric,
    ParamGroup,
    Resources,
    RunnerSettings,
    SweepSpec,
)
from sweeprunner.config.yamlio import check_document, load_yaml_file
from sweeprunner.errors import Issue, KeyPath, SweepConfigError, did_you_mean, format_path

METHODS = ("grid", "random", "bayes")
TOP_LEVEL_KEYS = (
    "method", "metric", "parameters", "early_terminate", "run_cap", "name", "description",
    "program", "command", "project", "entity", "controller", "apiVersion", "kind", "job",
    "image_uri", "metrics", "scheduler", "sweeprunner",
)
LABEL_KEYS = ("name", "description", "program", "project", "entity", "apiVersion", "kind", "job", "image_uri")

#: W&B distribution name -> the keys it takes besides ``distribution``.
DISTRIBUTION_KEYS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "categorical": ("values",),
    "categorical_w_probabilities": ("values", "probabilities"),
    "int_uniform": ("min", "max"),
    "uniform": ("min", "max"),
    "q_uniform": ("min", "max", "q"),
    "log_uniform": ("min", "max"),
    "log_uniform_values": ("min", "max"),
    "q_log_uniform": ("min", "max", "q"),
    "q_log_uniform_values": ("min", "max", "q"),
    "inv_log_uniform": ("min", "max"),
    "inv_log_uniform_values": ("min", "max"),
    "normal": ("mu", "sigma"),
    "q_normal": ("mu", "sigma", "q"),
    "log_normal": ("mu", "sigma"),
    "q_log_normal": ("mu", "sigma", "q"),
    "beta": ("a", "b"),
    "q_beta": ("a", "b", "q"),
}
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_ALL_PARAM_KEYS = sorted({k for keys in DISTRIBUTION_KEYS.values() for k in keys} | {"distribution", "parameters"})
METRIC_KEYS = ("name", "goal", "target", "impute", "impute_while_running")
EARLY_TERMINATE_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
STOP_TYPES = ("hyperband", "asha", "sync_hyperband", "median", "none")
RUNNER_KEYS = (
    "trainable", "resources", "max_concurrent_trials", "count", "seed", "bayes_sampler",
    "storage", "max_failures", "log_uniform_bounds", "wandb_shim", "log_to_wandb",
)
RESOURCE_KEYS = ("cpu", "gpu", "accelerator_type")


class _Collector:
    """Gathers issues and warnings while parsing."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self.warnings: list[str] = []
        self.log_uniform_bounds = "auto"

    def add(self, path: KeyPath, message: str) -> None:
        self.issues.append(Issue(path, message))

    def unknown_keys(self, raw: Mapping[Any, Any], allowed: tuple[str, ...] | list[str], path: KeyPath, what: str) -> None:
        for key in raw:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed)
                self.add((*path, str(key)), f"unknown key in {what}{hint} (allowed: {', '.join(allowed)})")

    # --- typed field readers: return None (and record an issue) when the value is wrong ---
    def number(self, raw: Mapping[str, Any], key: str, path: KeyPath, default: Any = None) -> Any:
        if key not in raw:
            return default
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            hint = " (a string: quote-free numbers like 1e-5 are numbers here)" if isinstance(value, str) else ""
            self.add((*path, key), f"must be a number, got {value!r}{hint}")
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.add((*path, key), f"must be finite, got {value!r}")
            return None
        return value

    def integer(self, raw: Mapping[str, Any], key: str, path: KeyPath, *, minimum: int | None = None, default: Any = None) -> Any:
        if key not in raw or raw[key] is None:
            return default
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.add((*path, key), f"must be an integer, got {value!r}")
            return None
        if minimum is not None and value < minimum:
            self.add((*path, key), f"must be >= {minimum}, got {value!r}")
            return None
        return value

    def string(self, raw: Mapping[str, Any], key: str, path: KeyPath, *, choices: tuple[str, ...] | None = None, default: Any = None) -> Any:
        if key not in raw or raw[key] is None:
            return default
        value = raw[key]
        if not isinstance(value, str):
            self.add((*path, key), f"must be a string, got {value!r}")
            return None
        if choices is not None and value not in choices:
            options = ", ".join(repr(c) for c in choices)
            self.add((*path, key), f"must be one of {options}, got {value!r}{did_you_mean(value, choices)}")
            return None
        return value

    def boolean(self, raw: Mapping[str, Any], key: str, path: KeyPath, default: bool) -> bool:
        if key not in raw:
            return default
        value = raw[key]
        if not isinstance(value, bool):
            self.add((*path, key), f"must be true or false, got {value!r}")
            return default
        return value


def load_sweep(path: str | os.PathLike[str], *, overrides: Mapping[str, Any] | None = None) -> SweepSpec:
    """Read a sweep YAML file and validate it; ``overrides`` replace keys of the ``sweeprunner:`` block."""
    raw = load_yaml_file(path)
    return parse_sweep(raw, source=str(path), overrides=overrides)


def parse_sweep(raw: Any, *, source: str | None = None, overrides: Mapping[str, Any] | None = None) -> SweepSpec:
    """Validate a raw sweep mapping; raise one :class:`SweepConfigError` listing every problem."""
    c = _Collector()
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
        params = _parse_params(raw["parameters"], ("parameters",), c)
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
        _check_name_collisions(params, c)
    if method in METHODS and params is not None:
        _check_method(method, params, metric, c)
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


def _check_controller(raw: Any, c: _Collector) -> None:
    """W&B's ``controller: {type: cloud | local}``; sweeprunner is its own controller, so either is accepted."""
    if not isinstance(raw, Mapping):
        c.add(("controller",), f"must be a mapping like {{type: local}}, got {raw!r}")
        return
    c.unknown_keys(raw, ("type",), ("controller",), "controller")
    c.string(raw, "type", ("controller",), choices=("cloud", "local"))


def _parse_metric(raw: Any, c: _Collector) -> Metric | None:
    path: KeyPath = ("metric",)
    if not isinstance(raw, Mapping):
        c.add(path, f"must be a mapping with name and goal, got {raw!r}")
        return None
    c.unknown_keys(raw, METRIC_KEYS, path, "metric")
    name = c.string(raw, "name", path)
    if "name" not in raw:
        c.add((*path, "name"), "required: the logged metric to optimise, e.g. val/loss")
    goal = c.string(raw, "goal", path, choices=("minimize", "maximize"), default="minimize")
    impute = c.string(raw, "impute", path, choices=("worst", "best", "latest"), default="worst")
    if "impute_while_running" in raw and raw["impute_while_running"] not in ("latest", "best", "worst", "false", False):
        c.add((*path, "impute_while_running"), f"must be one of 'latest', 'best', 'worst', 'false', got {raw['impute_while_running']!r}")
    target = c.number(raw, "target", path)
    if name is None or goal is None or impute is None:
        return None
    return Metric(name=name, goal=goal, target=target, impute=impute)


def _parse_command(raw: Any, c: _Collector) -> tuple[str, ...] | None:
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        hint = (" (an unquoted {...} is a YAML mapping: quote macros, e.g. - \"${env}\")"
                if isinstance(raw, list) and any(isinstance(x, Mapping) for x in raw) else "")
        c.add(("command",), f"must be a list of strings (an argument list, as W&B's agent takes), got {raw!r}{hint}")
        return None
    return tuple(raw)


def _parse_runner(raw: Any, c: _Collector) -> RunnerSettings | None:
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
        storage=c.string(raw, "storage", path),
        max_failures=c.integer(raw, "max_failures", path, minimum=0, default=defaults.max_failures),
        log_uniform_bounds=c.string(raw, "log_uniform_bounds", path, choices=("auto", "exponents"), default="auto"),
        wandb_shim=c.boolean(raw, "wandb_shim", path, False),
        log_to_wandb=c.boolean(raw, "log_to_wandb", path, False),
    )


def _parse_resources(raw: Any, c: _Collector) -> Resources | None:
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
    elif cpu is not None and cpu > 1 and not float(cpu).is_integer():
        c.add((*path, "cpu"), f"must be a whole number when > 1, got {cpu!r}")
    if gpu is not None:
        if gpu < 0:
            c.add((*path, "gpu"), f"must be >= 0, got {gpu!r}")
        elif 0 < gpu < 1 and abs(1 / gpu - round(1 / gpu)) > 1e-9:
            c.add((*path, "gpu"), f"must be a fraction that divides 1 (0.5, 0.25, 0.2, ...) or a whole number, got {gpu!r}"
                                  " (Ray pools other fractions across GPUs)")
        elif gpu > 1 and not float(gpu).is_integer():
            c.add((*path, "gpu"), f"must be a whole number when > 1, got {gpu!r}")
    accelerator = c.string(raw, "accelerator_type", path)
    if cpu is None or gpu is None:
        return None
    return Resources(cpu=float(cpu), gpu=float(gpu), accelerator_type=accelerator)


def _parse_early_terminate(raw: Any, c: _Collector) -> EarlyTerminate | None:
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


def _parse_params(raw: Any, path: KeyPath, c: _Collector) -> ParamGroup | None:
    if not isinstance(raw, Mapping) or not raw:
        c.add(path, f"must be a non-empty mapping of parameter names to distributions, got {raw!r}")
        return None
    items = []
    for name in sorted(raw, key=str):
        node_path = (*path, str(name))
        if not isinstance(name, str) or not _PARAM_NAME.match(name):
            c.add(node_path, "parameter names must start with a letter or _ and use only letters, digits, _ . -")
            continue
        node = raw[name]
        if not isinstance(node, Mapping):
            c.add(node_path, f"must be a mapping such as {{values: [...]}}, {{value: x}} or {{min: a, max: b}}, got {node!r}")
            continue
        if "parameters" in node:
            extra = [k for k in node if k != "parameters"]
            if extra:
                c.add((*node_path, str(extra[0])), "a nested parameter group takes only 'parameters'")
            group = _parse_params(node["parameters"], (*node_path, "parameters"), c)
            if group is not None:
                items.append((name, group))
            continue
        dist = _parse_distribution(node, node_path, c)
        if dist is not None:
            items.append((name, dist))
    return ParamGroup(tuple(items))


def _infer_distribution(node: Mapping[str, Any], path: KeyPath, c: _Collector) -> str | None:
    """W&B's inference when ``distribution`` is omitted."""
    if "values" in node:
        return "categorical_w_probabilities" if "probabilities" in node else "categorical"
    if "value" in node:
        return "constant"
    if "min" in node and "max" in node:
        lo, hi = node["min"], node["max"]
        numbers = [v for v in (lo, hi) if isinstance(v, int | float) and not isinstance(v, bool)]
        if len(numbers) < 2:
            c.number(node, "min", path)
            c.number(node, "max", path)
            return None
        return "int_uniform" if all(isinstance(v, int) for v in numbers) else "uniform"
    keys = [k for k in node if k not in _ALL_PARAM_KEYS]
    hint = did_you_mean(str(keys[0]), _ALL_PARAM_KEYS) if keys else ""
    c.add(path, f"cannot infer the distribution from keys {sorted(map(str, node))}{hint}: give 'values', 'value', "
                "'min'+'max', or 'distribution'")
    return None


def _parse_distribution(node: Mapping[str, Any], path: KeyPath, c: _Collector) -> d.Distribution | None:
    if "distribution" in node:
        name = node["distribution"]
        if not isinstance(name, str) or name not in DISTRIBUTION_KEYS:
            c.add((*path, "distribution"), f"unknown distribution {name!r}{did_you_mean(str(name), DISTRIBUTION_KEYS)}"
                                           f" (known: {', '.join(DISTRIBUTION_KEYS)})")
            return None
    else:
        name = _infer_distribution(node, path, c)
        if name is None:
            return None
    before = len(c.issues)
    c.unknown_keys(node, ("distribution", *DISTRIBUTION_KEYS[name]), path, f"a {name} parameter")
    dist = _build_distribution(name, node, path, c)
    return dist if len(c.issues) == before else None


def _bounds(node: Mapping[str, Any], path: KeyPath, c: _Collector, name: str) -> tuple[Any, Any] | None:
    for key in ("min", "max"):
        if key not in node:
            c.add((*path, key), f"required for {name}")
    lo, hi = c.number(node, "min", path), c.number(node, "max", path)
    if lo is None or hi is None:
        return None
    if lo >= hi:
        c.add(path, f"min must be < max, got min={lo!r}, max={hi!r}")
        return None
    return lo, hi


def _q(node: Mapping[str, Any], path: KeyPath, c: _Collector, name: str) -> Any:
    if not name.startswith("q_"):
        return None
    q = c.number(node, "q", path, default=1.0)
    if q is not None and q <= 0:
        c.add((*path, "q"), f"must be > 0, got {q!r}")
        return None
    return q


def _values(node: Mapping[str, Any], path: KeyPath, c: _Collector) -> tuple[Any, ...] | None:
    values = node.get("values")
    if not isinstance(values, list) or not values:
        c.add((*path, "values"), f"must be a non-empty list, got {values!r}")
        return None
    return tuple(values)


def _build_distribution(name: str, node: Mapping[str, Any], path: KeyPath, c: _Collector) -> d.Distribution | None:
    q = _q(node, path, c, name)
    if name == "constant":
        if "value" not in node:
            c.add((*path, "value"), "required for constant")
        return d.Constant(node.get("value"))
    if name == "categorical":
        values = _values(node, path, c)
        return d.Categorical(values) if values else None
    if name == "categorical_w_probabilities":
        return _weighted(node, path, c)
    if name in ("normal", "q_normal", "log_normal", "q_log_normal"):
        mu, sigma = c.number(node, "mu", path, default=0.0), c.number(node, "sigma", path, default=1.0)
        if sigma is not None and sigma < 0:
            c.add((*path, "sigma"), f"must be >= 0, got {sigma!r}")
        return d.Normal(mu, sigma, q, name, log="log" in name) if mu is not None and sigma is not None else None
    if name in ("beta", "q_beta"):
        a, b = c.number(node, "a", path, default=1.0), c.number(node, "b", path, default=1.0)
        for key, value in (("a", a), ("b", b)):
            if value is not None and value <= 0:
                c.add((*path, key), f"must be > 0, got {value!r}")
        return d.Beta(a, b, q, name) if a is not None and b is not None else None
    bounds = _bounds(node, path, c, name)
    if bounds is None:
        return None
    lo, hi = bounds
    if name == "int_uniform":
        for key, value in (("min", lo), ("max", hi)):
            if not isinstance(value, int):
                c.add((*path, key), f"must be an integer for int_uniform, got {value!r}")
        return d.IntUniform(lo, hi)
    if name in ("uniform", "q_uniform"):
        return d.Uniform(lo, hi, q, name)  # types as written: an all-int grid arange gives ints, as W&B
    return _log_uniform(name, lo, hi, q, path, c)


def _weighted(node: Mapping[str, Any], path: KeyPath, c: _Collector) -> d.WeightedCategorical | None:
    values = _values(node, path, c)
    probs = node.get("probabilities")
    if not isinstance(probs, list) or not all(isinstance(p, int | float) and not isinstance(p, bool) for p in probs):
        c.add((*path, "probabilities"), f"must be a list of numbers, got {probs!r}")
        return None
    if values is None:
        return None
    if len(probs) != len(values):
        c.add((*path, "probabilities"), f"must have one entry per value ({len(values)}), got {len(probs)}")
    elif any(p < 0 for p in probs):
        c.add((*path, "probabilities"), f"must all be >= 0, got {probs!r}")
    elif not math.isclose(sum(probs), 1.0, rel_tol=1e-5, abs_tol=1e-8):
        c.add((*path, "probabilities"), f"must sum to 1, got {probs!r} (sum {sum(probs):g})")
    else:
        return d.WeightedCategorical(values, tuple(float(p) for p in probs))
    return None


def _log_uniform(name: str, lo: float, hi: float, q: Any, path: KeyPath, c: _Collector) -> d.LogUniform | None:
    where = ".".join(path)
    if name in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"):
        if lo <= 0:
            c.add((*path, "min"), f"must be > 0 for {name}, got {lo!r}")
            return None
        return d.LogUniform(float(lo), float(hi), q, name)
    # Legacy names whose bounds W&B reads as natural-log exponents.
    exponents = name == "inv_log_uniform" or c.log_uniform_bounds == "exponents" or lo <= 0
    if exponents and max(abs(lo), abs(hi)) > 700:
        c.add(path, f"{name} exponent bounds {lo!r}..{hi!r} overflow exp(); did you mean log_uniform_values?")
        return None
    if name == "inv_log_uniform":
        low, high = math.exp(-hi), math.exp(-lo)
        return d.LogUniform(low, high, q, name, note=f"exponents {lo:g}..{hi:g} read as exp(-x): {low:.1e}..{high:.1e}")
    if exponents:
        low, high = math.exp(lo), math.exp(hi)
        if c.log_uniform_bounds != "exponents":
            c.warnings.append(
                f"{where}: {name} bounds {lo:g}..{hi:g} read as natural-log exponents (W&B legacy): "
                f"samples {low:.1e}..{high:.1e}; write log_uniform_values to be explicit")
        return d.LogUniform(low, high, q, name, note=f"exponents {lo:g}..{hi:g}")
    if hi / lo < 10:
        c.warnings.append(
            f"{where}: {name} bounds {lo:g}..{hi:g} read as values (min > 0); if they are natural-log "
            "exponents (W&B legacy), set sweeprunner.log_uniform_bounds: exponents")
    return d.LogUniform(float(lo), float(hi), q, name, note="bounds read as values")


def _check_method(method: str, params: ParamGroup, metric: Metric | None, c: _Collector) -> None:
    leaves = list(params.leaves())
    if method == "grid":
        for leaf_path, dist in leaves:
            if not isinstance(dist, d.Constant) and not d.is_grid_axis(dist):
                c.add(("parameters", *_param_path(leaf_path)),
                      f"grid search needs discrete values (values, int_uniform or q_uniform), got {dist.wandb_name}")
    if method == "bayes":
        if not any(not isinstance(dist, d.Constant) for _, dist in leaves):
            c.add(("parameters",), "bayes needs at least one parameter that is not a constant")


def _check_name_collisions(params: ParamGroup, c: _Collector) -> None:
    """A nested ``a: {parameters: {b}}`` and a dotted top-level ``a.b`` are both ``config.a.b`` in results."""
    seen: dict[str, tuple[str, ...]] = {}
    for leaf_path, _ in params.leaves():
        name = ".".join(leaf_path)
        written = ("parameters", *_param_path(leaf_path))
        if name in seen:
            c.add(written, f"collides with {format_path(seen[name])}: both are named {name!r} in results "
                          "(config.<dotted.name> columns); rename one")
        else:
            seen[name] = written


def _param_path(leaf_path: tuple[str, ...]) -> tuple[str, ...]:
    """``("opt", "lr")`` -> ``("opt", "parameters", "lr")``, the path as written in YAML."""
    out: list[str] = []
    for i, part in enumerate(leaf_path):
        out.append(part)
        if i < len(leaf_path) - 1:
            out.append("parameters")
    return tuple(out)
