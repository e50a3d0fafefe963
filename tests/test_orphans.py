"""After the driver is interrupted, no trial process is left behind (issue 11 item 15)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "tests" / "data" / "scripts"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_interrupting_the_driver_leaves_no_trial_processes(tmp_path, sig):
    pids_dir = tmp_path / "pids"
    pids_dir.mkdir()
    config = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"}, "program": "mp_workers.py",
              "parameters": {"pids_dir": {"value": str(pids_dir)}, "x": {"values": [1, 2]}},
              "sweeprunner": {"resources": {"cpu": 1, "gpu": 0}, "storage": str(tmp_path / "out")}}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen([sys.executable, "-m", "sweeprunner", "run", str(tmp_path / "sweep.yaml"), "--quiet",
                               "--num-cpus", "2"], cwd=SCRIPTS, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(pids_dir.glob("*.json"))) < 2 and time.monotonic() < deadline:
            assert driver.poll() is None, "the sweep ended before its trials started"
            time.sleep(0.2)
        pids = [p for f in pids_dir.glob("*.json") for p in json.loads(f.read_text())]
        assert len(pids) == 8 and all(_alive(p) for p in pids)
        driver.send_signal(sig)
        driver.wait(timeout=60)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [p for p in pids if _alive(p)] == []
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
        for f in pids_dir.glob("*.json"):
            for pid in json.loads(f.read_text()):
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
