"""Rehearse the `ray up cluster/gpu.yaml` workflow on this one machine.

    python cluster/rehearse.py [--mode auto|sweep|tune] [--json OUT] [--keep DIR]

1. Starts an autoscaling Ray head with Ray's fake multi-node provider (cluster/fake-local.yaml),
   token authentication on, in a private temp dir with its own token file and free ports, so it
   never touches another Ray instance on the host (it never runs `ray stop`).
2. Checks the security properties a real head must have: the dashboard/job API answers 401
   without the token and 403 with a wrong one, listens on 127.0.0.1 only, the token file is 0600,
   and `ray start` with token mode but no token fails with a clear error.
3. Submits a sweep as a Ray job through the job API (`ray job submit`, like a user through
   `ray dashboard`'s tunnel): `python -m sweeprunner run cluster/rehearsal-sweep.yaml` when
   sweeprunner's launcher exists (mode `sweep`), else the plain Ray Tune twin
   cluster/rehearsal_tune.py (mode `tune`). Trials ask for {cpu: 0.5, gpu: 0.5}.
4. Watches the autoscaler add fake GPU nodes, the job finish, the trials land on >= 2 nodes,
   and the nodes be removed again after the idle timeout.
5. Stops exactly the processes it started (its `ray start --block` process group, then any
   process still referring to its private temp dir) and checks that none is left.

Prints a JSON report (and writes it to --json); exit status 0 only if every check passed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
CLUSTER = REPO / "cluster"
BIN = Path(sys.executable).parent
RAY = str(BIN / "ray")

# Bounds (seconds). The whole rehearsal normally takes well under two minutes.
HEAD_START_TIMEOUT = 90
JOB_TIMEOUT = 240
SCALE_DOWN_TIMEOUT = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_ip() -> str:
    """The IP Ray will advertise for this host (what the fake workers must dial)."""
    from ray._private.services import get_node_ip_address

    return get_node_ip_address()


def listening_addresses(port: int) -> list[str]:
    """Local addresses with a TCP socket in LISTEN state on `port` (from /proc/net/tcp{,6})."""
    found = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                addr, hexport = fields[1].split(":")
                if fields[3] != "0A" or int(hexport, 16) != port:  # 0A = LISTEN
                    continue
                raw = bytes.fromhex(addr)
                # /proc stores each 32-bit word in host (little-endian) order.
                raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                found.add(socket.inet_ntop(socket.AF_INET6 if v6 else socket.AF_INET, raw))
    return sorted(found)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def launcher_available() -> bool:
    """True when sweeprunner's Ray launcher (the `run` command) is importable."""
    sys.path.insert(0, str(REPO))
    try:
        return importlib.util.find_spec("sweeprunner.run.launch") is not None
    except ImportError:
        return False
    finally:
        sys.path.remove(str(REPO))


