"""The YOLO handler: darknet YOLOv3 / YOLOv3-tiny object detection (ONNX Runtime, OpenCV DNN or OpenVINO).

Images give darknet-style text (`<stem>.out`) and an annotated `<stem>.png`; videos give an annotated AVI
(with the source's audio kept) and one JSON line of detections per frame.

Pre-processing follows darknet. pjreddie's darknet (the one SCAR's images and Debian ship) letterboxes
the image into the network input: aspect ratio kept, grey (0.5) borders. AlexeyAB's fork stretches it to
the input size unless run with `-letter_box`. Letterbox is the default here; `letterbox=False` stretches.
"""
from __future__ import annotations

import colorsys
import contextlib
import json
import logging
import queue
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from . import model_cache
from .darknet import check_weights, describe_network, read_names
from .engines import DEFAULT_ENGINE, Engine, open_engine, required_backend
from .ffmpeg import MP3_SAMPLE_RATES
from .handler_errors import InputError, MissingStreamError, ToolError, ToolTimeout, UsageError
from .probe import MediaInfo, probe
from .tools import (
    UNKNOWN_DURATION_TIMEOUT_S,
    Watchdog,
    atomic_output,
    configured_timeout,
    error_tail,
    ffmpeg_binary,
    read_text_file,
    require_input_file,
    spawn,
)

log = logging.getLogger("avgen.handlers.yolo")

DEFAULT_CONFIDENCE = 0.25
DEFAULT_NMS = 0.45
LETTERBOX_FILL = 0.5  # darknet pads with mid-grey in its [0, 1] pixel scale
FALLBACK_FPS = 25.0  # for streams that declare no frame rate
VIDEO_QUALITY = 3  # MPEG-4 quantiser for the annotated video: visually close to the source
PIPELINE_DEPTH = 4  # frames waiting between stages of `yolo video`: enough to absorb jitter, little memory


@dataclass(frozen=True)
class DetectionSettings:
    confidence: float = DEFAULT_CONFIDENCE
    nms: float = DEFAULT_NMS
    letterbox: bool = True

    def __post_init__(self):
        for name, value in (("confidence threshold", self.confidence), ("NMS threshold", self.nms)):
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"{name} must be between 0 and 1, not {value}")


@dataclass(frozen=True)
class Detection:
    class_id: int
    label: str
    confidence: float
    left: int
    top: int
    width: int
    height: int

    def as_dict(self) -> dict:
        return {
            "label": self.label, "class_id": self.class_id, "confidence": round(self.confidence, 4),
            "left": self.left, "top": self.top, "width": self.width, "height": self.height,
        }


@dataclass(frozen=True)
class Geometry:
    """Where the image sits inside the network input, to map boxes back onto the image's pixels."""

    image_width: int
    image_height: int
    input_width: int
    input_height: int
    content_left: int
    content_top: int
    content_width: int
    content_height: int


@dataclass
class LoadedModel:
    engine: Engine
    names: list[str]
    input_width: int
    input_height: int


@dataclass(frozen=True)
class ImageResult:
    text_path: Path
    image_path: Path
    detections: tuple[Detection, ...]
    seconds: float


@dataclass(frozen=True)
class VideoResult:
    video_path: Path
    detections_path: Path
    frames: int
    detections: int
    seconds: float


