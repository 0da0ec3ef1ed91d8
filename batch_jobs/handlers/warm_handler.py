"""The warm handler: one server process per function container that keeps loaded models between calls.

A YOLO or Whisper call in a fresh process pays for the interpreter, the imports, the model load and the
engine's cold first pass, which cost several times the inference itself. Inside a container (a Lambda
execution environment, a Batch job, a container of the sandbox or of `avgen run --local`) the runtime puts
a socket path in the script's environment (`AVGEN_WARM_SOCKET`); `avgen-handler yolo …` and
`avgen-handler audio2srt …` (and the SCAR stand-ins, which end in the same `cli.main`) then send their call
to the server listening there, starting it when none is, and the server runs it with the models it
already holds (model_cache).

A call carries its argv, working directory, environment and umask, and the caller's stdin, stdout and
stderr themselves (file descriptors passed over the socket), so the handler's output goes where the
plain process' would, and its own ffmpeg children inherit them. Each call gets a fresh temporary folder,
removed afterwards; the environment is the caller's for the call and restored after it. The server runs
one call at a time; a second call while it is busy runs as a plain process.

Failures never lose a call: when no server can be reached or started, the call runs in the caller's own
process; when the server dies during a call, the caller runs it again in its own process and the server
is replaced by the next call. When the caller dies (the script was killed at the end of its time), the
server kills itself and its children, so nothing of an abandoned call keeps running into the next one.

`AVGEN_WARM=0` in the function's environment turns all of this off. An idle server exits after
`AVGEN_WARM_IDLE_S` seconds (default 600) of its own running time, or when its socket is removed.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

# subprocess, tempfile, shutil and threading are imported where used: a call served warm is a process that
# only connects and waits, and its start-up is most of what a warm call costs.

if TYPE_CHECKING:
    import threading

# The container side (socket variable, on/off switch, pid file, stopping a server) is the runtime's.
from lambda_src.warm_containers import SERVER_MODULE, SOCKET_VARIABLE, pid_file, server_pid, stop_server, warm_enabled

IDLE_VARIABLE = "AVGEN_WARM_IDLE_S"
DEFAULT_IDLE_S = 600.0
# lambda_src.script.RUN_MARKER: the runtime kills every process carrying it when the script ends; the
# server must outlive the script that happened to start it, so it is started without it.
RUN_MARKER = "AVGEN_SCRIPT_RUN"
# The commands that load a model, and so gain from a warm process; ffmpeg commands run plain.
WARM_TOOLS = ("yolo", "audio2srt")
START_TIMEOUT_S = 20.0
ACCEPTED, FINISHED = b"A", b"E"
_HEADER = struct.Struct("!I")
_EXIT = struct.Struct("!i")

_in_server = False
_busy = False  # a call is running (in the server)


def wants_warm(argv: list[str]) -> bool:
    """Whether the command loads a model (`yolo …`, `audio2srt …`); help and usage go plain."""
    if any(arg in ("-h", "--help") for arg in argv):
        return False
    positional = [arg for arg in argv if not arg.startswith("-")]
    return bool(positional) and positional[0] in WARM_TOOLS


# --- client side ---------------------------------------------------------------------------------


class _NotAccepted(Exception):
    """The connection ended before the server took the call: it was exiting, or gone."""


class _Crashed(Exception):
    """The server took the call and died before answering it."""


def call_warm(argv: list[str]) -> int | None:
    """The call's exit code when a warm handler served it; None when it must run in this process."""
    path = os.environ.get(SOCKET_VARIABLE)
    if _in_server or not path or not warm_enabled(os.environ) or not wants_warm(argv):
        return None
    socket_path = Path(path)
    with _call_lock(socket_path) as ours:
        if not ours:  # another call of this container is being served: this one runs beside it, plain
            return None
        for _attempt in range(2):
            connection = _connect(socket_path) or _start_server(socket_path)
            if connection is None:
                return None
            try:
                return _send_call(connection, argv)
            except _NotAccepted:
                _discard_server(socket_path)  # it was exiting (idle): the next attempt starts a new one
            except _Crashed:
                print("avgen-handler: the warm handler stopped during this call; running it again in a "
                      "plain process", file=sys.stderr, flush=True)
                _discard_server(socket_path)  # the next call starts a fresh server
                return None
            finally:
                connection.close()
    return None


@contextlib.contextmanager
def _call_lock(socket_path: Path) -> Iterator[bool]:
    try:
        handle = open(socket_path.with_name(socket_path.name + ".lock"), "a")
    except OSError:  # the container's folder is not ours to use: plain process
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True


