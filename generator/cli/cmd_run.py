"""run --local: the whole workflow on this machine, with the runtime code that runs in Lambda and Batch."""
from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from generator.cli.console import (
    EXIT_FINDINGS,
    EXIT_OK,
    err,
    human_size,
    load,
    out,
    parse_assignments,
    plural,
    print_json,
    use_json,
)
from generator.cli.options import (
    BucketOpt,
    EndpointOpt,
    Format,
    FormatOpt,
    RegionOpt,
    SandboxOpt,
    WorkdirOpt,
    WorkflowArg,
    connection,
)
from generator.errors import CommandFailed, UsageError
from generator.interrupts import exit_status
from generator.workdirs import local_run_log, local_store


class RunView:
    """The live view of a local run: what each worker is doing, and counters."""

    def __init__(self, workers: int):
        self.workers = workers
        self.running: dict[int, tuple[str, str, float]] = {}
        self.done = self.failed = self.queued = 0
        self.live = Live(get_renderable=self.render, console=err.rich, refresh_per_second=4, transient=True) \
            if err.is_terminal else None

    def __enter__(self):
        if self.live:
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live:
            self.live.__exit__(*exc)

    def render(self):
        table = Table(box=None, pad_edge=False, show_header=False)
        table.add_column(style="cyan")
        table.add_column()
        table.add_column(justify="right", style="dim")
        now = time.monotonic()
        for function, source, began in self.running.values():
            table.add_row(escape(function), escape(source), f"{now - began:.1f} s")
        head = Text(f"running {len(self.running)}/{self.workers}   queued {self.queued}   done {self.done}   "
                    f"failed {self.failed}", style="bold")
        return Group(head, table)

    def __call__(self, event) -> None:
        self.queued = event.queued
        invocation = event.invocation
        if event.kind == "input":
            err.print(f"stored {escape(event.message)}")
        elif event.kind == "start":
            self.running[invocation.number] = (invocation.function, invocation.source, time.monotonic())
        elif event.kind == "finish":
            self.running.pop(invocation.number, None)
            self.done += 1
            self.failed += not invocation.ok
            if invocation.status == "delegated":
                mark = "[cyan]→ batch[/]"  # out of Lambda time: a Batch-side run takes the object over
            elif invocation.ok:
                mark = "[green]ok[/]    "
            else:
                mark = f"[bold red]{invocation.status.upper():<6}[/]"
            outputs = f" → {len(invocation.outputs)} output{'s' * (len(invocation.outputs) != 1)}" \
                if invocation.outputs else ""
            side = " (batch)" if invocation.runs_on == "batch" else ""
            err.print(f"{mark} {escape(invocation.function)}{side}  {escape(invocation.source)}  "
                      f"{invocation.seconds:.1f} s{outputs}")
        elif event.kind == "stop":
            err.print(f"[bold red]{escape(event.message)}[/]")


def print_run_report(report, where: str) -> None:
    """A local run for people: the outputs, the failures, a verdict line, and why it stopped early."""
    if report.outputs:
        print_outputs(report.outputs, where)
    for failure in report.failures:
        out.print(f"[bold red]{escape(failure.status)}[/]: {escape(failure.function)} on {escape(failure.source)}: "
                  f"{escape(failure.reason)}")
        if failure.output_tail.strip():
            out.print(Text("    " + failure.output_tail.strip()[-1500:].replace("\n", "\n    "), style="dim"))
    runs = len([i for i in report.invocations if i.status != "cancelled"])
    verdict = "[green]ok[/]" if report.ok else "[bold red]failed[/]"
    out.print(f"{verdict}: {plural(runs, 'invocation')}, {plural(len(report.outputs), 'output')}, "
              f"{len(report.failures)} failed, in {report.seconds:.1f} s")
    if report.unchanged:
        out.print(f"[yellow]{plural(len(report.unchanged), 'output')} already held the same content, so were not "
                  "written again and triggered nothing[/] (as on AWS); --fresh starts from empty buckets")
    if report.stopped:
        out.print(f"[bold red]{escape(report.stopped)}[/]")
    if report.interrupted:
        cut = len([i for i in report.invocations if i.status == "interrupted"])
        never = len([i for i in report.invocations if i.status == "cancelled"])
        out.print(f"[bold red]ended by {report.interrupted}[/]: {plural(cut, 'invocation')} cut short (the "
                  f"scripts killed with all they started, nothing uploaded), {never} never started; a new run "
                  "starts again from the inputs")


