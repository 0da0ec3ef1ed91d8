"""Test media made on the fly: videos, audio, synthetic speech with known timing, and darknet models.

Nothing is downloaded: videos come from ffmpeg's lavfi sources, speech from espeak-ng, and YOLO weights
are generated to match a cfg exactly (random backbone, detection heads set so outputs stay finite and,
optionally, plant a detection whose answer is known).

Typical use::

    from tests.media import make_video, make_speech_wav, make_yolo_model, requires_tools

    @requires_tools("ffmpeg", "ffprobe")
    def test_something(tmp_path):
        video = make_video(tmp_path / "clip.mp4", seconds=3, fps=10, with_audio=True)
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.tools import requires_tools as requires_tools  # the media tests import it from here

if TYPE_CHECKING:  # numpy is imported where it is used: collection needs no media extras
    import numpy as np

HANDLER_DATA = Path(__file__).resolve().parents[1] / "batch_jobs" / "handlers" / "data"
ESPEAK_RATE = 22050
# Container → (video codec, audio codec) for generated videos.
CODECS_BY_SUFFIX = {
    ".mp4": ("libx264", "aac"),
    ".mov": ("libx264", "aac"),
    ".mkv": ("libx264", "aac"),
    ".avi": ("mpeg4", "libmp3lame"),
}
DEFAULT_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Subtitles should follow the speaker closely.",
    "This is the end of the test recording.",
)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=120)


def ffprobe_json(path: Path) -> dict:
    """ffprobe's description of a file (format and streams) as a dict."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-count_frames",
         str(path)],
        check=True, capture_output=True, timeout=120,
    )
    return json.loads(result.stdout)


def streams_of(path: Path, kind: str) -> list[dict]:
    """The streams of one codec_type ('video' or 'audio') in `path`."""
    return [stream for stream in ffprobe_json(path)["streams"] if stream["codec_type"] == kind]


def make_video(
    path: Path, seconds: float, *, fps: int = 25, size: tuple[int, int] = (160, 120),
    with_audio: bool | str = True, sample_rate: int = 44100, channels: int = 1,
) -> Path:
    """A test-pattern video (lavfi testsrc) with audio: True → a 440 Hz tone, 'speech' → espeak sentences
    (see make_speech_wav), 'silence' → a silent track, False → no audio stream. Codecs follow the suffix."""
    path = Path(path)
    video_codec, audio_codec = CODECS_BY_SUFFIX.get(path.suffix.lower(), ("libx264", "aac"))
    width, height = size
    inputs = ["-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate={fps}:duration={seconds}"]
    speech_file = None
    if with_audio is True:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={sample_rate}:duration={seconds}"]
    elif with_audio == "silence":
        layout = "mono" if channels == 1 else "stereo"
        inputs += ["-f", "lavfi", "-i", f"anullsrc=channel_layout={layout}:sample_rate={sample_rate}"]
    elif with_audio == "speech":
        speech_file = path.with_name(f".{path.stem}-speech.wav")
        make_speech_wav(speech_file, DEFAULT_SENTENCES[:2], pause_ms=500, sample_rate=sample_rate)
        inputs += ["-i", str(speech_file)]
    elif with_audio is not False:
        raise ValueError(f"with_audio must be True, False, 'speech' or 'silence', not {with_audio!r}")
    audio_args = ([] if with_audio is False
                  else ["-map", "1:a", "-c:a", audio_codec, "-ac", str(channels), "-af", "apad"])
    _ffmpeg(*inputs, "-map", "0:v", *audio_args, "-c:v", video_codec, "-pix_fmt", "yuv420p", "-t", str(seconds),
            str(path))
    if speech_file:
        speech_file.unlink()
    return path


def make_audio(path: Path, seconds: float, *, sample_rate: int = 44100, channels: int = 2,
               silent: bool = False) -> Path:
    """An audio-only file (codec from the suffix: .wav PCM, .mp3, .m4a…): a 440 Hz tone or silence."""
    layout = "mono" if channels == 1 else "stereo"
    source = (f"anullsrc=channel_layout={layout}:sample_rate={sample_rate}" if silent
              else f"sine=frequency=440:sample_rate={sample_rate}:duration={seconds}")
    _ffmpeg("-f", "lavfi", "-i", source, "-ac", str(channels), "-t", str(seconds), str(path))
    return Path(path)


