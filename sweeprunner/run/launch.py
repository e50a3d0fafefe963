"""Run a sweep on Ray: connect (embedded local Ray or a cluster), check fit, Tuner.fit, results.

The only module with side effects on Ray. ``run_sweep_file`` and ``resume_sweep`` return the
CLI exit code: 0 success, 1 some trials errored, 130 interrupted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeprunner.compile.compiler import CompiledSweep, compile_sweep
from sweeprunner.config.parse import load_sweep, parse_sweep
from sweeprunner.config.spec import SweepSpec
from sweeprunner.errors import SweepConfigError
from sweeprunner.results.records import (
    RECORDS_DIR,
    finished_ids,
    saved_trial_ids,
    set_aside_unknown,
)
from sweeprunner.results.tables import LAUNCH_FILE, summary_table, write_results

#: Checkpoints kept per trial: the latest ones, enough to cover the last saved experiment state.
CHECKPOINTS_TO_KEEP = 3
SHARED_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "lustre", "gpfs", "beegfs", "ceph", "glusterfs", "fuse")
_URI = re.compile(r"^[a-z][a-z0-9+.-]*://")


@dataclass(frozen=True)
class LaunchOptions:
    """How to reach Ray and how much to print."""

    address: str | None = None
    num_cpus: int | None = None
    num_gpus: int | None = None
    quiet: bool = False


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "sweep"


def sweep_directory(spec: SweepSpec, now: dt.datetime | None = None) -> str:
    """Where results go: ``sweeprunner.storage`` as given, else ``./sweeps/<name>/<timestamp>`` (absolute)."""
    if spec.runner.storage:
        storage = spec.runner.storage
        return storage.rstrip("/") if _URI.match(storage) else str(Path(storage).expanduser().resolve())
    name = _slug(spec.name or (Path(spec.source).stem if spec.source else "sweep"))
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return str((Path.cwd() / "sweeps" / name / stamp).resolve())


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
    if _URI.match(directory) or len(hosts) <= 1 or os.environ.get("SWEEPRUNNER_SHARED_STORAGE") == "1":
        return
    fstype = _filesystem_type(Path(directory))
    if fstype.startswith(SHARED_FILESYSTEMS):
        return
    raise SweepConfigError.single(
        ("sweeprunner", "storage"),
        f"{directory} is on this node only ({fstype or 'local'} filesystem) but the cluster has {len(hosts)} hosts: "
        "set --storage s3://bucket/path (or gs://), or a shared filesystem path mounted on every node "
        "(set SWEEPRUNNER_SHARED_STORAGE=1 if it is shared but not detected)")


def connect(options: LaunchOptions) -> None:
    """Start an embedded local Ray, or connect to the cluster at ``--address``/``$RAY_ADDRESS``."""
    import ray

    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")  # trials keep the user's working directory
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # sweeprunner prints its own progress
    # Rows without the metric are fine (wandb.log of other keys; a resumed trial that was already
    # done reports nothing); a metric no trial ever reports is flagged in the summary instead.
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    # Save the experiment state (what `resume` restores) every second rather than every >= 10 s: a
    # killed driver's state must not point at a checkpoint that retention has since deleted.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    if ray.is_initialized():
        return
    address = options.address or os.environ.get("RAY_ADDRESS")
    if address:
        try:
            ray.init(address=address, log_to_driver=False)
        except ConnectionError as exc:
            raise SweepConfigError.single(
                ("--address",), f"cannot connect to the Ray cluster at {address}: {exc}. With token auth "
                "(Ray 2.60's default) export RAY_AUTH_MODE=token and RAY_AUTH_TOKEN_PATH (or ~/.ray/auth_token)") from None
        return
    # address="local": always a new embedded Ray, never a cluster that happens to run on this machine
    ray.init(address="local", num_cpus=options.num_cpus, num_gpus=options.num_gpus, include_dashboard=False,
             log_to_driver=False)


def make_trial_function(spec: SweepSpec, workdir: str, sweep_dir: str | None = None) -> Any:
    """The function each trial runs: the user's trainable, in the user's directory, seeing only its GPUs.

    A trial that the sweep's event log already records as finished or stopped returns at once:
    after a driver crash Ray may not have saved that state and would otherwise run it again.
    """
    from sweeprunner.trainables import BUILTIN
    from sweeprunner.trial.adapters import make_trainable

    if not (spec.runner.trainable or spec.program or spec.command):
        raise SweepConfigError.single(("sweeprunner", "trainable"), "nothing to run: set sweeprunner.trainable "
                                      f"(one of {sorted(BUILTIN)} or module:function), or program/command")
    target = BUILTIN.get(spec.runner.trainable, spec.runner.trainable) if spec.runner.trainable else None
    try:
        inner = make_trainable(target, program=spec.program, command=spec.command, wandb_shim=spec.runner.wandb_shim,
                               metric_name=spec.metric.name if spec.metric else None, workdir=workdir)
    except ValueError as exc:
        raise SweepConfigError.single(("sweeprunner", "trainable"), str(exc)) from None
    uses_gpu = spec.runner.resources.gpu > 0
    cpus = max(1, int(spec.runner.resources.cpu))

    def trial(config: dict[str, Any]) -> None:
        import ray
        from ray import tune

        if os.path.isdir(workdir):
            os.chdir(workdir)
        if not uses_gpu:
            os.environ["CUDA_VISIBLE_DEVICES"] = ""  # Ray 2.60 leaves it unset: a CPU trial would see every GPU
        os.environ["SWEEPRUNNER_NUM_CPUS"] = str(cpus)
        ctx = tune.get_context()
        trial_id = ctx.get_trial_id()
        if sweep_dir and trial_id in finished_ids(sweep_dir):
            return
        info = {"trial_id": trial_id, "node": ray.util.get_node_ip_address(),
                "node_id": ray.get_runtime_context().get_node_id(),
                "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "pid": os.getpid()}
        if sweep_dir and os.path.isdir(sweep_dir):  # the sweep directory is reachable from this node
            records = Path(sweep_dir) / RECORDS_DIR
            records.mkdir(exist_ok=True)
            path = records / f"{trial_id}.info.json"
            starts = json.loads(path.read_text()).get("starts", []) if path.is_file() else []
            path.write_text(json.dumps({**info, "starts": [*starts, info]}))  # one entry per (re)start
        inner(config)

    trial.__name__ = _slug(spec.runner.trainable or Path(spec.program or "command").stem).replace("-", "_").replace(".", "_")
    return trial


def _reuse_actors(spec: SweepSpec) -> bool:
    """Reuse worker processes (saves ~1 s per trial) unless trials hold GPUs, whose memory a fresh process frees."""
    return spec.runner.resources.gpu == 0


def _run_config(spec: SweepSpec, compiled: CompiledSweep, sweep_dir: str, callbacks: list[Any]) -> Any:
    from ray.tune import CheckpointConfig, FailureConfig, RunConfig

    parent, name = sweep_dir.rsplit("/", 1)
    return RunConfig(
        name=name, storage_path=parent, stop=compiled.stopper, callbacks=callbacks, verbose=0, log_to_file=True,
        failure_config=FailureConfig(max_failures=spec.runner.max_failures),
        checkpoint_config=CheckpointConfig(num_to_keep=CHECKPOINTS_TO_KEEP),
    )


def _check_cluster(spec: SweepSpec, compiled: CompiledSweep, sweep_dir: str) -> None:
    from sweeprunner.run.cluster import (
        autoscaler_node_types,
        check_fit,
        cluster_hosts,
        cluster_nodes,
    )

    check_fit(compiled.resources, cluster_nodes(), autoscaler_node_types())
    check_storage(sweep_dir, cluster_hosts())


def wandb_callbacks(spec: SweepSpec) -> list[Any]:
    """Ray's WandbLoggerCallback when ``sweeprunner.log_to_wandb`` asks for it (real wandb needed)."""
    if not spec.runner.log_to_wandb:
        return []
    from sweeprunner.trial.adapters import wandb_logger_callback

    try:
        return [wandb_logger_callback(project=spec.project or spec.name or "sweeprunner", entity=spec.entity,
                                      group=spec.name)]
    except ValueError as exc:
        raise SweepConfigError.single(("sweeprunner", "log_to_wandb"), str(exc)) from None


