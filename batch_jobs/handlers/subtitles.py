"""Subtitle cues from timed words, and the SRT and WebVTT files they are written to.

`readable_cues` groups a stream of words into cues a viewer can read (common broadcast guidance): at most
two lines of at most 42 characters, 1 to 7 seconds on screen, at most ~20 characters per second, breaking
at sentence ends and pauses first, then at phrase boundaries. It holds at most one cue's words and one
finished cue, so it works on recordings of any length.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

MAX_LINE_CHARS = 42
MAX_CUE_LINES = 2
MIN_CUE_SECONDS = 1.0
MAX_CUE_SECONDS = 7.0
MAX_CHARS_PER_SECOND = 20.0
# A silence this long between words ends a cue: the next words belong to a new thought or speaker.
PAUSE_SECONDS = 0.8
# Text stays up this long after the last word, so the eye can finish the line.
LINGER_SECONDS = 0.6
# A visible blank between consecutive cues tells the viewer the text changed.
CUE_GAP_SECONDS = 0.05

SENTENCE_END = re.compile(r"[.?!…][\"')\]]*$")
PHRASE_END = re.compile(r"[,;:—–][\"')\]]*$")
# Words a phrase often starts with: a line or cue break before them reads naturally.
PHRASE_STARTERS = frozenset(
    "and but or nor so because which who whom whose that when while if although though where then after before "
    "until unless since as than".split())


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


def break_strength(before: str, after: str) -> int:
    """How good a place the gap between two words is for a break: 3 sentence end, 2 punctuation, 1 before a
    conjunction or relative word, 0 anywhere else."""
    if SENTENCE_END.search(before):
        return 3
    if PHRASE_END.search(before):
        return 2
    return 1 if after.lower().strip("\"'(") in PHRASE_STARTERS else 0


def layout(texts: Sequence[str]) -> str | None:
    """The words as one line, or two balanced lines broken at the best phrase boundary; None if they
    do not fit in two lines of MAX_LINE_CHARS."""
    one_line = " ".join(texts)
    if len(one_line) <= MAX_LINE_CHARS:
        return one_line
    best: tuple[float, str] | None = None
    for split in range(1, len(texts)):
        top, bottom = " ".join(texts[:split]), " ".join(texts[split:])
        if len(top) > MAX_LINE_CHARS or len(bottom) > MAX_LINE_CHARS:
            continue
        # A phrase boundary is worth some imbalance; a lone word on a line is not.
        score = 12 * break_strength(texts[split - 1], texts[split]) - abs(len(top) - len(bottom))
        if best is None or score > best[0]:
            best = (score, f"{top}\n{bottom}")
    return best[1] if best else None


def _fits(words: Sequence[Word], max_cue_seconds: float) -> bool:
    return (words[-1].end - words[0].start <= max_cue_seconds
            and layout([w.text for w in words]) is not None)


def _long_enough(first: Word, next_first: Word) -> bool:
    """Whether a cue from `first` can stay up MIN_CUE_SECONDS before a cue starting at `next_first`."""
    return next_first.start - first.start >= MIN_CUE_SECONDS + CUE_GAP_SECONDS


def _best_split(words: Sequence[Word]) -> int:
    """Where to end the cue when the next word does not fit: an index into `words` (the cue takes
    `words[:index]`), preferring strong boundaries, then fuller cues. A boundary that would leave a cue of
    less than a third of the text counts as none; one that leaves a cue too short to read is not taken."""
    total = sum(len(w.text) + 1 for w in words)
    best_index, best_key = len(words), (0, len(words))
    for index in range(1, len(words)):
        if not _long_enough(words[0], words[index]):
            continue
        left = sum(len(w.text) + 1 for w in words[:index])
        strength = break_strength(words[index - 1].text, words[index].text) if left * 3 >= total else 0
        if (strength, index) > best_key:
            best_index, best_key = index, (strength, index)
    return best_index


def word_groups(words: Iterable[Word], max_cue_seconds: float = MAX_CUE_SECONDS) -> Iterator[list[Word]]:
    """The words, in order, cut into groups that each make one readable cue."""
    group: list[Word] = []
    for word in words:
        if group and _long_enough(group[0], word) and (word.start - group[-1].end >= PAUSE_SECONDS
                                                      or SENTENCE_END.search(group[-1].text)):
            yield group
            group = []
        while group and not _fits([*group, word], max_cue_seconds):
            split = _best_split(group)
            yield group[:split]
            group = group[split:]
        group.append(word)
    if group:
        yield group


def _timed(words: Sequence[Word], next_start: float | None, max_cue_seconds: float) -> Cue:
    """A cue for `words`: from the first word's start until it has been readable long enough (at least
    MIN_CUE_SECONDS, the reading speed, a short linger), but never into the next cue."""
    text = layout([w.text for w in words]) or " ".join(w.text for w in words)
    start = words[0].start
    reading = len(text.replace("\n", "")) / MAX_CHARS_PER_SECOND
    end = min(max(words[-1].end + LINGER_SECONDS, start + MIN_CUE_SECONDS, start + reading), start + max_cue_seconds)
    if next_start is not None:
        end = min(end, next_start - CUE_GAP_SECONDS)
    return Cue(start, max(end, start + 0.001), text)


def readable_cues(words: Iterable[Word], max_cue_seconds: float = MAX_CUE_SECONDS) -> Iterator[Cue]:
    """Cues, in time order, for a stream of words in time order (see the module's description)."""
    pending: list[Word] | None = None
    for group in word_groups(words, max_cue_seconds):
        if pending is not None:
            yield _timed(pending, group[0].start, max_cue_seconds)
        pending = group
    if pending is not None:
        yield _timed(pending, None, max_cue_seconds)


# --- file formats


def _timestamp(seconds: float, decimal_mark: str) -> str:
    total_ms = max(0, int(round(seconds * 1000)))
    hours, rest = divmod(total_ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal_mark}{millis:03d}"


def srt_timestamp(seconds: float) -> str:
    """'HH:MM:SS,mmm', rounded to the millisecond."""
    return _timestamp(seconds, ",")


def vtt_timestamp(seconds: float) -> str:
    """'HH:MM:SS.mmm', rounded to the millisecond."""
    return _timestamp(seconds, ".")


def format_cue(number: int, cue: Cue) -> str:
    """One SRT block, including the blank line that separates it from the next."""
    return f"{number}\n{srt_timestamp(cue.start)} --> {srt_timestamp(cue.end)}\n{cue.text}\n\n"


def format_vtt_cue(cue: Cue) -> str:
    """One WebVTT cue; '-->' in the text would end the cue early, so it is spaced out."""
    text = cue.text.replace("-->", "- ->")
    return f"{vtt_timestamp(cue.start)} --> {vtt_timestamp(cue.end)}\n{text}\n\n"


def is_webvtt(path: Path) -> bool:
    return Path(path).suffix.lower() == ".vtt"


def write_cues(cues: Iterable[Cue], out: IO[str], *, webvtt: bool) -> int:
    """Write cues to `out` as SRT (numbered from 1) or WebVTT; returns how many were written."""
    if webvtt:
        out.write("WEBVTT\n\n")
    count = 0
    for cue in cues:
        count += 1
        out.write(format_vtt_cue(cue) if webvtt else format_cue(count, cue))
    return count
