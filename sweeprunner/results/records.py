"""The sweep directory's format: every file name, its atomic writers and its readers. No Ray import.

Ray Tune keeps trial results in a driver staging directory and syncs them to storage from
time to time, so a driver killed between syncs loses them. sweeprunner appends every result,
each trial's config and its outcome to the sweep directory at once; ``tables.py``,
``resume`` and the hyperband rebuild read these records.

Layout of a sweep directory::

    sweeprunner.json            LAUNCH_FILE: the config, working directory and metric (written by `run`)
    sweeprunner.lock            LOCK_FILE: the driver holding the directory (pid, host)
    trial_events.jsonl          EVENTS_FILE: finished / stopped / errored, one line each
    trials/<id>.config.json     the trial's config (written atomically when it starts)
    trials/<id>.jsonl           one reported row a line
    trials/<id>.info.json       node, GPUs, pid and every (re)start, written by the trial itself
    trials/superseded/          records of trials Ray's saved state doesn't know (set aside on resume)
    hyperband_rebuilt.json      what early stopping rebuilt from the records on resume
    results.csv, results.parquet, histories.csv, best.yaml   the result files
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sweeprunner.errors import SweepConfigError

LAUNCH_FILE = "sweeprunner.json"
LOCK_FILE = "sweeprunner.lock"
RECORDS_DIR = "trials"
SUPERSEDED_DIR = "superseded"
EVENTS_FILE = "trial_events.jsonl"
HYPERBAND_REBUILT_FILE = "hyperband_rebuilt.json"
RESULTS_CSV, RESULTS_PARQUET, HISTORIES_CSV, BEST_YAML = "results.csv", "results.parquet", "histories.csv", "best.yaml"
REPORT_HTML = "report.html"  # results/report.py
RESULT_FILES = (RESULTS_CSV, RESULTS_PARQUET, HISTORIES_CSV, BEST_YAML)
FINAL_EVENTS = ("finished", "stopped")
_CONFIG, _INFO, _HISTORY, _FATAL = ".config.json", ".info.json", ".jsonl", ".fatal.json"


def config_path(sweep_dir: str | Path, trial_id: str) -> Path:
    return Path(sweep_dir) / RECORDS_DIR / f"{trial_id}{_CONFIG}"


def info_path(sweep_dir: str | Path, trial_id: str) -> Path:
    return Path(sweep_dir) / RECORDS_DIR / f"{trial_id}{_INFO}"


def history_path(sweep_dir: str | Path, trial_id: str) -> Path:
    return Path(sweep_dir) / RECORDS_DIR / f"{trial_id}{_HISTORY}"


def fatal_path(sweep_dir: str | Path, trial_id: str) -> Path:
    """The marker of a trial that failed once, unretried (``trial/failures.py`` writes it)."""
    return Path(sweep_dir) / RECORDS_DIR / f"{trial_id}{_FATAL}"


def fatal_error(sweep_dir: str | Path, trial_id: str) -> str | None:
    """The one-line error of a trial that failed deterministically, or None."""
    path = fatal_path(sweep_dir, trial_id)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get("error") or "failed"
    except (OSError, ValueError):
        return "failed"


# --- writers -------------------------------------------------------------------------------------------
def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all or nothing: a full disk or a killed writer leaves the old file (or
    none), never a truncated one. Raises OSError (the temporary file is removed)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any, **dumps: Any) -> None:
    write_atomic(path, json.dumps(data, default=str, **dumps))


def append_json_line(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line. After an earlier torn write (full disk) a newline first, so the new row
    stays readable; readers skip the torn line."""
    line = json.dumps(row, default=str) + "\n"
    with open(path, "a+b") as f:
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                line = "\n" + line
        f.write(line.encode())
        f.flush()


def record_trial_info(sweep_dir: str | Path, trial_id: str, info: dict[str, Any]) -> None:
    """The trial's own record of where it runs; one entry in ``starts`` per (re)start."""
    (Path(sweep_dir) / RECORDS_DIR).mkdir(exist_ok=True)
    path = info_path(sweep_dir, trial_id)
    starts = read_json(path).get("starts", []) if path.is_file() else []
    write_json_atomic(path, {**info, "starts": [*starts, info]})


def record_hyperband_rebuild(sweep_dir: str | Path, record: dict[str, Any]) -> None:
    write_json_atomic(Path(sweep_dir) / HYPERBAND_REBUILT_FILE, record)


