"""YOLO handler speed against OpenCV's bare forward pass and against Debian's darknet binary.

    python bench/bench_yolo.py [--models yolov3-tiny,yolov3] [--repeat 3] [--darknet-images 2]

Weights are generated to fit the bundled cfgs (no download is possible here): the arithmetic is the same
as with the published weights; a planted detection makes post-processing and drawing do real work.
Figures:
- bare forward: blobFromImage + net.forward on the handler's own network, the reference (ratio 1);
- handler detect: letterbox pre-processing, forward, NMS (`yolo.detect`);
- handler image: the whole `yolo image` job per image: read JPEG, detect, draw, write PNG and text;
- handler video: `yolo video` on a generated 320×240 clip: ffmpeg decode, detect, draw, MPEG-4 encode;
- darknet: `darknet detector test … -out` per image, its own "Predicted in" time and the process' wall time;
- CLI process: one `avgen-handler yolo image` process (start, imports, load, one image), as a Lambda
  invocation per frame pays it, with its peak memory, with and without `--low-memory`.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

from _common import REPO_ROOT, interleaved_best, machine_summary, print_table, run_child, seconds_of

import cv2
import numpy as np

from batch_jobs.handlers import yolo
from tests.media import PlantedDetection, make_video, make_yolo_model

SAMPLE_IMAGES = [Path("/usr/share/darknet/data") / name
                 for name in ("dog.jpg", "horses.jpg", "person.jpg", "eagle.jpg")]
PREDICTED_IN = re.compile(r"Predicted in ([\d.]+) seconds")


def benchmark_images(work: Path) -> list[Path]:
    found = [path for path in SAMPLE_IMAGES if path.exists()]
    if found:
        return found
    generated = []
    for index in range(4):  # no darknet samples installed: synthetic 768×576 pictures
        path = work / f"synthetic-{index}.jpg"
        rng = np.random.default_rng(index)
        cv2.imwrite(str(path), cv2.GaussianBlur(rng.integers(0, 255, (576, 768, 3), dtype=np.uint8), (15, 15), 5))
        generated.append(path)
    return generated


def bench_model(cfg_name: str, images: list[Path], work: Path, repeat: int, darknet_images: int, video_seconds: float):
    model_dir = work / cfg_name
    cfg, weights, names = make_yolo_model(model_dir, cfg_name, planted=PlantedDetection(class_id=16, confidence=0.9))
    load_s = seconds_of(lambda: yolo.load_model(cfg, weights, names))
    model = yolo.load_model(cfg, weights, names)
    pictures = [cv2.imread(str(path)) for path in images]
    settings = yolo.DetectionSettings()
    yolo.detect(model, pictures[0], settings)  # first pass allocates; keep it out of the figures

    def bare_forward():
        for picture in pictures:
            model.net.setInput(cv2.dnn.blobFromImage(picture, 1 / 255, (model.input_width, model.input_height),
                                                     swapRB=True))
            model.net.forward(model.output_layers)

    out_dir = work / "out"
    clip = make_video(work / f"clip-{cfg_name}.mp4", video_seconds, fps=10, size=(320, 240), with_audio=True)
    frames = []

    def handler_video():
        frames.append(yolo.detect_video(model, clip, work / f"clip-{cfg_name}.avi", settings).frames)

    per_image = len(images)
    best = interleaved_best({
        "bare": bare_forward,
        "detect": lambda: [yolo.detect(model, p, settings) for p in pictures],
        "image": lambda: [yolo.detect_image(model, p, out_dir, settings) for p in images],
        "video": handler_video,
    }, repeat)
    bare, detect, handler_image = (best[name] / per_image for name in ("bare", "detect", "image"))
    video_frame = best["video"] / frames[0]
    rows = [
        ("bare forward (reference)", bare, 1 / bare, 1.0),
        ("handler detect (letterbox+forward+NMS)", detect, 1 / detect, detect / bare),
        ("handler image (read+detect+draw+write)", handler_image, 1 / handler_image, handler_image / bare),
        (f"handler video ({frames[0]} frames 320x240)", video_frame, 1 / video_frame, video_frame / bare),
    ]
    if shutil.which("darknet") and darknet_images:
        data = model_dir / "coco.data"
        data.write_text(f"classes= 80\nnames = {names}\n")
        inference, wall = [], []
        for image in images[:darknet_images]:
            elapsed, _, result = run_child(["darknet", "detector", "test", str(data), str(cfg), str(weights),
                                            str(image), "-thresh", "0.25", "-out", str(work / "darknet-out")],
                                           cwd=work)
            found = PREDICTED_IN.search(result.stdout + result.stderr)
            if result.returncode != 0 or not found:
                print(f"darknet failed on {image.name}: {(result.stderr or result.stdout)[-300:]}", file=sys.stderr)
                break
            inference.append(float(found.group(1)))
            wall.append(elapsed)
        if inference:
            darknet_inference = min(inference)
            rows.append(("darknet detector test: inference", darknet_inference, 1 / darknet_inference,
                         darknet_inference / bare))
            rows.append(("darknet detector test: whole process", min(wall), 1 / min(wall), min(wall) / bare))
    lean = yolo.load_model(cfg, weights, names, low_memory=True)
    yolo.detect(lean, pictures[0], settings)
    lean_detect = seconds_of(lambda: [yolo.detect(lean, p, settings) for p in pictures], repeat) / per_image
    rows.append(("handler detect, --low-memory (no Winograd)", lean_detect, 1 / lean_detect, lean_detect / bare))
    for extra in ([], ["--low-memory"]):
        cli_wall, cli_rss, cli = run_child(
            [sys.executable, "-m", "batch_jobs.handlers", "-q", "yolo", "image", str(images[0]), str(work / "cli-out"),
             "--cfg", str(cfg), "--weights", str(weights), "--names", str(names), *extra], cwd=REPO_ROOT)
        if cli.returncode == 0:
            rows.append((f"avgen-handler process {' '.join(extra)}, 1 image (peak RSS {cli_rss} MiB)", cli_wall,
                         1 / cli_wall, cli_wall / bare))
    print(f"\n{cfg_name}: network load {load_s:.2f} s, {len(images)} images {', '.join(p.name for p in images)}")
    print_table(f"{cfg_name} at {model.input_width}x{model.input_height}",
                ("what", "s per image/frame", "images or frames/s", "time vs bare forward"), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="yolov3-tiny,yolov3")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--darknet-images", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="OpenCV threads (default: all cores)")
    parser.add_argument("--video-seconds", type=float, default=3.0)
    args = parser.parse_args()
    cv2.setNumThreads(args.threads or cv2.getNumberOfCPUs())
    print(f"machine: {machine_summary()}; OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads")
    with tempfile.TemporaryDirectory(prefix="bench-yolo-") as temporary:
        work = Path(temporary)
        images = benchmark_images(work)
        for cfg_name in args.models.split(","):
            bench_model(cfg_name, images, work, args.repeat, args.darknet_images, args.video_seconds)


if __name__ == "__main__":
    main()
