"""`avgen validate --format sarif|github|json`: the machine formats' contracts."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.workflow.findings import Finding, Location, Severity
from generator.workflow.load import load_workflow
from generator.workflow.report import github_annotations, rule_anchor
from generator.workflow.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).parent / "cases"
RULES_MD = ROOT / "docs" / "rules.md"

# The part of the SARIF 2.1.0 schema (https://json.schemastore.org/sarif-2.1.0.json) that avgen's output
# uses: required properties, enums and formats as the schema states them; embedded so the test needs no network.
_MESSAGE = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "version": {"enum": ["2.1.0"]},
        "runs": {"type": "array", "items": {
            "type": "object",
            "required": ["tool"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "version": {"type": "string"},
                        "informationUri": {"type": "string", "format": "uri"},
                        "rules": {"type": "array", "uniqueItems": True, "items": {
                            "type": "object", "required": ["id"],
                            "properties": {
                                "id": {"type": "string"},
                                "name": {"type": "string"},
                                "shortDescription": _MESSAGE,
                                "fullDescription": _MESSAGE,
                                "help": _MESSAGE,
                                "helpUri": {"type": "string", "format": "uri"},
                                "defaultConfiguration": {"type": "object", "properties": {
                                    "level": {"enum": ["none", "note", "warning", "error"]}}},
                            }}},
                    }}}},
                "originalUriBaseIds": {"type": "object", "additionalProperties": {
                    "type": "object", "properties": {"uri": {"type": "string", "format": "uri"}}}},
                "results": {"type": "array", "items": {
                    "type": "object", "required": ["message"],
                    "properties": {
                        "ruleId": {"type": "string"},
                        "ruleIndex": {"type": "integer", "minimum": -1},
                        "level": {"enum": ["none", "note", "warning", "error"]},
                        "message": _MESSAGE,
                        "locations": {"type": "array", "items": {"type": "object", "properties": {
                            "physicalLocation": {"type": "object", "properties": {
                                "artifactLocation": {"type": "object", "properties": {
                                    "uri": {"type": "string", "format": "uri-reference"}}},
                                "region": {"type": "object", "properties": {
                                    "startLine": {"type": "integer", "minimum": 1},
                                    "startColumn": {"type": "integer", "minimum": 1}}},
                            }}}}},
                        "suppressions": {"type": "array", "items": {
                            "type": "object", "required": ["kind"],
                            "properties": {"kind": {"enum": ["inSource", "external"]},
                                           "justification": {"type": "string"}}}},
                    }}},
            }}},
    },
}


EXAMPLES = sorted(ROOT.glob("examples/*/workflow.yaml"))
BROKEN = "functions:\n  aws:\n  - lambda:\n      name: x\n      memroy: 5\n"


def run(*args, cwd: Path | None = None):
    old = Path.cwd()
    if cwd:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    finally:
        os.chdir(old)


SARIF_LEVELS = {"error": "error", "warning": "warning", "info": "note"}


def _check_sarif_rule_is_the_catalogs(r: dict, anchors: str) -> None:
    """One SARIF rule entry says what the catalog says of its rule and links to its section of docs/rules.md."""
    rule = RULES[r["id"]]
    assert r["name"] == rule.slug and r["shortDescription"]["text"] == rule.summary
    assert r["defaultConfiguration"]["level"] == SARIF_LEVELS[rule.severity.value]
    assert r["helpUri"].endswith(f"docs/rules.md#{rule_anchor(rule.id)}")
    assert f"## {rule.id} {rule.slug}" in anchors


def _check_sarif_result_points_at_its_rule_and_fixture(r: dict, rules: list[dict]) -> None:
    assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
    location = r["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].startswith("tests/validate/cases/AVG0")


def test_sarif_has_the_2_1_0_shape_with_the_rule_catalog():
    files = sorted(CASES.glob("AVG0*-fail*.yaml"))
    result = run("validate", "--format", "sarif", *[p.relative_to(ROOT) for p in files], cwd=ROOT)
    assert result.exit_code == 1
    report = json.loads(result.output)
    jsonschema.validate(report, SARIF_SUBSET, format_checker=jsonschema.FormatChecker())
    (sarif_run,) = report["runs"]
    rules = sarif_run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    anchors = RULES_MD.read_text(encoding="utf-8")
    for r in rules:
        _check_sarif_rule_is_the_catalogs(r, anchors)
    results = sarif_run["results"]
    assert {r["ruleId"] for r in results} >= {"AVG002", "AVG010", "AVG029"}
    for r in results:
        _check_sarif_result_points_at_its_rule_and_fixture(r, rules)
    memroy = next(r for r in results if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                  .endswith("AVG002-fail-memroy.yaml"))
    assert memroy["level"] == "error"
    assert memroy["locations"][0]["physicalLocation"]["region"] == {"startLine": 6, "startColumn": 7}


def assert_code_scanning_ready(report: dict) -> None:
    """What GitHub code scanning asks of a SARIF upload beyond the schema: every rule has `fullDescription`
    and `help` (text and Markdown, GH2012), every location names its base (`%SRCROOT%`, the repository's
    root) and the run says where that base is."""
    jsonschema.validate(report, SARIF_SUBSET, format_checker=jsonschema.FormatChecker())
    (sarif_run,) = report["runs"]
    rules = sarif_run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    for r in rules:
        assert r["fullDescription"]["text"].strip(), r["id"]
        assert r["help"]["text"].strip() and r["help"]["markdown"].strip(), r["id"]
    base = sarif_run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base.startswith("file://") and base.endswith("/")
    assert sarif_run["results"]
    for result in sarif_run["results"]:
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%" and not artifact["uri"].startswith("/")


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "workflow.yaml"
    path.write_text(BROKEN)
    return path


@pytest.mark.parametrize("name", [p.parent.name for p in EXAMPLES] + ["broken"])
def test_sarif_is_ready_for_code_scanning(name, broken):
    workflow = broken if name == "broken" else ROOT / "examples" / name / "workflow.yaml"
    result = run("validate", "-f", "sarif", workflow)
    assert result.exit_code == (1 if name == "broken" else 0)
    assert_code_scanning_ready(json.loads(result.output))


def test_sarif_rule_help_is_the_rules_section_of_the_docs():
    report = json.loads(run("validate", "-f", "sarif", CASES / "AVG002-fail-memroy.yaml").output)
    docs = RULES_MD.read_text(encoding="utf-8")
    for r in report["runs"][0]["tool"]["driver"]["rules"]:
        section = docs.split(f"## {r['id']} {r['name']}\n", 1)[1].split("\n## ", 1)[0].strip()
        published = "https://github.com/avgen/avgen/blob/main/docs/"
        assert r["help"]["markdown"].replace(f"{published}rules.md#", "#").replace(published, "") == section
        assert "**Severity:**" not in r["fullDescription"]["markdown"]
        assert "**" not in r["help"]["text"] and "](#" not in r["help"]["markdown"], r["id"]
    avg030 = next(r for r in report["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "AVG030")
    # links within docs/rules.md point at the published page, since the help is read elsewhere
    assert "(https://github.com/avgen/avgen/blob/main/docs/rules.md#waivers)" in avg030["help"]["markdown"]
    assert avg030["fullDescription"]["text"].startswith("An `# avgen:waive` comment (see Waivers) that waives")


def git_repository(tmp_path: Path, how: str) -> Path:
    """A repository with the workflow in media/: made by `git init`, or a worktree's `.git` file."""
    repo = tmp_path / "repo"
    (repo / "media").mkdir(parents=True)
    if how == "git init":
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
    else:
        (repo / ".git").write_text("gitdir: /elsewhere/.git/worktrees/repo\n")
    (repo / "media" / "workflow.yaml").write_text((CASES / "AVG002-fail-memroy.yaml").read_text())
    return repo


