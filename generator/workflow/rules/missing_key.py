"""A required key is missing, or the file holds nothing at all."""
from __future__ import annotations

from collections.abc import Iterator

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule
from generator.workflow.schema import BackendSpec

RULE = rule("AVG005")


def empty_file(place: Place) -> Finding:
    return RULE.at(place, "the file is empty", "start with `functions:` and an `aws:` list of functions")


def schema_missing(where: str, name: str, place: Place) -> Finding:
    """`place`: the mapping that lacks the key `name`."""
    return RULE.at(place, f"`{where}` is required", f"add `{name}:`", key=True)


def no_functions(count: int, place: Place) -> Iterator[Finding]:
    if not count:
        yield RULE.at(place, "the workflow has no functions", "add functions under `functions: aws:`", key=True)


def s3_backend(backend: BackendSpec | None, place: Place) -> Iterator[Finding]:
    """An s3 state backend names where the state goes: both are needed."""
    if backend is not None and backend.type == "s3" and not (backend.bucket and backend.key):
        yield RULE.at(place, "an s3 backend needs `bucket` and `key`",
                      "add `bucket: my-terraform-state` and `key: workflows/NAME.tfstate`", key=True)
