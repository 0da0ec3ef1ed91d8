"""ffmpeg handler speed: seconds of video processed per second of work, against plain ffmpeg.

    python bench/bench_ffmpeg.py [--seconds 60] [--size 1280x720] [--repeat 3]

The reference is the same ffmpeg command line run directly (as SCAR's scripts did); the ratio is the
handler's overhead: probing the input, the scratch folder and renames, the Python process. The last row
compares `split` on a source with a keyframe every second (only keyframes decoded) against the same split
decoding every frame.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from _common import interleaved_best, machine_summary, print_table

from batch_jobs.handlers.ffmpeg import extract_audio, split_frames, to_avi

FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]


def make_busy_clip(path: Path, seconds: float, width: int, height: int, keyframe_every: int = 0) -> Path:
    """Moving pattern plus temporal noise at ~4 Mb/s: decodes like camera footage, unlike a flat test card.
    keyframe_every: a keyframe every that many frames exactly (no scene-cut keyframes), else x264's choice."""
    keyframes = ["-g", str(keyframe_every), "-sc_threshold", "0"] if keyframe_every else []
    subprocess.run([
        *FFMPEG, "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25,noise=alls=12:allf=t+u",
        "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=48000", "-ac", "2", "-t", str(seconds),
        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "4M", *keyframes, "-pix_fmt", "yuv420p", "-c:a", "aac",
        str(path),
    ], check=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    print(f"machine: {machine_summary()}")
    with tempfile.TemporaryDirectory(prefix="bench-ffmpeg-") as temporary:
        work = Path(temporary)
        clip = make_busy_clip(work / "clip.mp4", args.seconds, width, height)
        print(f"input: {args.seconds:g} s, {width}x{height} 25 fps H.264 + AAC 48 kHz stereo, "
              f"{clip.stat().st_size / 1e6:.1f} MB")

        def fresh(name: str) -> Path:
            path = work / name
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir()
            return path

        def plain(*command: str) -> None:
            subprocess.run([*FFMPEG, *command], check=True)

        cases = [
            ("split 1 frame/s, q 2",
             lambda: plain("-i", str(clip), "-vf", "fps=1", "-qmin", "1", "-q:v", "2", str(fresh("raw") / "%06d.jpg")),
             lambda: split_frames(clip, fresh("frames"), fps=1, quality=2)),
            ("audio to 16 kHz mono WAV",
             lambda: plain("-i", str(clip), "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le",
                           str(work / "raw.wav")),
             lambda: extract_audio(clip, work / "audio.wav")),
            ("AVI (MPEG-4 + MP3)",
             lambda: plain("-i", str(clip), "-c:v", "mpeg4", "-q:v", "3", "-c:a", "libmp3lame", "-q:a", "2",
                           str(work / "raw.avi")),
             lambda: to_avi(clip, work / "clip.avi")),
        ]
        # a source with a keyframe on every second: split decodes only keyframes (same JPEG bytes); the
        # reference is the same handler made to decode every frame
        keyed = make_busy_clip(work / "keyed.mp4", args.seconds, width, height, keyframe_every=25)
        cases.append(("split 1 frame/s, keyframe each second (vs decoding all)",
                      lambda: split_frames(keyed, fresh("all"), fps=1, quality=2, keyframes_only=False),
                      lambda: split_frames(keyed, fresh("keyframes"), fps=1, quality=2)))
        rows = []
        for name, reference, handler in cases:
            best = interleaved_best({"plain": reference, "handler": handler}, args.repeat)
            plain_s, handler_s = best["plain"], best["handler"]
            rows.append((name, plain_s, args.seconds / plain_s, handler_s, args.seconds / handler_s,
                         handler_s / plain_s))
        print_table(f"ffmpeg handler on {args.seconds:g} s of {width}x{height} video",
                    ("operation", "plain ffmpeg s", "video s per s", "handler s", "video s per s", "handler / plain"),
                    rows)


if __name__ == "__main__":
    main()
