"""Run a sweep on Ray: claim the directory, connect (embedded local Ray or a cluster), check fit,
Tuner.fit, results.

Orchestration only: where files go and who may write them is ``storage.py``; the callbacks are
``callbacks.py``. ``run_sweep_file`` and ``resume_sweep`` return the CLI exit code: 0 success,
1 some trials errored (or the storage failed mid-run), 130 interrupted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sweeprunner.compile.compiler import CompiledSweep, compile_sweep, quiet_search_libraries
from sweeprunner.config.parse import load_sweep, parse_sweep
from sweeprunner.config.spec import SweepSpec
from sweeprunner.errors import SweepConfigError
from sweeprunner.results.records import (
    BEST_YAML,
    HISTORIES_CSV,
    LAUNCH_FILE,
    REPORT_HTML,
    RESULTS_CSV,
    RESULTS_PARQUET,
    finished_ids,
    launch_info,
    record_trial_info,
    saved_trial_ids,
    serve_sweep_dir,
    set_aside_unknown,
)
from sweeprunner.results.tables import load_trials, summary_table, write_results
from sweeprunner.run.storage import (
    SweepLock,
    check_experiment_state,
    check_storage,
    claim_sweep_directory,
    is_uri,
    records_directory,
    slug,
    sweep_directory,
    upload_results,
    write_launch_file,
)

if TYPE_CHECKING:
    from ray.tune import Callback, RunConfig, Tuner

    from sweeprunner.run.callbacks import ProgressView

__all__ = ["LaunchOptions", "connect", "make_trial_function", "records_directory", "resume_sweep", "run_sweep",
           "run_sweep_file", "sweep_directory", "upload_results"]
from sweeprunner.trial.protocol import IN_TRIAL_ENV, NUM_CPUS_ENV

#: Checkpoints kept per trial: the latest ones, enough to cover the last saved experiment state.
CHECKPOINTS_TO_KEEP = 3


@dataclass(frozen=True)
class LaunchOptions:
    """How to reach Ray and how much to print."""

    address: str | None = None
    num_cpus: int | None = None
    num_gpus: int | None = None
    quiet: bool = False


def connect(options: LaunchOptions) -> None:
    """Start an embedded local Ray, or connect to the cluster at ``--address``/``$RAY_ADDRESS``."""
    import ray

    from sweeprunner.run.output import one_line_ray_errors

    os.environ.setdefault("RAY_CHDIR_TO_TRIAL_DIR", "0")  # trials keep the user's working directory
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # sweeprunner prints its own progress
    # Rows without the metric are fine (wandb.log of other keys; a resumed trial that was already
    # done reports nothing); a metric no trial ever reports is flagged in the summary instead.
    os.environ.setdefault("TUNE_DISABLE_STRICT_METRIC_CHECKING", "1")
    # Save the experiment state (what `resume` restores) every second rather than every >= 10 s: a
    # killed driver's state must not point at a checkpoint that retention has since deleted.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # A failed trial's traceback goes to its error.txt and the summary names it with its last line;
    # Ray would also print the whole traceback to the console, which sweeprunner never does.
    os.environ.setdefault("TUNE_PRINT_ALL_TRIAL_ERRORS", "0")
    one_line_ray_errors()
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


def make_trial_function(spec: SweepSpec, workdir: str, sweep_dir: str | None = None, *,
                        function: Callable[..., Any] | None = None) -> Callable[[dict[str, Any]], None]:
    """The function each trial runs: the user's trainable, in the user's directory, seeing only its GPUs.

    ``function`` (a callable, as ``sweeprunner.agent(..., function=train)`` passes) replaces the
    config's trainable/program. A trial that the sweep's event log already records as finished or
    stopped returns at once: after a driver crash Ray may not have saved that state and would
    otherwise run it again.
    """
    from sweeprunner.trainables import BUILTIN
    from sweeprunner.trial.adapters import make_trainable
    from sweeprunner.trial.failures import run_once
    from sweeprunner.trial.preflight import check_runnable

    if function is None and not (spec.runner.trainable or spec.program or spec.command):
        raise SweepConfigError.single(("sweeprunner", "trainable"), "nothing to run: set sweeprunner.trainable "
                                      f"(one of {sorted(BUILTIN)} or module:function), or program/command")
    target = BUILTIN.get(spec.runner.trainable, spec.runner.trainable) if spec.runner.trainable else None
    program, command = (spec.program, spec.command) if function is None else (None, None)
    try:
        inner = make_trainable(function if function is not None else target, program=program, command=command,
                               wandb_shim=spec.runner.wandb_shim,
                               metric_name=spec.metric.name if spec.metric else None,
                               metric_mode=spec.metric.mode if spec.metric else None, workdir=workdir,
                               timeout_s=spec.runner.trial_timeout_s)
    except ValueError as exc:
        raise SweepConfigError.single(("sweeprunner", "trainable"), str(exc)) from None
    if function is None:
        check_runnable(spec, workdir)  # before Ray starts: what would fail in every trial
    uses_gpu = spec.runner.resources.gpu > 0
    cpus = max(1, int(spec.runner.resources.cpu))

    def trial(config: dict[str, Any]) -> None:
        import ray
        from ray import tune

        if os.path.isdir(workdir):
            os.chdir(workdir)
        os.environ[IN_TRIAL_ENV] = "1"
        if not uses_gpu:
            os.environ["CUDA_VISIBLE_DEVICES"] = ""  # Ray 2.60 leaves it unset: a CPU trial would see every GPU
        os.environ[NUM_CPUS_ENV] = str(cpus)
        ctx = tune.get_context()
        trial_id = ctx.get_trial_id()
        if sweep_dir and trial_id in finished_ids(sweep_dir):
            return
        info = {"trial_id": trial_id, "node": ray.util.get_node_ip_address(),
                "node_id": ray.get_runtime_context().get_node_id(),
                "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "pid": os.getpid()}
        if sweep_dir and os.path.isdir(sweep_dir):  # the sweep directory is reachable from this node
            record_trial_info(sweep_dir, trial_id, info)
        run_once(inner, config, sweep_dir, trial_id)  # an error that would repeat fails once, unretried

    trial.__name__ = slug(getattr(function, "__name__", None) or spec.runner.trainable
                          or Path(spec.program or "command").stem).replace("-", "_").replace(".", "_")
    return trial


def _reuse_actors(spec: SweepSpec) -> bool:
    """Reuse worker processes (saves ~1 s per trial) unless trials hold GPUs, whose memory a fresh process frees."""
    return spec.runner.resources.gpu == 0


def _run_config(compiled: CompiledSweep, sweep_dir: str, callbacks: list[Callback]) -> RunConfig:
    from ray.tune import CheckpointConfig, FailureConfig, RunConfig, SyncConfig

    parent, name = sweep_dir.rsplit("/", 1)
    return RunConfig(
        name=name, storage_path=parent, stop=compiled.stopper, callbacks=callbacks, verbose=0, log_to_file=True,
        failure_config=FailureConfig(max_failures=compiled.spec.runner.max_failures),
        checkpoint_config=CheckpointConfig(num_to_keep=CHECKPOINTS_TO_KEEP),
        sync_config=SyncConfig(sync_artifacts=True),  # trial files written on a node without the storage path
    )


def _check_cluster(compiled: CompiledSweep, sweep_dir: str) -> None:
    from sweeprunner.run.cluster import (
        autoscaler_node_types,
        check_fit,
        cluster_hosts,
        cluster_nodes,
    )

    check_fit(compiled.resources, cluster_nodes(), autoscaler_node_types())
    check_storage(sweep_dir, cluster_hosts())


def wandb_callbacks(spec: SweepSpec) -> list[Callback]:
    """Ray's WandbLoggerCallback when ``sweeprunner.log_to_wandb`` asks for it (real wandb needed)."""
    if not spec.runner.log_to_wandb:
        return []
    from sweeprunner.trial.adapters import wandb_logger_callback

    try:
        return [wandb_logger_callback(project=spec.project or spec.name or "sweeprunner", entity=spec.entity,
                                      group=spec.name)]
    except ValueError as exc:
        raise SweepConfigError.single(("sweeprunner", "log_to_wandb"), str(exc)) from None


