"""`avgen-handler`: the media handlers as commands for the functions' shell scripts.

Thin on purpose: it maps options onto the handler functions, prints the files written (one per line on
stdout, for scripts), logs progress on stderr, and turns a HandlerError into its one-line message and
exit code. Handler modules are imported only by the command that needs them, so `ffmpeg` commands start
without loading OpenCV or pocketsphinx.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .handler_errors import EXIT_CODES, HandlerError, MissingStreamError, UsageError

PROGRAM = "avgen-handler"
# audio2srt settings a workflow gives its function through the environment (options win).
ENGINE_ENV = "AUDIO2SRT_ENGINE"
LANGUAGE_ENV = "AUDIO2SRT_LANGUAGE"
log = logging.getLogger("avgen.handlers")


# --- option value types: reject bad values at parse time, with argparse's usage message and exit code 2


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _quality(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 31:
        raise argparse.ArgumentTypeError(f"must be an integer from 1 (best) to 31, not {text}")
    return value


def _name_value(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"want NAME=VALUE, not {text}")
    return name, value


# argparse names the type in its message for unparsable values ("invalid positive number value: 'x'").
_positive_float.__name__ = "positive number"
_fraction.__name__ = "number between 0 and 1"
_quality.__name__ = "quality from 1 to 31"
_name_value.__name__ = "NAME=VALUE"


def _report(paths: list[Path]) -> int:
    for path in paths:
        print(path)
    return 0


def _skip_missing_stream(args: argparse.Namespace, run: Callable[[], int]) -> int:
    """Run a command; with --missing-ok, an input lacking the needed stream is logged and exits 0."""
    try:
        return run()
    except MissingStreamError as error:
        if not args.missing_ok:
            raise
        log.warning("%s; nothing written (--missing-ok)", error)
        return 0


# --- commands


def _ffmpeg_split(args: argparse.Namespace) -> int:
    from .ffmpeg import split_frames

    frames = split_frames(args.input, args.output_dir, fps=args.fps, quality=args.quality, prefix=args.prefix,
                          timeout_s=args.timeout)
    log.info("wrote %d frames (%s … %s)", len(frames), frames[0].name, frames[-1].name)
    return _report(frames)


def _ffmpeg_audio(args: argparse.Namespace) -> int:
    from .ffmpeg import extract_audio

    def run() -> int:
        wav = extract_audio(args.input, args.output, timeout_s=args.timeout)
        log.info("wrote 16 kHz mono PCM audio to %s", wav)
        return _report([wav])

    return _skip_missing_stream(args, run)


def _ffmpeg_avi(args: argparse.Namespace) -> int:
    from .ffmpeg import to_avi

    def run() -> int:
        result = to_avi(args.input, args.output, quality=args.quality, timeout_s=args.timeout)
        how = "copied (input already AVI)" if result.copied else "transcoded to MPEG-4/MP3 AVI"
        log.info("%s %s%s", how, result.path, "" if result.has_audio else " (no audio stream)")
        return _report([result.path])

    return _skip_missing_stream(args, run)


def _load_yolo(args: argparse.Namespace):
    from .engines import default_engine
    from .model_files import resolve_model_file
    from .yolo import DetectionSettings, load_model

    cfg = resolve_model_file(args.cfg, what="YOLO cfg", env_var="YOLO_CFG", option="--cfg", bundled="yolov3.cfg",
                             bundled_suffix=".cfg")
    weights = resolve_model_file(args.weights, what="YOLO weights", env_var="YOLO_WEIGHTS", option="--weights")
    names = resolve_model_file(args.names, what="class names", env_var="YOLO_NAMES", option="--names",
                               bundled="coco.names")
    settings = DetectionSettings(confidence=args.conf, nms=args.nms, letterbox=args.resize == "letterbox")
    engine = args.engine or os.environ.get("YOLO_ENGINE") or default_engine()
    precision = args.precision or os.environ.get("YOLO_PRECISION") or "f32"
    model = load_model(cfg, weights, names, engine=engine, backend=args.backend, threads=args.threads,
                       low_memory=args.low_memory, precision=precision)
    return model, settings


def _yolo_image(args: argparse.Namespace) -> int:
    from .yolo import detect_image

    model, settings = _load_yolo(args)
    written = []
    for image in args.inputs:
        result = detect_image(model, image, args.output_dir, settings)
        log.info("%s: %d detections in %.0f ms", Path(image).name, len(result.detections), result.seconds * 1000)
        written += [result.text_path, result.image_path]
    return _report(written)


def _yolo_video(args: argparse.Namespace) -> int:
    from .yolo import detect_video

    model, settings = _load_yolo(args)
    result = detect_video(model, args.input, args.output, settings, detections_path=args.detections,
                          timeout_s=args.timeout)
    log.info("%d frames, %d detections, %.1f frames/s", result.frames, result.detections,
             result.frames / result.seconds if result.seconds else 0.0)
    return _report([result.video_path, result.detections_path])


def _audio2srt(args: argparse.Namespace) -> int:
    from .audio2srt import ENGINES, audio_to_srt

    engine = args.engine or os.environ.get(ENGINE_ENV) or "whisper"
    if engine not in ENGINES:
        raise UsageError(f"unknown speech engine {engine!r} in {ENGINE_ENV}: choose {' or '.join(ENGINES)}")

    def run() -> int:
        result = audio_to_srt(args.input, args.output, engine=engine, model=args.model,
                              language=args.language or os.environ.get(LANGUAGE_ENV) or None,
                              max_cue_seconds=args.max_cue_seconds, vad_mode=args.vad_mode, timeout_s=args.timeout,
                              pocketsphinx_options=dict(args.pocketsphinx_option or ()))
        log.info("%d cues from %.1f s of audio (%s, real-time factor %.2f)", result.cues, result.audio_seconds,
                 engine, result.real_time_factor)
        return _report([result.path])

    return _skip_missing_stream(args, run)


# --- parser


def _add_timeout(parser: argparse.ArgumentParser, default_text: str) -> None:
    parser.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                        help=f"stop and fail (exit 6) after this long; default {default_text}")


def _add_missing_ok(parser: argparse.ArgumentParser, stream: str) -> None:
    parser.add_argument("--missing-ok", action="store_true",
                        help=f"exit 0 without writing anything when the input has no {stream} stream "
                             f"(otherwise exit {MissingStreamError.exit_code})")


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model (a path, s3://bucket/key, or a bundled file name)")
    group.add_argument("--cfg", help="darknet cfg; default $YOLO_CFG, else the bundled yolov3.cfg "
                                     "(bundled: yolov3.cfg, yolov3-tiny.cfg)")
    group.add_argument("--weights", help="darknet weights matching the cfg; default $YOLO_WEIGHTS (required)")
    group.add_argument("--names", help="class names, one per line; default $YOLO_NAMES, else the bundled coco.names")
    detection = parser.add_argument_group("detection")
    detection.add_argument("--conf", type=_fraction, default=0.25, help="confidence threshold (default 0.25)")
    detection.add_argument("--nms", type=_fraction, default=0.45, help="per-class NMS IoU threshold (default 0.45)")
    detection.add_argument("--resize", choices=("letterbox", "stretch"), default="letterbox",
                           help="fit the image into the network input keeping its aspect ratio (letterbox, as "
                                "pjreddie's darknet) or stretch it (AlexeyAB's default); default letterbox")
    engine = parser.add_argument_group("inference engine")
    engine.add_argument("--engine", choices=("onnxruntime", "opencv", "openvino"),
                        help="default $YOLO_ENGINE, else onnxruntime where installed "
                             "(the darknet files converted to ONNX, cached next to the weights), "
                             "else opencv (reads darknet files directly); openvino: Intel CPUs")
    engine.add_argument("--backend", choices=("auto", "cpu", "cuda"), default="auto",
                        help="auto uses CUDA when there is one (onnxruntime-gpu, or an OpenCV built with CUDA)")
    engine.add_argument("--precision", choices=("f32", "bf16"),
                        help="openvino only: default $YOLO_PRECISION, else f32; bf16 is faster on CPUs with AMX "
                             "and shifts scores by ~0.01")
    engine.add_argument("--threads", type=int, default=0, help="CPU threads (default: every core this process may use)")
    engine.add_argument("--low-memory", action="store_true",
                        help="opencv: no Winograd convolutions (YOLOv3 ~0.6 GB instead of ~1.8 GB, slower per frame); "
                             "onnxruntime: no memory arena")


def build_parser() -> argparse.ArgumentParser:
    exit_codes = "\n".join(f"  {code:>2}  {meaning}" for code, meaning in sorted(EXIT_CODES.items()))
    parser = argparse.ArgumentParser(
        prog=PROGRAM, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Media handlers of avgen workflows (ffmpeg, YOLO, audio2srt).",
        epilog=f"exit codes:\n{exit_codes}\n\nFiles written are printed on stdout, one per line; logs go to stderr.",
    )
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    tools = parser.add_subparsers(dest="tool", metavar="{ffmpeg,yolo,audio2srt}", required=True)

    ffmpeg = tools.add_parser("ffmpeg", help="split into frames, extract audio, convert to AVI")
    ffmpeg_commands = ffmpeg.add_subparsers(dest="command", required=True)
    split = ffmpeg_commands.add_parser("split", help="one JPEG every 1/FPS seconds: OUTPUT_DIR/<stem>-000001.jpg, …")
    split.add_argument("input", type=Path)
    split.add_argument("output_dir", type=Path)
    split.add_argument("--fps", type=_positive_float, default=1.0, help="frames per second of video (default 1)")
    split.add_argument("--quality", type=_quality, default=2, help="JPEG quality, 1 (best) to 31 (default 2)")
    split.add_argument("--prefix", help="frame file name prefix (default: the input's name without extension)")
    _add_timeout(split, "120 s + 5 s per second of video, or $AVGEN_FFMPEG_TIMEOUT")
    split.set_defaults(run=_ffmpeg_split)

    audio = ffmpeg_commands.add_parser("audio", help="first audio stream as 16 kHz mono 16-bit PCM WAV")
    audio.add_argument("input", type=Path)
    audio.add_argument("output", type=Path)
    _add_missing_ok(audio, "audio")
    _add_timeout(audio, "120 s + 5 s per second of media, or $AVGEN_FFMPEG_TIMEOUT")
    audio.set_defaults(run=_ffmpeg_audio)

    avi = ffmpeg_commands.add_parser("avi", help="AVI with MPEG-4 video and MP3 audio (AVI input is copied)")
    avi.add_argument("input", type=Path)
    avi.add_argument("output", type=Path)
    avi.add_argument("--quality", type=_quality, default=3, help="MPEG-4 quantiser, 1 (best) to 31 (default 3)")
    _add_missing_ok(avi, "video")
    _add_timeout(avi, "120 s + 5 s per second of video, or $AVGEN_FFMPEG_TIMEOUT")
    avi.set_defaults(run=_ffmpeg_avi)

    yolo = tools.add_parser("yolo", help="object detection with darknet YOLO models")
    yolo_commands = yolo.add_subparsers(dest="command", required=True)
    image = yolo_commands.add_parser("image", help="OUTPUT_DIR/<stem>.out (darknet-style text) and <stem>.png")
    image.add_argument("inputs", type=Path, nargs="+", metavar="input", help="one or more images")
    image.add_argument("output_dir", type=Path)
    _add_model_options(image)
    image.set_defaults(run=_yolo_image)

    video = yolo_commands.add_parser("video", help="AVI with boxes drawn, and per-frame detections as JSON lines")
    video.add_argument("input", type=Path)
    video.add_argument("output", type=Path)
    video.add_argument("--detections", type=Path, help="JSON-lines file (default: OUTPUT with suffix .jsonl)")
    _add_model_options(video)
    _add_timeout(video, "600 s or 30 s per second of video, whichever is more, or $AVGEN_YOLO_TIMEOUT")
    video.set_defaults(run=_yolo_video)

    srt = tools.add_parser("audio2srt", help="speech to SRT or WebVTT subtitles (Whisper or pocketsphinx)")
    srt.add_argument("input", type=Path, help="WAV (16 kHz mono read directly) or any audio/video ffmpeg reads")
    srt.add_argument("output", type=Path, help="subtitles: WebVTT if the name ends in .vtt, else SRT")
    srt.add_argument("--engine", choices=("whisper", "pocketsphinx"),
                     help=f"speech recogniser; default ${ENGINE_ENV}, else whisper")
    srt.add_argument("--model", help="whisper: a CTranslate2 model folder, s3://bucket/prefix/ holding one, or a model "
                                     "name (tiny.en, small, …) where the network allows; default $WHISPER_MODEL")
    srt.add_argument("--language", help=f"whisper, multilingual models: language code (de, es, …); default "
                                        f"${LANGUAGE_ENV}, else detected. English-only models: en")
    srt.add_argument("--max-cue-seconds", type=_positive_float,
                     help="longest cue on screen; default 7 (whisper, also its maximum) or 6 (pocketsphinx)")
    srt.add_argument("--vad-mode", type=int, choices=(0, 1, 2, 3), default=0,
                     help="pocketsphinx: voice-activity detector aggressiveness, 0 (loose, default) to 3 (strict)")
    srt.add_argument("--pocketsphinx-option", type=_name_value, action="append", metavar="NAME=VALUE",
                     help="pocketsphinx: a decoder option (lm=FILE, hmm=FOLDER, dict=FILE, …), repeatable; a model "
                          "file name that is not here but in the pocketsphinx wheel (en-us, en-us.lm.bin) means that")
    _add_missing_ok(srt, "audio")
    _add_timeout(srt, "for the ffmpeg conversion of non-WAV input: 120 s + 5 s per second of audio")
    srt.set_defaults(run=_audio2srt)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    """Log lines on the current stderr as "avgen-handler: message"; replaces any handler a previous call set."""
    level = os.environ.get("AVGEN_LOG_LEVEL", "INFO").upper()
    if args.verbose:
        level = "DEBUG"
    elif args.quiet:
        level = "WARNING"
    logger = logging.getLogger("avgen")
    for previous in [h for h in logger.handlers if getattr(h, "avgen_cli", False)]:
        logger.removeHandler(previous)
    stream_handler = logging.StreamHandler(sys.stderr)
    stream_handler.avgen_cli = True  # type: ignore[attr-defined]  # marks ours, for the next call to replace
    stream_handler.setFormatter(logging.Formatter(f"{PROGRAM}: %(message)s"))
    logger.addHandler(stream_handler)
    logger.setLevel(getattr(logging, level, logging.INFO))
    logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    """The `avgen-handler` command, and the one entry of everything that runs a handler command (the SCAR
    stand-ins too): served by the container's warm handler when one runs (or can be started), else here."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from .warm_handler import call_warm

    served = call_warm(argv)
    if served is not None:
        return served
    site_packages()
    return run(argv)


def site_packages() -> None:
    """Add site-packages when Python started without them (`python -S`, as the local runner's and the
    sandbox's `avgen-handler` does: a call served warm then starts faster), before the handlers need them."""
    if sys.flags.no_site:
        import site

        site.main()


def run(argv: list[str]) -> int:
    """Run one handler command in this process (what a plain process and the warm handler both do)."""
    args = build_parser().parse_args(argv)
    _configure_logging(args)
    try:
        return args.run(args)
    except HandlerError as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as error:  # installed without the handlers' packages, not a bug
        print(f"{PROGRAM}: error: the media handlers need {error.name}, which is not installed here: "
              f"pip install 'avgen[media]' (function images have it)", file=sys.stderr)
        return 1
    except Exception as error:  # a bug, not bad input: one line, and the traceback on request
        if os.environ.get("AVGEN_DEBUG"):
            raise
        detail = str(error).strip().splitlines()[-1] if str(error).strip() else ""
        print(f"{PROGRAM}: internal error: {type(error).__name__}: {detail} (AVGEN_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
