"""Findings as text, JSON, SARIF or GitHub workflow commands for the CLI; pure functions returning strings.

`results` maps each file (as the user named it) to its findings, waived ones included (`Finding.waiver`):
the formats list waived findings, but never count them.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import generator
from generator.workflow.findings import Finding, Severity, active
from generator.workflow.rules.catalog import RULES

# Where avgen is published: rule links in SARIF (helpUri) point into its docs/rules.md.
REPOSITORY_URL = "https://github.com/avgen/avgen"
RULES_DOC_URL = f"{REPOSITORY_URL}/blob/main/docs/rules.md"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
GITHUB_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def findings_report(results: dict[str, list[Finding]]) -> dict:
    """validate's result for tools (the CLI puts it in its JSON envelope, with `version`)."""
    return {
        "files": [
            {"file": file,
             "findings": [f.to_dict() for f in active(findings)],
             "waived": [f.to_dict() for f in findings if f.waiver]}
            for file, findings in results.items()
        ],
        "summary": summary_counts(results),
    }


def without_info(results: dict[str, list[Finding]]) -> dict[str, list[Finding]]:
    """The results less info findings (`validate -q`), for every format alike."""
    return {file: [f for f in findings if f.severity is not Severity.INFO] for file, findings in results.items()}


def summary_counts(results: dict[str, list[Finding]]) -> dict[str, int]:
    counts = Counter(f.severity.value for findings in results.values() for f in active(findings))
    summary = {severity.value: counts.get(severity.value, 0) for severity in Severity}
    summary["waived"] = sum(1 for findings in results.values() for f in findings if f.waiver)
    return summary


def summary_line(results: dict[str, list[Finding]]) -> str:
    counts = summary_counts(results)
    files = len(results)
    parts = [f"{counts['error']} error{'s' * (counts['error'] != 1)}",
             f"{counts['warning']} warning{'s' * (counts['warning'] != 1)}",
             f"{counts['info']} note{'s' * (counts['info'] != 1)}"]
    if counts["waived"]:
        parts.append(f"{counts['waived']} waived")
    return f"{files} file{'s' * (files != 1)} checked: " + ", ".join(parts)


def rule_anchor(rule_id: str) -> str:
    """The heading anchor of a rule in docs/rules.md (`## AVG002 unknown-key` → `avg002-unknown-key`)."""
    return f"{rule_id.lower()}-{RULES[rule_id].slug}"


def _relative_path(file: str, cwd: Path) -> str:
    path = Path(file)
    absolute = path if path.is_absolute() else cwd / path
    try:
        return Path(os.path.relpath(absolute, cwd)).as_posix()
    except ValueError:  # another drive (Windows)
        return absolute.as_posix()


def _relative_uri(file: str, cwd: Path) -> str:
    return quote(_relative_path(file, cwd))


def sarif(results: dict[str, list[Finding]], cwd: Path) -> str:
    """SARIF 2.1.0 (GitHub code scanning, IDE viewers): one run, the rule catalog as the driver's rules,
    locations relative to `cwd`; waived findings are results with an in-source suppression."""
    ids = list(RULES)
    rules = [{
        "id": rule.id,
        "name": rule.slug,
        "shortDescription": {"text": rule.summary},
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
        "helpUri": f"{RULES_DOC_URL}#{rule_anchor(rule.id)}",
    } for rule in RULES.values()]
    sarif_results = []
    for file, findings in results.items():
        for f in findings:
            location: dict = {"artifactLocation": {"uri": _relative_uri(file, cwd)}}
            if f.location.line:
                location["region"] = {"startLine": f.location.line, "startColumn": max(f.location.column, 1)}
            result: dict = {
                "ruleId": f.rule_id,
                "level": SARIF_LEVEL[f.severity],
                "message": {"text": f.message + (f" ({f.hint})" if f.hint else "")},
                "locations": [{"physicalLocation": location}],
            }
            if f.rule_id in RULES:
                result["ruleIndex"] = ids.index(f.rule_id)
            if f.waiver:
                result["suppressions"] = [{"kind": "inSource", "justification": f.waiver}]
            sarif_results.append(result)
    return json.dumps({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "avgen", "version": generator.__version__, "informationUri": REPOSITORY_URL,
                                "rules": rules}},
            "results": sarif_results,
        }],
    }, indent=2)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(results: dict[str, list[Finding]], cwd: Path) -> str:
    """GitHub Actions workflow commands (`::error file=…,line=…,col=…,title=…::message`): annotations on the
    pull request's lines. Waived findings are not annotated."""
    lines = []
    for file, findings in results.items():
        for f in active(findings):
            props = [f"file={_escape_property(_relative_path(file, cwd))}"]
            if f.location.line:
                props += [f"line={f.location.line}", f"col={max(f.location.column, 1)}"]
            props.append(f"title={_escape_property(f.rule_id)}")
            message = f.message + (f" → {f.hint}" if f.hint else "")
            lines.append(f"::{GITHUB_COMMAND[f.severity]} {','.join(props)}::{_escape_data(message)}")
    lines.append(summary_line(results))
    return "\n".join(lines) + "\n"
