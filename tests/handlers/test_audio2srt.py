"""audio2srt's pocketsphinx engine: SRT format, cue splitting, and cue timing against espeak-ng speech with
known pauses. (The whisper engine: test_audio2srt_whisper.py.)

The recogniser's words on a synthetic voice are poor, so tests check structure and timing, not words.
"""
from __future__ import annotations

import itertools

import pytest

from batch_jobs.handlers import audio2srt
from batch_jobs.handlers.audio2srt import Cue, Word, cues_for_utterance, format_cue, srt_timestamp
from tests.media import make_speech_wav, make_video, requires_tools, streams_of, write_silence_wav
from tests.speech import parse_srt


@pytest.fixture(autouse=True)
def pocketsphinx_engine(monkeypatch):
    """Every command here runs the pocketsphinx engine, chosen as a workflow would: in the environment."""
    monkeypatch.setenv("AUDIO2SRT_ENGINE", "pocketsphinx")


# Tolerances for cue edges against where espeak's speech is audible: the voice detector decides on
# 30 ms frames over a 0.3 s window.
START_TOLERANCE_S = 0.35
END_TOLERANCE_S = 0.45


@pytest.mark.parametrize(("value", "text"), [(0, "00:00:00,000"), (1.5, "00:00:01,500"), (3599.9995, "01:00:00,000"),
                                             (3723.004, "01:02:03,004"), (-0.2, "00:00:00,000")])
def test_srt_timestamps(value, text):
    assert srt_timestamp(value) == text


def test_cue_block_format():
    assert format_cue(7, Cue(1.0, 2.25, "hello world")) == "7\n00:00:01,000 --> 00:00:02,250\nhello world\n\n"


def words_every(seconds_apart: float, count: int, start: float = 10.0) -> list[Word]:
    return [Word(f"word{i}", start + i * seconds_apart, start + i * seconds_apart + 0.3) for i in range(count)]


def test_short_utterance_is_one_cue_spanning_the_voice_detector_edges():
    assert cues_for_utterance(9.8, 12.0, words_every(0.4, 4), 6.0) == [Cue(9.8, 12.0, "word0 word1 word2 word3")]
    assert cues_for_utterance(9.8, 12.0, [], 6.0) == []


def test_long_utterance_is_split_between_words_within_the_time_limit():
    words = words_every(1.0, 12)  # 12 s of speech
    cues = cues_for_utterance(9.9, 22.5, words, 5.0)
    assert len(cues) == 3
    assert cues[0].start == 9.9 and cues[-1].end == 22.5
    assert all(later.start >= earlier.end for earlier, later in itertools.pairwise(cues))
    assert all(cue.end - cue.start <= 5.0 + 0.6 for cue in cues)
    assert " ".join(cue.text.replace("\n", " ") for cue in cues) == " ".join(w.text for w in words)


def test_wordy_utterance_is_split_to_two_lines_of_42_characters():
    words = [Word("internationalisation", 1 + i * 0.1, 1.05 + i * 0.1) for i in range(9)]
    cues = cues_for_utterance(1.0, 2.0, words, 6.0)
    assert len(cues) > 1
    for cue in cues:
        lines = cue.text.split("\n")
        assert len(lines) <= 2 and all(len(line) <= 42 for line in lines)




@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """Three espeak sentences with 1.2 s pauses, as 16 kHz mono WAV, and where each is audible."""
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    return path, make_speech_wav(path, pause_ms=1200)


@pytest.mark.media
@requires_tools("ffmpeg", "ffprobe", "espeak-ng")
def test_one_cue_per_sentence_timed_to_the_speech(handler, speech, tmp_path):
    wav, spoken = speech
    result = handler("audio2srt", wav, tmp_path / "speech.srt")
    assert result.exit_code == 0, result.stderr
    cues = parse_srt((tmp_path / "speech.srt").read_text())
    assert len(cues) == len(spoken) == 3
    for cue, sentence in zip(cues, spoken, strict=True):
        assert cue.start == pytest.approx(sentence.start, abs=START_TOLERANCE_S)
        assert cue.end == pytest.approx(sentence.end, abs=END_TOLERANCE_S)
        assert cue.text.strip()


