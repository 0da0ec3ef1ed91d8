"""An AWS emulator on loopback (moto's server) whose state lives in a folder.

Each avgen command that uses the sandbox starts its own server and stops it when done (also on Ctrl-C or
an error), unless `avgen sandbox up` keeps one running for all of them. State carries over between
commands as a history of the requests that changed it (generator/aws/recording.py): the next server replays
it from the same random seed, so resource ids come out the same and the Terraform state written by the
previous command still matches. Reads and failed requests are not history, large bodies are stored once.
"""
from __future__ import annotations

import fcntl
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import requests

from generator.aws.moto_internals import UNSUPPORTED_EXIT, MotoUnsupported
from generator.aws.recording import History, Replay
from generator.errors import SandboxError
from generator.interrupts import has_ended

SEED = 20261121  # any constant: the same seed + the same requests ⇒ the same ids
SECRET_FILE = "secret"  # the sandbox's own credentials and control token: only the avgen command reads it
CONTROL_HEADER = "X-Avgen-Control"  # carries the secret to /moto-api/… and /_avgen/… (refused without it)
OLD_RECORDING = "moto-recording.jsonl"  # avgen 0.1's format, replaced by recording.HISTORY
SERVER_LOG = "moto-server.log"
SERVER_FILE = "server.json"  # the long-running server of `avgen sandbox up`: pid, port, region
LOCK_FILE = "lock"
LOCK_WAIT_S = 5.0
READY_TIMEOUT_S = 60
# Terraform merges this into the generated provider block (an *_override.tf file); the endpoint itself
# comes from AWS_ENDPOINT_URL so that saved plans survive the port changing between commands.
PROVIDER_OVERRIDE = """\
# Written by avgen for --sandbox: points the provider at the loopback AWS emulator. Not for real accounts.
provider "aws" {
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
}
"""
BACKEND_OVERRIDE = """
# The sandbox keeps its state here, whatever backend the workflow names for AWS.
terraform {
  backend "local" {}
}
"""
OVERRIDE_FILE = "avgen_sandbox_override.tf"



def sandbox_secret(state_dir: Path) -> str:
    """The random secret of a sandbox's folder, made on first use and readable by its owner only (0600).

    Scripts run by the sandbox get its endpoint and their role's temporary credentials, never this: it is
    the access key the avgen command and Terraform sign with (allowed everything, as the account's own
    administrator), and the token that opens the emulator's control paths."""
    path = Path(state_dir) / SECRET_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        value = secrets.token_hex(20)
        handle.write(value)
    return value


