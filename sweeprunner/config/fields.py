"""Typed field readers that collect every problem with its key path instead of stopping at the first."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sweeprunner.errors import Issue, KeyPath, did_you_mean


class Collector:
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
