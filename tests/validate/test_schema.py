"""`avgen schema`: the JSON Schema for editors accepts what the loader accepts and rejects typos."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from generator.cli import app
from generator.workflow.load import load_workflow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(ROOT.glob("examples/*/workflow.yaml"))
SCAR_SEEDS = sorted((ROOT / "tests" / "data" / "scar-configs").glob("*.yaml"))
SCAR_3_MAP_FORM = sorted((ROOT / "tests" / "data" / "scar-configs" / "video-process-original").glob("*.yaml"))
FORMAT_MD = ROOT / "docs" / "workflow-format.md"


@pytest.fixture(scope="module")
def validator():
    result = CliRunner().invoke(app, ["schema"], catch_exceptions=False)
    assert result.exit_code == 0
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def data(path: Path):
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def test_the_files_to_check_are_there():
    assert len(EXAMPLES) >= 2 and len(SCAR_SEEDS) >= 2 and SCAR_3_MAP_FORM


@pytest.mark.parametrize("path", EXAMPLES + SCAR_SEEDS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_accepts_the_examples_and_the_scar_seeds(validator, path):
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data(path))]
    assert not errors, errors


def test_accepts_the_old_scar_spellings_the_loader_rewrites(validator):
    workflow = {"functions": {"aws": [{"lambda": {"name": "split", "image": "grycap/ffmpeg", "time": 300,
                                                  "log_level": "debug"}}]}}
    assert not list(validator.iter_errors(workflow))


@pytest.mark.parametrize("path", SCAR_3_MAP_FORM, ids=lambda p: p.name)
def test_accepts_scar_3_map_form_as_the_loader_does(validator, path):
    # SCAR 3.x wrote `functions: {NAME: {...}}`; the loader reads it with a warning (AVG032), the schema too
    assert not list(validator.iter_errors(data(path)))
    findings = load_workflow(path).findings
    assert any(f.rule_id == "AVG032" for f in findings)
    assert not any(f.severity.value == "error" for f in findings)


def test_rejects_a_typo_in_scar_3_map_form(validator):
    workflow = {"functions": {"split": {"image": "grycap/ffmpeg", "s3": {"input_bukcet": "b"}}}}
    assert list(validator.iter_errors(workflow))


def _all_errors(errors):
    """The errors and, for optional sections (`anyOf` with null), the errors inside them."""
    for error in errors:
        yield error
        yield from _all_errors(error.context or [])


@pytest.mark.parametrize("where, typo", [
    (("functions", "aws", 0, "lambda"), "memroy"),
    (("functions", "aws", 0, "lambda", "container"), "imgae"),
    (("avgen",), "regoin"),
    ((), "storage_provider"),
])
def test_rejects_a_typo(validator, where, typo):
    workflow = data(EXAMPLES[0])
    node = workflow
    for step in where:
        node = node.setdefault(step, {}) if isinstance(step, str) else node[step]
    node[typo] = 1
    messages = [e.message for e in _all_errors(validator.iter_errors(workflow))]
    assert any(typo in m and "Additional properties" in m for m in messages), messages


def test_descriptions_and_the_editor_line_are_documented(validator):
    schema = validator.schema
    assert schema["description"].startswith("An avgen workflow")
    assert schema["$defs"]["LambdaSpec"]["properties"]["image"]["deprecated"] is True
    assert all(definition.get("description") for definition in schema["$defs"].values())
    assert "# yaml-language-server: $schema=" in FORMAT_MD.read_text(encoding="utf-8")


def schema_properties(node, path: str = "#"):
    """(path, schema) of every property anywhere in the schema: $defs, nested objects, anyOf branches."""
    if isinstance(node, dict):
        for key, value in (node.get("properties") or {}).items():
            yield f"{path}.{key}", value
        for key, value in node.items():
            yield from schema_properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from schema_properties(value, f"{path}[{i}]")


def test_every_property_has_a_description(validator):
    """An editor's hover shows it: each key's row of docs/workflow-format.md."""
    properties = list(schema_properties(validator.schema))
    assert len(properties) > 150
    missing = [path for path, value in properties if not str(value.get("description", "")).strip()]
    assert not missing, missing


def test_descriptions_are_the_docs_rows(validator):
    """One source: the text of a key's row in docs/workflow-format.md, as plain text."""
    text = FORMAT_MD.read_text(encoding="utf-8")
    defs = validator.schema["$defs"]
    memory = defs["LambdaSpec"]["properties"]["memory"]["description"]
    assert "| `memory` | integer (MB) | `512` | 128–10240 | Lambda memory (CPU scales with it) |" in text
    assert memory == "Lambda memory (CPU scales with it)"
    # a link within the page is left out, emphasis goes, a row about several keys describes each
    assert defs["FunctionEntry"]["properties"]["lambda"]["description"] == (
        "the function: name, image, script, triggers, outputs")
    assert defs["LambdaSpec"]["properties"]["vpc"]["description"] == (
        defs["LambdaSpec"]["properties"]["runtime"]["description"]) == "accepted and ignored with an AVG008 warning"
    assert defs["BatchDefaults"]["properties"]["vcpus"]["description"].startswith(
        "The default of every function's `batch.vcpus`")
    assert validator.schema["properties"]["avgen"]["description"].startswith("avgen's own settings")