def _connect(socket_path: Path) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(socket_path))
    except OSError:
        connection.close()
        return None
    return connection


def _start_server(socket_path: Path) -> socket.socket | None:
    """Start a server for this container and connect to it; None when it does not come up."""
    import subprocess

    _discard_server(socket_path)
    environment = {name: value for name, value in os.environ.items() if name != RUN_MARKER}
    try:
        with open(socket_path.with_name(socket_path.name + ".log"), "ab") as server_log:
            # A session of its own: the script's process group is killed when the script ends, the server is not.
            # -I as the caller (the images' avgen-handler keeps the base image's PYTHONPATH away), never -S
            isolated = ["-I"] if sys.flags.isolated else []
            server = subprocess.Popen([sys.executable, *isolated, "-m", SERVER_MODULE, str(socket_path)],
                             stdin=subprocess.DEVNULL, stdout=server_log, stderr=server_log, env=environment,
                             cwd=str(socket_path.parent), start_new_session=True, close_fds=True)
    except OSError:
        return None
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        connection = _connect(socket_path)
        if connection is not None:
            return connection
        if server.poll() is not None:  # it could not listen there (see its log)
            return None
        time.sleep(0.01)
    return None


def _send_call(connection: socket.socket, argv: list[str]) -> int:
    umask = os.umask(0)
    os.umask(umask)
    request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": umask}).encode()
    message = _HEADER.pack(len(request)) + request
    with _relayed(sys.stdout, 1) as out_fd, _relayed(sys.stderr, 2) as err_fd:
        try:
            socket.send_fds(connection, [message[:4096]], [0, out_fd, err_fd])
            connection.sendall(message[4096:])
        except OSError:
            raise _NotAccepted() from None
        return _answer(connection)


@contextlib.contextmanager
def _relayed(stream, fd: int) -> Iterator[int]:
    """The descriptor the server writes `stream`'s output to: `fd` itself when the stream is the process's own,
    else a pipe copied into the stream (a caller that redirected sys.stdout in-process, as the SCAR stand-ins
    do to hide the file names a handler prints, gets the call's output there, as a plain call would)."""
    if stream is sys.__stdout__ or stream is sys.__stderr__:
        yield fd
        return
    import threading

    read_end, write_end = os.pipe()

    def copy() -> None:
        with open(read_end, encoding="utf-8", errors="replace") as source:
            for line in source:
                stream.write(line)

    relay = threading.Thread(target=copy, daemon=True)
    relay.start()
    try:
        yield write_end
    finally:
        os.close(write_end)  # the server closes its copy when the call ends: the relay then reads to the end
        relay.join(timeout=5)


def _answer(connection: socket.socket) -> int:
    if _receive(connection, 1) != ACCEPTED:
        raise _NotAccepted()
    answer = _receive(connection, 1 + _EXIT.size)
    if len(answer) != 1 + _EXIT.size or answer[:1] != FINISHED:
        raise _Crashed()
    return _EXIT.unpack(answer[1:])[0]


