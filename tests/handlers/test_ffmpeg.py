"""ffmpeg handler: frames, audio extraction, AVI transcoding, and what happens with bad input."""
from __future__ import annotations

import pytest

from batch_jobs.handlers.ffmpeg import extract_audio, split_frames, to_avi
from batch_jobs.handlers.handler_errors import InputError, MissingStreamError, ToolTimeout, UsageError
from tests.media import make_audio, make_video, requires_tools, streams_of

from .conftest import run_handler_process

pytestmark = [pytest.mark.media, requires_tools("ffmpeg", "ffprobe")]


@pytest.mark.parametrize(("seconds", "fps"), [(3, 1.0), (3, 2.0), (2, 0.5)])
def test_split_writes_seconds_times_fps_frames_named_in_order(clip_with_audio, media_dir, tmp_path, seconds, fps):
    clip = (clip_with_audio if seconds == 3
            else make_video(media_dir / f"split-{seconds}.mp4", seconds, fps=10, with_audio=False))
    frames = split_frames(clip, tmp_path / "frames", fps=fps)
    assert len(frames) == int(seconds * fps)
    assert [f.name for f in frames] == [f"{clip.stem}-{n:06d}.jpg" for n in range(1, len(frames) + 1)]
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [f.name for f in frames]  # no scratch left
    jpeg = streams_of(frames[0], "video")[0]
    assert (jpeg["codec_name"], jpeg["width"], jpeg["height"]) == ("mjpeg", 160, 120)


def test_split_cli_prints_frames_and_honours_prefix_and_quality(handler, clip_with_audio, tmp_path):
    best = handler("ffmpeg", "split", clip_with_audio, tmp_path / "best", "--quality", "1", "--prefix", "out")
    worst = handler("ffmpeg", "split", clip_with_audio, tmp_path / "worst", "--quality", "31")
    assert best.exit_code == worst.exit_code == 0
    assert [p.name for p in best.written] == ["out-000001.jpg", "out-000002.jpg", "out-000003.jpg"]
    assert best.written[0].stat().st_size > worst.written[0].stat().st_size


@pytest.mark.parametrize("bad_option", [["--fps", "0"], ["--quality", "32"], ["--fps", "x"]])
def test_split_rejects_bad_options_with_usage_exit_code(handler, clip_with_audio, tmp_path, bad_option):
    with pytest.raises(SystemExit) as exit_info:
        handler("ffmpeg", "split", clip_with_audio, tmp_path, *bad_option)
    assert exit_info.value.code == 2
    with pytest.raises(UsageError):
        split_frames(clip_with_audio, tmp_path, fps=0)


def test_audio_is_16khz_mono_s16_pcm_wav(clip_with_audio, tmp_path):
    wav = extract_audio(clip_with_audio, tmp_path / "sub" / "clip.wav")
    [stream] = streams_of(wav, "audio")
    assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("pcm_s16le", "16000", 1)
    assert float(stream["duration"]) == pytest.approx(3.0, abs=0.05)
    assert wav.read_bytes()[:4] == b"RIFF" and wav.read_bytes()[36:40] == b"data"  # plain 44-byte header


def test_audio_from_stereo_audio_only_file(tmp_path):
    wav = extract_audio(make_audio(tmp_path / "song.mp3", 1.5, sample_rate=44100, channels=2), tmp_path / "song.wav")
    [stream] = streams_of(wav, "audio")
    assert (stream["sample_rate"], stream["channels"]) == ("16000", 1)


def test_video_without_audio_gives_distinct_exit_code_or_nothing_with_missing_ok(handler, clip_without_audio, tmp_path):
    target = tmp_path / "mute.wav"
    with pytest.raises(MissingStreamError):
        extract_audio(clip_without_audio, target)
    failed = handler("ffmpeg", "audio", clip_without_audio, target)
    assert failed.exit_code == 10 and "no audio stream" in failed.stderr
    tolerated = handler("ffmpeg", "audio", clip_without_audio, target, "--missing-ok")
    assert tolerated.exit_code == 0 and tolerated.stdout == "" and "no audio stream" in tolerated.stderr
    assert list(tmp_path.iterdir()) == []


