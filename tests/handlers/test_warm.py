"""Warm handlers: invocations of one container share a server that keeps the model loaded, without sharing
anything else, and without losing an invocation when the server dies.

Each test runs real invocations through the runtime (`lambda_src.core.run_invocation`: download, `/bin/sh`
script, upload) with pjreddie's COCO YOLOv3-tiny on ONNX Runtime and real photos.
"""
from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest

from generator.aws.executor import handler_shim
from lambda_src.config import FunctionConfig
from lambda_src.core import SUCCEEDED, run_invocation
from lambda_src.storage import DirectoryStorage, file_sha256
from lambda_src.warm_containers import SWITCH_VARIABLE, Container, ContainerPool
from tests.processes import alive, wait_dead
from tests.runtime.conftest import BUCKET, function_config, s3_event

pytestmark = pytest.mark.media

SCRIPT = 'set -eu\navgen-handler yolo image "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR"\n'
PHOTOS = ("coffee", "motorcycle", "astronaut")


@pytest.fixture
def world(tmp_path, real_tiny_model, real_photos):
    """A bucket holding the photos, the yolo script, and the model named by the function's environment."""
    storage = DirectoryStorage(tmp_path / "buckets")
    for name in PHOTOS:
        storage.upload(real_photos[name], BUCKET, f"in/{name}.png", sha256=file_sha256(real_photos[name]))
    cfg, weights, names = real_tiny_model(416)
    script = tmp_path / "script.sh"
    script.write_text(SCRIPT)
    shims = handler_shim(tmp_path / "bin")
    environment = {"PATH": f"{shims}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(Path.cwd()),
                   "YOLO_CFG": str(cfg), "YOLO_WEIGHTS": str(weights), "YOLO_NAMES": str(names)}
    return storage, script, environment, tmp_path


def invoke(world, key: str, container: Container | None, request_id: str, *, deadline: float | None = None,
           **environment):
    storage, script, base, tmp_path = world
    config = FunctionConfig.from_dict(function_config(), script=str(script), environment={**base, **environment})
    result = run_invocation(config, s3_event(BUCKET, key, sizes={key: 1000}), storage, request_id=request_id,
                            deadline=deadline, workdir=tmp_path, container=container)
    [record] = result.records
    return record


def outputs(world, stem: str) -> tuple[bytes, str]:
    """The annotated PNG and the detections text of `stem`, the text without its timing figure (darknet
    prints how long the prediction took, which differs between any two runs)."""
    folder = world[3] / "buckets" / BUCKET / "out"
    text = (folder / f"{stem}.out").read_text()
    return (folder / f"{stem}.png").read_bytes(), re.sub(r"Predicted in [0-9.]+ milliseconds", "Predicted in …", text)


@pytest.fixture
def container():
    made = Container()
    yield made
    pid = made.server_pid
    made.close()
    if pid:
        assert wait_dead(pid), "closing a container stops its warm handler"


def test_warm_handler_is_reused_and_gives_the_bytes_of_plain_processes(world, container):
    plain = {}
    for number, name in enumerate(PHOTOS):
        record = invoke(world, f"in/{name}.png", container, f"plain-{number}", **{SWITCH_VARIABLE: "0"})
        assert record.status == SUCCEEDED, record.output_tail
        assert "loaded yolov3-tiny.cfg" in record.output_tail  # every plain process loads the network
        plain[name] = outputs(world, name)
    assert container.server_pid is None  # AVGEN_WARM=0: no server was started

    servers = set()
    for number, name in enumerate(PHOTOS):
        record = invoke(world, f"in/{name}.png", container, f"warm-{number}")
        assert record.status == SUCCEEDED, record.output_tail
        # the network is loaded by the first invocation only; later ones find it in the warm handler
        assert ("loaded yolov3-tiny.cfg" in record.output_tail) == (number == 0), record.output_tail
        assert outputs(world, name) == plain[name]
        servers.add(container.server_pid)
    assert len(servers) == 1 and None not in servers


