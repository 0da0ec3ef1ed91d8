"""avgen's errors: one base whose message is written for the user, caught in one place (cli/console.py).

Anything raised from the core that a user can fix is an AvgenError; its message says what is wrong and what
to do. Other exceptions are bugs and are reported as such.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from generator.workflow.findings import Location


class AvgenError(Exception):
    """A problem the user can act on. The class says how the command ends: `exit_code` is what it exits with
    (README.md, "Exit codes", lists them all), `code` what --format json names it (TerraformError →
    `terraform`: the class's name, unless the class sets its own)."""

    exit_code = 1
    code = "avgen"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in vars(cls):
            name = re.sub(r"(?<!^)(?=[A-Z])", "-", cls.__name__).lower()
            cls.code = name.removesuffix("-error")


class UsageError(AvgenError):
    """The command line asks for something impossible (options that exclude each other, nothing to work
    on). 64, sysexits.h's EX_USAGE: 1 is a finding or a failure and 2 `plan --detailed-exitcode`'s
    "changes", so a mistyped pipeline step never passes for a result."""

    exit_code = 64


class WorkflowInvalid(AvgenError):
    """The workflow has errors, so the command stopped before doing anything; `findings` are those errors
    (printed, and in the JSON envelope, where the command is stopped)."""

    code = "workflow"

    def __init__(self, message: str, files: object, findings: Sequence[object]):
        super().__init__(message)
        self.files = files
        self.findings = list(findings)


class CommandFailed(AvgenError):
    """The command could not do what was asked (nothing applied, objects not written, tools missing) and
    no more particular class says why; the message does."""

    code = "failed"


class YamlSyntaxError(AvgenError):
    """A workflow file that is not readable YAML; becomes a finding at `location`."""

    def __init__(self, message: str, location: Location):
        super().__init__(message)
        self.message = message
        self.location = location


class RenderError(AvgenError, ValueError):
    """The workflow can't be rendered (a marker without a reason, …); the message says what to fix."""


class UnknownCheckovSkip(RenderError):
    """A marker names a check that the table does not list (so it has no reason to give)."""


class DeployError(AvgenError):
    """A deployment problem the user must fix; the message says what and how."""


class TerraformNotFound(AvgenError):
    """No usable terraform binary."""


class TerraformError(AvgenError):
    """terraform failed; `output` holds what it printed (its own error messages, intact)."""

    def __init__(self, command: str, returncode: int, output: str, hint: str = ""):
        super().__init__(f"`{command}` failed with exit code {returncode}")
        self.command = command
        self.returncode = returncode
        self.output = output
        self.hint = hint  # avgen's one line after terraform's text: what to do about it


class CredentialsError(AvgenError):
    """No AWS credentials where a command needs an account's (plan, apply, destroy without --sandbox)."""


class BuildError(AvgenError, RuntimeError):
    """A docker command failed; the message carries the end of its output."""


class ConvertError(AvgenError):
    """`avgen convert` cannot write the new file as asked; the message says what to change."""


class ImageError(AvgenError):
    """Function images could not be prepared, built or pushed."""


class SandboxError(AvgenError):
    """The embedded AWS emulator could not be started or used."""


class TransferError(AvgenError):
    """A problem with a transfer, said so that the user knows what to do; `done` lists what did complete."""

    def __init__(self, message: str, *, done: Sequence[str] = ()):
        super().__init__(message)
        self.done = tuple(done)


class ObserveError(AvgenError):
    """A problem reaching the AWS APIs (credentials, endpoint), said so that the user can act."""
