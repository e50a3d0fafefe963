"""Subprocess trials: a sweep's ``program`` / ``command`` run once per trial, W&B agent style.

The command is expanded exactly as W&B's agent does (``wandb/wandb_agent.py`` and
``wandb/sdk/launch/sweeps/utils.py``) and run as an argument list, never through a shell, in a
new session (its own process group) under :mod:`sweeprunner.trial.supervisor`. Results reach the sweep as JSON lines on the child's
stdout, ``{"sweeprunner": {"loss": 0.3, ...}}`` (what :mod:`sweeprunner.wandb_compat` and
:func:`sweeprunner.session.report` print inside a child). Every line of stdout and stderr is
kept in the trial directory (``stdout.log``, ``stderr.log``).

Importing this module never imports Ray.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sweeprunner.trial import session
from sweeprunner.trial.protocol import (
    CHECKPOINT_DIR_ENV,
    CONFIG_FILE_ENV,
    JSONL_ENV,
    METRIC_ENV,
    NUM_CPUS_ENV,
    TRIAL_DIR_ENV,
    RowMerger,
    native,
    parse_row,
)
from sweeprunner.trial.supervisor import launch_argv, terminate_group
from sweeprunner.trial.watchdog import TrialTimeout, timeout_message

DEFAULT_COMMAND: tuple[str, ...] = ("${env}", "${interpreter}", "${program}", "${args}")
#: Macros that stand for a whole command item (W&B's ``sweep_vars``), plus ``${envvar:NAME}``.
MACROS = frozenset({
    "env", "interpreter", "program", "args", "args_no_equals", "args_no_hyphens",
    "args_no_boolean_flags", "args_json", "args_json_file", "args_append_hydra",
    "args_override_hydra",
})
ENVVAR_RE = re.compile(r"\$\{envvar\:([A-Z0-9_]*)\}")   # W&B's pattern, verbatim
_SHIM_ROOT = Path(__file__).resolve().parent / "_wandb_shim"
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


class CommandError(RuntimeError):
    """The trial's command exited with a non-zero status (Tune retries, then errors the trial)."""


# ---------------------------------------------------------------------------- expansion

def sweep_args(params: Mapping[str, Any]) -> dict[str, list[str]]:
    """The argument macros for one trial, as W&B's ``create_sweep_command_args`` builds them.

    Values are printed with ``str`` (``True``, ``None``, ``0.001``, ``[1, 2]``, a nested
    parameter as ``{'lr': 0.1}``); ``${args_json}`` is ``json.dumps`` of the top-level dict.
    """
    flags, no_hyphens, no_booleans, no_equals = [], [], [], []
    flat: dict[str, Any] = {}
    for name, raw in params.items():
        value = native(raw)
        flag = f"{name}={value}"
        flags.append("--" + flag)
        no_hyphens.append(flag)
        no_equals += [f"--{name}", str(value)]
        if isinstance(value, bool):
            if value:
                no_booleans.append("--" + name)
        else:
            no_booleans.append("--" + flag)
        flat[name] = value
    return {
        "args": flags,
        "args_no_equals": no_equals,
        "args_no_hyphens": no_hyphens,
        "args_no_boolean_flags": no_booleans,
        "args_json": [json.dumps(flat)],
        "args_append_hydra": ["+" + f for f in no_hyphens],
        "args_override_hydra": ["++" + f for f in no_hyphens],
    }


def _whole_macro(item: str) -> str | None:
    return item[2:-1] if item.startswith("${") and item.endswith("}") else None


def substitute_envvars(item: Any, environ: Mapping[str, str]) -> str:
    """``${envvar:NAME}`` anywhere in an item; an unset NAME is left as the bare name (W&B)."""
    text = str(item)
    for m in reversed(list(ENVVAR_RE.finditer(text))):
        text = text[: m.start()] + environ.get(m.group(1), m.group(1)) + text[m.end():]
    return text


