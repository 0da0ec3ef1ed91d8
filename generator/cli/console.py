"""Everything a command prints goes through here, and this is the one place that turns an AvgenError or
Ctrl-C into a message and an exit code (`AvgenGroup`). The core never prints."""
from __future__ import annotations

import contextlib
import json
import re
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from generator.errors import AvgenError, TerraformError
from generator.workflow.findings import Finding, Severity, has_errors
from generator.workflow.load import load_workflow
from generator.workflow.model import Workflow
from generator.workdirs import WorkflowFiles

# Without a terminal (CI logs, pipes), never cut a line at 80 columns: tables and names stay whole.
WIDE = 1000
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else WIDE)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else WIDE)

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
EXIT_CHANGES = 2        # `avgen plan`: like terraform's -detailed-exitcode
EXIT_INTERRUPTED = 130  # as a shell reports SIGINT
STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


class AvgenGroup(TyperGroup):
    """Runs every command; problems the user can act on become a message and an exit code, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AvgenError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}")
            if isinstance(exc, TerraformError) and exc.output.strip():
                err.print(exc.output, markup=False, highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            # terraform was let finish writing its state (generator/deploy/terraform.py): nothing half-recorded
            err.print("[yellow]interrupted[/]: what was under way finished cleanly; run the command again to "
                      "continue")
            raise typer.Exit(EXIT_INTERRUPTED) from None


JSON_VERSION = 1  # of every --format json shape; bumped only when a shape changes incompatibly


def print_json(data: dict) -> None:
    """A command's result for tools: one JSON object on stdout, `version` first (progress stays on stderr)."""
    print(json.dumps({"version": JSON_VERSION, **data}, indent=2, default=str))


def fail(message: str, code: int = EXIT_FINDINGS) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def print_findings(file: str, findings: list[Finding], *, show_info: bool) -> None:
    """A file's findings, one a line; waived ones (dim) with their reason."""
    shown = [f for f in findings if show_info or f.severity is not Severity.INFO or f.waiver]
    clean = all(f.waiver for f in shown)
    out.print(f"[bold]{escape(file)}[/]" + (": [green]ok[/]" if clean else ""))
    for f in shown:
        style = STYLE[f.severity]
        where = f"{f.location.line}:{f.location.column}" if f.location.line else "-"
        if f.waiver:
            out.print(f"  {where:>7}  [dim]{'waived':<7} {f.rule_id}  {escape(f.message)} — {escape(f.waiver)}[/]")
            continue
        out.print(f"  {where:>7}  [{style}]{f.severity.value:<7}[/] [dim]{f.rule_id}[/]  {escape(f.message)}")
        if f.hint:
            out.print(f"  {'':>7}  {'':<7} {'':6}  [dim]→ {escape(f.hint)}[/]")


def files_label(files: WorkflowFiles) -> str:
    """How a command line names the workflow: `a.yaml`, or `a.yaml b.yaml` for several files."""
    return str(files) if isinstance(files, (str, Path)) else " ".join(str(f) for f in files)


def print_file_findings(files: WorkflowFiles, findings: list[Finding], *, show_info: bool) -> None:
    """Findings under the name of the file each is in (a workflow given as several files)."""
    if isinstance(files, (str, Path)) or len(list(files)) == 1:
        print_findings(files_label(files), findings, show_info=show_info)
        return
    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        by_file.setdefault(finding.location.file, []).append(finding)
    for name, found in sorted(by_file.items()):
        print_findings(name, found, show_info=show_info)


def print_errors(file: WorkflowFiles, findings: list[Finding]) -> None:
    print_file_findings(file, [f for f in findings if f.severity is not Severity.INFO], show_info=False)


def load(file: WorkflowFiles, *, allow_errors: bool = False) -> Workflow:
    """The workflow (one file, or several that make one workflow), or its errors printed and exit 1."""
    result = load_workflow(file)
    if result.workflow is None or (has_errors(result.findings) and not allow_errors):
        print_file_findings(file, [f for f in result.findings if f.severity is Severity.ERROR], show_info=False)
        fail("the workflow has errors (see `avgen validate`)")
    return result.workflow


HEARTBEAT_S = 10  # without a terminal, a line this often on long work: CI logs show it is not stuck


def status_line(message: str):
    """A spinner on a terminal; otherwise the message, then a plain line every HEARTBEAT_S seconds."""
    if err.is_terminal:
        return err.status(message, spinner="dots")
    return heartbeat(message)


@contextlib.contextmanager
def heartbeat(message: str):
    """Without a terminal: the message now, then a plain line every HEARTBEAT_S seconds until the block ends."""
    err.print(message, markup=False, highlight=False)
    stop = threading.Event()
    began = time.monotonic()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            err.print(f"{message.rstrip('…. ')}: still running ({time.monotonic() - began:.0f} s)", markup=False,
                      highlight=False)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def local_time(moment: Optional[datetime]) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def parse_assignments(items, option: str) -> dict[str, str]:
    """NAME=VALUE options (as `--env`) into a dict; anything else is a usage error."""
    values = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            fail(f"{option} {item!r}: write NAME=VALUE", EXIT_USAGE)
        values[name] = value
    return values
