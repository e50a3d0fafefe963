"""The W&B run API a sweep ``train()`` uses, on top of :mod:`sweeprunner.session`. No server.

Use it with ``from sweeprunner.trial import wandb_compat as wandb`` or, with ``wandb_shim: true``,
through a plain ``import wandb`` inside trials (see docs/trainable-api.md). Covered:
``init``, ``config`` (attribute and item access, nested), ``log``, ``summary``, ``save``,
``restore``, ``finish``, ``run``, plus no-op ``login``/``watch``/``define_metric``/``alert``.

Reporting rule (W&B hyperband counts logged values of the sweep metric): every committed
``log`` row that carries the sweep metric as a finite number becomes one reported result;
rows without it are merged into the next one that has it. When the sweep has no metric,
every committed row is reported. The full history and the summary are written to the
trial directory (``wandb/history.jsonl``, ``wandb/summary.json``); saved files go to
``files/`` there and into the next reported checkpoint.

Importing this module never imports Ray.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sweeprunner.trial import session

__all__ = [
    "AttrDict", "Config", "Run", "Summary", "init", "log", "save", "restore", "finish",
    "login", "watch", "define_metric", "alert", "config", "summary", "run",
    "Image", "Histogram", "Table", "Artifact", "termlog", "termwarn", "termerror",
]

#: Set by the subprocess runner: path of the trial's JSON config file.
CONFIG_FILE_ENV = "SWEEPRUNNER_CONFIG_FILE"
#: Set by the subprocess runner: the sweep metric's name.
METRIC_ENV = "SWEEPRUNNER_METRIC"


# ---------------------------------------------------------------------------- config

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


def _plain(value: Any) -> Any:
    """Nested AttrDicts back to plain dicts (for files and reports)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
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
        incoming = {**_as_mapping(data), **kwargs}
        items: AttrDict = self._items
        for key, value in incoming.items():
            if key in self._locked:
                current = items[key]
                if isinstance(current, Mapping) and isinstance(value, Mapping):
                    items[key] = _deep_merge(dict(value), current)
                elif _plain(current) != _plain(value):
                    termwarn(f"Config item '{key}' was locked by 'sweep' (ignored update).")
                continue
            items[key] = value

    def setdefaults(self, data: Any) -> None:
        for key, value in _as_mapping(data).items():
            if key not in self._items:
                self._items[key] = value

    def as_dict(self) -> dict[str, Any]:
        return _plain(self._items)

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


# ---------------------------------------------------------------------------- rows

