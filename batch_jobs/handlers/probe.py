"""What a media file contains: container, duration, first video and first audio stream.

ffprobe's JSON is used when ffprobe exists; otherwise the banner that `ffmpeg -i` prints is parsed, so the
handlers also work with a lone static ffmpeg binary.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .handler_errors import InputError
from .tools import PROBE_TIMEOUT_S, error_tail, ffmpeg_binary, ffprobe_binary, require_input_file, run_tool

# ffmpeg guesses "tty" (ANSI art) for some text files: a text file is not media for any handler here.
NOT_MEDIA_FORMATS = {"tty"}
CHANNEL_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "quad": 4, "4.0": 4,
                   "5.0": 5, "5.1": 6, "6.1": 7, "7.1": 8}


@dataclass(frozen=True)
class VideoStream:
    codec: str
    width: int  # as displayed, i.e. after applying any rotation metadata
    height: int
    fps: float | None


@dataclass(frozen=True)
class AudioStream:
    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    format_names: tuple[str, ...]
    duration_s: float | None
    video: VideoStream | None
    audio: AudioStream | None

    @property
    def is_avi(self) -> bool:
        return "avi" in self.format_names


def probe(path: Path) -> MediaInfo:
    """Describe `path`; InputError when it is not media ffmpeg can read."""
    path = require_input_file(path)
    ffprobe = ffprobe_binary()
    info = _probe_with_ffprobe(ffprobe, path) if ffprobe else _probe_with_ffmpeg(path)
    if set(info.format_names) & NOT_MEDIA_FORMATS or (info.video is None and info.audio is None):
        raise InputError(f"not an audio or video file: {path}")
    return info


def _fraction(text: str | None) -> float | None:
    """'30000/1001' → 29.97; '0/0' and missing values → None."""
    if not text:
        return None
    numerator, _, denominator = text.partition("/")
    try:
        value = float(numerator) / float(denominator or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _float_or_none(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "N/A") else None
    except ValueError:
        return None


def _is_quarter_turn(rotation_degrees: float) -> bool:
    return round(abs(rotation_degrees)) % 180 == 90


def _rotation_from_ffprobe(stream: dict) -> float:
    for side_data in stream.get("side_data_list", []):
        if "rotation" in side_data:
            return float(side_data["rotation"])
    return float(stream.get("tags", {}).get("rotate", 0) or 0)


def _probe_with_ffprobe(ffprobe: str, path: Path) -> MediaInfo:
    args = [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    result = run_tool(args, timeout_s=PROBE_TIMEOUT_S, what=f"ffprobe on {path.name}")
    if result.returncode != 0:
        raise InputError(f"cannot read {path} as media: {error_tail(result.stderr)}")
    try:
        report = json.loads(result.stdout or b"{}")
    except json.JSONDecodeError:
        raise InputError(f"ffprobe gave no usable description of {path}") from None
    streams = report.get("streams", [])
    videos = [_ffprobe_video(s) for s in streams
              if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")]
    audios = [AudioStream(s.get("codec_name", "unknown"), int(s.get("sample_rate") or 0), int(s.get("channels") or 0))
              for s in streams if s.get("codec_type") == "audio"]
    video = videos[0] if videos else None
    audio = audios[0] if audios else None
    container = report.get("format", {})
    formats = tuple(name for name in container.get("format_name", "").split(",") if name)
    return MediaInfo(path, formats, _float_or_none(container.get("duration")), video, audio)


def _ffprobe_video(stream: dict) -> VideoStream:
    """One video stream of ffprobe's JSON, its size as displayed (a quarter turn swaps width and height)."""
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    if _is_quarter_turn(_rotation_from_ffprobe(stream)):
        width, height = height, width
    fps = _fraction(stream.get("avg_frame_rate")) or _fraction(stream.get("r_frame_rate"))
    return VideoStream(stream.get("codec_name", "unknown"), width, height, fps)


_INPUT_LINE = re.compile(r"^Input #0, (?P<formats>.+?), from ")
_DURATION = re.compile(r"Duration: (?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)")
_STREAM_LINE = re.compile(r"^\s*Stream #0:\d+.*?: (?P<kind>Video|Audio): (?P<codec>[\w-]+)(?P<details>.*)$")
_SIZE = re.compile(r"[ ,](?P<w>\d{2,5})x(?P<h>\d{2,5})\b")
_FPS = re.compile(r"(?P<fps>\d+(?:\.\d+)?)(?P<k>k?) fps")
_RATE = re.compile(r"(?P<rate>\d+) Hz")
_CHANNELS = re.compile(r"(?P<n>\d+) channels")
_ROTATION = re.compile(r"(?:rotation of (?P<matrix>-?\d+(?:\.\d+)?) degrees|^\s*rotate\s*:\s*(?P<tag>-?\d+))")


def _probe_with_ffmpeg(path: Path) -> MediaInfo:
    result = run_tool(
        [ffmpeg_binary(), "-nostdin", "-hide_banner", "-i", str(path)], timeout_s=PROBE_TIMEOUT_S, what="ffmpeg -i"
    )
    return parse_ffmpeg_banner(result.stderr.decode("utf-8", "replace"), path)


def parse_ffmpeg_banner(banner: str, path: Path) -> MediaInfo:
    """Read `ffmpeg -i`'s description of its input (it exits non-zero for want of an output; that is normal)."""
    formats: tuple[str, ...] = ()
    duration = None
    video = audio = None
    lines = banner.splitlines()
    for index, line in enumerate(lines):
        if match := _INPUT_LINE.match(line):
            formats = tuple(match["formats"].split(","))
        elif (match := _DURATION.search(line)) and duration is None:
            duration = int(match["h"]) * 3600 + int(match["m"]) * 60 + float(match["s"])
        elif match := _STREAM_LINE.match(line):
            details = match["details"]
            if match["kind"] == "Video" and video is None and "(attached pic)" not in details:
                video = _banner_video(match["codec"], details, lines[index + 1:])
            elif match["kind"] == "Audio" and audio is None:
                rate = _RATE.search(details)
                audio = AudioStream(match["codec"], int(rate["rate"]) if rate else 0, _channel_count(details))
    if not formats:
        raise InputError(f"cannot read {path} as media: {error_tail(banner)}")
    return MediaInfo(path, formats, duration, video, audio)


def _banner_video(codec: str, details: str, lines_below: list[str]) -> VideoStream:
    """A video stream line's size and frame rate (`25 fps`, `1k fps`) as the banner prints them; the size as
    displayed when the lines below it rotate the stream by a quarter turn."""
    size = _SIZE.search(details)
    fps = _FPS.search(details)
    fps_value = float(fps["fps"]) * (1000 if fps["k"] else 1) if fps else None
    width, height = (int(size["w"]), int(size["h"])) if size else (0, 0)
    if _quarter_turn_in(lines_below):
        width, height = height, width
    return VideoStream(codec, width, height, fps_value)


def _channel_count(details: str) -> int:
    if match := _CHANNELS.search(details):
        return int(match["n"])
    fields = [field.strip().split("(")[0] for field in details.split(",")]
    return next((CHANNEL_LAYOUTS[field] for field in fields if field in CHANNEL_LAYOUTS), 0)


def _quarter_turn_in(lines_below: list[str]) -> bool:
    """Whether the metadata/side data printed under a video stream line rotates it by 90 degrees."""
    for line in lines_below:
        if _STREAM_LINE.match(line):
            return False
        if match := _ROTATION.search(line):
            return _is_quarter_turn(float(match["matrix"] or match["tag"]))
    return False