def load_model(cfg: Path, weights: Path, names: Path, *, engine: str = DEFAULT_ENGINE, backend: str = "auto",
               threads: int = 0, low_memory: bool = False, precision: str = "f32") -> LoadedModel:
    """Check the three files against each other, then load (or reuse) the network on `engine`.

    One network per (files, engine settings) is kept (model_cache): a video's frames, a batch of images and,
    in a warm handler, later calls share it. `low_memory`: OpenCV without Winograd convolutions (YOLOv3
    peaks at ~0.6 GB instead of ~1.8 GB), ONNX Runtime without its memory arena. `precision` applies to
    OpenVINO (f32 or bf16).
    """
    cfg, weights, names = Path(cfg), Path(weights), Path(names)
    # resolved before the key: a warm handler's CPU model is not what a GPU job's `auto` asks for
    backend = required_backend(backend)
    # a changed file (same path, new contents) has a new mtime, so it is loaded afresh
    key = tuple((str(path.resolve()), path.stat().st_mtime_ns, path.stat().st_size) for path in (cfg, weights, names)
                ) + (engine, backend, threads, low_memory, precision)

    loaded_now = False

    def load() -> LoadedModel:
        nonlocal loaded_now
        loaded_now = True
        network = describe_network(cfg)
        check_weights(network, weights)
        labels = read_names(names, network.classes)
        runner = open_engine(engine, cfg, weights, input_width=network.input_width,
                             input_height=network.input_height, backend=backend, threads=threads,
                             low_memory=low_memory, precision=precision)
        log.info("loaded %s (%d classes, input %dx%d) on %s", cfg.name, network.classes, network.input_width,
                 network.input_height, runner.description)
        return LoadedModel(runner, labels, network.input_width, network.input_height)

    model = model_cache.cached("yolo", key, load)
    if not loaded_now:  # every call's log says which engine ran it, also when the model was kept warm
        log.info("reusing %s, loaded earlier in this process, on %s", cfg.name, model.engine.description)
    return model


def letterbox_geometry(image_width: int, image_height: int, input_width: int, input_height: int) -> Geometry:
    """darknet's letterbox_image: scale to fit, keep aspect ratio, centre (integer arithmetic as darknet's)."""
    if input_width / image_width < input_height / image_height:
        content_width, content_height = input_width, image_height * input_width // image_width
    else:
        content_width, content_height = image_width * input_height // image_height, input_height
    return Geometry(image_width, image_height, input_width, input_height,
                    (input_width - content_width) // 2, (input_height - content_height) // 2,
                    content_width, content_height)


def stretch_geometry(image_width: int, image_height: int, input_width: int, input_height: int) -> Geometry:
    return Geometry(image_width, image_height, input_width, input_height, 0, 0, input_width, input_height)


