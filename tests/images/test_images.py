"""The functions' real images, built by `avgen build --local` and run by the sandbox as Lambda and Batch run
them: each invocation in its image, its runtime client answered by the sandbox's Lambda Runtime API, the
deployed environment, memory limit and /tmp; Batch jobs with the job definition's command and job role.

Needs a Docker engine and the local base images (`eval "$(bash scripts/docker_engine.sh)"`, which CI runs;
no registry is reached). Without an engine these tests are skipped, unless AVGEN_REQUIRE_DOCKER=1 (CI) makes
that a failure.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.deploy.build import docker_available, docker_command
from generator.deploy.images import LOCAL_REPOSITORY
from tests.images.examples import (  # noqa: F401 (models: a fixture)
    astronaut_reading,
    avgen,
    deploy,
    keys,
    models,
)
from tests.media import make_video, requires_tools

# one worker with the examples: image builds beside a Terraform apply on 2 cores slowed the apply into retries
pytestmark = [pytest.mark.image, pytest.mark.sandbox, pytest.mark.xdist_group("sandbox-examples")]
DATA = Path(__file__).parents[1] / "data" / "image-workflow"
BASES = ("debian:bookworm-slim", "avgen-test/busybox:latest", "jrottenberg/ffmpeg:4.1-ubuntu",
         "grycap/audio2srt:mini", "grycap/yolov3:opencv-cudnn")


@pytest.fixture(scope="module", autouse=True)
def engine():
    if not docker_available():
        message = "no Docker engine answers: eval \"$(bash scripts/docker_engine.sh)\" starts one"
        if os.environ.get("AVGEN_REQUIRE_DOCKER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    missing = [base for base in BASES
               if subprocess.run([docker_command(), "image", "inspect", base], capture_output=True).returncode]
    assert not missing, f"base images missing: {missing}: bash scripts/docker_engine.sh makes them"
    before = built_images()
    yield
    # what these tests built goes (several GB a run, each run's under new content tags); the engine's build
    # cache stays, so the next run builds them again in seconds
    made = sorted(built_images() - before)
    if made:
        subprocess.run([docker_command(), "image", "rm", *made], capture_output=True, check=False)


def built_images() -> set[str]:
    """The images `avgen build --local` made on this engine (repository:tag)."""
    listed = subprocess.run([docker_command(), "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter",
                             f"reference={LOCAL_REPOSITORY}/*"], capture_output=True, text=True, check=False).stdout
    return set(listed.split())


def build_local(workflow: Path, workdir: Path) -> list[dict]:
    """`avgen build --local`, as a user behind this machine's network runs it; the images' index."""
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")  # this machine's network inspects TLS
    ca = ["--ca-bundle", str(bundle)] if bundle.is_file() else []
    result = avgen("build", workflow, "--local", "--network", "host", *ca, "-w", workdir)
    assert result.exit_code == 0, result.output
    return json.loads((workdir / "images" / "local-images.json").read_text())


def put_json(workflow: Path, workdir: Path, source: Path, *options: str) -> tuple[int, dict]:
    result = avgen("put", workflow, source, *options, "--sandbox", "-w", workdir, "--format", "json")
    return result.exit_code, json.loads(result.stdout)


def put_text(deployed: tuple[Path, Path], tmp_path: Path, folder: str, name: str, text: str) -> tuple[int, list]:
    """Upload a small file to the image workflow's FOLDER; put's exit code and what it ran."""
    source = tmp_path / name
    source.write_text(text)
    code, report = put_json(*deployed, source, "-b", f"avgen-image-test/{folder}")
    return code, report["put"]["activities"]


def outputs(deployed: tuple[Path, Path], tmp_path: Path) -> Path:
    """The workflow's out/ folder, fetched with `avgen get`."""
    workflow, workdir = deployed
    got = tmp_path / "got"
    assert avgen("get", workflow, "-b", "avgen-image-test/out", "--sandbox", "-w", workdir, "-p", got).exit_code == 0
    return got / "out"


@pytest.fixture(scope="module")
def image_workflow(tmp_path_factory, plugin_dir):
    root = tmp_path_factory.mktemp("img")
    shutil.copytree(DATA, root / "wf")
    workflow, workdir = root / "wf" / "workflow.yaml", root / "deploy"
    result = avgen("apply", workflow, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir)
    assert result.exit_code == 0, result.output
    images = build_local(workflow, workdir)
    assert sorted(images) == ["img-hog", "img-job", "img-tools"]
    return workflow, workdir