def print_outputs(outputs, where: str) -> None:
    """The run's outputs as a table; keys without their bucket when all are in one."""
    buckets = sorted({o.bucket for o in outputs})
    single = buckets[0] if len(buckets) == 1 else None
    prefix = f"s3://{single}/" if single else None

    def short(uri: str) -> str:
        return uri[len(prefix):] if prefix and uri.startswith(prefix) else uri

    table = Table(box=None, pad_edge=False, header_style="bold", title_justify="left",
                  title=f"outputs in s3://{single} ({where})" if single else f"outputs ({where})")
    table.add_column("key", overflow="fold")
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("made by", overflow="fold")
    table.add_column("from", overflow="fold")
    for o in sorted(outputs, key=lambda o: (o.bucket, o.key)):
        table.add_row(escape(short(o.uri)), human_size(o.size), escape(o.function), escape(short(o.source)))
    out.print(table)


def run_report_data(report, where: str, log_path: Path) -> dict:
    """A local run for tools: every invocation, every output, and how the run ended."""
    return {"ok": report.ok, "where": where, "seconds": report.seconds, "inputs": list(report.inputs),
            "invocations": [{"function": i.function, "source": i.source, "runs_on": i.runs_on, "status": i.status,
                             "seconds": i.seconds, "outputs": list(i.outputs), "unchanged": list(i.unchanged),
                             "reason": i.reason} for i in report.invocations],
            "outputs": [{"uri": o.uri, "size": o.size, "function": o.function, "source": o.source}
                        for o in report.outputs],
            "stopped": report.stopped or None, "interrupted": report.interrupted or None, "log_file": str(log_path)}


def refuse_unsupported(local: bool, fresh: bool, s3_api: bool, inputs: list[Path] | None) -> None:
    """What `run` cannot do, said before anything is read or started."""
    if not local:
        raise UsageError("only `avgen run --local` exists for now; on AWS, `avgen apply` then `avgen put` runs the "
                         "workflow")
    if fresh and s3_api:
        raise UsageError("--fresh empties local folders only; with an S3 API, delete objects yourself")
    if not inputs:
        raise UsageError("nothing to run on: give --input FILE (or a folder)")


def script_environment(env: list[str] | None) -> dict[str, str]:
    """--env as the scripts get it: relative paths to what exists made absolute (and said so)."""
    from generator.verbs.localrun import absolute_paths

    given = parse_assignments(env, "--env")
    overrides = absolute_paths(given, Path.cwd())
    for name in given:
        if overrides[name] != given[name]:
            err.print(f"[dim]--env {escape(name)}={escape(overrides[name])}[/]")
    return overrides


def require_tools(workflow, no_tool_check: bool) -> None:
    """Stop before running when the scripts' tools seem missing here (unless --no-tool-check)."""
    from generator.verbs.localrun import check_tools

    missing = check_tools(workflow)
    for tool in missing:
        err.print(f"[bold red]missing:[/] {escape(tool.message)}")
    if missing and not no_tool_check:
        raise CommandFailed("install what is missing, or pass --no-tool-check to try anyway")


