"""Everything a command prints goes through here, and this is the one place that turns an AvgenError, a
usage error or Ctrl-C into a message and an exit code (`AvgenGroup.invoke`). The core never prints; a
command ends by returning, by `typer.Exit` with its result's exit code (validate's findings, status's
health), or by raising an AvgenError, whose class carries the exit code (generator/errors.py)."""
from __future__ import annotations

import builtins
import contextlib
import json
import os
import re
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

# typer (pinned in pyproject) carries its own copy of Click: its classes, not the installed click's, are raised
from typer._click.core import Context, Parameter
from typer._click.exceptions import UsageError as ClickUsageError
from typer._click.globals import get_current_context
from typer.core import TyperGroup, TyperOption

from generator.errors import AvgenError, TerraformError, UsageError, WorkflowInvalid
from generator.interrupts import exit_status, signal_number
from generator.workdirs import WorkflowFiles
from generator.workflow.findings import Finding, Severity, has_errors
from generator.workflow.load import load_workflow
from generator.workflow.model import Workflow

if TYPE_CHECKING:
    from rich.console import Console

# Without a terminal (CI logs, pipes), never cut a line at 80 columns: tables and names stay whole.
WIDE = 1000

# rich's markup (rich.markup.RE_TAGS and escape's pattern), to print markup without importing rich
_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")
_ESCAPABLE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")
# what rich would change in plain text beyond its tags: emoji codes (:smile:) and control characters
_NOT_PLAIN = re.compile(r":\S*?:|[\x00-\x09\x0b-\x1f\x7f]")


def escape(markup: str) -> str:
    """rich.markup.escape: text that rich prints as it is written."""
    markup = _ESCAPABLE.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", markup)
    return markup + "\\" if markup.endswith("\\") and not markup.endswith("\\\\") else markup


def _without_markup(text: str) -> str | None:
    """What rich prints for `text` on a stream that is not a terminal (rich.markup.render, styles dropped);
    None for anything it would treat otherwise or reject (emoji codes, control characters, an explicit or
    unmatched closing tag, @ handlers): rich prints those."""
    if _NOT_PLAIN.search(text):
        return None
    if "[" not in text:
        return text
    parts, opened, position = [], 0, 0
    for match in _TAG.finditer(text):
        full, escapes, tag = match.groups()
        start, end = match.span()
        if start > position:
            parts.append(text[position:start])
        if escapes:
            backslashes, escaped = divmod(len(escapes), 2)
            parts.append("\\" * backslashes)
            if escaped:
                parts.append(full[len(escapes):])
                position = end
                continue
        name = tag.partition("=")[0]
        if name.startswith("@") or (name.startswith("/") and (name[1:].strip() or not opened)):
            return None
        opened += -1 if name.startswith("/") else 1
        position = end
    parts.append(text[position:])
    return "".join(part.replace("\\[", "[") for part in parts)


class LazyConsole:
    """A rich Console made when first needed. Text printed where there is no terminal (pre-commit hooks, CI,
    pipes: most runs of `avgen validate`) is written here as rich would write it, without importing rich
    (about a tenth of the command's start-up); terminals, tables, progress and anything unusual go to rich, and
    so does everything printed after it."""

    def __init__(self, stderr: bool = False) -> None:
        object.__setattr__(self, "_stderr", stderr)
        object.__setattr__(self, "_console", None)

    @property
    def rich(self) -> Console:
        if self._console is None:
            from rich.console import Console

            stream = sys.stderr if self._stderr else sys.stdout
            object.__setattr__(self, "_console", Console(stderr=self._stderr, highlight=False, soft_wrap=True,
                                                         width=None if stream.isatty() else WIDE))
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rich, name)

    def to_stderr(self, stderr: bool) -> None:
        """Print on stderr instead (`out` under --format json: stdout holds the JSON alone)."""
        if stderr != self._stderr:
            object.__setattr__(self, "_stderr", stderr)
            object.__setattr__(self, "_console", None)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.rich, name, value)

    def print(self, *objects: Any, markup: bool | None = None, highlight: bool | None = None,
              **options: Any) -> None:
        stream = sys.stderr if self._stderr else sys.stdout
        # once rich is in use (a table, a progress display, a spinner), everything goes through it
        if (self._console is None and len(objects) == 1 and type(objects[0]) is str and not options
                and not highlight and _plain_stream(stream)):
            if markup is False:
                text = None if _NOT_PLAIN.search(objects[0]) else objects[0]
            else:
                text = _without_markup(objects[0])
            if text is not None:
                stream.write(text + "\n")
                stream.flush()
                return
        self.rich.print(*objects, markup=markup, highlight=highlight, **options)


def _plain_stream(stream: Any) -> bool:
    """Whether rich would print to `stream` without colours or cursor moves (as rich's Console.is_terminal)."""
    if "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ or hasattr(builtins, "get_ipython"):
        return False
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):
        return False


out = LazyConsole()
err = LazyConsole(stderr=True)

