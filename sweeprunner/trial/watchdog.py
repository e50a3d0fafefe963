"""``sweeprunner.trial_timeout``: a trial running longer is ended and fails with the reason.

A failed trial is retried per ``max_failures`` like any other. Script trials are ended by
killing their process group (:func:`sweeprunner.trial.command.run_command` does that); a
function trial gets :class:`TrialTimeout` raised in its thread, and when it is stuck outside
Python (a C call, a lock) and has not stopped ``grace_s`` later, its child processes and the
trial process itself are killed (Ray then reports the trial as failed and retries it).

Importing this module never imports Ray.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

import psutil


class TrialTimeout(RuntimeError):
    """The trial ran past ``sweeprunner.trial_timeout``."""


def timeout_message(timeout_s: float) -> str:
    return f"trial timed out: it ran longer than sweeprunner.trial_timeout ({timeout_s:g} s)"


def kill_children(grace_s: float = 1.0) -> None:
    """SIGTERM then SIGKILL every descendant of this process (DataLoader workers, pools...)."""
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()


def _raise_in(thread: threading.Thread, exc: type[BaseException]) -> None:
    """Raise ``exc`` in ``thread`` at its next Python bytecode (CPython's async exception)."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(exc))


def _kill_self(message: str) -> None:
    print(f"sweeprunner: {message}; it did not stop, so its process is killed", file=sys.stderr, flush=True)
    kill_children()
    os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def deadline(timeout_s: float | None, *, grace_s: float = 10.0,
             last_resort: Callable[[str], None] = _kill_self) -> Iterator[None]:
    """Run the body (in this thread) for at most ``timeout_s`` seconds, else raise TrialTimeout."""
    if not timeout_s:
        yield
        return
    message = timeout_message(timeout_s)
    target = threading.current_thread()
    done = threading.Event()
    expired = threading.Event()

    def watch() -> None:
        if done.wait(timeout_s):
            return
        expired.set()
        print(f"sweeprunner: {message}", file=sys.stderr, flush=True)
        _raise_in(target, TrialTimeout)
        if not done.wait(grace_s):
            last_resort(message)

    threading.Thread(target=watch, name="sweeprunner-trial-timeout", daemon=True).start()
    try:
        yield
    except TrialTimeout:
        raise TrialTimeout(message) from None
    finally:
        done.set()
        if expired.is_set():
            if target.ident is not None:   # not delivered yet: cancel it
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(target.ident), None)
            kill_children()
