"""put, ls, get: files in the workflow's buckets, with SCAR's `-b bucket/folder -p path` addressing."""
from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from generator.cli.console import (
    EXIT_FINDINGS,
    err,
    human_size,
    load,
    local_time,
    out,
    plural,
    print_json,
    use_json,
)
from generator.cli.options import (
    BucketOpt,
    ChunkOpt,
    EndpointOpt,
    Format,
    FormatOpt,
    RegionOpt,
    SandboxOpt,
    ThresholdOpt,
    WorkdirOpt,
    WorkflowOptArg,
    connection,
)
from generator.errors import AvgenError, CommandFailed, UsageError
from generator.workflow.graph import workflow_results


def looks_like_workflow(path: Path) -> bool:
    """A YAML file with a top-level `functions:` key (SCAR's format): how `put` tells it from a file to upload."""
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return False
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return re.search(r"^functions\s*:", path.read_text(encoding="utf-8"), re.MULTILINE) is not None
    return False


class TransferBars(Progress):
    """Progress bars with sizes and rates: one for the whole transfer, one per file in flight."""

    def __init__(self, verb: str, total_bytes: int, files: int):
        super().__init__(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                         TimeRemainingColumn(), console=err.rich, disable=not err.is_terminal, transient=False)
        self.verb = verb
        self.total = self.add_task(f"{verb} {files} file{'s' * (files != 1)}", total=total_bytes)
        self.tasks_by_key: dict[str, TaskID] = {}

    def __call__(self, event: str, key: str, amount: int) -> None:
        if event == "start":
            self.tasks_by_key[key] = self.add_task(f"  {escape(key)}", total=amount)
        elif event == "bytes":
            self.advance(self.tasks_by_key[key], amount)
            self.advance(self.total, amount)
        elif event == "failed":
            self.remove_task(self.tasks_by_key.pop(key))
        elif event == "done":
            self.remove_task(self.tasks_by_key.pop(key))
            if not err.is_terminal:
                err.print(f"{self.verb}: {key}", markup=False, highlight=False)


def put_arguments(args: list[Path] | None, path: list[Path] | None, bucket: str | None):
    """`put`'s leading workflow files (several make one workflow) and what to upload; with -b and one
    argument, that argument is what to upload."""
    sources = list(args or [])
    files: list[Path] = []
    while sources and (len(sources) > 1 or path or not bucket) and looks_like_workflow(sources[0]):
        files.append(sources.pop(0))
    sources += list(path or [])
    if not sources:
        raise UsageError("nothing to upload: name files or folders (or -p PATH)")
    return files or None, sources