# The exit codes of results; errors carry theirs (generator/errors.py: a usage error is 64, never a result's).
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, UsageError.exit_code
EXIT_CHANGES = 2        # `avgen plan --detailed-exitcode`, as terraform's -detailed-exitcode
STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def reflowed(help_text: str | None) -> str | None:
    """A docstring's paragraphs each as one line, for the terminal to wrap: Typer's rich help keeps the
    source's line breaks, which against any other width make ragged text. Paragraphs with indented lines
    (command examples) stay as written."""
    if not help_text:
        return help_text
    paragraphs = help_text.split("\n\n")
    return "\n\n".join(
        paragraph if any(line.startswith((" ", "\t")) for line in paragraph.splitlines())
        else " ".join(line.strip() for line in paragraph.splitlines())
        for paragraph in paragraphs)


class AvgenGroup(TyperGroup):
    """Runs every command; problems the user can act on become a message and an exit code, not a traceback."""

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            command.help = reflowed(command.help)
            if not isinstance(command, TyperGroup) and not any("--no-color" in p.opts for p in command.params):
                command.params.append(_no_color_option())
        return command

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except ClickUsageError as exc:  # `avgen --typo`
            exc.exit_code = EXIT_USAGE
            raise

    def invoke(self, ctx):
        """The one way out of a command: what it raised becomes a message, the JSON envelope's error and an
        exit code."""
        args = [*ctx._protected_args, *ctx.args]  # the command's name and its arguments, as Click split them
        try:
            return super().invoke(ctx)
        except ClickUsageError as exc:  # a command's options or arguments, as Click parsed them
            exc.exit_code = EXIT_USAGE
            self._usage_envelope(ctx, args, exc)
            raise  # Click prints it (with the command's usage line) on stderr
        except AvgenError as exc:
            report_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM / SIGHUP where a command turns them into one
            # terraform was let finish writing its state (generator/deploy/terraform.py): nothing half-recorded
            if not getattr(exc, "explained", False):  # a command may have said what was cut short itself
                err.print("[yellow]interrupted[/]: what was under way finished cleanly; run the command again "
                          "to continue")
            _report_error("interrupted", f"ended by signal {signal_number(exc)}")
            raise typer.Exit(exit_status(signal_number(exc))) from None
        finally:
            _print_envelope()

    def _usage_envelope(self, ctx, args: list[str], exc: ClickUsageError) -> None:
        """Under --format json, a usage error that Click found before the command ran is the envelope's
        error too: a pipeline reading stdout gets JSON, not nothing. Only the innermost group (`avgen sandbox
        up`) does it, once."""
        global _envelope
        command = self.get_command(ctx, args[0]) if args else None
        if command is None or isinstance(command, TyperGroup) or getattr(exc, "_in_envelope", False):
            return
        if _envelope is None and asks_for_json(command, args[1:]):
            _envelope = Envelope(args[0])
        _report_error("usage", exc.format_message())  # raised by the command itself: its envelope has it too
        exc._in_envelope = True  # type: ignore[attr-defined]


def asks_for_json(command, args: list[str]) -> bool:
    """Whether the unparsed `args` of `command` ask for --format json (or --json, where it has that)."""
    names = {name for param in command.params for name in param.opts}
    formats: list[str] = next(
        (param.opts + param.secondary_opts for param in command.params if "--format" in param.opts), [])
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--json" and "--json" in names:
            return True
        if arg in formats and args[index + 1:index + 2] == ["json"]:
            return True
        if any(arg == f"{flag}=json" for flag in formats if flag.startswith("--")):
            return True
    return False


def report_error(exc: AvgenError) -> None:
    """An AvgenError as the user reads it (on stderr; a stopping workflow's findings as `load` prints them)
    and as the JSON envelope's error."""
    if isinstance(exc, WorkflowInvalid):
        print_file_findings(exc.files, exc.findings, show_info=False)  # type: ignore[arg-type]
    err.print(f"[bold red]error:[/] {escape(str(exc))}")
    if isinstance(exc, TerraformError) and exc.output.strip():
        err.print(exc.output, markup=False, highlight=False)
    if isinstance(exc, TerraformError) and exc.hint:
        err.print(f"[yellow]hint:[/] {escape(exc.hint)}")
    _report_error(exc.code, str(exc))


def _no_color_option() -> TyperOption:
    """`--no-color`, added to every command by AvgenGroup: pipelines pass it to all of them alike (terraform's
    own output is always plain)."""
    def no_color(ctx: Context, param: Parameter, value: bool) -> None:
        if value:
            out.no_color = err.no_color = True

    return TyperOption(param_decls=["--no-color"], is_flag=True, default=False, expose_value=False,
                       callback=no_color, help="No colours in avgen's output.")


JSON_VERSION = 2  # of the --format json envelope; bumped only when a shape changes incompatibly