@pytest.mark.media
@requires_tools("ffmpeg", "ffprobe", "espeak-ng")
def test_stereo_44k_and_video_inputs_are_converted_first(handler, tmp_path):
    stereo = tmp_path / "stereo.wav"
    spoken = make_speech_wav(stereo, ["Hello there, this is a stereo recording."], pause_ms=600,
                             sample_rate=44100, channels=2)
    [stream] = streams_of(stereo, "audio")
    assert (stream["sample_rate"], stream["channels"]) == ("44100", 2)
    result = handler("audio2srt", stereo, tmp_path / "stereo.srt")
    assert result.exit_code == 0, result.stderr
    [cue] = parse_srt((tmp_path / "stereo.srt").read_text())
    assert cue.start == pytest.approx(spoken[0].start, abs=START_TOLERANCE_S)
    video = make_video(tmp_path / "talk.mp4", 6, fps=5, size=(64, 48), with_audio="speech")
    assert handler("audio2srt", video, tmp_path / "talk.srt").exit_code == 0
    assert len(parse_srt((tmp_path / "talk.srt").read_text())) == 2


@pytest.mark.media
def test_silence_gives_an_empty_srt(handler, tmp_path):
    silence = write_silence_wav(tmp_path / "silence.wav", 5)
    result = handler("audio2srt", silence, tmp_path / "silence.srt")
    assert result.exit_code == 0 and (tmp_path / "silence.srt").read_bytes() == b""
    assert "0 cues from 5.0 s of audio" in result.stderr


@pytest.mark.media
@requires_tools("ffmpeg", "ffprobe", "espeak-ng")
def test_continuous_speech_is_decoded_in_bounded_utterances(speech, monkeypatch, tmp_path):
    """Cutting utterances (bounded decoder memory) still covers the speech, with ordered cues."""
    wav, spoken = speech
    monkeypatch.setattr(audio2srt, "MAX_UTTERANCE_SECONDS", 1.0)
    audio2srt.audio_to_srt(wav, tmp_path / "cut.srt", engine="pocketsphinx")
    cues = parse_srt((tmp_path / "cut.srt").read_text())
    assert len(cues) > len(spoken)
    assert all(later.start >= earlier.end - 1e-3 for earlier, later in itertools.pairwise(cues))
    assert cues[0].start == pytest.approx(spoken[0].start, abs=START_TOLERANCE_S)


@pytest.mark.media
def test_audio_is_pulled_in_small_frames(monkeypatch, tmp_path):
    """The recogniser never asks for more than one 30 ms frame at a time: memory does not grow with length."""
    silence = write_silence_wav(tmp_path / "long.wav", 20)
    requests = []
    original = audio2srt.recognise

    def spy(read_pcm, *args, **kwargs):
        def reading(n_bytes):
            requests.append(n_bytes)
            return read_pcm(n_bytes)

        return original(reading, *args, **kwargs)

    monkeypatch.setattr(audio2srt, "recognise", spy)
    result = audio2srt.audio_to_srt(silence, tmp_path / "long.srt", engine="pocketsphinx")
    assert result.audio_seconds == pytest.approx(20.0) and max(requests) <= 960


@pytest.mark.media
@requires_tools("ffmpeg", "ffprobe")
def test_bad_inputs(handler, clip_without_audio, tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + b"\x01" * 200)
    result = handler("audio2srt", junk, tmp_path / "junk.srt")
    assert result.exit_code == 3 and "cannot read" in result.stderr and not (tmp_path / "junk.srt").exists()
    assert handler("audio2srt", clip_without_audio, tmp_path / "mute.srt").exit_code == 10
    assert handler("audio2srt", clip_without_audio, tmp_path / "mute.srt", "--missing-ok").exit_code == 0
    assert not (tmp_path / "mute.srt").exists()
