"""``wandb.config`` and ``run.summary`` of :mod:`sweeprunner.wandb_compat`, plus W&B's console lines.

Importing this module never imports Ray.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from sweeprunner.trial.protocol import native


def termlog(message: str = "", **_: Any) -> None:
    print(f"wandb: {message}", file=sys.stderr)


def termwarn(message: str, **_: Any) -> None:
    print(f"wandb: WARNING {message}", file=sys.stderr)


def termerror(message: str, **_: Any) -> None:
    print(f"wandb: ERROR {message}", file=sys.stderr)


class _AttributeAccess(dict):
    """A dict whose keys are also attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None


class AttrDict(_AttributeAccess):
    """A dict whose keys are also attributes (``cfg.optimizer.lr``); nested dicts too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, _attrify(value))


def _attrify(value: Any) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, AttrDict):
        return AttrDict(value)
    return value


def _as_mapping(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if isinstance(data, argparse.Namespace):
        return dict(vars(data))
    if isinstance(data, Mapping):
        return dict(data)
    if hasattr(data, "__dict__"):
        return {k: v for k, v in vars(data).items() if not k.startswith("_")}
    raise TypeError(f"config must be a mapping or argparse.Namespace, not {type(data).__name__}")


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


class Config:
    """``wandb.config``: sweep parameters (which win and are locked) over the run's defaults."""

    def __init__(self) -> None:
        object.__setattr__(self, "_items", AttrDict())
        object.__setattr__(self, "_locked", frozenset())

    def _reset(self, sweep_params: Mapping[str, Any] | None) -> None:
        params = dict(sweep_params or {})
        object.__setattr__(self, "_items", AttrDict(params))
        object.__setattr__(self, "_locked", frozenset(params))

    def update(self, data: Any = None, allow_val_change: bool = False, **kwargs: Any) -> None:
        """Add keys; a sweep parameter keeps its sweep value (nested defaults are merged in)."""
        self._update({**_as_mapping(data), **kwargs})

    def _update(self, data: Any, ignore_locked: bool = False) -> None:
        """``ignore_locked``: skip sweep parameters silently (W&B's ``wandb.init(config=...)``)."""
        incoming = _as_mapping(data)
        items: AttrDict = self._items
        for key, value in incoming.items():
            if key in self._locked:
                current = items[key]
                if isinstance(current, Mapping) and isinstance(value, Mapping):
                    items[key] = _deep_merge(dict(value), current)
                elif native(current) != native(value) and not ignore_locked:
                    termwarn(f"Config item '{key}' was locked by 'sweep' (ignored update).")
                continue
            items[key] = value

    def setdefaults(self, data: Any) -> None:
        for key, value in _as_mapping(data).items():
            if key not in self._items:
                self._items[key] = value

    def as_dict(self) -> dict[str, Any]:
        return native(self._items)

    def keys(self):
        return self._items.keys()

    def items(self):
        return self._items.items()

    def values(self):
        return self._items.values()

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._items[name]
        except KeyError:
            raise AttributeError(f"wandb.config has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self.update({name: value})

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(self.as_dict())


class Summary(_AttributeAccess):
    """``run.summary``: last logged value per key unless set explicitly; attribute access too."""