class Envelope:
    """Under --format json, what the run printed for people, kept for tools; AvgenGroup prints it once, at
    the end, whatever ended the command: {"version", COMMAND: result, "findings": [...], "error": ...}."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.result: Any = None
        self.findings: list[dict] = []
        self.error: dict | None = None


_envelope: Envelope | None = None


def use_json(enabled: bool) -> bool:
    """Called first by a command with --format json: when `enabled`, stdout gets the envelope alone and
    everything else (findings as text, notes) goes to stderr."""
    global _envelope
    if enabled:
        _envelope = Envelope(get_current_context().info_name or "result")
        out.to_stderr(True)
    return enabled


def print_json(data: Any, findings: list[dict] | None = None) -> None:
    """The command's result (and findings), printed in the envelope under its name when the command ends."""
    assert _envelope is not None, "use_json(True) first"
    _envelope.result = data
    _envelope.findings += findings or []


def _report_error(code: str, message: str) -> None:
    if _envelope is not None and _envelope.error is None:  # the first error is what stopped the command
        _envelope.error = {"code": code, "message": message}


def _print_envelope() -> None:
    global _envelope
    if _envelope is None:
        return
    envelope, _envelope = _envelope, None
    out.to_stderr(False)
    print(json.dumps({"version": JSON_VERSION, envelope.command: envelope.result, "findings": envelope.findings,
                      "error": envelope.error}, indent=2, default=str))


def print_findings(file: str, findings: list[Finding], *, show_info: bool) -> None:
    """A file's findings, one a line; waived ones (dim) with their reason."""
    shown = [f for f in findings if show_info or f.severity is not Severity.INFO or f.waiver]
    if _envelope is not None:
        _envelope.findings += [f.to_dict() for f in shown if not f.waiver]
    clean = all(f.waiver for f in shown)
    out.print(f"[bold]{escape(file)}[/]" + (": [green]ok[/]" if clean else ""))
    for f in shown:
        style = STYLE[f.severity]
        where = f"{f.location.line}:{f.location.column}" if f.location.line else "-"
        if f.waiver:
            out.print(f"  {where:>7}  [dim]{'waived':<7} {f.rule_id}  {escape(f.message)} — {escape(f.waiver)}[/]")
            continue
        out.print(f"  {where:>7}  [{style}]{f.severity.value:<7}[/] [dim]{f.rule_id}[/]  {escape(f.message)}")
        if f.hint:
            out.print(f"  {'':>7}  {'':<7} {'':6}  [dim]→ {escape(f.hint)}[/]")


def files_label(files: WorkflowFiles) -> str:
    """How a command line names the workflow: `a.yaml`, or `a.yaml b.yaml` for several files."""
    return str(files) if isinstance(files, (str, Path)) else " ".join(str(f) for f in files)


def print_file_findings(files: WorkflowFiles, findings: list[Finding], *, show_info: bool) -> None:
    """Findings under the name of the file each is in (a workflow given as several files)."""
    if isinstance(files, (str, Path)) or len(list(files)) == 1:
        print_findings(files_label(files), findings, show_info=show_info)
        return
    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        by_file.setdefault(finding.location.file, []).append(finding)
    for name, found in sorted(by_file.items()):
        print_findings(name, found, show_info=show_info)


def workflow_invalid(file: WorkflowFiles, findings: list[Finding],
                     message: str = "the workflow has errors (see `avgen validate`)") -> WorkflowInvalid:
    """What stops a command on a workflow with errors: those errors (and warnings) with it."""
    return WorkflowInvalid(message, file, [f for f in findings if f.severity is not Severity.INFO])


def load(file: WorkflowFiles, *, allow_errors: bool = False, run_rules: bool = True) -> Workflow:
    """The workflow (one file, or several that make one workflow); WorkflowInvalid if it has errors."""
    result = load_workflow(file, run_rules=run_rules)
    if result.workflow is None or (has_errors(result.findings) and not allow_errors):
        raise workflow_invalid(file, [f for f in result.findings if f.severity is Severity.ERROR])
    return result.workflow


HEARTBEAT_S = 10  # without a terminal, a line this often on long work: CI logs show it is not stuck


def status_line(message: str):
    """A spinner on a terminal; otherwise the message, then a plain line every HEARTBEAT_S seconds."""
    if err.is_terminal:
        return err.status(message, spinner="dots")
    return heartbeat(message)


@contextlib.contextmanager
def heartbeat(message: str):
    """Without a terminal: the message now, then a plain line every HEARTBEAT_S seconds until the block ends."""
    err.print(message, markup=False, highlight=False)
    stop = threading.Event()
    began = time.monotonic()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            err.print(f"{message.rstrip('…. ')}: still running ({time.monotonic() - began:.0f} s)", markup=False,
                      highlight=False)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


def local_time(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' * (count != 1)}"


def parse_assignments(items, option: str) -> dict[str, str]:
    """NAME=VALUE options (as `--env`) into a dict; anything else is a usage error."""
    values = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise UsageError(f"{option} {item!r}: write NAME=VALUE")
        values[name] = value
    return values
