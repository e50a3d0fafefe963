"""What the driver prints besides the progress view: its warnings, and silence for Ray's own lines.

sweeprunner prints its own progress and summary, so Ray Tune's per-trial lines ("Trial X
completed. Last result: ..."), its "Resume experiment with: Tuner.restore(...)" hint on Ctrl-C
(sweeprunner prints its own `resume` command) and "Failed to fetch metrics" for trials that never
reported are kept off the console, and a traceback Ray logs reaches it as one line. All through
public APIs: a ``TrialProgressCallback`` passed in (Ray then adds none of its own) and
:mod:`logging` filters.
"""

from __future__ import annotations

import logging
from typing import Any

from ray.tune.progress_reporter import TrialProgressCallback

from sweeprunner.config.distributions import LogUniform
from sweeprunner.config.spec import SweepSpec

#: (logger, message fragment) pairs kept off the console.
HIDDEN_RAY_LINES = (
    ("ray.tune.tune", "Resume experiment with"),
    ("ray.tune.tune", "Experiment has been interrupted"),
    ("ray.tune.tune", "Wrote the latest version of all result files"),
    ("ray.tune.analysis.experiment_analysis", "Failed to fetch metrics"),
)


class SilentTrialLines(TrialProgressCallback):
    """Takes the place of Ray's TrialProgressCallback, which prints a line per trial result."""

    def _print(self, msg: str) -> None:
        return None

    def print_result(self, *args: Any, **kwargs: Any) -> None:
        return None

    def display_result(self, *args: Any, **kwargs: Any) -> None:
        return None


class _DropLines(logging.Filter):
    def __init__(self, fragments: tuple[str, ...]) -> None:
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(fragment in message for fragment in self.fragments)


def hide_ray_lines() -> None:
    """Install the logging filters once per process."""
    by_logger: dict[str, tuple[str, ...]] = {}
    for name, fragment in HIDDEN_RAY_LINES:
        by_logger[name] = (*by_logger.get(name, ()), fragment)
    for name, fragments in by_logger.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLines) for f in logger.filters):
            logger.addFilter(_DropLines(fragments))


_TRACEBACK = "Traceback (most recent call last):"


class OneLineErrors(logging.Filter):
    """Ray logs some failures with a traceback (a failed experiment-state sync on a full disk); the
    console gets the exception's last line instead, as everywhere in sweeprunner."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg, record.args = f"{record.getMessage()} {type(exc).__name__}: {exc}", ()
            record.exc_info, record.exc_text = None, None
        elif isinstance(record.msg, str) and _TRACEBACK in record.msg:  # a traceback pasted into the text
            head, _, trace = record.getMessage().partition(_TRACEBACK)
            last = [line.strip() for line in trace.splitlines() if line.strip()][-1:]
            record.msg, record.args = " ".join([head.strip(), *last]), ()
        return True


def one_line_ray_errors() -> None:
    """Install :class:`OneLineErrors` on the console handlers once per process."""
    for handler in logging.getLogger("ray").handlers + logging.getLogger().handlers:
        if not any(isinstance(f, OneLineErrors) for f in handler.filters):
            handler.addFilter(OneLineErrors())


def run_warnings(spec: SweepSpec) -> list[str]:
    """The config's warnings, plus the note ``plan`` shows for log_uniform bounds read as values."""
    warnings = list(spec.warnings)
    for path, dist in spec.parameters.leaves():
        where = ".".join(path)
        if (isinstance(dist, LogUniform) and dist.note == "bounds read as values"
                and not any(w.startswith(f"{where}:") for w in warnings)):
            warnings.append(f"{where}: {dist.wandb_name} bounds {dist.low:g}..{dist.high:g} read as values (min > 0; "
                            "W&B reads them as natural-log exponents): write log_uniform_values to be explicit, or "
                            "set sweeprunner.log_uniform_bounds: exponents")
    return warnings
