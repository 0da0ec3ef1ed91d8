"""Property: whatever the file holds, loading it gives a result with findings, never an exception.

Valid workflows (the examples, the SCAR seeds, the rule fixtures) are mutated structurally (keys dropped,
duplicated, renamed, values retyped, random scalars, huge numbers, deep nesting, unicode) and textually
(truncated, tabs, broken YAML, random characters), and random text is loaded as well. Every finding must
carry a catalog rule id with the catalog's severity and a place in the file (line ≥ 0).
"""
from __future__ import annotations

import copy
import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from generator.workflow import schema, source
from generator.workflow.findings import Severity, has_errors
from generator.workflow.graph import to_dot, to_mermaid
from generator.workflow.load import LoadResult, load_text
from generator.workflow.report import findings_report
from generator.workflow.rules import RULES
from tests.validate.test_source_libyaml import findings_by_ruamel

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).parent / "cases"
SEEDS = ROOT / "tests" / "data" / "scar-configs"  # copies of the SCAR seed files: nothing read from ../shared

# (path the text is loaded as, text): paths matter for init_script look-ups next to the file.
BASES = [(p, p.read_text(encoding="utf-8")) for p in [
    *sorted(ROOT.glob("examples/*/workflow.yaml")),
    *sorted(SEEDS.glob("*.yaml")),
    *sorted(SEEDS.glob("*-original/*.yaml")),  # SCAR's own files, the 3.x map form among them
    *(CASES / name for name in ("AVG004-pass-upper-limits.yaml", "AVG012-pass.yaml", "AVG015-fail.yaml",
                                "AVG021-fail.yaml", "AVG005-pass.yaml", "AVG006-fail.yaml", "AVG011-fail.yaml")),
]]
_safe = YAML(typ="safe")
PLAIN = [(path, _safe.load(text)) for path, text in BASES]

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

KEYS = sorted({
    "functions", "aws", "oscar", "lambda", "name", "container", "image", "environment", "Variables",
    "timeout_threshold", "init_script", "execution_mode", "memory", "timeout", "time", "log_level", "input",
    "output", "storage_provider", "path", "prefix", "suffix", "batch", "vcpus", "enable_gpu",
    "compute_resources", "instance_types", "max_v_cpus", "min_v_cpus", "desired_v_cpus", "type", "iam", "role",
    "cloudwatch", "log_retention_policy_in_days", "api_gateway", "storage_providers", "s3", "minio", "onedata",
    "access_key", "secret_key", "region", "avgen", "name_prefix", "tags", "backend", "buckets", "create",
    "alerts", "email", "defaults", "ephemeral_storage", "layers", "gpus", "", "<<", "~", "null", "true", "1",
    # SCAR 3.x's map form
    "lambda_role", "lambda_environment", "input_bucket", "output_bucket", "input_folder", "output_folder",
    "image_file", "asynchronous", "extra_payload", "supervisor_version", "c_args", "run_script",
})

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=-(10**30), max_value=10**30).map(lambda i: i * 10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
    st.sampled_from(["lambda", "batch", "lambda-batch", "s3", "s3.default", "minio.x", "INFO", "debug",
                     "g3s.xlarge", "g4dn.xlarge", "bucket/a/b/", "/", "", " ", "~", "null", "yes", "0x1F", "1e400",
                     "2001-12-14", "!!binary", "a" * 5000, "a" * 300, "a\x00b", "../" * 40, "é✓💥", "\t", "\x00",
                     "AKIA" + "X" * 16, "/etc/passwd", "/dev/zero"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=12), st.integers()), children, max_size=4),
    ),
    max_leaves=12,
)


def deep(depth: int, leaf=1):
    node = leaf
    for i in range(depth):
        node = {"a": node} if i % 2 else [node]
    return node


def check_finding(finding, path: str, lines: int) -> None:
    """What must hold for any finding of a file of `lines` lines at `path`."""
    assert finding.rule_id in RULES, finding
    assert isinstance(finding.severity, Severity)
    # AVG031 is a note where avgen.allow_default_vpc chooses the default VPC on purpose
    assert finding.severity is RULES[finding.rule_id].severity \
        or (finding.rule_id, finding.severity) == ("AVG031", Severity.INFO), finding
    assert isinstance(finding.message, str) and finding.message, finding
    assert isinstance(finding.hint, str)
    assert finding.location.file == path
    assert 0 <= finding.location.line <= lines, finding
    assert finding.location.column >= 0, finding
    assert (finding.location.line == 0) == (finding.location.column == 0), finding


