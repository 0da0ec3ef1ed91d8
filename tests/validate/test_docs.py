"""The user documentation keeps up with the code: every rule and every key is documented."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from generator.workflow import model as m
from generator.workflow import schema
from generator.workflow.findings import Severity
from generator.workflow.load import load_text
from generator.workflow.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
RULES_MD = ROOT / "docs" / "rules.md"
FORMAT_MD = ROOT / "docs" / "workflow-format.md"


def schema_models() -> list[type[BaseModel]]:
    return [obj for obj in vars(schema).values()
            if inspect.isclass(obj) and issubclass(obj, BaseModel) and obj.__module__ == schema.__name__
            and obj.model_fields]


def test_every_rule_has_a_section_with_its_severity():
    text = RULES_MD.read_text(encoding="utf-8")
    for rule in RULES.values():
        heading = f"## {rule.id} {rule.slug}"
        assert heading in text, f"docs/rules.md has no section `{heading}`"
        section = text.split(heading, 1)[1].split("\n## ", 1)[0]
        assert f"**Severity:** {rule.severity.value}." in section, f"{rule.id}: severity not stated"
        assert "```yaml" in section, f"{rule.id}: no failing example"
        assert "**Fix:**" in section, f"{rule.id}: no fix"
        assert f"| [{rule.id}](#{rule.id.lower()}-{rule.slug}) | {rule.slug} | {rule.severity.value} |" in text


def test_rules_doc_names_no_rule_the_catalog_lacks():
    ids = set(re.findall(r"\bAVG\d{3}\b", RULES_MD.read_text(encoding="utf-8")))
    assert ids <= set(RULES), sorted(ids - set(RULES))


def documented_names(text: str) -> set[str]:
    """Every name written in code style (`lambda.container.image`, `{Variables: ...}`) in a Markdown text."""
    spans = re.findall(r"`([^`\n]+)`", text)
    return {word for span in spans for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span)}


@pytest.mark.parametrize("model", schema_models(), ids=lambda model: model.__name__)
def test_every_schema_key_is_documented(model):
    names = documented_names(FORMAT_MD.read_text(encoding="utf-8"))
    missing = [name for name in (f.alias or n for n, f in model.model_fields.items()) if name not in names]
    assert not missing, f"docs/workflow-format.md does not mention {missing} ({model.__name__})"


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, re.S)


def test_the_complete_example_validates_cleanly():
    text = FORMAT_MD.read_text(encoding="utf-8")
    example = yaml_blocks(text.split("## A complete example", 1)[1])[0]
    # load it as if it sat next to the av-workflow scripts
    result = load_text(example, ROOT / "examples" / "av-workflow" / "workflow.yaml")
    noisy = [str(f) + " " + f.message for f in result.findings if f.severity is not Severity.INFO]
    assert result.ok and not noisy, noisy
    workflow = result.workflow
    assert [f.resource_name for f in workflow.functions] == ["av-av-workflow-ffmpeg", "av-av-workflow-audio2srt",
                                                             "av-av-workflow-yolov3"]
    assert workflow.settings.backend.type == "s3" and workflow.settings.alert_email


def test_the_precedence_example_does_what_it_says():
    text = FORMAT_MD.read_text(encoding="utf-8")
    example = yaml_blocks(text.split("## Precedence of settings", 1)[1])[0]
    split, detect = load_text(example).workflow.functions
    assert (split.memory, detect.memory) == (2048, 1024)
    without_defaults = load_text(example.split("avgen:")[0]).workflow.functions
    assert without_defaults[1].memory == m.DEFAULT_MEMORY_MB == 512


def test_documented_defaults_match_the_code():
    text = " ".join(FORMAT_MD.read_text(encoding="utf-8").split())
    for phrase in (
        f"memory {m.DEFAULT_MEMORY_MB} MB", f"timeout {m.DEFAULT_TIMEOUT_S} s", f"log level `{m.DEFAULT_LOG_LEVEL}`",
        f"execution mode `{m.DEFAULT_EXECUTION_MODE}`", f"log retention {m.DEFAULT_LOG_RETENTION_DAYS} days",
        f"`timeout_threshold` {m.DEFAULT_TIMEOUT_THRESHOLD_S} s", f"Batch vcpus {m.DEFAULT_BATCH_VCPUS}",
        f"memory {m.DEFAULT_BATCH_MEMORY_MIB} MiB",
        f"min {m.DEFAULT_MIN_VCPUS} / max {m.DEFAULT_MAX_VCPUS} vCPUs",
        f"ephemeral storage {m.DEFAULT_EPHEMERAL_MB} MB", f"instance types `[{', '.join(m.DEFAULT_INSTANCE_TYPES)}]`",
        f"compute type `{m.DEFAULT_COMPUTE_TYPE}`", f"job timeout {m.DEFAULT_JOB_TIMEOUT_S} s",
        f"{m.DEFAULT_RETRY_ATTEMPTS} attempts", f"runnable timeout {m.DEFAULT_RUNNABLE_TIMEOUT_S} s",
        f"else `{m.DEFAULT_REGION}`",
    ):
        assert phrase in text, f"docs/workflow-format.md should say {phrase!r}"
    for days in schema.LOG_RETENTION_DAYS:
        assert f" {days}," in text or f" {days} |" in text


def test_ignored_lambda_settings_are_documented_with_their_warning():
    from generator.workflow.rules.ignored_setting import IGNORED_LAMBDA_SETTINGS

    text = FORMAT_MD.read_text(encoding="utf-8")
    section = text.split("## Keys avgen accepts but ignores", 1)[1]
    for key in IGNORED_LAMBDA_SETTINGS:
        assert re.search(rf"`lambda\.{key}`[^|]*\| AVG008", section), key


README = ROOT / "README.md"


def test_the_readme_commands_table_names_every_command():
    from generator.cli.app import COMMANDS, GROUPS

    table = "\n".join(line for line in README.read_text().splitlines() if line.startswith("| `avgen "))
    for name in [command for _, command, _ in COMMANDS] + list(GROUPS):
        assert re.search(rf"`avgen (?:[a-z]+ / )*{name}\b", table), name


def test_the_first_session_leaves_nothing_untracked_in_the_checkout():
    """What a first session writes goes where .gitignore keeps it out of `git status` (.avgen/), or outside."""
    session = README.read_text().split("## A first session", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    written = re.findall(r"(?:-o|--output)\s+(\S+)", session)
    assert written, session
    ignored = {line.strip() for line in (ROOT / ".gitignore").read_text().splitlines()}
    for path in written:
        assert path.startswith("/tmp/") or f"{path.split('/')[0]}/" in ignored, path
