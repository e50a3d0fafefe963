"""Shared helpers for the benchmark scripts: paths, load average, machine facts, JSON output."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def quiet_warnings() -> None:
    """Silence Ray's 'define-by-run took N seconds' warning (the GP sampler trips it) and optuna's info."""
    warnings.filterwarnings("ignore", message="Define-by-run function")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*experimental.*")
    try:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    except ImportError:
        pass


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages (the machine is shared: timings depend on them)."""
    return [round(x, 2) for x in os.getloadavg()]


def now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def machine() -> dict[str, Any]:
    """Where the numbers were measured."""
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"uname": " ".join(platform.uname()), "cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem_gib}


def write_json(name: str, payload: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` with the date, load and machine added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"date": now(), "load_at_end": load(), "machine": machine(), **payload}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1, default=str))
    print(f"wrote {path}")
    return path


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table (printed by the scripts, pasted by report.py)."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)

