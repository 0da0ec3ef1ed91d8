"""One way out of a command (issue #30): every error class carries its exit code and its JSON code, the one
place that catches them (AvgenGroup.invoke) exits with them, and the README's table says the same."""
from __future__ import annotations

import importlib
import json
import pkgutil
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import generator
from generator.cli.console import EXIT_CHANGES, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, AvgenGroup, print_json, use_json
from generator.errors import (
    AvgenError,
    TerraformError,
    TransferError,
    UsageError,
    WorkflowInvalid,
    YamlSyntaxError,
)
from generator.workflow.findings import Finding, Location, Severity

README = Path(__file__).resolve().parents[2] / "README.md"


def every_error_class() -> list[type[AvgenError]]:
    """AvgenError's subclasses in the whole package (each module imported: some live beside their logic)."""
    for module in pkgutil.walk_packages(generator.__path__, "generator."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found, todo = [], [AvgenError]
    while todo:
        for subclass in todo.pop().__subclasses__():
            found.append(subclass)
            todo.append(subclass)
    return sorted(found, key=lambda cls: cls.__name__)


FINDING = Finding("AVG002", Severity.ERROR, "unknown key `memroy`", Location("w.yaml", 5, 7))
# the classes whose constructor takes more than a message
MADE = {YamlSyntaxError: lambda: YamlSyntaxError("not YAML", Location("w.yaml", 1, 1)),
        WorkflowInvalid: lambda: WorkflowInvalid("the workflow has errors", "w.yaml", [FINDING]),
        TerraformError: lambda: TerraformError("terraform apply", 1, "Error: boom"),
        TransferError: lambda: TransferError("the bucket is gone", done=["a"])}


def raising(error: AvgenError) -> typer.Typer:
    """An application of one command that raises `error` (and a second one: Typer makes a lone command the
    application itself, without AvgenGroup)."""
    app = typer.Typer(cls=AvgenGroup)

    @app.command()
    def boom(output_format: str = typer.Option("text", "--format")) -> None:
        if use_json(output_format == "json"):
            print_json({"never": "shown"})
        raise error

    @app.command()
    def other() -> None:
        """Unused."""

    return app


@pytest.mark.parametrize("cls", every_error_class(), ids=lambda cls: cls.__name__)
def test_each_error_class_ends_the_command_with_its_exit_code(cls):
    error = MADE.get(cls, lambda: cls("what went wrong"))()
    text = CliRunner().invoke(raising(error), ["boom"])
    assert text.exit_code == cls.exit_code
    # the workflow's errors are printed where `avgen validate` prints them; any other error only on stderr
    assert ("AVG002" in text.stdout) if cls is WorkflowInvalid else text.stdout == ""
    assert f"error: {error}" in text.stderr and "Traceback" not in text.output
    machine = CliRunner().invoke(raising(error), ["boom", "--format", "json"])
    assert machine.exit_code == cls.exit_code
    envelope = json.loads(machine.stdout)
    assert envelope["error"] == {"code": cls.code, "message": str(error)}
    assert [f["rule_id"] for f in envelope["findings"]] == (["AVG002"] if cls is WorkflowInvalid else [])


def test_usage_errors_never_share_a_code_with_a_result():
    assert UsageError.exit_code == EXIT_USAGE == 64
    assert {cls.exit_code for cls in every_error_class()} == {EXIT_FINDINGS, EXIT_USAGE}
    assert EXIT_USAGE not in (EXIT_OK, EXIT_FINDINGS, EXIT_CHANGES)


def test_error_codes_are_distinct_names():
    codes = [cls.code for cls in every_error_class()]
    assert len(codes) == len(set(codes)) and all(re.fullmatch(r"[a-z]+(-[a-z]+)*", code) for code in codes)
    assert (UsageError.code, WorkflowInvalid.code, TerraformError.code) == ("usage", "workflow", "terraform")


def documented_exit_codes() -> dict[str, set[str]]:
    """README's "Exit codes" table: exit code → the envelope's error codes listed for it."""
    section = README.read_text(encoding="utf-8").split("### Exit codes", 1)[1].split("\n#", 1)[0]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if re.match(r"\| [0-9]", line)]
    return {cells[0].strip(): set(re.findall(r"`([a-z-]+)`", cells[2].split("(")[0])) - {"null"}
            for cells in rows}


def test_the_readme_table_lists_every_exit_code_and_error_code():
    table = documented_exit_codes()
    assert set(table) == {str(EXIT_OK), str(EXIT_FINDINGS), str(EXIT_CHANGES), str(EXIT_USAGE), "128+N"}
    for cls in every_error_class():
        assert cls.code in table[str(cls.exit_code)], (cls.__name__, cls.code)
    listed = set().union(*table.values()) - {"interrupted"}  # Ctrl-C: KeyboardInterrupt, no AvgenError
    assert listed == {cls.code for cls in every_error_class()}, "the table names a code no class has"
    assert table["128+N"] == {"interrupted"}