@dataclass(frozen=True)
class _Prepared:
    """Everything one fit needs, built once (building it is also what validates it)."""

    compiled: CompiledSweep
    trial: Any  # tune.with_resources(trial function)
    progress: ProgressView
    callbacks: list[Callback]


def _prepare(spec: SweepSpec, records_dir: str, quiet: bool, *, function: Callable[..., Any] | None = None,
             compiled: CompiledSweep | None = None) -> _Prepared:
    """Build the trial function, the callbacks and the compiled sweep; config errors come before Ray starts.

    ``compiled``: an agent call's own budget; by default the whole sweep (random/bayes without a
    budget run until stopped)."""
    from ray import tune

    from sweeprunner.run.callbacks import driver_callbacks
    from sweeprunner.run.output import SilentTrialLines, hide_ray_lines
    from sweeprunner.run.report_refresh import ReportRefresher

    trial_fn = make_trial_function(spec, os.getcwd(), records_dir, function=function)  # a bad trainable is a config error
    extra = wandb_callbacks(spec)  # so is log_to_wandb without the wandb package
    serve_sweep_dir(records_dir)  # the searcher and scheduler Ray unpickles on resume read this directory
    if compiled is None:
        compiled = compile_sweep(spec, experiment_dir=records_dir)
    metric = spec.metric
    progress, recorder = driver_callbacks(records_dir, total=compiled.num_samples, quiet=quiet,
                                          metric=metric.name if metric else None, mode=metric.mode if metric else None)
    hide_ray_lines()
    return _Prepared(compiled, tune.with_resources(trial_fn, compiled.placement_group()), progress,
                     [recorder, progress, ReportRefresher(records_dir), SilentTrialLines(), *extra])


