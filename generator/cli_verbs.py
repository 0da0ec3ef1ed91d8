"""The everyday verbs: put / ls / get (files in the buckets), logs / status (the deployed functions) and
run --local (the whole workflow on this machine). Thin: options → generator.transfer / observe / localrun."""
from __future__ import annotations

import contextlib
import json
import re
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Iterator, List, Optional

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn, TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from .cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, app, err, out, print_findings
from .deploy import SANDBOX_STATE, default_workdir
from .findings import Severity, has_errors
from .graph import workflow_results
from .loader import load_workflow
from .model import Workflow
from .observe import LogEvent, LogReader, ObserveError, epoch_ms, parse_since, select_functions, workflow_status
from .sandbox import SandboxError
from .transfer import (
    MiB, Connection, S3Location, TransferError, connect, ensure_buckets, get as get_objects,
    list_buckets, list_objects, plan_get, plan_put, put as put_objects, s3_errors, start_location, transfer_config,
    triggered_by, unique_locations,
)

# --- shared options ---------------------------------------------------------------------------------

BucketOpt = Annotated[Optional[str], typer.Option(
    "--bucket", "-b", metavar="BUCKET[/FOLDER]", show_default=False,
    help="Bucket and folder, as in SCAR: my-bucket/input (s3://my-bucket/input works too).")]
EndpointOpt = Annotated[Optional[str], typer.Option(
    "--endpoint-url", envvar="AVGEN_ENDPOINT_URL", show_default=False,
    help="Another S3-compatible API (MinIO, Ceph, moto): http://localhost:9000. AWS_ENDPOINT_URL works too.")]
RegionOpt = Annotated[Optional[str], typer.Option(
    "--region", show_default=False, help="AWS region \\[default: the workflow's, else your AWS configuration's].")]
SandboxOpt = Annotated[bool, typer.Option(
    "--sandbox", help="Use the loopback AWS emulator of `avgen apply --sandbox` (its state in WORKDIR/sandbox).")]
WorkdirOpt = Annotated[Optional[Path], typer.Option(
    "--workdir", "-w", show_default=False,
    help="With --sandbox: the working folder of `avgen apply --sandbox` \\[default: .avgen/NAME-sandbox next to "
         "the workflow; required without a workflow file].")]
WorkflowOptArg = Annotated[Optional[Path], typer.Argument(
    metavar="WORKFLOW", show_default=False,
    help="Workflow YAML file (optional): its buckets and folders are the defaults.")]
WorkflowArg = Annotated[Path, typer.Argument(metavar="WORKFLOW", help="Workflow YAML file.",
                                             show_default=False)]
ThresholdOpt = Annotated[int, typer.Option(
    "--multipart-threshold", metavar="MiB", min=1, help="Files from this size up go in parallel parts.")]
ChunkOpt = Annotated[int, typer.Option("--multipart-chunk", metavar="MiB", min=5, help="Size of each part.")]
SinceOpt = Annotated[str, typer.Option(
    "--since", "-s", help="How far back: 10m, 2h, 1d, 1h30m, or a time such as 2024-05-01T12:00 (UTC).")]


def fail(message: str, code: int = EXIT_FINDINGS):
    err.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def load(file: Path, *, allow_errors: bool = False) -> Workflow:
    """The workflow, or its errors printed and exit 1."""
    result = load_workflow(file)
    if result.workflow is None or (has_errors(result.findings) and not allow_errors):
        print_findings(str(file), [f for f in result.findings if f.severity is Severity.ERROR], show_info=False)
        fail("the workflow has errors (see `avgen validate`)")
    return result.workflow


def looks_like_workflow(path: Path) -> bool:
    """A YAML file with a top-level `functions:` key (SCAR's format): how `put` tells it from a file to upload."""
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return False
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return re.search(r"^functions\s*:", path.read_text(encoding="utf-8"), re.MULTILINE) is not None
    return False


@contextlib.contextmanager
def connection(file: Optional[Path], workflow: Optional[Workflow], endpoint_url: Optional[str],
               region: Optional[str], sandbox: bool, workdir: Optional[Path]) -> Iterator[Connection]:
    """Connect to AWS, an S3 API, or the sandbox that `avgen apply --sandbox` used; errors → exit 1."""
    if sandbox and endpoint_url:
        fail("--sandbox and --endpoint-url exclude each other", EXIT_USAGE)
    if sandbox and workdir is None and file is None:
        fail("--sandbox needs the workflow file or --workdir (the folder `avgen apply --sandbox` used)", EXIT_USAGE)
    region = region or (workflow.settings.region if workflow else None)
    sandbox_dir = None
    if sandbox:
        sandbox_dir = Path(workdir or default_workdir(file, sandbox=True)) / SANDBOX_STATE
    try:
        with connect(endpoint_url=endpoint_url, region=region, sandbox_dir=sandbox_dir) as conn:
            yield conn
    except SandboxError as exc:
        fail(str(exc))


