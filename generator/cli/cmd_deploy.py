"""plan, apply, destroy, outputs, build: the deployment of a workflow, on AWS or in the sandbox."""
from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from generator.cli.console import (
    EXIT_CHANGES,
    EXIT_OK,
    err,
    files_label,
    heartbeat,
    out,
    print_json,
    status_line,
    use_json,
    workflow_invalid,
)
from generator.cli.options import (
    AutoApproveOpt,
    BackendConfigOpt,
    Format,
    FormatOpt,
    JsonOpt,
    PluginDirOpt,
    SandboxOpt,
    TerraformBinOpt,
    VarFileOpt,
    VarOpt,
    WorkdirOpt,
    WorkflowArg,
)
from generator.errors import CommandFailed, CredentialsError, ImageError, TerraformError, UsageError
from generator.workdirs import IMAGES_DIR, WorkflowFiles, sandbox_dir
from generator.workflow.findings import has_errors

if TYPE_CHECKING:  # the deploy core (boto3, terraform) is imported by the commands that deploy, not at start-up
    from generator.deploy.core import Deployment
    from generator.deploy.planview import PlanSummary


def deployment(file, workdir, sandbox, var, var_file, backend_config, plugin_dir, terraform_bin) -> Deployment:
    from generator.deploy.core import Deployment, DeployOptions
    from generator.deploy.terraform import TerraformOptions

    options = TerraformOptions(terraform_bin=terraform_bin, plugin_dir=plugin_dir, variables=list(var or []),
                               var_files=list(var_file or []), backend_config=list(backend_config or []),
                               color=False)
    return Deployment(file, DeployOptions(workdir=workdir, sandbox=sandbox, terraform=options, notify=notify))


def notify(message: str) -> None:
    """What the deployment says while it goes on (a saved plan made again, a wait for terraform)."""
    err.print(f"[yellow]note:[/] {escape(message)}")


# What Terraform's AWS provider and S3 backend say when the credential chain is empty.
TERRAFORM_NO_CREDENTIALS = "No valid credential sources found"


def credentials_error(reason: str, command: str, file: WorkflowFiles) -> CredentialsError:
    return CredentialsError(
        f"{reason}: `avgen {command}` without --sandbox works on an AWS account and needs its credentials. Run "
        "`aws configure` (the default profile), set AWS_PROFILE to a profile of ~/.aws/config (`aws configure "
        "sso` for IAM Identity Center), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
        "AWS_SESSION_TOKEN for temporary ones); to try it without an account: "
        f"`avgen {command} {files_label(file)} --sandbox`")


def require_credentials(dep: Deployment, command: str, file: WorkflowFiles) -> None:
    """On AWS, stop before terraform (and before asking for images) when the usual AWS configuration has no
    credentials: terraform would fail with its own account of the whole credential chain. Left to terraform
    where the workflow has errors (they come first), and where a *_override.tf in the working folder may
    give the provider credentials of its own."""
    from generator.aws.clients import credentials_missing

    if dep.options.sandbox or has_errors(dep.load()) or any(dep.workdir.glob("*override.tf*")):
        return
    assert dep.workflow is not None  # loaded without errors
    reason = credentials_missing(dep.workflow.settings.region)
    if reason:
        raise credentials_error(reason, command, file)


def run_deploy(action, file: WorkflowFiles, command: str = "", sandbox: bool = True):
    """Run a deployment step; a workflow with errors stops it before terraform runs (exit 1). On AWS
    (`sandbox` false), terraform finding no credentials is said as avgen says it (`command` names the step)."""
    try:
        outcome = action()
    except TerraformError as exc:
        if sandbox or TERRAFORM_NO_CREDENTIALS not in exc.output:
            raise
        raise credentials_error("terraform found no AWS credentials", command, file) from None
    if outcome.blocked:
        raise workflow_invalid(file, outcome.findings, "the workflow has errors; terraform was not run")
    return outcome


def print_summary(summary: PlanSummary) -> None:
    from generator.deploy.planview import ACTIONS, SYMBOL

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
    review = summary.review_lines()
    if review:
        out.print()
        out.print("[bold]what changes[/]")
        for line in review:
            out.print(escape(line.replace("`", "")))
    losses = summary.data_loss_lines()
    if losses:
        out.print()
        out.print("[bold red]data is lost with these resources[/] (a renamed function replaces all of its own):")
        for line in losses:
            out.print(f"  [red]{escape(line)}[/]")


