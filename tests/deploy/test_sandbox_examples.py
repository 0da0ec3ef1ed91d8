"""Deploying an example into the sandbox with the real models uploaded where the workflow names them
(s3://BUCKET/models/…): the helpers tests/images uses to run the examples in their images.

The examples themselves, as a user runs them (apply --sandbox, the models and the demo's sample video put,
the results got and checked: boxes, subtitles, darknet per frame), are run from their READMEs' own commands
by tests/test_readmes.py, which replaced the tests that were here (#32)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.aws.sandbox import Sandbox
from generator.cli import app
from tests.conftest import copy_example
from tests.media import requires_tools
from tests.realdata import WHISPER_TINY_EN, YOLOV3_TINY, fetch_pinned_or_skip

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