@contextlib.contextmanager
def reported_errors():
    try:
        yield
    except (TransferError, ObserveError) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        raise typer.Exit(130)


def human_size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def local_time(moment: Optional[datetime]) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


class TransferBars(Progress):
    """Progress bars with sizes and rates: one for the whole transfer, one per file in flight."""

    def __init__(self, verb: str, total_bytes: int, files: int):
        super().__init__(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                         TimeRemainingColumn(), console=err, disable=not err.is_terminal, transient=False)
        self.verb = verb
        self.total = self.add_task(f"{verb} {files} file{'s' * (files != 1)}", total=total_bytes)
        self.tasks_by_key: dict[str, TaskID] = {}

    def __call__(self, event: str, key: str, amount: int) -> None:
        if event == "start":
            self.tasks_by_key[key] = self.add_task(f"  {escape(key)}", total=amount)
        elif event == "bytes":
            self.advance(self.tasks_by_key[key], amount)
            self.advance(self.total, amount)
        elif event == "done":
            self.remove_task(self.tasks_by_key.pop(key))
            if not err.is_terminal:
                err.print(f"{self.verb}: {key}", markup=False, highlight=False)


# --- put / ls / get ---------------------------------------------------------------------------------


@app.command(no_args_is_help=True)
def put(
    args: Annotated[Optional[List[Path]], typer.Argument(
        metavar="[WORKFLOW] PATH...", show_default=False,
        help="Files or folders to upload, after an optional workflow file.")] = None,
    bucket: BucketOpt = None,
    path: Annotated[Optional[List[Path]], typer.Option(
        "--path", "-p", show_default=False, help="A file or folder to upload (SCAR's option); repeatable.")] = None,
    endpoint_url: EndpointOpt = None, region: RegionOpt = None, sandbox: SandboxOpt = False,
    workdir: WorkdirOpt = None, multipart_threshold: ThresholdOpt = 8, multipart_chunk: ChunkOpt = 8,
):
    """Upload files or folders to a bucket folder; with a workflow, say which functions they start.

    A file goes to FOLDER/NAME; a folder's files keep their paths relative to it (FOLDER/sub/NAME).
    Files of 8 MiB and more go up in parallel parts. Without -b, the workflow's start folder is used.

    Examples:

      avgen put workflow.yaml my_video.mp4              # to the folder that starts the workflow

      avgen put clips/ -b my-bucket/input               # every file under clips/, subfolders kept

      avgen put -b my-bucket/input -p video.mp4 --endpoint-url http://localhost:9000   # MinIO

      avgen put workflow.yaml video.mp4 --sandbox       # into the sandbox of `avgen apply --sandbox`

    Exit codes: 0 uploaded, 1 failed (what was uploaded before the failure is listed), 2 usage error.
    """
    sources = list(args or [])
    file = sources.pop(0) if sources and (len(sources) > 1 or path or not bucket) and looks_like_workflow(
        sources[0]) else None
    sources += list(path or [])
    if not sources:
        fail("nothing to upload: name files or folders (or -p PATH)", EXIT_USAGE)
    workflow = load(file) if file else None
    with reported_errors():
        if bucket:
            destination = S3Location.parse(bucket)
        elif workflow:
            destination = start_location(workflow)
        else:
            fail("where to? give -b BUCKET/FOLDER, or the workflow file first", EXIT_USAGE)
        plan = plan_put(sources, destination)
        total = sum(item.size for item in plan)
        with connection(file, workflow, endpoint_url, region, sandbox, workdir) as conn:
            began = time.monotonic()
            with TransferBars("uploading", total, len(plan)) as bars:
                keys = put_objects(conn.s3(), destination.bucket, plan, progress=bars,
                                   config=transfer_config(multipart_threshold * MiB, multipart_chunk * MiB))
    seconds = time.monotonic() - began
    out.print(f"uploaded {len(keys)} file{'s' * (len(keys) != 1)} ({human_size(total)}) to "
              f"{escape(str(destination))} in {seconds:.1f} s")
    for key in keys if len(keys) <= 20 else keys[:20]:
        out.print(f"  s3://{escape(destination.bucket)}/{escape(key)}")
    if len(keys) > 20:
        out.print(f"  … and {len(keys) - 20} more")
    if workflow:
        hits = triggered_by(workflow, destination.bucket, keys)
        for name, hit in hits.items():
            out.print(f"[green]→ starts {escape(name)}[/] for {len(hit)} file{'s' * (len(hit) != 1)}")
        if not hits:
            out.print("[yellow]no function of the workflow is triggered by these keys[/]")