def plan(file: WorkflowArg, workdir: WorkdirOpt = None, sandbox: SandboxOpt = False, var: VarOpt = None,
         var_file: VarFileOpt = None, backend_config: BackendConfigOpt = None, plugin_dir: PluginDirOpt = None,
         terraform_bin: TerraformBinOpt = "terraform",
         output_format: FormatOpt = Format.text, as_json: JsonOpt = False,
         detailed_exitcode: Annotated[bool, typer.Option(
             "--detailed-exitcode", help="Exit 2 when there are changes (as terraform plan -detailed-exitcode); "
                                         "without it, 0 with or without changes.")] = False,
         summary_md: Annotated[Path | None, typer.Option(
             "--summary-md", help="Also write the summary as Markdown for a pull-request comment: counts per function, "
                                  "what a reviewer checks, data-loss warnings, and `terraform show` folded.",
             show_default=False)] = None):
    """Generate the Terraform, init once, and save a plan; print what it would change.

    Examples:

      avgen plan workflow.yaml

      avgen plan workflow.yaml --sandbox --plugin-dir /opt/tf-plugins

      avgen plan workflow.yaml --summary-md plan.md   # for a PR comment

    Exit codes (as terraform's): 0 planned, 1 error; with --detailed-exitcode 0 no changes, 2 changes.
    """
    as_json = use_json(as_json or output_format is Format.json)
    dep = deployment(file, workdir, sandbox, var, var_file, backend_config, plugin_dir, terraform_bin)
    require_credentials(dep, "plan", file)
    with status_line("terraform plan…"):
        outcome = run_deploy(lambda: dep.plan(with_text=summary_md is not None), file, "plan", sandbox)
    summary = outcome.summary
    if summary_md:
        summary_md.write_text(summary.to_markdown())
    if as_json:
        print_json(summary.to_dict())
    else:
        print_summary(summary)
        if summary.has_changes:
            again = " ".join([files_label(file), *(["--sandbox"] if sandbox else []),
                              *(["-w", str(workdir)] if workdir else [])])
            out.print(f"[dim]plan saved in {escape(str(outcome.workdir))}; `avgen apply {escape(again)}` applies it[/]")
    raise typer.Exit(EXIT_CHANGES if detailed_exitcode and summary.has_changes else EXIT_OK)


def confirm_with(auto_approve: bool, verb: str):
    def confirm(summary: PlanSummary) -> bool:
        print_summary(summary)
        if auto_approve:
            return True
        if not (out.is_terminal and err.is_terminal):
            raise CommandFailed(f"not a terminal: pass --auto-approve to {verb} without a prompt")
        # on stderr, as the summary: under --format json stdout holds the envelope alone
        return typer.confirm(f"{verb.capitalize()} these changes?", default=False, err=True)
    return confirm


class ApplyProgress:
    """Terraform's -json apply events as a progress bar: one step per resource."""

    def __init__(self, work: str = "terraform plan and apply"):
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=err.rich, transient=False,
                                 disable=not err.is_terminal)
        self.task = TaskID(0)  # the real one from __enter__
        # without a terminal (CI) the bar is off: plain lines say that terraform is still at work
        self.beat = contextlib.nullcontext() if err.is_terminal else heartbeat(f"{work}…")

    def __enter__(self):
        self.beat.__enter__()
        self.progress.__enter__()
        self.task = self.progress.add_task("terraform plan", total=None)
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)
        self.beat.__exit__(*exc)

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


# The origin of a URL the sandbox's emulator wrote (a queue's URL): the port of the command that deployed it.
SANDBOX_ORIGIN = re.compile(r"^http://(?:127\.0\.0\.1|localhost):\d+(?=/|$)")
ENDPOINT_VARIABLE = "$AWS_ENDPOINT_URL"


