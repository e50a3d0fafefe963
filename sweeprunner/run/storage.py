"""Where a sweep's files go, and who may write there: directory naming, exclusive claim, lock, checks.

The driver's storage side, apart from Ray: ``launch.py`` asks this module for a directory it owns
exclusively (created atomically and locked before Ray starts), writes the launch record through
it, and at the end copies the results to URI storage. File names are ``results.records``'s.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import re
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from sweeprunner.config.spec import SweepSpec
from sweeprunner.errors import SweepConfigError
from sweeprunner.results.records import LAUNCH_FILE, LOCK_FILE, write_json_atomic
from sweeprunner.trial.protocol import SHARED_STORAGE_ENV

SHARED_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "lustre", "gpfs", "beegfs", "ceph", "glusterfs", "fuse")
_URI = re.compile(r"^[a-z][a-z0-9+.-]*://")
_STORAGE = ("sweeprunner", "storage")


def is_uri(path: str) -> bool:
    return bool(_URI.match(path))


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "sweep"


def sweep_directory(spec: SweepSpec, now: dt.datetime | None = None) -> str:
    """Where results go: ``sweeprunner.storage`` as given, else ``./sweeps/<name>/<timestamp>`` (absolute).

    The timestamp has millisecond resolution; :func:`claim_sweep_directory` adds a random suffix
    when the name is taken."""
    if spec.runner.storage:
        storage = spec.runner.storage
        return storage.rstrip("/") if is_uri(storage) else str(Path(storage).expanduser().resolve())
    name = slug(spec.name or (Path(spec.source).stem if spec.source else "sweep"))
    now = now or dt.datetime.now()
    stamp = now.strftime("%Y%m%d-%H%M%S") + f"-{now.microsecond // 1000:03d}"
    return str((Path.cwd() / "sweeps" / name / stamp).resolve())


def records_directory(sweep_dir: str) -> str:
    """Where the driver keeps records and result files: the sweep directory, or for a URI a local mirror."""
    if not is_uri(sweep_dir):
        return sweep_dir
    return str((Path.cwd() / "sweeps" / sweep_dir.rstrip("/").rsplit("/", 1)[-1]).resolve())


def unwritable(path: str | Path, exc: OSError) -> SweepConfigError:
    """The config error for storage that can't be written (read-only, not a directory, full)."""
    return SweepConfigError.single(_STORAGE, f"{path}: cannot write the sweep directory there: "
                                   f"{exc.strerror or exc} (choose another --storage)")


class SweepLock:
    """An exclusive lock on a sweep directory, held by one driver (``run`` or ``resume``) at a time.

    ``flock`` on ``sweeprunner.lock``: the kernel drops it when the holder dies, so a stale lock
    (killed driver) is recovered by the next one. The file names the holder (pid, host) for the
    refusal message. Where flock is unsupported, a live pid on this host (or any other host) holds it.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> SweepLock:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise self._held(holder) from None
            except OSError:  # no flock on this filesystem: trust the recorded holder when it is alive
                holder = _read_holder(fd)
                if holder and not _is_stale(holder):
                    os.close(fd)
                    raise self._held(holder) from None
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same_file = False
            if same_file:  # not a file a releasing holder unlinked meanwhile
                break
            os.close(fd)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self._fd = fd
        return self

    def _held(self, holder: dict[str, Any]) -> SweepConfigError:
        who = (f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, since {holder.get('since', '?')}"
               if holder else "a process that did not say who it is")
        return SweepConfigError.single(("directory",), f"{self.directory} is in use by another sweeprunner driver "
                                       f"({who}): wait for it to end, or stop it first")

    def release(self) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _is_stale(holder: dict[str, Any]) -> bool:
    """A holder on this host whose process is gone."""
    if holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(holder.get("pid", 0)), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, TypeError):
        return False
    return False


class Claim:
    """A sweep directory this driver owns: created (or found empty) and locked."""

    def __init__(self, sweep_dir: str, records_dir: str, lock: SweepLock, created: bool,
                 created_root: Path | None = None) -> None:
        self.sweep_dir, self.records_dir, self.lock, self.created = sweep_dir, records_dir, lock, created
        self.created_root = created_root  # the outermost folder this claim created (e.g. ./sweeps)

    def abandon(self) -> None:
        """Nothing was started (a config error): unlock and remove the folders this claim made."""
        self.lock.release()
        if not self.created:
            return
        path = Path(self.records_dir)
        stop = self.created_root or path
        while True:
            try:
                path.rmdir()  # only ever an empty folder
            except OSError:
                return
            if path == stop or path.parent == path:
                return
            path = path.parent


def claim_sweep_directory(spec: SweepSpec, now: dt.datetime | None = None) -> Claim:
    """Create and lock the sweep's records directory before anything else runs.

    A generated name is created with an atomic ``mkdir`` (a random suffix when taken), so two
    runs started at once get two directories. A given ``--storage`` is locked; one that already
    holds a sweep is refused. Unwritable storage is a config error naming the path."""
    sweep_dir = sweep_directory(spec, now)
    records_dir = records_directory(sweep_dir)
    generated = not spec.runner.storage
    path = Path(records_dir)
    created_root = next((p for p in reversed(path.parents) if not p.exists()), None)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        created = False
        while not created:
            try:
                path.mkdir()
                created = True
            except FileExistsError:
                if not generated:
                    if not path.is_dir():
                        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path)) from None
                    break
                path = path.with_name(f"{Path(sweep_directory(spec, now)).name}-{secrets.token_hex(2)}")
        records_dir = str(path)
        if generated:
            sweep_dir = records_dir
        lock = SweepLock(records_dir).acquire()
    except OSError as exc:
        raise unwritable(path, exc) from None
    if (path / LAUNCH_FILE).exists():
        lock.release()
        raise SweepConfigError.single(_STORAGE, f"{records_dir} already holds a sweep: continue it with "
                                      f"`python -m sweeprunner resume {records_dir}` or choose another --storage")
    return Claim(sweep_dir, records_dir, lock, created, created_root if generated else None)


def write_launch_file(records_dir: str, spec: SweepSpec, experiment_path: str, **extra: Any) -> None:
    """The launch record ``resume`` and ``results`` read. A local experiment path is not stored: the
    directory ``resume`` is given is the experiment (so a moved directory resumes from itself)."""
    record = {"config": spec.raw, "source": spec.source, "workdir": os.getcwd(),
              "experiment_path": experiment_path if is_uri(experiment_path) else None,
              "metric": spec.metric.name if spec.metric else None, "mode": spec.metric.mode if spec.metric else None, **extra}
    try:
        write_json_atomic(Path(records_dir) / LAUNCH_FILE, record, indent=2)
    except OSError as exc:
        raise unwritable(records_dir, exc) from None


def _filesystem_type(path: Path) -> str:
    """The mount's filesystem type for ``path`` (from /proc/mounts), or ''."""
    best, fstype = "", ""
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and str(path).startswith(parts[1]) and len(parts[1]) >= len(best):
                best, fstype = parts[1], parts[2]
    except OSError:
        pass
    return fstype


