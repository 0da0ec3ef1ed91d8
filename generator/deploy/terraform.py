"""Run the terraform CLI. The one place that knows python-terraform's defects and works around them.

python-terraform 0.10.1 builds command lines well (flags, repeated -var, -backend-config
maps), but: `destroy()` passes `-force`, which Terraform ≥ 0.15 rejects; `apply()` without
`skip_plan=True` waits for an approval that never comes; `cmd(synchronous=False)` passes its own
`-synchronous=false` flag on to terraform; and it cannot stream output or take an environment. So avgen
asks it only for the argument list (`generate_cmd_string`) and runs that itself: plans with
`-detailed-exitcode`, applies of saved plan files (never a bare `apply`), and destroys as a saved
`plan -destroy` that is then applied.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from python_terraform import IsFlagged, Terraform

from generator import orphans
from generator.errors import TerraformError, TerraformNotFound
from generator.interrupts import has_ended, interrupts_as_exceptions, interrupts_held

LineHandler = Callable[[str], None]
# what `terraform init` says when it cannot get a provider: no registry (offline), or not in -plugin-dir
PROVIDER_PROBLEMS = ("Failed to query available provider packages", "Failed to install provider",
                     "Failed to resolve provider packages")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class TerraformOptions:
    """What every command shares: binary, offline plugins, variables, backend settings, colour."""

    terraform_bin: str = "terraform"
    plugin_dir: Path | None = None
    variables: list[str] = field(default_factory=list)  # "name=value" as given to -var
    var_files: list[Path] = field(default_factory=list)
    backend_config: list[str] = field(default_factory=list)  # "key=value" or a file, as -backend-config
    color: bool = False
    env: dict[str, str] = field(default_factory=dict)


MINIMUM_VERSION = (1, 10)  # the generated root's `required_version` (S3 state locking with use_lockfile)


@functools.cache
def terraform_version(binary: str) -> tuple[int, ...]:
    """The version `binary` reports; TerraformNotFound when it is not a terraform avgen can drive."""
    try:
        result = subprocess.run([binary, "version", "-json"], capture_output=True, text=True, timeout=60)
        reported = json.loads(result.stdout)["terraform_version"]
        version = tuple(int(part) for part in reported.split("-")[0].split(".")[:3])
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        raise TerraformNotFound(f"`{binary} version -json` did not answer as terraform does: is it terraform? "
                                "Pass --terraform-bin PATH to a Terraform binary") from None
    if version[:2] < MINIMUM_VERSION:
        wanted = ".".join(map(str, MINIMUM_VERSION))
        raise TerraformNotFound(f"{binary} is Terraform {reported}; avgen needs Terraform >= {wanted}")
    return version


class TerraformRunner:
    def __init__(self, workdir: Path, options: TerraformOptions):
        self.workdir = Path(workdir)
        self.options = options
        binary = shutil.which(options.terraform_bin) or (
            options.terraform_bin if Path(options.terraform_bin).is_file() else None)
        if binary is None:
            raise TerraformNotFound(f"terraform was not found (`{options.terraform_bin}`): install Terraform "
                                    f">= {MINIMUM_VERSION} or pass --terraform-bin PATH")
        self.version = terraform_version(binary)
        self._tf = Terraform(working_dir=str(self.workdir), terraform_bin_path=binary)

    # -- the argument lists ------------------------------------------------------------------------
    def argv(self, command: str, *args: str, **flags) -> list[str]:
        if not self.options.color:
            flags.setdefault("no_color", IsFlagged)
        return self._tf.generate_cmd_string(command, *args, **flags)

    def _variable_flags(self) -> dict:
        flags: dict = {}
        if self.options.variables:
            flags["var"] = list(self.options.variables)
        if self.options.var_files:
            flags["var_file"] = [str(Path(f).resolve()) for f in self.options.var_files]
        return flags

    @property
    def environment(self) -> dict[str, str]:
        env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0", **self.options.env}
        configured = env.get("TF_CLI_CONFIG_FILE")
        if configured and not Path(configured).exists():
            # a CLI config that points nowhere only makes terraform warn on every call
            env["TF_CLI_CONFIG_FILE"] = os.devnull
        return env

    def run(self, argv: list[str], on_line: LineHandler | None = None, check: bool = True,
            ok_codes: Iterable[int] = (0,)) -> Run:
        """Run terraform in the working directory, streaming stdout lines to `on_line`."""
        with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file, \
                interrupts_as_exceptions():
            # Its own session: a Ctrl-C, a SIGTERM or a SIGHUP of avgen never reaches terraform directly, so it
            # can always finish writing the state of what it created (the next apply then continues). A SIGKILL
            # of avgen interrupts it once, as Ctrl-C would (orphans.interrupted_with_parent), and its output
            # goes to a file: a pipe nobody reads any more would end it at its next line, mid-state perhaps.
            process: subprocess.Popen | None = None
            lines: list[str] = []
            try:
                # an interrupt inside Popen (after the fork) or before the pid is known would lose terraform
                # un-signalled: it is held until `process` names it, then raised here, inside the try
                with interrupts_held():
                    process = subprocess.Popen(argv, cwd=self.workdir, env=self.environment, stdout=out_file,
                                               stderr=err_file, stdin=subprocess.DEVNULL, start_new_session=True,
                                               preexec_fn=orphans.interrupted_with_parent())
                    orphans.record(self.workdir, process.pid)
                for line in _lines_of(out_file, process):
                    lines.append(line)
                    if on_line:
                        on_line(line.rstrip("\n"))
                with interrupts_held():  # it has ended: collecting its status is instant, and must not be cut
                    process.wait()
            except BaseException:
                # Pass the interrupt on once: terraform stops after the operations in flight and writes its
                # state. Wait for that as long as it takes; killing it now would lose what it created.
                if process is not None:
                    with contextlib.suppress(ProcessLookupError):
                        process.send_signal(signal.SIGINT)
                    process.wait()
                raise
            finally:
                if process is not None and process.poll() is not None:
                    orphans.forget(self.workdir, process.pid)
            err_file.seek(0)
            stderr = err_file.read().decode(errors="replace")
        result = Run(process.returncode, "".join(lines), stderr)
        if check and result.returncode not in tuple(ok_codes):
            raise TerraformError(" ".join(argv[:2]), result.returncode, (result.stderr or result.stdout).strip())
        return result

    # -- commands ----------------------------------------------------------------------------------
    def init(self, on_line: LineHandler | None = None, force: bool = False) -> bool:
        """`terraform init` when the configuration or its settings changed since the last one."""
        stamp = self.workdir / ".terraform" / "avgen-init.sha256"
        fingerprint = self._init_fingerprint()
        if not force and stamp.exists() and stamp.read_text() == fingerprint:
            return False
        flags: dict = {"input": False}
        if self.options.plugin_dir:
            flags["plugin_dir"] = str(Path(self.options.plugin_dir).resolve())
        if self.options.backend_config:
            flags["backend_config"] = list(self.options.backend_config)
        try:
            self.run(self.argv("init", reconfigure=IsFlagged, **flags), on_line)
        except TerraformError as exc:
            if any(problem in exc.output for problem in PROVIDER_PROBLEMS):
                exc.hint = self._provider_hint()
            raise
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(fingerprint)
        return True

    def _provider_hint(self) -> str:
        if self.options.plugin_dir:
            return (f"the providers must be in --plugin-dir {self.options.plugin_dir} (or AVGEN_PLUGIN_DIR): "
                    "fill it with `terraform providers mirror DIR` on a machine online")
        return ("without the Terraform registry (offline), pass --plugin-dir DIR or set AVGEN_PLUGIN_DIR=DIR, a "
                "folder of providers that `terraform providers mirror DIR` filled on a machine online")

    def _init_fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in sorted(self.workdir.rglob("*.tf")):
            if ".terraform" in path.parts:
                continue
            text = path.read_text(errors="replace")
            # only what init depends on: module sources, providers, backend
            if any(word in text for word in ("module ", "terraform {", "backend ")):
                digest.update(str(path.relative_to(self.workdir)).encode())
                digest.update(text.encode())
        digest.update(json.dumps([str(self.options.plugin_dir), self.options.backend_config]).encode())
        return digest.hexdigest()

    def plan(self, plan_file: Path, *, destroy: bool = False, targets: Iterable[str] = (),
             on_line: LineHandler | None = None) -> bool:
        """Save a plan; True when it has changes (terraform's -detailed-exitcode 2)."""
        flags = {"input": False, "out": str(plan_file), "detailed_exitcode": IsFlagged, **self._variable_flags()}
        if destroy:
            flags["destroy"] = IsFlagged
        if targets:
            flags["target"] = list(targets)
        result = self.run(self.argv("plan", **flags), on_line, ok_codes=(0, 2))
        return result.returncode == 2

    def show_plan(self, plan_file: Path) -> dict:
        return json.loads(self.run(self.argv("show", str(plan_file), json=IsFlagged)).stdout)

    def show_plan_text(self, plan_file: Path) -> str:
        """The plan as terraform prints it for people, without colours (for a pull-request comment)."""
        return self.run(self.argv("show", str(plan_file), no_color=IsFlagged)).stdout

    def apply_plan(self, plan_file: Path, on_event: Callable[[dict], None] | None = None) -> None:
        """Apply a saved plan, streaming terraform's machine-readable progress events."""
        def handle(line: str) -> None:
            if on_event and line.startswith("{"):
                try:
                    on_event(json.loads(line))
                except json.JSONDecodeError:
                    pass
        argv = self.argv("apply", str(plan_file), input=False, json=IsFlagged)
        try:
            self.run(argv, handle)
        except TerraformError as exc:
            exc.output = _diagnostics(exc.output) or exc.output
            raise

    def outputs(self) -> dict:
        return json.loads(self.run(self.argv("output", json=IsFlagged)).stdout or "{}")

    def state_version(self) -> tuple[str, int] | None:
        """(lineage, serial) of the current state, from its backend (`terraform state pull`); ("", 0) when there
        is none yet, None when it cannot be read."""
        result = self.run(self._tf.generate_cmd_string("state pull"), check=False)
        if result.returncode != 0:
            return None
        if not result.stdout.strip():
            return "", 0
        try:
            state = json.loads(result.stdout)
            return str(state.get("lineage") or ""), int(state.get("serial") or 0)
        except (ValueError, TypeError, AttributeError):
            return None

    def state_list(self) -> list[str]:
        # "state list" as one command: generate_cmd_string puts flags between a command and its arguments
        result = self.run(self._tf.generate_cmd_string("state list"), check=False)
        return result.stdout.split() if result.returncode == 0 else []

    def state_rm(self, addresses: Iterable[str]) -> None:
        """Forget objects without destroying them."""
        self.run(self._tf.generate_cmd_string("state rm", *addresses))

    def validate(self) -> dict:
        return json.loads(self.run(self.argv("validate", json=IsFlagged), check=False).stdout)


def _lines_of(out_file, process: subprocess.Popen, poll_s: float = 0.05) -> Iterator[str]:
    """The lines terraform writes to `out_file` as they come, until it has ended and all are read."""
    descriptor, offset, pending = out_file.fileno(), 0, b""
    while True:
        ended = has_ended(process)  # not process.poll(): see has_ended
        while True:  # pread: the file's offset is terraform's, shared with this descriptor
            chunk = os.pread(descriptor, 1 << 16, offset)
            if not chunk:
                break
            offset += len(chunk)
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                yield line.decode(errors="replace") + "\n"
        if ended:
            if pending:
                yield pending.decode(errors="replace")
            return
        time.sleep(poll_s)


def _diagnostics(json_lines: str) -> str:
    """Terraform's error diagnostics from a -json stream, as the text it would have printed."""
    messages = []
    for line in json_lines.splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        diagnostic = event.get("diagnostic")
        if event.get("type") == "diagnostic" and diagnostic and diagnostic.get("severity") == "error":
            where = diagnostic.get("address") or ""
            messages.append(f"Error: {diagnostic.get('summary', '')}{f' ({where})' if where else ''}\n"
                            f"{diagnostic.get('detail', '')}".rstrip())
    return "\n\n".join(messages)