@pytest.mark.parametrize("how", ["git init", "worktree"])
def test_paths_are_relative_to_the_repository_root_from_a_subfolder(how, tmp_path):
    """A job with `working-directory: media` annotates media/workflow.yaml, where the file is in the
    repository, not workflow.yaml at its root."""
    repo = git_repository(tmp_path, how)
    report = json.loads(run("validate", "-f", "sarif", "workflow.yaml", cwd=repo / "media").output)
    assert_code_scanning_ready(report)
    (result,) = report["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "media/workflow.yaml"
    assert report["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.as_uri() + "/"
    annotations = run("validate", "-f", "github", "workflow.yaml", cwd=repo / "media").output
    assert annotations.startswith("::error file=media/workflow.yaml,line=6,col=7,title=AVG002::")
    # the same from the root, and from a folder beside it
    (repo / "other").mkdir()
    for cwd, name in ((repo, "media/workflow.yaml"), (repo / "other", "../media/workflow.yaml")):
        assert run("validate", "-f", "github", name, cwd=cwd).output.startswith("::error file=media/workflow.yaml,")


def test_sarif_uri_is_relative_to_the_working_directory(tmp_path):
    """Outside a git repository the working directory stands for the root."""
    workflow = tmp_path / "media" / "workflow.yaml"
    workflow.parent.mkdir()
    workflow.write_text((CASES / "AVG019-fail.yaml").read_text())
    report = json.loads(run("validate", "-f", "sarif", workflow, cwd=tmp_path).output)
    (result,) = [r for r in report["runs"][0]["results"] if r["ruleId"] == "AVG019"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "media/workflow.yaml"
    assert report["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.as_uri() + "/"
    assert result["level"] == "warning"


def test_sarif_for_an_unreadable_file_has_no_region(tmp_path):
    report = json.loads(run("validate", "-f", "sarif", "missing.yaml", cwd=tmp_path).output)
    (result,) = report["runs"][0]["results"]
    jsonschema.validate(report, SARIF_SUBSET)
    assert result["ruleId"] == "AVG001" and "region" not in result["locations"][0]["physicalLocation"]


def test_github_annotations(tmp_path):
    workflow = tmp_path / "workflow.yaml"
    workflow.write_text((CASES / "AVG002-fail-memroy.yaml").read_text())
    result = run("validate", "--format", "github", "workflow.yaml", cwd=tmp_path)
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith("::error file=workflow.yaml,line=6,col=7,title=AVG002::unknown key `memroy`")
    assert result.output.splitlines()[-1].startswith("1 file checked: 1 error")


@pytest.mark.parametrize("severity, command", [(Severity.ERROR, "error"), (Severity.WARNING, "warning"),
                                               (Severity.INFO, "notice")])
def test_github_commands_and_escaping(severity, command, tmp_path):
    finding = Finding("AVG015", severity, "50% of it,\nsecond line: here", Location("a,b:c.yaml", 3, 1))
    text = github_annotations({"a,b:c.yaml": [finding]}, tmp_path)
    assert text.splitlines()[0] == (f"::{command} file=a%2Cb%3Ac.yaml,line=3,col=1,title=AVG015::"
                                    "50%25 of it,%0Asecond line: here")


def test_json_has_a_version_and_keeps_its_keys():
    envelope = json.loads(run("validate", "-f", "json", CASES / "AVG002-fail-memroy.yaml").output)
    assert envelope["version"] == 2
    assert set(envelope) == {"version", "validate", "findings", "error"}
    report = envelope["validate"]
    assert set(report) == {"files", "summary"}
    assert set(report["files"][0]) == {"file", "findings", "waived"}
    assert report["summary"] == {"error": 1, "warning": 0, "info": 0, "waived": 0}


def _waived_example(tmp_path: Path, comment: str) -> Path:
    """The av-workflow example with a comment above its first placeholder bucket (AVG029)."""
    example = ROOT / "examples" / "av-workflow" / "workflow.yaml"
    lines = example.read_text().splitlines(keepends=True)
    (placeholder,) = [f for f in load_workflow(example).findings if f.rule_id == "AVG029"]
    index = placeholder.location.line - 1
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines.insert(index, f"{indent}{comment}\n")
    workflow = tmp_path / "workflow.yaml"
    workflow.write_text("".join(lines))
    for script in (ROOT / "examples" / "av-workflow").glob("*.sh"):
        (tmp_path / script.name).write_text(script.read_text())
    return workflow


def test_a_waiver_keeps_strict_green_and_is_listed(tmp_path):
    workflow = _waived_example(tmp_path, "# avgen:waive AVG029 a sandbox-only demo, never applied on AWS")
    assert run("validate", "--strict", workflow).exit_code == 0
    text = run("validate", "--strict", workflow).output
    assert "waived  AVG029" in text and "a sandbox-only demo" in text and "1 waived" in text
    report = json.loads(run("validate", "-f", "json", workflow).output)["validate"]
    (waived,) = report["files"][0]["waived"]
    assert waived["rule_id"] == "AVG029" and waived["waiver"] == "a sandbox-only demo, never applied on AWS"
    assert report["summary"]["warning"] == 0 and report["summary"]["waived"] == 1
    sarif = json.loads(run("validate", "-f", "sarif", workflow, cwd=tmp_path).output)
    (result,) = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "AVG029"]
    jsonschema.validate(sarif, SARIF_SUBSET)
    assert result["suppressions"] == [{"kind": "inSource",
                                       "justification": "a sandbox-only demo, never applied on AWS"}]
    assert "AVG029" not in run("validate", "-f", "github", workflow, cwd=tmp_path).output


def test_a_waiver_without_reason_waives_nothing(tmp_path):
    _waived_example(tmp_path, "# avgen:waive AVG029")
    result = run("validate", "--strict", "-f", "github", "workflow.yaml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "title=AVG030::the waiver of AVG029 gives no reason" in result.output
    assert "title=AVG029::" in result.output
