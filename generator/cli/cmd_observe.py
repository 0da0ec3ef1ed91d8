"""logs, status: what the deployed functions and their Batch jobs did."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from generator.cli.console import EXIT_FINDINGS, EXIT_OK, err, load, local_time, out, print_json, use_json
from generator.cli.options import (
    EndpointOpt,
    Format,
    FormatOpt,
    JsonOpt,
    RegionOpt,
    SandboxOpt,
    SinceOpt,
    WorkdirOpt,
    WorkflowArg,
    connection,
    split_workflow_files,
)
from generator.errors import UsageError

if TYPE_CHECKING:  # boto3 and the readers are imported by the commands that read AWS, not at start-up
    from datetime import datetime

    from generator.verbs.observe import FunctionStatus, LogEvent

HIDDEN_FIELDS = {"time", "level", "message", "request_id", "function", "phase", "output_tail", "exception"}


def log_line(event: LogEvent, width: int, raw: bool) -> Text:
    stamp = event.time.astimezone().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    line = Text(f"{stamp}  ", style="dim")
    line.append(f"{event.source:<{width}}  ", style="cyan")
    data = None if raw else event.fields
    if data is None:
        return line.append(event.message)
    level = str(data.get("level", ""))
    line.append(f"{level:<7} ", style={"ERROR": "bold red", "WARNING": "yellow"}.get(level, ""))
    line.append(str(data.get("message", "")))
    extra = "  ".join(f"{k}={v}" for k, v in data.items() if k not in HIDDEN_FIELDS and v not in (None, "", []))
    if extra:
        line.append(f"  {extra}", style="dim")
    if data.get("output_tail") and level == "ERROR":
        line.append("\n    " + str(data["output_tail"]).strip().replace("\n", "\n    "), style="dim")
    return line


def logs(
    args: Annotated[list[str], typer.Argument(
        metavar="WORKFLOW... [FUNCTION]", show_default=False,
        help="Workflow YAML file(s) (several make one workflow), then one function (its name in the workflow) "
        "\\[default: all].")],
    since: SinceOpt = "1h",
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Print the runtime's JSON lines as they are.")] = False,
    endpoint_url: EndpointOpt = None, region: RegionOpt = None, sandbox: SandboxOpt = False,
    workdir: WorkdirOpt = None, output_format: FormatOpt = Format.text,
):
    """Show a function's CloudWatch logs together with those of the Batch jobs it ran, in time order.

    Batch jobs are found through the job ids the function logged when it handed work over, and on its job
    queue. The runtime's JSON lines are shown as LEVEL MESSAGE key=value (--raw for the JSON).

    Examples:

      avgen logs workflow.yaml                          # every function, last hour

      avgen logs workflow.yaml av-workflow-yolov3 --since 1d

      avgen logs workflow.yaml --follow

    Exit codes: 0 shown (also when there is nothing), 1 AWS could not be read, 64 usage error.
    With --format json the lines are the result's `events` (with --follow: those shown until Ctrl-C).
    """
    from generator.verbs.observe import LogReader, epoch_ms, select_functions

    as_json = use_json(output_format is Format.json)
    file, rest = split_workflow_files(args)
    if not file and rest:  # a workflow file named otherwise, as before
        file = [Path(rest.pop(0))]
    if not file or len(rest) > 1:
        raise UsageError("give the workflow file(s) (.yaml/.yml), then at most one function name")
    workflow = load(file)
    start = epoch_ms(since_time(since))
    shown: list[dict] = []
    if as_json:
        print_json({"events": shown})  # printed when the command ends, with every event shown until then
    with connection(file, workflow, endpoint_url, region, sandbox, workdir) as conn:
        functions = select_functions(workflow, rest[0] if rest else None)
        width = max(len(f.name) for f in functions) + 13
        reader = LogReader(conn, functions)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how --follow ends: what was shown stands
            for event in reader.follow(start) if follow else reader.read(start):
                shown.append(event_data(event))
                if not as_json:
                    out.print(log_line(event, width, raw))
                print_notes(reader.notes)
        print_notes(reader.notes)
    if not shown:
        err.print(f"no log lines (since: {since})")


def event_data(event: LogEvent) -> dict:
    """A log line for tools: its time, where it comes from, its text, and the runtime's fields (or null)."""
    return {"time": event.time.isoformat(), "source": event.source, "stream": event.stream,
            "message": event.message, "fields": event.fields}


def print_notes(notes: list[str]) -> None:
    for note in notes:
        err.print(f"[yellow]note:[/] {escape(note)}")
    notes.clear()


def since_time(since: str) -> datetime:
    """--since as a time; what cannot be read is a usage error."""
    from generator.verbs.observe import parse_since

    try:
        return parse_since(since)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def status(
    file: WorkflowArg, since: SinceOpt = "24h",
    output_format: FormatOpt = Format.text, as_json: JsonOpt = False,
    endpoint_url: EndpointOpt = None, region: RegionOpt = None, sandbox: SandboxOpt = False,
    workdir: WorkdirOpt = None,
):
    """Per function: deployed or not, invocations and errors, the last error, and Batch jobs by state.

    Invocations and errors come from CloudWatch metrics (else from the runtime's log lines).

    Examples:

      avgen status workflow.yaml

      avgen status workflow.yaml --since 7d --format json

    Exit codes: 0 every function deployed and no errors or failed jobs in the window, 1 otherwise.
    """
    from generator.verbs.observe import workflow_status

    as_json = use_json(as_json or output_format is Format.json)
    workflow = load(file)
    start = since_time(since)
    with connection(file, workflow, endpoint_url, region, sandbox, workdir) as conn:
        report = workflow_status(conn, workflow, start)
    if as_json:
        print_json({"functions": [{**vars(s), "last_run": s.last_run.isoformat() if s.last_run else None}
                                  for s in report]})
    else:
        print_status(report, start)
    raise typer.Exit(EXIT_OK if all(s.healthy for s in report) else EXIT_FINDINGS)


def print_status(report: list[FunctionStatus], start: datetime) -> None:
    """`status` for people: a table of the functions, then each one's last error and notes."""
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("function", "runs on", "deployed", "invocations", "errors", "last run", "Batch jobs"):
        table.add_column(column, justify="right" if column in ("invocations", "errors") else "left")
    for s in report:
        jobs = "—" if s.jobs is None else " ".join(f"{k.lower()} {v}" for k, v in s.jobs.items())
        table.add_row(escape(s.name), s.runs_on, "[green]yes[/]" if s.deployed else "[red]no[/]",
                      "—" if s.invocations is None else str(s.invocations),
                      f"[red]{s.errors}[/]" if s.errors else "0", local_time(s.last_run), jobs)
    out.print(table)
    out.print(f"[dim]since {local_time(start)}; invocations and errors from "
              f"{', '.join(sorted({s.counted_from for s in report}))}[/]")
    for s in report:
        if s.last_error:
            out.print(f"[red]{escape(s.name)}[/] last error: {escape(s.last_error)}")
        for note in s.notes:
            err.print(f"[yellow]note:[/] {escape(note)}")