def _scalar(value: Any) -> Any:
    """A JSON scalar for reporting, or ``_SKIP`` for media, arrays and other objects."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    size = getattr(value, "size", None)
    numel = getattr(value, "numel", None)
    count = numel() if callable(numel) else size
    if hasattr(value, "item") and callable(value.item) and count in (1, None):
        try:
            return value.item()
        except (ValueError, RuntimeError, TypeError):
            return _SKIP
    return _SKIP


_SKIP = object()


def flatten_row(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts become dotted keys; non-scalar values (images, arrays) are dropped."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_row(value, name + "."))
            continue
        scalar = _scalar(value)
        if scalar is not _SKIP:
            out[name] = scalar
    return out


def carries_metric(row: Mapping[str, Any], metric: str | None) -> bool:
    """True when ``row`` counts as one metric log (W&B keeps finite, non-bool numbers)."""
    if metric is None:
        return True
    value = row.get(metric)
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


class RowMerger:
    """Holds rows without the metric and merges them into the next row that carries it."""

    def __init__(self, metric: str | None) -> None:
        self.metric = metric
        self._pending: dict[str, Any] = {}

    def push(self, row: Mapping[str, Any]) -> dict[str, Any] | None:
        """The row to report now, or None while the metric has not been logged."""
        merged = {**self._pending, **row}
        if carries_metric(row, self.metric):
            self._pending = {}
            return merged
        self._pending = {k: v for k, v in merged.items() if k != self.metric}
        return None


# ---------------------------------------------------------------------------- run

class _TrialContext:
    """What the adapter or the subprocess environment tells us about the current trial."""

    def __init__(self) -> None:
        self.params: dict[str, Any] | None = None
        self.metric: str | None = None

    def load_from_env(self) -> None:
        path = os.environ.get(CONFIG_FILE_ENV)
        if self.params is None and path:
            self.params = json.loads(Path(path).read_text())
            self.metric = os.environ.get(METRIC_ENV) or None


_trial = _TrialContext()


def _emit(row: dict[str, Any], checkpoint_dir: str | None = None) -> None:
    """Report one row: through :func:`session.report`, without importing Ray when absent."""
    if "ray" in sys.modules or checkpoint_dir is not None:
        session.report(row, checkpoint_dir=checkpoint_dir)
        return
    row = {k: session.jsonable(v) for k, v in row.items()}
    session.history.append(row)
    if os.environ.get("SWEEPRUNNER_JSONL") == "1":
        print(json.dumps({"sweeprunner": row}), flush=True)


@contextlib.contextmanager
def _restored_checkpoint() -> Iterator[Path | None]:
    """:func:`session.restored_checkpoint`, without importing Ray where it is not loaded."""
    if "ray" in sys.modules:
        with session.restored_checkpoint() as path:
            yield path
        return
    base = os.environ.get("SWEEPRUNNER_CHECKPOINT_DIR")
    latest = Path(base) / "latest" if base else None
    yield latest if latest is not None and latest.is_dir() else None


def _trial_dir() -> Path:
    if "ray" in sys.modules:
        return session.trial_dir()
    path = Path(os.environ.get("SWEEPRUNNER_TRIAL_DIR", os.getcwd()))
    path.mkdir(parents=True, exist_ok=True)
    return path


class Run:
    """``wandb.run``: the active run of this trial."""

    def __init__(self, *, name: str | None, project: str | None, params: Mapping[str, Any] | None,
                 metric: str | None, resumed: bool) -> None:
        self.id = os.environ.get("WANDB_RUN_ID") or uuid.uuid4().hex[:8]
        self.name = name or self.id
        self.project = project
        self.sweep_id = os.environ.get("WANDB_SWEEP_ID")
        self.resumed = resumed
        self.config = config
        self.summary = summary
        self.step = 0
        self.metric = metric
        self._merger = RowMerger(metric)
        self._pending: dict[str, Any] = {}
        self._reported_metric = False
        self._saved: list[tuple[str, Path]] = []   # (glob, base directory)
        self._dirty_files = False
        self._finished = False
        self._start = time.time()
        self.dir = str(_trial_dir() / "files")
        Path(self.dir).mkdir(parents=True, exist_ok=True)
        self._history_path = _trial_dir() / "wandb" / "history.jsonl"
        self._history_path.parent.mkdir(parents=True, exist_ok=True)

    # -- logging
    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        if self._finished:
            raise RuntimeError("wandb.log called after wandb.finish()")
        if not isinstance(data, Mapping):
            raise TypeError(f"wandb.log expects a dict, not {type(data).__name__}")
        if step is not None:
            if step < self.step:
                termwarn(f"Tried to log to step {step} that is less than the current step "
                         f"{self.step}. Steps must be monotonically increasing, so this data "
                         "will be ignored.")
                return
            if step > self.step:
                if self._pending:
                    self._commit()
                self.step = step
        self._pending.update(flatten_row(data))
        if commit is False or (commit is None and step is not None):
            return
        self._commit()

    def _commit(self) -> None:
        row = {**self._pending, "_step": self.step}
        self._pending = {}
        self.step += 1
        row.setdefault("_runtime", round(time.time() - self._start, 3))
        with self._history_path.open("a") as fh:
            fh.write(json.dumps(row, default=str) + "\n")
        self.summary.update({k: v for k, v in row.items() if not k.startswith("_")})
        out = self._merger.push(row)
        if out is not None:
            self._report(out)

    def _report(self, row: dict[str, Any]) -> None:
        self._reported_metric = self._reported_metric or self.metric is not None
        if self._dirty_files and "ray" in sys.modules:
            self._dirty_files = False
            with tempfile.TemporaryDirectory(prefix="sweeprunner-files-") as tmp:
                self._copy_saved(Path(tmp) / "files")
                _emit(row, checkpoint_dir=tmp)
            return
        _emit(row)

    # -- files
    def save(self, glob_str: str | os.PathLike[str], base_path: str | None = None,
             policy: str = "live") -> list[str]:
        pattern = str(glob_str)
        base = Path(base_path) if base_path else Path(pattern).parent
        if not Path(pattern).is_absolute():
            pattern = str(Path.cwd() / pattern)
            base = Path.cwd() / base
        self._saved.append((pattern, base))
        self._dirty_files = True
        return self._copy_saved(Path(self.dir), only=(pattern, base))

    def _copy_saved(self, dest: Path, only: tuple[str, Path] | None = None) -> list[str]:
        copied = []
        for pattern, base in [only] if only else self._saved:
            for src in glob.glob(pattern, recursive=True):
                src_path = Path(src)
                if not src_path.is_file():
                    continue
                try:
                    rel = src_path.relative_to(base)
                except ValueError:
                    rel = Path(src_path.name)
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if src_path.resolve() != target.resolve():
                    shutil.copy2(src_path, target)
                copied.append(str(target))
        return copied

    def restore(self, name: str, replace: bool = False, root: str | None = None) -> Any:
        """Open a file saved by an earlier attempt of this trial (from its checkpoint)."""
        dest = Path(root or ".") / name
        if dest.exists() and not replace:
            return dest.open()
        with _restored_checkpoint() as ckpt:
            src = ckpt / "files" / name if ckpt is not None else None
            if src is None or not src.is_file():
                src = Path(self.dir) / name
            if not src.is_file():
                raise ValueError(f"wandb.restore: no saved file {name!r} for this trial")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.resolve() != dest.resolve():
                shutil.copy2(src, dest)
        return dest.open()

    # -- end
    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        global run
        if self._finished:
            return
        if self._pending:
            self._commit()
        self._write_files()
        if (self.metric is not None and not self._reported_metric
                and carries_metric(self.summary, self.metric)):
            self._report(flatten_row(self.summary))   # summary-only metric: one result
        if run is self:
            run = None

    def _write_files(self) -> None:
        """Mark finished; copy saved files and write summary and config to the trial dir."""
        self._finished = True
        self._copy_saved(Path(self.dir))
        out = self._history_path.parent
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(_plain(dict(self.summary)), default=str, indent=1))
        (out / "config.json").write_text(json.dumps(self.config.as_dict(), default=str, indent=1))

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()

    # W&B niceties that need no server
    def watch(self, *args: Any, **kwargs: Any) -> None:
        return None

    def define_metric(self, *args: Any, **kwargs: Any) -> None:
        return None

    def alert(self, *args: Any, **kwargs: Any) -> None:
        return None

    def log_artifact(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __repr__(self) -> str:
        return f"<sweeprunner.wandb_compat.Run {self.id}>"


# ---------------------------------------------------------------------------- module API

config = Config()
summary = Summary()
run: Run | None = None


def init(config: Any = None, project: str | None = None, name: str | None = None,  # noqa: A002
         reinit: bool | None = None, **_ignored: Any) -> Run:
    """Start (or return) this trial's run. Sweep parameters override ``config`` defaults."""
    global run
    if run is not None and not reinit:
        if config is not None:
            globals()["config"].update(config)
        return run
    if run is not None:
        run.finish()
    _trial.load_from_env()
    globals()["config"]._reset(_trial.params)
    if config is not None:
        globals()["config"].update(config)
    summary.clear()
    with _restored_checkpoint() as ckpt:
        resumed = ckpt is not None
    run = Run(name=name, project=project, params=_trial.params, metric=_trial.metric,
              resumed=resumed)
    return run