def render_everything(workflow) -> None:
    """Every output made of a loaded workflow is made without an exception."""
    to_mermaid(workflow)
    to_dot(workflow)
    for function in workflow.functions:
        function.runtime_config_json()


def check(result: LoadResult, text: str, path: str) -> None:
    """What must hold for any input."""
    assert isinstance(result, LoadResult)
    lines = text.count("\n") + 2
    for finding in result.findings:
        check_finding(finding, path, lines)
    if result.workflow is None:
        assert has_errors(result.findings), "no workflow and no error to say why"
    assert result.ok == (result.workflow is not None and not has_errors(result.findings))
    json.dumps(findings_report({path: result.findings}))
    if result.workflow is not None:
        render_everything(result.workflow)


def load_and_check(text: str, path: Path | str) -> LoadResult:
    result = load_text(text, path)
    check(result, text, str(path))
    if source._CLoader is not None:  # libyaml's fast path and ruamel.yaml find the same
        assert result.findings == findings_by_ruamel(text, path)
    return result


# --- structural mutations --------------------------------------------------------------------------

def containers(node, acc=None):
    """Every (container, key-or-index) pair in a plain tree."""
    acc = [] if acc is None else acc
    if isinstance(node, dict):
        for key in list(node):
            acc.append((node, key))
            containers(node[key], acc)
    elif isinstance(node, list):
        for index in range(len(node)):
            acc.append((node, index))
            containers(node[index], acc)
    return acc


MUTATIONS = ["drop", "duplicate", "retype", "rename", "scalar", "deep", "huge", "empty", "wrap"]


def _drop(data: st.DataObject, parent, key) -> None:
    del parent[key]


def _duplicate(data: st.DataObject, parent, key) -> None:
    if isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    else:
        parent[f"{key}_copy" if data.draw(st.booleans()) else str(key).upper()] = copy.deepcopy(parent[key])


def _retype(data: st.DataObject, parent, key) -> None:
    value = parent[key]
    parent[key] = ([value] if not isinstance(value, list) else {"value": value}) \
        if data.draw(st.booleans()) else (str(value) if not isinstance(value, str) else len(value))


def _any_value(data: st.DataObject, parent, key) -> None:
    parent[key] = data.draw(values)


def _rename(data: st.DataObject, parent, key) -> None:
    if not isinstance(parent, dict):  # a list item has no name to change: any value instead
        _any_value(data, parent, key)
        return
    new = data.draw(st.one_of(st.sampled_from(KEYS), st.text(max_size=10), st.integers(),
                              st.just(str(key)[:-1] + str(key)[:1]), st.just(str(key).replace("_", ""))))
    parent[new] = parent.pop(key)


def _deep(data: st.DataObject, parent, key) -> None:
    parent[key] = deep(data.draw(st.integers(min_value=1, max_value=120)))


def _huge(data: st.DataObject, parent, key) -> None:
    parent[key] = data.draw(st.sampled_from([10**100, -(10**100), 2**63, 2**64 + 1, 1e308, float("inf"),
                                             -0.0, 10**400]))


def _empty(data: st.DataObject, parent, key) -> None:
    parent[key] = data.draw(st.sampled_from([None, "", [], {}]))


def _wrap(data: st.DataObject, parent, key) -> None:
    parent[key] = {"lambda": parent[key]} if data.draw(st.booleans()) else [parent[key], parent[key]]


MUTATORS = {"drop": _drop, "duplicate": _duplicate, "retype": _retype, "rename": _rename, "scalar": _any_value,
            "deep": _deep, "huge": _huge, "empty": _empty, "wrap": _wrap}
assert list(MUTATORS) == MUTATIONS


def mutate(data: st.DataObject, tree):
    spots = containers(tree)
    if not spots:
        return data.draw(values)
    parent, key = data.draw(st.sampled_from(spots))
    kind = data.draw(st.sampled_from(MUTATIONS))
    MUTATORS[kind](data, parent, key)
    return tree


_DUMPERS = {}
for _style in ("block", "flow"):
    _DUMPERS[_style] = YAML(typ="safe", pure=True)
    _DUMPERS[_style].default_flow_style = _style == "flow"


