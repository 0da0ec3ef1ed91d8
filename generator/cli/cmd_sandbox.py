"""sandbox up / down: one long-running sandbox that scripts, the aws CLI and every avgen command share."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from generator.cli.console import EXIT_FINDINGS, EXIT_USAGE, AvgenGroup, err, fail, out
from generator.cli.options import WorkdirOpt
from generator.workdirs import IMAGES_DIR, default_workdir, sandbox_dir

app = typer.Typer(help="Keep the sandbox running for scripts: `avgen sandbox up` … `avgen sandbox down`.",
                  no_args_is_help=True, cls=AvgenGroup)
WorkflowOptional = typer.Argument(None, metavar="[WORKFLOW...]", show_default=False,
                                  help="Workflow YAML file(s) whose sandbox to use (or give --workdir).")


def state_of(file: Optional[List[Path]], workdir: Optional[Path]) -> Path:
    if workdir is None:
        if not file:
            fail("which sandbox? give the workflow file or --workdir (the folder `avgen apply --sandbox` used)",
                 EXIT_USAGE)
        workdir = default_workdir(file, sandbox=True)
    return sandbox_dir(workdir)


@app.command()
def up(file: Optional[List[Path]] = WorkflowOptional, workdir: WorkdirOpt = None,
       region: str = typer.Option("us-east-1", "--region", help="The region the emulator answers for.")):
    """Start the sandbox in the background and print how to reach it (endpoint, credentials).

    Until `avgen sandbox down`, every `--sandbox` command uses it instead of starting its own, `avgen put
    --no-wait` returns at once while the workflow runs, and the aws CLI or boto3 can script against it:
    objects they create start the deployed functions too.

    Example:

      eval "$(avgen sandbox up workflow.yaml)"   # then: aws s3 ls, avgen put …, avgen sandbox down
    """
    from generator.aws.sandbox import Sandbox, admin_credentials, running_server, sandbox_secret

    state = state_of(file, workdir)
    server = running_server(state)
    if server is None:
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
            fail(f"the sandbox did not stay up; see {state / 'moto-server.log'}")
    out.print(f"export AWS_ENDPOINT_URL=http://127.0.0.1:{server['port']}", markup=False)
    key, secret = admin_credentials(sandbox_secret(state))
    out.print(f"export AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret} "
              f"AWS_DEFAULT_REGION={server['region']}", markup=False)
    err.print(f"[green]sandbox up[/] (pid {server['pid']}) with its state in {escape(str(state))}; "
              "`avgen sandbox down` stops it")


@app.command()
def down(file: Optional[List[Path]] = WorkflowOptional, workdir: WorkdirOpt = None):
    """Stop the sandbox that `avgen sandbox up` started; its state stays for the next command.

    Example:

      avgen sandbox down workflow.yaml
    """
    from generator.aws.sandbox import stop_server

    state = state_of(file, workdir)
    if not stop_server(state):
        err.print(f"no sandbox was running for {escape(str(state))}")
        raise typer.Exit(EXIT_FINDINGS)
    out.print("sandbox down")
