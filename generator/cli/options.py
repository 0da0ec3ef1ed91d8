"""Every option that several commands share, written once, and what they resolve to."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from generator.errors import UsageError
from generator.workdirs import WorkflowFiles as FilesOfAWorkflow
from generator.workdirs import default_workdir, sandbox_dir
from generator.workflow.model import Workflow

WorkflowArg = Annotated[list[Path], typer.Argument(
    metavar="WORKFLOW...", show_default=False,
    help="Workflow YAML file, or several files that make one workflow (SCAR 3.x: one function per file).")]
WorkflowOptArg = Annotated[list[Path] | None, typer.Argument(
    metavar="[WORKFLOW...]", show_default=False,
    help="Workflow YAML file(s) (optional): its buckets and folders are the defaults.")]
WorkflowFiles = Annotated[list[Path], typer.Argument(
    metavar="WORKFLOW...", show_default=False,
    help="Workflow YAML files (SCAR's format, plus an optional `avgen:` section).")]

WorkdirOpt = Annotated[Path | None, typer.Option(
    "--workdir", "-w", metavar="DIR", show_default=False,
    help="Folder of the generated Terraform and its state (with --sandbox: also the emulator's state) "
         "\\[default: .avgen/NAME next to the workflow; .avgen/NAME-sandbox with --sandbox].")]
SandboxOpt = Annotated[bool, typer.Option(
    "--sandbox", help="Use the embedded AWS emulator on loopback instead of an AWS account: no account, no "
    "cost; its state is kept in the working folder.")]
VarOpt = Annotated[list[str] | None, typer.Option(
    "--var", metavar="NAME=VALUE", show_default=False,
    help="Set a Terraform variable (as terraform -var); repeatable.")]
VarFileOpt = Annotated[list[Path] | None, typer.Option(
    "--var-file", metavar="FILE", show_default=False,
    help="Terraform variables file (as terraform -var-file); repeatable.")]
BackendConfigOpt = Annotated[list[str] | None, typer.Option(
    "--backend-config", metavar="KEY=VALUE|FILE", show_default=False,
    help="Backend setting (as terraform init -backend-config); repeatable.")]
PluginDirOpt = Annotated[Path | None, typer.Option(
    "--plugin-dir", metavar="DIR", envvar="AVGEN_PLUGIN_DIR", show_default=False,
    help="Install providers from this folder only (terraform init -plugin-dir), for machines without access "
         "to the Terraform registry.")]
TerraformBinOpt = Annotated[str, typer.Option(
    "--terraform-bin", metavar="PATH", envvar="AVGEN_TERRAFORM_BIN", help="The terraform executable to run.")]
AutoApproveOpt = Annotated[bool, typer.Option("--auto-approve", help="Do not ask for confirmation (pipelines).")]
class Format(str, Enum):
    text = "text"
    json = "json"


FormatOpt = Annotated[Format, typer.Option(
    "--format", help="text for people, json for tools (stable shapes with a \"version\" field: docs/everyday.md).")]
JsonOpt = Annotated[bool, typer.Option("--json", hidden=True, help="The same as --format json (older spelling).")]

BucketOpt = Annotated[str | None, typer.Option(
    "--bucket", "-b", metavar="BUCKET[/FOLDER]", show_default=False,
    help="Bucket and folder, as in SCAR: my-bucket/input (s3://my-bucket/input works too).")]
EndpointOpt = Annotated[str | None, typer.Option(
    "--endpoint-url", metavar="URL", envvar="AVGEN_ENDPOINT_URL", show_default=False,
    help="Another S3-compatible API (MinIO, Ceph, moto): http://localhost:9000. AWS_ENDPOINT_URL works too.")]
RegionOpt = Annotated[str | None, typer.Option(
    "--region", metavar="REGION", show_default=False,
    help="AWS region \\[default: the workflow's, else your AWS configuration's].")]
ThresholdOpt = Annotated[int, typer.Option(
    "--multipart-threshold", metavar="MiB", min=1, help="Files from this size up go in parallel parts.")]
ChunkOpt = Annotated[int, typer.Option("--multipart-chunk", metavar="MiB", min=5, help="Size of each part.")]
SinceOpt = Annotated[str, typer.Option(
    "--since", "-s", metavar="AGE|TIME",
    help="How far back: 10m, 2h, 1d, 1h30m, or a time such as 2024-05-01T12:00 (UTC).")]


def split_workflow_files(args) -> tuple[list[Path], list[str]]:
    """Leading arguments that end in .yaml/.yml are workflow files; the rest is what the command takes next
    (`avgen logs A.yaml B.yaml FUNCTION`)."""
    files: list[Path] = []
    items = [str(a) for a in args]
    while items and items[0].lower().endswith((".yaml", ".yml")):
        files.append(Path(items.pop(0)))
    return files, items


@contextlib.contextmanager
def connection(file: FilesOfAWorkflow | None, workflow: Workflow | None, endpoint_url: str | None,
               region: str | None, sandbox: bool, workdir: Path | None, *,
               run_workflows: bool = False) -> Iterator:
    """Connect to AWS, another S3 API, or the sandbox that `avgen apply --sandbox` left (where, with
    `run_workflows`, what the command creates starts the deployed functions)."""
    from generator.verbs.transfer import connect  # boto3 is imported only by commands that talk to AWS

    if sandbox and endpoint_url:
        raise UsageError("--sandbox and --endpoint-url exclude each other")
    if sandbox and workdir is None and file is None:
        raise UsageError("--sandbox needs the workflow file or --workdir (the folder `avgen apply --sandbox` used)")
    if sandbox and workdir is None:
        assert file is not None  # refused just above
        workdir = default_workdir(file, sandbox=True)
    region = region or (workflow.settings.region if workflow else None)
    state = sandbox_dir(workdir) if sandbox and workdir else None
    with connect(endpoint_url=endpoint_url, region=region, sandbox_dir=state, run_workflows=run_workflows) as conn:
        yield conn
