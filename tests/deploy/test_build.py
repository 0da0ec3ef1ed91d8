"""`avgen build`: contexts per function, and the digests recorded for the next plan.

No Docker engine runs on this machine or in CI, so the push path is driven with a stand-in for the
`docker` command (the only test double here), whose `docker push` puts the image into ECR as a registry
would; ECR itself is moto's server (aws_env), with IMMUTABLE repositories as the generated Terraform makes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.deploy.images import (
    IMAGES_VARS_FILE,
    images_file_text,
    push_all,
    record_images,
    recorded_images,
    write_contexts,
)
from generator.errors import ImageError
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


@pytest.fixture(autouse=True)
def plain_docker(monkeypatch):
    """The fake answers to `docker`, whatever client this machine names in $AVGEN_DOCKER (CI names one)."""
    monkeypatch.delenv("AVGEN_DOCKER", raising=False)


class FakeDocker:
    """Stands in for the docker CLI: answers info/login/build; `docker push REPO:TAG` puts a manifest into ECR
    under TAG (refused, as ECR refuses it, when an IMMUTABLE repository holds TAG already); `image inspect`
    reports the digest ECR gave it. Every command it was asked to run is kept in `commands`."""

    def __init__(self, ecr):
        self.ecr = ecr
        self.commands: list[list[str]] = []
        self.digests: dict[str, str] = {}

    def __call__(self, command, **kwargs):
        import botocore.exceptions

        self.commands.append(command)
        if command[:2] == ["docker", "push"]:
            repository, tag = command[2].rsplit(":", 1)
            manifest = json.dumps({"schemaVersion": 2,
                                   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                                   "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                              "size": 1, "digest": "sha256:" + "0" * 64},
                                   "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                               "size": 1, "digest": "sha256:" + hashlib.sha256(
                                                   command[2].encode()).hexdigest()}]})
            try:
                image = self.ecr.put_image(repositoryName=repository.split("/", 1)[1], imageManifest=manifest,
                                           imageTag=tag)["image"]
            except botocore.exceptions.ClientError as exc:
                return subprocess.CompletedProcess(command, 1, "", f"tag invalid: {exc}")
            self.digests[command[2]] = f"{repository}@{image['imageId']['imageDigest']}"
        if command[:2] == ["docker", "image"]:
            return subprocess.CompletedProcess(command, 0, self.digests.get(command[-1], "") + "\n", "")
        return subprocess.CompletedProcess(command, 0, "", "")

    def ran(self, verb: str) -> list[str]:
        """The images a `docker build` or `docker push` was run for."""
        return [c[-1] if verb == "push" else c[c.index("--tag") + 1] for c in self.commands
                if c[:2] == ["docker", verb] and "--help" not in c]  # not the client's question about its flags


def ecr_repositories(contexts) -> tuple[object, dict[str, str]]:
    ecr = boto3.client("ecr", region_name="us-east-1")
    repositories = {c.function: ecr.create_repository(repositoryName=c.function, imageTagMutability="IMMUTABLE")
                    ["repository"]["repositoryUri"] for c in contexts}
    return ecr, repositories


def test_pushed_digests_are_recorded_for_terraform(aws_env, tmp_path):
    workflow = load_workflow(EXAMPLES / "video-process" / "workflow.yaml").workflow
    contexts = write_contexts(workflow, tmp_path / "images")
    ecr, repositories = ecr_repositories(contexts)
    pushed = push_all(contexts, repositories, ecr, run=FakeDocker(ecr))
    held = ecr.describe_images(repositoryName="video-process-split")["imageDetails"][0]
    assert pushed["video-process-split"] == f"{repositories['video-process-split']}@{held['imageDigest']}"
    path = record_images(tmp_path, {"video-process-split": pushed["video-process-split"]})
    record_images(tmp_path, {"video-process-darknet": pushed["video-process-darknet"]})
    assert recorded_images(tmp_path) == pushed  # the second push kept the first function's digest
    assert path.name.endswith(".auto.tfvars.json")  # terraform loads it without a -var-file


def test_a_second_push_builds_and_pushes_nothing_ecr_already_holds(aws_env, tmp_path):
    """The content tag is in ECR: no `docker build`, no `docker push` (which ECR would refuse in an IMMUTABLE
    repository); the digest is the one ECR holds, and the function is said to be unchanged."""
    workflow = load_workflow(EXAMPLES / "video-process" / "workflow.yaml").workflow
    contexts = write_contexts(workflow, tmp_path / "images")
    ecr, repositories = ecr_repositories(contexts)
    first_docker, first_seen = FakeDocker(ecr), []
    first = push_all(contexts, repositories, ecr, run=first_docker, on_image=first_seen.append)
    assert len(first_docker.ran("build")) == len(first_docker.ran("push")) == len(contexts) == 2
    assert all(image.pushed for image in first_seen)

    again_docker, again_seen = FakeDocker(ecr), []
    again = push_all(contexts, repositories, ecr, run=again_docker, on_image=again_seen.append)
    assert again == first
    assert again_docker.ran("build") == again_docker.ran("push") == []
    assert [(image.function, image.pushed) for image in again_seen] == [(c.function, False) for c in contexts]

    # what the skip spares: ECR refuses the same tag pushed again into an IMMUTABLE repository
    refused = FakeDocker(ecr)(["docker", "push", f"{repositories[contexts[0].function]}:{contexts[0].tag}"])
    assert refused.returncode == 1 and "AlreadyExistsException" in refused.stderr


def test_only_the_changed_function_is_built_again(aws_env, tmp_path):
    workflow = load_workflow(EXAMPLES / "video-process" / "workflow.yaml").workflow
    contexts = write_contexts(workflow, tmp_path / "images")
    ecr, repositories = ecr_repositories(contexts)
    first = push_all(contexts, repositories, ecr, run=FakeDocker(ecr))
    changed = dataclasses.replace(contexts[0], tag="ctx-" + "e" * 16)  # its script was edited
    docker = FakeDocker(ecr)
    second = push_all([changed, *contexts[1:]], repositories, ecr, run=docker)
    assert docker.ran("push") == [f"{repositories[changed.function]}:{changed.tag}"]
    assert second[changed.function] != first[changed.function]
    assert {k: v for k, v in second.items() if k != changed.function} == \
        {k: v for k, v in first.items() if k != changed.function}


def test_the_images_file_is_sorted_one_line_per_function_and_merges_per_function(tmp_path):
    """Two pull requests that change the images of different functions merge without a conflict."""
    images = {name: f"1.dkr.ecr.us-east-1.amazonaws.com/{name}@sha256:{'0' * 64}" for name in ("c", "a", "b")}
    text = images_file_text(images)
    assert json.loads(text) == {"function_images": images}
    lines = [line for line in text.splitlines() if "@sha256:" in line]
    assert [line.split('"')[1] for line in lines] == ["a", "b", "c"]

    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                              capture_output=True, text=True)

    git("init", "-q", "-b", "main")
    record_images(tmp_path, images)
    git("add", "-A"), git("commit", "-qm", "base")
    for branch, function in (("one", "a"), ("two", "b")):
        git("checkout", "-q", "-b", branch, "main")
        record_images(tmp_path, {function: images[function].replace("0" * 64, "1" * 64)})
        git("commit", "-qam", branch)
    merged = git("merge", "-q", "one", "-m", "merge")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert {k: v[-1] for k, v in recorded_images(tmp_path).items()} == {"a": "1", "b": "1", "c": "0"}


def test_recording_drops_functions_the_workflow_no_longer_has(tmp_path):
    record_images(tmp_path, {"gone": "r/gone@sha256:" + "0" * 64, "kept": "r/kept@sha256:" + "0" * 64})
    record_images(tmp_path, {"new": "r/new@sha256:" + "1" * 64}, functions=["kept", "new"])
    assert sorted(recorded_images(tmp_path)) == ["kept", "new"]


def test_an_images_file_left_with_a_merge_conflict_is_named(tmp_path):
    (tmp_path / IMAGES_VARS_FILE).write_text('{\n<<<<<<< HEAD\n  "function_images": {}\n=======\n>>>>>>> x\n}\n')
    with pytest.raises(ImageError, match="merge conflict"):
        recorded_images(tmp_path)


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


def test_generate_keeps_the_recorded_digests_next_to_the_committed_terraform(tmp_path):
    """`avgen build --push -w infra/` records the digests in the folder of `avgen generate -o infra/`; a
    regeneration leaves them, and `--check` does not count them as stale."""
    workflow = EXAMPLES / "video-process" / "workflow.yaml"
    infra = tmp_path / "infra"
    assert runner.invoke(app, ["generate", str(workflow), "-o", str(infra)]).exit_code == 0
    images = {"video-process-split": "1.dkr.ecr.us-east-1.amazonaws.com/video-process-split@sha256:" + "0" * 64}
    path = record_images(infra, images)
    text = path.read_text()
    again = runner.invoke(app, ["generate", str(workflow), "-o", str(infra)])
    assert again.exit_code == 0, again.output
    check = runner.invoke(app, ["generate", str(workflow), "-o", str(infra), "--check"])
    assert check.exit_code == 0, check.output
    assert path.read_text() == text and recorded_images(infra) == images
