"""`avgen build`: contexts per function, and the digests recorded for the next plan.

No Docker engine runs on this machine or in CI, so the push path is driven with a stand-in for the
`docker` command (the only test double here); everything else is real.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.errors import ImageError
from generator.deploy.images import IMAGES_VARS_FILE, push_all, record_images, write_contexts
from generator.workflow.load import load_workflow

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def test_build_writes_one_context_per_function(tmp_path):
    result = runner.invoke(app, ["build", str(EXAMPLES / "av-workflow" / "workflow.yaml"), "-w", str(tmp_path)])
    assert result.exit_code == 0, result.output
    images = {"ffmpeg": "jrottenberg/ffmpeg:4.1-ubuntu", "audio2srt": "grycap/audio2srt:mini",
              "yolov3": "grycap/yolov3:opencv-cudnn"}
    for short, image in images.items():
        context = tmp_path / "images" / f"av-workflow-{short}"
        assert f"FROM {image}" in (context / "Dockerfile").read_text()
        assert (context / "script.sh").read_text() == (EXAMPLES / "av-workflow" / f"{short}-script.sh").read_text()


def test_push_without_a_docker_engine_explains_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setattr("generator.deploy.images.docker_available", lambda run=None: False)
    result = runner.invoke(app, ["build", str(EXAMPLES / "video-process" / "workflow.yaml"), "-w", str(tmp_path),
                                 "--push"])
    assert result.exit_code == 1
    assert "no Docker engine" in result.output
    assert "docker push" in result.output
    assert not (tmp_path / IMAGES_VARS_FILE).exists()


def fake_docker(digests: dict[str, str]):
    """Stands in for the docker CLI: answers info/build/push and reports a digest on inspect."""
    def run(command, **kwargs):
        if command[:2] == ["docker", "image"]:
            image = command[-1].rsplit(":", 1)[0]
            return subprocess.CompletedProcess(command, 0, f"{image}@sha256:{digests[image]}\n", "")
        return subprocess.CompletedProcess(command, 0, "", "")
    return run


def test_pushed_digests_are_recorded_for_terraform(tmp_path):
    workflow = load_workflow(EXAMPLES / "video-process" / "workflow.yaml").workflow
    contexts = write_contexts(workflow, tmp_path / "images")
    repositories = {c.function: f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{c.function}" for c in contexts}
    digests = {repo: f"{i:064x}" for i, repo in enumerate(repositories.values())}
    pushed = push_all(contexts, repositories, run=fake_docker(digests))
    assert pushed["video-process-split"].endswith("@sha256:" + "0" * 64)
    path = record_images(tmp_path, {"video-process-split": pushed["video-process-split"]})
    record_images(tmp_path, {"video-process-darknet": pushed["video-process-darknet"]})
    recorded = json.loads(path.read_text())["function_images"]
    assert recorded == pushed  # the second push kept the first function's digest
    assert path.name.endswith(".auto.tfvars.json")  # terraform loads it without a -var-file


def test_contexts_are_deterministic(tmp_path):
    workflow = load_workflow(EXAMPLES / "av-workflow" / "workflow.yaml").workflow
    first = write_contexts(workflow, tmp_path / "a")
    second = write_contexts(workflow, tmp_path / "b")
    assert [c.tag for c in first] == [c.tag for c in second]


def test_gpu_images_get_onnxruntime_gpu_and_the_sandbox_finds_every_context(tmp_path):
    workflow = load_workflow(EXAMPLES / "av-workflow" / "workflow.yaml").workflow
    contexts = {c.function: c for c in write_contexts(workflow, tmp_path)}
    assert contexts["av-workflow-yolov3"].build_args == ("--build-arg", "VARIANT=gpu")
    assert "--build-arg VARIANT=gpu" in contexts["av-workflow-yolov3"].commands("repo")[0]
    assert contexts["av-workflow-ffmpeg"].build_args == ()
    index = json.loads((tmp_path / "contexts.json").read_text())
    assert {name: (tmp_path / folder).is_dir() for name, folder in index.items()} == {
        f.resource_name: True for f in workflow.functions}


@pytest.mark.parametrize("script", ["/etc/passwd", "../../../../../../../../../etc/passwd"])
def test_build_never_copies_a_file_from_outside_the_workflow_folder(tmp_path, script):
    """Validation refuses such a workflow (AVG033); a model given one anyway stops `avgen build` too."""
    workflow = load_workflow(EXAMPLES / "video-process" / "workflow.yaml").workflow
    split = workflow.functions[0]
    hostile = dataclasses.replace(split, script=split.script.parent / script)
    workflow = dataclasses.replace(workflow, functions=(hostile, *workflow.functions[1:]))
    with pytest.raises(ImageError, match=r"leads out of the workflow file's folder .*nothing was copied"):
        write_contexts(workflow, tmp_path / "images")
    assert not list((tmp_path / "images").rglob("script.sh"))
