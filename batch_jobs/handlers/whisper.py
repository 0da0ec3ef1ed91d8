"""The Whisper engine of audio2srt: faster-whisper (CTranslate2) turning 16 kHz PCM into timed words.

Audio is transcribed a window (WINDOW_SECONDS of new audio) at a time, so memory stays bounded however long
the recording is. The end of a window may cut a word in two, and Whisper then often invents a sentence there
("Have a good day.", "Thanks for watching!"), differently from run to run as its decoder falls back to sampling.
So the window's tail is not trusted: its last sentence, and every word that ends near the window's end, is
carried into the next window and transcribed again with what follows.
"""
from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import model_cache
from .engines import cpu_hint, gpu_required
from .handler_errors import ModelFileError, ToolError, UsageError
from .model_files import cache_dir, fetch_folder_from_s3
from .pcm import SAMPLE_BYTES, SAMPLE_RATE, PcmReader
from .subtitles import Word

log = logging.getLogger("avgen.handlers")

MODEL_ENV = "WHISPER_MODEL"
MODEL_OPTION = "--model"
WINDOW_SECONDS = 60.0
# Whisper's first word after a silence often starts early (its timestamps are 20 ms tokens aligned by
# attention); the cue should start where the voice does, found from the signal's energy.
ONSET_FRAME_SECONDS = 0.01
ONSET_LEVEL = 0.1  # of the loudest frame of the word (-20 dB)
# The words of the carried-over tail, so the next window starts a little before them.
CARRY_MARGIN_SECONDS = 0.2
# Words ending this close to a window's end may have been cut, or invented from a cut word.
UNTRUSTED_TAIL_SECONDS = 1.0
# A name faster-whisper (or the Hugging Face hub) resolves: "tiny.en", "large-v3", "Systran/faster-whisper-small".
MODEL_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def resolve_model(location: str | None) -> str:
    """What to give faster-whisper: a local model folder, a cached copy of an s3:// folder, or a model name.

    `location` comes from --model, else $WHISPER_MODEL. A missing model is an error naming those settings:
    the engine never falls back to another model, or to downloading one nobody asked for.
    """
    location = location or os.environ.get(MODEL_ENV) or None
    if location is None:
        raise ModelFileError(f"no Whisper model given: pass {MODEL_OPTION} or set {MODEL_ENV} (a CTranslate2 model "
                             "folder, s3://bucket/prefix/ holding one, or a model name such as tiny.en)")
    if location.startswith("s3://"):
        return str(_checked_folder(fetch_folder_from_s3(location, what="Whisper model"), location))
    path = Path(location).expanduser()
    if path.exists():
        return str(_checked_folder(path, location))
    if location.startswith((".", "/", "~")) or not MODEL_NAME.match(location):
        raise ModelFileError(f"Whisper model folder not found: {path} (from {MODEL_OPTION} / {MODEL_ENV})")
    return location


def _checked_folder(path: Path, location: str) -> Path:
    if not (path / "model.bin").is_file():
        raise ModelFileError(f"not a CTranslate2 Whisper model (no model.bin): {location} "
                             f"(from {MODEL_OPTION} / {MODEL_ENV})")
    return path


def load_model(location: str | None, *, threads: int = 0):
    """A faster-whisper model, int8 on CPU (fastest there, same words) or float16 on a CUDA GPU; one per
    (model, threads, GPU required) is kept (model_cache), for the warm handler's later calls. A GPU function's
    job (engines.gpu_required) refuses the CPU."""
    resolved = resolve_model(location)
    folder = Path(resolved)
    # a local folder's model.bin changing (same path, new model) means a new model
    stamp = (folder / "model.bin").stat().st_mtime_ns if (folder / "model.bin").is_file() else 0
    needs_gpu = gpu_required()
    return model_cache.cached("whisper", (resolved, stamp, threads, needs_gpu),
                              lambda: _load(resolved, threads, needs_gpu))


def _load(resolved: str, threads: int, needs_gpu: bool):
    try:
        import ctranslate2
        from faster_whisper import WhisperModel
    except ImportError as error:
        raise ModelFileError(f"the whisper engine needs faster-whisper (pip install 'avgen[media]'): {error}") from None
    on_gpu = ctranslate2.get_cuda_device_count() > 0
    if needs_gpu and not on_gpu:
        raise ToolError("this GPU job's Whisper model would run on the CPU: CTranslate2 sees no CUDA device"
                        + cpu_hint())
    try:
        return WhisperModel(resolved, device="cuda" if on_gpu else "cpu", compute_type="float16" if on_gpu else "int8",
                            cpu_threads=threads or (os.cpu_count() or 1),
                            download_root=str(cache_dir() / "whisper"))
    except Exception as error:  # hub lookups and CTranslate2 raise assorted types; all mean "no usable model"
        raise ModelFileError(f"cannot load Whisper model {resolved!r} (from {MODEL_OPTION} / {MODEL_ENV}): "
                             f"{str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__}"
                             ) from None