def test_audio_only_input_has_no_frames_to_split(handler, tmp_path):
    song = make_audio(tmp_path / "song.m4a", 1, channels=1)
    result = handler("ffmpeg", "split", song, tmp_path / "frames")
    assert result.exit_code == 10 and "no video stream" in result.stderr


def test_avi_has_mpeg4_video_and_mp3_audio(clip_with_audio, tmp_path):
    result = to_avi(clip_with_audio, tmp_path / "clip.avi")
    assert not result.copied and result.has_audio
    [video], [audio] = streams_of(result.path, "video"), streams_of(result.path, "audio")
    assert (video["codec_name"], video["width"], video["height"], int(video["nb_read_frames"])) == (
        "mpeg4", 160, 120, 30)
    assert audio["codec_name"] == "mp3"


def test_avi_input_is_copied_unchanged(media_dir, tmp_path):
    source = make_video(media_dir / "already.avi", 1, fps=10)
    result = to_avi(source, tmp_path / "copy.avi")
    assert result.copied and result.path.read_bytes() == source.read_bytes()


def test_avi_of_video_without_audio_has_video_only(clip_without_audio, tmp_path):
    result = to_avi(clip_without_audio, tmp_path / "mute.avi")
    assert not result.has_audio
    assert streams_of(result.path, "audio") == [] and streams_of(result.path, "video")[0]["codec_name"] == "mpeg4"


def test_avi_resamples_rates_mp3_cannot_carry(media_dir, tmp_path):
    clip = make_video(media_dir / "hirate.mkv", 1, fps=10, sample_rate=96000)
    [audio] = streams_of(to_avi(clip, tmp_path / "hirate.avi").path, "audio")
    assert (audio["codec_name"], audio["sample_rate"]) == ("mp3", "44100")


@pytest.mark.parametrize("command", ["split", "audio", "avi"])
@pytest.mark.parametrize("content", [b"this is not a video\n" * 50, b"\x00\x00\x00\x20ftypisom" + b"\x17" * 3000])
def test_non_media_and_corrupt_input_fail_cleanly_without_output(tmp_path, command, content):
    bad = tmp_path / "upload.mp4"
    bad.write_bytes(content)
    output = tmp_path / ("frames" if command == "split" else f"out.{ 'wav' if command == 'audio' else 'avi'}")
    result = run_handler_process("ffmpeg", command, bad, output)
    assert result.returncode == 3
    assert result.stderr.startswith("avgen-handler: error: cannot read") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not output.exists() or list(output.iterdir()) == []


