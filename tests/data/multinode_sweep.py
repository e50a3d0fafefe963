"""A sweep on a 3-node Ray cluster on this machine; a worker node is killed mid-sweep.

Run by tests/test_multinode.py in its own process; writes what happened to ``<out>.summary.json``
(not stdout: the local cluster's raylets print their own log lines there, even after the sweep).
"""

import json
import sys
import threading
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

from sweeprunner.config.parse import parse_sweep
from sweeprunner.run.launch import LaunchOptions, run_sweep

out = Path(sys.argv[1])
cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0, "object_store_memory": 100 * 2**20})
workers = [cluster.add_node(num_cpus=1, num_gpus=2, object_store_memory=100 * 2**20) for _ in range(2)]
cluster.wait_for_nodes()
ray.init(address=cluster.address, log_to_driver=False)
victim = workers[1].node_id
killed = {}


def kill_victim_when_busy() -> None:
    """Kill the second worker node once a trial has run two epochs on it."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for info_file in (out / "trials").glob("*.info.json"):
            info = json.loads(info_file.read_text())
            history = out / "trials" / info_file.name.replace(".info.json", ".jsonl")
            if info["node_id"] == victim and history.exists() and len(history.read_text().splitlines()) >= 2:
                cluster.remove_node(workers[1], allow_graceful=False)
                killed["at"] = time.time()
                return
        time.sleep(0.2)


spec = parse_sweep({
    "method": "grid", "metric": {"name": "loss"},
    "parameters": {"lr": {"values": [1e-3, 1e-2, 1e-1, 1.0]}, "epochs": {"value": 6}, "sleep": {"value": 1.0}},
    "sweeprunner": {"trainable": "toy", "resources": {"cpu": 0.25, "gpu": 1}, "max_failures": 3, "storage": str(out)},
})
threading.Thread(target=kill_victim_when_busy, daemon=True).start()
code = run_sweep(spec, options=LaunchOptions(quiet=True))
out.with_suffix(".summary.json").write_text(json.dumps({"exit_code": code, "victim": victim, "killed": bool(killed)}))
ray.shutdown()
cluster.shutdown()