def admin_credentials(secret: str) -> tuple[str, str]:
    """The access key id and secret key that the sandbox allows everything (generator/aws/sandbox_server.py)."""
    return "AKIA" + secret[:16].upper(), secret


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sandbox:
    """Context manager: `with Sandbox(folder) as sandbox: ... sandbox.env ...`."""

    def __init__(self, state_dir: Path, region: str = "us-east-1"):
        self.state_dir = Path(state_dir)
        self.region = region
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self._log: BinaryIO | None = None
        self.attached = False  # True when serving through a long-running `avgen sandbox up`
        self._lock = None

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise SandboxError("the sandbox is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def secret(self) -> str:
        return sandbox_secret(self.state_dir)

    @property
    def control(self) -> dict[str, str]:
        """The header that opens the emulator's control paths (`/moto-api/…`, `/_avgen/…`)."""
        return {CONTROL_HEADER: self.secret}

    @property
    def credentials(self) -> dict[str, str]:
        """boto3's keyword arguments for the sandbox's own key (the account's administrator)."""
        key, secret = admin_credentials(self.secret)
        return {"aws_access_key_id": key, "aws_secret_access_key": secret}

    @property
    def env(self) -> dict[str, str]:
        """Environment for terraform and boto3: every AWS API at the emulator, the sandbox's own credentials."""
        key, secret = admin_credentials(self.secret)
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    @property
    def history(self) -> History:
        return History(self.state_dir)

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, detached: bool = False) -> None:
        """Attach to a running `avgen sandbox up`, or start a server for this command (replaying the state).

        `detached`: the server outlives this process (`avgen sandbox up`); else it dies with it."""
        make_state_dir(self.state_dir)
        if not detached and self._attach():
            return
        self._lock = take_lock(self.state_dir)
        self.port = free_loopback_port()
        if (self.state_dir / OLD_RECORDING).exists():
            raise SandboxError(f"{self.state_dir} holds a sandbox of an older avgen, which this one cannot read: "
                               f"delete {self.state_dir.parent} and run `avgen apply --sandbox` again")
        # AWS-managed policies (e.g. for the ECS instance role) exist in AWS; moto loads them on demand
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        for variable in ("MOTO_ENABLE_RECORDING", "MOTO_RECORDER_FILEPATH"):
            env.pop(variable, None)  # avgen keeps the history itself
        self._log = open(self.state_dir / SERVER_LOG, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "generator.aws.sandbox_server", str(self.port), self.region,
             str(self.state_dir.resolve()), *(["--detached"] if detached else [])],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,  # its own process group: Ctrl-C reaches avgen, which stops it
        )
        try:
            self._wait_ready()
            self._post("/moto-api/seed", params={"a": str(SEED)})
            # Lambda and Batch would otherwise need a Docker engine.
            self._post("/moto-api/config", json={"batch": {"use_docker": False}, "lambda": {"use_docker": False}})
            self._replay()
            self._post("/_avgen/recorder")
        except BaseException:
            self.stop()
            raise
        if detached:
            (self.state_dir / SERVER_FILE).write_text(json.dumps({"pid": self.process.pid, "port": self.port,
                                                                  "region": self.region}))

    def _attach(self) -> bool:
        """Use the server of `avgen sandbox up` when one answers for this folder."""
        running = running_server(self.state_dir)
        if running is None:
            return False
        self.port, self.attached = running["port"], True
        return True

    def _replay(self) -> None:
        """Send the recorded requests again, in order, to this server (not recorded again).

        Done from here rather than from inside the server, which lets one request at a time reach moto
        (generator/aws/sandbox_server.py) and would wait on itself.
        """
        # http.client sends the path exactly as recorded (an HTTP library may tidy `..` or `%2F` in keys)
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        replay = Replay()
        try:
            for request in self.history.read():
                connection.request(request.method, replay.uri(request), body=request.body, headers=request.headers)
                replay.answered(request, connection.getresponse().read())
        except (OSError, http.client.HTTPException) as exc:
            raise SandboxError(f"replaying the sandbox's state failed: {exc}") from None
        finally:
            connection.close()

    # -- the executor: run what the deployed workflow triggers --------------------------------------
    def run_workflows(self, contexts: Path) -> None:
        """From now on, objects created here start the deployed functions, and jobs submitted here run."""
        self._post("/_avgen/executor", json={"contexts": str(Path(contexts).resolve())})

    def activity(self, since: dict | None = None) -> dict:
        """What the executor ran and runs; `since`, an earlier answer: only the invocations and jobs that
        started after it (a kept-up sandbox also lists those of earlier commands)."""
        try:
            state = requests.get(self.endpoint + "/_avgen/activity", headers=self.control, timeout=30).json()
        except (requests.RequestException, ValueError) as exc:
            raise SandboxError(f"the sandbox's executor did not answer: {exc}") from None
        if since is not None:
            # what the sandbox delivers again from an earlier run (it had stopped before they ended) and still
            # ran at `since` is this command's to wait for and report too: nobody else will
            before = {a["id"] for a in since.get("activities", [])
                      if not (a.get("redelivered") and a["state"] in ("queued", "running"))}
            state["activities"] = [a for a in state["activities"] if a["id"] not in before]
            state["unchanged"] = (state.get("unchanged") or [])[len(since.get("unchanged") or []):]
            state["busy"] = sum(a["state"] in ("queued", "running") for a in state["activities"])
        return state

    def wait_until_quiet(self, on_change: Callable[[dict], None], poll_s: float = 0.5,
                         timeout_s: float | None = None, since: dict | None = None) -> dict:
        """Wait until nothing runs or waits to run (of what started after `since`, when given: a function's
        downstream invocations and jobs start before it ends); `on_change` sees each new state."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last = None
        while True:
            state = self.activity(since)
            shown = [(a["id"], a["state"]) for a in state["activities"]]
            if shown != last:
                on_change(state)
                last = shown
            if state["busy"] == 0:
                return state
            if deadline is not None and time.monotonic() > deadline:
                raise SandboxError(f"the workflow was still running after {timeout_s:.0f} s")
            time.sleep(poll_s)

    def _post(self, path: str, timeout: float = 30, **kwargs) -> None:
        try:
            response = requests.post(self.endpoint + path, timeout=timeout, headers=self.control, **kwargs)
        except requests.RequestException as exc:
            raise SandboxError(f"the AWS emulator did not answer {path}: {exc}") from None
        if response.status_code >= 400:
            raise SandboxError(f"the AWS emulator refused {path}: HTTP {response.status_code} {response.text[:200]}")

    def _last_log_line(self) -> str:
        lines = (self.state_dir / SERVER_LOG).read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"the AWS emulator exited with code {UNSUPPORTED_EXIT}"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        assert self.process is not None  # started by start()
        while time.monotonic() < deadline:
            if has_ended(self.process):
                if self.process.wait() == UNSUPPORTED_EXIT:
                    raise MotoUnsupported(self._last_log_line())
                raise SandboxError(f"the AWS emulator (moto server) exited with code {self.process.returncode}; "
                                   f"see {self.state_dir / SERVER_LOG}")
            try:
                requests.get(self.endpoint + "/moto-api/data.json", timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
        raise SandboxError(f"the AWS emulator did not answer within {READY_TIMEOUT_S} s; "
                           f"see {self.state_dir / SERVER_LOG}")

    def stop(self) -> None:
        """Stop this command's server (never the one of `avgen sandbox up`), and let the next command in."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None and not (self.state_dir / SERVER_FILE).exists():
            terminate_group(process.pid)
            process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def make_state_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sandbox_secret(folder)