def _callbacks(compiled: CompiledSweep, records_dir: str, quiet: bool) -> tuple[Any, list[Any]]:
    """The progress view and the callbacks (durable records first) for one fit."""
    from sweeprunner.run.callbacks import ProgressView, TrialRecorder

    metric = compiled.spec.metric
    recorder = TrialRecorder(records_dir)
    progress = ProgressView(total=compiled.num_samples, metric=metric.name if metric else None,
                            mode=metric.mode if metric else None, recorder=recorder, quiet=quiet)
    return progress, [recorder, progress, *wandb_callbacks(compiled.spec)]


def _finish(records_dir: str, progress: Any, total: int, stopper: Any) -> int:
    """Write the result files, print the summary, return the exit code."""
    trials = write_results(records_dir)
    print(summary_table(trials), flush=True)
    metric = trials.attrs.get("metric")
    if metric and not trials.empty and trials["best_metric"].isna().all():
        print(f"warning: no trial reported the metric {metric!r}: check metric.name against what the trainable "
              "reports (see histories.csv for the reported keys)")
    print(f"\nresults: {records_dir}  (results.csv, results.parquet, histories.csv, best.yaml)")
    reached = getattr(stopper, "reached_by", None)
    if reached:
        print(f"metric target reached by trial {reached}: sweep stopped")
        return 1 if not trials.empty and (trials["status"] == "errored").any() else 0
    if trials.empty or (trials["status"] == "incomplete").any() or len(trials) < total:
        left = total - int((trials["status"] != "incomplete").sum()) if not trials.empty else total
        print(f"interrupted with {left} trial(s) left; continue with: python -m sweeprunner resume {records_dir}")
        return 130
    return 1 if (trials["status"] == "errored").any() else 0


