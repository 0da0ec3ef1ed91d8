"""Running ffmpeg-family binaries safely, and the file chores every handler shares.

Every external process gets a time limit, a closed stdin (ffmpeg otherwise waits on a terminal) and a
bounded error report, so a bad upload ends in a one-line message instead of a hang or a traceback.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from .handler_errors import InputError, ToolError, ToolTimeout

# Lower bound and per-second-of-media allowance for ffmpeg runs when the caller gives no timeout:
# generous for 2 vCPUs, yet finite, so that a stuck decoder cannot hold a Batch job for hours.
BASE_TIMEOUT_S = 120.0
TIMEOUT_PER_MEDIA_SECOND = 5.0
UNKNOWN_DURATION_TIMEOUT_S = 3600.0
PROBE_TIMEOUT_S = 60.0
# How much of a tool's stderr an error message quotes.
ERROR_TAIL_CHARS = 400
# ffmpeg prefixes messages with "[demuxer @ 0x55d…] ": noise in a one-line message.
FFMPEG_CONTEXT_PREFIX = re.compile(r"\[[^\]]* @ 0x[0-9a-f]+\]\s*")


def ffmpeg_binary() -> str:
    """Absolute path of ffmpeg: `AVGEN_FFMPEG` if set, else `ffmpeg` on PATH."""
    wanted = os.environ.get("AVGEN_FFMPEG") or "ffmpeg"
    found = shutil.which(wanted)
    if not found:
        raise ToolError(f"ffmpeg not found: {wanted!r} is not an executable (install ffmpeg or set AVGEN_FFMPEG)")
    return found


def ffprobe_binary() -> str | None:
    """Path of ffprobe, or None when only `ffmpeg -i` parsing is possible.

    `AVGEN_FFPROBE` wins when set (empty means "do not use ffprobe"); otherwise the ffprobe beside the chosen
    ffmpeg, then the one on PATH. Static ffmpeg builds (imageio-ffmpeg) come without one.
    """
    if "AVGEN_FFPROBE" in os.environ:
        wanted = os.environ["AVGEN_FFPROBE"]
        return shutil.which(wanted) if wanted else None
    beside_ffmpeg = Path(ffmpeg_binary()).with_name("ffprobe")
    if os.access(beside_ffmpeg, os.X_OK):
        return str(beside_ffmpeg)
    return shutil.which("ffprobe")


def configured_timeout(requested_s: float | None, env_var: str, default_s: float) -> float:
    """A time limit: the caller's, else the environment variable's, else the default."""
    if requested_s:
        return float(requested_s)
    configured = os.environ.get(env_var)
    if configured:
        try:
            return float(configured)
        except ValueError:
            raise ToolError(f"{env_var} must be a number of seconds, not {configured!r}") from None
    return default_s


def processing_timeout(duration_s: float | None, requested_s: float | None = None) -> float:
    """Time limit for one ffmpeg run: the caller's, else `AVGEN_FFMPEG_TIMEOUT`, else scaled to the media."""
    scaled = (UNKNOWN_DURATION_TIMEOUT_S if duration_s is None
              else BASE_TIMEOUT_S + TIMEOUT_PER_MEDIA_SECOND * duration_s)
    return configured_timeout(requested_s, "AVGEN_FFMPEG_TIMEOUT", scaled)


def error_tail(text: str | bytes) -> str:
    """The last meaningful lines of a tool's stderr, on one line, short enough for a log."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [FFMPEG_CONTEXT_PREFIX.sub("", line).strip() for line in text.strip().splitlines()]
    lines = [line for line in lines if line]
    joined = " | ".join(lines[-3:])
    return joined[-ERROR_TAIL_CHARS:] if joined else "no error output"


def run_tool(args: Sequence[str], *, timeout_s: float, what: str) -> subprocess.CompletedProcess:
    """Run a tool to completion; raise ToolTimeout past `timeout_s`. The caller judges the exit status."""
    try:
        return subprocess.run(
            list(args), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise ToolTimeout(f"{what} did not finish within {timeout_s:.0f} s and was stopped") from None
    except OSError as error:
        raise ToolError(f"cannot run {args[0]}: {error.strerror}") from None


class Watchdog:
    """Kills streaming subprocesses that outlive their time limit (pipes have no built-in timeout)."""

    def __init__(self, timeout_s: float, processes: Sequence[subprocess.Popen]):
        self.timeout_s = timeout_s
        self.fired = False
        self._processes = list(processes)
        self._timer = threading.Timer(timeout_s, self._kill_all)
        self._timer.daemon = True

    def _kill_all(self) -> None:
        self.fired = True
        for process in self._processes:
            with contextlib.suppress(OSError):
                process.kill()

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        for process in self._processes:
            if process.poll() is None:
                with contextlib.suppress(OSError):
                    process.kill()
            process.wait()


def spawn(args: Sequence[str], *, stdin: int | IO | None, stdout: int | IO | None, stderr: IO) -> subprocess.Popen:
    """Start a streaming tool; stderr goes to a file so a chatty tool can never block on a full pipe."""
    try:
        return subprocess.Popen(list(args), stdin=stdin, stdout=stdout, stderr=stderr)
    except OSError as error:
        raise ToolError(f"cannot run {args[0]}: {error.strerror}") from None


def read_text_file(handle: IO[bytes]) -> str:
    handle.flush()
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def require_input_file(path: Path) -> Path:
    """The input as a Path, or InputError when it is missing, a directory or empty."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input file not found: {path}")
    if not path.is_file():
        raise InputError(f"input is not a regular file: {path}")
    if path.stat().st_size == 0:
        raise InputError(f"input file is empty: {path}")
    return path


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(final_path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `final_path`; move it into place only if the block succeeds.

    Workflow runners upload whatever lies in the output folder, so a half-written file must never be
    left under the final name.
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{final_path.name}.", suffix=".partial", dir=final_path.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        # mkstemp makes the file private (0600); give the result the mode a plain open() would.
        temporary_path.chmod(0o666 & ~_current_umask())
        os.replace(temporary_path, final_path)
    finally:
        temporary_path.unlink(missing_ok=True)


@contextlib.contextmanager
def scratch_directory(inside: Path) -> Iterator[Path]:
    """A hidden temporary folder inside `inside` (same filesystem, so results move by rename), always removed."""
    inside = Path(inside)
    inside.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=".avgen-", dir=inside))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
