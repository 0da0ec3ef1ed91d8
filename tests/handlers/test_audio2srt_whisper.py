"""audio2srt's whisper engine (the default): words measured by word error rate on real human speech (LibriVox)
and on espeak-ng, cue rules on every file it writes, cue starts against a forced alignment, model settings."""
from __future__ import annotations

import pytest

from batch_jobs.handlers import whisper
from batch_jobs.handlers.handler_errors import ModelFileError
from batch_jobs.handlers.subtitles import Word
from tests.handlers.test_subtitles import assert_readable
from tests.media import make_speech_wav, requires_tools, write_silence_wav
from tests.speech import cue_texts, librivox_recording, parse_srt, parse_vtt, whisper_tiny_en, word_error_rate

ESPEAK_SENTENCES = [
    "The weather today is cloudy with a chance of rain in the afternoon.",
    "Please remember to bring your documents to the meeting tomorrow.",
    "Our train leaves the station at half past seven in the morning.",
    "She opened the window and listened to the birds in the garden.",
    "Turn left at the second traffic light and park near the library.",
    "Thank you for listening, and see you next time.",
]
# Where a cue may start against the forced alignment's first word (issue 12).
START_TOLERANCE_S = 0.3


@pytest.fixture(scope="module")
def model():
    return whisper_tiny_en()


@pytest.fixture(scope="module")
def librivox(tmp_path_factory):
    path = tmp_path_factory.mktemp("librivox") / "librivox.wav"
    return path, librivox_recording(path)


def transcribed(handler, audio, output, *options):
    result = handler("audio2srt", audio, output, *options)
    assert result.exit_code == 0, result.stderr
    cues = parse_vtt(output.read_text()) if output.suffix == ".vtt" else parse_srt(output.read_text())
    assert_readable(cues)
    return cues


def assert_cues_start_with_the_speech(cues, speech_starts):
    """Each stretch of speech (a clip, a sentence) opens with a cue within tolerance of its first sound."""
    for speech_start in speech_starts:
        opening = min(cues, key=lambda cue: abs(cue.start - speech_start))
        assert opening.start == pytest.approx(speech_start, abs=START_TOLERANCE_S), (speech_start, cues)
    assert cues[0].start >= speech_starts[0] - START_TOLERANCE_S


@pytest.mark.media
def test_real_human_speech_word_error_rate_and_timing(handler, model, librivox, tmp_path, monkeypatch):
    audio, clips = librivox
    monkeypatch.setenv("WHISPER_MODEL", str(model))
    cues = transcribed(handler, audio, tmp_path / "librivox.srt")
    error_rate = word_error_rate(" ".join(clip.text for clip in clips), cue_texts(cues))
    assert error_rate <= 0.08, (error_rate, cue_texts(cues))
    assert_cues_start_with_the_speech(cues, [clip.start for clip in clips])


@pytest.mark.media
def test_long_audio_is_transcribed_window_by_window(handler, model, librivox, tmp_path, monkeypatch):
    """Ten-second windows (one minute in use) over the 35 s recording: the sentence a window cuts is carried
    into the next, so the words stay as good, and no read asks for more than one window."""
    audio, clips = librivox
    monkeypatch.setattr(whisper, "WINDOW_SECONDS", 10.0)
    requests = []
    original = whisper.transcribe

    def spy(read_pcm, *args, **kwargs):
        return original(lambda n_bytes: requests.append(n_bytes) or read_pcm(n_bytes), *args, **kwargs)

    monkeypatch.setattr(whisper, "transcribe", spy)
    cues = transcribed(handler, audio, tmp_path / "windows.vtt", "--model", model)
    assert max(requests) == 10 * 16000 * 2 and len(requests) >= 4
    error_rate = word_error_rate(" ".join(clip.text for clip in clips), cue_texts(cues))
    assert error_rate <= 0.08, (error_rate, cue_texts(cues))
    assert_cues_start_with_the_speech(cues, [clip.start for clip in clips])


def sentence(*timed_words):
    return [Word(text, start, end) for text, start, end in timed_words]


def test_a_window_carries_every_sentence_in_its_tail():
    """Whisper invents sentences from a word cut at a window's end ("Thanks for watching!", seen at 18.3 s of
    a window ending at 20 s): none of them is kept, the next window starts before them."""
    window = [sentence(("selfish", 13.4, 13.9), ("ill-disposed.", 17.5, 18.3)),
              sentence(("Thanks", 18.3, 18.3), ("watching!", 18.3, 19.6)),
              sentence(("Thank", 19.7, 19.8), ("you", 19.8, 20.0))]
    keep, carry_from = whisper.split_window(window, False, 9.0, 11.0)
    assert [w.text for w in keep] == ["selfish", "ill-disposed."] and carry_from == pytest.approx(18.3)


def test_a_long_last_sentence_still_carries_the_words_ending_in_the_tail():
    """Carrying a whole sentence longer than half a window is refused (the buffer would grow), but the words
    at the window's end are still decoded again, never kept cut."""
    window = [sentence(("selfish", 13.4, 13.9), ("ill-disposed.", 17.5, 18.3), ("Had", 19.6, 20.0))]
    keep, carry_from = whisper.split_window(window, False, 9.0, 11.0)
    assert [w.text for w in keep] == ["selfish", "ill-disposed."] and carry_from == pytest.approx(19.4)


def test_the_last_window_keeps_every_word():
    window = [sentence(("one", 1.0, 1.5)), sentence(("two", 9.5, 10.0))]
    assert whisper.split_window(window, True, 0.0, 10.0) == ([w for s in window for w in s], 10.0)


