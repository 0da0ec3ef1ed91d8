"""Functions that ask for different regions: one workflow deploys to one region."""
from __future__ import annotations

from collections.abc import Iterator

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule

RULE = rule("AVG009")


def regions(asked: dict[str, Place]) -> Iterator[Finding]:
    """`asked`: each region the functions name, with where it is first named; reported at the second."""
    if len(asked) > 1:
        _, second, *_ = sorted(asked)
        yield RULE.at(asked[second], f"functions ask for different regions ({', '.join(sorted(asked))})",
                      "set one region for the whole workflow in `avgen: {region: ...}`")