def run(
    file: WorkflowArg,
    local: Annotated[bool, typer.Option("--local", help="Run on this machine (the only mode for now).")] = False,
    inputs: Annotated[list[Path] | None, typer.Option(
        "--input", "-i", show_default=False, help="A file or folder to upload and process; repeatable.")] = None,
    bucket: BucketOpt = None,
    store: Annotated[Path | None, typer.Option(
        "--store", show_default=False,
        help="Folder holding the buckets (one subfolder each) \\[default: .avgen/NAME-local next to the workflow].")
    ] = None,
    env: Annotated[list[str] | None, typer.Option(
        "--env", "-e", show_default=False,
        help="Set a variable for every function's script, NAME=VALUE (overrides the workflow's); repeatable. "
             "A VALUE that is a relative path to an existing file or folder is made absolute (the scripts run "
             "in a temporary folder).")
    ] = None,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, show_default=False, help="Invocations at once \\[default: the number of cores].")
    ] = None,
    max_depth: Annotated[int, typer.Option(
        "--max-depth", min=1, help="Stop when a chain of functions gets this long (a runaway loop).")] = 20,
    max_runs: Annotated[int, typer.Option(
        "--max-runs", min=1, help="Stop when one function has run this many times.")] = 1000,
    log_file: Annotated[Path | None, typer.Option(
        "--log-file", show_default=False,
        help="Where the runtime's JSON log lines go \\[default: .avgen/NAME-local-run.jsonl].")] = None,
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Empty the workflow's bucket folders in the local store first (not with an S3 API).")
    ] = False,
    allow_errors: Annotated[bool, typer.Option(
        "--allow-errors", help="Run even if `avgen validate` finds errors (to watch a loop get stopped).")] = False,
    no_tool_check: Annotated[bool, typer.Option(
        "--no-tool-check", help="Do not refuse to start when the scripts' tools seem missing here.")] = False,
    lambda_time_limit: Annotated[bool, typer.Option(
        "--lambda-time-limit/--no-lambda-time-limit",
        help="Give Lambda-side runs the function's timeout, as Lambda would; a lambda-batch function that runs "
             "out of it is handed to a local Batch-side run.")] = True,
    endpoint_url: EndpointOpt = None, region: RegionOpt = None, sandbox: SandboxOpt = False,
    workdir: WorkdirOpt = None, output_format: FormatOpt = Format.text,
):
    """Run the whole workflow on this machine, with the same runtime code as in Lambda and Batch.

    The inputs are uploaded, then every function they trigger runs, then those its outputs trigger, and so on.

    Buckets are folders (STORE/BUCKET/KEY) unless --endpoint-url or --sandbox names an S3 API (missing
    buckets are created there). Batch-mode functions run here too. The runtime's log lines go to
    --log-file; a table of every output closes the run.

    Examples:

      avgen run workflow.yaml --local --input my_video.mp4

      avgen run workflow.yaml --local -i clips/ -e YOLO_WEIGHTS=$HOME/models/yolov3.weights

      avgen run workflow.yaml --local -i video.mp4 --sandbox      # then: avgen ls workflow.yaml --sandbox

    Exit codes: 0 every invocation succeeded, 1 a failure, missing tools or a stopped loop, 64 usage error,
    128+N ended by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP): the scripts running were killed.
    """
    from generator.verbs.localrun import Limits, run_local, run_target
    from generator.verbs.transfer import S3Location, plan_put, start_location

    as_json = use_json(output_format is Format.json)
    use_s3 = bool(sandbox or endpoint_url)
    refuse_unsupported(local, fresh, use_s3, inputs)
    assert inputs  # refused above otherwise
    overrides = script_environment(env)
    workflow = load(file, allow_errors=allow_errors)
    require_tools(workflow, no_tool_check)
    destination = S3Location.parse(bucket) if bucket else start_location(workflow)
    plan = plan_put(inputs, destination).uploads
    limits = Limits(workers=jobs or Limits().workers, containers=jobs or Limits().containers, max_depth=max_depth,
                    max_per_function=max_runs, lambda_time_limit=lambda_time_limit)
    log_path = Path(log_file or local_run_log(file))
    with connection(file, workflow, endpoint_url, region, sandbox, workdir) if use_s3 \
            else contextlib.nullcontext() as conn:
        target = run_target(workflow, [destination.bucket], connection=conn, store=Path(store or local_store(file)),
                            fresh=fresh)
        if target.created_buckets:
            err.print(f"created bucket{'s' * (len(target.created_buckets) != 1)} {', '.join(target.created_buckets)}")
        with RunView(limits.workers) as view:
            report = run_local(workflow, [(item.path, destination.bucket, item.key) for item in plan], target,
                               log_path=log_path, environment=overrides, limits=limits, on_event=view)
    if as_json:
        print_json(run_report_data(report, target.where, log_path))
    else:
        print_run_report(report, target.where)
    out.print(f"[dim]runtime log: {escape(str(log_path))}[/]")
    if report.interrupted:
        raise typer.Exit(exit_status(signal.Signals[report.interrupted]))
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FINDINGS)
