"""The ffmpeg handler: split a video into JPEG frames, extract speech-ready WAV audio, transcode to AVI."""
from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .handler_errors import InputError, MissingStreamError, UsageError
from .probe import MediaInfo, probe
from .tools import (
    atomic_output,
    error_tail,
    ffmpeg_binary,
    ffprobe_binary,
    processing_timeout,
    run_tool,
    scratch_directory,
)

FRAME_NUMBER_DIGITS = 6
# Sample rates the MP3 encoder accepts; anything else is resampled to 44.1 kHz.
MP3_SAMPLE_RATES = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000}
SPEECH_SAMPLE_RATE = 16000


@dataclass(frozen=True)
class AviResult:
    path: Path
    copied: bool  # True when the input already was AVI and was copied unchanged
    has_audio: bool


def _ffmpeg_command(*args: str) -> list[str]:
    # -nostdin: never wait on a terminal; errors only, so a failure's message is the last stderr line.
    return [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]


def _run_ffmpeg(args: list[str], info: MediaInfo, timeout_s: float | None, what: str) -> None:
    result = run_tool(args, timeout_s=processing_timeout(info.duration_s, timeout_s), what=what)
    if result.returncode != 0:
        raise InputError(f"{what} failed on {info.path} ({error_tail(result.stderr)})")


def _require_video(info: MediaInfo) -> None:
    if info.video is None:
        raise MissingStreamError(f"no video stream in {info.path}")


def split_frames(
    video: Path, output_dir: Path, *, fps: float = 1.0, quality: int = 2, prefix: str | None = None,
    timeout_s: float | None = None, keyframes_only: bool | None = None,
) -> list[Path]:
    """Write one JPEG every 1/fps seconds as OUTPUT_DIR/<prefix>-000001.jpg, -000002.jpg, … in time order.

    Frame N is the picture on screen at exactly (N-1)/fps seconds from the start of the file, for every such
    point before the video's end (a 10 s video at 1 fps: the pictures at 0, 1, …, 9 s). ffmpeg's `fps`
    filter is told to round timestamps up for that: with its default rounding it takes the last picture
    before (N-1)/fps + 0.5/fps (about k + 0.48 s at 1 fps). `quality` is ffmpeg's JPEG scale, 1 (best) to 31.

    keyframes_only: decode only keyframes (`-skip_frame nokey`, about a third of the time). None (the
    default) does so exactly when it gives the same frames: when the packet timestamps show that every
    picture taken is a keyframe (sources encoded with a keyframe on each sampling point). Returns the
    frame paths in order.
    """
    if not fps > 0:
        raise UsageError(f"frame rate must be positive, not {fps}")
    if not 1 <= quality <= 31:
        raise UsageError(f"JPEG quality must be between 1 (best) and 31, not {quality}")
    info = probe(video)
    _require_video(info)
    prefix = prefix if prefix is not None else Path(video).stem
    output_dir = Path(output_dir)
    expected = None
    if keyframes_only is None:
        expected = keyframe_sampling(info, fps, timeout_s)
        keyframes_only = expected is not None
    # Frames land in a scratch folder first, so a failure leaves no partial set behind.
    with scratch_directory(output_dir) as scratch:
        scratch_frames = _extract_frames(info, scratch, fps, quality, timeout_s, keyframes_only)
        if keyframes_only and expected is not None and len(scratch_frames) != expected:
            # the demuxer ended the keyframe-only stream early: decode everything after all
            for frame in scratch_frames:
                frame.unlink()
            scratch_frames = _extract_frames(info, scratch, fps, quality, timeout_s, False)
        if not scratch_frames:
            raise InputError(f"no frame could be decoded from {info.path}")
        frames = []
        for scratch_frame in scratch_frames:
            frame = output_dir / f"{prefix}-{scratch_frame.name}"
            os.replace(scratch_frame, frame)
            frames.append(frame)
    return frames


def _extract_frames(info: MediaInfo, scratch: Path, fps: float, quality: int, timeout_s: float | None,
                    keyframes_only: bool) -> list[Path]:
    pattern = scratch / f"%0{FRAME_NUMBER_DIGITS}d.jpg"
    args = _ffmpeg_command(
        *(["-skip_frame", "nokey"] if keyframes_only else []),
        "-i", str(info.path), "-map", "0:v:0", "-vf", f"fps={fps:g}:round=up",
        # -qmin 1 lets quality 1 really mean the best JPEG (the encoder's default floor is 2).
        "-qmin", "1", "-q:v", str(quality), "-f", "image2", str(pattern),
    )
    _run_ffmpeg(args, info, timeout_s, "frame extraction")
    return sorted(scratch.glob("*.jpg"))


