"""Function containers as the runtime sees them, for the warm handler (batch_jobs/handlers/warm_handler.py).

A `Container` is one execution environment of a function: a private folder whose socket path goes into
every script's environment (`AVGEN_WARM_SOCKET`), where the first model-loading `avgen-handler` call
starts the container's warm handler and later calls find it. On Lambda the container is the execution
environment itself (the server is frozen and thawed with it); a Batch job is one container, closed when
the job ends; the sandbox executor and `avgen run --local` keep a `ContainerPool`, up to N containers per
function, each lent to one invocation at a time, as Lambda reuses its warm environments.
"""
from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator, Mapping, MutableMapping
from pathlib import Path

SOCKET_VARIABLE = "AVGEN_WARM_SOCKET"
SWITCH_VARIABLE = "AVGEN_WARM"       # 0 / false / no / off: no warm handler, every call a plain process
SOCKET_NAME = "handler.sock"
LAMBDA_SOCKET = "/tmp/avgen-warm/" + SOCKET_NAME  # one runtime process per Lambda execution environment
SERVER_MODULE = "batch_jobs.handlers.warm_server"


def warm_enabled(environment: Mapping[str, str]) -> bool:
    return environment.get(SWITCH_VARIABLE, "1").strip().lower() not in ("0", "false", "no", "off")


def pid_file(socket_path: Path) -> Path:
    return socket_path.with_name(socket_path.name + ".pid")


def server_pid(socket_path: Path) -> int | None:
    try:
        return int(pid_file(socket_path).read_text().strip())
    except (OSError, ValueError):
        return None


def stop_server(socket_path: Path, wait_s: float = 2.0) -> None:
    """SIGTERM the server of `socket_path` and its children (SIGKILL after `wait_s`)."""
    socket_path = Path(socket_path)
    pid = server_pid(socket_path)
    if pid is None or not _is_server(pid):  # a stale pid file may name a process that is not a server
        return
    with contextlib.suppress(OSError):
        pid_file(socket_path).unlink()
    try:
        os.killpg(pid, signal.SIGTERM)  # the server leads its own process group
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _is_server(pid: int) -> bool:
    try:
        return SERVER_MODULE.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # an orphan nobody reaps stays a zombie


class Container:
    """One container's warm-handler slot: a private folder (mode 700) holding the server's socket."""

    def __init__(self, socket_path: str | Path | None = None):
        import tempfile  # here, not at the top: the handlers' client imports this module, and starts fast

        if socket_path is None:
            # a socket's path must fit in 107 bytes: a long TMPDIR gives way to /tmp
            parent = tempfile.gettempdir() if len(tempfile.gettempdir()) <= 60 else "/tmp"
            socket_path = Path(tempfile.mkdtemp(prefix="avgen-warm-", dir=parent)) / SOCKET_NAME
        self.socket = Path(socket_path)
        self.socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    @property
    def temp(self) -> Path:
        """A temporary folder that lasts as long as the container (Lambda's /tmp outlives an invocation):
        where the sandbox points TMPDIR, so that downloaded models are found again by the next invocation."""
        folder = self.socket.parent / "tmp"
        folder.mkdir(exist_ok=True)
        return folder

    def script_environment(self, environment: MutableMapping[str, str]) -> None:
        """Point a script's environment at this container's server, unless the function turned it off."""
        if warm_enabled(environment):
            environment[SOCKET_VARIABLE] = str(self.socket)
        else:
            environment.pop(SOCKET_VARIABLE, None)

    @property
    def server_pid(self) -> int | None:
        pid = server_pid(self.socket)
        return pid if pid is not None and _alive(pid) else None

    def close(self) -> None:
        """Stop the server (it would also go once it finds its socket gone) and remove the folder."""
        import shutil

        stop_server(self.socket)
        shutil.rmtree(self.socket.parent, ignore_errors=True)


class ContainerPool:
    """Up to `per_function` containers per function, each lent to one invocation at a time; a function
    whose deployed version changed gets new containers (the old ones are closed once free)."""

    def __init__(self, per_function: int | None = None):
        import threading

        self.per_function = max(1, per_function or os.cpu_count() or 1)
        self._free: dict[str, list[Container]] = {}
        self._count: dict[str, int] = {}
        self._version: dict[str, str] = {}
        self._all: list[Container] = []
        self._changed = threading.Condition()
        self._closed = False

    @contextlib.contextmanager
    def lease(self, function: str, version: str = "") -> Iterator[Container]:
        container = self._take(function, version)
        try:
            yield container
        finally:
            self._give_back(function, version, container)

    def _take(self, function: str, version: str) -> Container:
        with self._changed:
            if self._version.setdefault(function, version) != version:
                for stale in self._free.pop(function, []):
                    self._retire(function, stale)
                self._version[function] = version
            while True:
                free = self._free.get(function)
                if free:
                    return free.pop()
                if self._count.get(function, 0) < self.per_function:
                    self._count[function] = self._count.get(function, 0) + 1
                    container = Container()
                    self._all.append(container)
                    return container
                self._changed.wait()

    def _give_back(self, function: str, version: str, container: Container) -> None:
        with self._changed:
            if self._closed or self._version.get(function) != version:
                self._retire(function, container)
            else:
                self._free.setdefault(function, []).append(container)
            self._changed.notify_all()

    def _retire(self, function: str, container: Container) -> None:
        self._count[function] -= 1
        if container in self._all:
            self._all.remove(container)
        container.close()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            containers, self._all = list(self._all), []
            self._free.clear()
        for container in containers:
            container.close()
