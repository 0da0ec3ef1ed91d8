"""audio2srt speed (real-time factor: seconds of work per second of audio) and memory on long audio.

    python bench/bench_audio2srt.py [--sentences 12] [--long-minutes 5] [--repeat 2]

The reference is pocketsphinx alone decoding the same 16 kHz WAV as one utterance, read whole into
memory; the handler adds voice-activity segmentation, per-cue decoding and SRT writing, and streams.
The long run repeats the speech with ffmpeg and runs the `avgen-handler` process, reporting its peak RSS
next to the short run's: bounded memory means the two stay close.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

from _common import REPO_ROOT, interleaved_best, machine_summary, print_table, run_child

from batch_jobs.handlers.audio2srt import audio_to_srt, speech_decoder
from tests.media import make_speech_wav

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


def pocketsphinx_alone(wav_path: Path) -> float:
    with wave.open(str(wav_path), "rb") as wav:
        pcm = wav.readframes(wav.getnframes())
    decoder = speech_decoder()
    started = time.perf_counter()
    decoder.start_utt()
    decoder.process_raw(pcm, False, True)
    decoder.end_utt()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=12)
    parser.add_argument("--long-minutes", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {machine_summary()}")
    with tempfile.TemporaryDirectory(prefix="bench-srt-") as temporary:
        work = Path(temporary)
        texts = (SENTENCES * (args.sentences // len(SENTENCES) + 1))[: args.sentences]
        speech = work / "speech.wav"
        make_speech_wav(speech, texts, pause_ms=700)
        stereo = work / "speech-44k-stereo.wav"
        make_speech_wav(stereo, texts, pause_ms=700, sample_rate=44100, channels=2)
        with wave.open(str(speech), "rb") as wav:
            audio_seconds = wav.getnframes() / wav.getframerate()
        speech_decoder()  # model load (~0.5 s) is not part of either figure
        results = {}
        best = interleaved_best({
            "reference": lambda: pocketsphinx_alone(speech),
            "mono": lambda: results.__setitem__("mono", audio_to_srt(speech, work / "speech.srt")),
            "stereo": lambda: results.__setitem__("stereo", audio_to_srt(stereo, work / "stereo.srt")),
        }, args.repeat)
        reference = best["reference"]
        handler, converted = results["mono"], results["stereo"]
        rows = [
            ("pocketsphinx alone, one utterance (reference)", audio_seconds, reference / audio_seconds, 1.0, "-"),
            ("handler, 16 kHz mono WAV", handler.audio_seconds, best["mono"] / audio_seconds,
             best["mono"] / reference, handler.cues),
            ("handler, 44.1 kHz stereo WAV (ffmpeg pipe)", converted.audio_seconds, best["stereo"] / audio_seconds,
             best["stereo"] / reference, converted.cues),
        ]
        cli = [sys.executable, "-m", "batch_jobs.handlers", "-q", "audio2srt"]
        short_wall, short_rss, short = run_child([*cli, str(speech), str(work / "short.srt")], cwd=REPO_ROOT)
        rows.append((f"avgen-handler process (peak RSS {short_rss} MiB)", audio_seconds, short_wall / audio_seconds,
                     short_wall / reference, "-"))
        if args.long_minutes > 0:
            long_wav = work / "long.wav"
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(speech),
                            "-t", str(args.long_minutes * 60), "-c:a", "pcm_s16le", str(long_wav)], check=True)
            long_wall, long_rss, long = run_child([*cli, str(long_wav), str(work / "long.srt")], cwd=REPO_ROOT)
            long_seconds = args.long_minutes * 60
            cues = (work / "long.srt").read_text().count(" --> ") if long.returncode == 0 else "failed"
            rows.append((f"avgen-handler process, {args.long_minutes:g} min (peak RSS {long_rss} MiB)", long_seconds,
                         long_wall / long_seconds, long_wall / (reference * long_seconds / audio_seconds), cues))
        print_table(f"audio2srt on {len(texts)} espeak-ng sentences ({audio_seconds:.1f} s)",
                    ("run", "audio s", "real-time factor", "time vs reference (same audio length)", "cues"), rows)


if __name__ == "__main__":
    main()
