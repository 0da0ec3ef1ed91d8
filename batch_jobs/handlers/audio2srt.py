"""The audio2srt handler: speech to SRT or WebVTT subtitles, with one of two engines.

`whisper` (the default, see whisper.py) gives subtitles a viewer can read; `pocketsphinx`, the seed's engine,
needs no model beyond its wheel. Both read the audio through `open_pcm` and write cues as they come.

The pocketsphinx engine: audio is streamed in 30 ms frames: the voice-activity detector (pocketsphinx's Endpointer)
opens and closes utterances, the recogniser decodes each one as it arrives, and each finished cue is written out
at once, so memory stays bounded however long the recording is. Long utterances are cut every
`MAX_UTTERANCE_SECONDS`, and a cue longer than `max_cue_seconds` is split between words.
"""
from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import tempfile
import textwrap
import time
import wave
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .handler_errors import InputError, MissingStreamError, ModelFileError, ToolTimeout, UsageError
from .pcm import SAMPLE_BYTES, SAMPLE_RATE, PcmReader
from .probe import probe
from .subtitles import (  # noqa: F401  (format_cue, srt_timestamp: this module's interface before the split)
    MAX_CUE_LINES,
    MAX_CUE_SECONDS,
    MAX_LINE_CHARS,
    Cue,
    Word,
    format_cue,
    is_webvtt,
    readable_cues,
    srt_timestamp,
    write_cues,
)
from .tools import (
    Watchdog,
    atomic_output,
    error_tail,
    ffmpeg_binary,
    processing_timeout,
    read_text_file,
    require_input_file,
    spawn,
)

DEFAULT_MAX_CUE_SECONDS = 6.0
# The recogniser's search state grows with utterance length; continuous speech is cut this often.
MAX_UTTERANCE_SECONDS = 30.0
# Recogniser tokens that are not words: sentence marks, silence, noise and filler models.
NON_WORD = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")
ALTERNATE_PRONUNCIATION = re.compile(r"\(\d+\)$")

log = logging.getLogger("avgen.handlers")


@dataclass(frozen=True)
class SrtResult:
    path: Path
    cues: int
    audio_seconds: float
    seconds: float

    @property
    def real_time_factor(self) -> float:
        return self.seconds / self.audio_seconds if self.audio_seconds else 0.0


def wrap_caption(words: Sequence[str]) -> str:
    return "\n".join(textwrap.wrap(" ".join(words), MAX_LINE_CHARS))


def cues_for_utterance(start: float, end: float, words: Sequence[Word], max_cue_seconds: float) -> list[Cue]:
    """Cues covering one utterance [start, end]: one cue, or several split between words when it is too
    long to read (over `max_cue_seconds` or two lines of text). Utterances with no words give no cue."""
    if not words:
        return []
    groups: list[list[Word]] = [[]]
    for word in words:
        group = groups[-1]
        candidate_text = wrap_caption([w.text for w in group] + [word.text])
        too_long = group and (word.end - group[0].start > max_cue_seconds
                              or candidate_text.count("\n") + 1 > MAX_CUE_LINES)
        if too_long:
            groups.append([word])
        else:
            group.append(word)
    cues = []
    for position, group in enumerate(groups):
        # The outer edges follow the voice detector (it hears breath and soft onsets the recogniser's
        # word boundaries miss); inner edges fall between words.
        cue_start = start if position == 0 else group[0].start
        cue_end = end if position == len(groups) - 1 else group[-1].end
        cues.append(Cue(cue_start, max(cue_end, cue_start + 0.001), wrap_caption([w.text for w in group])))
    return cues


class _Utterance:
    """One stretch of speech being decoded; knows its own start time and how much audio it has seen."""

    def __init__(self, decoder, start: float):
        self.decoder = decoder
        self.start = start
        self.samples = 0
        decoder.start_utt()

    @property
    def end(self) -> float:
        return self.start + self.samples / SAMPLE_RATE

    def feed(self, pcm: bytes) -> None:
        self.decoder.process_raw(pcm, False, False)
        self.samples += len(pcm) // SAMPLE_BYTES

    def finish(self) -> list[Word]:
        self.decoder.end_utt()
        frame_rate = float(self.decoder.config["frate"])
        words = []
        for segment in self.decoder.seg():
            if NON_WORD.match(segment.word):
                continue
            words.append(Word(ALTERNATE_PRONUNCIATION.sub("", segment.word),
                              self.start + segment.start_frame / frame_rate,
                              self.start + (segment.end_frame + 1) / frame_rate))
        return words