def put(
    args: Annotated[list[Path] | None, typer.Argument(
        metavar="[WORKFLOW...] PATH...", show_default=False,
        help="Files or folders to upload, after optional workflow files (.yaml/.yml; several make one "
        "workflow).")] = None,
    bucket: BucketOpt = None,
    path: Annotated[list[Path] | None, typer.Option(
        "--path", "-p", show_default=False, help="A file or folder to upload (SCAR's option); repeatable.")] = None,
    endpoint_url: EndpointOpt = None, region: RegionOpt = None, sandbox: SandboxOpt = False,
    workdir: WorkdirOpt = None, multipart_threshold: ThresholdOpt = 8, multipart_chunk: ChunkOpt = 8,
    wait: Annotated[bool, typer.Option(
        "--wait/--no-wait", help="With --sandbox: wait until the workflow the upload started has finished, "
        "showing each invocation and job (exit 1 if one failed).")] = True,
    follow_symlinks: Annotated[bool, typer.Option(
        "--follow-symlinks", help="Upload what symlinks inside the folders point to (skipped otherwise).")] = False,
    output_format: FormatOpt = Format.text,
):
    """Upload files or folders to a bucket folder; with a workflow, say which functions they start.

    In the sandbox the upload really starts them: the deployed functions and Batch jobs run here, and avgen
    waits until the workflow is done (--no-wait leaves them running where `avgen sandbox up` serves).

    A file goes to FOLDER/NAME; a folder's files keep their paths relative to it (FOLDER/sub/NAME).
    Symlinks inside a folder (to files or folders) are skipped and listed unless --follow-symlinks.
    Files of 8 MiB and more go up in parallel parts. Without -b, the workflow's start folder is used.

    Examples:

      avgen put workflow.yaml my_video.mp4              # to the folder that starts the workflow

      avgen put clips/ -b my-bucket/input               # every file under clips/, subfolders kept

      avgen put -b my-bucket/input -p video.mp4 --endpoint-url http://localhost:9000   # MinIO

      avgen put workflow.yaml video.mp4 --sandbox       # into the sandbox of `avgen apply --sandbox`

    Exit codes: 0 uploaded, 1 failed (what was uploaded before the failure is listed), 64 usage error.
    """

    from generator.verbs.transfer import (
        MiB,
        S3Location,
        plan_put,
        start_location,
        transfer_config,
        triggered_by,
    )
    from generator.verbs.transfer import (
        put as put_objects,
    )

    as_json = use_json(output_format is Format.json)
    file, sources = put_arguments(args, path, bucket)
    workflow = load(file) if file else None
    if bucket:
        destination = S3Location.parse(bucket)
    elif workflow:
        destination = start_location(workflow)
    else:
        raise UsageError("where to? give -b BUCKET/FOLDER, or the workflow file first")
    put_plan = plan_put(sources, destination, follow_symlinks=follow_symlinks)
    for skipped_path, why in put_plan.skipped:
        err.print(f"[yellow]skipped[/] {escape(str(skipped_path))}: {escape(why)}")
    total = sum(item.size for item in put_plan.uploads)
    with connection(file, workflow, endpoint_url, region, sandbox, workdir, run_workflows=sandbox) as conn:
        # a sandbox kept up by `avgen sandbox up` lists what earlier commands started too: not this one's
        before = conn.sandbox.activity() if sandbox else None
        began = time.monotonic()
        with TransferBars("uploading", total, len(put_plan.uploads)) as bars:
            keys = put_objects(conn.s3(), destination.bucket, put_plan.uploads, progress=bars,
                               config=transfer_config(multipart_threshold * MiB, multipart_chunk * MiB))
        hits = triggered_by(workflow, destination.bucket, keys) if workflow else {}
        result = {"bucket": destination.bucket, "uploaded": keys, "bytes": total,
                  "skipped": [{"path": str(p), "why": why} for p, why in put_plan.skipped],
                  "starts": {name: len(hit) for name, hit in hits.items()}, "activities": None}
        if as_json:
            print_json(result)  # printed when the command ends, with the activities waited for below
        else:
            print_uploaded(keys, total, destination, time.monotonic() - began, hits if workflow else None)
        if sandbox:
            follow_sandbox(conn.sandbox, wait, before, began, result)


def follow_sandbox(sandbox, wait: bool, before: dict | None, began: float, result: dict) -> None:
    """In the sandbox, wait (unless --no-wait where a sandbox is kept up) for the workflow the upload started;
    its activities join `result`, and a failure of one is the command's (exit 1)."""
    if not wait and not sandbox.attached:
        err.print("[yellow]note:[/] --no-wait needs a sandbox kept running by `avgen sandbox up`; this "
                  "command's sandbox stops with it, so it waits for the workflow")
    if wait or not sandbox.attached:
        try:
            report = sandbox.wait_until_quiet(WorkflowProgress(), since=before)
        except KeyboardInterrupt as exc:
            print_cut_short(sandbox, before)
            exc.explained = True  # type: ignore[attr-defined]  # console.py: no generic "finished cleanly"
            raise
        result["activities"] = report["activities"]
        print_workflow_run(report, began)
        if failed_activities(report):  # the upload's result: the workflow it started failed
            raise typer.Exit(EXIT_FINDINGS)


def print_cut_short(sandbox, before: dict | None) -> None:
    """Ctrl-C while the workflow ran: what was still under way, and where it goes on. A kept-up sandbox goes
    on running it; this command's own sandbox stops with it, and the next start delivers the invocations
    again and runs the jobs again (Lambda's at-least-once, docs/deploy.md)."""
    try:
        busy = [a for a in sandbox.activity(before)["activities"] if a["state"] in ("queued", "running")]
    except AvgenError:
        busy = []
    names = ", ".join(sorted({a["function"] for a in busy})) or "nothing"
    if sandbox.attached:
        err.print(f"[yellow]interrupted[/]: the upload is done; still under way: {escape(names)}. They go on in "
                  "the sandbox kept up: `avgen status --sandbox` follows them")
    else:
        err.print(f"[yellow]interrupted[/]: the upload is done; cut short: {escape(names)}. The sandbox delivers "
                  "them again when it next starts (`avgen sandbox up`, or the next command with --sandbox that "
                  "runs workflows)")


def print_uploaded(keys: list[str], total: int, destination, seconds: float, hits: dict | None) -> None:
    """What `put` uploaded to `destination` (an S3Location), and (`hits`, with a workflow) which functions the
    keys start."""
    out.print(f"uploaded {len(keys)} file{'s' * (len(keys) != 1)} ({human_size(total)}) to "
              f"{escape(str(destination))} in {seconds:.1f} s")
    for key in keys[:20]:
        out.print(f"  s3://{escape(destination.bucket)}/{escape(key)}")
    if len(keys) > 20:
        out.print(f"  … and {len(keys) - 20} more")
    if hits is None:
        return
    for name, hit in hits.items():
        out.print(f"[green]→ starts {escape(name)}[/] for {plural(len(hit), 'file')}")
    if not hits:
        out.print("[yellow]no function of the workflow is triggered by these keys[/]")


