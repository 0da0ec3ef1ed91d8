"""`avgen apply` killed (SIGKILL) while terraform creates resources: nothing is left running, and the first
`apply` after it continues (docs/deploy.md, "Interrupting apply")."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator import orphans
from tests.processes import alive

pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("sandbox-kill")]
REPO = Path(__file__).resolve().parents[2]
COPY = REPO / "tests" / "data" / "sandbox-workflow" / "copy.sh"
FUNCTION = """\
  - lambda:
      name: {name}
      container: {{image: "public.ecr.aws/docker/library/alpine:3.20"}}
      init_script: copy.sh
      input: [{{storage_provider: s3, path: avgen-kill-test/{name}-in}}]
      output: [{{storage_provider: s3, path: avgen-kill-test/{name}-out}}]
"""


def workflow(folder: Path, *names: str) -> Path:
    folder.mkdir(exist_ok=True)
    shutil.copy(COPY, folder / "copy.sh")
    path = folder / "workflow.yaml"
    path.write_text("functions:\n  aws:\n" + "".join(FUNCTION.format(name=name) for name in names))
    return path


def avgen(*args, **popen) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "generator.cli", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def finished(process: subprocess.Popen, timeout: float = 480) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def serial(state: Path) -> int:
    try:
        return int(json.loads(state.read_text())["serial"])
    except (OSError, ValueError, KeyError):
        return -1


def created(state: Path, module: str) -> bool:
    """Whether the state holds a resource of `module` (terraform writes it after each one it creates)."""
    try:
        resources = json.loads(state.read_text())["resources"]
    except (OSError, ValueError, KeyError):
        return False
    return any(r.get("mode") == "managed" and str(r.get("module", "")).startswith(module) for r in resources)


def sandbox_servers(state_dir: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"generator.aws.sandbox_server" in command and str(state_dir).encode() in command \
                    and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watches processes through /proc")
def test_sigkill_mid_apply_then_one_apply_continues_and_nothing_is_left_running(tmp_path, plugin_dir):
    workdir = tmp_path / "deploy"
    flags = ["--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir]
    first = workflow(tmp_path / "wf", "kill-a")
    code, output = finished(avgen("apply", first, *flags))
    assert code == 0, output
    state = workdir / "terraform.tfstate"
    applied = serial(state)

    # a second function: killed once terraform has written part of it to the state (after the image
    # repository that apply creates first, on its own)
    bigger = workflow(tmp_path / "wf", "kill-a", "kill-b")
    killed = avgen("apply", bigger, *flags, start_new_session=True)
    deadline = time.monotonic() + 480
    while not created(state, 'module.function["kill-b"]') and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert killed.poll() is None, "the apply ended before terraform changed the state"
    os.kill(killed.pid, signal.SIGKILL)
    killed.communicate()

    # the terraform and the sandbox it used end on their own, terraform after writing the state
    deadline = time.monotonic() + 120
    while (orphans.running_terraform(workdir) or sandbox_servers(workdir / "sandbox")) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert orphans.running_terraform(workdir) is None
    assert sandbox_servers(workdir / "sandbox") == []
    assert serial(state) > applied  # a whole state, with what the killed apply created

    code, output = finished(avgen("apply", bigger, *flags))
    assert code == 0, output  # the first re-run continues
    assert "planning again" in " ".join(output.split()), output
    code, output = finished(avgen("plan", bigger, "--sandbox", "--plugin-dir", plugin_dir, "-w", workdir,
                                  "--detailed-exitcode"))
    assert code == 0, output  # nothing left to do