def command_problems(command: Sequence[Any], program: str | None) -> list[str]:
    """Every problem with a ``command`` list (empty when it is fine)."""
    problems = []
    if not command:
        problems.append("command: must be a non-empty list")
    for i, item in enumerate(command):
        if isinstance(item, (Mapping, list, tuple)) or item is None:
            problems.append(f"command[{i}]: must be a string or number, not {item!r}")
            continue
        macro = _whole_macro(str(item))
        if macro is None or ENVVAR_RE.fullmatch(str(item)):
            continue
        if macro not in MACROS:
            problems.append(f"command[{i}]: unknown macro {str(item)!r} (known: "
                            + ", ".join("${" + m + "}" for m in sorted(MACROS)) + ", ${envvar:NAME})")
        elif macro == "program" and not program:
            problems.append(f"command[{i}]: uses ${{program}} but the sweep has no `program`")
    return problems


def expand_command(command: Sequence[Any], program: str | None, params: Mapping[str, Any], *,
                   args_json_file: str, interpreter: str = sys.executable,
                   environ: Mapping[str, str] | None = None) -> list[str]:
    """The argv of one trial: W&B's expansion, with ``${interpreter}`` = this Python."""
    environ = os.environ if environ is None else environ
    macros: dict[str, list[str]] = sweep_args(params)
    macros["interpreter"] = [interpreter]
    macros["program"] = [program] if program else []
    macros["args_json_file"] = [args_json_file]
    macros["env"] = [] if platform.system() == "Windows" else ["/usr/bin/env"]
    argv: list[str] = []
    for raw in command:
        item = substitute_envvars(raw, environ)
        macro = _whole_macro(item)
        if macro is None:
            argv.append(item)
        elif macro in macros:
            argv += macros[macro]
        else:
            raise ValueError(f"unknown command macro {item!r}")
    return argv


# ---------------------------------------------------------------------------- spec

@dataclass(frozen=True)
class CommandSpec:
    """What a subprocess trial runs. ``workdir`` is where ``program`` paths are resolved."""

    program: str | None = None
    command: tuple[str, ...] = DEFAULT_COMMAND
    workdir: str = field(default_factory=os.getcwd)
    wandb_shim: bool = False
    metric: str | None = None
    stop_grace_s: float = 10.0
    extra_env: tuple[tuple[str, str], ...] = ()
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        command = tuple(self.command) if self.command else DEFAULT_COMMAND
        problems = command_problems(command, self.program)
        if problems:
            raise ValueError("\n".join(problems))
        object.__setattr__(self, "command", command)
        object.__setattr__(self, "workdir", str(Path(self.workdir).resolve()))


# ---------------------------------------------------------------------------- process control

_LIVE: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()

@atexit.register
def _kill_live_children() -> None:
    for proc in list(_LIVE):
        terminate_group(proc, grace_s=1.0)


# ---------------------------------------------------------------------------- one trial

def _gpu_env() -> str | None:
    """CUDA_VISIBLE_DEVICES for the child: Ray's value for the trial, "" for a GPU-less trial."""
    resources = session.trial_resources()
    if resources is None:
        return os.environ.get("CUDA_VISIBLE_DEVICES")
    return os.environ.get("CUDA_VISIBLE_DEVICES", "") if resources.get("GPU", 0) else ""


def _child_env(spec: CommandSpec, files: dict[str, Path]) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(_SHIM_ROOT)] if spec.wandb_shim else []
    paths.append(str(_PACKAGE_PARENT))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env.update({
        "PYTHONPATH": os.pathsep.join(paths),
        "PYTHONUNBUFFERED": "1",
        JSONL_ENV: "1",
        TRIAL_DIR_ENV: str(files["dir"]),
        CHECKPOINT_DIR_ENV: str(files["checkpoints"]),
        NUM_CPUS_ENV: str(session.assigned_cpus()),
        CONFIG_FILE_ENV: str(files["config"]),
        "WANDB_RUN_ID": session.trial_id() if "ray" in sys.modules else "standalone",
        "WANDB_SWEEP_PARAM_PATH": str(files["wandb_config"]),
    })
    if session.in_tune():   # as W&B's agent sets the sweep id
        env["WANDB_SWEEP_ID"] = session.sweep_name() or ""
    if spec.metric:
        env[METRIC_ENV] = spec.metric
    else:
        env.pop(METRIC_ENV, None)
    gpus = _gpu_env()
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpus
    env.update(dict(spec.extra_env))
    return env


