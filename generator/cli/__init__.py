"""The command line: a thin layer over the core. `app` is the Typer application (entry point `avgen`)."""
from generator.cli.app import app

__all__ = ["app"]
