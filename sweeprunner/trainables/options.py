"""Typed reads of trainable config keys: defaults for missing keys, ValueError naming bad ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sweeprunner.errors import did_you_mean

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _bad(key: str, value: Any, want: str) -> ValueError:
    return ValueError(f"config key {key!r}: expected {want}, got {value!r}")


def as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise _bad(key, value, "true or false")


def as_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _bad(key, value, "an integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise _bad(key, value, "an integer")


def as_float(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise _bad(key, value, "a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(key, value, "a number") from None


class Options:
    """Reads keys from a (flat) sampled config; missing or ``None`` values take the default."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)

    def raw(self, key: str, default: Any = None) -> Any:
        value = self.config.get(key)
        return default if value is None else value

    def bool(self, key: str, default: bool) -> bool:
        return as_bool(key, self.raw(key, default))

    def int(self, key: str, default: int | None, *, minimum: int | None = None) -> int | None:
        value = self.raw(key, default)
        if value is None:
            return None
        out = as_int(key, value)
        if minimum is not None and out < minimum:
            raise _bad(key, value, f"an integer >= {minimum}")
        return out

    def float(
        self,
        key: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = self.raw(key, default)
        out = as_float(key, value)
        if (minimum is not None and out < minimum) or (maximum is not None and out > maximum):
            bounds = f"[{minimum if minimum is not None else '-inf'}, {maximum if maximum is not None else 'inf'}]"
            raise _bad(key, value, f"a number in {bounds}")
        return out

    def str(self, key: str, default: str | None) -> str | None:
        value = self.raw(key, default)
        return None if value is None else str(value)

    def choice(self, key: str, default: str, choices: Iterable[str]) -> str:
        options = list(choices)
        value = str(self.raw(key, default)).lower()
        if value not in options:
            raise ValueError(
                f"config key {key!r}: unsupported value {value!r}{did_you_mean(value, options)}; "
                f"choose one of {options}"
            )
        return value
