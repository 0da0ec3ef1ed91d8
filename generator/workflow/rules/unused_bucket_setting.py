"""`avgen.buckets` names a bucket no function uses (often a typo of one they do)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule

RULE = rule("AVG017")


def unused(configured: Iterable[str], used: list[str], place: Place) -> Iterator[Finding]:
    """`place`: that of `avgen.buckets`; `used`: the buckets the functions read and write, sorted."""
    for name in sorted(set(configured) - set(used)):
        yield RULE.at(place / name, f"avgen.buckets names `{name}`, which no function uses",
                      f"remove it, or check the spelling against: {', '.join(used) or 'no buckets'}", key=True)