class Rehearsal:
    def __init__(self, mode: str, keep: Path | None) -> None:
        self.mode = mode
        # Short path: Ray's unix sockets live under the temp dir (108-byte limit).
        self.tmp = Path(tempfile.mkdtemp(prefix="srr-", dir="/tmp"))
        self.keep = keep
        self.report: dict[str, Any] = {"mode": mode, "temp_dir": str(self.tmp), "checks": {}}
        self.head: subprocess.Popen | None = None
        self.t0 = time.monotonic()
        self.ports = {
            "gcs": free_port(),
            "dashboard": free_port(),
            "client": free_port(),
            "dashboard_agent": free_port(),
            "metrics": free_port(),
        }
        self.token_path = self.tmp / "auth_token"
        self.dashboard_url = f"http://127.0.0.1:{self.ports['dashboard']}"
        self.env = self._env()

    # ------------------------------------------------------------------ setup

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        env.update(
            RAY_AUTH_MODE="token",  # what gpu.yaml exports in every start command
            RAY_AUTH_TOKEN_PATH=str(self.token_path),  # our own token, not ~/.ray/auth_token
            RAY_FAKE_CLUSTER="1",
            AUTOSCALER_UPDATE_INTERVAL_S="1",
            RAY_USAGE_STATS_ENABLED="0",
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            # Trials and the job driver import sweeprunner from this checkout.
            PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p),
            # Stop at once on SIGTERM instead of draining for 30 s (nothing to drain here).
            RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="0",
            TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S="0",
        )
        return env

    def elapsed(self) -> float:
        return round(time.monotonic() - self.t0, 1)

    def check(self, name: str, ok: bool, detail: Any = None) -> bool:
        self.report["checks"][name] = {"ok": bool(ok), "detail": detail}
        print(f"[{self.elapsed():6.1f}s] {'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
        return ok

    def log(self, msg: str) -> None:
        print(f"[{self.elapsed():6.1f}s] {msg}", flush=True)

    def write_token(self) -> None:
        # Same format as `ray get-auth-token --generate` (64 hex chars), written 0600 like
        # gpu.yaml's setup does on every node.
        fd = os.open(self.token_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        self.token = self.token_path.read_text().strip()
        mode = stat.S_IMODE(self.token_path.stat().st_mode)
        self.check("token_file_mode_0600", mode == 0o600, oct(mode))

    def write_cluster_config(self) -> Path:
        cfg = yaml.safe_load((CLUSTER / "fake-local.yaml").read_text())
        cfg["provider"]["gcs_address"] = f"{node_ip()}:{self.ports['gcs']}"
        path = self.tmp / "cluster.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    def check_missing_token_fails(self) -> None:
        """`ray start --head` in token mode without any token must refuse to start."""
        env = dict(self.env, RAY_AUTH_TOKEN_PATH=str(self.tmp / "no-such-token"), HOME=str(self.tmp))
        env.pop("RAY_FAKE_CLUSTER")
        neg_tmp = self.tmp / "neg"
        cmd = [RAY, "start", "--head", f"--port={free_port()}", f"--temp-dir={neg_tmp}",
               "--num-cpus=0", "--include-dashboard=false", "--disable-usage-stats"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60,
                              start_new_session=True)
        out = proc.stdout + proc.stderr
        self.check(
            "ray_start_without_token_fails",
            proc.returncode != 0 and "token" in out.lower(),
            {"rc": proc.returncode, "message": next(
                (ln.strip() for ln in reversed(out.splitlines()) if "token" in ln.lower()),
                out[-300:])},
        )

    def start_head(self, config: Path) -> None:
        cmd = [
            RAY, "start", "--head", "--block",
            f"--port={self.ports['gcs']}",
            f"--temp-dir={self.tmp / 'ray'}",
            f"--autoscaling-config={config}",
            "--num-cpus=1", "--num-gpus=0",
            f"--dashboard-port={self.ports['dashboard']}",
            f"--ray-client-server-port={self.ports['client']}",
            f"--dashboard-agent-listen-port={self.ports['dashboard_agent']}",
            f"--metrics-export-port={self.ports['metrics']}",
            "--disable-usage-stats",
            # No --dashboard-host: the default must be 127.0.0.1 (checked below), as in gpu.yaml.
        ]
        self.head_log = open(self.tmp / "head.log", "w")
        self.head = subprocess.Popen(cmd, env=self.env, stdout=self.head_log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.log(f"started head pid {self.head.pid} gcs port {self.ports['gcs']} "
                 f"dashboard {self.dashboard_url}")
        deadline = time.monotonic() + HEAD_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.head.poll() is not None:
                raise RuntimeError(f"ray start exited rc={self.head.returncode}; see head.log:\n"
                                   + (self.tmp / "head.log").read_text()[-3000:])
            if self.http_status("/api/version", self.token) == 200:
                self.log("dashboard is up")
                return
            time.sleep(1)
        raise TimeoutError("dashboard did not come up; head.log:\n"
                           + (self.tmp / "head.log").read_text()[-3000:])

    # ------------------------------------------------------------------ probes

    def http_status(self, path: str, token: str | None) -> int | None:
        req = urllib.request.Request(self.dashboard_url + path)
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code
        except (urllib.error.URLError, OSError):
            return None

    def check_head_security(self) -> None:
        self.check("dashboard_rejects_missing_token",
                   self.http_status("/api/version", None) == 401,
                   self.http_status("/api/version", None))
        self.check("dashboard_rejects_wrong_token",
                   self.http_status("/api/version", "0" * 64) == 403,
                   self.http_status("/api/version", "0" * 64))
        binds = listening_addresses(self.ports["dashboard"])
        self.check("dashboard_binds_loopback_only", binds == ["127.0.0.1"], binds)

    def nodes(self) -> list[dict[str, Any]]:
        from ray.util.state import list_nodes

        return [
            {"node_id": n.node_id, "state": n.state, "is_head": n.is_head_node,
             "gpus": (n.resources_total or {}).get("GPU", 0)}
            for n in list_nodes(address=self.dashboard_url, limit=1000, raise_on_missing_output=False)
        ]

    def alive_gpu_nodes(self) -> set[str]:
        return {n["node_id"] for n in self.nodes() if n["state"] == "ALIVE" and n["gpus"] > 0}

    def gpu_trial_nodes(self) -> dict[str, int]:
        """Node id -> number of trial actors (actors that held a GPU) that ran there."""
        from ray.util.state import list_actors

        counts: dict[str, int] = {}
        actors = list_actors(address=self.dashboard_url, limit=10000, detail=True,
                             raise_on_missing_output=False)
        self.report["actors"] = [
            {"class": a.class_name, "node": a.node_id, "state": a.state,
             "resources": a.required_resources} for a in actors
        ]
        for a in actors:
            # Trials run in placement groups: their demand shows as GPU_group_<pg id> etc.
            gpu = sum(v for k, v in (a.required_resources or {}).items()
                      if k == "GPU" or k.startswith("GPU_group_"))
            if gpu > 0 and a.node_id:
                counts[a.node_id] = counts.get(a.node_id, 0) + 1
        return counts

    # ------------------------------------------------------------------ the job

    def entrypoint(self) -> str:
        storage = self.tmp / "storage"
        py = sys.executable
        if self.mode == "sweep":
            sweep = CLUSTER / "rehearsal-sweep.yaml"
            return (f"{py} -m sweeprunner run {sweep} --address auto "
                    f"--storage {storage} --quiet")
        return f"{py} {CLUSTER / 'rehearsal_tune.py'} --storage {storage}"

    def run_job(self) -> None:
        from ray.job_submission import JobStatus, JobSubmissionClient

        before = self.alive_gpu_nodes()
        self.check("no_gpu_nodes_before_job", not before, len(before))

        # The same call `ray job submit --address http://127.0.0.1:8265 -- ...` makes; the
        # client reads the token from RAY_AUTH_TOKEN_PATH because RAY_AUTH_MODE=token.
        client = JobSubmissionClient(self.dashboard_url)
        entrypoint = self.entrypoint()
        job_id = client.submit_job(entrypoint=entrypoint)
        self.log(f"submitted job {job_id}: {entrypoint}")
        self.report["job"] = {"id": job_id, "entrypoint": entrypoint}

        seen_gpu_nodes: set[str] = set()
        max_alive = 0
        first_node_at = None
        deadline = time.monotonic() + JOB_TIMEOUT
        status = None
        while time.monotonic() < deadline:
            status = client.get_job_status(job_id)
            alive = self.alive_gpu_nodes()
            seen_gpu_nodes |= alive
            if alive and first_node_at is None:
                first_node_at = self.elapsed()
                self.log(f"first GPU node up: {sorted(alive)}")
            if len(alive) > max_alive:
                max_alive = len(alive)
                self.log(f"alive GPU nodes: {max_alive}")
            if status in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}:
                break
            time.sleep(1)
        logs = client.get_job_logs(job_id)
        (self.tmp / "job.log").write_text(logs)
        self.report["job"].update(status=str(status), finished_at_s=self.elapsed(),
                                  log_tail=logs[-2000:])
        self.check("job_succeeded", status == JobStatus.SUCCEEDED, str(status))
        self.check("autoscaler_added_gpu_nodes", max_alive >= 2,
                   {"max_alive_gpu_nodes": max_alive, "first_node_at_s": first_node_at})

        trial_nodes = self.gpu_trial_nodes()
        self.report["trial_nodes"] = trial_nodes
        self.check("trials_spread_over_2_nodes",
                   len(trial_nodes) >= 2 and set(trial_nodes) <= seen_gpu_nodes,
                   trial_nodes)
        self.check_results(logs)
        self.wait_scale_down()

    def check_results(self, logs: str) -> None:
        storage = self.tmp / "storage"
        results = sorted(storage.rglob("result.json"))
        finished = 0
        for r in results:
            rows = [json.loads(ln) for ln in r.read_text().splitlines() if ln.strip()]
            if rows and rows[-1].get("epoch") == 7:
                finished += 1
        self.check("all_4_trials_finished_8_epochs", finished == 4,
                   {"trials_with_results": len(results), "finished": finished})
        if self.mode == "tune":
            line = next((ln for ln in logs.splitlines() if ln.startswith("REHEARSAL_RESULT ")), None)
            summary = json.loads(line.split(" ", 1)[1]) if line else None
            self.check("tune_reported_no_errors",
                       bool(summary) and summary["trials"] == 4 and summary["errors"] == 0,
                       summary)

    def wait_scale_down(self) -> None:
        start = time.monotonic()
        deadline = start + SCALE_DOWN_TIMEOUT
        alive = self.alive_gpu_nodes()
        while alive and time.monotonic() < deadline:
            time.sleep(1)
            alive = self.alive_gpu_nodes()
        took = round(time.monotonic() - start, 1)
        self.check("gpu_nodes_scaled_down", not alive,
                   {"alive_gpu_nodes": len(alive), "waited_s": took})

    # ------------------------------------------------------------------ teardown

    def our_processes(self) -> list[int]:
        """Processes that belong to this rehearsal: they refer to our private temp dir in their
        command line or environment (every process Ray started for us inherits
        RAY_AUTH_TOKEN_PATH=<temp dir>/auth_token)."""
        marker = str(self.tmp).encode()
        mine = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            if marker in cmdline or marker in environ:
                mine.append(int(entry))
        return mine

    def teardown(self) -> None:
        if self.head is not None and self.head.poll() is None:
            # `ray start --block` stops the processes it started when it gets SIGTERM.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.head.pid, signal.SIGTERM)
            try:
                self.head.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.head.pid, signal.SIGKILL)
                self.head.wait(timeout=10)
        # Fake worker nodes, workers and agents that outlived the head (e.g. other sessions).
        for sig_ in (signal.SIGTERM, signal.SIGKILL):
            procs = self.our_processes()
            for pid in procs:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig_)
            deadline = time.monotonic() + 10
            while procs and time.monotonic() < deadline:
                time.sleep(0.2)
                procs = [pid for pid in procs if Path(f"/proc/{pid}").exists()
                         and not _is_zombie(pid)]
        left = self.our_processes()
        left = [pid for pid in left if not _is_zombie(pid)]
        self.check("no_processes_left", not left, left)
        if self.keep is not None:
            shutil.copytree(self.tmp, self.keep, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("sockets", "*.sock"), symlinks=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self) -> bool:
        try:
            self.write_token()
            self.check_missing_token_fails()
            config = self.write_cluster_config()
            self.start_head(config)
            self.check_head_security()
            self.run_job()
        except Exception as e:  # reported as a failed check, after cleanup
            self.check("rehearsal_ran", False, f"{type(e).__name__}: {e}")
        finally:
            self.teardown()
        self.report["wall_s"] = self.elapsed()
        self.report["ok"] = all(c["ok"] for c in self.report["checks"].values())
        return self.report["ok"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["auto", "sweep", "tune"], default="auto",
                        help="sweep: python -m sweeprunner run; tune: plain Ray Tune script; "
                             "auto: sweep if sweeprunner.run.launch exists, else tune")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--keep", type=Path, help="copy the temp dir (logs, results) here")
    args = parser.parse_args(argv)
    mode = args.mode
    if mode == "auto":
        mode = "sweep" if launcher_available() else "tune"
    rehearsal = Rehearsal(mode, args.keep)
    # Auth env for this process too: the job/state clients read the token like `ray` CLIs do.
    for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH"):
        os.environ[k] = rehearsal.env[k]
    os.environ.pop("RAY_AUTH_TOKEN", None)
    os.environ.pop("RAY_ADDRESS", None)
    ok = rehearsal.run()
    text = json.dumps(rehearsal.report, indent=2, default=str)
    if args.json:
        args.json.write_text(text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
