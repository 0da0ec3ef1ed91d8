"""Run the function's script the way SCAR does (`/bin/sh SCRIPT`), within a time budget."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TAIL_BYTES = 4096
# Set to a fresh value in each script's environment: every process the script starts inherits it, also one
# that left the script's session with `setsid` (and was re-parented), so the runtime can find and end it.
RUN_MARKER = "AVGEN_SCRIPT_RUN"
# The process groups of the scripts running now, for end_running_scripts (another thread calls it).
_running: set[int] = set()
_running_lock = threading.Lock()


@dataclass(frozen=True)
class ScriptOutcome:
    exit_code: int | None   # None when it was killed at the end of its time budget
    timed_out: bool
    duration_s: float
    output_bytes: int       # size of stdout + stderr together
    output_tail: str        # the last few KiB of it, for the log


def run_script(script: str, *, env: Mapping[str, str], timeout: float | None, output_path: Path,
               cwd: Path | None = None, prelude: Path | None = None) -> ScriptOutcome:
    """Run `/bin/sh script` with `env`, its stdout and stderr going to `output_path` (a file, not a pipe, so
    a chatty ffmpeg costs disk, not memory). When `timeout` seconds pass, its whole process group is killed.

    cwd: the script's working folder (default: this process's). prelude: a file of sh definitions the shell
    reads first (lambda_src/scar_layout.py's `cd`); the script itself is then read as it is, with $0 its path.
    """
    started = time.monotonic()
    token = uuid.uuid4().hex
    env = {**env, RUN_MARKER: token}
    marker = f"{RUN_MARKER}={token}".encode()
    command = ["/bin/sh", script]
    if prelude is not None:
        # `.` of a name without a slash searches PATH: the script's path is made absolute first
        command = ["/bin/sh", "-c", '. "$1" && shift && . "$0"', os.path.abspath(script), str(prelude)]
    with open(output_path, "wb") as output:
        # A session of its own makes the script the leader of a new process group, so that the kill reaches
        # everything it started (ffmpeg pipelines, background jobs), not only the shell.
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, cwd=cwd,
                                   stderr=subprocess.STDOUT, env=dict(env), start_new_session=True)
        with _running_lock:
            _running.add(process.pid)
        # A timer ends it at its deadline, and a blocking wait sees the end at once (Popen.wait(timeout)
        # polls, up to 50 ms late: a tenth of a warm handler call).
        expired = threading.Event()

        def expire() -> None:
            if process.poll() is None:
                expired.set()
                _kill_group(process.pid)

        timer = threading.Timer(max(0.0, timeout), expire) if timeout is not None else None
        try:
            if timer is not None:
                timer.start()
            process.wait()
        finally:
            if timer is not None:
                timer.cancel()
            # Also after a normal exit: background jobs left behind would keep writing into the output
            # folder while it is uploaded, and Lambda would freeze them into the next invocation.
            _kill_group(process.pid)
            process.wait()
            with _running_lock:
                _running.discard(process.pid)
            _kill_marked(marker)
    timed_out = expired.is_set()
    code = process.returncode
    if code is not None and code < 0:
        code = 128 - code  # killed by signal N: report it the way a shell does (128 + N)
    return ScriptOutcome(
        exit_code=None if timed_out else code,
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
        output_bytes=output_path.stat().st_size,
        output_tail=read_tail(output_path),
    )


def end_running_scripts() -> int:
    """Kill every script this process is running now, with all it started (the interrupted `avgen run
    --local`); each run_script then returns as for a killed script. Returns how many were running."""
    with _running_lock:
        groups = list(_running)
    for pgid in groups:
        _kill_group(pgid)
    return len(groups)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def marked_processes(marker: bytes) -> list[int]:
    """The processes whose environment carries `marker` (`NAME=value`), this one aside (Linux /proc; none
    elsewhere). Also those that left their process group, which a group kill misses."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        pid = int(environ.parent.name)
        if pid == os.getpid():
            continue
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.append(pid)
        except OSError:  # gone, or not ours to read
            continue
    return found


def _kill_marked(marker: bytes, rounds: int = 5) -> None:
    """Kill every process whose environment carries `marker`. A few rounds, since a process may fork while the
    others die."""
    for _ in range(rounds):
        pids = marked_processes(marker)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def read_tail(path: Path, limit: int = TAIL_BYTES) -> str:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - limit))
        data = handle.read()
    text = data.decode("utf-8", errors="replace")
    if size > limit and "\n" in text:
        text = text.split("\n", 1)[1]  # drop the cut-off first line
    return text
