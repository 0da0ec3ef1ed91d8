"""models fetch: real model files from their publishers, pinned by size and SHA-256, to a folder or S3."""
from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from generator.cli.console import AvgenGroup, out, print_json, use_json
from generator.cli.options import Format, FormatOpt
from generator.errors import CommandFailed

app = typer.Typer(help="Model files for the media handlers (YOLO weights, …).", no_args_is_help=True,
                  cls=AvgenGroup)


@app.command()
def fetch(name: Annotated[str, typer.Argument(metavar="NAME", help="yolov3-tiny or yolov3.")],
          to: Annotated[str, typer.Option("--to", metavar="DIR|s3://BUCKET/PREFIX",
                                          help="Where to put the weights, cfg and class names.")],
          output_format: FormatOpt = Format.text):
    """Download a model's weights from its publisher (size and SHA-256 checked) with its cfg and class names.

    A function reads them from where you put them: `YOLO_WEIGHTS: s3://BUCKET/models/yolov3.weights` in its
    environment (avgen grants its role read access), or a path baked into its image.

    Example:

      avgen models fetch yolov3 --to s3://my-bucket/models
    """
    from batch_jobs.handlers.handler_errors import HandlerError
    from batch_jobs.handlers.model_files import fetch_official_model

    as_json = use_json(output_format is Format.json)
    try:
        locations = fetch_official_model(name, to)
    except HandlerError as exc:  # the handlers' own base (they run without avgen): said as avgen's
        raise CommandFailed(str(exc)) from None
    if as_json:
        print_json({"model": name, "files": locations})
    for location in locations:
        out.print(escape(location))
