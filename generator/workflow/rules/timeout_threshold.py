"""container.timeout_threshold (the time kept back to upload what the script made) leaves it no time."""
from __future__ import annotations

from collections.abc import Iterator

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule

RULE = rule("AVG023")


def no_time_left(threshold: int, timeout: int, place: Place) -> Iterator[Finding]:
    """`place`: where the threshold is written, else where the timeout is."""
    if threshold >= timeout:
        yield RULE.at(place, f"timeout_threshold ({threshold} s) must be less than the timeout ({timeout} s): "
                      "the script would get no time",
                      f"raise `timeout` above {threshold} or lower `container.timeout_threshold`")
