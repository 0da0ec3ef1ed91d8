"""What the loader says for particular mistakes: one finding per mistake, at the user's text, readable."""
from __future__ import annotations

import textwrap
import time

from generator.workflow.load import load_text


def findings(text: str):
    return load_text(textwrap.dedent(text)).findings


def one(text: str):
    # AVG034 (no state backend) is said of every small text here
    (finding,) = [f for f in findings(text) if f.severity.value != "info" and f.rule_id != "AVG034"]
    return finding


FUNCTION = """\
functions:
  aws:
  - lambda:
      name: split
      container:
        image: grycap/ffmpeg
"""


def test_environment_value_of_a_wrong_type_is_one_finding():
    """pydantic reports the value once per member of str | bool | int | float; the user sees one."""
    finding = one(FUNCTION + "        environment:\n          Variables:\n            FPS: [1, 2]\n")
    assert finding.rule_id == "AVG003"
    assert (finding.location.line, finding.location.column) == (9, 18)
    assert "Variables.FPS` must be text, a number or true/false, not a list" in finding.message
    assert ".str" not in finding.message


def test_keys_that_are_not_text():
    finding = one(FUNCTION + "      1: 2\n")
    assert finding.rule_id == "AVG003" and finding.message == "key `1` must be text"
    assert (finding.location.line, finding.location.column) == (7, 7)
    assert 'quote it: "1"' in finding.hint
    keys = findings(FUNCTION + "        environment:\n          Variables: {1: a, 2.5: b}\n")
    assert sorted(f.message for f in keys) == ["key `1` must be text", "key `2.5` must be text"]


def test_lower_case_log_level_that_is_not_a_level_is_reported_as_written():
    finding = one(FUNCTION + "      log_level: verbose\n")
    assert finding.rule_id == "AVG004" and "'verbose'" in finding.message


def test_unusable_init_script_paths_are_findings():
    for script, reason in (('"a\\0b"', "embedded null byte"), ("a" * 5000, "too long")):
        finding = one(FUNCTION + f"      init_script: {script}\n")
        assert finding.rule_id == "AVG004" and reason in finding.message
        assert (finding.location.line, finding.location.column) == (7, 20)
        assert len(finding.message) < 200


def test_duplicate_key_message_does_not_print_the_values():
    finding = one(FUNCTION + "      memory: 1024\n      memory: " + "9" * 200 + "\n")
    assert finding.rule_id == "AVG001"
    assert 'duplicate key "memory"' in finding.message and "999" not in finding.message
    assert (finding.location.line, finding.location.column) == (8, 7)


def test_nested_aliases_do_not_blow_up():
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10))
    start = time.monotonic()
    result = load_text(text + FUNCTION + "      log_level: *a9\n      tags: {x: *a9}\n")
    assert time.monotonic() - start < 30  # expanded, a billion values: a loose bound still catches it
    assert not result.ok
    assert all(len(f.message) < 300 for f in result.findings)


def test_aliases_and_merge_keys_work():
    result = load_text("functions:\n  aws:\n  - lambda: &split\n      name: split\n      memory: 2048\n"
                       "      container: {image: grycap/ffmpeg}\n  - lambda:\n      <<: *split\n"
                       "      name: split-2\n")
    assert result.ok, [str(f) for f in result.findings]
    assert [f.memory for f in result.workflow.functions] == [2048, 2048]


def test_yaml_tags_and_odd_types_are_named_plainly():
    messages = [f.message for f in findings(
        "functions:\n  aws:\n  - lambda:\n      name: !custom x\n      timeout: !!binary aGVsbG8=\n"
        "      container: {image: 2001-12-14}\n")]
    assert any("not a value tagged !custom ('x')" in m for m in messages)
    assert any("not binary data" in m for m in messages)
    assert any("not a date" in m for m in messages)
    assert not any("TaggedScalar" in m for m in messages)


def test_whole_file_of_the_wrong_type():
    (finding,) = findings("- a\n- b\n")
    assert finding.rule_id == "AVG003" and finding.message.endswith("not a list")


def test_range_hints_give_both_limits():
    assert one(FUNCTION + "      memory: 64\n").hint == "write a value from 128 to 10240"
    assert one(FUNCTION + "      timeout: 901\n").hint == "write a value from 1 to 900"
    assert one(FUNCTION + "      reserved_concurrency: -1\n").hint == "write 0 or more"


def test_storage_provider_typo_gets_a_suggestion():
    finding = one(FUNCTION + "      input:\n      - storage_provider: s4\n        path: media-bucket/in\n")
    assert finding.hint.startswith("did you mean `s3`?")


def test_legacy_image_with_an_empty_container_section():
    result = load_text(FUNCTION.replace("      container:\n        image: grycap/ffmpeg\n",
                                        "      image: grycap/ffmpeg\n      container:\n"))
    assert result.ok and result.workflow.functions[0].image == "grycap/ffmpeg"
    assert [f.rule_id for f in result.findings if f.rule_id != "AVG034"] == ["AVG006"]


def test_errors_on_a_legacy_key_point_at_what_the_user_wrote():
    finding = next(f for f in findings(FUNCTION + "      time: 5000\n") if f.rule_id == "AVG004")
    assert (finding.location.line, finding.location.column) == (7, 13)


def test_secret_store_references_are_not_inline_secrets():
    text = FUNCTION + "        environment:\n          Variables:\n            API_TOKEN: {}\n"
    assert one(text.format("abc123")).rule_id == "AVG015"
    for reference in ("arn:aws:ssm:eu-west-1:123456789012:parameter/x",
                      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"):
        assert not [f for f in findings(text.format(reference)) if f.rule_id == "AVG015"]


def test_outputs_to_other_providers_are_named_with_their_provider():
    result = load_text(FUNCTION + "      output:\n      - storage_provider: minio.lab\n        path: frames/out\n"
                       "storage_providers:\n  minio:\n    lab: {endpoint: https://minio.example.org}\n")
    (end,) = [f for f in result.findings if f.rule_id == "AVG016"]
    assert end.message.startswith("minio.lab://frames/out/ ")
