"""The terraform that a killed avgen leaves behind, and how it is ended and waited for.

Each terraform avgen runs gets its own session (a Ctrl-C in the terminal reaches avgen only, which passes it
on once: generator/deploy/terraform.py) and, on Linux, SIGINT as its parent-death signal: when avgen dies
(even by SIGKILL), terraform is interrupted as by Ctrl-C, stops after the operations in flight and writes
the state of what it created. Its output goes to a file, not a pipe, so that a dead reader cannot kill it
half-way through (a write to a broken pipe ends a Go program at once: a state cut off mid-write).

While it runs, `WORKDIR/.avgen-terraform.pid` names it and the avgen command that started it. The next
command in that folder waits for such a terraform to end before it runs its own (it holds the state), and
the sandbox of the killed command keeps answering it until it has (generator/aws/sandbox_server.py).
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

PID_FILE = ".avgen-terraform.pid"
WAIT_S = 600.0  # how long a command waits for the terraform of a killed one
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def start_time(pid: int) -> int | None:
    """When the process started (clock ticks since boot, /proc/PID/stat): with the pid, it names one process
    (pids are reused). None where /proc does not tell; a zombie counts as ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def alive(pid: int, started: int | None) -> bool:
    """Whether process `pid`, started at `started`, still runs."""
    if sys.platform.startswith("linux"):
        return started is not None and start_time(pid) == started
    try:  # elsewhere: the pid alone
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def record(workdir: Path, pid: int) -> None:
    """Name the terraform `pid` that this avgen started in `workdir`."""
    entry = {"pid": pid, "started": start_time(pid), "avgen": os.getpid(), "avgen_started": start_time(os.getpid())}
    try:
        (Path(workdir) / PID_FILE).write_text(json.dumps(entry) + "\n")
    except OSError:
        pass  # a read-only or full folder: terraform runs all the same, it only cannot be waited for later


def forget(workdir: Path, pid: int) -> None:
    entry = _read(Path(workdir))
    if entry is not None and entry.get("pid") == pid:
        (Path(workdir) / PID_FILE).unlink(missing_ok=True)


def _read(workdir: Path) -> dict | None:
    try:
        entry = json.loads((workdir / PID_FILE).read_text())
        int(entry["pid"])
        return entry
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_terraform(workdir: Path) -> int | None:
    """The pid of the terraform an avgen command started in `workdir`, while it runs."""
    entry = _read(Path(workdir))
    if entry is None or not alive(int(entry["pid"]), entry.get("started")):
        return None
    return int(entry["pid"])


def orphaned_terraform(workdir: Path) -> int | None:
    """The pid of a terraform still running in `workdir` for an avgen command that is gone (killed)."""
    entry = _read(Path(workdir))
    if entry is None:
        return None
    if not alive(int(entry["pid"]), entry.get("started")):
        (Path(workdir) / PID_FILE).unlink(missing_ok=True)
        return None
    if alive(int(entry.get("avgen", -1)), entry.get("avgen_started")):
        return None  # another avgen command at work here: terraform's state lock decides
    return int(entry["pid"])


def wait_for_orphan(workdir: Path, notify: Callable[[str], None], timeout_s: float = WAIT_S) -> None:
    """Before running terraform in `workdir`: let the terraform of a killed avgen command finish writing the
    state first. Raises TimeoutError (the caller words it) when it still runs after `timeout_s`."""
    pid = orphaned_terraform(workdir)
    if pid is None:
        return
    notify(f"the terraform of an interrupted avgen command (pid {pid}) is still finishing in {workdir}: "
           "waiting for it to write the state")
    deadline = time.monotonic() + timeout_s
    while orphaned_terraform(workdir) == pid:
        if time.monotonic() > deadline:
            raise TimeoutError(pid)
        time.sleep(0.2)


_PRCTL = None
if sys.platform.startswith("linux"):
    try:
        _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        _PRCTL = None


def interrupted_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` for subprocess: the child gets SIGINT when this thread's process dies (Linux's
    parent-death signal). None where there is none, or off the main thread (the signal follows the thread
    that started the child, and other threads end before avgen does)."""
    if _PRCTL is None or threading.current_thread() is not threading.main_thread():
        return None
    prctl, parent, sigint = _PRCTL, os.getpid(), int(signal.SIGINT)

    def set_parent_death_signal() -> None:  # in the child, between fork and exec: nothing that takes a lock
        prctl(PR_SET_PDEATHSIG, sigint, 0, 0, 0)
        if os.getppid() != parent:  # avgen died before the signal was set: terraform must not start
            os._exit(128 + sigint)

    return set_parent_death_signal