def preprocess(image: np.ndarray, input_width: int, input_height: int, letterbox: bool) -> tuple[np.ndarray, Geometry]:
    """The network's input blob (1×3×H×W, RGB, [0, 1]) and the geometry that maps its boxes back."""
    height, width = image.shape[:2]
    make_geometry = letterbox_geometry if letterbox else stretch_geometry
    geometry = make_geometry(width, height, input_width, input_height)
    resized = cv2.resize(image, (geometry.content_width, geometry.content_height), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((input_height, input_width, 3), LETTERBOX_FILL, dtype=np.float32)
    top, left = geometry.content_top, geometry.content_left
    canvas[top : top + geometry.content_height, left : left + geometry.content_width] = (
        resized[:, :, ::-1] / np.float32(255))
    return canvas.transpose(2, 0, 1)[np.newaxis].copy(), geometry


def postprocess(
    outputs: Sequence[np.ndarray], geometry: Geometry, names: Sequence[str], confidence: float, nms: float
) -> list[Detection]:
    """Detections from the YOLO output rows, in image pixels, after per-class non-maximum suppression.

    Each row is (centre x, centre y, width, height) relative to the network input, objectness, then one
    score per class (OpenCV has already multiplied them by objectness). As in darknet, a box yields one
    detection per class whose score exceeds `confidence`; boxes of one class overlapping by more than
    `nms` (IoU) keep only the best. Sorted by confidence, best first.
    """
    rows = np.concatenate([output.reshape(-1, output.shape[-1]) for output in outputs]) if outputs else np.empty((0, 5))
    scores = rows[:, 5:]
    row_indices, class_ids = np.nonzero(scores > confidence)
    if row_indices.size == 0:
        return []
    kept_scores = scores[row_indices, class_ids]
    boxes = _boxes_on_image(rows[row_indices, :4], geometry)
    keep = cv2.dnn.NMSBoxesBatched(
        boxes.tolist(), kept_scores.astype(float).tolist(), class_ids.tolist(), float(confidence), float(nms)
    )
    detections = [
        _clipped_detection(int(class_ids[i]), names, float(kept_scores[i]), boxes[i], geometry)
        for i in np.asarray(keep, dtype=int).reshape(-1)
    ]
    detections.sort(key=lambda d: (-d.confidence, d.class_id, d.left, d.top))
    return detections


def _boxes_on_image(relative_boxes: np.ndarray, geometry: Geometry) -> np.ndarray:
    """(left, top, width, height) in image pixels from (cx, cy, w, h) relative to the network input."""
    x_scale = geometry.image_width / geometry.content_width
    y_scale = geometry.image_height / geometry.content_height
    centre_x = (relative_boxes[:, 0] * geometry.input_width - geometry.content_left) * x_scale
    centre_y = (relative_boxes[:, 1] * geometry.input_height - geometry.content_top) * y_scale
    width = relative_boxes[:, 2] * geometry.input_width * x_scale
    height = relative_boxes[:, 3] * geometry.input_height * y_scale
    return np.stack([centre_x - width / 2, centre_y - height / 2, width, height], axis=1)


def _clipped_detection(
    class_id: int, names: Sequence[str], score: float, box: np.ndarray, geometry: Geometry
) -> Detection:
    left = max(0, int(round(box[0])))
    top = max(0, int(round(box[1])))
    right = min(geometry.image_width - 1, int(round(box[0] + box[2])))
    bottom = min(geometry.image_height - 1, int(round(box[1] + box[3])))
    label = names[class_id] if class_id < len(names) else str(class_id)
    return Detection(class_id, label, score, left, top, max(0, right - left), max(0, bottom - top))


def detect(model: LoadedModel, image: np.ndarray, settings: DetectionSettings) -> list[Detection]:
    blob, geometry = preprocess(image, model.input_width, model.input_height, settings.letterbox)
    return detect_prepared(model, blob, geometry, settings)


def detect_prepared(
    model: LoadedModel, blob: np.ndarray, geometry: Geometry, settings: DetectionSettings
) -> list[Detection]:
    """`detect` on an input already letterboxed by `preprocess` (a video's reader thread does that)."""
    return postprocess(model.engine.run(blob), geometry, model.names, settings.confidence, settings.nms)


def detect_prepared_frames(
    model: LoadedModel, prepared: Sequence[tuple[np.ndarray, Geometry]], settings: DetectionSettings
) -> list[list[Detection]]:
    """`detect_prepared` on several frames in one run of the engine (engines whose `frames_per_run` > 1)."""
    if len(prepared) == 1:
        return [detect_prepared(model, *prepared[0], settings)]
    outputs = model.engine.run(np.concatenate([blob for blob, _ in prepared]))
    return [postprocess([output[index] for output in outputs], geometry, model.names, settings.confidence,
                        settings.nms) for index, (_, geometry) in enumerate(prepared)]


def class_colour(class_id: int) -> tuple[int, int, int]:
    """A stable, well-separated BGR colour per class (golden-ratio hue steps)."""
    hue = (class_id * 0.618033988749895) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(blue * 255), int(green * 255), int(red * 255)


def draw_detections(image: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
    """A copy of `image` with each box outlined and labelled "label NN%" in its class colour."""
    annotated = image.copy()
    height, width = annotated.shape[:2]
    thickness = max(1, round(min(width, height) / 240))
    font_scale = max(0.35, min(width, height) / 900)
    for detection in detections:
        colour = class_colour(detection.class_id)
        top_left = (detection.left, detection.top)
        bottom_right = (detection.left + detection.width, detection.top + detection.height)
        cv2.rectangle(annotated, top_left, bottom_right, colour, thickness)
        caption = f"{detection.label} {detection.confidence * 100:.0f}%"
        (text_width, text_height), baseline = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        # Above the box when there is room, else just inside its top edge.
        caption_top = (detection.top - text_height - baseline if detection.top >= text_height + baseline
                       else detection.top)
        cv2.rectangle(annotated, (detection.left, caption_top),
                      (detection.left + text_width, caption_top + text_height + baseline), colour, cv2.FILLED)
        cv2.putText(annotated, caption, (detection.left, caption_top + text_height), cv2.FONT_HERSHEY_SIMPLEX,
                    font_scale, (0, 0, 0), 1, cv2.LINE_AA)
    return annotated


def darknet_text(source_name: str, detections: Sequence[Detection], seconds: float) -> str:
    """Text in the shape of `darknet detector test` output, with AlexeyAB's box line under each label."""
    lines = [f"{source_name}: Predicted in {seconds * 1000:.1f} milliseconds."]
    for d in detections:
        lines.append(f"{d.label}: {d.confidence * 100:.0f}%")
        lines.append(f"\t(left_x: {d.left:4d}   top_y: {d.top:4d}   width: {d.width:4d}   height: {d.height:4d})")
    return "\n".join(lines) + "\n"


def read_image(path: Path) -> np.ndarray:
    path = require_input_file(path)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"not an image OpenCV can decode (JPEG, PNG, BMP, TIFF, WebP…): {path}")
    return image


def detect_image(model: LoadedModel, image_path: Path, output_dir: Path, settings: DetectionSettings) -> ImageResult:
    """Write OUTPUT_DIR/<stem>.out (darknet-style text) and OUTPUT_DIR/<stem>.png (boxes drawn)."""
    image_path = Path(image_path)
    image = read_image(image_path)
    started = time.perf_counter()
    detections = detect(model, image, settings)
    seconds = time.perf_counter() - started
    output_dir = Path(output_dir)
    text_path, png_path = output_dir / f"{image_path.stem}.out", output_dir / f"{image_path.stem}.png"
    with atomic_output(png_path) as partial:
        ok, encoded = cv2.imencode(".png", draw_detections(image, detections))
        if not ok:
            raise InputError(f"cannot encode the annotated image of {image_path} as PNG")
        partial.write_bytes(encoded.tobytes())
    with atomic_output(text_path) as partial:
        partial.write_text(darknet_text(image_path.name, detections, seconds), encoding="utf-8")
    return ImageResult(text_path, png_path, tuple(detections), seconds)


def _decoder_command(ffmpeg: str, info: MediaInfo, fps: float) -> list[str]:
    """ffmpeg decoding the first video stream to raw BGR frames on stdout, at a constant frame rate."""
    return [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(info.path), "-map", "0:v:0",
            "-r", f"{fps:.6g}", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]


def _encoder_command(ffmpeg: str, info: MediaInfo, fps: float, output: Path, size: tuple[int, int]) -> list[str]:
    """ffmpeg encoding raw BGR frames (`size`: width, height) from stdin to MPEG-4 AVI, with the source's first
    audio stream as MP3."""
    audio_args: list[str] = []
    if info.audio is not None:
        if info.audio.codec == "mp3":
            audio_args = ["-map", "1:a:0", "-c:a", "copy"]
        else:
            audio_args = ["-map", "1:a:0", "-c:a", "libmp3lame", "-q:a", "2"]
            if info.audio.sample_rate not in MP3_SAMPLE_RATES:
                audio_args += ["-ar", "44100"]
    width, height = size
    return [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps:.6g}", "-i", "-",
            "-i", str(info.path), "-map", "0:v:0", *audio_args,
            "-c:v", "mpeg4", "-q:v", str(VIDEO_QUALITY), "-f", "avi", str(output)]


