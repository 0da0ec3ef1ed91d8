"""Every rule in the catalog, with a fixture that triggers it and one that does not.

Fixtures live in cases/ and are named RULE-pass[-what].yaml / RULE-fail[-what].yaml. Their first line says
what the loader must report:

    # expect: AVG002 at 6:7 hint "did you mean `memory`?"; AVG002 at 9:3
    # expect-absent: AVG010

A fail fixture must produce every expected finding (rule id, line:column, the catalog's severity and,
when given, a hint containing the text) and no error or warning it does not name. A pass fixture must
not produce its rule, and must load cleanly: no errors and no warnings (notes are allowed).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.workflow.findings import Severity
from generator.workflow.load import load_workflow
from generator.workflow.rules import RULES

CASES = Path(__file__).parent / "cases"
# Said of nearly every small fixture: no state backend (AVG034) and Batch in the default VPC (AVG031). The
# fixtures of the other rules leave them aside; their own fixtures check them like any rule.
AMBIENT = frozenset({"AVG031", "AVG034"})
EXPECT = re.compile(r'^(AVG\d{3}) at (\d+):(\d+)(?: hint "([^"]*)")?$')


@dataclass(frozen=True)
class Expected:
    rule_id: str
    line: int
    column: int
    hint: str | None


@dataclass(frozen=True)
class Case:
    path: Path
    rule_id: str
    kind: str  # "pass" | "fail"
    expected: tuple[Expected, ...]
    absent: tuple[str, ...]


def parse_case(path: Path) -> Case:
    match = re.match(r"^(AVG\d{3})-(pass|fail)(-[a-z0-9-]+)?\.yaml$", path.name)
    assert match, f"{path.name}: fixture names are RULE-pass[-what].yaml or RULE-fail[-what].yaml"
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    expected: list[Expected] = []
    absent: list[str] = []
    if first.startswith("# expect: "):
        for part in first.removeprefix("# expect: ").split("; "):
            item = EXPECT.match(part.strip())
            assert item, f"{path.name}: cannot read the expectation {part!r}"
            expected.append(Expected(item[1], int(item[2]), int(item[3]), item[4]))
    elif first.startswith("# expect-absent: "):
        absent = first.removeprefix("# expect-absent: ").split()
    else:
        pytest.fail(f"{path.name}: the first line must be `# expect: …` or `# expect-absent: …`")
    return Case(path, match[1], match[2], tuple(expected), tuple(absent))


CASE_FILES = sorted(CASES.glob("*.yaml"))


def test_every_catalog_rule_has_a_passing_and_a_failing_fixture():
    names = [p.name for p in CASE_FILES]
    missing = [f"{rule_id}-{kind}" for rule_id in RULES for kind in ("pass", "fail")
               if not any(n.startswith(f"{rule_id}-{kind}") for n in names)]
    assert not missing, f"rules without fixtures: {missing}"
    unknown = sorted({n[:6] for n in names} - set(RULES))
    assert not unknown, f"fixtures for rules the catalog does not have: {unknown}"


def test_fixture_headers_match_their_names():
    for path in CASE_FILES:
        case = parse_case(path)
        if case.kind == "fail":
            assert case.expected, f"{path.name}: a fail fixture names what it expects"
            assert case.rule_id in {e.rule_id for e in case.expected}, f"{path.name} must expect {case.rule_id}"
        else:
            assert case.absent == (case.rule_id,), f"{path.name}: `# expect-absent: {case.rule_id}`"


def _where(finding) -> tuple[str, int, int]:
    return finding.rule_id, finding.location.line, finding.location.column


def _show(findings) -> str:
    return "\n".join(f"  {f.rule_id} {f.severity.value} {f.location.line}:{f.location.column} {f.message} "
                     f"[{f.hint}]" for f in findings)


def _check_every_finding_names_the_file_and_a_catalog_rule(findings, path: Path) -> None:
    for finding in findings:
        assert finding.location.file == str(path)
        assert finding.rule_id in RULES


def _check_pass_fixture(case: Case, result, shown: str) -> None:
    assert case.rule_id not in {f.rule_id for f in result.findings}, shown
    noisy = [f for f in result.findings if f.severity is not Severity.INFO]
    assert not noisy, f"a pass fixture loads cleanly; got:\n{shown}"
    assert result.ok and result.workflow is not None


def _check_expected_finding(want: Expected, findings, shown: str) -> None:
    matches = [f for f in findings if _where(f) == (want.rule_id, want.line, want.column)]
    assert matches, f"expected {want.rule_id} at {want.line}:{want.column}; got:\n{shown}"
    assert any(f.severity is RULES[want.rule_id].severity for f in matches), shown
    if want.hint is not None:
        assert any(want.hint in f.hint for f in matches), f"no hint with {want.hint!r}:\n{shown}"
    assert all(f.message for f in matches)


def _check_nothing_unexpected_or_repeated(case: Case, findings, shown: str) -> None:
    wanted = {(e.rule_id, e.line, e.column) for e in case.expected}
    unexpected = [f for f in findings if f.severity is not Severity.INFO and _where(f) not in wanted]
    assert not unexpected, f"findings the fixture does not name:\n{shown}"
    found = [_where(f) for f in findings]
    assert len(found) == len(set(found)) or case.rule_id == "AVG016", f"a finding is reported twice:\n{shown}"


def _check_errors_and_only_errors_fail_the_file(case: Case, result, shown: str) -> None:
    # Errors fail the file; warnings and notes never do (legacy forms, oscar: … are accepted).
    expects_error = any(RULES[e.rule_id].severity is Severity.ERROR for e in case.expected)
    assert result.ok is not expects_error, shown
    if not expects_error:
        assert result.workflow is not None


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_rule_fixture(path: Path):
    case = parse_case(path)
    result = load_workflow(path)
    result.findings[:] = [f for f in result.findings if f.rule_id not in AMBIENT - {case.rule_id}]
    shown = _show(result.findings)
    _check_every_finding_names_the_file_and_a_catalog_rule(result.findings, path)

    if case.kind == "pass":
        _check_pass_fixture(case, result, shown)
        return

    for want in case.expected:
        _check_expected_finding(want, result.findings, shown)
    _check_nothing_unexpected_or_repeated(case, result.findings, shown)
    _check_errors_and_only_errors_fail_the_file(case, result, shown)


def test_token_shaped_values_are_flagged_without_being_shown(capsys):
    from typer.testing import CliRunner

    from generator.cli import app

    path = CASES / "AVG015-fail-token-values.yaml"
    result = load_workflow(path)
    messages = " ".join(f"{f.message} {f.hint}" for f in result.findings if f.rule_id == "AVG015")
    assert all(kind in messages for kind in ("GitHub token", "Slack webhook URL", "AWS access key id", "private key"))
    output = CliRunner().invoke(app, ["validate", str(path)]).output
    for secret in ("ghp_aBcDe", "T00000000", "AKIAIOSFODNN7EXAMPLE", "MIIEowIBAAKCAQEA"):
        assert secret not in messages and secret not in output