def _receive(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        try:
            chunk = connection.recv(size - len(data))
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def _discard_server(socket_path: Path) -> None:
    """Stop whatever server the container has (it may be half-dead) and remove its socket."""
    stop_server(socket_path, wait_s=2.0)
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()


# --- server side ---------------------------------------------------------------------------------


def serve(socket_path: Path, run: Callable[[list[str]], int]) -> int:
    """Listen on `socket_path` and run calls one at a time with `run(argv)` (the handlers' `cli.run`, passed
    in by warm_server.py so that the command line and this module do not import each other) until idle, told
    to stop, or the socket is gone."""
    global _in_server
    _in_server = True
    socket_path = Path(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # bound under a private name, then renamed: a client never connects to a socket not yet listening
    partial = socket_path.with_name(f"{socket_path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    listener.bind(str(partial))
    listener.listen(8)
    os.replace(partial, socket_path)
    identity = os.stat(socket_path).st_ino
    pid_file(socket_path).write_text(str(os.getpid()))
    signal.signal(signal.SIGTERM, _terminate)
    idle_s = _idle_seconds()
    base_environment, home = dict(os.environ), socket_path.parent
    listener.settimeout(1.0)
    last_call = time.monotonic()
    print(f"warm handler {os.getpid()} listening on {socket_path}", flush=True)
    from . import engines

    engines.ALLOW_SPINNING = False
    try:
        while True:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                if time.monotonic() - last_call > idle_s or not _still_ours(socket_path, identity):
                    break
                continue
            with connection:
                _serve_one(connection, base_environment, home, run)
            last_call = time.monotonic()
    finally:
        if _still_ours(socket_path, identity):
            with contextlib.suppress(OSError):
                socket_path.unlink()
            with contextlib.suppress(OSError):
                if server_pid(socket_path) == os.getpid():
                    pid_file(socket_path).unlink()
        print(f"warm handler {os.getpid()} stopped", flush=True)
    return 0


def _terminate(*_) -> None:
    if _busy:  # mid-call: the call must not be reported as done; its caller runs it again, plain
        os.killpg(os.getpgrp(), signal.SIGKILL)
    sys.exit(0)


def _idle_seconds() -> float:
    try:
        return max(1.0, float(os.environ.get(IDLE_VARIABLE, DEFAULT_IDLE_S)))
    except ValueError:
        return DEFAULT_IDLE_S


def _still_ours(socket_path: Path, identity: int) -> bool:
    try:
        return os.stat(socket_path).st_ino == identity
    except OSError:
        return False


def _serve_one(connection: socket.socket, base_environment: dict[str, str], home: Path,
               run: Callable[[list[str]], int]) -> None:
    import threading

    connection.settimeout(10.0)
    try:
        if not _same_user(connection):
            return
        message, fds, _flags, _address = socket.recv_fds(connection, 4096, 3)
        if len(fds) != 3 or len(message) < _HEADER.size:
            for fd in fds:
                os.close(fd)
            return
        size = _HEADER.unpack(message[:_HEADER.size])[0]
        body = message[_HEADER.size:] + _receive(connection, size - (len(message) - _HEADER.size))
        request = json.loads(body)
    except (OSError, ValueError):
        return
    connection.settimeout(None)
    connection.sendall(ACCEPTED)
    global _busy
    finished = threading.Event()
    watcher = threading.Thread(target=_watch_caller, args=(connection, finished), daemon=True)
    watcher.start()
    _busy = True
    try:
        code = _run_call(request, fds, base_environment, home, run)
    finally:
        _busy = False
    finished.set()
    with contextlib.suppress(OSError):
        connection.sendall(FINISHED + _EXIT.pack(code))
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    watcher.join(2)


def _same_user(connection: socket.socket) -> bool:
    """Only the user the server runs as may have it run commands (the folder is private too)."""
    credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return uid == os.getuid()


def _watch_caller(connection: socket.socket, finished: threading.Event) -> None:
    """The caller sends nothing after its request: end-of-file means it died (killed with its script at
    the end of the time budget). The call must not go on writing into the folders of the next one, so the
    server ends itself and its children; the next call starts a fresh one."""
    with contextlib.suppress(OSError):
        connection.recv(1)
    if not finished.is_set():
        os.killpg(os.getpgrp(), signal.SIGKILL)


def _run_call(request: dict, fds: list[int], base_environment: dict[str, str], home: Path,
              run: Callable[[list[str]], int]) -> int:
    import shutil
    import tempfile

    from . import model_cache
    from .model_files import CACHE_VARIABLE

    saved = [os.dup(number) for number in (0, 1, 2)]
    _flush()
    for number, fd in enumerate(fds):
        os.dup2(fd, number)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["env"])
    call_temp = None
    try:
        os.umask(int(request.get("umask", 0o022)))
        os.chdir(request["cwd"])
        tempfile.tempdir = None
        plain_temp = tempfile.gettempdir()  # the caller's, as a plain process would find it
        # Downloaded s3:// models stay where a plain process of this call would keep them (not in the
        # call's own folder, removed afterwards): the next call finds them, and the same loaded model.
        os.environ.setdefault(CACHE_VARIABLE, str(Path(plain_temp) / "avgen-models"))
        call_temp = tempfile.mkdtemp(prefix="avgen-call-", dir=plain_temp)
        os.environ["TMPDIR"] = tempfile.tempdir = call_temp  # temporary files are the call's own
        code = run(list(request["argv"]))
    except SystemExit as stop:  # argparse's usage errors and --help
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
    except BaseException as error:
        print(f"avgen-handler: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        code = 1
    finally:
        _flush()
        for number, fd in enumerate(saved):
            os.dup2(fd, number)
            os.close(fd)
        tempfile.tempdir = None
        if call_temp:
            shutil.rmtree(call_temp, ignore_errors=True)
        os.environ.clear()
        os.environ.update(base_environment)
        with contextlib.suppress(OSError):
            os.chdir(home)
        model_cache.relieve_memory_pressure()
    return code


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
