"""The init_script is not a regular file inside the workflow file's folder: a FIFO, a device, a folder, or a
path or symlink that leads out of it (what `model.script_problem` finds)."""
from __future__ import annotations

from collections.abc import Iterator

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule
from generator.workflow.rules.wording import short_text

RULE = rule("AVG033")


def unsafe(written: str, problem: str, place: Place) -> Iterator[Finding]:
    """`problem`: what is wrong with the script's path, or "" when nothing is."""
    if problem:
        yield RULE.at(place, f"init_script `{short_text(written)}` {problem}",
                      "init_script must be a regular file in the workflow file's folder or a folder under "
                      "it: copy the script there and write its path relative to the workflow file "
                      "(e.g. `init_script: scripts/split.sh`)")