def detect_video(
    model: LoadedModel, video_path: Path, output_path: Path, settings: DetectionSettings, *,
    detections_path: Path | None = None, timeout_s: float | None = None,
) -> VideoResult:
    """Write an AVI (MPEG-4, source audio as MP3) with boxes drawn, and one JSON line per frame.

    Frames are decoded and encoded by ffmpeg through pipes, so memory stays at a few frames whatever
    the video's length, and every format ffmpeg reads is accepted.
    """
    info = probe(video_path)
    if info.video is None:
        raise MissingStreamError(f"no video stream in {info.path}")
    width, height = info.video.width, info.video.height
    if width <= 0 or height <= 0:
        raise InputError(f"cannot tell the frame size of {info.path}")
    fps = info.video.fps or FALLBACK_FPS
    output_path = Path(output_path)
    detections_path = Path(detections_path) if detections_path else output_path.with_suffix(".jsonl")
    timeout = _video_timeout(info.duration_s, timeout_s)
    ffmpeg = ffmpeg_binary()
    started = time.perf_counter()
    with atomic_output(output_path) as partial_video, atomic_output(detections_path) as partial_lines, \
            tempfile.TemporaryFile() as decoder_errors, tempfile.TemporaryFile() as encoder_errors:
        decoder = spawn(_decoder_command(ffmpeg, info, fps), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=decoder_errors)
        encoder = spawn(_encoder_command(ffmpeg, info, fps, partial_video, (width, height)), stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL, stderr=encoder_errors)
        with Watchdog(timeout, [decoder, encoder]) as watchdog, partial_lines.open("w", encoding="utf-8") as lines:
            pipeline = _FramePipeline(model, settings, decoder, encoder, lines, fps, (height, width))
            frames, total_detections = pipeline.run()
            decoder_status, encoder_status = decoder.wait(), encoder.wait()
        if watchdog.fired:
            raise ToolTimeout(f"YOLO on {info.path} did not finish within {timeout:.0f} s and was stopped")
        if pipeline.encoder_broke:
            raise ToolError(f"encoding {output_path.name} failed ({error_tail(read_text_file(encoder_errors))})")
        if decoder_status != 0:
            raise InputError(f"decoding {info.path} failed ({error_tail(read_text_file(decoder_errors))})")
        if frames == 0:
            raise InputError(f"no frame could be decoded from {info.path}")
        if encoder_status != 0:
            raise ToolError(f"encoding {output_path.name} failed ({error_tail(read_text_file(encoder_errors))})")
    return VideoResult(output_path, detections_path, frames, total_detections, time.perf_counter() - started)


