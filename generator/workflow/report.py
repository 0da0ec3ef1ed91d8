"""Findings as text or JSON for the CLI; pure functions returning strings."""
from __future__ import annotations

import json
from collections import Counter

from generator.workflow.findings import Finding, Severity


def findings_json(results: dict[str, list[Finding]]) -> str:
    return json.dumps(
        {
            "files": [
                {"file": file, "findings": [f.to_dict() for f in findings]}
                for file, findings in results.items()
            ],
            "summary": summary_counts(results),
        },
        indent=2,
    )


def summary_counts(results: dict[str, list[Finding]]) -> dict[str, int]:
    counts = Counter(f.severity.value for findings in results.values() for f in findings)
    return {severity.value: counts.get(severity.value, 0) for severity in Severity}


def summary_line(results: dict[str, list[Finding]]) -> str:
    counts = summary_counts(results)
    files = len(results)
    parts = [f"{counts['error']} error{'s' * (counts['error'] != 1)}",
             f"{counts['warning']} warning{'s' * (counts['warning'] != 1)}",
             f"{counts['info']} note{'s' * (counts['info'] != 1)}"]
    return f"{files} file{'s' * (files != 1)} checked: " + ", ".join(parts)
