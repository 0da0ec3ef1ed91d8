"""Stand-ins for the tools of SCAR's images, so that SCAR users' scripts run unchanged.

    darknet detect CFG WEIGHTS IMAGE [-out NAME] [-thresh T]
    darknet detector test DATA CFG WEIGHTS IMAGE [-out NAME] [-thresh T]
    darknet detector demo DATA CFG WEIGHTS VIDEO -out_filename OUT [-dont_show] [-thresh T]
    audio2srt.py -i IN -o OUT [-- pocketsphinx options]

Each builds an `avgen-handler` command line and runs it through `cli.main`, the entry of the
`avgen-handler` command, so they share its model cache, logging, errors and exit codes (and whatever serves
that entry). Run as `python -m batch_jobs.handlers.scar_tools darknet ARGS…` (or `audio2srt.py ARGS…`);
the runtime and the images put small executables named `darknet` and `audio2srt.py` where the scripts look.

Model files: SCAR's scripts name the files of SCAR's images (cfg/yolo.cfg, yolo.weights, cfg/coco.data).
A named file that exists is used; one that does not (or one of the placeholders the runtime and the images
lay out, which start with PLACEHOLDER_MARK) means the function's configured model: $YOLO_CFG, $YOLO_WEIGHTS,
$YOLO_NAMES (paths or s3://), else the cfg and names bundled with avgen. Weights are never bundled.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from lambda_src.scar_layout import PLACEHOLDER_MARK

from . import cli
from .handler_errors import HandlerError, ModelFileError, UsageError

# darknet's own default threshold in the version SCAR's images shipped (the YOLOv2 cfg/yolo.cfg era)
DARKNET_THRESHOLD = 0.24
DARKNET_OUTPUT = "predictions"  # darknet's image name without -out
DARKNET_USAGE_EXIT = 1          # darknet itself exits 0 after "Not an option"; a script must see a failure
# darknet's options that take a value, and its flags; both may stand anywhere on the line (darknet's find_arg)
_VALUE_OPTIONS = {"-thresh", "-hier", "-out", "-out_filename", "-i", "-gpus", "-c", "-frame_skip", "-prefix",
                  "-avg", "-w", "-h", "-fps", "-nms"}
_FLAGS = {"-dont_show", "-fullscreen", "-nogpu", "-ext_output", "-save_labels"}
_PREDICTED = re.compile(r"^.*: Predicted in (?P<ms>[0-9.]+) milliseconds\.$")
_LABEL = re.compile(r"^(?P<label>[^\t].*): (?P<percent>\d+)%$")


class DarknetUsage(Exception):
    """A darknet command line the stand-in does not accept: one line on stderr, exit DARKNET_USAGE_EXIT."""


def _handler(argv: Sequence[str]) -> int:
    """Run `avgen-handler ARGV` through its entry; the file names it prints are not this tool's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        return cli.main(list(argv))


def _placeholder(path: Path) -> bool:
    """A file laid out as cfg/yolov3.cfg, cfg/coco.data, … by lambda_src/scar_layout.py: it stands for the
    function's configured model, not for itself."""
    try:
        with open(path, "rb") as handle:
            mark = PLACEHOLDER_MARK.encode()
            return handle.read(len(mark)) == mark
    except OSError:
        return False


def _existing(name: str) -> Path | None:
    """`name` as a real file here (relative to the working folder, as darknet reads it), else None."""
    path = Path(name)
    return path.resolve() if path.is_file() and not _placeholder(path) else None


def _model_options(cfg: str, weights: str, data: str | None) -> list[str]:
    """avgen-handler model options for darknet's CFG, WEIGHTS and DATA (see the module's docstring)."""
    options: list[str] = []
    cfg_file = _existing(cfg)
    if cfg_file:
        options += ["--cfg", str(cfg_file)]
    elif not os.environ.get("YOLO_CFG"):
        bundled = Path(cfg).name  # the handler knows yolov3.cfg and yolov3-tiny.cfg by name
        if bundled not in ("yolov3.cfg", "yolov3-tiny.cfg"):
            raise ModelFileError(f"darknet cfg {cfg} is not here and YOLO_CFG is not set: set YOLO_CFG to the "
                                 "function's darknet cfg (a path or s3://), or use yolov3.cfg / yolov3-tiny.cfg")
        options += ["--cfg", bundled]
    weights_file = _existing(weights)
    if weights_file:
        options += ["--weights", str(weights_file)]
    elif not os.environ.get("YOLO_WEIGHTS"):
        raise ModelFileError(f"darknet weights {weights} are not here and YOLO_WEIGHTS is not set: set YOLO_WEIGHTS "
                             "in the function's environment to the weights (a path or s3://bucket/key)")
    names = _names_from_data(data) if data else None
    if names:
        options += ["--names", str(names)]
    return options