@dataclass(frozen=True)
class SpokenSentence:
    text: str
    start: float  # seconds where audible speech starts in the generated file
    end: float


def _espeak_samples(sentence: str, workdir: Path) -> np.ndarray:
    """espeak-ng's rendering of one sentence (22.05 kHz int16), with its leading/trailing silence cut."""
    import numpy as np

    target = workdir / ".espeak.wav"
    subprocess.run(["espeak-ng", "-w", str(target), sentence], check=True, timeout=60)
    with wave.open(str(target), "rb") as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    target.unlink()
    audible = np.nonzero(np.abs(samples.astype(np.int32)) > 0.02 * np.abs(samples).max())[0]
    return samples[audible[0] : audible[-1] + 1]


def make_speech_wav(
    path: Path, sentences: Sequence[str] = DEFAULT_SENTENCES, pause_ms: int = 1000, *,
    sample_rate: int = 16000, channels: int = 1, lead_ms: int | None = None,
) -> list[SpokenSentence]:
    """A WAV of espeak-ng speaking `sentences`, with `pause_ms` of silence before, between and after them
    (`lead_ms` overrides the leading one). Returns where each sentence is audible, in seconds."""
    import numpy as np

    path = Path(path)
    pause = np.zeros(int(ESPEAK_RATE * pause_ms / 1000), dtype=np.int16)
    lead = pause if lead_ms is None else np.zeros(int(ESPEAK_RATE * lead_ms / 1000), dtype=np.int16)
    pieces, spoken, cursor = [lead], [], len(lead)
    for sentence in sentences:
        samples = _espeak_samples(sentence, path.parent)
        spoken.append(SpokenSentence(sentence, cursor / ESPEAK_RATE, (cursor + len(samples)) / ESPEAK_RATE))
        pieces += [samples, pause]
        cursor += len(samples) + len(pause)
    raw = path.with_name(f".{path.stem}-22k.wav")
    with wave.open(str(raw), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(ESPEAK_RATE)
        wav.writeframes(np.concatenate(pieces).tobytes())
    _ffmpeg("-i", str(raw), "-ar", str(sample_rate), "-ac", str(channels), "-c:a", "pcm_s16le", str(path))
    raw.unlink()
    return spoken


def write_silence_wav(path: Path, seconds: float, *, sample_rate: int = 16000) -> Path:
    """Pure digital silence, 16-bit mono, written directly (no tool needed)."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(b"\0\0" * int(sample_rate * seconds))
    return Path(path)


@dataclass(frozen=True)
class PlantedDetection:
    """Head biases that make every grid cell of the first detection head predict `class_id` at
    `confidence` with a box 20 times the network input: all those boxes overlap, so after NMS the model
    reports exactly one detection of that class, clipped to the whole image."""

    class_id: int = 0
    confidence: float = 0.9


BOX_SCALE_OF_PLANT = 20.0


def _logit(probability: float) -> float:
    return math.log(probability / (1 - probability))


def _head_biases(filters: int, classes: int, planted_anchor: tuple[float, float] | None,
                 input_size: tuple[int, int], planted: PlantedDetection | None) -> np.ndarray:
    """Per anchor: tx, ty, tw, th, objectness, class scores. Objectness ~0 everywhere (nothing detected)
    except, when planting, for the first anchor of the head, sized by `planted_anchor` (pixels)."""
    import numpy as np

    per_anchor = 5 + classes
    biases = np.zeros(filters, dtype=np.float32)
    biases[4::per_anchor] = -20.0
    if planted is not None and planted_anchor is not None:
        anchor_width, anchor_height = planted_anchor
        biases[2] = math.log(BOX_SCALE_OF_PLANT * input_size[0] / anchor_width)
        biases[3] = math.log(BOX_SCALE_OF_PLANT * input_size[1] / anchor_height)
        biases[4] = 20.0
        biases[5 : 5 + classes] = -20.0
        biases[5 + planted.class_id] = _logit(planted.confidence)
    return biases


def _first_anchor_of_each_head(cfg_path: Path) -> dict[int, tuple[float, float]]:
    """Layer index of each head's conv → (width, height) of the first anchor its [yolo] layer uses."""
    from batch_jobs.handlers.darknet import parse_cfg

    anchors_by_conv = {}
    layers = parse_cfg(cfg_path)[1:]
    for index, section in enumerate(layers):
        if section.kind == "yolo":
            values = [float(v) for v in section.options["anchors"].split(",")]
            first = int(section.options["mask"].split(",")[0])
            anchors_by_conv[index - 1] = (values[2 * first], values[2 * first + 1])
    return anchors_by_conv


def with_input_size(cfg_text: str, input_size: int) -> str:
    """A darknet cfg's text with the network input set to INPUT_SIZE × INPUT_SIZE (a multiple of 32)."""
    return "\n".join(
        f"{line.split('=')[0]}={input_size}" if line.split("=")[0].strip() in ("width", "height") else line
        for line in cfg_text.splitlines()
    ) + "\n"


def make_yolo_model(
    directory: Path, cfg: str = "yolov3-tiny", *, input_size: int | None = None,
    planted: PlantedDetection | None = None, seed: int = 0, varied: bool = False,
) -> tuple[Path, Path, Path]:
    """(cfg, weights, names) for a bundled cfg ('yolov3-tiny' or 'yolov3'), with generated weights.

    Weights file layout (darknet): int32 major, minor, revision; int64 images seen (format ≥ 0.2); then
    per convolutional layer, float32: biases, [scales, rolling mean, rolling variance if batch-normalised],
    kernels. The backbone is random but scaled to keep activations finite; the detection heads (the convs
    right before [yolo]) have zero kernels, so their output is just their biases: no detection at all,
    or with `planted`, exactly one (see PlantedDetection).
    `input_size` rewrites the cfg's width/height (a multiple of 32) for faster tests.
    `varied` gives batch norms random statistics and the heads small random kernels, so that a converted
    network's outputs depend on every parameter (for exactness tests; detections are then arbitrary).
    """
    import numpy as np

    from batch_jobs.handlers.darknet import describe_network

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cfg_text = (HANDLER_DATA / f"{cfg}.cfg").read_text()
    if input_size:
        cfg_text = with_input_size(cfg_text, input_size)
    cfg_path = directory / f"{cfg}.cfg"
    cfg_path.write_text(cfg_text)
    names_path = directory / "coco.names"
    shutil.copyfile(HANDLER_DATA / "coco.names", names_path)
    network = describe_network(cfg_path)
    head_anchors = _first_anchor_of_each_head(cfg_path)
    planted_head = min(head_anchors) if planted else None
    rng = np.random.default_rng(seed)
    weights_path = directory / f"{cfg}.weights"
    with weights_path.open("wb") as out:
        out.write(np.array([0, 2, 0], dtype=np.int32).tobytes())
        out.write(np.array([0], dtype=np.int64).tobytes())
        for layer in network.conv_layers:
            n = layer.filters
            if layer.feeds_detection:
                anchor = head_anchors[layer.index] if layer.index == planted_head else None
                input_size = (network.input_width, network.input_height)
                out.write(_head_biases(n, network.classes, anchor, input_size, planted).tobytes())
                head_scale = 0.5 / math.sqrt(layer.kernel_weights / n) if varied else 0.0
                out.write(rng.normal(0.0, head_scale, layer.kernel_weights).astype(np.float32).tobytes())
                continue
            out.write(rng.normal(0.0, 0.1, n).astype(np.float32).tobytes())
            if layer.batch_normalize:
                for low, high, fixed in ((0.5, 1.5, 1.0), (-0.1, 0.1, 0.0), (0.5, 2.0, 1.0)):  # scales, mean, variance
                    values = rng.uniform(low, high, n) if varied else np.full(n, fixed)
                    out.write(values.astype(np.float32).tobytes())
            fan_in = layer.input_channels // layer.groups * layer.size * layer.size
            out.write(rng.normal(0.0, 0.5 / math.sqrt(fan_in), layer.kernel_weights).astype(np.float32).tobytes())
    return cfg_path, weights_path, names_path
