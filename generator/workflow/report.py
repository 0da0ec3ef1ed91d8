"""Findings as text, JSON, SARIF or GitHub workflow commands for the CLI; pure functions returning strings.

`results` maps each file (as the user named it) to its findings, waived ones included (`Finding.waiver`):
the formats list waived findings, but never count them.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urljoin

import generator
from generator.workflow.docs import doc_text, first_paragraph, plain, rule_sections
from generator.workflow.findings import Finding, Severity, active
from generator.workflow.rules.catalog import RULES, Rule

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


def source_root(files: list[str], cwd: Path) -> Path:
    """What paths in SARIF and annotations are relative to: the git repository that holds the files (code
    scanning and annotations name files from the repository's root, whatever the job's working directory),
    found by walking up from each file's folder to a `.git` (a folder, or a file in a worktree). Files
    outside a repository, or in different ones, are relative to `cwd`."""
    roots = set()
    for file in files:
        folder = _absolute(file, cwd).parent
        roots.add(next((d for d in (folder, *folder.parents) if (d / ".git").exists()), None))
    root = roots.pop() if len(roots) == 1 else None
    return root or cwd


def _absolute(file: str, cwd: Path) -> Path:
    return Path(os.path.abspath(cwd / file))  # `..` folded, symlinks kept (an absolute `file` stays itself)


def _relative_path(file: str, cwd: Path, base: Path) -> str:
    absolute = _absolute(file, cwd)
    try:
        return Path(os.path.relpath(absolute, os.path.abspath(base))).as_posix()
    except ValueError:  # another drive (Windows)
        return absolute.as_posix()


def _folder_uri(folder: Path) -> str:
    uri = Path(os.path.abspath(folder)).as_uri()
    return uri if uri.endswith("/") else uri + "/"  # SARIF: a base URI ends with `/`


def _markdown_with_absolute_links(markdown: str) -> str:
    # the help is shown away from docs/rules.md (GitHub's alert page, IDEs): `#waivers`, `deploy.md` → URLs
    return re.sub(r"\]\(([^)]+)\)", lambda m: f"]({urljoin(RULES_DOC_URL, m.group(1))})", markdown)


def sarif_rule(rule: Rule, section: str) -> dict:
    """A rule of the driver, its section of docs/rules.md as `fullDescription` (the first paragraph) and
    `help` (all of it): GitHub code scanning requires both. A rule without a section gets its summary."""
    section = section or rule.summary
    description = re.sub(r"^\*\*Severity:\*\* \w+\. ", "", first_paragraph(section))
    return {
        "id": rule.id,
        "name": rule.slug,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": plain(description), "markdown": _markdown_with_absolute_links(description)},
        "help": {"text": plain(section), "markdown": _markdown_with_absolute_links(section)},
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
        "helpUri": f"{RULES_DOC_URL}#{rule_anchor(rule.id)}",
    }


def sarif(results: dict[str, list[Finding]], cwd: Path) -> str:
    """SARIF 2.1.0 (GitHub code scanning, IDE viewers): one run, the rule catalog as the driver's rules,
    locations relative to `source_root` (as `%SRCROOT%`); waived findings are results with an in-source
    suppression."""
    ids = list(RULES)
    sections = rule_sections(doc_text("rules.md"))
    rules = [sarif_rule(rule, sections.get(rule.id, "")) for rule in RULES.values()]
    root = source_root(list(results), cwd)
    sarif_results = []
    for file, findings in results.items():
        for f in findings:
            location: dict = {"artifactLocation": {"uri": quote(_relative_path(file, cwd, root)),
                                                   "uriBaseId": "%SRCROOT%"}}
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
            "originalUriBaseIds": {"%SRCROOT%": {"uri": _folder_uri(root)}},
            "results": sarif_results,
        }],
    }, indent=2)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(results: dict[str, list[Finding]], cwd: Path) -> str:
    """GitHub Actions workflow commands (`::error file=…,line=…,col=…,title=…::message`): annotations on the
    pull request's lines, paths relative to `source_root`. Waived findings are not annotated."""
    root = source_root(list(results), cwd)
    lines = []
    for file, findings in results.items():
        for f in active(findings):
            props = [f"file={_escape_property(_relative_path(file, cwd, root))}"]
            if f.location.line:
                props += [f"line={f.location.line}", f"col={max(f.location.column, 1)}"]
            props.append(f"title={_escape_property(f.rule_id)}")
            message = f.message + (f" → {f.hint}" if f.hint else "")
            lines.append(f"::{GITHUB_COMMAND[f.severity]} {','.join(props)}::{_escape_data(message)}")
    lines.append(summary_line(results))
    return "\n".join(lines) + "\n"