def print_listing(entries, title: str, with_sizes: bool = True) -> None:
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    table.add_column("modified" if with_sizes else "created")
    if with_sizes:
        table.add_column("size", justify="right")
    table.add_column(title)
    for entry in entries:
        cells = [local_time(entry.last_modified)] + ([human_size(entry.size)] if with_sizes else [])
        table.add_row(*cells, escape(entry.key))
    out.print(table)


@app.command()
def ls(
    file: WorkflowOptArg = None, bucket: BucketOpt = None,
    endpoint_url: EndpointOpt = None, region: RegionOpt = None, sandbox: SandboxOpt = False,
    workdir: WorkdirOpt = None,
):
    """List objects with their sizes and times: a bucket folder (-b), or every bucket of a workflow.

    With neither, your buckets are listed.

    Examples:

      avgen ls -b my-bucket/output

      avgen ls workflow.yaml --sandbox

    Exit codes: 0 listed (also when empty), 1 failed, 2 usage error.
    """
    workflow = load(file) if file else None
    with reported_errors(), connection(file, workflow, endpoint_url, region, sandbox, workdir) as conn:
        client = conn.s3()
        if bucket or workflow:
            locations = [S3Location.parse(bucket)] if bucket else [S3Location(b.name) for b in workflow.buckets]
            for location in locations:
                entries = list_objects(client, location)
                total = sum(e.size for e in entries)
                print_listing(entries, f"key in s3://{location.bucket}")
                out.print(f"[dim]{len(entries)} object{'s' * (len(entries) != 1)}, {human_size(total)} under "
                          f"{escape(str(location))}[/]")
        else:
            print_listing(list_buckets(client), "bucket", with_sizes=False)


@app.command()
def get(
    file: WorkflowOptArg = None, bucket: BucketOpt = None,
    path: Annotated[Path, typer.Option(
        "--path", "-p", help="Local folder: each object is written to PATH/<key> (SCAR's layout).")] = Path("."),
    endpoint_url: EndpointOpt = None, region: RegionOpt = None, sandbox: SandboxOpt = False,
    workdir: WorkdirOpt = None, multipart_threshold: ThresholdOpt = 8, multipart_chunk: ChunkOpt = 8,
):
    """Download every object under a bucket folder (-b), or a workflow's results, to PATH/<key>.

    Without -b, the workflow's result folders are fetched (outputs no function reads, such as result/).
    Folder markers and keys that would land outside PATH (`..`) are skipped with a warning.

    Examples:

      avgen get workflow.yaml -p results/                # result/my_video.avi → results/result/my_video.avi

      avgen get -b my-bucket/output -p .

    Exit codes: 0 downloaded (also when nothing matched), 1 failed, 2 usage error.
    """
    workflow = load(file) if file else None
    if not (bucket or workflow):
        fail("what to get? give -b BUCKET/FOLDER, or the workflow file", EXIT_USAGE)
    locations = [S3Location.parse(bucket)] if bucket else unique_locations([o for _, o in workflow_results(workflow) if o.is_s3])
    with reported_errors(), connection(file, workflow, endpoint_url, region, sandbox, workdir) as conn:
        client = conn.s3()
        config = transfer_config(multipart_threshold * MiB, multipart_chunk * MiB)
        for location in locations:
            plan = plan_get(list_objects(client, location), path)
            for key, why in plan.skipped:
                err.print(f"[yellow]skipped[/] s3://{escape(location.bucket)}/{escape(key)}: {escape(why)}")
            began = time.monotonic()
            with TransferBars("downloading", plan.total_bytes, len(plan.downloads)) as bars:
                written = get_objects(client, location.bucket, plan, progress=bars, config=config)
            out.print(f"downloaded {len(written)} file{'s' * (len(written) != 1)} ({human_size(plan.total_bytes)}) "
                      f"from {escape(str(location))} to {escape(str(path))} in {time.monotonic() - began:.1f} s")