# --- readers -------------------------------------------------------------------------------------------
def read_json_lines(path: Path, lost: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file; torn lines (a killed writer, a full disk) are skipped and, when
    ``lost`` is given, reported there."""
    rows, torn = [], 0
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                torn += bool(line.strip())
    if torn and lost is not None:
        lost.append(f"{path}: {torn} unreadable line(s) skipped (truncated by a full disk or a killed writer?)")
    return rows


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object file's content, or {} when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def launch_info(sweep_dir: str | Path) -> dict[str, Any]:
    """What ``run`` recorded about this sweep (config, working directory, metric); {} when absent.

    A damaged file is a SweepConfigError naming it: every reader of the sweep needs it."""
    path = Path(sweep_dir) / LAUNCH_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SweepConfigError.single(("directory",), f"{path} is unreadable ({exc}): the sweep's launch record is "
                                      "damaged (truncated by a full disk?)") from None
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise SweepConfigError.single(("directory",), f"{path} is not a sweeprunner launch record")
    return data


def events(sweep_dir: str | Path, lost: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The last recorded outcome of each trial."""
    rows = read_json_lines(Path(sweep_dir) / EVENTS_FILE, lost)
    return {row["trial_id"]: row for row in rows if isinstance(row, dict) and "trial_id" in row and "event" in row}


def finished_ids(sweep_dir: str | Path) -> set[str]:
    """Trials whose outcome is final (finished or stopped early): never run again."""
    return {trial_id for trial_id, row in events(sweep_dir).items() if row["event"] in FINAL_EVENTS}


def trial_ids(sweep_dir: str | Path) -> list[str]:
    """Every trial that started, in start order."""
    configs = sorted((Path(sweep_dir) / RECORDS_DIR).glob(f"*{_CONFIG}"), key=lambda p: p.stat().st_mtime)
    return [p.name.removesuffix(_CONFIG) for p in configs]


def trial_config(sweep_dir: str | Path, trial_id: str) -> dict[str, Any] | None:
    """A trial's recorded config, or None when the file is unreadable (its config is lost)."""
    try:
        data = json.loads(config_path(sweep_dir, trial_id).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def claimed_configs(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """The readable configs of every trial recorded in the sweep directory."""
    configs = (trial_config(sweep_dir, trial_id) for trial_id in trial_ids(sweep_dir))
    return [config for config in configs if config is not None]


def history(sweep_dir: str | Path, trial_id: str, lost: list[str] | None = None) -> list[dict[str, Any]]:
    return read_json_lines(history_path(sweep_dir, trial_id), lost)


def last_error_line(path: Path) -> str | None:
    """The last non-blank line of a traceback file (the exception), at most 300 characters."""
    if not path.is_file():
        return None
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "error"


def set_aside_unknown(sweep_dir: str | Path, known: set[str]) -> list[str]:
    """Move the records of trials Ray's saved state doesn't know (started just before a driver was
    killed; their config will be suggested again) to ``trials/superseded/``. Returns their ids."""
    records = Path(sweep_dir) / RECORDS_DIR
    final = finished_ids(sweep_dir)
    moved = []
    for trial_id in trial_ids(sweep_dir):
        if trial_id in known or trial_id in final:
            continue
        (records / SUPERSEDED_DIR).mkdir(exist_ok=True)
        for path in records.glob(f"{trial_id}.*"):
            path.rename(records / SUPERSEDED_DIR / path.name)
        moved.append(trial_id)
    return moved


def saved_trial_ids(experiment_dir: str | Path) -> set[str] | None:
    """Trial ids in Ray Tune's latest saved experiment state, or None when it can't be read."""
    states = sorted(Path(experiment_dir).glob("experiment_state-*.json"))
    if not states:
        return None
    try:
        data = json.loads(states[-1].read_text())
        return {json.loads(item[0] if isinstance(item, list) else item)["trial_id"] for item in data["trial_data"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


# --- the directory this driver serves -----------------------------------------------------------------
_serving: list[str] = []


def serve_sweep_dir(path: str) -> None:
    """Name the sweep directory this driver process is running or resuming.

    Ray pickles the searcher and scheduler (which read the records) into ``tuner.pkl`` with the
    path they were built with; on resume they re-point here (:func:`repoint`), so a copied or
    moved directory resumes from its own records, not the original's."""
    _serving[:] = [path]


def repoint(path: str | None) -> str | None:
    """``path`` as unpickled, or the directory this driver serves (when it has records to point at)."""
    return _serving[0] if path is not None and _serving else path


def start_attempt(sweep_dir: str | Path, trial_id: str, iteration: int) -> int:
    """A trial reports ``iteration`` again: it restarted (from scratch, or from an older checkpoint).

    Its recorded rows from ``iteration`` on move to ``trials/superseded/<id>.attempt-<n>.jsonl``
    (kept, not read), so the history, the results and early stopping see only the current attempt.
    Returns how many rows moved."""
    rows = history(sweep_dir, trial_id)
    keep = [row for row in rows if _iteration(row) < iteration]
    redone = [row for row in rows if _iteration(row) >= iteration]
    if not redone:
        return 0
    superseded = Path(sweep_dir) / RECORDS_DIR / SUPERSEDED_DIR
    superseded.mkdir(exist_ok=True)
    attempt = 1 + sum(1 for _ in superseded.glob(f"{trial_id}.attempt-*{_HISTORY}"))
    write_atomic(superseded / f"{trial_id}.attempt-{attempt}{_HISTORY}",
                 "".join(json.dumps(row, default=str) + "\n" for row in redone))
    write_atomic(history_path(sweep_dir, trial_id), "".join(json.dumps(row, default=str) + "\n" for row in keep))
    return len(redone)


def _iteration(row: dict[str, Any]) -> int:
    value = row.get("training_iteration")
    return value if isinstance(value, int) else 0
