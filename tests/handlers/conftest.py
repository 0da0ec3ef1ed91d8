"""Fixtures for the media handler tests: a CLI runner, and generated media shared within a worker."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from batch_jobs.handlers import cli
from tests.media import PlantedDetection, make_video, make_yolo_model

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def written(self) -> list[Path]:
        return [Path(line) for line in self.stdout.splitlines() if line]


@pytest.fixture
def handler(capsys):
    """Run `avgen-handler ARGS…` in this process; returns exit code, stdout and stderr."""

    def run(*args) -> CliResult:
        capsys.readouterr()
        code = cli.main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_handler_process(*args, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m batch_jobs.handlers ARGS…` as a separate process (what workflow scripts do)."""
    import os

    return subprocess.run(
        [sys.executable, "-m", "batch_jobs.handlers", *[str(arg) for arg in args]],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
    )


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def clip_with_audio(media_dir) -> Path:
    """3 s, 10 fps, 160×120 H.264 + AAC 44.1 kHz tone in MP4."""
    return make_video(media_dir / "clip.mp4", 3, fps=10, with_audio=True)


@pytest.fixture(scope="session")
def clip_without_audio(media_dir) -> Path:
    return make_video(media_dir / "mute.mp4", 2, fps=10, with_audio=False)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """YOLOv3-tiny at 128×128 input that detects exactly one 'dog' (class 16) at 90 % in any image."""
    return make_yolo_model(tmp_path_factory.mktemp("tiny"), "yolov3-tiny", input_size=128,
                           planted=PlantedDetection(class_id=16, confidence=0.9))


@pytest.fixture(scope="session")
def blind_model(tmp_path_factory):
    """YOLOv3-tiny at 128×128 input that detects nothing."""
    return make_yolo_model(tmp_path_factory.mktemp("blind"), "yolov3-tiny", input_size=128)
