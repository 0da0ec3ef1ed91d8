"""Batch settings on a function whose execution mode never runs it on Batch."""
from __future__ import annotations

from collections.abc import Iterator

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule
from generator.workflow.schema import FunctionEntry

RULE = rule("AVG022")


def unused(entry: FunctionEntry, mode: str, uses_batch: bool, place: Place) -> Iterator[Finding]:
    """`place`: that of the entry's `batch` section."""
    if entry.batch is not None and not uses_batch:
        yield RULE.at(place, f"`batch` settings of `{entry.lambda_.name}` have no effect in execution_mode `{mode}`",
                      "set `execution_mode: batch` or `lambda-batch`, or remove the section", key=True)
