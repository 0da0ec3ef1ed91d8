"""validate, graph, generate: read a workflow and say what is in it, without touching AWS."""
from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from generator.cli.console import (
    EXIT_FINDINGS, EXIT_OK, err, escape, out, print_file_findings, print_findings, print_json, use_json,
)
from generator.cli.options import WorkflowArg, WorkflowFiles
from generator.workflow.findings import Severity, active, has_errors
from generator.workflow.graph import to_dot, to_mermaid
from generator.workflow.load import load_workflow
from generator.workdirs import distinct_files
from generator.workflow.schema import workflow_json_schema
from generator.workflow.report import findings_report, github_annotations, sarif, summary_line, without_info


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class GraphFormat(str, Enum):
    mermaid = "mermaid"
    dot = "dot"


def validate(
    files: WorkflowFiles,
    output_format: Annotated[OutputFormat, typer.Option(
        "--format", "-f", help="text for people, json for tools, sarif for code scanning (SARIF 2.1.0), github for "
        "annotations on a pull request's lines (GitHub Actions workflow commands).")] = OutputFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too (exit 1).")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Leave out notes (info findings such as where the workflow starts), in every "
        "format.")] = False,
    together: Annotated[bool, typer.Option(
        "--together", "-t", help="The files make one workflow (SCAR 3.x: one function per file): check them "
        "as one, loops and overlaps across files included. Without it each file is checked on its own.")] = False,
):
    """Check workflow files: schema, names, limits, the graph of triggers (loops, overlaps) and GPU settings.

    Examples:

      avgen validate workflow.yaml

      avgen validate workflows/*.yaml --strict --format github   # in CI

      avgen validate --together scar-split.yaml scar-darknet.yaml  # SCAR 3.x

        Exit codes: 0 clean (warnings allowed), 1 errors found (or warnings with --strict), 64 usage error.
    Every finding has a stable rule id (AVG001 …) listed in docs/rules.md.
    """
    results: dict[str, list] = {}
    if together and len(files) > 1:
        loaded = load_workflow(files)
        for finding in loaded.findings + loaded.waived:  # each finding under its own file
            results.setdefault(finding.location.file, []).append(finding)
        for file in distinct_files(files):
            results.setdefault(str(file), [])
    else:
        for file in files:
            loaded = load_workflow(file)
            results[str(file)] = loaded.findings + loaded.waived
    reported = without_info(results) if quiet else results  # text leaves them out as it prints them
    if use_json(output_format is OutputFormat.json):
        report = findings_report(reported)
        print_json(report, findings=[f for file in report["files"] for f in file["findings"]])
    elif output_format is OutputFormat.sarif:
        print(sarif(reported, Path.cwd()))
    elif output_format is OutputFormat.github:
        print(github_annotations(reported, Path.cwd()), end="")
    else:
        for name, findings in results.items():
            print_findings(name, findings, show_info=not quiet)
        out.print(summary_line(results))
    everything = active(f for findings in results.values() for f in findings)
    failed = has_errors(everything) or (strict and any(f.severity is Severity.WARNING for f in everything))
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


def schema():
    """Print the JSON Schema of the workflow format (SCAR's keys, their old spellings, the `avgen:` section).

    Example:

      avgen schema > avgen-workflow.schema.json

    Save it and point your editor at it: a first line `# yaml-language-server: $schema=avgen-workflow.schema.json`
    gives completion, descriptions and typo checks in VS Code (YAML extension), Neovim, JetBrains IDEs.
    """
    print(json.dumps(workflow_json_schema(), indent=2))


def graph(
    file: WorkflowArg,
    output_format: Annotated[GraphFormat, typer.Option(
        "--format", "-f", help="mermaid (GitHub renders it in PRs and READMEs) or dot (Graphviz).")
    ] = GraphFormat.mermaid,
):
    """Draw the workflow: storage folders and the functions between them, with where each function runs.

    Paste the Mermaid output into a ```mermaid block of a PR or README; pipe DOT into `dot -Tpng`.

    Examples:

      avgen graph workflow.yaml

      avgen graph workflow.yaml --format dot | dot -Tpng -o workflow.png
    """
    result = load_workflow(file, run_rules=False)
    if result.workflow is None or has_errors(result.findings):
        print_file_findings(file, [f for f in result.findings if f.severity is Severity.ERROR], show_info=False)
        raise typer.Exit(EXIT_FINDINGS)
    text = to_mermaid(result.workflow) if output_format is GraphFormat.mermaid else to_dot(result.workflow)
    print(text, end="")


def generate(
    file: WorkflowArg,
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="DIR", show_default=False, help="Folder of the generated Terraform root module.")],
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 and print a diff if the folder is not what avgen would generate "
        "(a CI gate for committed Terraform).")] = False,
):
    """Write the workflow's Terraform (root module + modules) into a folder, for review and GitOps.

    Examples:

      avgen generate workflow.yaml -o infra/

      avgen generate workflow.yaml -o infra/ --check   # in CI: still current?

    Only files avgen generated are ever overwritten or removed (listed in .avgen-manifest.json).
    Exit codes: 0 written or current, 1 workflow errors, stale output with --check, or files in the way.
    """
    from generator.render.root import render, write_output

    result = load_workflow(file)
    if result.workflow is None or has_errors(result.findings):
        print_file_findings(file, [f for f in result.findings if f.severity is Severity.ERROR], show_info=False)
        raise typer.Exit(EXIT_FINDINGS)
    written = write_output(output, render(result.workflow), check=check)
    if check and written.diff:
        print(written.diff, end="")
    for change in written.changes:
        out.print(f"{'would ' if check else ''}{change.action} {escape(str(output / change.path))}")
    for path in written.conflicts:
        err.print(f"[yellow]left alone[/]: {escape(str(output / path))} was not generated by avgen (or was edited "
                  "since); move it away to let avgen write it")
    for path in written.skipped:
        err.print(f"[yellow]skipped[/]: {escape(path)} is outside {escape(str(output))}, behind a symlink or not a "
                  "regular file; avgen writes and deletes only regular files inside the output folder")
    if check:
        out.print(f"{escape(str(output))}: " + ("[red]stale[/]" if written.stale else "[green]current[/]"))
    raise typer.Exit(EXIT_FINDINGS if written.stale and (check or written.conflicts or written.skipped) else EXIT_OK)


