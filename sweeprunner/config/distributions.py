"""One frozen record per value type a sweep parameter can take.

Each record knows how to draw a value from a uniform number ``u`` in (0, 1) with W&B's exact
formula (its inverse CDF, ``ppf``), which values a grid enumerates, and how to ask an Optuna
trial for a value (``suggest``). W&B's distribution names are kept as ``wandb_name`` for
messages and plans; parsing them is ``parse.py``'s job.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy import special

_EPS = 1e-12


def quantize(x: float, q: int | float) -> int | float:
    """W&B's ``round(x / q) * q`` (half to even); an int when ``q`` was written as an int."""
    value = float(np.round(x / q) * q)
    return int(value) if isinstance(q, int) and not isinstance(q, bool) else value


def _clip_u(u: float) -> float:
    return min(max(float(u), _EPS), 1.0 - _EPS)


def _maybe_quantize(x: float, q: int | float | None) -> int | float:
    return float(x) if q is None else quantize(x, q)


def _fmt(x: Any) -> str:
    return f"{x:.6g}" if isinstance(x, float) else repr(x)


def _q_text(q: int | float | None) -> str:
    return "" if q is None else f", q={_fmt(q)}"


class OptunaTrial(Protocol):  # the subset of optuna.Trial that suggest() uses
    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...
    def suggest_int(self, name: str, low: int, high: int) -> int: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


class _SearchedThroughU:
    """Bayes searches ``u`` in (0, 1) for value types Optuna lacks, and maps it through ``ppf``."""

    def ppf(self, u: float) -> Any:
        raise NotImplementedError

    def suggest(self, trial: OptunaTrial, name: str) -> Any:
        return self.ppf(trial.suggest_float(name, 0.0, 1.0))


@dataclass(frozen=True)
class Constant:
    """A fixed value, passed to every trial and never searched."""

    value: Any
    wandb_name: str = "constant"

    def ppf(self, u: float) -> Any:
        return self.value

    def describe(self) -> str:
        return f"constant {_fmt(self.value)}"


@dataclass(frozen=True)
class Categorical:
    """One of ``values``, each equally likely."""

    values: tuple[Any, ...]
    wandb_name: str = "categorical"

    def ppf(self, u: float) -> Any:
        n = len(self.values)
        return self.values[min(int(u * n), n - 1)]

    @functools.cached_property
    def grid_values(self) -> tuple[Any, ...]:
        """Distinct values in first-seen order; a duplicate keeps the last one written (as W&B)."""
        by_key: dict[str, Any] = {}
        for value in self.values:
            by_key[_grid_key(value)] = value
        return tuple(by_key.values())

    def grid_size(self) -> int:
        return len(self.grid_values)

    def grid_value(self, i: int) -> Any:
        return self.grid_values[i]

    def suggest(self, trial: OptunaTrial, name: str) -> Any:
        return self.values[trial.suggest_categorical(name, list(range(len(self.values))))]

    def describe(self) -> str:
        return f"{self.wandb_name} {list(self.values)!r}"


@dataclass(frozen=True)
class WeightedCategorical(_SearchedThroughU):
    """One of ``values`` with the given ``probabilities``."""

    values: tuple[Any, ...]
    probabilities: tuple[float, ...]
    wandb_name: str = "categorical_w_probabilities"

    def ppf(self, u: float) -> Any:
        cumulative = np.cumsum(self.probabilities)
        index = int(np.argmax(cumulative > u)) if u < cumulative[-1] else len(self.values) - 1
        return self.values[index]

    def describe(self) -> str:
        pairs = ", ".join(f"{v!r}: {p:g}" for v, p in zip(self.values, self.probabilities, strict=True))
        return f"{self.wandb_name} {{{pairs}}}"


@dataclass(frozen=True)
class IntUniform:
    """An integer in ``[low, high]``, both ends included."""

    low: int
    high: int
    wandb_name: str = "int_uniform"

    def ppf(self, u: float) -> int:
        span = self.high - self.low + 1
        return self.low + min(int(u * span), span - 1)

    def grid_size(self) -> int:
        """``len(range(low, high + 1))``, as W&B's grid, computed without building it."""
        return self.high - self.low + 1

    def grid_value(self, i: int) -> int:
        return self.low + i

    def suggest(self, trial: OptunaTrial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high)

    def describe(self) -> str:
        return f"{self.wandb_name} {self.low}..{self.high} (inclusive)"


