"""The `avgen` application: registers every command. Each command group is a module named `cmd_GROUP.py`
(`cmd_observe.py`: logs, status), so that no name of this layer repeats one of the core's (`verbs/observe.py`)."""
from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import typer

from generator.cli.console import AvgenGroup, out

# (GROUP of generator.cli.cmd_GROUP, function, options of app.command), in the order `avgen --help` lists them
COMMANDS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    *(("check", name, {}) for name in ("validate", "schema", "graph", "generate")),
    ("convert", "convert", {}),
    *(("deploy", name, {}) for name in ("plan", "apply", "destroy", "outputs", "build")),
    ("files", "put", {"no_args_is_help": True}),
    ("files", "ls", {}), ("files", "get", {}), ("observe", "logs", {}), ("observe", "status", {}), ("run", "run", {}),
)
GROUPS = ("sandbox", "models")  # generator.cli.cmd_<name>.app, as `avgen <name> …`


class AvgenTyper(typer.Typer):
    """Registers its commands when they are first asked for, and a run of one plain command (`avgen validate
    …`) registers only that one: Typer reads every command's signature to build the command line, and the
    modules of the other commands need not be imported (about 25 ms of every short command's start-up)."""

    _only: str | None = None
    _registering = False
    _registered = False

    @property
    def registered_commands(self) -> list:
        self._register()
        return self._commands

    @registered_commands.setter
    def registered_commands(self, value: list) -> None:
        self._commands = value

    @property
    def registered_groups(self) -> list:
        self._register()
        return self._groups

    @registered_groups.setter
    def registered_groups(self, value: list) -> None:
        self._groups = value

    def _register(self) -> None:
        if self._registered or self._registering:
            return
        self._registering = True
        try:
            for module, name, options in COMMANDS:
                if self._only in (None, name):
                    self.command(**options)(getattr(importlib.import_module(f"generator.cli.cmd_{module}"), name))
            if self._only is None:
                for name in GROUPS:
                    self.add_typer(importlib.import_module(f"generator.cli.cmd_{name}").app, name=name)
        finally:
            self._registering = False
        self._registered = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._registered:
            self._only = _plain_command(sys.argv[1:])
        return super().__call__(*args, **kwargs)


def _plain_command(argv: list[str]) -> str | None:
    """The command a run asks for when it is one of COMMANDS and nothing needs the whole command line (the
    list of commands in `--help` or a usage error, shell completion); None otherwise."""
    if not argv or any(key.endswith("_COMPLETE") for key in os.environ):
        return None
    name = argv[0]
    return name if any(name == command for _, command, _ in COMMANDS) else None


app = AvgenTyper(
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
        from generator import __version__

        out.print(f"avgen {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print avgen's version and exit.")) -> None:
    """avgen: SCAR workflows → Terraform → AWS."""