def test_truncated_video_is_reported_as_bad_input(clip_with_audio, tmp_path):
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(clip_with_audio.read_bytes()[: clip_with_audio.stat().st_size // 3])
    with pytest.raises(InputError, match=r"cut.mp4"):
        split_frames(truncated, tmp_path / "frames")


def test_missing_and_empty_inputs(handler, tmp_path):
    assert handler("ffmpeg", "audio", tmp_path / "absent.mp4", tmp_path / "a.wav").exit_code == 3
    (tmp_path / "empty.mp4").touch()
    result = handler("ffmpeg", "avi", tmp_path / "empty.mp4", tmp_path / "a.avi")
    assert result.exit_code == 3 and "empty" in result.stderr


def test_timeout_stops_ffmpeg_and_says_so(handler, clip_with_audio, tmp_path, monkeypatch):
    monkeypatch.setenv("AVGEN_FFMPEG_TIMEOUT", "0.001")
    with pytest.raises(ToolTimeout):
        extract_audio(clip_with_audio, tmp_path / "a.wav")
    result = handler("ffmpeg", "split", clip_with_audio, tmp_path / "frames", "--timeout", "0.001")
    assert result.exit_code == 6 and "did not finish within" in result.stderr
    assert not (tmp_path / "a.wav").exists()


def test_without_ffprobe_the_ffmpeg_banner_is_parsed(handler, clip_with_audio, clip_without_audio, tmp_path,
                                                     monkeypatch):
    monkeypatch.setenv("AVGEN_FFPROBE", "")
    assert len(handler("ffmpeg", "split", clip_with_audio, tmp_path / "f", "--fps", "2").written) == 6
    assert handler("ffmpeg", "audio", clip_without_audio, tmp_path / "a.wav").exit_code == 10


def test_missing_ffmpeg_binary_is_a_tool_error(handler, clip_with_audio, tmp_path, monkeypatch):
    monkeypatch.setenv("AVGEN_FFMPEG", "/nonexistent/ffmpeg")
    result = handler("ffmpeg", "audio", clip_with_audio, tmp_path / "a.wav")
    assert result.exit_code == 5 and "AVGEN_FFMPEG" in result.stderr


def _numbered_video(path, *, keyframe_every: int, scene_cuts: bool = True):
    """10 s at 25 fps, lossless, frame n a flat grey of level 4n (mod 256): a frame's level says which it is
    (the range conversion's ±1 is a quarter step; the numbers wrap at 64)."""
    import subprocess

    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=black:s=64x48:r=25:d=10,format=gray,geq=lum='N*4'", "-c:v", "libx264", "-crf", "0",
                    "-g", str(keyframe_every), *([] if scene_cuts else ["-sc_threshold", "0"]),
                    "-pix_fmt", "yuv420p", str(path)], check=True, capture_output=True, timeout=60)
    return path


def _frame_numbers(frames) -> list[int]:
    import cv2

    return [int(round(cv2.imread(str(frame), cv2.IMREAD_GRAYSCALE).mean() / 4)) for frame in frames]


@pytest.mark.parametrize("fps", [1.0, 2.0])
def test_split_takes_the_picture_on_screen_at_each_point_of_the_grid(tmp_path, fps):
    video = _numbered_video(tmp_path / "numbered.mp4", keyframe_every=250)
    frames = split_frames(video, tmp_path / "frames", fps=fps)
    # frame N is the one on screen at (N-1)/fps s: source frame ⌊25·(N-1)/fps⌋, for every point before the end
    assert _frame_numbers(frames) == [int(25 * n / fps) % 64 for n in range(int(10 * fps))]


def test_split_decodes_only_keyframes_when_that_gives_the_same_frames(tmp_path):
    from batch_jobs.handlers.ffmpeg import keyframe_sampling
    from batch_jobs.handlers.probe import probe

    on_grid = _numbered_video(tmp_path / "keyframe-each-second.mp4", keyframe_every=25, scene_cuts=False)
    assert keyframe_sampling(probe(on_grid), 1.0) == 10
    assert keyframe_sampling(probe(on_grid), 2.0) is None  # the half seconds are not keyframes
    fast = split_frames(on_grid, tmp_path / "keyframes", fps=1.0)
    full = split_frames(on_grid, tmp_path / "full", fps=1.0, keyframes_only=False)
    assert [f.read_bytes() for f in fast] == [f.read_bytes() for f in full]
    assert _frame_numbers(fast) == [25 * n % 64 for n in range(10)]
    # x264 puts a keyframe at the cut where the grey level wraps (2.56 s): the next sampling points fall
    # on frames that are not keyframes, so everything is decoded
    assert keyframe_sampling(probe(_numbered_video(tmp_path / "cut.mp4", keyframe_every=25)), 1.0) is None


def test_sampled_keyframes_follows_the_grid_from_the_first_picture():
    from batch_jobs.handlers.ffmpeg import sampled_keyframes

    frames = [(n / 10, 0.1, n % 10 == 0) for n in range(30)]  # 3 s at 10 fps, a keyframe each second
    assert sampled_keyframes(frames, 1.0) == 3
    assert sampled_keyframes(frames, 2.0) is None
    assert sampled_keyframes(frames[1:], 1.0) == 2  # starting at 0.1 s: the points 1 s and 2 s
    assert sampled_keyframes([], 1.0) is None
