"""``wandb.run`` of :mod:`sweeprunner.wandb_compat`: logging, files and the end of a run.

Reporting rule (W&B hyperband counts logged values of the sweep metric): every committed
``log`` row that carries the sweep metric as a finite number becomes one reported result;
rows without it are merged into the next one that has it. When the sweep has no metric,
every committed row is reported. The full history and the summary are written to the
trial directory (``wandb/history.jsonl``, ``wandb/summary.json``); saved files go to
``files/`` there and into the next reported checkpoint. Logged media go to ``media/`` (see
:mod:`sweeprunner.trial.wandb_media`), ``define_metric`` aggregates the summary (see
:mod:`sweeprunner.trial.wandb_metrics`), artifacts go to ``artifacts/``.

A *sub-run* (a run a multiprocessing worker starts, or a second ``init(reinit=True)`` in the
trial's process) keeps its files under ``<trial dir>/runs/<name>/``; a worker's sub-run reports
nothing to the sweep.

Importing this module never imports Ray.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from sweeprunner.trial import session
from sweeprunner.trial.protocol import RowMerger, carries_metric, flatten, native, scalar
from sweeprunner.trial.wandb_artifacts import Artifact, find_artifact, store_artifact
from sweeprunner.trial.wandb_config import Config, Summary, termwarn
from sweeprunner.trial.wandb_media import extract_media
from sweeprunner.trial.wandb_metrics import MetricDefs

#: Run attributes W&B lets a script read and set; kept in ``metadata.json``.
RUN_ATTRS = ("name", "project", "entity", "notes", "group", "job_type", "sweep_id")
#: Folders ``log_code`` never descends into.
_CODE_SKIP = {"__pycache__", "wandb", "node_modules", "site-packages", "sweeps"}


def flatten_row(data: Mapping[str, Any]) -> dict[str, Any]:
    """Nested dicts become dotted keys; non-scalar values (images, arrays) are dropped."""
    return flatten(data, leaf=scalar)


class Run:
    """``wandb.run``: the active run of this trial."""

    def __init__(self, *, name: str | None, project: str | None, config: Config, summary: Summary,
                 metric: str | None, resumed: bool, on_finish: Callable[[Run], None] | None = None,
                 sub_run: bool = False, report: bool = True, entity: str | None = None,
                 notes: str | None = None, tags: Iterable[str] | None = None, group: str | None = None,
                 job_type: str | None = None, sweep_id: str | None = None) -> None:
        env_id = os.environ.get("WANDB_RUN_ID")
        self.id = env_id if env_id and not sub_run else uuid.uuid4().hex[:8]
        self.name = name or self.id
        self.project, self.entity, self.notes = project, entity, notes
        self.group, self.job_type, self.sweep_id = group, job_type, sweep_id
        self.tags = tags or ()
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
        self._on_finish = on_finish
        self._pid = os.getpid()
        self._report_rows = report
        self._metrics = MetricDefs()
        self._pending_refs: dict[str, Any] = {}
        self._trial_dir = session.trial_dir()
        self._root, self._meta_dir = self._trial_dir, self._trial_dir / "wandb"
        if sub_run:
            base = self._trial_dir / "runs"
            folder = base / _safe_name(self.name)
            if folder.exists():
                folder = base / f"{_safe_name(self.name)}-{self.id}"
            self._root = self._meta_dir = folder
        self.dir = str(self._root / "files")
        Path(self.dir).mkdir(parents=True, exist_ok=True)
        self._history_path = self._meta_dir / "history.jsonl"
        self._history_path.parent.mkdir(parents=True, exist_ok=True)

    # -- attributes
    @property
    def tags(self) -> tuple[str, ...]:
        return self._tags

    @tags.setter
    def tags(self, value: Iterable[str]) -> None:
        self._tags = (value,) if isinstance(value, str) else tuple(value)

    @property
    def path(self) -> str:
        return "/".join(p for p in (self.entity, self.project, self.id) if p)

    @property
    def offline(self) -> bool:
        return True

    @property
    def url(self) -> str:
        return self.get_url()

    def get_url(self) -> str:
        """A ``file://`` URL of this run's directory (the trial directory, or its sub-run folder)."""
        return self._root.resolve().as_uri()

    def get_sweep_url(self) -> str | None:
        """A ``file://`` URL of the sweep directory; None outside a sweep."""
        return self._trial_dir.resolve().parent.as_uri() if self.sweep_id else None

    def get_project_url(self) -> str | None:
        """None: there is no project server."""
        return None

    def _metadata(self) -> dict[str, Any]:
        meta = {attr: getattr(self, attr) for attr in RUN_ATTRS}
        return {"id": self.id, **meta, "tags": list(self.tags), "url": self.get_url(),
                "config": self.config.as_dict()}

    # -- logging
    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None,
            sync: bool | None = None) -> None:
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
                if self._pending or self._pending_refs:
                    self._commit()
                self.step = step
        data, refs = extract_media(data, self._root / "media", self.step)
        self._pending.update(flatten_row(data))
        self._pending_refs.update(refs)
        if commit is False or (commit is None and step is not None):
            return
        self._commit()

    def _commit(self) -> None:
        row = {**self._pending, "_step": self.step}
        refs, self._pending, self._pending_refs = self._pending_refs, {}, {}
        self._metrics.sync_steps(row)
        self.step += 1
        row.setdefault("_runtime", round(time.time() - self._start, 3))
        with self._history_path.open("a") as fh:
            fh.write(json.dumps({**row, **refs}, default=str) + "\n")
        self._metrics.update_summary({k: v for k, v in row.items() if not k.startswith("_")}, self.summary)
        self.summary.update(refs)
        if not self._report_rows:
            return
        for out in self._merger.push(row):
            self._report(out)

    def _report(self, row: dict[str, Any]) -> None:
        self._reported_metric = self._reported_metric or (self.metric is not None and self.metric in row)
        if self._dirty_files and "ray" in sys.modules:
            self._dirty_files = False
            with tempfile.TemporaryDirectory(prefix="sweeprunner-files-") as tmp:
                self._copy_saved(Path(tmp) / "files")
                session.report(row, checkpoint_dir=tmp)
            return
        session.report(row)

    # -- files
    def save(self, glob_str: str | os.PathLike[str] | None = None, base_path: str | None = None,
             policy: str = "live") -> list[str] | bool:
        """Copy files matching ``glob_str`` into the run; with no argument, persist the run's
        attributes (``metadata.json``) and return True, as W&B does."""
        if glob_str is None:
            self._write_metadata()
            return True
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
        with session.restored_checkpoint() as ckpt:
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
        if self._finished:
            return
        if self._pending or self._pending_refs:
            self._commit()
        leftover = self._merger.flush()   # rows logged after the last metric row
        self._write_files()
        summary_row = flatten_row({k: v for k, v in self.summary.items()
                                   if not (isinstance(v, Mapping) and "_type" in v)})
        if not self._report_rows:
            leftover = []
        elif (self.metric is not None and not self._reported_metric
                and carries_metric(summary_row, self.metric)):
            # summary-only metric (``loss.min`` names an aggregate): one result, with whatever was logged
            leftover = [{k: v for row in leftover for k, v in row.items()} | summary_row]
        for out in leftover:
            self._report(out)
        if self._on_finish is not None:
            self._on_finish(self)

    def _write_files(self) -> None:
        """Mark finished; copy saved files and write summary and config to the trial dir."""
        self._finished = True
        self._copy_saved(Path(self.dir))
        out = self._history_path.parent
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(native(dict(self.summary)), default=str, indent=1))
        (out / "config.json").write_text(json.dumps(self.config.as_dict(), default=str, indent=1))
        self._write_metadata()
        if self._metrics.defs:
            (out / "metrics.json").write_text(json.dumps(self._metrics.defs, indent=1))

    def _write_metadata(self) -> None:
        self._meta_dir.mkdir(parents=True, exist_ok=True)
        (self._meta_dir / "metadata.json").write_text(json.dumps(self._metadata(), default=str, indent=1))

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()

    # W&B niceties that need no server
    def watch(self, *args: Any, **kwargs: Any) -> None:
        return None

    def unwatch(self, *args: Any, **kwargs: Any) -> None:
        return None

    def define_metric(self, name: str, step_metric: str | None = None, **kwargs: Any) -> Any:
        """W&B's summary aggregates and step metrics (see :mod:`sweeprunner.trial.wandb_metrics`)."""
        return self._metrics.define(name, step_metric=step_metric, **kwargs)

    def alert(self, *args: Any, **kwargs: Any) -> None:
        return None

    def mark_preempting(self) -> None:
        return None

    # -- code and artifacts (kept in the trial directory)
    def log_code(self, root: str | None = ".", name: str | None = None,
                 include_fn: Callable[..., bool] | None = None,
                 exclude_fn: Callable[..., bool] | None = None) -> Artifact | None:
        """Copy the source files under ``root`` (``*.py`` unless ``include_fn`` says otherwise) to
        ``code/`` in the run; hidden folders, virtualenvs and the sweep's own folders are skipped."""
        base = Path(root or ".").resolve()
        target = self._root / "code"
        skip_dirs = {p.resolve() for p in (self._trial_dir, self._trial_dir.parent)
                     if not base.is_relative_to(p.resolve())}
        artifact = Artifact(name or f"source-{self.id}", type="code")
        for folder, dirs, files in os.walk(base):
            here = Path(folder)
            dirs[:] = [d for d in dirs if not (d.startswith(".") or d in _CODE_SKIP
                                               or (here / d / "pyvenv.cfg").exists()
                                               or (here / d).resolve() in skip_dirs)]
            for file in files:
                path = str(here / file)
                if not _call(include_fn, path, str(base), default=file.endswith(".py")):
                    continue
                if _call(exclude_fn, path, str(base), default=False):
                    continue
                rel = (here / file).relative_to(base)
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(here / file, target / rel)
                artifact._entries[rel.as_posix()] = target / rel
        artifact._dir = target
        return artifact if artifact._entries else None

    def log_artifact(self, artifact_or_path: Artifact | str | os.PathLike[str], name: str | None = None,
                     type: str | None = None, aliases: Iterable[str] | None = None,   # noqa: A002
                     **_: Any) -> Artifact:
        """Store an artifact (or a file or folder) under ``artifacts/<name>/v<N>/`` in the trial."""
        artifact = artifact_or_path
        if not isinstance(artifact, Artifact):
            path = Path(artifact_or_path)
            artifact = Artifact(name or _safe_name(path.name), type or "unspecified")
            if path.is_dir():
                artifact.add_dir(path)
            else:
                artifact.add_file(path)
        store_artifact(artifact, self._trial_dir / "artifacts", aliases or ())
        return artifact

    def use_artifact(self, artifact_or_name: Artifact | str, type: str | None = None,   # noqa: A002
                     aliases: Iterable[str] | None = None, **_: Any) -> Artifact:
        """An artifact logged by this trial or another trial of the sweep (``name:alias``)."""
        if isinstance(artifact_or_name, Artifact):
            if artifact_or_name._dir is None:
                self.log_artifact(artifact_or_name, aliases=aliases)
            return artifact_or_name
        own = self._trial_dir / "artifacts"
        others = sorted(p for p in self._trial_dir.parent.glob("*/artifacts") if p != own)
        return find_artifact(str(artifact_or_name), [own, *others], type=type)

    def log_model(self, path: str | os.PathLike[str], name: str | None = None,
                  aliases: Iterable[str] | None = None) -> Artifact:
        return self.log_artifact(path, name=name, type="model", aliases=aliases)

    def use_model(self, name: str) -> str:
        return self.use_artifact(name).download()

    def __repr__(self) -> str:
        return f"<sweeprunner.wandb_compat.Run {self.id}>"


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name)) or "run"


def _call(fn: Callable[..., bool] | None, path: str, root: str, default: bool) -> bool:
    """``include_fn``/``exclude_fn`` take ``(path, root)`` in current W&B, ``(path)`` in older ones."""
    if fn is None:
        return default
    try:
        return bool(fn(path, root))
    except TypeError:
        return bool(fn(path))
