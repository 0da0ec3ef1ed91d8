"""The sandbox executor's bookkeeping that needs no emulator: Lambda's concurrency caps, the throttled
events' backoff, and the sweep of the processes a killed sandbox left."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from generator.aws.executor import (
    OWNER_VARIABLE,
    Concurrency,
    Executor,
    docker_run_command,
    reserved_concurrency,
    sweep_orphans,
    throttle_delay_s,
)


def test_reserved_concurrency_caps_its_function_and_the_account_caps_the_rest():
    gate = Concurrency(account=2)
    assert gate.enter("single", 1) == ""
    assert "reserved concurrency is 1" in gate.enter("single", 1)
    assert "every event is throttled" in gate.enter("never", 0)
    assert gate.enter("a", None) == "" and gate.enter("b", None) == ""
    assert "account's concurrency is in use" in gate.enter("c", None)
    assert gate.enter("other-single", 1) == ""  # reserved concurrency is its own, not the account's
    gate.leave("a", None)
    assert gate.enter("c", None) == ""
    gate.leave("single", 1)
    assert gate.enter("single", 1) == ""


def test_reserved_concurrency_is_read_as_moto_keeps_it():
    class Function:
        reserved_concurrency = "0"

    assert reserved_concurrency(Function()) == 0
    Function.reserved_concurrency = None  # type: ignore[assignment]
    assert reserved_concurrency(Function()) is None


@pytest.mark.parametrize("scale, throttles, seconds", [("1", 1, 1.0), ("1", 3, 4.0), ("1", 20, 300.0),
                                                      ("0.5", 2, 1.0), ("0.001", 1, 0.1)])
def test_a_throttled_event_waits_as_lambda_backs_off_scaled(monkeypatch, scale, throttles, seconds):
    monkeypatch.setenv("AVGEN_SANDBOX_RETRY_SCALE", scale)
    assert throttle_delay_s(throttles) == pytest.approx(seconds)


def test_the_processes_a_killed_sandbox_left_are_ended_and_no_other(tmp_path):
    owner = str(tmp_path / "sandbox")
    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                            env={**os.environ, OWNER_VARIABLE: owner})
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             env={**os.environ, OWNER_VARIABLE: owner + "-another"})
    try:
        time.sleep(0.2)  # its environment is readable once it has started
        assert sweep_orphans(owner) == [left.pid]
        assert left.wait(10) == -9
        assert other.poll() is None
    finally:
        other.kill()
        left.kill()
        other.wait(10)


def test_a_gpu_jobs_container_gets_its_gpus_and_the_limits_of_its_definition(tmp_path):
    """On a machine with GPUs (Docker's --gpus, NVIDIA's container toolkit) a GPU job's image sees them; this
    machine has none, so tests/images runs the GPU image on CPU: here, what `docker run` is given."""
    env_file = tmp_path / "container.env"
    gpu = docker_run_command("docker", "avgen-1", env_file, "repo/yolo@sha256:1", ["batch_jobs.entrypoint"],
                             memory_mb=2048, storage_mb=None, gpus=1)
    assert gpu == ["docker", "run", "--name=avgen-1", "--network=host", f"--env-file={env_file}",
                   "--memory=2048m", "--memory-swap=2048m", "--gpus=1", "repo/yolo@sha256:1", "batch_jobs.entrypoint"]
    lambda_run = docker_run_command("docker", "avgen-2", env_file, "repo/ffmpeg@sha256:2", [], memory_mb=128,
                                    storage_mb=512)
    assert "--tmpfs=/tmp:rw,exec,size=512m" in lambda_run and not any(a.startswith("--gpus") for a in lambda_run)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mounting a container's /tmp needs root")
def test_a_closed_executor_leaves_no_mounted_tmp_and_no_container_folder():
    """Each warm container's /tmp is a file system of its own (the function's ephemeral storage): closing the
    sandbox unmounts it and removes the container's folder (it once left both, a loop device each time)."""
    executor = Executor("http://127.0.0.1:9", "us-east-1")
    with executor._containers.lease("f", "v1") as container:
        cage = executor._cage(container, 128, 16)
        folder = container.socket.parent
    assert cage.mounted is not None and os.path.ismount(container.temp)
    executor.close()
    assert not os.path.ismount(folder / "tmp") and not folder.exists()
