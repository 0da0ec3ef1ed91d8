"""The `avgen` command line: a thin layer that maps options onto core calls and findings onto exit codes."""
from __future__ import annotations

import contextlib
import json
from enum import Enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from .findings import Finding, Severity, has_errors
from .graph import to_dot, to_mermaid
from .deploy import Deployment, DeployError, DeployOptions, Outcome
from .loader import load_workflow
from .planview import ACTIONS, SYMBOL, PlanSummary
from .report import findings_json, summary_line
from .sandbox import SandboxError
from .terraform import TerraformError, TerraformNotFound, TerraformOptions

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
        print(findings_json(results))
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


@app.command()
def generate(
    file: Path = typer.Argument(..., help="Workflow YAML file.", show_default=False),
    output: Path = typer.Option(..., "--output", "-o", help="Folder of the generated Terraform root module.",
                                show_default=False),
    check: bool = typer.Option(False, "--check", help="Write nothing; exit 1 and print a diff if the folder is "
                               "not what avgen would generate (a CI gate for committed Terraform)."),
):
    """Write the workflow's Terraform (root module + modules) into a folder, for review and GitOps.

    Only files avgen generated are ever overwritten or removed (listed in .avgen-manifest.json).
    Exit codes: 0 written or current, 1 workflow errors, stale output with --check, or files in the way.
    """
    from .render import render, write_output

    result = load_workflow(file)
    if result.workflow is None or has_errors(result.findings):
        print_findings(str(file), [f for f in result.findings if f.severity is Severity.ERROR], show_info=False)
        raise typer.Exit(EXIT_FINDINGS)
    written = write_output(output, render(result.workflow), check=check)
    if check and written.diff:
        print(written.diff, end="")
    for change in written.changes:
        out.print(f"{'would ' if check else ''}{change.action} {escape(str(output / change.path))}")
    for path in written.conflicts:
        err.print(f"[yellow]left alone[/]: {escape(str(output / path))} was not generated by avgen (or was edited "
                  "since); move it away to let avgen write it")
    if check:
        out.print(f"{escape(str(output))}: " + ("[red]stale[/]" if written.stale else "[green]current[/]"))
    raise typer.Exit(EXIT_FINDINGS if written.stale and (check or written.conflicts) else EXIT_OK)


# --- deployment: plan / apply / destroy / outputs -----------------------------------------------------


EXIT_CHANGES = 2  # `avgen plan`: like terraform's -detailed-exitcode

WorkflowArg = Annotated[Path, typer.Argument(help="Workflow YAML file.", show_default=False)]
WorkdirOpt = Annotated[Optional[Path], typer.Option(
    "--workdir", "-w", help="Folder of the generated Terraform and its state. "
    "[default: .avgen/NAME next to the workflow; .avgen/NAME-sandbox with --sandbox]", show_default=False)]
SandboxOpt = Annotated[bool, typer.Option(
    "--sandbox", help="Run against an embedded AWS emulator on loopback (moto) instead of an AWS account; "
    "its state is kept in the working folder.")]
VarOpt = Annotated[Optional[List[str]], typer.Option(
    "--var", help="Set a Terraform variable, NAME=VALUE (as terraform -var); repeatable.", show_default=False)]
VarFileOpt = Annotated[Optional[List[Path]], typer.Option(
    "--var-file", help="Terraform variables file (as terraform -var-file); repeatable.", show_default=False)]
BackendConfigOpt = Annotated[Optional[List[str]], typer.Option(
    "--backend-config", help="Backend setting KEY=VALUE or file (as terraform init -backend-config); repeatable.",
    show_default=False)]
PluginDirOpt = Annotated[Optional[Path], typer.Option(
    "--plugin-dir", envvar="AVGEN_PLUGIN_DIR", help="Install providers from this folder only "
    "(terraform init -plugin-dir), for machines without access to the Terraform registry.", show_default=False)]
TerraformBinOpt = Annotated[str, typer.Option(
    "--terraform-bin", envvar="AVGEN_TERRAFORM_BIN", help="The terraform executable to run.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colours in terraform's or avgen's output.")]
AutoApproveOpt = Annotated[bool, typer.Option("--auto-approve", help="Do not ask for confirmation (pipelines).")]