def dump(tree, style: str) -> str:
    """A tree as YAML text: block style, flow style, or JSON (which YAML reads too)."""
    if style == "json":
        return json.dumps(tree, ensure_ascii=False, default=str)
    out = io.StringIO()
    _DUMPERS[style].dump(tree, out)
    return out.getvalue()


@settings(FUZZ, max_examples=700)
@given(st.data())
def test_structural_mutations_never_crash(data):
    path, tree = data.draw(st.sampled_from(PLAIN))
    tree = copy.deepcopy(tree)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        tree = mutate(data, tree)
    try:
        text = dump(tree, data.draw(st.sampled_from(["block", "block", "flow", "json", "json"])))
    except Exception:  # the dumper's own limits (e.g. control characters): not what is tested here
        text = repr(tree)
    load_and_check(text, path)


# --- every field of the schema, any value ----------------------------------------------------------

VALID = {
    "functions": {"aws": [{
        "lambda": {"name": "split", "execution_mode": "lambda-batch", "init_script": "split-video.sh",
                   "container": {"image": "grycap/ffmpeg", "environment": {"Variables": {"FPS": "1"}}},
                   "input": [{"storage_provider": "s3", "path": "media-bucket/in", "suffix": [".mp4"]}],
                   "output": [{"storage_provider": "s3", "path": "media-bucket/out", "prefix": ["a"]}]},
        "batch": {"vcpus": 1, "enable_gpu": False,
                  "compute_resources": {"type": "EC2", "max_v_cpus": 2, "instance_types": ["c5.large"]}},
        "iam": {"role": "arn:aws:iam::123456789012:role/x"},
        "cloudwatch": {"log_retention_policy_in_days": 30},
    }]},
    "storage_providers": {"s3": {"archive": {"region": "eu-west-1"}}, "minio": {"lab": {"endpoint": "https://m"}}},
    "avgen": {"region": "eu-west-1", "name_prefix": "media-", "tags": {"team": "video"},
              "backend": {"type": "s3", "bucket": "tf-state", "key": "k"},
              "buckets": {"media-bucket": {"create": True}}, "alerts": {"email": "ops@example.com"},
              "defaults": {"lambda": {"memory": 1024}, "batch": {"vcpus": 1}}},
}
# where each section sits in VALID, and the schema model that describes it
SECTIONS = [
    (("functions", "aws", 0, "lambda"), schema.LambdaSpec),
    (("functions", "aws", 0, "lambda", "container"), schema.ContainerSpec),
    (("functions", "aws", 0, "lambda", "container", "environment", "Variables"), None),
    (("functions", "aws", 0, "lambda", "input", 0), schema.StorageItem),
    (("functions", "aws", 0, "lambda", "output", 0), schema.StorageItem),
    (("functions", "aws", 0), schema.FunctionEntry),
    (("functions", "aws", 0, "batch"), schema.BatchSpec),
    (("functions", "aws", 0, "batch", "compute_resources"), schema.ComputeResourcesSpec),
    (("functions", "aws", 0, "iam"), schema.IamSpec),
    (("functions", "aws", 0, "cloudwatch"), schema.CloudwatchSpec),
    (("functions",), schema.FunctionsSpec),
    ((), schema.WorkflowSpec),
    (("storage_providers",), schema.StorageProvidersSpec),
    (("storage_providers", "s3", "archive"), schema.S3Credentials),
    (("storage_providers", "minio", "lab"), schema.MinioCredentials),
    (("avgen",), schema.AvgenSettingsSpec),
    (("avgen", "backend"), schema.BackendSpec),
    (("avgen", "alerts"), schema.AlertsSpec),
    (("avgen", "buckets", "media-bucket"), schema.BucketSpec),
    (("avgen", "defaults", "lambda"), schema.LambdaDefaults),
    (("avgen", "defaults", "batch"), schema.BatchDefaults),
]


def field_names(model) -> list[str]:
    return sorted(f.alias or n for n, f in model.model_fields.items()) if model else ["FPS", "AWS_REGION", "X_TOKEN"]


def section_at(tree, where):
    """The node at path `where` (keys and list indexes), or None once a draw has replaced a part of it."""
    node = tree
    for part in where:
        # the type checks first: a list's index is compared, a dict's key looked up, never one for the other
        ok = ((isinstance(node, dict) and part in node)
              or (isinstance(node, list) and isinstance(part, int) and part < len(node)))
        node = node[part] if ok else None
    return node


