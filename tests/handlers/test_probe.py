"""Media probing: ffprobe's JSON and the `ffmpeg -i` banner fallback describe files the same way."""
from __future__ import annotations

from pathlib import Path

import pytest

from batch_jobs.handlers.handler_errors import InputError
from batch_jobs.handlers.probe import MediaInfo, parse_ffmpeg_banner, probe
from tests.media import make_audio, make_video, requires_tools

BANNER = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'phone.mp4':
  Metadata:
    major_brand     : isom
  Duration: 00:01:02.50, start: 0.000000, bitrate: 111 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709), 1920x1080 [SAR 1:1 DAR 16:9], \
34 kb/s, 29.97 fps, 29.97 tbr, 90k tbn (default)
    Metadata:
      handler_name    : VideoHandler
    Side data:
      displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, 5.1(side), fltp, 69 kb/s (default)
At least one output file must be specified
"""


def test_banner_gives_streams_duration_and_rotated_size():
    info = parse_ffmpeg_banner(BANNER, Path("phone.mp4"))
    assert info.format_names[0] == "mov" and "mp4" in info.format_names
    assert info.duration_s == pytest.approx(62.5)
    assert (info.video.codec, info.video.width, info.video.height, info.video.fps) == ("h264", 1080, 1920, 29.97)
    assert (info.audio.codec, info.audio.sample_rate, info.audio.channels) == ("aac", 48000, 6)


def test_banner_ignores_cover_art_and_reads_channel_counts():
    banner = """Input #0, mp3, from 'song.mp3':
  Duration: 00:00:03.00, start: 0.025057, bitrate: 130 kb/s
  Stream #0:0: Audio: mp3, 44100 Hz, 3 channels, fltp, 128 kb/s
  Stream #0:1: Video: mjpeg (Baseline), yuvj420p(pc), 300x300, 90k tbr, 90k tbn (attached pic)
"""
    info = parse_ffmpeg_banner(banner, Path("song.mp3"))
    assert info.video is None and info.audio.channels == 3


def test_banner_of_garbage_is_bad_input():
    with pytest.raises(InputError, match="Invalid data found"):
        parse_ffmpeg_banner("x.bin: Invalid data found when processing input\n", Path("x.bin"))


@pytest.mark.media
@requires_tools("ffmpeg", "ffprobe")
@pytest.mark.parametrize("use_ffprobe", [True, False])
def test_ffprobe_and_banner_agree(tmp_path, monkeypatch, use_ffprobe):
    video = make_video(tmp_path / "v.mkv", 1, fps=12, size=(64, 48), sample_rate=22050, channels=2)
    song = make_audio(tmp_path / "s.wav", 1, sample_rate=8000, channels=1)
    if not use_ffprobe:
        monkeypatch.setenv("AVGEN_FFPROBE", "")
    info: MediaInfo = probe(video)
    assert "matroska" in info.format_names and info.duration_s == pytest.approx(1.0, abs=0.1)
    assert (info.video.width, info.video.height, info.video.fps) == (64, 48, 12)
    assert (info.audio.sample_rate, info.audio.channels) == (22050, 2)
    song_info = probe(song)
    assert song_info.video is None and (song_info.audio.codec, song_info.audio.sample_rate) == ("pcm_s16le", 8000)
