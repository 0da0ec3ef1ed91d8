"""logs, status: what the deployed functions and their Batch jobs did."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, List

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from generator.cli.console import (
    EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, err, fail, load, local_time, out, print_json, use_json,
)
from generator.cli.options import (
    EndpointOpt, Format, FormatOpt, JsonOpt, RegionOpt, SandboxOpt, SinceOpt, WorkdirOpt, WorkflowArg, connection,
    split_workflow_files,
)

if TYPE_CHECKING:  # boto3 and the readers are imported by the commands that read AWS, not at start-up
    from generator.verbs.observe import LogEvent

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
    args: Annotated[List[str], typer.Argument(
        metavar="WORKFLOW... [FUNCTION]", show_default=False,
        help="Workflow YAML file(s) (several make one workflow), then one function (its name in the workflow) "
        "\\[default: all].")],
    since: SinceOpt = "1h",
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines until Ctrl-C.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Print the runtime's JSON lines as they are.")] = False,
    endpoint_url: EndpointOpt = None, region: RegionOpt = None, sandbox: SandboxOpt = False,
    workdir: WorkdirOpt = None,
):
    """Show a function's CloudWatch logs together with those of the Batch jobs it ran, in time order.

    Batch jobs are found through the job ids the function logged when it handed work over, and on its job
    queue. The runtime's JSON lines are shown as LEVEL MESSAGE key=value (--raw for the JSON).

    Examples:

      avgen logs workflow.yaml                          # every function, last hour

      avgen logs workflow.yaml av-workflow-yolov3 --since 1d

      avgen logs workflow.yaml --follow

    Exit codes: 0 shown (also when there is nothing), 1 AWS could not be read, 64 usage error.
    """
    from generator.verbs.observe import LogReader, epoch_ms, parse_since, select_functions

    file, rest = split_workflow_files(args)
    if not file and rest:  # a workflow file named otherwise, as before
        file = [Path(rest.pop(0))]
    if not file or len(rest) > 1:
        fail("give the workflow file(s) (.yaml/.yml), then at most one function name", EXIT_USAGE)
    function = rest[0] if rest else None
    workflow = load(file)
    try:
        start = epoch_ms(parse_since(since))
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    with connection(file, workflow, endpoint_url, region, sandbox, workdir) as conn:
        functions = select_functions(workflow, function)
        width = max(len(f.name) for f in functions) + 13
        reader = LogReader(conn, functions)
        events = reader.follow(start) if follow else iter(reader.read(start))
        shown = 0
        try:
            for event in events:
                out.print(log_line(event, width, raw))
                shown += 1
                for note in reader.notes:
                    err.print(f"[yellow]note:[/] {escape(note)}")
                reader.notes.clear()
        except KeyboardInterrupt:
            raise typer.Exit(EXIT_OK) from None
        for note in reader.notes:
            err.print(f"[yellow]note:[/] {escape(note)}")
        if not shown:
            err.print(f"no log lines (since: {since})")


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
    from generator.verbs.observe import parse_since, workflow_status

    as_json = use_json(as_json or output_format is Format.json)
    workflow = load(file)
    try:
        start = parse_since(since)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    with connection(file, workflow, endpoint_url, region, sandbox, workdir) as conn:
        report = workflow_status(conn, workflow, start)
    if as_json:
        print_json({"functions": [{**vars(s), "last_run": s.last_run.isoformat() if s.last_run else None}
                                  for s in report]})
    else:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("function", "runs on", "deployed", "invocations", "errors", "last run", "Batch jobs"):
            table.add_column(column, justify="right" if column in ("invocations", "errors") else "left")
        for s in report:
            jobs = "—" if s.jobs is None else " ".join(f"{k.lower()} {v}" for k, v in s.jobs.items())
            table.add_row(escape(s.name), s.runs_on, "[green]yes[/]" if s.deployed else "[red]no[/]",
                          "—" if s.invocations is None else str(s.invocations),
                          ("[red]%d[/]" % s.errors) if s.errors else "0", local_time(s.last_run), jobs)
        out.print(table)
        out.print(f"[dim]since {local_time(start)}; invocations and errors from "
                  f"{', '.join(sorted({s.counted_from for s in report}))}[/]")
        for s in report:
            if s.last_error:
                out.print(f"[red]{escape(s.name)}[/] last error: {escape(s.last_error)}")
            for note in s.notes:
                err.print(f"[yellow]note:[/] {escape(note)}")
    raise typer.Exit(EXIT_OK if all(s.healthy for s in report) else EXIT_FINDINGS)


