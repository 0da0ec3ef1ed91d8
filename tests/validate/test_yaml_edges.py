"""YAML a user can write that ruamel cannot construct, and keys merged in with `<<`: findings with a
position, never a traceback (issue 16, item 9), and never the value itself (it may be a secret)."""
from __future__ import annotations

import pytest

from generator.workflow import source
from generator.workflow.load import load_text

TAGGED = ['functions: !!float ""', 'functions: !!int ""', "functions: !!bool maybe", "functions: !!set a",
          "functions: !!omap a"]


@pytest.mark.parametrize("text", TAGGED)
def test_a_value_its_tag_cannot_make_is_an_avg001_at_the_tag(text):
    [finding] = load_text(text + "\n").findings
    assert finding.rule_id == "AVG001" and (finding.location.line, finding.location.column) == (1, 12)


def test_a_secret_under_a_tag_is_not_echoed():
    text = "storage_providers:\n  s3:\n    mine:\n      access_key: x\n      secret_key: !!int hunter2\n"
    findings = load_text(text).findings
    assert findings and all("hunter2" not in f.message + f.hint for f in findings)


def test_an_error_in_a_merged_key_is_reported_where_the_merge_is():
    text = ("base: &b {memory: x}\nfunctions:\n  aws:\n  - lambda:\n      <<: *b\n      name: f\n"
            "      container: {image: i}\n")
    findings = [f for f in load_text(text).findings if f.rule_id == "AVG003"]
    assert findings and "memory" in findings[0].message and findings[0].location.line >= 4


def test_a_merge_key_at_the_top_of_a_section_is_a_finding():
    findings = load_text("functions:\n  <<: {a: 1}\n").findings
    assert findings and all(f.location.line >= 1 for f in findings)


def billion_laughs(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nfunctions: *a{levels - 1}\n"


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "ruamel"])
def test_an_alias_bomb_is_refused_at_once(fast, monkeypatch):
    """Refused where it first expands past the bound (a4: 11,111 x 10 values), on either path."""
    import time

    if not fast:
        monkeypatch.setattr(source, "_CLoader", None)
    began = time.monotonic()
    [finding] = load_text(billion_laughs(12)).findings
    assert time.monotonic() - began < 30  # expanded, it would never end: a loose bound catches it and never flakes
    assert finding.rule_id == "AVG001" and "aliases" in finding.message and "111,111 values" in finding.message
    assert (finding.location.line, finding.location.column) == (5, 5)


def test_an_alias_bomb_of_merge_keys_is_refused():
    lines = ["m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10}"]
    lines += [f"m{i}: &m{i} [{', '.join([f'{{<<: *m{i - 1}}}' if i == 1 else f'*m{i - 1}'] * 10)}]"
              for i in range(1, 9)]
    [finding] = load_text("\n".join(lines) + "\nfunctions: {aws: *m8}\n").findings
    assert finding.rule_id == "AVG001" and "aliases" in finding.message


def test_an_anchor_merged_into_every_function_loads_at_any_size():
    """`<<: *defaults` in each of 500 functions: 500 aliases, each expanding to a few values."""
    functions = "".join(f"  - lambda:\n      <<: *defaults\n      name: fn{i}\n" for i in range(1, 500))
    text = ("functions:\n  aws:\n  - lambda: &defaults\n      name: fn0\n      memory: 1024\n      timeout: 300\n"
            "      container:\n        image: example/img:1\n        environment:\n"
            "          Variables: {A: '1', B: '2'}\n" + functions)
    result = load_text(text, run_rules=False)
    assert not [f for f in result.findings if f.rule_id == "AVG001"], [str(f) for f in result.findings][:3]
    assert result.workflow is not None and len(result.workflow.functions) == 500
    assert {(f.memory, f.timeout) for f in result.workflow.functions} == {(1024, 300)}


def test_a_huge_file_is_refused_before_parsing():
    [finding] = load_text("# " + "x" * 3_000_000 + "\n").findings
    assert finding.rule_id == "AVG001" and "at most" in finding.message
