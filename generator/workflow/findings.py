"""Problems as values: every check returns findings; nothing here prints or raises."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True, order=True, slots=True)
class Location:
    """A place in a workflow file; line and column are 1-based (0 when unknown)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if not self.line:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a value was written, as its path of keys in the document (`("functions", "aws", 0, "lambda")`),
    with what turns that path into file:line:column. It travels with the value into a rule's check, so that
    the check can say where without knowing the file (or the legacy rewrites that moved keys in it)."""

    path: tuple
    locate: Callable[[tuple, bool], Location] = field(compare=False, repr=False)

    def __truediv__(self, step: Any) -> Place:
        return Place(self.path + (step,), self.locate)

    def __add__(self, steps: tuple) -> Place:
        return Place(self.path + tuple(steps), self.locate)

    @property
    def parent(self) -> Place:
        return Place(self.path[:-1], self.locate)

    def location(self, *, key: bool = False) -> Location:
        """The value's place, or with `key` that of its key (where a key that should not be there is)."""
        return self.locate(self.path, key)


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    severity: Severity
    message: str
    location: Location
    hint: str = ""
    # the reason of the `# avgen:waive` comment that waives it; a waived finding never fails a run
    waiver: str = ""

    def to_dict(self) -> dict:
        data = {
            "rule_id": self.rule_id,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
        }
        if self.waiver:
            data["waiver"] = self.waiver
        return data

    @property
    def sort_key(self):
        return (self.location.file, self.location.line, self.location.column, self.rule_id, self.message)


def has_errors(findings) -> bool:
    return any(f.severity is Severity.ERROR and not f.waiver for f in findings)


def active(findings) -> list[Finding]:
    """The findings that count: all but the waived ones."""
    return [f for f in findings if not f.waiver]


def sorted_findings(findings) -> list[Finding]:
    return sorted(findings, key=lambda f: f.sort_key)
