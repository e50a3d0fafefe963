"""The Python sweep API: W&B's ``sweep``/``agent`` workflow and the native ``run_sweep``.

``sweep(config)`` validates a config (a dict or a YAML path), creates the sweep directory the CLI
would create and returns a sweep id. ``agent(sweep_id, function=train, count=N)`` runs ``count``
trials of that sweep on Ray (embedded local Ray, or the cluster ``RAY_ADDRESS``/``ray.init``
names), with the CLI's progress view and result files, and blocks until they are done. Calling
``agent`` again continues the same sweep: grid and random with their next points, bayes with the
same Optuna model (the searcher state Ray Tune saved in the sweep directory is restored).

``run_sweep(config, trainable=train)`` is both at once and returns the results as DataFrames.

Inside a trial (a module that a trial imports may call ``wandb.sweep``/``wandb.agent`` at its top
level) both are no-ops: ``sweep`` returns the running sweep's id and ``agent`` returns at once.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import secrets
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sweeprunner.config.parse import load_sweep, parse_sweep
from sweeprunner.config.spec import SweepSpec
from sweeprunner.errors import SweepConfigError
from sweeprunner.results.records import LAUNCH_FILE, launch_info, trial_ids
from sweeprunner.results.tables import load_trials
from sweeprunner.run.launch import LaunchOptions, trials_text
from sweeprunner.run.storage import SweepLock, claim_sweep_directory, write_launch_file
from sweeprunner.trial.protocol import IN_TRIAL_ENV, SWEEP_ID_ENV

__all__ = ["SweepResults", "agent", "run_sweep", "sweep"]

#: Sweeps created in this process: sweep id -> sweep directory.
_SWEEPS: dict[str, str] = {}


@dataclasses.dataclass(frozen=True)
class SweepResults:
    """What :func:`run_sweep` returns: the sweep directory and its results as DataFrames."""

    sweep_id: str
    directory: str
    trials: Any  # pandas.DataFrame: one row per trial (results.csv)
    histories: Any  # pandas.DataFrame: one row per reported result (histories.csv)
    exit_code: int  # as the CLI's: 0 ok, 1 some trials errored, 130 interrupted

    @property
    def best(self) -> dict[str, Any] | None:
        """The best trial's row (by the sweep metric), or None when no trial reported it."""
        if self.trials.empty or "best_metric" not in self.trials or self.trials["best_metric"].isna().all():
            return None
        return self.trials.iloc[0].to_dict()  # load_trials sorts best first


def in_trial() -> bool:
    """True inside a sweeprunner trial process (where a nested sweep must not start)."""
    return os.environ.get(IN_TRIAL_ENV) == "1"


def _load_config(config: Mapping[str, Any] | str | os.PathLike[str], overrides: Mapping[str, Any] | None,
                 extra: Mapping[str, Any]) -> SweepSpec:
    if isinstance(config, str | os.PathLike):
        spec = load_sweep(config, overrides=overrides)
        if not extra:
            return spec
        raw, source = dict(spec.raw), spec.source
    elif isinstance(config, Mapping):
        raw, source = copy.deepcopy(dict(config)), None
    else:
        raise SweepConfigError.single(("sweep",), f"expected a config dict or a YAML path, got {type(config).__name__}")
    for key, value in extra.items():
        raw.setdefault(key, value)
    return parse_sweep(raw, source=source, overrides=overrides)


