"""Two functions share a name, or the same name in another case (their resources would collide)."""
from __future__ import annotations

from collections.abc import Iterable, Iterator

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule

RULE = rule("AVG018")


def duplicates(names: Iterable[tuple[int, str, Place]]) -> Iterator[Finding]:
    """`names`: each function's index in the file, name, and the place of its name."""
    first: dict[str, int] = {}
    for index, name, place in names:
        lowered = name.lower()
        if lowered in first:
            yield RULE.at(place, f"function name `{name}` is used twice (also function #{first[lowered] + 1}); "
                          "names must be unique, ignoring case", "rename one of them")
        first.setdefault(lowered, index)