def test_a_killed_warm_handler_does_not_lose_the_invocation(world, container):
    assert invoke(world, "in/coffee.png", container, "first").status == SUCCEEDED
    expected = outputs(world, "coffee")
    first_server = container.server_pid
    assert first_server

    def kill_during_the_call():
        # the server is in a call once the script's output file is its standard output
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                if os.readlink(f"/proc/{first_server}/fd/1").endswith("script-output.log"):
                    os.kill(first_server, signal.SIGKILL)
                    return
            except OSError:
                pass
            time.sleep(0.001)

    killer = threading.Thread(target=kill_during_the_call)
    killer.start()
    record = invoke(world, "in/coffee.png", container, "second")
    killer.join()
    assert not alive(first_server)
    assert record.status == SUCCEEDED, record.output_tail
    assert "running it again in a plain process" in record.output_tail
    assert outputs(world, "coffee") == expected

    # the next invocation gets a new warm handler
    assert invoke(world, "in/motorcycle.png", container, "third").status == SUCCEEDED
    assert container.server_pid not in (None, first_server)


def test_nothing_of_one_invocation_reaches_the_next(world, container, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    _storage, _script, _base, _ = world
    assert invoke(world, "in/coffee.png", container, "first", TMPDIR=str(scratch)).status == SUCCEEDED
    # the next invocation names no weights: the first one's environment must not be found in the server
    record = invoke(world, "in/motorcycle.png", container, "second", YOLO_WEIGHTS="", TMPDIR=str(scratch))
    assert record.status == "failed" and "no YOLO weights given" in record.output_tail, record.output_tail
    assert container.server_pid  # a failed call does not end the server
    # the calls' temporary folders are gone, and only the first invocation's outputs were written
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "buckets" / BUCKET / "out").iterdir()) == ["coffee.out", "coffee.png"]
    # the working folders of the invocations are gone too (the runtime's own per-object folders)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("avgen-")]


def test_a_script_killed_at_its_deadline_takes_its_call_in_the_server_with_it(world, container):
    assert invoke(world, "in/coffee.png", container, "warm-up").status == SUCCEEDED
    server = container.server_pid
    script = world[1]
    # calls over the same photo 200 times each, without end: only the runtime's deadline ends the script
    script.write_text('set -eu\nset --\nfor i in $(seq 200); do set -- "$@" "$INPUT_FILE_PATH"; done\n'
                      'while :; do avgen-handler yolo image "$@" "$TMP_OUTPUT_DIR"; done\n')
    record = invoke(world, "in/motorcycle.png", container, "late", deadline=time.monotonic() + 1 + 2.0)
    assert record.status == "timed_out"
    # the abandoned call must not go on writing behind the runtime's back: its server ends with it
    assert wait_dead(server, 60)
    script.write_text(SCRIPT)
    assert invoke(world, "in/astronaut.png", container, "after").status == SUCCEEDED
    assert container.server_pid not in (None, server)


def test_the_pool_lends_one_container_per_invocation_up_to_n_per_function():
    pool = ContainerPool(2)
    try:
        with pool.lease("f") as first, pool.lease("f") as second, pool.lease("g") as other:
            assert len({first.socket, second.socket, other.socket}) == 3
            waited = []
            asking = threading.Event()

            def third():
                asking.set()
                with pool.lease("f") as container:
                    waited.append(container.socket)

            thread = threading.Thread(target=third)
            thread.start()
            assert asking.wait(60)
            # both of f's containers are busy: a third invocation waits, as on Lambda. However long this look
            # lasts, a pool that waits passes; one that did not would be caught on all but the slowest machine
            thread.join(0.2)
            assert thread.is_alive() and waited == []
        thread.join(5)
        assert waited and waited[0] in (first.socket, second.socket)  # a freed container is reused
        with pool.lease("f", version="2") as redeployed:  # a new deployment: fresh containers
            assert redeployed.socket not in (first.socket, second.socket)
        assert not first.socket.parent.exists() and not second.socket.parent.exists()
    finally:
        pool.close()
