"""libyaml's fast path gives the same findings as ruamel.yaml (messages, file:line:column) on every fixture;
the fuzz tests compare the two on every text they load (test_fuzz.load_and_check)."""
from __future__ import annotations

from pathlib import Path

import pytest

from generator.workflow import source
from generator.workflow.load import load_text

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = sorted([*(Path(__file__).parent / "cases").glob("*.yaml"), *ROOT.glob("examples/*/workflow.yaml"),
                   *(ROOT / "tests" / "data" / "scar-configs").glob("*.yaml")])


def findings_by_ruamel(text: str, path: Path | str) -> list:
    fast, source._CLoader = source._CLoader, None
    try:
        return load_text(text, path).findings
    finally:
        source._CLoader = fast


def assert_same_findings(text: str, path: Path | str) -> None:
    assert load_text(text, path).findings == findings_by_ruamel(text, path)


pytestmark = pytest.mark.skipif(source._CLoader is None, reason="PyYAML without libyaml: ruamel reads everything")


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name)
def test_same_findings_as_ruamel(path):
    assert_same_findings(path.read_text(encoding="utf-8"), path)


def test_fast_path_reads_the_plain_fixtures():
    """Most fixtures go through libyaml (else the equality above proves little)."""
    fast = [p for p in FIXTURES if source._plain_enough(text := p.read_text(encoding="utf-8"))
            and _composes(text)]
    assert len(fast) >= 0.8 * len(FIXTURES)


def _composes(text: str) -> bool:
    try:
        source._compose_fast(text)
    except Exception:
        return False
    return True


@pytest.mark.parametrize("text", [
    "a: &x 1\nb: *x\n", "a: !!str 1\n", "a: 2001-12-14\n", "a: !!map {b: 1}\n", "a: 1\na: 2\n",
    "%YAML 1.1\n---\na: yes\n", "a: yes\nb: 0o17\nc: 1_000\nd: .inf\ne: ~\nf: 'x'\ng: 012\nh: 0x1f\n",
    "[a, b\n", "a: b: c\n", "- a\n- b: c\n  d: é\n",
    "a:\n\tb: 1\n", "\ufeffa: 1\n", "", "---\n...\n", "a: 1\n---\nb: 2\n", "? [a]\n: 1\n", "a: \"\\u00e9\"\n",
])
def test_edge_cases_same_as_ruamel(text):
    assert_same_findings(text, "workflow.yaml")
    try:
        fast = source.parse_text(text, "w.yaml")
    except source.YamlSyntaxError as exc:
        fast_result: object = exc.message, exc.location
    else:
        fast_result = source.to_plain(fast.root)
    saved, source._CLoader = source._CLoader, None
    try:
        slow = source.parse_text(text, "w.yaml")
    except source.YamlSyntaxError as exc:
        slow_result: object = exc.message, exc.location
    else:
        slow_result = source.to_plain(slow.root)
    finally:
        source._CLoader = saved
    assert repr(fast_result) == repr(slow_result)  # types too (True is not 1)


def test_plain_scalars_typed_without_ruamel_as_ruamel_types_them():
    """The shortcut for plain scalars (text when the first character cannot start anything else, decimal
    ints) relies on ruamel's YAML 1.2 resolver table: its first characters are exactly _MAYBE_TYPED, and on
    every sample the shortcut gives what ruamel gives (value and type)."""
    ruamel = source._yaml()
    table = ruamel.resolver.versioned_resolver
    assert set(table) - {""} == set(source._MAYBE_TYPED)
    # a word's first letter leads only to bool and null, and only for the words the shortcut knows
    assert {tag for letter in "FNTfnt" for tag, _ in table[letter]} == {"tag:yaml.org,2002:bool",
                                                                        "tag:yaml.org,2002:null"}
    words = [w + end for w in ("true", "false", "null") for case in (str.lower, str.title, str.upper)
             for w in [case(w)] for end in ("", "x", " ", "e")] + ["yes", "no", "on", "off", "tRUE", "nULL", "n", "t"]
    for word in words:
        matched = [tag for tag, pattern in table.get(word[0], []) if pattern.match(word)]
        assert bool(matched) == (word in source._WORDS), word
    samples = ["lambda", "512", "1", "90", "10240", "007", "0", "1_000", "1e3", "12.5", "2024-01-02", "true", "True",
               "null", "~", "yes", "no", "on", "off", "fn0001", "x/y:1", "us-east-1", "s3", "-1", "+5", ".5", ".inf",
               "0x1f", "0o17", "123456789012345678901234567890", "5a", "5 ", "Null", "NULL", "FALSE", "<<", "=",
               "ñandú", "éa", "1\n2", *words, "functions", "timeout", "name", "ffmpeg-script.sh"]
    for text in samples:
        shortcut, by_ruamel = source._Scalars(), source._Scalars()
        by_ruamel.resolvers = ruamel.resolver.versioned_resolver  # every sample through ruamel's table
        by_ruamel.constructor = ruamel.constructor
        try:
            expected = by_ruamel._typed(text)
        except source._NotPlain:
            with pytest.raises(source._NotPlain):
                shortcut.value(text)
            continue
        got = shortcut.value(text)
        assert (got, type(got)) == (expected, type(expected)), text


def test_plain_document_does_not_import_ruamel():
    """A plain workflow (the av-workflow example: its comments draw arrows with `-->`) is read by libyaml alone."""
    import subprocess
    import sys

    example = ROOT / "examples" / "av-workflow" / "workflow.yaml"
    code = ("import sys; from generator.workflow.load import load_workflow; from pathlib import Path; "
            f"r = load_workflow(Path({str(example)!r})); assert r.workflow is not None; "
            "print(sorted(m for m in sys.modules if m.startswith('ruamel')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
