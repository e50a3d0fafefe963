"""``wandb.run`` of :mod:`sweeprunner.wandb_compat`: logging, files and the end of a run.

Reporting rule (W&B hyperband counts logged values of the sweep metric): every committed
``log`` row that carries the sweep metric as a finite number becomes one reported result;
rows without it are merged into the next one that has it. When the sweep has no metric,
every committed row is reported. The full history and the summary are written to the
trial directory (``wandb/history.jsonl``, ``wandb/summary.json``); saved files go to
``files/`` there and into the next reported checkpoint.

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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sweeprunner.trial import session
from sweeprunner.trial.protocol import RowMerger, carries_metric, flatten, native, scalar
from sweeprunner.trial.wandb_config import Config, Summary, termwarn


def flatten_row(data: Mapping[str, Any]) -> dict[str, Any]:
    """Nested dicts become dotted keys; non-scalar values (images, arrays) are dropped."""
    return flatten(data, leaf=scalar)


class Run:
    """``wandb.run``: the active run of this trial."""

    def __init__(self, *, name: str | None, project: str | None, config: Config, summary: Summary,
                 metric: str | None, resumed: bool, on_finish: Callable[[Run], None] | None = None) -> None:
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
        self._on_finish = on_finish
        trial_dir = session.trial_dir()
        self.dir = str(trial_dir / "files")
        Path(self.dir).mkdir(parents=True, exist_ok=True)
        self._history_path = trial_dir / "wandb" / "history.jsonl"
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
                session.report(row, checkpoint_dir=tmp)
            return
        session.report(row)

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
        if self._pending:
            self._commit()
        self._write_files()
        if (self.metric is not None and not self._reported_metric
                and carries_metric(self.summary, self.metric)):
            self._report(flatten_row(self.summary))   # summary-only metric: one result
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