def sandbox_outputs(outputs: dict, deployed_in: Path | None) -> tuple[dict, str | None]:
    """The sandbox's outputs with URLs that lead somewhere: each avgen command runs its own emulator, on a
    port of its own, and stops it when done, so the port a URL was deployed with is dead. With a sandbox
    kept up (`avgen sandbox up`) for this deployment they name its endpoint; otherwise `$AWS_ENDPOINT_URL`,
    which `eval "$(avgen sandbox up FILE)"` sets. Returns them and that endpoint (None: no sandbox runs)."""
    from generator.aws.sandbox import running_server

    server = running_server(sandbox_dir(deployed_in)) if deployed_in else None
    endpoint = f"http://127.0.0.1:{server['port']}" if server else None

    def fixed(value):
        if isinstance(value, str):
            return SANDBOX_ORIGIN.sub(lambda _: endpoint or ENDPOINT_VARIABLE, value)
        if isinstance(value, dict):
            return {key: fixed(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fixed(item) for item in value]
        return value
    return {name: {**output, "value": fixed(output.get("value"))} for name, output in outputs.items()}, endpoint


def shown_value(value) -> str:
    """An output's value as JSON, a map's or list's inner lines indented under its name (at 4 columns)."""
    return json.dumps(value, indent=2).replace("\n", "\n  ")


def print_outputs(outputs: dict, file: WorkflowFiles, sandbox: bool, workdir: Path | None = None,
                  deployed_in: Path | None = None) -> None:
    """`deployed_in`: the working folder the outputs were read from (its sandbox's endpoint, if one is up)."""
    if not outputs:
        return
    endpoint = None
    if sandbox:
        outputs, endpoint = sandbox_outputs(outputs, deployed_in)
    out.print("[bold]Outputs[/]")
    for name, value in sorted(outputs.items()):
        shown = "(sensitive)" if value.get("sensitive") else shown_value(value.get("value"))
        out.print(f"  [cyan]{escape(name)}[/] = {escape(shown)}")
    if sandbox and endpoint is None and ENDPOINT_VARIABLE in json.dumps(outputs):
        up = escape(" ".join(["avgen sandbox up", files_label(file), *(["-w", str(workdir)] if workdir else [])]))
        out.print(f"[dim]{ENDPOINT_VARIABLE}: the sandbox's endpoint, whose port changes with every command; "
                  f'`eval "$({up})"` keeps one running and sets it[/]')
    flags = (" --sandbox" if sandbox else "") + (f" -w {workdir}" if sandbox and workdir else "")
    out.print(f"[dim]next: avgen put {escape(files_label(file))} VIDEO{escape(flags)}  (uploads to the workflow's "
              "start folder)[/]")


def apply(file: WorkflowArg, workdir: WorkdirOpt = None, sandbox: SandboxOpt = False, var: VarOpt = None,
          var_file: VarFileOpt = None, backend_config: BackendConfigOpt = None, plugin_dir: PluginDirOpt = None,
          terraform_bin: TerraformBinOpt = "terraform",
          auto_approve: AutoApproveOpt = False, output_format: FormatOpt = Format.text,
          enable_eventbridge: Annotated[bool, typer.Option(
              "--enable-eventbridge",
              help="Switch on EventBridge delivery of the existing buckets (create: false) that trigger functions, "
                   "keeping their notification rules; without it the apply stops when one is off.")] = False):
    """Deploy the workflow: apply the saved plan when it is current, otherwise plan first, then apply.

    Examples:

      avgen apply workflow.yaml

      avgen apply workflow.yaml --sandbox --auto-approve    # no AWS account needed

    Shows the plan and asks before changing anything (--auto-approve for pipelines); prints the outputs
    you need next. Triggers on buckets avgen does not create are EventBridge rules: such a bucket must exist
    and send its events to EventBridge (--enable-eventbridge). Every function's image must be recorded by
    `avgen build --push` first (the plan stops otherwise); the sandbox registers its own stand-in images.
    Exit codes: 0 applied (or nothing to do), 1 error or declined.
    """
    as_json = use_json(output_format is Format.json)
    dep = deployment(file, workdir, sandbox, var, var_file, backend_config, plugin_dir, terraform_bin)
    dep.options.enable_eventbridge = enable_eventbridge
    require_credentials(dep, "apply", file)
    with ApplyProgress() as progress:
        outcome = run_deploy(lambda: dep.apply(progress.confirming(auto_approve, "apply"), on_event=progress), file,
                             "apply", sandbox)
    if outcome.summary.has_changes and not outcome.applied:
        raise CommandFailed("nothing was applied")
    if as_json:
        shown = sandbox_outputs(outcome.outputs, outcome.workdir)[0] if sandbox else outcome.outputs
        print_json({"changes": outcome.summary.to_dict(), "outputs": output_values(shown),
                    "images": [vars(image) for image in outcome.images],
                    "eventbridge_enabled": outcome.eventbridge_enabled})
    for image in outcome.images:
        if image.pushed:
            err.print(f"[dim]sandbox: the image of {escape(image.function)} registered in its ECR repository "
                      f"({escape(image.reference)})[/]")
    for bucket in outcome.eventbridge_enabled:
        err.print(f"bucket {escape(bucket)}: EventBridge delivery switched on (its notification rules kept)")
    if not as_json:
        print_outputs(outcome.outputs, file, sandbox, workdir, outcome.workdir)


def output_values(outputs: dict) -> dict:
    """Terraform's outputs as name → value, for tools (sensitive ones included, as `terraform output -json`)."""
    return {name: output.get("value") for name, output in sorted(outputs.items())}


def destroy(file: WorkflowArg, workdir: WorkdirOpt = None, sandbox: SandboxOpt = False, var: VarOpt = None,
            var_file: VarFileOpt = None, backend_config: BackendConfigOpt = None, plugin_dir: PluginDirOpt = None,
            terraform_bin: TerraformBinOpt = "terraform",
            auto_approve: AutoApproveOpt = False, output_format: FormatOpt = Format.text,
            delete_buckets: Annotated[bool, typer.Option(
                "--delete-buckets",
                help="Also delete the buckets avgen created (refused while they hold objects).")] = False,
            force: Annotated[bool, typer.Option(
                "--force", help="With --delete-buckets: delete the buckets' objects (all versions) too.")] = False):
    """Remove the deployed workflow: functions, jobs, queues, roles, notifications, alerts.

    Examples:

      avgen destroy workflow.yaml

      avgen destroy workflow.yaml --delete-buckets --force  # the files too

    Like SCAR's `rm`, the buckets and the files in them are kept unless --delete-buckets is given.
    """
    as_json = use_json(output_format is Format.json)
    if force and not delete_buckets:
        raise UsageError("--force only goes with --delete-buckets")
    dep = deployment(file, workdir, sandbox, var, var_file, backend_config, plugin_dir, terraform_bin)
    require_credentials(dep, "destroy", file)
    with ApplyProgress("terraform destroy") as progress:
        outcome = run_deploy(lambda: dep.destroy(progress.confirming(auto_approve, "destroy"), on_event=progress,
                                                 delete_buckets=delete_buckets, force=force), file, "destroy", sandbox)
    if outcome.summary and not outcome.summary.has_changes:
        out.print("nothing to destroy")
    elif not outcome.applied:
        raise CommandFailed("nothing was destroyed")
    if as_json:
        print_json({"changes": outcome.summary.to_dict() if outcome.summary else None,
                    "kept_buckets": outcome.kept_buckets})
    if outcome.kept_buckets:
        out.print("kept (with their objects): " + ", ".join(f"s3://{b}" for b in outcome.kept_buckets))


def outputs(file: WorkflowArg, workdir: WorkdirOpt = None, sandbox: SandboxOpt = False,
            plugin_dir: PluginDirOpt = None, terraform_bin: TerraformBinOpt = "terraform",
            output_format: FormatOpt = Format.text, as_json: JsonOpt = False):
    """Show what is deployed: bucket names, functions, repositories, queues, the alert topic.

    Examples:

      avgen outputs workflow.yaml

      avgen outputs workflow.yaml --sandbox --format json
    """
    as_json = use_json(as_json or output_format is Format.json)
    dep = deployment(file, workdir, sandbox, None, None, None, plugin_dir, terraform_bin)
    outcome = run_deploy(dep.outputs, file)
    if as_json:
        shown = sandbox_outputs(outcome.outputs, outcome.workdir)[0] if sandbox else outcome.outputs
        print_json(output_values(shown))
    else:
        print_outputs(outcome.outputs, file, sandbox, workdir, outcome.workdir)


def build(file: WorkflowArg, workdir: WorkdirOpt = None,
          push: Annotated[bool, typer.Option(
              "--push", help="Build the images ECR does not hold yet, push them to the functions' ECR "
              "repositories (created first if needed) and record every function's digest in the working "
              "folder for the next plan/apply. Needs a Docker engine and AWS credentials.")] = False,
          local: Annotated[bool, typer.Option(
              "--local", help="Build the images into the local Docker engine only (avgen-local/FUNCTION:TAG): "
              "the sandbox then runs each invocation in its function's image.")] = False,
          network: Annotated[str | None, typer.Option(
              "--network", metavar="NAME", help="The network of the build's RUN steps (e.g. host, where the "
              "engine has no bridge network).")] = None,
          ca_bundle: Annotated[Path | None, typer.Option(
              "--ca-bundle", exists=True, dir_okay=False, help="A CA bundle the build's pip trusts, behind a "
              "TLS-inspecting proxy; handed in as a build secret, never stored in the image.")] = None,
          var: VarOpt = None, var_file: VarFileOpt = None, backend_config: BackendConfigOpt = None,
          plugin_dir: PluginDirOpt = None, terraform_bin: TerraformBinOpt = "terraform",
          auto_approve: AutoApproveOpt = False, output_format: FormatOpt = Format.text):
    """Write each function's container build context: FROM its container.image, plus avgen's runtime,
    the media handlers and its script.

    Examples:

      avgen build workflow.yaml                  # the contexts only, to build them elsewhere

      avgen build workflow.yaml --push && avgen apply workflow.yaml

      avgen build workflow.yaml --push -w infra/ # record the digests next to the committed Terraform

      avgen build workflow.yaml --local          # then `avgen put --sandbox` runs the real images

    Contexts go to WORKDIR/images/FUNCTION, each named by its content (tag ctx-...). With --push (where a
    Docker engine runs), avgen creates the ECR repositories if needed, asks ECR for each function's tag,
    builds and pushes only the images ECR does not hold yet (an unchanged function is not built again), and
    writes every digest to WORKDIR/avgen-images.auto.tfvars.json, which the next `avgen plan` / `avgen
    apply` deploys. With -w set to the folder of `avgen generate -o`, commit that file with the Terraform:
    a pull request's plan then shows the images it deploys.
    With --local it builds them into this machine's engine instead, and the sandbox runs each invocation
    in its function's image (the Lambda Runtime API served by the sandbox, --memory and /tmp as deployed)
    instead of in-process. $AVGEN_DOCKER names the Docker client where `docker` is not the one to use.
    """
    from generator.deploy.build import BuildOptions
    from generator.deploy.images import push_images, write_contexts

    as_json = use_json(output_format is Format.json)
    if push and local:
        raise UsageError("--push and --local exclude each other: --local builds for this machine only")
    # --local builds for the sandbox: into its working folder, where its executor finds the contexts
    dep = deployment(file, workdir, local, var, var_file, backend_config, plugin_dir, terraform_bin)
    findings = dep.load()
    if has_errors(findings):
        raise workflow_invalid(file, findings)
    assert dep.workflow is not None  # loaded without errors
    contexts = write_contexts(dep.workflow, dep.workdir / IMAGES_DIR)
    result: dict = {"contexts": [{"function": c.function, "path": str(c.path), "tag": c.tag} for c in contexts],
                    "built": {}, "pushed": [], "digests_file": None}
    if as_json:
        print_json(result)  # printed when the command ends: what is added below goes in too
    for context in contexts:
        out.print(f"[bold]{escape(context.function)}[/]: {escape(str(context.path))}  [dim]tag {context.tag}[/]")
    if not push and not local:
        out.print("[dim]build and push them with `avgen build --push` where a Docker engine runs, or by hand "
                  "(docs/runtime.md)[/]")
        return
    require_engine(contexts)
    options = BuildOptions(network=network, ca_bundle=ca_bundle)
    if local:
        result["built"] = build_here(dep.workflow, contexts, options)
        return

    def pushed(image) -> None:
        result["pushed"].append(vars(image))
        print_image(image)

    path = push_images(dep, contexts, confirm_with(auto_approve, "apply"), on_image=pushed, options=options)
    result["digests_file"] = str(path)
    again = " ".join([files_label(file), *(["-w", str(workdir)] if workdir else [])])
    out.print(f"digests recorded in {escape(str(path))}; `avgen apply {escape(again)}` deploys them")


def require_engine(contexts) -> None:
    """Stop where no Docker engine answers, saying how to build and push the contexts by hand."""
    from generator.deploy.images import engine_available

    if not engine_available():
        by_hand = [command for context in contexts
                   for command in context.commands(f"<ecr_repository_urls[\"{context.function}\"]>")]
        raise ImageError("no Docker engine answers (`docker info` failed); the contexts above are ready, build "
                         "and push them by hand:\n" + "\n".join(f"  {command}" for command in by_hand))


def build_here(workflow, contexts, options) -> dict[str, str]:
    """`build --local`: the images built into this machine's engine, function → image."""
    from generator.deploy.images import build_local

    names = {f.name: f.resource_name for f in workflow.functions}
    built = build_local(contexts, names, options, on_building=lambda name, image: err.print(
        f"building {escape(name)} as {escape(image)} …"))
    for name, image in built.items():
        out.print(f"built {escape(name)}: {escape(image)}")
    return built


def print_image(image) -> None:
    if image.pushed:
        out.print(f"pushed {escape(image.function)}: {escape(image.reference)}")
    else:
        out.print(f"{escape(image.function)}: unchanged, already in ECR ({escape(image.reference)})")
