"""Deploying an example into the sandbox with the real models uploaded where the workflow names them
(s3://BUCKET/models/…), for the image tests to run the examples in their images.

The examples as a user runs them (apply --sandbox, the models and the demo's sample video put, the results
got and checked) are run from their READMEs' own commands by tests/test_readmes.py."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from devdata.realdata import LIBRIVOX_CLIP, PHOTOS, WHISPER_TINY_EN, YOLOV3_TINY
from generator.aws.sandbox import Sandbox
from generator.cli import app
from tests.conftest import copy_example
from tests.realdata import fetch_pinned_or_skip

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