def deployment(file, workdir, sandbox, var, var_file, backend_config, plugin_dir, terraform_bin, no_color) -> Deployment:
    if no_color:
        out.no_color = err.no_color = True
    options = TerraformOptions(terraform_bin=terraform_bin, plugin_dir=plugin_dir, variables=list(var or []),
                               var_files=list(var_file or []), backend_config=list(backend_config or []),
                               color=False)
    return Deployment(file, DeployOptions(workdir=workdir, sandbox=sandbox, terraform=options))


def run_deploy(action, file: Path):
    """Run a deployment step; turn the problems a user must act on into messages and exit code 1."""
    try:
        outcome: Outcome = action()
    except (DeployError, SandboxError, TerraformNotFound) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_FINDINGS)
    except TerraformError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        err.print(exc.output, markup=False, highlight=False)
        raise typer.Exit(EXIT_FINDINGS)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: terraform was stopped; run the command again to continue")
        raise typer.Exit(130)
    if outcome.blocked:
        print_findings(str(file), [f for f in outcome.findings if f.severity is not Severity.INFO], show_info=False)
        err.print("[bold red]the workflow has errors; terraform was not run[/]")
        raise typer.Exit(EXIT_FINDINGS)
    return outcome


def print_summary(summary: PlanSummary) -> None:
    out.print(f"[bold]{escape(summary.headline())}[/]")
    if not summary.changes:
        return
    for attribute, heading in (("owner", "function / bucket"), ("type", "resource type")):
        table = Table(show_edge=False, box=None, pad_edge=False)
        table.add_column(heading)
        for action in ACTIONS:
            table.add_column(f"{SYMBOL[action]} {action}", justify="right")
        for name, row in summary.by(attribute).items():
            table.add_row(escape(name), *[str(row[a] or "") for a in ACTIONS])
        out.print()
        out.print(table)


def status_line(message: str):
    return err.status(message, spinner="dots") if err.is_terminal else contextlib.nullcontext()


@app.command()
def plan(file: WorkflowArg, workdir: WorkdirOpt = None, sandbox: SandboxOpt = False, var: VarOpt = None,
         var_file: VarFileOpt = None, backend_config: BackendConfigOpt = None, plugin_dir: PluginDirOpt = None,
         terraform_bin: TerraformBinOpt = "terraform", no_color: NoColorOpt = False,
         as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
         summary_md: Annotated[Optional[Path], typer.Option(
             "--summary-md", help="Also write the summary as Markdown (for a pull-request comment).",
             show_default=False)] = None):
    """Generate the Terraform, init once, and save a plan; print what it would change.

    Exit codes (like terraform's -detailed-exitcode): 0 no changes, 2 changes, 1 error.
    """
    dep = deployment(file, workdir, sandbox, var, var_file, backend_config, plugin_dir, terraform_bin, no_color)
    with status_line("terraform plan…"):
        outcome = run_deploy(dep.plan, file)
    summary = outcome.summary
    if summary_md:
        summary_md.write_text(summary.to_markdown())
    if as_json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print_summary(summary)
        if summary.has_changes:
            again = " ".join([str(file), *(["--sandbox"] if sandbox else []), *(["-w", str(workdir)] if workdir else [])])
            out.print(f"[dim]plan saved in {escape(str(outcome.workdir))}; `avgen apply {escape(again)}` applies it[/]")
    raise typer.Exit(EXIT_CHANGES if summary.has_changes else EXIT_OK)


def confirm_with(auto_approve: bool, verb: str):
    def confirm(summary: PlanSummary) -> bool:
        print_summary(summary)
        if auto_approve:
            return True
        if not (out.is_terminal and err.is_terminal):
            err.print(f"[bold red]error:[/] not a terminal: pass --auto-approve to {verb} without a prompt")
            raise typer.Exit(EXIT_FINDINGS)
        return typer.confirm(f"{verb.capitalize()} these changes?", default=False)
    return confirm