def test_the_walk_survives_a_mapping_replaced_by_a_list_and_back():
    assert section_at({"functions": ["x"]}, ("functions", "aws", 0, "lambda")) is None
    assert section_at({"functions": {"aws": {"0": 1}}}, ("functions", "aws", 0)) is None
    assert section_at({"functions": {"aws": [{"lambda": 1}]}}, ("functions", "aws", 0, "lambda")) == 1


def test_the_suite_keeps_no_hypothesis_example_database():
    # a database left from earlier runs would replay old failures and make CI depend on the machine
    assert settings.default.database is None and FUZZ.database is None


@settings(FUZZ, max_examples=600)
@given(st.data())
def test_any_value_in_any_field_never_crashes(data):
    tree = copy.deepcopy(VALID)
    for _ in range(data.draw(st.integers(min_value=1, max_value=2))):
        where, model = data.draw(st.sampled_from(SECTIONS))
        node = section_at(tree, where)
        if not isinstance(node, dict):
            continue  # an earlier draw replaced this section
        key = data.draw(st.one_of(st.sampled_from(field_names(model)), st.sampled_from(KEYS)))
        node[key] = data.draw(st.one_of(scalars, values, st.integers(min_value=0, max_value=20000)))
    try:
        text = dump(tree, data.draw(st.sampled_from(["block", "json"])))
    except Exception:
        text = json.dumps(tree, default=repr)
    load_and_check(text, CASES / "fuzz.yaml")


# --- text mutations --------------------------------------------------------------------------------

JUNK = ["\t", ": ", "- ", "[", "]", "{", "}", "&a ", "*a", "*nope", "!!python/object ", "!foo ", "? ", "|",
        ">", "%YAML 1.1\n", "---\n", "...\n", "'", '"', "#", "\ufeff", "\x00", "\r", "\u2028", "<<: *a\n", "@",
        "`", "💥", "é", "\\", "\n  -\n", "key: [", ": :", "&a [*a]", "\xa0"]


@settings(FUZZ, max_examples=700)
@given(st.data())
def test_text_mutations_never_crash(data):
    path, text = data.draw(st.sampled_from(BASES))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        kind = data.draw(st.sampled_from(["truncate", "insert", "tabs", "dup-line", "drop-line", "indent",
                                          "unicode", "swap"]))
        lines = text.split("\n")
        at = data.draw(st.integers(min_value=0, max_value=max(len(text), 0)))
        row = data.draw(st.integers(min_value=0, max_value=max(len(lines) - 1, 0)))
        if kind == "truncate":
            text = text[:at]
        elif kind == "insert":
            text = text[:at] + data.draw(st.sampled_from(JUNK)) + text[at:]
        elif kind == "tabs":
            lines[row] = lines[row].replace("  ", "\t", data.draw(st.integers(min_value=1, max_value=3)))
            text = "\n".join(lines)
        elif kind == "dup-line":
            lines.insert(row, lines[row])
            text = "\n".join(lines)
        elif kind == "drop-line":
            del lines[row]
            text = "\n".join(lines)
        elif kind == "indent":
            lines[row] = " " * data.draw(st.integers(min_value=0, max_value=9)) + lines[row].lstrip()
            text = "\n".join(lines)
        elif kind == "unicode":
            text = text[:at] + data.draw(st.text(min_size=1, max_size=8)) + text[at:]
        else:
            other = data.draw(st.integers(min_value=0, max_value=max(len(lines) - 1, 0)))
            lines[row], lines[other] = lines[other], lines[row]
            text = "\n".join(lines)
    load_and_check(text, path)


# --- random documents ------------------------------------------------------------------------------

@settings(FUZZ, max_examples=500)
@given(st.one_of(st.text(), st.text(alphabet=" \t\n-:[]{}&*!|>'\"#?,aAz019.%@`\\", max_size=200)))
def test_random_text_never_crashes(text):
    load_and_check(text, "random/workflow.yaml")


