"""GPU packing: N small image trials sharing one GPU 4 at a time (gpu: 0.25) vs 1 at a time (gpu: 1).

Runs without Ray (the GPU machine need not have it): each trial is a separate process running
``sweeprunner.trainables.vision.train`` standalone on ``cuda`` (as a Ray trial with ``gpu: 0.25``
would: its own process, the same single visible GPU), with ``--concurrency`` processes at once in the
packed phase and one at a time in the exclusive phase. ``nvidia-smi --query-gpu=utilization.gpu``
is sampled every 0.5 s during each phase. Prints trials/hour for both phases, their ratio and the
mean GPU utilisation; writes ``bench/results/gpu_packing.json``. Exits 2 with a clear message
when there is no CUDA GPU or no nvidia-smi.

Needs torch, torchvision and scikit-learn (for ``--data digits``); the defaults (resnet18 on 64 px
fake data, 2 epochs, 8 trials per phase) take about 2-4 minutes on one modern GPU.

    python bench/gpu_packing.py
    python bench/gpu_packing.py --trials 12 --data digits --architecture simple_cnn --image-size 32
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from sweeprunner.trial import session
from sweeprunner.trainables.vision import train
train(json.loads(sys.argv[1]))
last = session.history[-1] if session.history else {}
print(json.dumps({"seconds": time.perf_counter() - t0, "epochs": len(session.history),
                  "val_accuracy": last.get("val/accuracy")}))
"""


def check_gpu() -> str:
    """The GPU's name, or exit 2 saying why this cannot run here."""
    if shutil.which("nvidia-smi") is None:
        print("gpu_packing: no nvidia-smi on PATH: this benchmark needs a machine with an NVIDIA GPU", file=sys.stderr)
        raise SystemExit(2)
    try:
        import torch
    except ImportError:
        print("gpu_packing: torch is not installed", file=sys.stderr)
        raise SystemExit(2) from None
    if not torch.cuda.is_available():
        print("gpu_packing: torch sees no CUDA device: this benchmark needs a GPU", file=sys.stderr)
        raise SystemExit(2)
    return torch.cuda.get_device_name(0)


class Sampler(threading.Thread):
    """Samples GPU utilisation (%) and memory used (MiB) every ``interval`` seconds."""

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.interval, self.samples, self._stop = interval, [], threading.Event()

    def run(self) -> None:
        while not self._stop.is_set():
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits",
                                  "-i", "0"], capture_output=True, text=True).stdout.strip()
            try:
                util, mem = (float(x) for x in out.split(","))
                self.samples.append((util, mem))
            except ValueError:
                pass
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self.join()


def run_trial(config: dict[str, Any], cpus: int) -> dict[str, Any]:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES=os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0],
               SWEEPRUNNER_NUM_CPUS=str(cpus), PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(config)], capture_output=True, text=True, env=env,
                          cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f"trial failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def phase(name: str, configs: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    cpus = max(1, (os.cpu_count() or 1) // concurrency)
    sampler = Sampler()
    sampler.start()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        trials = list(pool.map(lambda c: run_trial(c, cpus), configs))
    wall = time.perf_counter() - t0
    sampler.stop()
    utils = [u for u, _ in sampler.samples]
    row = {"phase": name, "concurrency": concurrency, "trials": len(configs), "wall_s": round(wall, 1),
           "trials_per_hour": round(3600 * len(configs) / wall, 1),
           "trial_s_mean": round(statistics.fmean(t["seconds"] for t in trials), 1),
           "gpu_util_mean": round(statistics.fmean(utils), 1) if utils else None,
           "gpu_mem_max_mib": max((m for _, m in sampler.samples), default=None),
           "val_accuracy_mean": statistics.fmean(t["val_accuracy"] for t in trials if t["val_accuracy"] is not None)
           if any(t["val_accuracy"] is not None for t in trials) else None}
    print(row, flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8, help="trials per phase")
    ap.add_argument("--concurrency", type=int, default=4, help="trials sharing the GPU (4 = gpu: 0.25)")
    ap.add_argument("--architecture", default="resnet18")
    ap.add_argument("--data", default="fake", help="fake | digits")
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--fake-samples", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args(argv)

    gpu = check_gpu()
    configs = [{"architecture": args.architecture, "data": args.data, "image_size": args.image_size,
                "fake_samples": args.fake_samples, "epochs": args.epochs, "batch_size": args.batch_size,
                "learning_rate": 1e-3 * (1 + i % 4), "optimizer": "adamw", "device": "cuda", "seed": i,
                "num_workers": 2} for i in range(args.trials)]
    t0 = time.perf_counter()
    exclusive = phase("gpu: 1 (one at a time)", configs, 1)
    packed = phase(f"gpu: {1 / args.concurrency:g} ({args.concurrency} at a time)", configs, args.concurrency)
    ratio = packed["trials_per_hour"] / exclusive["trials_per_hour"]
    print(f"\nGPU {gpu}")
    print("| phase | trials | wall s | trials/hour | mean trial s | mean GPU util % | max GPU mem MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in (exclusive, packed):
        print(f"| {r['phase']} | {r['trials']} | {r['wall_s']} | {r['trials_per_hour']} | {r['trial_s_mean']} | "
              f"{r['gpu_util_mean']} | {r['gpu_mem_max_mib']} |")
    print(f"packed / exclusive trials-per-hour ratio: {ratio:.2f}x  (total {time.perf_counter() - t0:.0f}s)")
    import datetime as dt
    import platform

    import torch

    out = REPO / "bench" / "results" / "gpu_packing.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                               "machine": {"uname": " ".join(platform.uname()), "gpu": gpu, "cores": os.cpu_count()},
                               "torch": torch.__version__, "load_at_end": list(os.getloadavg()), "args": vars(args),
                               "rows": [exclusive, packed], "ratio": ratio}, indent=1))
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