def sweep(sweep: Mapping[str, Any] | str | os.PathLike[str], entity: str | None = None, project: str | None = None,
          prior_runs: Any = None, *, storage: str | None = None, **overrides: Any) -> str:
    """Create a sweep from a config dict or YAML path; return its id (as ``wandb.sweep``).

    ``storage`` and other keyword arguments override the config's ``sweeprunner:`` block (as the
    CLI's flags do). The sweep directory is created now; nothing runs until :func:`agent`.
    """
    if in_trial():
        return os.environ.get(SWEEP_ID_ENV, "")
    if storage is not None:
        overrides["storage"] = storage
    extra = {k: v for k, v in (("entity", entity), ("project", project)) if v is not None}
    spec = _load_config(sweep, overrides or None, extra)
    sweep_id = secrets.token_hex(4)
    named = spec if spec.name or not (project or spec.project) else dataclasses.replace(spec, name=project or spec.project)
    claim = claim_sweep_directory(named)  # ./sweeps/<name, else the project>/<timestamp>, exclusive, as the CLI's
    try:
        write_launch_file(claim.records_dir, spec, claim.sweep_dir, sweep_id=sweep_id)
    except BaseException:
        claim.abandon()
        raise
    finally:
        claim.lock.release()  # agent() locks it while it runs
    records_dir = claim.records_dir
    _SWEEPS[sweep_id] = records_dir
    print(f"sweeprunner: created sweep {sweep_id} in {records_dir}", file=sys.stderr, flush=True)
    return sweep_id


def sweep_dir_of(sweep_id: str) -> str:
    """The directory of a sweep id made by :func:`sweep` (this process, or under ./sweeps), or a sweep directory."""
    if sweep_id in _SWEEPS:
        return _SWEEPS[sweep_id]
    path = Path(sweep_id).expanduser()
    if (path / LAUNCH_FILE).is_file():
        return str(path.resolve())
    for candidate in sorted(Path.cwd().glob(f"sweeps/*/*/{LAUNCH_FILE}")):
        if launch_info(candidate.parent).get("sweep_id") == sweep_id:
            return str(candidate.parent.resolve())
    raise SweepConfigError.single(("sweep_id",), f"no sweep {sweep_id!r}: create it with sweeprunner.sweep(config) "
                                  "(in this process or this directory), or pass its sweep directory")


def agent(sweep_id: str, function: Callable[..., Any] | None = None, entity: str | None = None,
          project: str | None = None, count: int | None = None, *, address: str | None = None,
          num_cpus: int | None = None, num_gpus: int | None = None, quiet: bool = False) -> None:
    """Run ``count`` trials of a sweep on Ray and block until they are done (as ``wandb.agent``).

    ``function`` is the W&B-style ``train()`` (or a native ``train(config)``); without it the
    sweep's ``program``/``sweeprunner.trainable`` runs. Without ``count`` (and without
    ``run_cap``), random and bayes run until stopped (Ctrl-C); grid runs to its last point.
    One agent packs all of Ray's CPUs/GPUs with trials, so there is no need for one per GPU.
    """
    if in_trial():
        print("sweeprunner: agent() called inside a trial (a top-level call in an imported module?): ignored",
              file=sys.stderr)
        return
    run_agent(sweep_id, function=function, count=count,
              options=LaunchOptions(address=address, num_cpus=num_cpus, num_gpus=num_gpus, quiet=quiet))


def _budget(spec: SweepSpec, started: int, count: int | None) -> int | None:
    """How many trials this agent call runs; None: until stopped."""
    if count is not None and count < 1:
        raise SweepConfigError.single(("count",), f"must be >= 1, got {count}")
    if spec.method == "grid":
        from sweeprunner.compile.compiler import planned_points

        left = max(0, len(planned_points(spec) or []) - started)
        return min(left, count) if count else left
    cap = spec.run_cap
    if cap is None:
        return count or spec.runner.count
    left = max(0, cap - started)
    return min(left, count) if count else left


def _restore_searcher(search_alg: Any, experiment_path: str) -> bool:
    """Continue the searcher of an earlier agent call from the state Ray Tune saved; False if none."""
    from sweeprunner.compile.searchers import PlannedSearcher

    base = search_alg
    while hasattr(base, "searcher"):  # ConcurrencyLimiter
        base = base.searcher
    if not any(Path(experiment_path).glob(base.CKPT_FILE_TMPL.format("*"))):
        return False
    plan = base.points if isinstance(base, PlannedSearcher) else None
    base.restore_from_dir(experiment_path)
    if plan is not None:  # the same plan (spec and seed), sized for this call: random draws further on
        base.points = plan
    return True


