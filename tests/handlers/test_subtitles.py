"""Readable cues from timed words (any engine), and the SRT / WebVTT writers."""
from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_jobs.handlers.subtitles import (
    MAX_CHARS_PER_SECOND,
    MAX_CUE_LINES,
    MAX_CUE_SECONDS,
    MAX_LINE_CHARS,
    MIN_CUE_SECONDS,
    Cue,
    Word,
    layout,
    readable_cues,
    vtt_timestamp,
    write_cues,
)
from tests.speech import parse_srt, parse_vtt


def speak(
    text: str, start: float = 1.0, seconds_per_word: float = 0.3, pause_after_sentence: float = 0.0
) -> list[Word]:
    """Words of `text` one after another, with an optional pause after each sentence."""
    words, clock = [], start
    for token in text.split():
        words.append(Word(token, clock, clock + seconds_per_word * 0.9))
        clock += seconds_per_word + (pause_after_sentence if token.endswith(".") else 0.0)
    return words


def assert_readable(cues: list[Cue]) -> None:
    """The cue rules of issue 12, on any cue list (the whisper tests check every file they produce with it)."""
    for cue, following in zip(cues, cues[1:] + [None], strict=True):
        lines = cue.text.split("\n")
        assert len(lines) <= MAX_CUE_LINES and all(0 < len(line) <= MAX_LINE_CHARS for line in lines), cue
        duration = cue.end - cue.start
        assert MIN_CUE_SECONDS - 1e-3 <= duration <= MAX_CUE_SECONDS + 1e-3, cue
        assert len(cue.text.replace("\n", "")) / duration <= MAX_CHARS_PER_SECOND + 0.5, cue
        if following is not None:
            assert following.start >= cue.end, (cue, following)


def test_short_text_is_one_line_long_text_two_balanced_lines():
    assert layout(["Hello", "there."]) == "Hello there."
    text = "Turn left at the second traffic light, and park near the old library".split()
    assert layout(text) == "Turn left at the second traffic light,\nand park near the old library"
    assert layout(["word"] * 40) is None


def test_each_sentence_gets_its_own_cue_and_a_pause_ends_a_cue():
    words = speak("The weather is cloudy today. Please bring your documents tomorrow.", pause_after_sentence=0.2)
    cues = list(readable_cues(words))
    assert [c.text for c in cues] == ["The weather is cloudy today.", "Please bring your documents tomorrow."]
    assert cues[0].start == words[0].start and cues[1].start == words[5].start
    paused = speak("one two three") + speak("four five six", start=4.0)
    assert [c.text for c in readable_cues(paused)] == ["one two three", "four five six"]


def test_long_speech_breaks_at_phrase_boundaries_within_the_limits():
    words = speak("He finished reading the long book before the end of the holiday, and then he went back "
                  "to work at the library where he had been employed for many years without a break", 0.0, 0.33)
    cues = list(readable_cues(words))
    assert len(cues) > 1
    assert_readable(cues)
    assert cues[0].text.endswith("holiday,")
    assert " ".join(c.text.replace("\n", " ") for c in cues) == " ".join(w.text for w in words)


def test_cues_stay_up_long_enough_to_read_but_never_overlap_the_next():
    [short] = readable_cues([Word("Yes.", 2.0, 2.2)])
    assert short == Cue(2.0, 3.0, "Yes.")
    lingering = list(readable_cues([Word("Stop", 2.0, 2.3), Word("there.", 2.3, 3.1), Word("Now", 4.5, 4.7)]))
    assert lingering[0].end == pytest.approx(3.1 + 0.6) and lingering[1].start == 4.5
    follows_closely = list(readable_cues([Word("Stop", 2.0, 2.3), Word("there.", 2.3, 3.1), Word("Now", 3.3, 3.7)]))
    assert follows_closely[0].end == pytest.approx(3.3 - 0.05) and follows_closely[1].start == 3.3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text("abcdefghij", min_size=1, max_size=14), st.sampled_from(["", ",", "."]),
                          st.floats(0.15, 0.45), st.floats(0.0, 1.2)), min_size=1, max_size=80))
def test_cue_rules_hold_for_any_speech_at_a_normal_rate(spoken):
    words, clock = [], 0.5
    for text, mark, length, pause in spoken:
        # Normal speech: about 15 characters a second at most, so a reading speed of 20 is reachable.
        length = max(length, (len(text) + 1) / 15)
        words.append(Word(text + mark, clock, clock + length))
        clock += length + pause
    cues = list(readable_cues(words))
    assert_readable(cues)
    assert " ".join(c.text.replace("\n", " ") for c in cues) == " ".join(w.text for w in words)
    assert all(cue.start >= words[0].start for cue in cues)


def test_srt_and_webvtt_files():
    cues = [Cue(1.0, 2.5, "Hello there."), Cue(3.0, 4.0, "Two\nlines --> here")]
    srt, vtt = io.StringIO(), io.StringIO()
    assert write_cues(cues, srt, webvtt=False) == write_cues(cues, vtt, webvtt=True) == 2
    assert parse_srt(srt.getvalue())[0] == cues[0]
    assert [c.text for c in parse_vtt(vtt.getvalue())] == ["Hello there.", "Two\nlines - -> here"]
    assert vtt_timestamp(3723.004) == "01:02:03.004"
    empty = io.StringIO()
    assert write_cues([], empty, webvtt=True) == 0 and empty.getvalue() == "WEBVTT\n\n"
