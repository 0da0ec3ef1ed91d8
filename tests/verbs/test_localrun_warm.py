"""`avgen run --local` models Lambda's container reuse: up to N warm containers per function, each running
one invocation at a time, whose warm handler loads the model once for all the invocations it serves."""
from __future__ import annotations

import pytest

from generator.verbs.localrun import Limits, LocalRunner
from generator.workflow.load import load_workflow
from lambda_src import warm_containers
from lambda_src.storage import DirectoryStorage
from tests.media import make_video, make_yolo_model, requires_tools
from tests.processes import wait_dead
from tests.verbs.conftest import EXAMPLES


@pytest.mark.media
@requires_tools("ffmpeg", "ffprobe")
@pytest.mark.parametrize("containers", [1, 2])
def test_video_process_loads_the_model_once_per_container(tmp_path, monkeypatch, containers):
    cfg, weights, names = make_yolo_model(tmp_path / "model", "yolov3-tiny", input_size=128)
    video = make_video(tmp_path / "clip.mp4", seconds=4, fps=5, with_audio=False)
    workflow = load_workflow(EXAMPLES / "video-process" / "workflow.yaml").workflow
    servers = []
    close = warm_containers.Container.close

    def closing(container):
        servers.append(container.server_pid)
        close(container)

    monkeypatch.setattr(warm_containers.Container, "close", closing)
    runner = LocalRunner(workflow, DirectoryStorage(tmp_path / "store"),
                         environment={"YOLO_CFG": str(cfg), "YOLO_WEIGHTS": str(weights), "YOLO_NAMES": str(names)},
                         limits=Limits(workers=2, containers=containers))
    report = runner.run([(video, "change-me-video-process", "input/clip.mp4")])
    assert report.ok, report.failures
    darknet = [i for i in report.invocations if i.function == "video-process-darknet"]
    assert len(darknet) == 4
    loads = sum("loaded yolov3-tiny.cfg" in i.output_tail for i in darknet)
    used = [pid for pid in servers if pid]
    # one load per container that served an invocation (the split's Batch job is a container of its own
    # with no model: no server); never more containers than allowed
    assert 1 <= len(used) <= containers and loads == len(used)
    assert all(wait_dead(pid) for pid in used)  # the run's end closed its containers
