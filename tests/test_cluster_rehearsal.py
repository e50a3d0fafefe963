"""Local rehearsal of the GPU cluster workflow (`make cluster-smoke`): a fake autoscaling cluster
with token auth, a sweep submitted as a Ray job, GPU nodes added and removed.

The rehearsal runs in its own process (cluster/rehearse.py) so that its RAY_AUTH_* environment
and its Ray cluster never mix with the shared Ray session of the rest of the suite. It starts
only its own Ray processes (private temp dir, token and ports) and kills only those.
Measured on the 2-core dev box: about 70-90 s.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
REHEARSE = REPO / "cluster" / "rehearse.py"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(importlib.util.find_spec("aiohttp") is None,
                       reason="needs ray[default] (dashboard + job API)"),
]

EXPECTED_CHECKS = {
    "token_file_mode_0600",
    "ray_start_without_token_fails",
    "dashboard_rejects_missing_token",
    "dashboard_rejects_wrong_token",
    "dashboard_binds_loopback_only",
    "no_gpu_nodes_before_job",
    "job_succeeded",
    "autoscaler_added_gpu_nodes",
    "trials_spread_over_2_nodes",
    "all_4_trials_finished_8_epochs",
    "gpu_nodes_scaled_down",
    "no_processes_left",
}


def rehearse(mode: str, tmp_path: Path) -> dict:
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, str(REHEARSE), "--mode", mode, "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=540,
    )
    assert out.exists(), proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads(out.read_text())
    failed = {k: v for k, v in report["checks"].items() if not v["ok"]}
    assert not failed, json.dumps(failed, indent=2) + "\n" + proc.stdout[-4000:]
    assert proc.returncode == 0
    assert EXPECTED_CHECKS <= set(report["checks"]), sorted(report["checks"])
    return report


def test_cluster_rehearsal_plain_tune_job(tmp_path):
    """The cluster part with a plain Ray Tune script as the job (no sweeprunner launcher)."""
    report = rehearse("tune", tmp_path)
    assert report["checks"]["tune_reported_no_errors"]["ok"]
    assert len(report["trial_nodes"]) >= 2


@pytest.mark.skipif(importlib.util.find_spec("sweeprunner.run.launch") is None,
                    reason="sweeprunner.run.launch (the `run` command) is not written yet")
def test_cluster_rehearsal_sweeprunner_job(tmp_path):
    """The documented workflow: `python -m sweeprunner run <sweep.yaml> --address auto
    --storage ...` submitted with the job API to the token-protected autoscaling cluster."""
    report = rehearse("sweep", tmp_path)
    assert "-m sweeprunner run" in report["job"]["entrypoint"]
    assert len(report["trial_nodes"]) >= 2