@pytest.mark.media
@requires_tools("ffmpeg", "ffprobe", "espeak-ng")
def test_espeak_speech_word_error_rate_and_timing(handler, model, tmp_path):
    audio = tmp_path / "espeak.wav"
    spoken = make_speech_wav(audio, ESPEAK_SENTENCES, pause_ms=900)
    cues = transcribed(handler, audio, tmp_path / "espeak.srt", "--model", model, "--engine", "whisper")
    error_rate = word_error_rate(" ".join(ESPEAK_SENTENCES), cue_texts(cues))
    assert error_rate <= 0.15, (error_rate, cue_texts(cues))
    assert_cues_start_with_the_speech(cues, [sentence.start for sentence in spoken])


@pytest.mark.media
def test_silence_gives_no_cues_and_a_progress_line_per_minute(handler, model, tmp_path):
    silence = write_silence_wav(tmp_path / "silence.wav", 125)
    result = handler("audio2srt", silence, tmp_path / "silence.vtt", "--model", model)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "silence.vtt").read_text() == "WEBVTT\n\n"
    assert "1 min of audio read" in result.stderr and "2 min of audio read" in result.stderr
    assert "0 cues from 125.0 s of audio (whisper" in result.stderr


def test_a_missing_model_is_an_error_naming_the_setting(handler, tmp_path, monkeypatch):
    monkeypatch.delenv("WHISPER_MODEL", raising=False)
    monkeypatch.delenv("AUDIO2SRT_ENGINE", raising=False)
    audio = write_silence_wav(tmp_path / "a.wav", 1)
    result = handler("audio2srt", audio, tmp_path / "a.srt")
    assert result.exit_code == ModelFileError.exit_code
    assert "no Whisper model given: pass --model or set WHISPER_MODEL" in result.stderr
    result = handler("audio2srt", audio, tmp_path / "a.srt", "--model", tmp_path / "nowhere")
    assert result.exit_code == 4 and f"Whisper model folder not found: {tmp_path / 'nowhere'}" in result.stderr
    monkeypatch.setenv("WHISPER_MODEL", str(tmp_path))
    result = handler("audio2srt", audio, tmp_path / "a.srt")
    assert result.exit_code == 4 and "not a CTranslate2 Whisper model (no model.bin)" in result.stderr
    assert not (tmp_path / "a.srt").exists()
    assert whisper.resolve_model("tiny.en") == "tiny.en"  # a name: faster-whisper resolves it where it can


def test_engine_from_the_environment(handler, tmp_path, monkeypatch):
    audio = write_silence_wav(tmp_path / "a.wav", 1)
    monkeypatch.setenv("AUDIO2SRT_ENGINE", "pocketsphinx")
    result = handler("audio2srt", audio, tmp_path / "a.srt")
    assert result.exit_code == 0 and "(pocketsphinx," in result.stderr
    monkeypatch.setenv("AUDIO2SRT_ENGINE", "kaldi")
    result = handler("audio2srt", audio, tmp_path / "a.srt")
    assert result.exit_code == 2 and "unknown speech engine 'kaldi' in AUDIO2SRT_ENGINE" in result.stderr


@pytest.mark.media
def test_an_english_model_refuses_another_language(handler, model, tmp_path):
    audio = write_silence_wav(tmp_path / "a.wav", 1)
    result = handler("audio2srt", audio, tmp_path / "a.srt", "--model", model, "--language", "de")
    assert result.exit_code == 2 and "only knows English" in result.stderr


def test_a_model_folder_on_s3_is_downloaded_once(aws_env, tmp_path, monkeypatch):
    import boto3

    monkeypatch.setenv("AVGEN_MODEL_CACHE", str(tmp_path / "cache"))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="models")
    for name in ("model.bin", "config.json", "tokenizer.json"):
        s3.put_object(Bucket="models", Key=f"whisper/tiny.en/{name}", Body=name.encode())
    cached = tmp_path / "cache" / "models" / "whisper" / "tiny.en"
    assert whisper.resolve_model("s3://models/whisper/tiny.en/") == str(cached)
    assert sorted(p.name for p in cached.iterdir()) == ["config.json", "model.bin", "tokenizer.json"]
    s3.delete_object(Bucket="models", Key="whisper/tiny.en/model.bin")
    assert whisper.resolve_model("s3://models/whisper/tiny.en") == str(cached)  # no second download
    with pytest.raises(ModelFileError, match="no objects under that prefix"):
        whisper.resolve_model("s3://models/whisper/small/")
    assert sorted(p.name for p in cached.parent.iterdir()) == ["tiny.en"]  # no partial download left


@pytest.mark.media
def test_a_gpu_job_never_transcribes_on_the_cpu_unless_allowed(handler, model, tmp_path, monkeypatch):
    """As yolo's: AVGEN_REQUIRE_GPU=1 (a GPU function's job) refuses a model CTranslate2 would run on the CPU,
    also when this process loaded that model on the CPU before; AVGEN_ALLOW_CPU=1 allows it."""
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("CTranslate2 sees a CUDA device on this machine")
    audio = write_silence_wav(tmp_path / "a.wav", 1)
    assert handler("audio2srt", audio, tmp_path / "warm.srt", "--model", model).exit_code == 0
    monkeypatch.setenv("AVGEN_REQUIRE_GPU", "1")
    result = handler("audio2srt", audio, tmp_path / "refused.srt", "--model", model)
    assert result.exit_code == 5 and "CTranslate2 sees no CUDA device" in result.stderr
    assert "set AVGEN_ALLOW_CPU=1 to allow it" in result.stderr and not (tmp_path / "refused.srt").exists()
    monkeypatch.setenv("AVGEN_ALLOW_CPU", "1")
    assert handler("audio2srt", audio, tmp_path / "allowed.srt", "--model", model).exit_code == 0
