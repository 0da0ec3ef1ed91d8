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


# The styles real workflows are written in, each read by libyaml (test_styles_take_the_fast_path)
STYLES = {
    "flow": "functions:\n  aws:\n" + "".join(
        f"  - {{lambda: {{name: fn{i}, memory: 1024, container: {{image: 'img:1', environment: {{Variables: "
        f"{{A: '1', B: \"x y\"}}}}}}, input: [{{storage_provider: s3, path: b/in{i}}}], "
        f"output: [{{storage_provider: s3, path: b/out{i}}}]}}}}\n" for i in range(3)),
    "json": '{"functions": {"aws": [{"lambda": {"name": "fn", "memory": 1024, "container": {"image": "i"},\n'
            '  "input": [{"storage_provider": "s3", "path": "b/in"}], "enable_gpu": false}}]}}\n',
    "anchors-and-merge-keys": "functions:\n  aws:\n  - lambda: &defaults\n      name: fn0\n      memory: 2048\n"
                              "      container: &container\n        image: img:1\n      log_level: &level DEBUG\n"
                              "  - lambda:\n      <<: *defaults\n      name: fn1\n      memory: 1024\n"
                              "  - lambda:\n      <<: [*defaults, {timeout: 30}]\n      name: fn2\n"
                              "      container: *container\n      log_level: *level\n",
    "block-scalars": "functions:\n  aws:\n  - lambda:\n      name: fn\n      container:\n        image: i\n"
                     "        environment:\n          Variables:\n            SCRIPT: |\n              echo a\n\n"
                     "                indented\n              # not a comment\n            FOLDED: >-\n"
                     "              one\n              two\n\n              three\n            KEEP: |+\n"
                     "              kept\n\n            INDENTED: |2\n                 four\n"
                     "      description: >\n        a &b *c !d\n",
    "nested-flow-beyond-the-old-bracket-count": "functions:\n  aws:\n" + "".join(
        f"  - {{lambda: {{name: f{i}, container: {{image: i}}}}}}\n" for i in range(700)),
}


@pytest.mark.parametrize("name", STYLES)
def test_styles_take_the_fast_path(name):
    """Read by libyaml, with ruamel's findings (the test above, on each) and ruamel's values and places."""
    text = STYLES[name]
    assert source._plain_enough(text) and _composes(text), name
    assert_same_findings(text, f"{name}.yaml")
    fast = source.parse_text(text, "w.yaml")
    saved, source._CLoader = source._CLoader, None
    try:
        slow = source.parse_text(text, "w.yaml")
    finally:
        source._CLoader = saved
    assert repr(source.to_plain(fast.root)) == repr(source.to_plain(slow.root))
    assert _places(fast.root) == _places(slow.root)


def _places(node, path=()) -> list:
    """Every key's and item's (line, column) and its value's, as `locate` reads them (merged keys: None)."""
    places = []
    if isinstance(node, dict):
        for key, value in node.items():
            places.append((path, key, source._position(node, key, key=True), source._position(node, key, key=False)))
            places += _places(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            places.append((path, index, node.lc.item(index)))
            places += _places(item, (*path, index))
    return places


@pytest.mark.parametrize("text", [
    "a: &x 1\nb: *x\n", "a: &x true\nb: *x\nc: &y ~\nd: *y\ne: &z 1.5\nf: &w 'q'\ng: [*z, *w]\n",
    "a: &a {x: 1}\nb: {<<: *a, y: 2}\nc: {y: 2, <<: *a, x: 3}\n", "a: &a {x: 1}\nb: {<<: [*a, {x: 2, z: 3}]}\n",
    "a: &a {x: 1}\nb: {<<: *a, <<: *a}\n", "a: &a [1]\nb: {<<: *a}\n", "a: {<<: 1}\n", "a: {<<: [1]}\n",
    "a: &a\n  b: *a\n", "a: &a [*a]\n", "a: *nowhere\n", "a: &a.b 1\nc: *a.b\n", "a: &a 1\n{*a : 2}\n",
    "a: &a x\nb: {*a : 2}\n", "a: &a {b: 1}\nc: *a\nd: {<<: *a}\ne: '<<'\n'<<': 1\n",
    "a: |\n  x\n\n   y\n", "a: >\n  x\n  y\n\n  z\n   w\n", "a: |-\n  x\n\n", "a: |+\n  x\n\n", "a: >2\n   x\n",
    "a: |\n", "a: >\n\nb: 1\n", "- |\n  x\n- >-\n  y\n", "a: |\n  x\n b: 1\n", "a: | # c\n  x\n",
    "|#", "a: |#\n  x\n", "a: |2-\n   x\n", "a: >+1\n  x\n", "a: |0\n  x\n", "a: x |y\n",
    "a: [b, [c, {d: [e]}]]\n", "{a: [b, c], d: {e: f}}\n", "a: [b,\n  c]\n", "a: {b: }\n", "a: [b, ]\n",
    "a: ! 1\nb: [! 2, c]\n", "! a: 1\n", "a: |\n  [ ! -f x ] && echo !\n", "a: 'x ! y'\nb: ! z\n", "a: b !c\n",
    "# a !b\na: 1 # c !d\n", "a: \"x\n  ! y\"\n",
    "&0:0", "&0 :0", "a: &x:y 1\nb: *x:y\n", "a: &é 1\n", "k: cmd && ls\nl: a*b\n", "a: |\n  x && y\n",
    "a: !!str 1\n", "a: 2001-12-14\n", "a: !!map {b: 1}\n", "a: 1\na: 2\n",
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
