"""How a script trial's processes are started and ended: the supervisor that leads the trial's
process group (so nothing it starts outlives the trial) and the group stop.

Importing this module never imports Ray.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

# The first process of a script trial on Linux, the leader of the trial's process group. It
# asks the kernel for SIGKILL when its parent (the Ray worker) dies, even by SIGKILL, and starts
# a watcher, then the user's program, and exits as the program did. The watcher gets SIGTERM
# when the leader dies (whatever killed it: Ray kills a dead worker's child processes with
# SIGKILL) or when the group is stopped, and then ends the whole group: SIGTERM, then SIGKILL
# after the grace period. So the program's own children (multiprocessing or DataLoader
# workers) never outlive the trial. Runs with -I -S: the standard library only.
_SUPERVISOR = r"""
import ctypes, os, signal, sys, time
parent, grace, argv = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
def deathsig(sig):
    try:
        ctypes.CDLL(None).prctl(1, int(sig))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):   # no prctl (not glibc): the watcher still ends the group
        pass
def others():   # live processes of this group but this one
    group, count = os.getpgid(0), 0
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                with open("/proc/%s/stat" % pid) as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            count += int(fields[2]) == group and fields[0] not in "ZX"
    return count
def end_group(*_):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.killpg(0, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while others() and time.monotonic() < deadline:
        time.sleep(0.05)
    if others():
        os.killpg(0, signal.SIGKILL)
    os._exit(0)
# The leader outlives a group SIGTERM (it must not die first, or the stop's grace period ends at
# once and the program is SIGKILLed mid-cleanup); it exits when the program does. Its parent's
# death still ends it: SIGKILL, which the watcher turns into a graceful group stop.
signal.signal(signal.SIGTERM, signal.SIG_IGN)
deathsig(signal.SIGKILL)
if os.getppid() != parent:
    os._exit(1)
leader = os.getpid()
if os.fork() == 0:   # the watcher
    signal.signal(signal.SIGTERM, end_group)
    deathsig(signal.SIGTERM)
    if os.getppid() != leader:
        end_group()
    while True:
        signal.pause()
child = os.fork()
if child == 0:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        sys.stderr.write("sweeprunner: cannot run %r: %s\n" % (argv[0], e)); os._exit(127)
_, status = os.waitpid(child, 0)
if os.WIFSIGNALED(status):   # die of the same signal, so the runner reports it
    try:
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    except (OSError, ValueError):
        pass
    os.kill(os.getpid(), os.WTERMSIG(status))
os._exit(os.waitstatus_to_exitcode(status))
"""


def launch_argv(argv: list[str], grace_s: float) -> list[str]:
    if sys.platform.startswith("linux"):
        return [sys.executable, "-I", "-S", "-c", _SUPERVISOR, str(os.getpid()), str(grace_s), *argv]
    return argv


def terminate_group(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM the child's whole process group, then SIGKILL after ``grace_s`` seconds."""
    if os.name != "posix":
        proc.kill()
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