def records_directory(sweep_dir: str) -> str:
    """Where the driver keeps records and result files: the sweep directory, or for a URI a local mirror."""
    if not _URI.match(sweep_dir):
        return sweep_dir
    return str((Path.cwd() / "sweeps" / sweep_dir.rstrip("/").rsplit("/", 1)[-1]).resolve())


def _fit(spec: SweepSpec, compiled: CompiledSweep, *, experiment_path: str, records_dir: str,
         options: LaunchOptions, restore: bool) -> int:
    from ray import tune

    from sweeprunner.compile.compiler import quiet_search_libraries

    quiet_search_libraries()  # process-wide logging belongs to the run entry, not to compiling
    workdir = os.getcwd()
    trial_fn = tune.with_resources(make_trial_function(spec, workdir, records_dir), compiled.placement_group())
    progress, callbacks = _callbacks(compiled, records_dir, options.quiet)
    if restore:
        known = None if _URI.match(experiment_path) else saved_trial_ids(experiment_path)
        if known is not None:
            set_aside_unknown(records_dir, known)
        done_before = finished_ids(records_dir)
        progress.finished |= done_before
        tuner = tune.Tuner.restore(experiment_path, trial_fn, resume_unfinished=True, resume_errored=True)
        tuner._local_tuner.get_run_config().callbacks = callbacks  # this process's views, not the pickled ones
        if not options.quiet:
            print(f"resuming {experiment_path}: {len(done_before)} of {compiled.num_samples} trial(s) already done",
                  flush=True)
    else:
        tuner = tune.Tuner(trial_fn, param_space={},
                           tune_config=compiled.tune_config(reuse_actors=_reuse_actors(spec)),
                           run_config=_run_config(spec, compiled, experiment_path, callbacks))
    tuner.fit()
    code = _finish(records_dir, progress, compiled.num_samples, compiled.stopper)
    if experiment_path != records_dir:
        upload_results(records_dir, experiment_path)
    return code