class _ChildCheckpoints:
    """The child's ``$SWEEPRUNNER_CHECKPOINT_DIR/latest``: seeded on resume, picked up when new."""

    def __init__(self, root: Path) -> None:
        self.latest = root / "latest"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        with session.restored_checkpoint() as restored:
            if restored is not None:
                shutil.copytree(restored, self.latest)
        self._seen = self._signature()

    def _signature(self) -> tuple[int, int] | None:
        try:
            st = self.latest.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    @contextlib.contextmanager
    def new_snapshot(self) -> Iterator[str | None]:
        """A private copy of a checkpoint the child wrote since the last call, else None."""
        sig = self._signature()
        if sig is None or sig == self._seen:
            yield None
            return
        with tempfile.TemporaryDirectory(prefix="sweeprunner-ckpt-") as tmp:
            try:
                shutil.copytree(self.latest, tmp, dirs_exist_ok=True)
            except (OSError, shutil.Error):   # the child is replacing it: take the next one
                yield None
                return
            self._seen = sig
            yield tmp


def _stderr_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _failure_message(rc: int, argv: list[str], stderr_path: Path, spec: CommandSpec) -> str:
    how = f"exited with status {rc}"
    if rc < 0:
        with contextlib.suppress(ValueError):
            how = f"was killed by {signal.Signals(-rc).name}"
    tail = _stderr_tail(stderr_path)
    msg = f"trial command {how}: {shlex.join(argv)}\nstderr ({stderr_path}):\n{tail}"
    if "No module named 'wandb'" in tail and not spec.wandb_shim:
        msg += ("\nhint: the script imports wandb, which is not installed; set "
                "`sweeprunner: {wandb_shim: true}` so `import wandb` uses sweeprunner's module")
    return msg


def run_command(spec: CommandSpec, params: Mapping[str, Any]) -> None:
    """Run one trial's command to completion, reporting each metrics line it prints."""
    trial_dir = session.trial_dir()
    files = {
        "dir": trial_dir,
        "config": trial_dir / "config.json",
        "wandb_config": trial_dir / "config-wandb.yaml",
        "checkpoints": trial_dir / "child_checkpoint",
        "stdout": trial_dir / "stdout.log",
        "stderr": trial_dir / "stderr.log",
    }
    plain = native(dict(params))
    files["config"].write_text(sweep_args(plain)["args_json"][0])
    files["wandb_config"].write_text(yaml.safe_dump({k: {"value": v} for k, v in plain.items()}))
    checkpoints = _ChildCheckpoints(files["checkpoints"])
    argv = expand_command(spec.command, spec.program, plain, args_json_file=str(files["config"]))
    env = _child_env(spec, files)
    with (trial_dir / "command.txt").open("a") as fh:
        fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} cwd={spec.workdir}\n{shlex.join(argv)}\n")

    merger = RowMerger(spec.metric)
    with files["stdout"].open("a") as out, files["stderr"].open("ab") as err:
        try:
            proc = subprocess.Popen(
                launch_argv(argv, spec.stop_grace_s), cwd=spec.workdir, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=err, start_new_session=True,
                text=True, encoding="utf-8", errors="replace",
            )
        except OSError as exc:
            raise CommandError(f"cannot start trial command {shlex.join(argv)}: {exc}") from exc
        _LIVE.add(proc)
        expired = threading.Event()
        timer = threading.Timer(spec.timeout_s or 0, lambda: (expired.set(), terminate_group(proc, spec.stop_grace_s)))
        timer.daemon = True
        if spec.timeout_s:
            timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                out.flush()
                row = parse_row(line)
                if row is None:
                    continue
                for report in merger.push(row):
                    with checkpoints.new_snapshot() as snapshot:
                        session.report(report, checkpoint_dir=snapshot)
            rc = proc.wait()
            for report in merger.flush():   # rows logged after the last metric row
                with checkpoints.new_snapshot() as snapshot:
                    session.report(report, checkpoint_dir=snapshot)
        finally:
            timer.cancel()
            terminate_group(proc, spec.stop_grace_s if proc.poll() is None else 0.0)
            _LIVE.discard(proc)
    if expired.is_set():
        raise TrialTimeout(f"{timeout_message(spec.timeout_s or 0)}; its process group was ended: "
                           f"{shlex.join(argv)}\nstderr ({files['stderr']}):\n{_stderr_tail(files['stderr'])}")
    if rc != 0:
        raise CommandError(_failure_message(rc, argv, files["stderr"], spec))