def print_workflow_run(report: dict, began: float) -> None:
    """What the sandbox's executor ran for the upload: counts, failures, where it ran, outputs not rewritten."""
    failed = failed_activities(report)
    lambdas = sum(a["kind"] == "lambda" for a in report["activities"])
    jobs = len(report["activities"]) - lambdas
    out.print(f"{'[bold red]failed[/]' if failed else '[green]workflow done[/]'}: {plural(lambdas, 'invocation')}, "
              f"{plural(jobs, 'Batch job')}, {len(failed)} failed, in {time.monotonic() - began:.1f} s")
    for activity in failed:
        out.print(f"[bold red]{escape(activity['state'])}[/]: {escape(activity['function'])} on "
                  f"{escape(activity['source'])}: {escape(activity['reason'][-1500:])}")
    in_images = sum(bool(a.get("image")) for a in report["activities"])
    if report["activities"]:
        out.print(f"[dim]ran in the functions' images (`avgen build --local`): {in_images} of "
                  f"{len(report['activities'])}; the rest in-process, from the build contexts[/]" if in_images else
                  "[dim]ran in-process, from the build contexts (`avgen build --local` makes the images the "
                  "sandbox then runs)[/]")
    for note in sorted({a.get("note", "") for a in report["activities"]} - {""}):
        count = sum(a.get("note") == note for a in report["activities"])
        out.print(f"[bold yellow]{escape(note)}[/] ({plural(count, 'run')})")
    unchanged = report.get("unchanged") or []  # absent from a sandbox started by an older avgen
    if unchanged:
        targets = [u["target"] for u in unchanged]
        shown = ", ".join(targets[:3]) + (f", … ({len(targets) - 3} more)" if len(targets) > 3 else "")
        out.print(f"[yellow]{plural(len(targets), 'output')} already held the same content, so were not written "
                  f"again and started no function downstream[/] (as on AWS): {escape(shown)}. To run the workflow "
                  "again on the same input, delete them first (docs/everyday.md, \"Running again on the same "
                  "input\")")
    if failed:
        out.print("[dim]details: avgen logs WORKFLOW --sandbox; avgen status WORKFLOW --sandbox[/]")


def failed_activities(report: dict) -> list[dict]:
    return [a for a in report["activities"] if a["state"] not in ("succeeded", "queued", "running")]


