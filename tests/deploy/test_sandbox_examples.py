"""Both examples, as a user runs them: `avgen apply --sandbox`, the real models uploaded where the workflow
names them (s3://BUCKET/models/…), a video put to the start folder — and the deployed functions and Batch
jobs produce the seeds' result files, with pjreddie's YOLOv3-tiny and Whisper tiny.en on real media."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.aws.sandbox import Sandbox
from generator.cli import app
from tests.conftest import copy_example
from tests.media import make_video, requires_tools
from tests.realdata import LIBRIVOX_CLIP, PHOTOS, WHISPER_TINY_EN, YOLOV3_TINY, fetch_pinned_or_skip

pytestmark = [pytest.mark.sandbox, pytest.mark.media, requires_tools("ffmpeg", "ffprobe"),
              pytest.mark.xdist_group("sandbox-examples")]
EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def avgen(*args):
    return runner.invoke(app, [*map(str, args)])


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """The models folder a user uploads: YOLOv3-tiny's three files and Whisper tiny.en's folder."""
    folder = tmp_path_factory.mktemp("models") / "models"
    (folder / "whisper-tiny.en").mkdir(parents=True)
    for path in fetch_pinned_or_skip(YOLOV3_TINY).values():
        shutil.copy(path, folder / path.name)
    for path in fetch_pinned_or_skip(WHISPER_TINY_EN).values():
        shutil.copy(path, folder / "whisper-tiny.en" / path.name)
    return folder


def deploy(name: str, root: Path, plugin_dir: Path, models: Path) -> tuple[Path, Path]:
    copy_example(EXAMPLES / name, root / name)
    workflow, workdir = root / name / "workflow.yaml", root / "deploy"
    result = avgen("apply", workflow, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir)
    assert result.exit_code == 0, result.output
    bucket = f"change-me-{name}"
    uploaded = avgen("put", workflow, models, "-b", f"{bucket}/models", "--sandbox", "-w", workdir)
    assert uploaded.exit_code == 0, uploaded.output
    return workflow, workdir


def keys(workdir: Path, bucket: str, prefix: str) -> list[str]:
    import boto3

    with Sandbox(workdir / "sandbox") as sandbox:
        s3 = boto3.client("s3", endpoint_url=sandbox.endpoint, region_name="us-east-1",
                          **sandbox.credentials)
        return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def astronaut_reading(video: Path) -> Path:
    """Three seconds of a real photo over a real reader's voice, as scripts/fetch_models.py makes the demo's."""
    import subprocess

    photo = fetch_pinned_or_skip(PHOTOS)["skimage/data/astronaut.png"]
    [speech] = fetch_pinned_or_skip(LIBRIVOX_CLIP).values()
    subprocess.run(["ffmpeg", "-loglevel", "error", "-loop", "1", "-t", "3", "-i", str(photo), "-i", str(speech),
                    "-vf", "scale=320:-2,fps=5", "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", str(video)], check=True)
    return video


def test_av_workflow_makes_the_video_with_boxes_and_the_subtitles(tmp_path, plugin_dir, models):
    workflow, workdir = deploy("av-workflow", tmp_path, plugin_dir, models)
    video = astronaut_reading(tmp_path / "my_video.mp4")
    result = avgen("put", workflow, video, "--sandbox", "-w", workdir)
    assert result.exit_code == 0, result.output
    assert "1 Batch job, 0 failed" in result.output  # the GPU function's job ran
    assert keys(workdir, "change-me-av-workflow", "result/") == ["result/my_video.avi", "result/my_video.srt"]
    got = tmp_path / "got"
    assert avgen("get", workflow, "--sandbox", "-w", workdir, "-p", got).exit_code == 0
    subtitles = (got / "result" / "my_video.srt").read_text().lower()
    assert "dashwood" in subtitles  # the reader's words, not noise


def test_video_process_detects_objects_in_every_frame(tmp_path, plugin_dir, models):
    workflow, workdir = deploy("video-process", tmp_path, plugin_dir, models)
    video = make_video(tmp_path / "seq1.avi", seconds=2, fps=5, with_audio=False)
    result = avgen("put", workflow, video, "--sandbox", "-w", workdir)
    assert result.exit_code == 0, result.output
    frames = keys(workdir, "change-me-video-process", "split-images/")
    assert len(frames) == 2 and all(frame.endswith(".jpg") for frame in frames)
    stems = [Path(frame).stem for frame in frames]
    assert keys(workdir, "change-me-video-process", "output/") == sorted(
        f"output/{stem}.{ext}" for stem in stems for ext in ("out", "png"))


DARKNET_MODEL = """        environment:
          Variables:
            YOLO_CFG: yolov3-tiny
            YOLO_WEIGHTS: s3://scar-ffmpeg/models/yolov3-tiny.weights
"""


def test_scar_3x_files_converted_run_in_the_sandbox_with_their_model(tmp_path, plugin_dir, models):
    """examples/video-process/README.md's way for SCAR's own two files in the sandbox (which has no grycap/darknet
    image to hold the weights): convert them, give the darknet function YOLO_CFG/YOLO_WEIGHTS, apply, upload the
    weights and a video. The split runs as a Batch job; each frame's darknet run writes darknet's text and its
    picture into a request-id folder of its own."""
    folder = tmp_path / "scar-3x"
    copy_example(EXAMPLES / "video-process" / "scar-3x", folder)  # not the video-process.yaml a user made
    converted = folder / "video-process.yaml"
    result = avgen("convert", folder / "scar-batch-ffmpeg-split.yaml", folder / "scar-lambda-darknet.yaml",
                   "-o", converted)
    assert result.exit_code == 0, result.output
    image, text = "        image: grycap/darknet\n", converted.read_text()
    assert text.count(image) == 1
    converted.write_text(text.replace(image, image + DARKNET_MODEL))
    workdir = tmp_path / "deploy"
    result = avgen("apply", converted, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir)
    assert result.exit_code == 0, result.output
    uploaded = avgen("put", converted, models / "yolov3-tiny.weights", "-b", "scar-ffmpeg/models", "--sandbox",
                     "-w", workdir)
    assert uploaded.exit_code == 0, uploaded.output
    video = make_video(tmp_path / "seq1.avi", seconds=2, fps=5, with_audio=False)
    result = avgen("put", converted, video, "--sandbox", "-w", workdir)
    assert result.exit_code == 0, result.output
    assert "3 invocations, 1 Batch job, 0 failed" in result.output  # the split job, then darknet per frame
    by_request: dict[str, list[str]] = {}
    for key in keys(workdir, "scar-ffmpeg", "scar-batch-ffmpeg-split/image-output/"):
        request_id, name = key.split("/")[2:]
        by_request.setdefault(request_id, []).append(name)
    assert sorted(by_request.values()) == [["out001.out", "out001.png"], ["out002.out", "out002.png"]]
