"""Client for W&B's own sweep engine, used as a test oracle.

The engine (PyPI ``sweeps==0.3.0``) lives in its own venv, ``.venv-wandb`` (``make oracle``),
because it needs ``numpy<2``. ``call`` runs ``tests/oracle/wandb_engine.py`` there in a
subprocess; ``batch`` sends many requests through one subprocess (start-up is ~1.5 s).

    from tests.oracle import available, call, batch
    call("random", config={"parameters": {...}}, n=100, seed=0)   # -> list of nested dicts
    batch([{"op": "grid", "config": ...}, ...])                    # -> [{"ok", "result"|"error"}]
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BRIDGE = Path(__file__).resolve().with_name("wandb_engine.py")
SKIP_REASON = "W&B oracle venv .venv-wandb missing: run `make oracle`"


class OracleError(RuntimeError):
    """W&B's engine raised; the message is ``"ExcType: message"``."""


def python_path() -> Path:
    """The oracle interpreter (``$SWEEPRUNNER_WANDB_PYTHON`` overrides ``.venv-wandb``)."""
    override = os.environ.get("SWEEPRUNNER_WANDB_PYTHON")
    return Path(override) if override else REPO / ".venv-wandb" / "bin" / "python"


def available() -> bool:
    """Whether the oracle venv exists (it is not imported here: that costs a subprocess)."""
    return python_path().exists()


def _run(request: dict, timeout: float) -> dict:
    if not available():
        raise OracleError(SKIP_REASON)
    proc = subprocess.run(
        [str(python_path()), str(BRIDGE)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    if proc.returncode != 0:
        raise OracleError(f"oracle bridge exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)


def batch(requests: list[dict], timeout: float = 600) -> list[dict]:
    """Send many requests in one subprocess; each answer is ``{"ok": bool, "result"|"error"}``."""
    return _run({"op": "batch", "requests": requests}, timeout)["result"]


def call(op: str, timeout: float = 600, **kwargs: Any) -> Any:
    """One request; returns its result or raises ``OracleError`` with W&B's error."""
    response = _run({"op": op, **kwargs}, timeout)
    if not response["ok"]:
        raise OracleError(response["error"])
    return response["result"]


def result(response: dict) -> Any:
    """The result of one ``batch`` answer, or ``OracleError`` if W&B raised."""
    if not response["ok"]:
        raise OracleError(response["error"])
    return response["result"]