def run_agent(sweep_id: str, *, function: Callable[..., Any] | None = None, count: int | None = None,
              options: LaunchOptions | None = None) -> int:
    """One agent call; returns the CLI's exit code (0 ok, 1 some trials errored, 130 interrupted)."""
    options = options or LaunchOptions()
    from sweeprunner.compile.compiler import compile_sweep
    from sweeprunner.run import launch

    records_dir = sweep_dir_of(sweep_id)
    info = launch_info(records_dir)
    spec = parse_sweep(info["config"], source=info.get("source"))
    experiment_path = info.get("experiment_path") or records_dir
    try:
        lock = SweepLock(records_dir).acquire()  # one agent (or resume) of a sweep at a time
    except OSError as exc:
        raise SweepConfigError.single(("sweep_id",), f"{records_dir}: cannot lock it: {exc.strerror or exc}") from None
    try:
        earlier = frozenset(trial_ids(records_dir))
        started = len(earlier)
        num = _budget(spec, started, count)
        if num == 0:
            print(f"sweep {sweep_id}: all {started} trial(s) already run", file=sys.stderr, flush=True)
            return 0
        if num is None:  # random/bayes without run_cap or count: until stopped, as `wandb agent` without --count
            compiled = compile_sweep(spec, experiment_dir=records_dir)
        else:
            budget = dataclasses.replace(spec, runner=dataclasses.replace(spec.runner, count=started + num))
            compiled = compile_sweep(budget if spec.method != "grid" else spec, experiment_dir=records_dir)
            compiled = dataclasses.replace(compiled, num_samples=num)
        prepared = launch._prepare(spec, records_dir, options.quiet, function=function, compiled=compiled)
        launch.connect(options)
        launch._check_cluster(compiled, experiment_path)
        os.environ[SWEEP_ID_ENV] = str(info.get("sweep_id") or sweep_id)  # trials inherit it (sweep() there)
        continued = _restore_searcher(compiled.search_alg, experiment_path)
        if not options.quiet:
            from sweeprunner.run.output import run_warnings

            for warning in run_warnings(spec) if not continued else ():
                print(f"warning: {warning}")
            print(f"agent for sweep {sweep_id}: {trials_text(compiled.num_samples)}"
                  + (f", after {started} earlier" if continued else "")
                  + f"; results in {records_dir}", flush=True)
        resume = f"sweeprunner.agent({sweep_id!r}, function={getattr(function, '__name__', 'train')})" if function else None
        return launch._fit(prepared, experiment_path=experiment_path, records_dir=records_dir, options=options,
                           restore=False, earlier=earlier, resume=resume)
    finally:
        lock.release()


def run_sweep(config: Mapping[str, Any] | str | os.PathLike[str], trainable: Callable[..., Any] | None = None, *,
              count: int | None = None, storage: str | None = None, address: str | None = None,
              num_cpus: int | None = None, num_gpus: int | None = None, quiet: bool = False,
              **overrides: Any) -> SweepResults:
    """Run a whole sweep and return its results as DataFrames (the native API).

    ``config`` is a sweep config dict or YAML path; ``trainable`` a function ``train(config)``
    that reports with ``sweeprunner.session.report`` (or a W&B-style ``train()``); without it the
    config's ``sweeprunner.trainable``/``program`` runs. ``count`` is the trial budget for
    random/bayes when the config has no ``run_cap``; ``overrides`` replace keys of the config's
    ``sweeprunner:`` block (``seed=``, ``max_concurrent_trials=``...).
    """
    sweep_id = sweep(config, storage=storage, **overrides)
    code = run_agent(sweep_id, function=trainable, count=count,
                     options=LaunchOptions(address=address, num_cpus=num_cpus, num_gpus=num_gpus, quiet=quiet))
    directory = sweep_dir_of(sweep_id)
    trials, histories = load_trials(directory)
    return SweepResults(sweep_id=sweep_id, directory=directory, trials=trials, histories=histories, exit_code=code)