def keyframe_sampling(info: MediaInfo, fps: float, timeout_s: float | None = None) -> int | None:
    """How many frames `split_frames` takes when each of them is a keyframe, else None (also when the
    packets cannot be read: no ffprobe, or timestamps missing). Reads packet headers only (no decoding)."""
    ffprobe = ffprobe_binary()
    if ffprobe is None:
        return None
    result = run_tool([ffprobe, "-v", "error", "-select_streams", "v:0", "-show_entries",
                       "format=start_time:packet=pts_time,duration_time,flags", "-of", "json", str(info.path)],
                      timeout_s=processing_timeout(info.duration_s, timeout_s), what="packet listing")
    if result.returncode != 0:
        return None
    try:
        report = json.loads(result.stdout or b"{}")
        start = float(report.get("format", {}).get("start_time") or 0.0)
        packets = sorted((float(p["pts_time"]) - start, float(p.get("duration_time") or 0.0), "K" in p["flags"])
                         for p in report.get("packets", []))
    except (ValueError, KeyError, TypeError):
        return None
    return sampled_keyframes(packets, fps)


def sampled_keyframes(packets: list[tuple[float, float, bool]], fps: float) -> int | None:
    """The number of grid points k/fps (on the file's timeline) from the first picture to the video's end,
    when the picture on screen at each is a keyframe; else None. `packets`: (time, duration, is keyframe)
    in time order. The grid is the one the fps filter uses when rounding up: the first point at or after
    the first picture, the last before its last picture's end."""
    if not packets:
        return None
    epsilon = 1e-6
    first_time = packets[0][0]
    end = packets[-1][0] + packets[-1][1]
    first_tick = math.ceil(first_time * fps - epsilon)
    ticks = math.ceil(end * fps - epsilon) - first_tick
    index = 0
    for tick in range(first_tick, first_tick + ticks):
        at = tick / fps
        while index + 1 < len(packets) and packets[index + 1][0] <= at + epsilon:
            index += 1
        if not packets[index][2]:
            return None
    return ticks if ticks > 0 else None


def extract_audio(media: Path, wav: Path, *, timeout_s: float | None = None) -> Path:
    """Write the first audio stream as 16 kHz mono signed 16-bit PCM WAV (what speech recognisers expect).

    MissingStreamError when the input has no audio stream.
    """
    info = probe(media)
    if info.audio is None:
        raise MissingStreamError(f"no audio stream in {info.path}")
    with atomic_output(Path(wav)) as partial:
        args = _ffmpeg_command(
            "-i", str(info.path), "-map", "0:a:0", "-vn",
            "-ac", "1", "-ar", str(SPEECH_SAMPLE_RATE), "-c:a", "pcm_s16le",
            # bitexact: a plain 44-byte RIFF header with no encoder tag, readable by the simplest parsers.
            "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "wav", str(partial),
        )
        _run_ffmpeg(args, info, timeout_s, "audio extraction")
    return Path(wav)


def to_avi(media: Path, avi: Path, *, quality: int = 3, timeout_s: float | None = None) -> AviResult:
    """Write an AVI with MPEG-4 Part 2 video and MP3 audio; an input that already is AVI is copied as it is.

    `quality` is the MPEG-4 quantiser scale, 1 (best, biggest) to 31. MissingStreamError without video.
    """
    if not 1 <= quality <= 31:
        raise UsageError(f"MPEG-4 quality must be between 1 (best) and 31, not {quality}")
    info = probe(media)
    _require_video(info)
    avi = Path(avi)
    if info.is_avi:
        if avi.resolve() != info.path.resolve():
            with atomic_output(avi) as partial:
                shutil.copyfile(info.path, partial)
        return AviResult(avi, copied=True, has_audio=info.audio is not None)
    audio_args: list[str] = []
    if info.audio is not None:
        audio_args = ["-map", "0:a:0", "-c:a", "libmp3lame", "-q:a", "2"]
        if info.audio.sample_rate not in MP3_SAMPLE_RATES:
            audio_args += ["-ar", "44100"]
    with atomic_output(avi) as partial:
        args = _ffmpeg_command(
            "-i", str(info.path), "-map", "0:v:0", "-c:v", "mpeg4", "-q:v", str(quality), *audio_args,
            "-f", "avi", str(partial),
        )
        _run_ffmpeg(args, info, timeout_s, "AVI transcoding")
    return AviResult(avi, copied=False, has_audio=info.audio is not None)
