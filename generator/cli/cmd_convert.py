"""`avgen convert`: SCAR 3.x files (one function per file) to one file in the current form."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from generator.cli.console import EXIT_FINDINGS, EXIT_USAGE, err, escape, fail, out, print_file_findings
from generator.cli.options import WorkflowArg
from generator.workflow.findings import Severity


def convert(
    file: WorkflowArg,
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="NEW.yaml", show_default=False,
        help="The file to write (`-` for standard output).")],
    force: Annotated[bool, typer.Option("--force", help="Replace NEW.yaml if it exists.")] = False,
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

    to_stdout = str(output) == "-"
    target = Path.cwd() / "converted.yaml" if to_stdout else output
    if not to_stdout and target.exists() and not force:
        fail(f"{target} exists; give --force to replace it", EXIT_USAGE)
    if not to_stdout and target.resolve() in {Path(f).resolve() for f in file}:
        fail("the output would replace one of the inputs; write a new file", EXIT_USAGE)
    result = convert_files(file, target)
    if result.text is None:
        print_file_findings(file, [f for f in result.findings if f.severity is Severity.ERROR], show_info=False)
        raise typer.Exit(EXIT_FINDINGS)
    if to_stdout:
        print(result.text, end="")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(result.text, encoding="utf-8")
    converted = ", ".join(result.functions) or "no SCAR 3.x functions (the files were in the current form)"
    out.print(f"wrote {escape(str(target))}: {escape(converted)}")
    err.print(f"[dim]check it: avgen validate {escape(str(target))}[/]")
