"""The audio both speech engines read (pocketsphinx in audio2srt.py, Whisper in whisper.py): 16 kHz mono
signed 16-bit little-endian PCM, pulled `n_bytes` at a time from a reader (fewer bytes at the end)."""
from __future__ import annotations

from collections.abc import Callable

SAMPLE_RATE = 16000
SAMPLE_BYTES = 2

PcmReader = Callable[[int], bytes]
