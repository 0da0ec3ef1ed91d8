"""The init_script file does not exist where the workflow says (a warning: it may be made before a build)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule

RULE = rule("AVG019")


def missing(written: str, script: Path, found: bool, place: Place) -> Iterator[Finding]:
    """`script`: the resolved path of `written`; `found`: whether it is a file."""
    if not found:
        yield RULE.at(place, f"init_script `{written}` was not found at {script}",
                      "put the script next to the workflow file, or fix the path")
