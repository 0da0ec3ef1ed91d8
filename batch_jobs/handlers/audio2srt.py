"""The audio2srt handler: speech to SRT subtitles with pocketsphinx's voice-activity detector and recogniser.

Audio is streamed in 30 ms frames: the voice-activity detector (pocketsphinx's Endpointer) opens and
closes utterances, the recogniser decodes each one as it arrives, and each finished cue is written out
at once, so memory stays bounded however long the recording is. Long utterances are cut every
`MAX_UTTERANCE_SECONDS`, and a cue longer than `max_cue_seconds` is split between words.
"""
from __future__ import annotations

import contextlib
import re
import subprocess
import tempfile
import textwrap
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .errors import InputError, MissingStreamError, ToolTimeout, UsageError
from .probe import probe
from .tools import (
    Watchdog, atomic_output, error_tail, ffmpeg_binary, processing_timeout, read_text_file, require_input_file, spawn,
)

SAMPLE_RATE = 16000
SAMPLE_BYTES = 2
DEFAULT_MAX_CUE_SECONDS = 6.0
# Common subtitle guidance: two lines of at most 42 characters.
MAX_LINE_CHARS = 42
MAX_CUE_LINES = 2
# The recogniser's search state grows with utterance length; continuous speech is cut this often.
MAX_UTTERANCE_SECONDS = 30.0
# Recogniser tokens that are not words: sentence marks, silence, noise and filler models.
NON_WORD = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")
ALTERNATE_PRONUNCIATION = re.compile(r"\(\d+\)$")

PcmReader = Callable[[int], bytes]


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds from the start of the audio
    end: float


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class SrtResult:
    path: Path
    cues: int
    audio_seconds: float
    seconds: float

    @property
    def real_time_factor(self) -> float:
        return self.seconds / self.audio_seconds if self.audio_seconds else 0.0


def srt_timestamp(seconds: float) -> str:
    """'HH:MM:SS,mmm', rounded to the millisecond."""
    total_ms = max(0, int(round(seconds * 1000)))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def format_cue(number: int, cue: Cue) -> str:
    """One SRT block, including the blank line that separates it from the next."""
    return f"{number}\n{srt_timestamp(cue.start)} --> {srt_timestamp(cue.end)}\n{cue.text}\n\n"


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


_DECODER = None


def speech_decoder():
    """The en-US recogniser shipped in the pocketsphinx wheel, loaded once per process."""
    global _DECODER
    if _DECODER is None:
        from pocketsphinx import Decoder

        _DECODER = Decoder(loglevel="FATAL", samprate=SAMPLE_RATE)
    return _DECODER


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
        with Watchdog(timeout, [decoder]) as watchdog:
            yield decoder.stdout.read
            decoder.stdout.close()
            status = decoder.wait()
        if watchdog.fired:
            raise ToolTimeout(f"decoding the audio of {path} did not finish within {timeout:.0f} s and was stopped")
        if status != 0:
            raise InputError(f"decoding the audio of {path} failed ({error_tail(read_text_file(errors))})")


def audio_to_srt(
    audio: Path, srt: Path, *, max_cue_seconds: float = DEFAULT_MAX_CUE_SECONDS, vad_mode: int = 0,
    timeout_s: float | None = None,
) -> SrtResult:
    """Write SRT subtitles for the speech in `audio` (an empty file when there is none)."""
    if max_cue_seconds <= 0:
        raise UsageError(f"maximum cue length must be positive, not {max_cue_seconds}")
    if vad_mode not in (0, 1, 2, 3):
        raise UsageError(f"voice-activity mode must be 0 (loose) to 3 (strict), not {vad_mode}")
    from pocketsphinx import Endpointer

    started = time.perf_counter()
    decoder = speech_decoder()
    endpointer = Endpointer(vad_mode=vad_mode, sample_rate=SAMPLE_RATE)
    audio_bytes = 0
    cue_count = 0
    with atomic_output(Path(srt)) as partial, open_pcm(audio, timeout_s=timeout_s) as read_pcm:

        def counting_reader(n_bytes: int) -> bytes:
            nonlocal audio_bytes
            chunk = read_pcm(n_bytes)
            audio_bytes += len(chunk)
            return chunk

        with partial.open("w", encoding="utf-8", newline="\n") as out:
            for cue in recognise(counting_reader, decoder, endpointer, max_cue_seconds=max_cue_seconds):
                cue_count += 1
                out.write(format_cue(cue_count, cue))
    return SrtResult(Path(srt), cue_count, audio_bytes / (SAMPLE_RATE * SAMPLE_BYTES), time.perf_counter() - started)