@dataclass(frozen=True)
class Uniform:
    """A float uniform on ``[low, high]``; with ``q``, rounded to a multiple of ``q``."""

    low: int | float
    high: int | float
    q: int | float | None = None
    wandb_name: str = "uniform"

    def ppf(self, u: float) -> int | float:
        return _maybe_quantize(self.low + u * (self.high - self.low), self.q)

    def grid_size(self) -> int:
        """``len(np.arange(low, high, q))`` (W&B's grid: ``high`` excluded), computed without building it.

        numpy's own rule: ``ceil((high - low) / q)``, at least 1 when the quotient underflows to 0.
        """
        if self.q is None:
            raise TypeError("a continuous uniform has no grid values")
        ratio = (self.high - self.low) / self.q
        if not math.isfinite(ratio):
            return 10**309  # (high - low) overflows a float: more points than any float count
        return 1 if ratio == 0 and self.high != self.low else max(math.ceil(ratio), 0)

    def grid_value(self, i: int) -> int | float:
        """Item ``i`` of ``np.arange(low, high, q)`` exactly as numpy fills it, without building it.

        numpy stores ``low`` and ``low + q``, then fills item ``i`` with ``low + i * delta`` where
        ``delta`` is the difference of the first two (ints stay ints when all three are ints).
        """
        assert self.q is not None
        if all(isinstance(x, int) for x in (self.low, self.high, self.q)):
            return self.low + i * self.q
        first, second = float(self.low), float(self.low + self.q)
        if i < 2:
            return (first, second)[i]
        return first + float(i) * (second - first)

    def suggest(self, trial: OptunaTrial, name: str) -> int | float:
        return _maybe_quantize(trial.suggest_float(name, self.low, self.high), self.q)

    def describe(self) -> str:
        return f"{self.wandb_name} {_fmt(self.low)}..{_fmt(self.high)}{_q_text(self.q)}"


@dataclass(frozen=True)
class LogUniform:
    """A float whose log is uniform between ``log(low)`` and ``log(high)`` (bounds are values)."""

    low: float
    high: float
    q: int | float | None = None
    wandb_name: str = "log_uniform_values"
    note: str | None = None  # how legacy exponent bounds were read, for the plan

    def ppf(self, u: float) -> int | float:
        log_low, log_high = math.log(self.low), math.log(self.high)
        return _maybe_quantize(math.exp(log_low + u * (log_high - log_low)), self.q)

    def suggest(self, trial: OptunaTrial, name: str) -> int | float:
        return _maybe_quantize(trial.suggest_float(name, self.low, self.high, log=True), self.q)

    def describe(self) -> str:
        text = f"{self.wandb_name} {_fmt(self.low)}..{_fmt(self.high)} (log scale{_q_text(self.q)})"
        return f"{text} [{self.note}]" if self.note else text


@dataclass(frozen=True)
class Normal(_SearchedThroughU):
    """A float from N(mu, sigma), or with ``log`` its ``exp`` (log_normal: mu and sigma are in log
    space); with ``q``, rounded to a multiple of ``q``."""

    mu: float = 0.0
    sigma: float = 1.0
    q: int | float | None = None
    wandb_name: str = "normal"
    log: bool = False

    def ppf(self, u: float) -> int | float:
        x = self.mu + self.sigma * float(special.ndtri(_clip_u(u)))
        return _maybe_quantize(math.exp(x) if self.log else x, self.q)

    def describe(self) -> str:
        space = " (log space)" if self.log else ""
        return f"{self.wandb_name} mu={_fmt(self.mu)}, sigma={_fmt(self.sigma)}{space}{_q_text(self.q)}"


@dataclass(frozen=True)
class Beta(_SearchedThroughU):
    """A float in [0, 1] from Beta(a, b); with ``q``, rounded to a multiple of ``q``."""

    a: float = 1.0
    b: float = 1.0
    q: int | float | None = None
    wandb_name: str = "beta"

    def ppf(self, u: float) -> int | float:
        return _maybe_quantize(float(special.betaincinv(self.a, self.b, _clip_u(u))), self.q)

    def describe(self) -> str:
        return f"{self.wandb_name} a={_fmt(self.a)}, b={_fmt(self.b)}{_q_text(self.q)}"


Distribution = Constant | Categorical | WeightedCategorical | IntUniform | Uniform | LogUniform | Normal | Beta


def is_grid_axis(dist: Distribution) -> bool:
    """True when a grid sweep can enumerate this parameter."""
    return isinstance(dist, Categorical | IntUniform) or (isinstance(dist, Uniform) and dist.q is not None)


def _grid_key(value: Any) -> str:
    """Identity of a grid value: whole-number floats equal ints (``2.0 == 2``), as W&B HEAD."""
    import json

    def normalise(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {str(k): normalise(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [normalise(x) for x in v]
        return v

    return json.dumps(normalise(value), sort_keys=True, default=repr)