@settings(FUZZ, max_examples=250)
@given(values, st.sampled_from(["block", "flow", "json"]))
def test_random_documents_never_crash(tree, style):
    for document in (tree, {"functions": tree}, {"functions": {"aws": [tree]}},
                     {"functions": {"aws": [{"lambda": tree}]}}):
        try:
            text = dump(document, style)
        except Exception:
            text = repr(document)
        load_and_check(text, "random/workflow.yaml")


@settings(FUZZ, max_examples=200)
@given(st.dictionaries(st.one_of(st.text(max_size=8), st.integers()),
                       st.dictionaries(st.sampled_from(KEYS), values, max_size=6), min_size=1, max_size=3),
       st.sampled_from(["block", "flow", "json"]))
def test_random_map_form_functions_never_crash(functions, style):
    """SCAR 3.x's `functions: NAME: {...}`, each function's keys from the 3.x and current vocabularies."""
    document = {"functions": functions}
    try:
        text = dump(document, style)
    except Exception:
        text = repr(document)
    load_and_check(text, "random/workflow.yaml")


# --- named edge cases (kept as plain tests so that they always run) --------------------------------

EDGE_CASES = {
    "empty": "",
    "only-comment": "# nothing\n",
    "bare-scalar": "42\n",
    "list": "- a\n- b\n",
    "null-functions": "functions:\n",
    "null-aws": "functions:\n  aws:\n",
    "null-lambda": "functions:\n  aws:\n  - lambda:\n",
    "null-entry": "functions:\n  aws:\n  -\n",
    "nested-too-deep": "functions: " + "[" * 400 + "]" * 400 + "\n",
    "recursive-alias": "functions: &a\n  aws: *a\n",
    "self-list": "a: &a [*a]\n",
    "billion-laughs": "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10)
    ) + "functions:\n  aws:\n  - lambda:\n      name: x\n      log_level: *a9\n      tags: {a: *a9}\n",
    "duplicate-key-with-huge-alias": "a: &a [" + ", ".join(["x"] * 10) + "]\nb: &b [" + ", ".join(["*a"] * 10)
    + "]\nfunctions:\n  aws: []\n  aws: *b\n",
    "null-byte-script": 'functions:\n  aws:\n  - lambda:\n      name: x\n      container: {image: y}\n'
                        '      init_script: "a\\0b"\n',
    "long-script-name": "functions:\n  aws:\n  - lambda:\n      name: x\n      container: {image: y}\n"
                        "      init_script: " + "a" * 5000 + "\n",
    "complex-key": "functions:\n  aws:\n  - lambda:\n      ? [a, b]\n      : 1\n      name: x\n",
    "int-keys": "functions:\n  aws:\n  - lambda:\n      name: x\n      1: 2\n      container:\n        environment:\n"
                "          Variables: {1: a, 2.5: b, null: c}\n",
    "tagged-values": "functions: !!map\n  aws:\n  - lambda:\n      name: !custom x\n      memory: !!float 512\n"
                     "      timeout: !!binary aGVsbG8=\n      container: {image: !!timestamp 2001-12-14}\n",
    "set": "functions:\n  aws: !!set {a, b}\n",
    "merge-keys": "base: &base {memory: 1024, container: {image: y}}\nfunctions:\n  aws:\n  - lambda:\n"
                  "      <<: *base\n      name: x\n",
    "bom-and-crlf": "\ufefffunctions:\r\n  aws:\r\n  - lambda:\r\n      name: x\r\n      container: {image: y}\r\n",
    "huge-numbers": "functions:\n  aws:\n  - lambda:\n      name: x\n      memory: " + "9" * 5000 + "\n"
                    "      timeout: 1e400\n      container: {image: y}\n",
    "nan": "functions:\n  aws:\n  - lambda:\n      name: x\n      memory: .nan\n      container: {image: y}\n",
    "two-documents": "functions: {aws: []}\n---\nfunctions: {aws: []}\n",
    "env-union": "functions:\n  aws:\n  - lambda:\n      name: x\n      container:\n        image: y\n"
                 "        environment: {Variables: {A: [1, 2], B: {c: d}}}\n",
    "image-with-null-container": "functions:\n  aws:\n  - lambda:\n      name: x\n      image: y\n      container:\n",
}


