"""Data-parallel trials with torch.distributed directly (no Ray): one process per GPU.

The trial process stays the reporter: it restores the checkpoint, spawns ``world_size``
worker processes, and forwards rank 0's reports (metrics + checkpoint directory) to
:func:`sweeprunner.session.report`. Rank 0 waits for each report to be taken before it
deletes its checkpoint directory. Workers exit when the trial process goes away.
"""

from __future__ import annotations

import datetime
import os
import queue
import shutil
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sweeprunner.trial import session

#: ``worker(config, rank, world_size, reporter, restore_dir)``; reporter is None off rank 0.
Worker = Callable[[dict[str, Any], int, int, Callable[..., None] | None, str | None], None]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _QueueReporter:
    """Rank 0's ``report``: hand the row to the trial process and wait until it is stored."""

    def __init__(self, reports: Any, acks: Any) -> None:
        self.reports, self.acks = reports, acks

    def __call__(self, metrics: dict[str, Any], *, checkpoint_dir: str | None = None) -> None:
        self.reports.put(("report", dict(metrics), checkpoint_dir))
        self.acks.get()


def _exit_with_parent() -> None:
    parent = mp.parent_process()
    while parent is not None and parent.is_alive():
        time.sleep(1.0)
    os._exit(1)


def _entry(
    worker: Worker,
    rank: int,
    world_size: int,
    backend: str,
    port: int,
    config: dict[str, Any],
    restore_dir: str | None,
    cpus: int,
    reports: Any,
    acks: Any,
) -> None:
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    torch.set_num_threads(max(1, cpus))
    try:
        if backend == "nccl":
            torch.cuda.set_device(rank)
        dist.init_process_group(
            backend,
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(minutes=30),
        )
        reporter = _QueueReporter(reports, acks) if rank == 0 else None
        worker(config, rank, world_size, reporter, restore_dir)
        dist.barrier()
        dist.destroy_process_group()
    except BaseException:
        reports.put(("error", rank, traceback.format_exc()))
        raise


def _stop(procs: list[Any]) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()


def launch(worker: Worker, config: dict[str, Any], world_size: int, *, backend: str) -> None:
    """Run ``worker`` on ``world_size`` processes; raise RuntimeError if any rank fails."""
    ctx = mp.get_context("spawn")
    reports, acks = ctx.Queue(), ctx.Queue()
    cpus = max(1, session.assigned_cpus() // world_size)
    with tempfile.TemporaryDirectory(prefix="sweeprunner-ddp-") as scratch:
        restore_dir = None
        with session.restored_checkpoint() as restored:
            if restored is not None:
                restore_dir = str(Path(scratch) / "restored")
                shutil.copytree(restored, restore_dir)
        port = free_port()
        procs = [
            ctx.Process(
                target=_entry,
                args=(
                    worker,
                    rank,
                    world_size,
                    backend,
                    port,
                    config,
                    restore_dir,
                    cpus,
                    reports,
                    acks,
                ),
                name=f"sweeprunner-ddp-rank{rank}",
            )
            for rank in range(world_size)
        ]
        for proc in procs:
            proc.start()
        try:
            _relay(procs, reports, acks)
        finally:
            _stop(procs)


def _relay(procs: list[Any], reports: Any, acks: Any) -> None:
    while True:
        try:
            message = reports.get(timeout=0.5)
        except queue.Empty:
            message = None
        if message is None:
            codes = [proc.exitcode for proc in procs]
            failed = [(rank, code) for rank, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                rank, code = failed[0]
                raise RuntimeError(f"DDP rank {rank} exited with code {code}")
            if all(code == 0 for code in codes):
                return
            continue
        if message[0] == "error":
            _, rank, text = message
            raise RuntimeError(f"DDP rank {rank} failed:\n{text}")
        _, metrics, checkpoint_dir = message
        try:
            session.report(metrics, checkpoint_dir=checkpoint_dir)
        finally:
            acks.put(True)


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum a few numbers over all ranks (identity when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()