def test_an_image_on_a_base_without_a_c_library_runs_the_runtime_and_ffmpeg(image_workflow, tmp_path):
    code, [activity] = put_text(image_workflow, tmp_path, "tools", "a.txt", "hello")
    assert code == 0, activity
    assert activity["image"].startswith("avgen-local/img-tools:ctx-") and activity["state"] == "succeeded"
    got = outputs(image_workflow, tmp_path)
    assert (got / "tools-a.txt").read_text() == "input: hello\nlibc: none\n"
    tone = (got / "tone-a.txt.wav").read_bytes()
    assert tone[:4] == b"RIFF" and len(tone) > 30000  # a second of 16-bit audio


def test_an_image_over_its_memory_is_killed_as_on_lambda(image_workflow, tmp_path):
    workflow, workdir = image_workflow
    code, [activity] = put_text(image_workflow, tmp_path, "hog", "big.txt", "x")
    assert code == 1
    assert activity["image"] and activity["state"] == "out of memory", json.dumps(activity)
    assert activity["reason"].startswith("Runtime.OutOfMemory")
    logs = avgen("logs", workflow, "--sandbox", "-w", workdir).output
    report_line = [line for line in logs.splitlines() if "img-hog" in line and "REPORT RequestId" in line][-1]
    assert "Memory Size: 128 MB" in report_line and "Max Memory Used: 128 MB" in report_line


def test_a_batch_job_runs_in_its_image_with_the_job_role(image_workflow, tmp_path):
    code, activities = put_text(image_workflow, tmp_path, "job", "j.txt", "job input\n")
    assert code == 0, activities
    kinds = {a["kind"]: a for a in activities}
    assert kinds["batch"]["image"].startswith("avgen-local/img-job:ctx-") and kinds["lambda"]["image"]
    written = (outputs(image_workflow, tmp_path) / "job-j.txt").read_text()
    assert written == "job input\nAWS_BATCH_JOB_ID\nAWS_BATCH_JQ_NAME\n"


@pytest.mark.media
@requires_tools("ffmpeg", "ffprobe")
def test_the_av_workflow_runs_in_its_three_images(tmp_path, plugin_dir, models):  # noqa: F811 (the fixture)
    workflow, workdir = deploy("av-workflow", tmp_path, plugin_dir, models)
    images = build_local(workflow, workdir)
    assert sorted(images) == ["av-workflow-audio2srt", "av-workflow-ffmpeg", "av-workflow-yolov3"]
    # the GPU function's image carries ONNX Runtime's CUDA build and NVIDIA's libraries; the others the CPU one
    for function, image in images.items():
        providers = subprocess.run(
            [docker_command(), "run", "--rm", "--network=none", "--entrypoint=/opt/avgen/python/bin/python3", image,
             "-I", "-c", "import onnxruntime as o; o.preload_dlls() if 'CUDAExecutionProvider' in "
             "o.get_available_providers() else None; print(o.get_available_providers())"],
            capture_output=True, text=True, check=True).stdout
        assert ("CUDAExecutionProvider" in providers) == function.endswith("yolov3"), (function, providers)
    code, report = put_json(workflow, workdir, astronaut_reading(tmp_path / "my_video.mp4"))
    assert code == 0, report
    activities = report["put"]["activities"]
    assert len(activities) == 4 and all(a["image"].startswith("avgen-local/av-workflow-") for a in activities)
    batch = [a for a in activities if a["kind"] == "batch"]
    assert len(batch) == 1 and "ran on CPU only" in batch[0]["note"]  # the GPU function's job, on this machine
    assert keys(workdir, "change-me-av-workflow", "result/") == ["result/my_video.avi", "result/my_video.srt"]
    got = tmp_path / "got"
    assert avgen("get", workflow, "--sandbox", "-w", workdir, "-p", got).exit_code == 0
    assert "dashwood" in (got / "result" / "my_video.srt").read_text().lower()


@pytest.mark.media
@requires_tools("ffmpeg", "ffprobe")
def test_video_process_runs_in_its_two_images(tmp_path, plugin_dir, models):  # noqa: F811 (the fixture)
    """SCAR's video-process: the split in the ffmpeg image, darknet (avgen's stand-in) per frame in the other."""
    workflow, workdir = deploy("video-process", tmp_path, plugin_dir, models)
    images = build_local(workflow, workdir)
    assert len(images) == 2
    video = make_video(tmp_path / "seq1.avi", seconds=2, fps=5, with_audio=False)
    code, report = put_json(workflow, workdir, video)
    assert code == 0, report
    activities = report["put"]["activities"]
    assert len(activities) >= 3 and all(a["image"].startswith("avgen-local/") for a in activities)
    frames = keys(workdir, "change-me-video-process", "split-images/")
    assert len(frames) == 2
    stems = [Path(frame).stem for frame in frames]
    assert keys(workdir, "change-me-video-process", "output/") == sorted(
        f"output/{stem}.{ext}" for stem in stems for ext in ("out", "png"))
