"""The ffmpeg handler: split a video into JPEG frames, extract speech-ready WAV audio, transcode to AVI."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, MissingStreamError, UsageError
from .probe import MediaInfo, probe
from .tools import atomic_output, error_tail, ffmpeg_binary, processing_timeout, run_tool, scratch_directory

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
    timeout_s: float | None = None,
) -> list[Path]:
    """Write one JPEG every 1/fps seconds as OUTPUT_DIR/<prefix>-000001.jpg, -000002.jpg, … in time order.

    Frame N shows the video at about (N-1)/fps seconds. `quality` is ffmpeg's JPEG scale, 1 (best) to 31.
    Returns the frame paths in order.
    """
    if not fps > 0:
        raise UsageError(f"frame rate must be positive, not {fps}")
    if not 1 <= quality <= 31:
        raise UsageError(f"JPEG quality must be between 1 (best) and 31, not {quality}")
    info = probe(video)
    _require_video(info)
    prefix = prefix if prefix is not None else Path(video).stem
    output_dir = Path(output_dir)
    # Frames land in a scratch folder first, so a failure leaves no partial set behind.
    with scratch_directory(output_dir) as scratch:
        pattern = scratch / f"%0{FRAME_NUMBER_DIGITS}d.jpg"
        args = _ffmpeg_command(
            "-i", str(info.path), "-map", "0:v:0", "-vf", f"fps={fps:g}",
            # -qmin 1 lets quality 1 really mean the best JPEG (the encoder's default floor is 2).
            "-qmin", "1", "-q:v", str(quality), "-f", "image2", str(pattern),
        )
        _run_ffmpeg(args, info, timeout_s, "frame extraction")
        scratch_frames = sorted(scratch.glob("*.jpg"))
        if not scratch_frames:
            raise InputError(f"no frame could be decoded from {info.path}")
        frames = []
        for scratch_frame in scratch_frames:
            frame = output_dir / f"{prefix}-{scratch_frame.name}"
            os.replace(scratch_frame, frame)
            frames.append(frame)
    return frames


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
