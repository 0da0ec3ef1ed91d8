"""A function with no container image: there is nothing to build it from."""
from __future__ import annotations

from collections.abc import Iterator

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule
from generator.workflow.schema import LambdaSpec

RULE = rule("AVG027")


def missing(spec: LambdaSpec, place: Place) -> Iterator[Finding]:
    """`place`: the function's `lambda` section."""
    container = spec.container
    if not (container and container.image):
        yield RULE.at(place / "container" if container else place, f"function `{spec.name}` has no container image",
                      "add `container: {image: REPOSITORY:TAG}` (the image avgen builds the function from)", key=True)