def _finish(records_dir: str, total: int, stopper: Any, *, earlier: frozenset[str] = frozenset(),
            resume: str | None = None) -> int:
    """Write the result files, print the summary, return the exit code.

    ``earlier``: trials of earlier agent calls on the same sweep (the exit code is about this
    call's); ``resume``: how to continue, when not ``python -m sweeprunner resume DIR``.
    """
    from sweeprunner.run.report_refresh import safe_write_report

    trials = write_results(records_dir)
    report = safe_write_report(records_dir)
    print(summary_table(trials), flush=True)
    metric = trials.attrs.get("metric")
    if metric and not trials.empty and trials["best_metric"].isna().all() and (trials["status"] != "errored").any():
        print(f"warning: no trial reported the metric {metric!r}: check metric.name against what the trainable "
              "reports (see histories.csv for the reported keys)")
    files = [RESULTS_CSV, RESULTS_PARQUET, HISTORIES_CSV] + [BEST_YAML] * (Path(records_dir) / BEST_YAML).is_file()
    print(f"\nresults: {records_dir}  ({', '.join(files)})")
    if report:
        print(f"report: {report}")
    resume = resume or f"python -m sweeprunner resume {records_dir}"
    if earlier and not trials.empty:
        trials = trials[~trials["trial_id"].isin(earlier)]
    reached = getattr(stopper, "reached_by", None)
    if reached:
        print(f"metric target reached by trial {reached}: sweep stopped")
        return 1 if not trials.empty and (trials["status"] == "errored").any() else 0
    if total < 0:  # ran until stopped: stopping it is how it ends
        print(f"stopped after {len(trials)} trial(s); continue with: {resume}")
        return 130
    done = 0 if trials.empty else int((trials["status"] != "incomplete").sum())
    if trials.empty or (trials["status"] == "incomplete").any() or done < total:
        left = max(total - done, int((trials["status"] == "incomplete").sum()) if not trials.empty else 0)
        print(f"interrupted with {left} trial(s) left; continue with: {resume}")
        return 130
    return 1 if (trials["status"] == "errored").any() else 0


