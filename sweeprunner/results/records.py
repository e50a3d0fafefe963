"""Durable per-trial records, written by the driver as results arrive.

Ray Tune keeps trial results in a driver staging directory and syncs them to storage from
time to time, so a driver killed between syncs loses them. sweeprunner appends every result,
each trial's config and its outcome to the sweep directory at once; ``results.py``,
``resume`` and the hyperband rebuild read these records.

Layout: ``trials/<trial_id>.config.json``, ``trials/<trial_id>.jsonl`` (one reported row a
line), ``trials/<trial_id>.info.json`` (node and GPUs, from the trial), ``trial_events.jsonl``
(finished / stopped / errored).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RECORDS_DIR = "trials"
EVENTS_FILE = "trial_events.jsonl"
FINAL_EVENTS = ("finished", "stopped")


def append_json_line(path: Path, row: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row, default=str) + "\n")


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file; a torn last line (a killed writer) is skipped."""
    rows = []
    if path.is_file():
        for line in path.read_text(errors="replace").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def events(sweep_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The last recorded outcome of each trial."""
    return {row["trial_id"]: row for row in read_json_lines(Path(sweep_dir) / EVENTS_FILE)}


def finished_ids(sweep_dir: str | Path) -> set[str]:
    """Trials whose outcome is final (finished or stopped early): never run again."""
    return {trial_id for trial_id, row in events(sweep_dir).items() if row["event"] in FINAL_EVENTS}


def trial_ids(sweep_dir: str | Path) -> list[str]:
    """Every trial that started, in start order."""
    configs = sorted((Path(sweep_dir) / RECORDS_DIR).glob("*.config.json"), key=lambda p: p.stat().st_mtime)
    return [p.name.removesuffix(".config.json") for p in configs]


def history(sweep_dir: str | Path, trial_id: str) -> list[dict[str, Any]]:
    return read_json_lines(Path(sweep_dir) / RECORDS_DIR / f"{trial_id}.jsonl")


def last_error_line(path: Path) -> str | None:
    """The last non-blank line of a traceback file (the exception), at most 300 characters."""
    if not path.is_file():
        return None
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "error"


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def set_aside_unknown(sweep_dir: str | Path, known: set[str]) -> list[str]:
    """Move the records of trials Ray's saved state doesn't know (started just before a driver was
    killed; their config will be suggested again) to ``trials/superseded/``. Returns their ids."""
    records = Path(sweep_dir) / RECORDS_DIR
    final = finished_ids(sweep_dir)
    moved = []
    for trial_id in trial_ids(sweep_dir):
        if trial_id in known or trial_id in final:
            continue
        (records / "superseded").mkdir(exist_ok=True)
        for path in records.glob(f"{trial_id}.*"):
            path.rename(records / "superseded" / path.name)
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