class _FramePipeline:
    """Decode, infer and encode a video with the three stages overlapped.

    A reader thread takes raw frames from the decoder and letterboxes them; the calling thread runs the
    network (engines release the GIL and use their own threads); a writer thread draws the boxes and
    feeds the encoder and the JSON lines. Bounded queues keep memory at a few frames.
    """

    def __init__(self, model: LoadedModel, settings: DetectionSettings, decoder: subprocess.Popen,
                 encoder: subprocess.Popen, lines, fps: float, frame_shape: tuple[int, int]):
        self.model, self.settings, self.decoder, self.encoder = model, settings, decoder, encoder
        self.lines, self.fps, self.frame_shape = lines, fps, frame_shape
        if decoder.stdout is None or encoder.stdin is None:
            raise ValueError("the decoder must write to a pipe and the encoder read from one")
        self.raw_frames, self.encoder_input = decoder.stdout, encoder.stdin
        self.to_infer: queue.Queue = queue.Queue(maxsize=PIPELINE_DEPTH)
        self.to_encode: queue.Queue = queue.Queue(maxsize=PIPELINE_DEPTH)
        self.encoder_broke = False
        self.writer_error: Exception | None = None
        self.frames = self.detections = 0
        self.decoded_all = False  # the reader's end-of-video mark was taken
        self.stopping = threading.Event()

    def run(self) -> tuple[int, int]:
        """(frames, detections) once the decoder's output is exhausted and everything is written."""
        reader = threading.Thread(target=self._read, name="yolo-video-reader", daemon=True)
        writer = threading.Thread(target=self._write, name="yolo-video-writer", daemon=True)
        reader.start()
        writer.start()
        try:
            batch = self.model.engine.frames_per_run
            while (item := self._next_frame()) is not None:
                items = [item, *self._frames_ready(batch - 1)]
                found = detect_prepared_frames(self.model, [(blob, geometry) for _, blob, geometry in items],
                                               self.settings)
                for (frame, _, _), detections in zip(items, found, strict=True):
                    self.to_encode.put((frame, detections))
        except BaseException:
            self._abort()  # unblock the reader before the error leaves
            raise
        finally:
            self.to_encode.put(None)
            writer.join()
            reader.join()
        if self.writer_error is not None:
            raise self.writer_error
        return self.frames, self.detections

    def _next_frame(self):
        """The next letterboxed frame, or None at the end of the video or once the pipeline is stopping."""
        while not self.stopping.is_set() and not self.decoded_all:
            with contextlib.suppress(queue.Empty):
                item = self.to_infer.get(timeout=0.1)
                self.decoded_all = item is None
                return item
        return None

    def _frames_ready(self, limit: int) -> list:
        """Up to `limit` more frames the reader has already prepared: a batch never waits for the decoder."""
        ready: list = []
        while len(ready) < limit and not self.decoded_all:
            try:
                item = self.to_infer.get_nowait()
            except queue.Empty:
                break
            self.decoded_all = item is None
            if item is not None:
                ready.append(item)
        return ready

    def _abort(self) -> None:
        """Stop decoding: the reader may be blocked on a full queue or on the decoder's pipe."""
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.decoder.kill()
        while not self.to_infer.empty():
            with contextlib.suppress(queue.Empty):
                self.to_infer.get_nowait()

    def _read(self) -> None:
        height, width = self.frame_shape
        frame_bytes = height * width * 3
        try:
            while not self.stopping.is_set() and len(raw := self.raw_frames.read(frame_bytes)) == frame_bytes:
                frame = np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
                blob, geometry = preprocess(frame, self.model.input_width, self.model.input_height,
                                            self.settings.letterbox)
                self._put(self.to_infer, (frame, blob, geometry))
        finally:
            self._put(self.to_infer, None)

    def _put(self, target: queue.Queue, item) -> None:
        while not self.stopping.is_set():
            with contextlib.suppress(queue.Full):
                target.put(item, timeout=0.1)
                return

    def _write(self) -> None:
        while (item := self.to_encode.get()) is not None:
            if self.encoder_broke or self.writer_error is not None:
                continue  # keep draining so that inference never blocks on a full queue
            frame, detections = item
            try:
                self.encoder_input.write(draw_detections(frame, detections).tobytes())
                record = {"frame": self.frames + 1, "time": round(self.frames / self.fps, 3),
                          "detections": [d.as_dict() for d in detections]}
                self.lines.write(json.dumps(record, separators=(",", ":")) + "\n")
            except BrokenPipeError:
                self.encoder_broke = True  # the encoder died: its stderr says why
                self._abort()
                continue
            except Exception as error:  # re-raised by run() in the calling thread
                self.writer_error = error
                self._abort()
                continue
            self.frames += 1
            self.detections += len(detections)
        with contextlib.suppress(OSError):
            self.encoder_input.close()


def _video_timeout(duration_s: float | None, requested_s: float | None) -> float:
    """The caller's limit, else `AVGEN_YOLO_TIMEOUT`, else 30 s of work per second of video (CPU YOLOv3 needs ~11)."""
    scaled = UNKNOWN_DURATION_TIMEOUT_S if duration_s is None else max(600.0, 30.0 * duration_s)
    return configured_timeout(requested_s, "AVGEN_YOLO_TIMEOUT", scaled)