def trials_text(num_samples: int) -> str:
    """``N trials``, or what a sweep without a budget does."""
    if num_samples >= 0:
        return f"{num_samples} trials"
    return "runs until stopped (no run_cap or --count, as `wandb agent` without --count): Ctrl-C ends it, `resume` continues it"


def _storage_failed(records_dir: str, error: Exception) -> int:
    """The sweep directory became unwritable mid-run (full disk): say so, show what was kept, how to go on."""
    print(f"error: the sweep stopped: cannot write its records: {error}", flush=True)
    try:
        print(summary_table(load_trials(records_dir)[0]), flush=True)
    except (OSError, ValueError):
        pass
    print(f"free space (or fix the storage), then continue with: python -m sweeprunner resume {records_dir}",
          flush=True)
    return 1


def _fit(prepared: _Prepared, *, experiment_path: str, records_dir: str, options: LaunchOptions, restore: bool,
         earlier: frozenset[str] = frozenset(), resume: str | None = None) -> int:
    from ray import tune
    from ray.tune import TuneError

    from sweeprunner.run.callbacks import RecordsUnwritable

    quiet_search_libraries()  # process-wide logging belongs to the run entry, not to compiling
    compiled = prepared.compiled
    tuner: Tuner
    if restore and not _restorable(compiled, experiment_path, records_dir):
        restore = False  # start Ray afresh in the same directory; the records say what is done
    if not options.quiet:
        print(f"report: {Path(records_dir) / REPORT_HTML} (rewritten about every 30 s while the sweep runs)", flush=True)
    if restore:
        known = None if is_uri(experiment_path) else saved_trial_ids(experiment_path)
        if known is not None:
            set_aside_unknown(records_dir, known)
        # Ray unpickles its saved callbacks, searcher and scheduler: they resolve to this driver's
        # (see callbacks.py and records.serve_sweep_dir), so they read this directory.
        tuner = tune.Tuner.restore(experiment_path, prepared.trial, resume_unfinished=True, resume_errored=True)
        if not options.quiet:
            of = f" of {compiled.num_samples}" if compiled.num_samples >= 0 else " (runs until stopped)"
            print(f"resuming {experiment_path}: {len(prepared.progress.finished)}{of} trial(s) already done", flush=True)
    else:
        tuner = tune.Tuner(prepared.trial, param_space={},
                           tune_config=compiled.tune_config(reuse_actors=_reuse_actors(compiled.spec)),
                           run_config=_run_config(compiled, experiment_path, prepared.callbacks))
    try:
        tuner.fit()
        code = _finish(records_dir, compiled.num_samples, compiled.stopper, earlier=earlier, resume=resume)
    except (RecordsUnwritable, OSError) as exc:
        return _storage_failed(records_dir, exc)
    except TuneError as exc:  # Ray may wrap a callback's exception: find ours
        cause = _find_cause(exc, (RecordsUnwritable, OSError))
        if cause is None:
            raise
        return _storage_failed(records_dir, cause)
    if experiment_path != records_dir:
        upload_results(records_dir, experiment_path)
    return code


def _restorable(compiled: CompiledSweep, experiment_path: str, records_dir: str) -> bool:
    """Can Ray restore its saved state? A truncated state (full disk) is set aside for the previous one.

    With none left, a planned sweep (grid, random) goes on from the records: finished trials are
    kept, unfinished ones are set aside and rerun from scratch. Other searchers can't: exit 2."""
    from sweeprunner.compile.searchers import PlannedSearcher

    damaged, readable = check_experiment_state(experiment_path)
    if readable:
        for name in damaged:
            print(f"warning: Ray's experiment state {name} is truncated (a full disk?): set aside as "
                  f"{name}.damaged; resuming from the previous one", flush=True)
        return True
    if not isinstance(compiled.search_alg, PlannedSearcher):
        raise SweepConfigError.single(("directory",), f"{experiment_path}: Ray's experiment state {damaged[0]} is "
                                      f"truncated (a full disk?) and no earlier one exists; a {compiled.spec.method} "
                                      "sweep can't continue without it (`python -m sweeprunner results DIR` shows "
                                      "what it recorded)")
    rerun = set_aside_unknown(records_dir, set())
    print(f"warning: Ray's experiment state {damaged[0]} is truncated (a full disk?): continuing from the sweep's "
          f"records: {len(finished_ids(records_dir))} finished trial(s) kept, {len(rerun)} unfinished one(s) "
          "rerun from scratch", flush=True)
    return False


