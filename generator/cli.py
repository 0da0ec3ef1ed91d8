"""The `avgen` command line: a thin layer that maps options onto core calls and findings onto exit codes."""
from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from . import __version__
from .findings import Finding, Severity, has_errors
from .graph import to_dot, to_mermaid
from .loader import load_workflow
from .report import findings_json, summary_line

app = typer.Typer(
    name="avgen",
    help="Deploy serverless media-processing workflows (SCAR's YAML format) to AWS with reviewable Terraform.\n\n"
    "Typical use: avgen validate workflow.yaml → avgen graph workflow.yaml → avgen plan workflow.yaml → "
    "avgen apply workflow.yaml.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


class GraphFormat(str, Enum):
    mermaid = "mermaid"
    dot = "dot"


def version_callback(value: bool):
    if value:
        out.print(f"avgen {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                 help="Print avgen's version and exit."),
):
    """avgen: SCAR workflows → Terraform → AWS."""


WORKFLOW_FILES = typer.Argument(..., help="Workflow YAML files (SCAR's format, plus an optional `avgen:` section).",
                                show_default=False)


def print_findings(file: str, findings: list[Finding], *, show_info: bool) -> None:
    shown = [f for f in findings if show_info or f.severity is not Severity.INFO]
    if not shown:
        out.print(f"[bold]{escape(file)}[/]: [green]ok[/]")
        return
    out.print(f"[bold]{escape(file)}[/]")
    for f in shown:
        style = STYLE[f.severity]
        where = f"{f.location.line}:{f.location.column}" if f.location.line else "-"
        out.print(f"  {where:>7}  [{style}]{f.severity.value:<7}[/] [dim]{f.rule_id}[/]  {escape(f.message)}")
        if f.hint:
            out.print(f"  {'':>7}  {'':<7} {'':6}  [dim]→ {escape(f.hint)}[/]")


@app.command()
def validate(
    files: List[Path] = WORKFLOW_FILES,
    output_format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text for people, json for tools."),
    strict: bool = typer.Option(False, "--strict", help="Fail on warnings too (exit 1)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Hide notes (info findings such as where the workflow starts)."),
):
    """Check workflow files: schema, names, limits, the graph of triggers (loops, overlaps) and GPU settings.

    Exit codes: 0 clean (warnings allowed), 1 errors found (or warnings with --strict), 2 usage error.
    Every finding has a stable rule id (AVG001 …) listed in docs/rules.md.
    """
    results = {}
    for file in files:
        results[str(file)] = load_workflow(file).findings
    if output_format is OutputFormat.json:
        out.print_json(findings_json(results)) if out.is_terminal else print(findings_json(results))
    else:
        for file, findings in results.items():
            print_findings(file, findings, show_info=not quiet)
        out.print(summary_line(results))
    everything = [f for findings in results.values() for f in findings]
    failed = has_errors(everything) or (strict and any(f.severity is Severity.WARNING for f in everything))
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


@app.command()
def graph(
    file: Path = typer.Argument(..., help="Workflow YAML file.", show_default=False),
    output_format: GraphFormat = typer.Option(GraphFormat.mermaid, "--format", "-f",
                                              help="mermaid (GitHub renders it in PRs and READMEs) or dot (Graphviz)."),
):
    """Draw the workflow: storage folders and the functions between them, with where each function runs.

    Paste the Mermaid output into a ```mermaid block of a PR or README; pipe DOT into `dot -Tpng`.
    """
    result = load_workflow(file, run_rules=False)
    if result.workflow is None or has_errors(result.findings):
        print_findings(str(file), [f for f in result.findings if f.severity is Severity.ERROR], show_info=False)
        raise typer.Exit(EXIT_FINDINGS)
    text = to_mermaid(result.workflow) if output_format is GraphFormat.mermaid else to_dot(result.workflow)
    print(text, end="")
