"""sandbox up / down: one long-running sandbox that scripts, the aws CLI and every avgen command share."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from generator.cli.console import AvgenGroup, err, out, print_json, use_json
from generator.cli.options import Format, FormatOpt, WorkdirOpt
from generator.errors import SandboxError, UsageError
from generator.workdirs import IMAGES_DIR, default_workdir, sandbox_dir

app = typer.Typer(help="Keep the sandbox running for scripts: `avgen sandbox up` … `avgen sandbox down`.",
                  no_args_is_help=True, cls=AvgenGroup)
WorkflowOptional = typer.Argument(None, metavar="[WORKFLOW...]", show_default=False,
                                  help="Workflow YAML file(s) whose sandbox to use (or give --workdir).")


def state_of(file: list[Path] | None, workdir: Path | None) -> Path:
    if workdir is None:
        if not file:
            raise UsageError("which sandbox? give the workflow file or --workdir (the folder `avgen apply "
                             "--sandbox` used)")
        workdir = default_workdir(file, sandbox=True)
    return sandbox_dir(workdir)


@app.command()
def up(file: list[Path] | None = WorkflowOptional, workdir: WorkdirOpt = None,
       region: str = typer.Option("us-east-1", "--region", help="The region the emulator answers for."),
       output_format: FormatOpt = Format.text):
    """Start the sandbox in the background and print how to reach it (endpoint, credentials).

    Until `avgen sandbox down`, every `--sandbox` command uses it instead of starting its own, `avgen put
    --no-wait` returns at once while the workflow runs, and the aws CLI or boto3 can script against it:
    objects they create start the deployed functions too.

    Example:

      eval "$(avgen sandbox up workflow.yaml)"   # then: aws s3 ls, avgen put …, avgen sandbox down
    """
    from generator.aws.sandbox import admin_credentials, running_server, sandbox_secret

    as_json = use_json(output_format is Format.json)
    state = state_of(file, workdir)
    server = running_server(state) or started(state, region)
    key, secret = admin_credentials(sandbox_secret(state))
    environment = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{server['port']}", "AWS_ACCESS_KEY_ID": key,
                   "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": server["region"]}
    if as_json:
        print_json({"pid": server["pid"], "state": str(state), "environment": environment})
    else:  # for eval "$(avgen sandbox up …)"
        out.print(f"export AWS_ENDPOINT_URL={environment['AWS_ENDPOINT_URL']}", markup=False)
        out.print(f"export AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret} "
                  f"AWS_DEFAULT_REGION={server['region']}", markup=False)
    err.print(f"[green]sandbox up[/] (pid {server['pid']}) with its state in {escape(str(state))}; "
              "`avgen sandbox down` stops it")


def started(state: Path, region: str) -> dict:
    """A sandbox started in the background, serving what is deployed in its working folder."""
    from generator.aws.sandbox import Sandbox, running_server

    sandbox = Sandbox(state, region)
    sandbox.start(detached=True)
    contexts = state.parent / IMAGES_DIR
    if contexts.is_dir():
        sandbox.run_workflows(contexts)
    else:
        err.print("[yellow]note:[/] nothing is deployed here yet: `avgen apply --sandbox` first; "
                  "until then uploads start nothing")
    sandbox.stop()  # releases this command's hold; the server stays up
    server = running_server(state)
    if server is None:
        raise SandboxError(f"the sandbox did not stay up; see {state / 'moto-server.log'}")
    return server


@app.command()
def down(file: list[Path] | None = WorkflowOptional, workdir: WorkdirOpt = None,
         output_format: FormatOpt = Format.text):
    """Stop the sandbox that `avgen sandbox up` started; its state stays for the next command.

    Example:

      avgen sandbox down workflow.yaml
    """
    from generator.aws.sandbox import stop_server

    as_json = use_json(output_format is Format.json)
    state = state_of(file, workdir)
    if not stop_server(state):
        raise SandboxError(f"no sandbox was running for {state}")
    if as_json:
        print_json({"state": str(state), "stopped": True})
    out.print("sandbox down")