def _find_cause(exc: BaseException | None, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, kinds):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


def run_sweep(spec: SweepSpec, *, options: LaunchOptions = LaunchOptions()) -> int:
    """Run ``spec`` to the end; returns the exit code."""
    claim = claim_sweep_directory(spec)  # exclusive and locked from here on
    try:
        try:
            prepared = _prepare(spec, claim.records_dir, options.quiet)
            connect(options)
            _check_cluster(prepared.compiled, claim.sweep_dir)
            write_launch_file(claim.records_dir, spec, claim.sweep_dir)
        except BaseException:
            claim.abandon()  # nothing started: leave no directory behind
            raise
        if not options.quiet:
            from sweeprunner.run.output import run_warnings

            for warning in run_warnings(spec):  # as `plan` shows them
                print(f"warning: {warning}")
            print(f"sweep {spec.name or spec.source or ''}: {trials_text(prepared.compiled.num_samples)}, results in "
                  f"{claim.records_dir}" + (f" (Ray storage {claim.sweep_dir})" if claim.sweep_dir != claim.records_dir
                                            else ""), flush=True)
        return _fit(prepared, experiment_path=claim.sweep_dir, records_dir=claim.records_dir, options=options,
                    restore=False)
    finally:
        claim.lock.release()


def run_sweep_file(path: str, *, overrides: dict[str, Any] | None = None, options: LaunchOptions = LaunchOptions()) -> int:
    """``sweeprunner run CONFIG``."""
    return run_sweep(load_sweep(path, overrides=overrides), options=options)


def resume_sweep(directory: str, *, options: LaunchOptions = LaunchOptions()) -> int:
    """``sweeprunner resume DIR``: continue the same sweep where it stopped.

    A local sweep directory is its own experiment, wherever it was moved; only URI storage is read
    from the launch record."""
    from ray import tune

    records_dir = str(Path(directory).expanduser().resolve())
    info = launch_info(records_dir)  # a damaged record is a config error naming the file
    if not info:
        raise SweepConfigError.single(("directory",), f"{records_dir} is not a sweeprunner sweep directory (no {LAUNCH_FILE})")
    recorded = info.get("experiment_path") or ""
    experiment_path = recorded if is_uri(recorded) else records_dir
    spec = parse_sweep(info["config"], source=info.get("source"))
    if info.get("sweep_id") and not (spec.runner.trainable or spec.program or spec.command):
        raise SweepConfigError.single(("directory",), f"sweep {info['sweep_id']} runs a Python function (agent(..., "
                                      f"function=...)): continue it with sweeprunner.agent({info['sweep_id']!r}, function=train)")
    try:
        lock = SweepLock(records_dir).acquire()  # a second `resume` of this directory stops here
    except OSError as exc:
        raise SweepConfigError.single(("directory",), f"{records_dir}: cannot lock it: {exc.strerror or exc}") from None
    try:
        if not tune.Tuner.can_restore(experiment_path):
            raise SweepConfigError.single(("directory",), f"{experiment_path} has no Ray Tune experiment state to resume")
        if os.path.isdir(info.get("workdir") or ""):
            os.chdir(info["workdir"])
        prepared = _prepare(spec, records_dir, options.quiet)
        connect(options)
        _check_cluster(prepared.compiled, experiment_path)
        return _fit(prepared, experiment_path=experiment_path, records_dir=records_dir, options=options, restore=True)
    finally:
        lock.release()
