"""`avgen convert`: SCAR 3.x files (one function per file) to one file in the current form."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from generator.cli.console import err, escape, out, print_json, use_json, workflow_invalid
from generator.cli.options import Format, FormatOpt, WorkflowArg
from generator.errors import UsageError
from generator.workflow.findings import Severity


def convert(
    file: WorkflowArg,
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="NEW.yaml", show_default=False,
        help="The file to write (`-` for standard output).")],
    force: Annotated[bool, typer.Option("--force", help="Replace NEW.yaml if it exists.")] = False,
    output_format: FormatOpt = Format.text,
):
    """Write SCAR 3.x workflow files (`functions: NAME: {...}`) as one file in the current form.

    Give every file of the workflow together: they become one file, which validates and generates the same
    Terraform (only the generated files' headers, which name the input, differ). Comments are kept where
    they can be; init_script paths are rewritten relative to NEW.yaml.

    Example:

      avgen convert scar-batch-ffmpeg-split.yaml scar-lambda-darknet.yaml -o video-process.yaml

    Exit codes: 0 written, 1 the input has errors (nothing written), 64 usage error.
    """
    from generator.workflow.convert import convert as convert_files

    as_json = use_json(output_format is Format.json)
    to_stdout = str(output) == "-"
    target = Path.cwd() / "converted.yaml" if to_stdout else output
    if not to_stdout:
        refuse_to_replace(target, file, force)
    result = convert_files(file, target)
    if result.text is None:
        raise workflow_invalid(file, [f for f in result.findings if f.severity is Severity.ERROR],
                               "the input has errors; nothing was written")
    if as_json:  # with `-o -` the new file's text is in the result, not on stdout
        print_json({"output": None if to_stdout else str(target), "functions": list(result.functions),
                    "text": result.text if to_stdout else None})
    if to_stdout:
        if not as_json:
            print(result.text, end="")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(result.text, encoding="utf-8")
    converted = ", ".join(result.functions) or "no SCAR 3.x functions (the files were in the current form)"
    out.print(f"wrote {escape(str(target))}: {escape(converted)}")
    err.print(f"[dim]check it: avgen validate {escape(str(target))}[/]")


def refuse_to_replace(target: Path, inputs: list[Path], force: bool) -> None:
    """convert never overwrites one of its inputs, nor another file without --force."""
    if target.exists() and not force:
        raise UsageError(f"{target} exists; give --force to replace it")
    if target.resolve() in {Path(f).resolve() for f in inputs}:
        raise UsageError("the output would replace one of the inputs; write a new file")