def pick_language(model, language: str | None) -> str | None:
    """The language to transcribe: English for an English-only model, else `language` (None: detect)."""
    if model.model.is_multilingual:
        return language
    if language not in (None, "en"):
        raise UsageError(f"this Whisper model only knows English, not {language!r}: use a multilingual model")
    return "en"


def speech_onset(samples: np.ndarray, start: float, end: float) -> float:
    """Where the voice starts in [start, end] (seconds into `samples`): the first 10 ms frame within 20 dB
    of the loudest one. Never earlier than `start`."""
    frame = int(ONSET_FRAME_SECONDS * SAMPLE_RATE)
    first, last = int(start * SAMPLE_RATE), max(int(end * SAMPLE_RATE), int(start * SAMPLE_RATE) + frame)
    span = samples[first:last]
    count = len(span) // frame
    if count == 0:
        return start
    energy = np.sqrt(np.mean(span[: count * frame].reshape(count, frame) ** 2, axis=1))
    loud = np.flatnonzero(energy >= ONSET_LEVEL * energy.max())
    return start + (loud[0] * frame / SAMPLE_RATE if len(loud) and energy.max() > 0 else 0.0)


def _words_of(segments, samples: np.ndarray, offset: float) -> list[list[Word]]:
    """Per segment, its words (pieces Whisper splits off, like '-disposed', glued back on), each timed in
    seconds from the start of the audio; a word after a silence starts where the voice does."""
    result = []
    previous_end = None
    for segment in segments:
        words: list[Word] = []
        for piece in segment.words or []:
            text = piece.word
            if words and not text.startswith(" "):
                last = words[-1]
                words[-1] = Word(last.text + text.strip(), last.start, max(last.end, piece.end + offset))
                continue
            start, end = piece.start, max(piece.end, piece.start)
            if previous_end is None or start - previous_end > 0.1:
                start = min(speech_onset(samples, start, end), end)
            previous_end = end
            if text.strip():
                words.append(Word(text.strip(), start + offset, end + offset))
        if words:
            result.append(words)
    return result


def transcribe(read_pcm: PcmReader, model, *, language: str | None = None, beam_size: int = 5) -> Iterator[Word]:
    """Words, in time order, from 16 kHz mono s16le audio pulled from `read_pcm(n_bytes)`."""
    language = pick_language(model, language)
    window_bytes = int(WINDOW_SECONDS * SAMPLE_RATE) * SAMPLE_BYTES
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0.0  # seconds of audio before the buffer's first sample
    at_end = False
    while not at_end:
        chunk = read_pcm(window_bytes)
        at_end = len(chunk) < window_bytes
        buffer = np.concatenate([buffer, np.frombuffer(chunk[: len(chunk) // 2 * 2], dtype="<i2") / np.float32(32768)])
        if not len(buffer):
            break
        segments, info = model.transcribe(buffer, language=language, beam_size=beam_size, word_timestamps=True,
                                          vad_filter=True, condition_on_previous_text=False)
        if language is None:
            language = info.language  # detected once; later windows keep it
            log.info("detected language: %s (probability %.2f)", info.language, info.language_probability)
        segment_words = _words_of(segments, buffer, buffer_start)
        keep, carry_from = split_window(segment_words, at_end, buffer_start, len(buffer) / SAMPLE_RATE)
        yield from keep
        carry_sample = int((carry_from - buffer_start) * SAMPLE_RATE)
        buffer = buffer[carry_sample:].copy()
        buffer_start += carry_sample / SAMPLE_RATE


def split_window(segment_words: list[list[Word]], at_end: bool, buffer_start: float,
                 buffer_seconds: float) -> tuple[list[Word], float]:
    """The words to keep from a window, and the time the next window starts (the rest is carried over).

    Carried: the last sentence and every sentence ending in the window's untrusted tail; when that is more than
    half a window (which would let the buffer grow without bound), only the words ending in the tail, and at
    least the last word.
    """
    buffer_end = buffer_start + buffer_seconds
    words = [w for sentence in segment_words for w in sentence]
    if at_end:
        return words, buffer_end
    if not words:  # no speech: keep only a little, in case a word is just starting
        return [], max(buffer_start, buffer_end - 1.0)
    tail = buffer_end - UNTRUSTED_TAIL_SECONDS
    first_untrusted = len(segment_words) - 1
    while first_untrusted > 0 and segment_words[first_untrusted - 1][-1].end > tail:
        first_untrusted -= 1
    split = sum(len(sentence) for sentence in segment_words[:first_untrusted])
    in_tail = next((i for i, w in enumerate(words) if w.end > tail), len(words) - 1)
    half_window = buffer_start + buffer_seconds / 2
    for candidate in (split, in_tail):
        keep, carried = words[:candidate], words[candidate:]
        carry_from = max(carried[0].start - CARRY_MARGIN_SECONDS, keep[-1].end if keep else buffer_start)
        if carry_from >= half_window:
            return keep, carry_from
    return words, buffer_end
