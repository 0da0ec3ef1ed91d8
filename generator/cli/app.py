"""The `avgen` application: registers every command (one module per command group, as hatch does)."""
from __future__ import annotations

import typer

from generator import __version__
from generator.cli import check, convert, deploy, files, models, observe, run, sandbox
from generator.cli.console import AvgenGroup, out

app = typer.Typer(
    name="avgen",
    cls=AvgenGroup,
    help="Deploy serverless media-processing workflows (SCAR's YAML format) to AWS with reviewable Terraform.\n\n"
    "Typical use: avgen validate workflow.yaml → avgen graph workflow.yaml → avgen plan workflow.yaml → "
    "avgen apply workflow.yaml. Add --sandbox to deploy and run everything in an embedded AWS emulator.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"avgen {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print avgen's version and exit.")) -> None:
    """avgen: SCAR workflows → Terraform → AWS."""


for command in (check.validate, check.schema, check.graph, check.generate, convert.convert,
                deploy.plan, deploy.apply, deploy.destroy, deploy.outputs, deploy.build):
    app.command()(command)
app.command(no_args_is_help=True)(files.put)
for verb in (files.ls, files.get, observe.logs, observe.status, run.run):
    app.command()(verb)
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(models.app, name="models")
