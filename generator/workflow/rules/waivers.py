"""`# avgen:waive AVG0xx reason` comments: a finding waived next to what it waives, with a reason.

Read from the file's raw lines (no YAML needed). A comment at the end of a line waives that line's finding;
a comment on a line of its own waives the next line's. A waiver without a reason, for a rule id the catalog
does not have, or for an error (a workflow with errors cannot be deployed) waives nothing and is itself a
finding (AVG030). Waived findings stay listed, with their reason; they never fail a run.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from generator.workflow.findings import Finding, Location, Severity
from generator.workflow.rules.catalog import RULES, rule

WAIVER = re.compile(r"(?:^|\s)#\s*avgen:waive\b(?P<rest>.*)$")
RULE_ID = re.compile(r"AVG\d{3}$")


@dataclass(frozen=True)
class Waiver:
    rule_id: str
    reason: str
    line: int        # the line the comment is on (1-based)
    column: int
    target: int      # the line whose findings it waives


def read_waivers(text: str, file: str) -> tuple[list[Waiver], list[Finding]]:
    """Every waiver comment in the text, and an AVG030 finding for each one that is not valid."""
    waivers: list[Waiver] = []
    problems: list[Finding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = WAIVER.search(line)
        if not match:
            continue
        column = line.index("#", match.start()) + 1
        own_line = not line[: column - 1].strip()
        words = match["rest"].split(None, 1)
        rule_id = words[0] if words else ""
        reason = words[1].strip() if len(words) > 1 else ""
        where = Location(file, number, column)
        if not RULE_ID.match(rule_id) or rule_id not in RULES:
            problems.append(rule("AVG030").finding(
                f"the waiver names no rule avgen has ({rule_id or 'nothing'}); it waives nothing", where,
                "write `# avgen:waive AVG0xx why it is fine here` (ids: docs/rules.md)"))
            continue
        if not reason:
            problems.append(rule("AVG030").finding(
                f"the waiver of {rule_id} gives no reason; it waives nothing", where,
                f"say why it is fine here: `# avgen:waive {rule_id} reason`"))
            continue
        waivers.append(Waiver(rule_id, reason, number, column, number + 1 if own_line else number))
    return waivers, problems


def apply_waivers(text: str, file: str, findings: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """(findings that count, waived findings) for the findings of one file."""
    waivers, problems = read_waivers(text, file)
    by_place = {(w.rule_id, w.target): w for w in waivers}
    counted: list[Finding] = []
    waived: list[Finding] = []
    for finding in findings:
        waiver = by_place.get((finding.rule_id, finding.location.line))
        if waiver is None or finding.rule_id == "AVG030":
            counted.append(finding)
        elif finding.severity is Severity.ERROR:
            counted.append(finding)
            problems.append(rule("AVG030").finding(
                f"{finding.rule_id} is an error and cannot be waived: the workflow cannot be deployed as written",
                Location(file, waiver.line, waiver.column), "fix the error and remove the waiver"))
        else:
            waived.append(dataclasses.replace(finding, waiver=waiver.reason))
    return counted + problems, waived