def _names_from_data(data: str) -> Path | None:
    """The `names = FILE` of a darknet .data file when both exist here; else None (the configured names)."""
    data_file = _existing(data)
    if data_file is None:
        return None
    for line in data_file.read_text(encoding="utf-8", errors="replace").splitlines():
        key, equals, value = line.partition("=")
        if equals and key.strip() == "names":
            return _existing(value.strip())
    return None


def _split_darknet_args(argv: Sequence[str]) -> tuple[list[str], dict[str, str | bool]]:
    """darknet's way: options and their values anywhere, the rest positional."""
    positional: list[str] = []
    options: dict[str, str | bool] = {}
    items = iter(argv)
    for item in items:
        if item in _VALUE_OPTIONS:
            value = next(items, None)
            if value is None:
                raise DarknetUsage(f"option {item} needs a value")
            options[item] = value
        elif item in _FLAGS:
            options[item] = True
        elif item.startswith("-") and len(item) > 1 and not _is_number(item):
            raise DarknetUsage(f"option {item} is not supported by avgen's darknet stand-in")
        else:
            positional.append(item)
    return positional, options


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _threshold(options: dict[str, str | bool]) -> str:
    value = options.get("-thresh", DARKNET_THRESHOLD)
    if not _is_number(str(value)):
        raise DarknetUsage(f"-thresh wants a number, not {value}")
    return str(value)


def _detect(image: str, model: list[str], options: dict[str, str | bool]) -> int:
    """`detect`/`detector test`: NAME.png with boxes, and darknet's lines on stdout."""
    output = str(options.get("-out") or DARKNET_OUTPUT)
    with tempfile.TemporaryDirectory(prefix="avgen-darknet-") as scratch:
        code = _handler(["yolo", "image", image, scratch, *model, "--conf", _threshold(options)])
        if code:
            return code
        stem = Path(image).stem
        shutil.move(str(Path(scratch, f"{stem}.png")), output + ".png")
        text = Path(scratch, f"{stem}.out").read_text(encoding="utf-8")
    print(_darknet_lines(image, text), end="", flush=True)
    return 0


def _darknet_lines(image: str, handler_text: str) -> str:
    """The handler's darknet-style text (AlexeyAB's, in milliseconds, with box lines) as pjreddie's darknet
    prints it, which SCAR's images ran: `IMAGE: Predicted in S seconds.` and one `label: NN%` per detection."""
    lines = []
    for line in handler_text.splitlines():
        predicted = _PREDICTED.match(line)
        label = _LABEL.match(line)
        if predicted:
            lines.append(f"{image}: Predicted in {float(predicted['ms']) / 1000:f} seconds.")
        elif label:
            lines.append(f"{label['label']}: {label['percent']}%")
    return "".join(line + "\n" for line in lines)


def _demo(video: str, model: list[str], options: dict[str, str | bool]) -> int:
    """`detector demo`: the video with boxes drawn (the handler's `yolo video`), at -out_filename."""
    output = options.get("-out_filename")
    if not isinstance(output, str):
        raise DarknetUsage("detector demo needs -out_filename FILE: there is no display to show the video on")
    print(f"video file: {video}", flush=True)
    with tempfile.TemporaryDirectory(prefix="avgen-darknet-") as scratch:
        # the per-frame detections are avgen's extra: kept out of the folder the script uploads
        code = _handler(["yolo", "video", video, output, *model, "--conf", _threshold(options),
                         "--detections", str(Path(scratch, "detections.jsonl"))])
    if code == 0:
        print("Video stream stop!", flush=True)
    return code