class ApplyProgress:
    """Terraform's -json apply events as a progress bar: one step per resource."""

    def __init__(self):
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=False,
                                 disable=not err.is_terminal)
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        self.task = self.progress.add_task("terraform plan", total=None)
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def confirming(self, auto_approve: bool, verb: str):
        """Show the plan, ask (unless auto-approved), and turn the bar into one step per resource."""
        ask = confirm_with(auto_approve, verb)

        def confirm(summary: PlanSummary) -> bool:
            self.progress.stop()  # the summary and the prompt must not fight the live display
            approved = ask(summary)
            if approved:
                self.progress.start()
                self.progress.update(self.task, description=verb, total=len(summary.changes), completed=0)
            return approved
        return confirm

    def __call__(self, event: dict) -> None:
        kind, hook = event.get("type"), event.get("hook", {})
        address = hook.get("resource", {}).get("addr", "")
        if kind == "apply_start":
            self.progress.update(self.task, description=f"{hook.get('action', '')} {address}")
        elif kind in ("apply_complete", "apply_errored"):
            self.progress.advance(self.task)
            if not err.is_terminal:
                err.print(f"{'done' if kind == 'apply_complete' else 'FAILED'}: {address}", markup=False)


def print_outputs(outputs: dict, file: Path, sandbox: bool, workdir: Optional[Path] = None) -> None:
    if not outputs:
        return
    out.print("[bold]Outputs[/]")
    for name, value in sorted(outputs.items()):
        shown = "(sensitive)" if value.get("sensitive") else json.dumps(value.get("value"), indent=2)
        out.print(f"  [cyan]{escape(name)}[/] = {escape(shown)}")
    flags = (" --sandbox" if sandbox else "") + (f" -w {workdir}" if sandbox and workdir else "")
    out.print(f"[dim]next: avgen put {escape(str(file))} VIDEO{escape(flags)}  (uploads to the workflow's start "
              "folder)[/]")


@app.command()
def apply(file: WorkflowArg, workdir: WorkdirOpt = None, sandbox: SandboxOpt = False, var: VarOpt = None,
          var_file: VarFileOpt = None, backend_config: BackendConfigOpt = None, plugin_dir: PluginDirOpt = None,
          terraform_bin: TerraformBinOpt = "terraform", no_color: NoColorOpt = False,
          auto_approve: AutoApproveOpt = False):
    """Deploy the workflow: apply the saved plan when it is current, otherwise plan first, then apply.

    Shows the plan and asks before changing anything (--auto-approve for pipelines); prints the outputs
    you need next. Exit codes: 0 applied (or nothing to do), 1 error or declined.
    """
    dep = deployment(file, workdir, sandbox, var, var_file, backend_config, plugin_dir, terraform_bin, no_color)
    with ApplyProgress() as progress:
        outcome = run_deploy(lambda: dep.apply(progress.confirming(auto_approve, "apply"), on_event=progress), file)
    if outcome.summary.has_changes and not outcome.applied:
        err.print("nothing was applied")
        raise typer.Exit(EXIT_FINDINGS)
    print_outputs(outcome.outputs, file, sandbox, workdir)


@app.command()
def destroy(file: WorkflowArg, workdir: WorkdirOpt = None, sandbox: SandboxOpt = False, var: VarOpt = None,
            var_file: VarFileOpt = None, backend_config: BackendConfigOpt = None, plugin_dir: PluginDirOpt = None,
            terraform_bin: TerraformBinOpt = "terraform", no_color: NoColorOpt = False,
            auto_approve: AutoApproveOpt = False,
            delete_buckets: Annotated[bool, typer.Option(
                "--delete-buckets", help="Also delete the buckets avgen created (refused while they hold objects).")] = False,
            force: Annotated[bool, typer.Option(
                "--force", help="With --delete-buckets: delete the buckets' objects (all versions) too.")] = False):
    """Remove the deployed workflow: functions, jobs, queues, roles, notifications, alerts.

    Like SCAR's `rm`, the buckets and the files in them are kept unless --delete-buckets is given.
    """
    if force and not delete_buckets:
        err.print("[bold red]error:[/] --force only goes with --delete-buckets")
        raise typer.Exit(EXIT_USAGE)
    dep = deployment(file, workdir, sandbox, var, var_file, backend_config, plugin_dir, terraform_bin, no_color)
    with ApplyProgress() as progress:
        outcome = run_deploy(lambda: dep.destroy(progress.confirming(auto_approve, "destroy"), on_event=progress,
                                                 delete_buckets=delete_buckets, force=force), file)
    if outcome.summary and not outcome.summary.has_changes:
        out.print("nothing to destroy")
    elif not outcome.applied:
        err.print("nothing was destroyed")
        raise typer.Exit(EXIT_FINDINGS)
    if outcome.kept_buckets:
        out.print("kept (with their objects): " + ", ".join(f"s3://{b}" for b in outcome.kept_buckets))