def check_storage(directory: str, hosts: set[str]) -> None:
    """A cluster spanning several hosts needs storage every node can reach."""
    if is_uri(directory) or len(hosts) <= 1 or os.environ.get(SHARED_STORAGE_ENV) == "1":
        return
    fstype = _filesystem_type(Path(directory))
    if fstype.startswith(SHARED_FILESYSTEMS):
        return
    raise SweepConfigError.single(
        _STORAGE,
        f"{directory} is on this node only ({fstype or 'local'} filesystem) but the cluster has {len(hosts)} hosts: "
        "set --storage s3://bucket/path (or gs://), or a shared filesystem path mounted on every node "
        "(set SWEEPRUNNER_SHARED_STORAGE=1 if it is shared but not detected)")


#: Ray's other driver-state files, restored with the experiment state (searcher, search generator, callbacks).
_DRIVER_STATE_PATTERNS = ("searcher-state-*.pkl", "search_gen_state-*.json", "callback-states-*.pkl")


def _truncated(path: Path) -> bool:
    """A state file cut off by a full disk: an experiment state (JSON) that doesn't parse, or a pickle
    without its final STOP (Ray pickles the search-generator state too, despite its ``.json`` name)."""
    try:
        data = path.read_bytes()
        if path.name.startswith("experiment_state-"):
            json.loads(data)
            return False
    except (OSError, ValueError):
        return True
    return not data.endswith(b".")


def check_experiment_state(experiment_path: str) -> tuple[list[str], bool]:
    """Set aside Ray experiment-state files that don't parse (cut off by a full disk), so Ray restores
    the newest readable one rather than silently starting over with no trials. If the newest searcher,
    search-generator or callback state is cut off, Ray can't restore either (it would start over):
    that file is set aside and no readable state is reported.

    Returns the names set aside and whether a readable state is left."""
    if is_uri(experiment_path):
        return [], True
    damaged = []
    readable = False
    for state in sorted(Path(experiment_path).glob("experiment_state-*.json"), reverse=True):
        if not _truncated(state):
            readable = True
            break
        state.rename(state.with_name(state.name + ".damaged"))
        damaged.append(state.name)
    for pattern in _DRIVER_STATE_PATTERNS if readable else ():
        newest = max(Path(experiment_path).glob(pattern), default=None)
        if newest is not None and _truncated(newest):
            newest.rename(newest.with_name(newest.name + ".damaged"))
            damaged.append(newest.name)
            readable = False
    return damaged, readable


def upload_results(records_dir: str, uri: str) -> None:
    """Copy the result files and records next to Ray's experiment files at a storage URI."""
    import pyarrow.fs

    filesystem, path = pyarrow.fs.FileSystem.from_uri(uri)
    pyarrow.fs.copy_files(records_dir, path, destination_filesystem=filesystem)
    print(f"results also at {uri}")