def darknet(argv: Sequence[str]) -> int:
    positional, options = _split_darknet_args(argv)
    if not positional:
        raise DarknetUsage("usage: darknet <function> (avgen's stand-in: detect, detector test, detector demo)")
    command, rest = positional[0], positional[1:]
    if command == "detect":
        if len(rest) != 3:
            raise DarknetUsage("usage: darknet detect CFG WEIGHTS IMAGE [-out NAME] [-thresh T]")
        cfg, weights, image = rest
        return _detect(image, _model_options(cfg, weights, None), options)
    if command == "detector":
        sub, args = (rest[0], rest[1:]) if rest else ("", [])
        if sub == "test" and len(args) == 4:
            data, cfg, weights, image = args
            return _detect(image, _model_options(cfg, weights, data), options)
        if sub == "demo" and len(args) == 4:
            data, cfg, weights, video = args
            return _demo(video, _model_options(cfg, weights, data), options)
        if sub in ("test", "demo"):
            raise DarknetUsage(f"usage: darknet detector {sub} DATA CFG WEIGHTS "
                               f"{'IMAGE [-out NAME]' if sub == 'test' else 'VIDEO -out_filename OUT [-dont_show]'}"
                               " [-thresh T]")
        raise DarknetUsage(f"darknet detector {sub or '(nothing)'}: not an option of avgen's stand-in "
                           "(detector test, detector demo)")
    raise DarknetUsage(f"Not an option: {command} (avgen's darknet stand-in runs detect, detector test, "
                       "detector demo)")


def audio2srt(argv: Sequence[str]) -> int:
    """grycap/audio2srt's `audio2srt.py -i IN -o OUT [-- pocketsphinx options]` on avgen's audio2srt handler.

    The engine is $AUDIO2SRT_ENGINE (default whisper, as the handler's). pocketsphinx options after `--`
    (`-lm en-us.lm.bin -hmm en-us`) go to pocketsphinx when it is the engine; otherwise they are logged and
    ignored, since Whisper has no use for them.
    """
    argv = list(argv)
    engine_options = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    import argparse

    parser = argparse.ArgumentParser(prog="audio2srt.py", description="Speech to SRT subtitles (avgen's stand-in "
                                     "for grycap/audio2srt, on avgen's audio2srt handler).")
    parser.add_argument("-i", "--input", required=True)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args(own)
    handler_argv = ["audio2srt", args.input, args.output]
    engine = os.environ.get(cli.ENGINE_ENV) or "whisper"
    if engine_options:
        if engine == "pocketsphinx":
            handler_argv += [f"--pocketsphinx-option={option}" for option in _pocketsphinx_pairs(engine_options)]
        else:
            # a log line (stderr), not an error: the script asked for an engine detail Whisper has no use for
            print(f"audio2srt.py: ignoring the pocketsphinx options {' '.join(engine_options)}: the engine is "
                  f"{engine} ({cli.ENGINE_ENV}=pocketsphinx uses them)", file=sys.stderr, flush=True)
    return _handler(handler_argv)


def _pocketsphinx_pairs(options: Sequence[str]) -> list[str]:
    """`-lm FILE -hmm DIR` → ["lm=FILE", "hmm=DIR"] (pocketsphinx's options all take one value)."""
    if len(options) % 2 or not all(name.startswith("-") for name in options[::2]):
        raise UsageError(f"pocketsphinx options come as -name value pairs, not {' '.join(options)}")
    return [f"{name.lstrip('-')}={value}" for name, value in zip(options[::2], options[1::2], strict=True)]


TOOLS: dict[str, Callable[[Sequence[str]], int]] = {"darknet": darknet, "audio2srt.py": audio2srt}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in TOOLS:
        print(f"usage: python -m batch_jobs.handlers.scar_tools {{{','.join(TOOLS)}}} ARGS…", file=sys.stderr)
        return 2
    tool, rest = argv[0], argv[1:]
    try:
        return TOOLS[tool](rest)
    except DarknetUsage as error:
        print(f"darknet: {error}", file=sys.stderr)
        return DARKNET_USAGE_EXIT
    except HandlerError as error:
        print(f"{tool}: error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