def upload_results(records_dir: str, uri: str) -> None:
    """Copy the result files and records next to Ray's experiment files at a storage URI."""
    import pyarrow.fs

    filesystem, path = pyarrow.fs.FileSystem.from_uri(uri)
    pyarrow.fs.copy_files(records_dir, path, destination_filesystem=filesystem)
    print(f"results also at {uri}")


def run_sweep(spec: SweepSpec, *, options: LaunchOptions = LaunchOptions()) -> int:
    """Run ``spec`` to the end; returns the exit code."""
    sweep_dir = sweep_directory(spec)
    records_dir = records_directory(sweep_dir)
    if any(Path(records_dir).glob(LAUNCH_FILE)):
        raise SweepConfigError.single(("sweeprunner", "storage"), f"{records_dir} already holds a sweep: continue it "
                                      f"with `python -m sweeprunner resume {records_dir}` or choose another --storage")
    make_trial_function(spec, os.getcwd())  # a bad trainable is a config error before Ray starts
    wandb_callbacks(spec)  # so is log_to_wandb without the wandb package
    compiled = compile_sweep(spec, experiment_dir=records_dir)
    connect(options)
    _check_cluster(spec, compiled, sweep_dir)
    Path(records_dir).mkdir(parents=True, exist_ok=True)
    record = {"config": spec.raw, "source": spec.source, "workdir": os.getcwd(), "experiment_path": sweep_dir,
              "metric": spec.metric.name if spec.metric else None, "mode": spec.metric.mode if spec.metric else None}
    (Path(records_dir) / LAUNCH_FILE).write_text(json.dumps(record, indent=2, default=str))
    if not options.quiet:
        for warning in spec.warnings:
            print(f"warning: {warning}")
        print(f"sweep {spec.name or spec.source or ''}: {compiled.num_samples} trials, results in {records_dir}"
              + (f" (Ray storage {sweep_dir})" if sweep_dir != records_dir else ""), flush=True)
    return _fit(spec, compiled, experiment_path=sweep_dir, records_dir=records_dir, options=options, restore=False)


def run_sweep_file(path: str, *, overrides: dict[str, Any] | None = None, options: LaunchOptions = LaunchOptions()) -> int:
    """``sweeprunner run CONFIG``."""
    return run_sweep(load_sweep(path, overrides=overrides), options=options)


def resume_sweep(directory: str, *, options: LaunchOptions = LaunchOptions()) -> int:
    """``sweeprunner resume DIR``: continue the same sweep where it stopped."""
    from ray import tune

    records_dir = str(Path(directory).expanduser().resolve())
    info_path = Path(records_dir) / LAUNCH_FILE
    if not info_path.is_file():
        raise SweepConfigError.single(("directory",), f"{records_dir} is not a sweeprunner sweep directory (no {LAUNCH_FILE})")
    info = json.loads(info_path.read_text())
    experiment_path = info.get("experiment_path") or records_dir
    spec = parse_sweep(info["config"], source=info.get("source"))
    if not tune.Tuner.can_restore(experiment_path):
        raise SweepConfigError.single(("directory",), f"{experiment_path} has no Ray Tune experiment state to resume")
    if os.path.isdir(info.get("workdir") or ""):
        os.chdir(info["workdir"])
    compiled = compile_sweep(spec, experiment_dir=records_dir)
    connect(options)
    _check_cluster(spec, compiled, experiment_path)
    return _fit(spec, compiled, experiment_path=experiment_path, records_dir=records_dir, options=options, restore=True)