# what each edge case must give: the rule ids of its errors; none means a workflow comes out of it
EDGE_CASE_ERRORS = {
    "empty": {"AVG005"}, "only-comment": {"AVG005"}, "bare-scalar": {"AVG003"}, "list": {"AVG003"},
    "null-functions": {"AVG003"}, "null-aws": {"AVG003"}, "null-lambda": {"AVG003"}, "null-entry": {"AVG003"},
    "nested-too-deep": {"AVG001"}, "recursive-alias": {"AVG003"}, "self-list": {"AVG002", "AVG005"},
    "billion-laughs": {"AVG001"}, "duplicate-key-with-huge-alias": {"AVG001"}, "null-byte-script": {"AVG004"},
    "long-script-name": {"AVG004"}, "complex-key": {"AVG003"}, "int-keys": {"AVG003"}, "tagged-values": {"AVG003"},
    "set": {"AVG003"}, "merge-keys": {"AVG002"}, "bom-and-crlf": set(), "huge-numbers": {"AVG001"},
    "nan": {"AVG003"}, "two-documents": {"AVG001"}, "env-union": {"AVG003"}, "image-with-null-container": set(),
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_named_edge_cases(name):
    result = load_and_check(EDGE_CASES[name], f"edge/{name}.yaml")
    errors = {finding.rule_id for finding in result.findings if finding.severity is Severity.ERROR}
    assert errors == EDGE_CASE_ERRORS[name], [finding.message for finding in result.findings]
    assert (result.workflow is not None) == (not errors)  # a workflow exactly when nothing is wrong


def test_every_edge_case_says_what_it_must_give():
    assert set(EDGE_CASE_ERRORS) == set(EDGE_CASES)


# --- hostile init_script paths: an error each, never a crash, nor a hang reading a FIFO -------------------

HOSTILE_SCRIPTS = {  # init_script -> (rule, what the message says)
    "fifo.sh": ("AVG033", "is a FIFO (named pipe), not a regular file"),
    "folder": ("AVG033", "is a folder, not a regular file"),
    "/dev/zero": ("AVG033", "leads out of the workflow file's folder"),
    "/etc/shadow": ("AVG033", "leads out of the workflow file's folder"),
    "../../../../../../../../../../etc/passwd": ("AVG033", "leads out of the workflow file's folder"),
    "../sibling/script.sh": ("AVG033", "leads out of the workflow file's folder"),
    "out.sh": ("AVG033", "leads out of the workflow file's folder"),            # a symlink to /etc/passwd
    "in-then-out.sh": ("AVG033", "leads out of the workflow file's folder"),    # a symlink to out.sh
    "inside/device.sh": ("AVG033", "leads out of the workflow file's folder"),  # a symlink to /dev/null
    "loop.sh": ("AVG004", "cannot be a file path"),                             # a symlink to itself
}


def test_hostile_init_scripts_are_errors_never_a_crash(tmp_path):
    folder = tmp_path / "flow"
    (folder / "folder").mkdir(parents=True)
    (folder / "inside").mkdir()
    (tmp_path / "sibling").mkdir()
    (tmp_path / "sibling" / "script.sh").write_text("echo hi\n")
    os.mkfifo(folder / "fifo.sh")
    (folder / "out.sh").symlink_to("/etc/passwd")
    (folder / "in-then-out.sh").symlink_to("out.sh")
    (folder / "inside" / "device.sh").symlink_to("/dev/null")
    (folder / "loop.sh").symlink_to("loop.sh")
    (folder / "ok.sh").write_text("echo ok\n")
    (folder / "inside" / "link.sh").symlink_to("../ok.sh")  # a symlink that stays inside is fine
    for script, (rule_id, says) in HOSTILE_SCRIPTS.items():
        text = f"functions:\n  aws:\n  - lambda:\n      name: f\n      init_script: {script}\n" \
               "      container: {image: alpine:3}\n"
        result = load_and_check(text, folder / "workflow.yaml")
        [finding] = [f for f in result.findings if f.severity is Severity.ERROR]
        assert (finding.rule_id, finding.location.line, finding.location.column) == (rule_id, 5, 20), script
        assert says in finding.message, finding.message
        assert result.workflow is None
    for fine in ("ok.sh", "inside/link.sh", "./inside/../ok.sh"):
        text = f"functions:\n  aws:\n  - lambda:\n      name: f\n      init_script: {fine}\n" \
               "      container: {image: alpine:3}\n"
        result = load_and_check(text, folder / "workflow.yaml")
        assert result.ok and result.workflow.functions[0].script == (folder / "ok.sh").resolve(), fine