@app.command()
def outputs(file: WorkflowArg, workdir: WorkdirOpt = None, sandbox: SandboxOpt = False,
            plugin_dir: PluginDirOpt = None, terraform_bin: TerraformBinOpt = "terraform",
            no_color: NoColorOpt = False,
            as_json: Annotated[bool, typer.Option("--json", help="Print the outputs as JSON.")] = False):
    """Show what is deployed: bucket names, functions, repositories, queues, the alert topic."""
    dep = deployment(file, workdir, sandbox, None, None, None, plugin_dir, terraform_bin, no_color)
    outcome = run_deploy(dep.outputs, file)
    if as_json:
        print(json.dumps({k: v.get("value") for k, v in sorted(outcome.outputs.items())}, indent=2))
    else:
        print_outputs(outcome.outputs, file, sandbox, workdir)
from . import cli_verbs  # noqa: E402,F401  (registers put/ls/get/logs/status/run)


@app.command()
def build(file: WorkflowArg, workdir: WorkdirOpt = None,
          push: Annotated[bool, typer.Option(
              "--push", help="Build the images, push them to the functions' ECR repositories (created first if "
              "needed) and record their digests for the next plan/apply. Needs a Docker engine and AWS credentials.")] = False,
          var: VarOpt = None, var_file: VarFileOpt = None, backend_config: BackendConfigOpt = None,
          plugin_dir: PluginDirOpt = None, terraform_bin: TerraformBinOpt = "terraform",
          no_color: NoColorOpt = False, auto_approve: AutoApproveOpt = False):
    """Write each function's container build context: FROM its container.image, plus avgen's runtime,
    the media handlers and its script.

    Contexts go to WORKDIR/images/FUNCTION. With --push (where a Docker engine runs), avgen creates the ECR
    repositories if needed, builds and pushes every image, and writes the digests to
    WORKDIR/avgen-images.auto.tfvars.json, which the next `avgen plan` / `avgen apply` deploys.
    """
    from .images import ImageError, ecr_login, engine_available, push_all, record_images, write_contexts
    from .s3client import boto_session

    dep = deployment(file, workdir, False, var, var_file, backend_config, plugin_dir, terraform_bin, no_color)
    findings = dep.load()
    if has_errors(findings):
        print_findings(str(file), [f for f in findings if f.severity is not Severity.INFO], show_info=False)
        raise typer.Exit(EXIT_FINDINGS)
    try:
        contexts = write_contexts(dep.workflow, dep.workdir / "images")
    except (ImageError, ValueError, FileNotFoundError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_FINDINGS)
    for context in contexts:
        out.print(f"[bold]{escape(context.function)}[/]: {escape(str(context.path))}  [dim]tag {context.tag}[/]")
    if not push:
        out.print("[dim]build and push them with `avgen build --push` where a Docker engine runs, or by hand "
                  "(docs/runtime.md)[/]")
        return
    if not engine_available():
        err.print("[bold red]error:[/] no Docker engine answers (`docker info` failed); the contexts above are "
                  "ready, build and push them by hand:")
        for context in contexts:
            for command in context.commands(f"<ecr_repository_urls[\"{context.function}\"]>"):
                err.print(f"  {command}", markup=False)
        raise typer.Exit(EXIT_FINDINGS)
    outcome = run_deploy(lambda: dep.apply(confirm_with(auto_approve, "apply"), targets=("module.image",)), file)
    repositories = outcome.outputs.get("ecr_repository_urls", {}).get("value", {})
    try:
        if repositories:
            ecr_login(next(iter(repositories.values())),
                      boto_session(region=dep.workflow.settings.region).client("ecr"))
        pushed = push_all(contexts, repositories,
                          on_pushed=lambda name, ref: out.print(f"pushed {escape(name)}: {escape(ref)}"))
    except ImageError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_FINDINGS)
    path = record_images(dep.workdir, pushed)
    out.print(f"digests recorded in {escape(str(path))}; `avgen apply {escape(str(file))}` deploys them")