# --- logs / status ----------------------------------------------------------------------------------

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


@app.command()
def logs(
    file: WorkflowArg,
    function: Annotated[Optional[str], typer.Argument(
        metavar="FUNCTION", show_default=False,
        help="One function (its name in the workflow) \\[default: all].")] = None,
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

    Exit codes: 0 shown (also when there is nothing), 1 AWS could not be read, 2 usage error.
    """
    workflow = load(file)
    try:
        start = epoch_ms(parse_since(since))
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    with reported_errors(), connection(file, workflow, endpoint_url, region, sandbox, workdir) as conn:
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
            raise typer.Exit(EXIT_OK)
        for note in reader.notes:
            err.print(f"[yellow]note:[/] {escape(note)}")
        if not shown:
            err.print(f"no log lines (since: {since})")


@app.command()
def status(
    file: WorkflowArg, since: SinceOpt = "24h",
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
    endpoint_url: EndpointOpt = None, region: RegionOpt = None, sandbox: SandboxOpt = False,
    workdir: WorkdirOpt = None,
):
    """Per function: deployed or not, invocations and errors, the last error, and Batch jobs by state.

    Invocations and errors come from CloudWatch metrics (else from the runtime's log lines).

    Examples:

      avgen status workflow.yaml

      avgen status workflow.yaml --since 7d --json

    Exit codes: 0 every function deployed and no errors or failed jobs in the window, 1 otherwise.
    """
    workflow = load(file)
    try:
        start = parse_since(since)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    with reported_errors(), connection(file, workflow, endpoint_url, region, sandbox, workdir) as conn:
        report = workflow_status(conn, workflow, start)
    if as_json:
        print(json.dumps([{**vars(s), "last_run": s.last_run.isoformat() if s.last_run else None}
                          for s in report], indent=2))
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


# --- run --local ------------------------------------------------------------------------------------


class RunView:
    """The live view of a local run: what each worker is doing, and counters."""

    def __init__(self, workers: int):
        self.workers = workers
        self.running: dict[int, tuple[str, str, float]] = {}
        self.done = self.failed = self.queued = 0
        self.live = Live(get_renderable=self.render, console=err, refresh_per_second=4, transient=True) \
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


def parse_env(items: Optional[List[str]]) -> dict[str, str]:
    env = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            fail(f"--env {item!r}: write NAME=VALUE", EXIT_USAGE)
        env[name] = value
    return env


def print_run_report(report, where: str) -> None:
    if report.outputs:
        buckets = sorted({o.bucket for o in report.outputs})
        single = buckets[0] if len(buckets) == 1 else None
        short = (lambda uri: uri[len(f"s3://{single}/"):] if uri.startswith(f"s3://{single}/") else uri) \
            if single else (lambda uri: uri)
        table = Table(box=None, pad_edge=False, header_style="bold", title_justify="left",
                      title=f"outputs in s3://{single} ({where})" if single else f"outputs ({where})")
        table.add_column("key", overflow="fold")
        table.add_column("size", justify="right", no_wrap=True)
        table.add_column("made by", overflow="fold")
        table.add_column("from", overflow="fold")
        for o in sorted(report.outputs, key=lambda o: (o.bucket, o.key)):
            table.add_row(escape(short(o.uri)), human_size(o.size), escape(o.function), escape(short(o.source)))
        out.print(table)
    for failure in report.failures:
        out.print(f"[bold red]{escape(failure.status)}[/]: {escape(failure.function)} on {escape(failure.source)}: "
                  f"{escape(failure.reason)}")
        if failure.output_tail.strip():
            out.print(Text("    " + failure.output_tail.strip()[-1500:].replace("\n", "\n    "), style="dim"))
    runs = len([i for i in report.invocations if i.status != "cancelled"])
    verdict = "[green]ok[/]" if report.ok else "[bold red]failed[/]"
    out.print(f"{verdict}: {runs} invocation{'s' * (runs != 1)}, {len(report.outputs)} output"
              f"{'s' * (len(report.outputs) != 1)}, {len(report.failures)} failed, in {report.seconds:.1f} s")
    if report.unchanged:
        out.print(f"[yellow]{len(report.unchanged)} output{'s' * (len(report.unchanged) != 1)} already held the same "
                  "content, so were not written again and triggered nothing[/] (as on AWS); --fresh starts from "
                  "empty buckets")
    if report.stopped:
        out.print(f"[bold red]{escape(report.stopped)}[/]")


@app.command()
def run(
    file: WorkflowArg,
    local: Annotated[bool, typer.Option("--local", help="Run on this machine (the only mode for now).")] = False,
    inputs: Annotated[Optional[List[Path]], typer.Option(
        "--input", "-i", show_default=False, help="A file or folder to upload and process; repeatable.")] = None,
    bucket: BucketOpt = None,
    store: Annotated[Optional[Path], typer.Option(
        "--store", show_default=False,
        help="Folder holding the buckets (one subfolder each) \\[default: .avgen/NAME-local next to the workflow].")
    ] = None,
    env: Annotated[Optional[List[str]], typer.Option(
        "--env", "-e", show_default=False,
        help="Set a variable for every function's script, NAME=VALUE (overrides the workflow's); repeatable.")
    ] = None,
    jobs: Annotated[Optional[int], typer.Option(
        "--jobs", "-j", min=1, show_default=False, help="Invocations at once \\[default: the number of cores].")
    ] = None,
    max_depth: Annotated[int, typer.Option(
        "--max-depth", min=1, help="Stop when a chain of functions gets this long (a runaway loop).")] = 20,
    max_runs: Annotated[int, typer.Option(
        "--max-runs", min=1, help="Stop when one function has run this many times.")] = 1000,
    log_file: Annotated[Optional[Path], typer.Option(
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
    workdir: WorkdirOpt = None,
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

    Exit codes: 0 every invocation succeeded, 1 a failure, missing tools or a stopped loop, 2 usage error.
    """
    from lambda_src.storage import DirectoryStorage, S3Storage

    from .localrun import LocalRunner, Limits, check_tools, local_store

    if not local:
        fail("only `avgen run --local` exists for now; on AWS, `avgen apply` then `avgen put` runs the workflow",
             EXIT_USAGE)
    if fresh and (sandbox or endpoint_url):
        fail("--fresh empties local folders only; with an S3 API, delete objects yourself", EXIT_USAGE)
    if not inputs:
        fail("nothing to run on: give --input FILE (or a folder)", EXIT_USAGE)
    overrides = parse_env(env)
    workflow = load(file, allow_errors=allow_errors)
    missing = check_tools(workflow)
    for tool in missing:
        err.print(f"[bold red]missing:[/] {escape(tool.message)}")
    if missing and not no_tool_check:
        fail("install what is missing, or pass --no-tool-check to try anyway")
    with reported_errors():
        destination = S3Location.parse(bucket) if bucket else start_location(workflow)
        plan = plan_put(inputs, destination)
        use_s3 = sandbox or endpoint_url
        with connection(file, workflow, endpoint_url, region, sandbox, workdir) if use_s3 \
                else contextlib.nullcontext() as conn:
            if use_s3:
                client = conn.s3()
                created = ensure_buckets(client, sorted({b.name for b in workflow.buckets} | {destination.bucket}))
                if created:
                    err.print(f"created bucket{'s' * (len(created) != 1)} {', '.join(created)}")
                storage, where = S3Storage(client, transfer_config=transfer_config()), conn.endpoint_url or "S3"
            else:
                root = Path(store or local_store(file))
                if fresh:
                    for name in sorted({b.name for b in workflow.buckets} | {destination.bucket}):
                        shutil.rmtree(root / name, ignore_errors=True)
                storage, where = DirectoryStorage(root), str(root)
            log_path = Path(log_file or local_store(file).with_name(local_store(file).name + "-run.jsonl"))
            log_path.parent.mkdir(parents=True, exist_ok=True)
            limits = Limits(workers=jobs or Limits().workers, max_depth=max_depth, max_per_function=max_runs,
                            lambda_time_limit=lambda_time_limit)
            with open(log_path, "a", encoding="utf-8") as log_stream, RunView(limits.workers) as view:
                runner = LocalRunner(workflow, storage, environment=overrides, limits=limits, on_event=view,
                                     log_stream=log_stream)
                # storing the inputs is the one S3 call outside the runtime (which reports its own problems)
                with s3_errors(destination.bucket, action="write to") if use_s3 else contextlib.nullcontext():
                    report = runner.run([(item.path, destination.bucket, item.key) for item in plan])
    print_run_report(report, where)
    out.print(f"[dim]runtime log: {escape(str(log_path))}[/]")
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FINDINGS)
