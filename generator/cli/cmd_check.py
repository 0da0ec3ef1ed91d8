"""validate, graph, generate: read a workflow and say what is in it, without touching AWS."""
from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from generator.cli.console import (
    EXIT_FINDINGS,
    EXIT_OK,
    err,
    escape,
    load,
    out,
    print_findings,
    print_json,
    use_json,
)
from generator.cli.options import Format, FormatOpt, WorkflowArg, WorkflowFiles
from generator.workdirs import distinct_files
from generator.workflow.findings import Finding, Severity, active, has_errors
from generator.workflow.graph import to_dot, to_mermaid
from generator.workflow.load import load_workflow
from generator.workflow.report import findings_report, github_annotations, sarif, summary_line, without_info
from generator.workflow.schema import workflow_json_schema


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


class GraphFormat(str, Enum):
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


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
    results = checked(files, together)
    report_findings(results, output_format, quiet)
    everything = active(f for findings in results.values() for f in findings)
    failed = has_errors(everything) or (strict and any(f.severity is Severity.WARNING for f in everything))
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


def checked(files: list[Path], together: bool) -> dict[str, list[Finding]]:
    """Each file's findings (waived ones too): every file on its own, or `together` as one workflow."""
    results: dict[str, list[Finding]] = {}
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
    return results


def report_findings(results: dict[str, list[Finding]], output_format: OutputFormat, quiet: bool) -> None:
    """The findings in the format asked for; `quiet` leaves notes out of each."""
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
        "--format", "-f", help="mermaid (GitHub renders it in PRs and READMEs), dot (Graphviz), or json for "
        "tools (each function with where it runs and the folders it reads and writes).")
    ] = GraphFormat.mermaid,
):
    """Draw the workflow: storage folders and the functions between them, with where each function runs.

    Paste the Mermaid output into a ```mermaid block of a PR or README; pipe DOT into `dot -Tpng`.

    Examples:

      avgen graph workflow.yaml

      avgen graph workflow.yaml --format dot | dot -Tpng -o workflow.png
    """
    as_json = use_json(output_format is GraphFormat.json)
    workflow = load(file, run_rules=False)
    if as_json:
        print_json({"functions": [graph_node(function) for function in workflow.functions]})
    else:
        print(to_mermaid(workflow) if output_format is GraphFormat.mermaid else to_dot(workflow), end="")


def graph_node(function) -> dict:
    """A function of the graph for tools: where it runs, what starts it, where it writes."""
    return {"name": function.name, "runs_on": function.where_it_runs, "gpu": function.uses_gpu,
            "inputs": [path.uri for path in function.inputs], "outputs": [path.uri for path in function.outputs]}


def generate(
    file: WorkflowArg,
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="DIR", show_default=False, help="Folder of the generated Terraform root module.")],
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 and print a diff if the folder is not what avgen would generate "
        "(a CI gate for committed Terraform).")] = False,
    output_format: FormatOpt = Format.text,
):
    """Write the workflow's Terraform (root module + modules) into a folder, for review and GitOps.

    Examples:

      avgen generate workflow.yaml -o infra/

      avgen generate workflow.yaml -o infra/ --check   # in CI: still current?

    Only files avgen generated are ever overwritten or removed (listed in .avgen-manifest.json).
    Exit codes: 0 written or current, 1 workflow errors, stale output with --check, or files in the way.
    """
    from generator.render.root import render, write_output

    as_json = use_json(output_format is Format.json)
    written = write_output(output, render(load(file)), check=check)
    if as_json:
        print_json({"output": str(output), "check": check, "stale": written.stale,
                    "changes": [{"action": c.action, "path": str(output / c.path)} for c in written.changes],
                    "conflicts": [str(output / path) for path in written.conflicts],
                    "skipped": list(written.skipped), "diff": written.diff})
    elif check and written.diff:
        print(written.diff, end="")
    report_written(written, output, check)
    raise typer.Exit(EXIT_FINDINGS if written.stale and (check or written.conflicts or written.skipped) else EXIT_OK)


def report_written(written, output: Path, check: bool) -> None:
    """What `generate` changed (would change, with --check), and what it left alone."""
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