def recognise(read_pcm: PcmReader, decoder, endpointer, *,
              max_cue_seconds: float = DEFAULT_MAX_CUE_SECONDS) -> Iterator[Cue]:
    """Cues, in time order, from 16 kHz mono s16le audio pulled from `read_pcm(n_bytes)`."""
    frame_bytes = endpointer.frame_bytes
    utterance: _Utterance | None = None

    def close(current: _Utterance, end: float) -> list[Cue]:
        return cues_for_utterance(current.start, end, current.finish(), max_cue_seconds)

    while True:
        frame = read_pcm(frame_bytes)
        at_end = len(frame) < frame_bytes
        if at_end:
            # end_stream flushes what the detector still holds; it needs at least one sample.
            speech = endpointer.end_stream(frame or b"\0\0") if utterance is not None or frame else None
        else:
            speech = endpointer.process(frame)
        if speech is not None:
            if utterance is None:
                utterance = _Utterance(decoder, endpointer.speech_start)
            utterance.feed(speech)
            if not endpointer.in_speech:
                yield from close(utterance, min(utterance.end, endpointer.speech_end))
                utterance = None
            elif utterance.end - utterance.start >= MAX_UTTERANCE_SECONDS:
                yield from close(utterance, utterance.end)
                utterance = _Utterance(decoder, utterance.end)
        if at_end:
            break
    if utterance is not None:
        yield from close(utterance, utterance.end)


_DECODERS: dict[tuple[tuple[str, str], ...], Any] = {}
# pocketsphinx options that name model files; a name of the en-US model that the wheel carries (as SCAR's
# audio2srt image passed them: `-lm en-us.lm.bin -hmm en-us`) means the wheel's copy when no such file is here.
_MODEL_FILE_OPTIONS = ("hmm", "lm", "dict")
_BUNDLED_NAMES = {"hmm": {"en-us": "en-us/en-us"}, "lm": {"en-us.lm.bin": "en-us/en-us.lm.bin"},
                  "dict": {"cmudict-en-us.dict": "en-us/cmudict-en-us.dict"}}


def decoder_options(options: Mapping[str, str] | None) -> dict[str, str]:
    """pocketsphinx options with model file names resolved: a path that exists, else the wheel's en-US copy."""
    resolved: dict[str, str] = {}
    for name, value in (options or {}).items():
        name = name.lstrip("-")
        if name in _MODEL_FILE_OPTIONS and not Path(value).exists():
            bundled = _BUNDLED_NAMES[name].get(Path(value).name)
            if bundled is None:
                raise ModelFileError(f"pocketsphinx -{name} {value}: no such file or folder")
            from pocketsphinx import get_model_path

            log.info("pocketsphinx -%s %s: not here, using the same model from the pocketsphinx wheel", name, value)
            value = str(Path(get_model_path()) / bundled)
        elif name in _MODEL_FILE_OPTIONS:
            value = str(Path(value).resolve())
        resolved[name] = value
    return resolved


def speech_decoder(options: Mapping[str, str] | None = None):
    """The recogniser (default: the en-US model shipped in the pocketsphinx wheel), loaded once per process
    and set of `options` (pocketsphinx's own, without the dash: `{"lm": PATH}`; see `decoder_options`)."""
    resolved = decoder_options(options)
    key = tuple(sorted(resolved.items()))
    if key not in _DECODERS:
        from pocketsphinx import Decoder

        try:
            _DECODERS[key] = Decoder(loglevel="FATAL", samprate=SAMPLE_RATE, **resolved)
        except KeyError as error:  # pocketsphinx's answer to an option it does not know
            raise UsageError(f"pocketsphinx does not know the option {error.args[0]!s}") from None
        except (RuntimeError, ValueError) as error:
            raise UsageError(f"pocketsphinx refused its options {resolved}: {error}") from None
    return _DECODERS[key]


def _is_speech_ready_wav(path: Path) -> bool:
    """Whether `path` is already what the recogniser eats (16 kHz mono s16 PCM WAV), so no conversion."""
    try:
        with wave.open(str(path), "rb") as wav:
            return (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getcomptype()) == (
                1, SAMPLE_BYTES, SAMPLE_RATE, "NONE")
    except Exception:  # the wave module raises assorted types (even bare RuntimeError) on malformed headers
        return False