def _active() -> Run:
    if run is None:
        raise RuntimeError("You must call wandb.init() before wandb.log()")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    _active().log(data, step=step, commit=commit)


def save(glob_str: str | os.PathLike[str], base_path: str | None = None,
         policy: str = "live") -> list[str]:
    return _active().save(glob_str, base_path=base_path, policy=policy)


def restore(name: str, run_path: str | None = None, replace: bool = False,
            root: str | None = None) -> Any:
    return _active().restore(name, replace=replace, root=root)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    if run is not None:
        run.finish(exit_code=exit_code)


def login(*args: Any, **kwargs: Any) -> bool:
    return True


def watch(*args: Any, **kwargs: Any) -> None:
    return None


def define_metric(*args: Any, **kwargs: Any) -> None:
    return None


def alert(*args: Any, **kwargs: Any) -> None:
    return None


def termlog(message: str = "", **_: Any) -> None:
    print(f"wandb: {message}", file=sys.stderr)


def termwarn(message: str, **_: Any) -> None:
    print(f"wandb: WARNING {message}", file=sys.stderr)


def termerror(message: str, **_: Any) -> None:
    print(f"wandb: ERROR {message}", file=sys.stderr)


def sweep(sweep: Any, entity: str | None = None, project: str | None = None, prior_runs: Any = None,
          **kwargs: Any) -> str:
    """``wandb.sweep``: create a sweep from a config dict or YAML path; see :func:`sweeprunner.api.sweep`."""
    from sweeprunner import api

    return api.sweep(sweep, entity=entity, project=project, prior_runs=prior_runs, **kwargs)


def agent(sweep_id: str, function: Any = None, entity: str | None = None, project: str | None = None,
          count: int | None = None, **kwargs: Any) -> None:
    """``wandb.agent``: run ``count`` trials of the sweep on Ray; see :func:`sweeprunner.api.agent`."""
    from sweeprunner import api

    api.agent(sweep_id, function=function, entity=entity, project=project, count=count, **kwargs)


class _Media:
    """Inert stand-in for W&B media types; logged instances are left out of reported rows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


class Image(_Media):
    pass


class Histogram(_Media):
    pass


class Table(_Media):
    pass


class Artifact(_Media):
    def add_file(self, *args: Any, **kwargs: Any) -> None:
        return None

    def add_dir(self, *args: Any, **kwargs: Any) -> None:
        return None


@contextlib.contextmanager
def trial(params: Mapping[str, Any], metric: str | None) -> Iterator[None]:
    """Run one in-process trial: ``wandb.config`` holds ``params``; the run is finished after."""
    global run
    _trial.params, _trial.metric = dict(params), metric
    config._reset(params)
    summary.clear()
    run = None
    try:
        yield
        if run is not None:
            run.finish()
    finally:
        if run is not None and not run._finished:
            run._write_files()   # failed or stopped: keep what was logged, report nothing more
        run = None
        _trial.params, _trial.metric = None, None