class WorkflowProgress:
    """The sandbox's executor as lines: each invocation or job when it starts and when it ends."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, state: dict) -> None:
        for activity in state["activities"]:
            before = self.seen.get(activity["id"])
            now = activity["state"]
            if before == now or now == "queued":
                continue
            self.seen[activity["id"]] = now
            kind = "job" if activity["kind"] == "batch" else "λ"
            if now == "running":
                err.print(f"[cyan]→ {kind} {escape(activity['function'])}[/]  {escape(activity['source'])}")
            else:
                mark = "[green]✓[/]" if now == "succeeded" else f"[bold red]✗ {now}[/]"
                err.print(f"{mark} {kind} {escape(activity['function'])}  {escape(activity['source'])}  "
                          f"{activity['seconds']:.1f} s")


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


def ls(
    file: WorkflowOptArg = None, bucket: BucketOpt = None,
    endpoint_url: EndpointOpt = None, region: RegionOpt = None, sandbox: SandboxOpt = False,
    workdir: WorkdirOpt = None, output_format: FormatOpt = Format.text,
):
    """List objects with their sizes and times: a bucket folder (-b), or every bucket of a workflow.

    With neither, your buckets are listed.

    Examples:

      avgen ls -b my-bucket/output

      avgen ls workflow.yaml --sandbox

    Exit codes: 0 listed (also when empty), 1 failed, 64 usage error.
    """
    from generator.verbs.transfer import S3Location, list_buckets, list_objects

    as_json = use_json(output_format is Format.json)
    workflow = load(file) if file else None
    with connection(file, workflow, endpoint_url, region, sandbox, workdir) as conn:
        client = conn.s3()
        if bucket or workflow:
            locations = ([S3Location.parse(bucket)] if bucket
                         else [S3Location(b.name) for b in workflow.buckets] if workflow else [])
            found = [(location, list_objects(client, location)) for location in locations]
            if as_json:
                print_json({"objects": [{"bucket": location.bucket, "key": e.key, "size": e.size,
                                         "last_modified": e.last_modified} for location, entries in found
                                        for e in entries]})
                return
            for location, entries in found:
                total = sum(e.size for e in entries)
                print_listing(entries, f"key in s3://{location.bucket}")
                out.print(f"[dim]{len(entries)} object{'s' * (len(entries) != 1)}, {human_size(total)} under "
                          f"{escape(str(location))}[/]")
        elif as_json:
            print_json({"buckets": [{"name": e.key, "created": e.last_modified} for e in list_buckets(client)]})
        else:
            print_listing(list_buckets(client), "bucket", with_sizes=False)


def get(
    file: WorkflowOptArg = None, bucket: BucketOpt = None,
    path: Annotated[Path, typer.Option(
        "--path", "-p", help="Local folder: each object is written to PATH/<key> (SCAR's layout).")] = Path("."),
    endpoint_url: EndpointOpt = None, region: RegionOpt = None, sandbox: SandboxOpt = False,
    workdir: WorkdirOpt = None, multipart_threshold: ThresholdOpt = 8, multipart_chunk: ChunkOpt = 8,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace local files that differ from the objects (kept otherwise).")] = False,
    output_format: FormatOpt = Format.text,
):
    """Download every object under a bucket folder (-b), or a workflow's results, to PATH/<key>.

    Without -b, the workflow's result folders are fetched (outputs no function reads, such as result/).
    Folder markers and keys that would land outside PATH (`..`) are skipped with a warning, and so are
    local files identical to their object. Nothing is written through a symlink, over a different local file
    (unless --overwrite), where two keys collide (`a` and `a/b`), or for a key that cannot be a local file name
    (`in/.`, `in//a`, a part over 255 bytes): each such key is listed with why, the others go on.

    Examples:

      avgen get workflow.yaml -p results/                # result/my_video.avi → results/result/my_video.avi

      avgen get -b my-bucket/output -p .

    Exit codes: 0 downloaded (also when nothing matched), 1 failed or some keys not written, 64 usage error.
    """
    from generator.verbs.transfer import (
        MiB,
        S3Location,
        list_objects,
        plan_get,
        transfer_config,
        unique_locations,
    )

    as_json = use_json(output_format is Format.json)
    workflow = load(file) if file else None
    if not (bucket or workflow):
        raise UsageError("what to get? give -b BUCKET/FOLDER, or the workflow file")
    locations = ([S3Location.parse(bucket)] if bucket
                 else unique_locations([o for _, o in workflow_results(workflow) if o.is_s3]) if workflow else [])
    result: dict[str, list] = {"downloaded": [], "skipped": [], "not_written": []}
    if as_json:
        print_json(result)  # printed when the command ends, filled in by each location's download
    with connection(file, workflow, endpoint_url, region, sandbox, workdir) as conn:
        client = conn.s3()
        config = transfer_config(multipart_threshold * MiB, multipart_chunk * MiB)
        for location in locations:
            plan = plan_get(list_objects(client, location), path, overwrite=overwrite, chunk=multipart_chunk * MiB)
            download(client, location, plan, path, config, result)
    if result["not_written"]:
        raise CommandFailed(f"{plural(len(result['not_written']), 'object')} not written (listed above)")


def download(client, location, plan, path: Path, config, result: dict[str, list]) -> None:
    """One bucket folder's objects as `plan` says (each skipped or unwritable key said why), added to `result`."""
    from generator.verbs.transfer import get as get_objects

    for key, why in plan.skipped:
        err.print(f"[yellow]skipped[/] s3://{escape(location.bucket)}/{escape(key)}: {escape(why)}")
    began = time.monotonic()
    with TransferBars("downloading", plan.total_bytes, len(plan.downloads)) as bars:
        written = set(get_objects(client, location.bucket, plan, progress=bars, config=config))
    for key, why in plan.problems:
        err.print(f"[bold red]not written[/] s3://{escape(location.bucket)}/{escape(key)}: {escape(why)}")
    downloads = [d for d in plan.downloads if d.path in written]
    result["downloaded"] += [{"bucket": location.bucket, "key": d.key, "path": str(d.path), "size": d.size}
                             for d in downloads]
    result["skipped"] += [{"bucket": location.bucket, "key": k, "why": w} for k, w in plan.skipped]
    result["not_written"] += [{"bucket": location.bucket, "key": k, "why": w} for k, w in plan.problems]
    out.print(f"downloaded {plural(len(written), 'file')} ({human_size(sum(d.size for d in downloads))}) "
              f"from {escape(str(location))} to {escape(str(path))} in {time.monotonic() - began:.1f} s")