def take_lock(state_dir: Path, wait_s: float = LOCK_WAIT_S):
    """One command at a time may run a server on a folder's state: a second would replay and record too. The
    server of a killed command holds it until the terraform it answers has ended (sandbox_server.py), and
    then a moment longer: waited for up to `wait_s`."""
    handle = open(state_dir / LOCK_FILE, "a+")
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            handle.close()
            raise SandboxError(f"another avgen command is using the sandbox in {state_dir}; wait for it to finish, "
                               "or run `avgen sandbox up` so that commands share one running sandbox") from None


def running_server(state_dir: Path) -> dict | None:
    """The server of `avgen sandbox up` for this folder, if it is alive and answers; a stale record is removed."""
    record = Path(state_dir) / SERVER_FILE
    try:
        server = json.loads(record.read_text())
        os.kill(int(server["pid"]), 0)
        requests.get(f"http://127.0.0.1:{server['port']}/_avgen/activity", timeout=5,
                     headers={CONTROL_HEADER: sandbox_secret(state_dir)}).raise_for_status()
        return server
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, OSError, requests.RequestException):
        record.unlink(missing_ok=True)
        return None


def stop_server(state_dir: Path) -> bool:
    """`avgen sandbox down`: stop the long-running server of this folder; False when none was running."""
    server = running_server(state_dir)
    (Path(state_dir) / SERVER_FILE).unlink(missing_ok=True)
    if server is None:
        return False
    terminate_group(int(server["pid"]))
    return True


def terminate_group(pid: int, wait_s: float = 10) -> None:
    """SIGTERM the server's process group (it and the functions it runs), SIGKILL what is left after `wait_s`."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def write_provider_override(workdir: Path, local_backend: bool = False) -> Path:
    """`local_backend`: the workflow names a backend (backend.tf); the sandbox keeps its state in the working
    folder all the same, never in the account's state bucket."""
    path = Path(workdir) / OVERRIDE_FILE
    path.write_text(PROVIDER_OVERRIDE + (BACKEND_OVERRIDE if local_backend else ""))
    return path


def remove_provider_override(workdir: Path) -> None:
    (Path(workdir) / OVERRIDE_FILE).unlink(missing_ok=True)
