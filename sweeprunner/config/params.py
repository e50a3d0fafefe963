"""W&B's parameter vocabulary: a ``parameters:`` block -> a :class:`ParamGroup` of distribution records.

Distribution names and the keys each takes, W&B's inference when ``distribution`` is omitted,
the legacy log_uniform bound reading, nested groups, and the rules a method puts on parameters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from sweeprunner.config import distributions as d
from sweeprunner.config.fields import Collector
from sweeprunner.config.spec import Metric, ParamGroup
from sweeprunner.errors import KeyPath, did_you_mean, format_path

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
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_ALL_PARAM_KEYS = sorted({k for keys in DISTRIBUTION_KEYS.values() for k in keys} | {"distribution", "parameters"})


def parse_params(raw: Any, path: KeyPath, c: Collector) -> ParamGroup | None:
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
            group = parse_params(node["parameters"], (*node_path, "parameters"), c)
            if group is not None:
                items.append((name, group))
            continue
        dist = _parse_distribution(node, node_path, c)
        if dist is not None:
            items.append((name, dist))
    return ParamGroup(tuple(items))


def _infer_distribution(node: Mapping[str, Any], path: KeyPath, c: Collector) -> str | None:
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


def _parse_distribution(node: Mapping[str, Any], path: KeyPath, c: Collector) -> d.Distribution | None:
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


def _bounds(node: Mapping[str, Any], path: KeyPath, c: Collector, name: str) -> tuple[Any, Any] | None:
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


def _q(node: Mapping[str, Any], path: KeyPath, c: Collector, name: str) -> Any:
    if not name.startswith("q_"):
        return None
    q = c.number(node, "q", path, default=1.0)
    if q is not None and q <= 0:
        c.add((*path, "q"), f"must be > 0, got {q!r}")
        return None
    return q


def _values(node: Mapping[str, Any], path: KeyPath, c: Collector) -> tuple[Any, ...] | None:
    values = node.get("values")
    if not isinstance(values, list) or not values:
        c.add((*path, "values"), f"must be a non-empty list, got {values!r}")
        return None
    return tuple(values)


def _build_distribution(name: str, node: Mapping[str, Any], path: KeyPath, c: Collector) -> d.Distribution | None:
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


def _weighted(node: Mapping[str, Any], path: KeyPath, c: Collector) -> d.WeightedCategorical | None:
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


def _log_uniform(name: str, lo: float, hi: float, q: Any, path: KeyPath, c: Collector) -> d.LogUniform | None:
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


def check_method(method: str, params: ParamGroup, metric: Metric | None, c: Collector) -> None:
    leaves = list(params.leaves())
    if method == "grid":
        for leaf_path, dist in leaves:
            if not isinstance(dist, d.Constant) and not d.is_grid_axis(dist):
                c.add(("parameters", *_param_path(leaf_path)),
                      f"grid search needs discrete values (values, int_uniform or q_uniform), got {dist.wandb_name}")
    if method == "bayes":
        if not any(not isinstance(dist, d.Constant) for _, dist in leaves):
            c.add(("parameters",), "bayes needs at least one parameter that is not a constant")


def check_name_collisions(params: ParamGroup, c: Collector) -> None:
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