@contextlib.contextmanager
def open_pcm(path: Path, *, timeout_s: float | None = None) -> Iterator[PcmReader]:
    """A reader of 16 kHz mono s16le samples from any audio or video file.

    A conforming WAV is read directly; anything else (other rates, stereo, compressed, video) is decoded by
    an ffmpeg child through a pipe, never through a full temporary copy.
    """
    path = require_input_file(path)
    if _is_speech_ready_wav(path):
        with wave.open(str(path), "rb") as wav:
            yield lambda n_bytes: wav.readframes(n_bytes // SAMPLE_BYTES)
        return
    info = probe(path)
    if info.audio is None:
        raise MissingStreamError(f"no audio stream in {info.path}")
    args = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path), "-map", "0:a:0",
            "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-c:a", "pcm_s16le", "-"]
    timeout = processing_timeout(info.duration_s, timeout_s)
    with tempfile.TemporaryFile() as errors:
        decoder = spawn(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        pcm = decoder.stdout
        if pcm is None:
            raise ValueError("the decoder must write to a pipe")
        with Watchdog(timeout, [decoder]) as watchdog:
            yield pcm.read
            pcm.close()
            status = decoder.wait()
        if watchdog.fired:
            raise ToolTimeout(f"decoding the audio of {path} did not finish within {timeout:.0f} s and was stopped")
        if status != 0:
            raise InputError(f"decoding the audio of {path} failed ({error_tail(read_text_file(errors))})")


ENGINES = ("whisper", "pocketsphinx")


def audio_to_srt(
    audio: Path, srt: Path, *, engine: str = "whisper", model: str | None = None, language: str | None = None,
    max_cue_seconds: float | None = None, vad_mode: int = 0, timeout_s: float | None = None,
    pocketsphinx_options: Mapping[str, str] | None = None,
) -> SrtResult:
    """Write subtitles for the speech in `audio` to `srt`: WebVTT when its name ends in .vtt, else SRT (an
    empty SRT, or a WebVTT header alone, when there is no speech).

    `model` and `language` are the whisper engine's (see whisper.resolve_model); `vad_mode` is pocketsphinx's.
    `max_cue_seconds` defaults to each engine's own limit. `pocketsphinx_options` go to pocketsphinx's
    decoder (`{"lm": PATH, "hmm": FOLDER}`); the whisper engine has no use for them.
    """
    if engine not in ENGINES:
        raise UsageError(f"unknown speech engine {engine!r}: choose {' or '.join(ENGINES)}")
    if max_cue_seconds is not None and max_cue_seconds <= 0:
        raise UsageError(f"maximum cue length must be positive, not {max_cue_seconds}")
    if vad_mode not in (0, 1, 2, 3):
        raise UsageError(f"voice-activity mode must be 0 (loose) to 3 (strict), not {vad_mode}")
    require_input_file(audio)  # before loading a model: a typo in the input name should fail fast
    started = time.perf_counter()
    if engine == "whisper":
        from . import whisper

        whisper_model = whisper.load_model(model)

        def cues_from(read_pcm: PcmReader) -> Iterator[Cue]:
            words = whisper.transcribe(read_pcm, whisper_model, language=language)
            return readable_cues(words, min(max_cue_seconds or MAX_CUE_SECONDS, MAX_CUE_SECONDS))
    else:
        from pocketsphinx import Endpointer

        decoder = speech_decoder(pocketsphinx_options)
        endpointer = Endpointer(vad_mode=vad_mode, sample_rate=SAMPLE_RATE)

        def cues_from(read_pcm: PcmReader) -> Iterator[Cue]:
            return recognise(read_pcm, decoder, endpointer, max_cue_seconds=max_cue_seconds or DEFAULT_MAX_CUE_SECONDS)

    progress = _Progress(started)
    with atomic_output(Path(srt)) as partial, open_pcm(audio, timeout_s=timeout_s) as read_pcm:
        with partial.open("w", encoding="utf-8", newline="\n") as out:
            cue_count = write_cues(cues_from(progress.reader(read_pcm)), out, webvtt=is_webvtt(srt))
    return SrtResult(Path(srt), cue_count, progress.audio_seconds, time.perf_counter() - started)


class _Progress:
    """Counts the audio read, and logs a line for each minute of it (long recordings take a while)."""

    def __init__(self, started: float):
        self.started = started
        self.audio_bytes = 0

    @property
    def audio_seconds(self) -> float:
        return self.audio_bytes / (SAMPLE_RATE * SAMPLE_BYTES)

    def reader(self, read_pcm: PcmReader) -> PcmReader:
        def counting_reader(n_bytes: int) -> bytes:
            minutes_before = int(self.audio_seconds // 60)
            chunk = read_pcm(n_bytes)
            self.audio_bytes += len(chunk)
            minutes = int(self.audio_seconds // 60)
            if minutes > minutes_before:
                # Engines read as they go, so this is also how far the transcription has come.
                log.info("%d min of audio read (%.0f s elapsed)", minutes, time.perf_counter() - self.started)
            return chunk

        return counting_reader
