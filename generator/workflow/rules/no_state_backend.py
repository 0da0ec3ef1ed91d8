"""No `avgen.backend`: the Terraform state would stay on one machine, without locking."""
from __future__ import annotations

from collections.abc import Iterator

from generator.workflow import model as m
from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule
from generator.workflow.schema import BackendSpec

RULE = rule("AVG034")


def missing(backend: BackendSpec | None, place: Place) -> Iterator[Finding]:
    """`place`: the `avgen` section, or the file's top when there is none."""
    if backend is None:
        yield RULE.at(place, "no `avgen.backend`: Terraform would keep the state in the working folder of one "
                      "machine, without locking, and `avgen plan`/`apply` on an AWS account refuse to run",
                      m.BACKEND_HINT, key=True)
