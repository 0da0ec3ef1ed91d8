"""`avgen validate` and `avgen graph` through the CLI: exit codes, output formats, the shipped workflows."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.workflow.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(ROOT.glob("examples/*/workflow.yaml"))
# copies of ../shared/seeds/scar-configs: the tests stand on their own
SCAR_CONFIGS = sorted((ROOT / "tests" / "data" / "scar-configs").glob("*.yaml"))
CASES = Path(__file__).parent / "cases"
AV_WORKFLOW = ROOT / "examples" / "av-workflow" / "workflow.yaml"


def run(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_the_examples_are_there():
    assert {p.parent.name for p in EXAMPLES} >= {"av-workflow", "video-process"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_examples_validate_cleanly(path):
    result = run("validate", path)
    assert result.exit_code == 0, result.output
    assert "0 errors, 1 warning" in result.output, result.output
    # the examples are what users copy: their one warning is the placeholder bucket they must rename
    # (AVG029), so --strict passes only once they did
    assert "AVG029" in result.output and "a name you own" in result.output
    assert run("validate", "--strict", path).exit_code == 1
    renamed = path.read_text().replace("change-me-", "acme-media-")
    copy = path.with_name("renamed.workflow.yaml")
    try:
        copy.write_text(renamed)
        assert run("validate", "--strict", copy).exit_code == 0
    finally:
        copy.unlink()


@pytest.mark.parametrize("path", SCAR_CONFIGS, ids=[p.stem for p in SCAR_CONFIGS])
def test_scar_configs_validate_without_errors(path):
    """A SCAR user's file works unchanged (warnings, e.g. AVG021 for g3s.xlarge, are allowed)."""
    result = run("validate", "--format", "json", path)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["validate"]
    assert report["summary"]["error"] == 0


def test_scar_av_workflow_warns_about_g3s():
    path = next(p for p in SCAR_CONFIGS if "av-workflow" in p.name)
    report = json.loads(run("validate", "--format", "json", path).output)["validate"]
    (g3s,) = [f for f in report["files"][0]["findings"] if f["rule_id"] == "AVG021"]
    assert g3s["severity"] == "warning" and "g3s.xlarge" in g3s["message"] and "g4dn" in g3s["hint"]
    line = path.read_text().splitlines()[g3s["line"] - 1]
    assert line[g3s["column"] - 1:].startswith("g3s.xlarge")
    assert run("validate", "--strict", path).exit_code == 1


def test_several_files_in_one_run():
    result = run("validate", *EXAMPLES, *SCAR_CONFIGS)
    assert result.exit_code == 0, result.output
    assert f"{len(EXAMPLES) + len(SCAR_CONFIGS)} files checked" in result.output


def test_validate_as_a_subprocess():
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-c", "from generator.cli import app; app()", "validate", "--format", "json",
         *map(str, EXAMPLES)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)["validate"]
    assert [f["file"] for f in report["files"]] == [str(p) for p in EXAMPLES]


def test_json_shape():
    path = CASES / "AVG002-fail-memroy.yaml"
    result = run("validate", "--format", "json", path)
    assert result.exit_code == 1
    envelope = json.loads(result.output)
    # version 2 put validate's keys (version 1: files, summary) under "validate", with findings and error beside
    assert set(envelope) == {"version", "validate", "findings", "error"} and envelope["version"] == 2
    assert envelope["error"] is None and envelope["findings"] == envelope["validate"]["files"][0]["findings"]
    report = envelope["validate"]
    assert set(report) == {"files", "summary"}
    assert report["summary"] == {"error": 1, "warning": 0, "info": 0, "waived": 0}
    (entry,) = report["files"]
    assert entry["file"] == str(path)
    (finding,) = entry["findings"]
    assert set(finding) == {"rule_id", "severity", "message", "hint", "file", "line", "column"}
    assert finding["rule_id"] == "AVG002" and finding["severity"] == "error"
    assert (finding["line"], finding["column"]) == (6, 7)
    assert "did you mean `memory`?" in finding["hint"]
    assert finding["file"] == str(path)


def test_json_lists_every_file_even_clean_ones():
    report = json.loads(
        run("validate", "-f", "json", CASES / "AVG034-pass.yaml", CASES / "AVG002-fail-memroy.yaml").output)["validate"]
    assert [len(entry["findings"]) for entry in report["files"]] == [0, 1]


def test_text_output_names_place_rule_and_hint():
    path = CASES / "AVG002-fail-memroy.yaml"
    result = run("validate", path)
    assert result.exit_code == 1
    assert str(path) in result.output
    assert re.search(r"6:7\s+error\s+AVG002\s+unknown key `memroy`", result.output), result.output
    assert "did you mean `memory`?" in result.output
    assert "1 file checked: 1 error, 0 warnings, 0 notes" in result.output


def test_warnings_pass_unless_strict():
    path = CASES / "AVG006-fail.yaml"
    assert run("validate", path).exit_code == 0
    result = run("validate", "--strict", path)
    assert result.exit_code == 1
    assert "AVG006" in result.output


def test_notes_do_not_fail_strict_and_quiet_hides_them(tmp_path):
    path = tmp_path / "AVG016-fail.yaml"  # with a state backend: AVG034 would be a warning
    path.write_text((CASES / "AVG016-fail.yaml").read_text() + "avgen:\n  backend: {type: local}\n")
    assert run("validate", "--strict", path).exit_code == 0
    assert "AVG016" in run("validate", path).output
    quiet = run("validate", "--quiet", path)
    assert quiet.exit_code == 0 and f"{path}: ok" in quiet.output
    assert "starts the workflow" not in quiet.output


def test_missing_file_argument_is_a_usage_error():
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 64


def test_unknown_option_is_a_usage_error():
    assert CliRunner().invoke(app, ["validate", "--no-such-option", str(AV_WORKFLOW)]).exit_code == 64
    assert CliRunner().invoke(app, ["validate", "--format", "xml", str(AV_WORKFLOW)]).exit_code == 64


def test_missing_file_is_a_finding_not_a_traceback(tmp_path):
    missing = tmp_path / "nope.yaml"
    result = CliRunner().invoke(app, ["validate", str(missing)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert "AVG001" in result.output and "cannot read the file" in result.output
    report = json.loads(CliRunner().invoke(app, ["validate", "-f", "json", str(missing)]).output)["validate"]
    (finding,) = report["files"][0]["findings"]
    assert finding["rule_id"] == "AVG001" and finding["file"] == str(missing) and finding["line"] == 0


def test_a_directory_or_binary_file_is_a_finding(tmp_path):
    binary = tmp_path / "video.mp4"
    binary.write_bytes(b"\x00\x00\x00\x18ftypmp42\xff\xfe\xfd")
    for path in (tmp_path, binary):
        result = CliRunner().invoke(app, ["validate", str(path)])
        assert result.exit_code == 1, result.output
        assert "AVG001" in result.output and "Traceback" not in result.output


def test_every_reported_rule_id_is_in_the_catalog():
    report = json.loads(run("validate", "-f", "json", *sorted(CASES.glob("*.yaml"))).output)["validate"]
    ids = {f["rule_id"] for entry in report["files"] for f in entry["findings"]}
    assert ids <= set(RULES)
    assert ids == set(RULES)  # the fixtures exercise every rule through the CLI too


# --- graph ---------------------------------------------------------------------------------------

# The av-workflow's data flow: (from, to, label); "path:x" is s3://change-me-av-workflow/x/, "fn:x" is av-workflow-x.
AV_MERMAID_EDGES = (
    ("path:start", "fn:ffmpeg", None),
    ("fn:ffmpeg", "path:video", "*avi"),
    ("fn:ffmpeg", "path:audio", "*wav"),
    ("path:audio", "fn:audio2srt", None),
    ("fn:audio2srt", "path:result", "*srt"),
    ("path:video", "fn:yolov3", None),
    ("fn:yolov3", "path:result", "*avi"),
)


def _mermaid_nodes(text: str) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """The mermaid graph's path nodes (label -> id) and function nodes (name -> (id, where it runs))."""
    nodes = dict(re.findall(r'^\s+(p\d+)\[\("([^"]+)"\)\]$', text, re.M))
    functions = re.findall(r'^\s+(f\d+)\["([^"<]+)<br/><small>([^<]+)</small>"\]$', text, re.M)
    by_path = {label: pid for pid, label in nodes.items()}
    by_name = {name: (fid, where) for fid, name, where in functions}
    return by_path, by_name


def test_graph_mermaid_for_av_workflow():
    result = run("graph", AV_WORKFLOW)
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith("flowchart LR\n")
    by_path, by_name = _mermaid_nodes(text)
    assert set(by_path) == {f"s3://change-me-av-workflow/{p}/" for p in ("start", "video", "audio", "result")}
    assert {name: by_name[f"av-workflow-{name}"][1] for name in ("ffmpeg", "audio2srt", "yolov3")} == {
        "ffmpeg": "Lambda→Batch", "audio2srt": "Lambda→Batch", "yolov3": "Batch-GPU"}

    def node(ref: str) -> str:
        kind, name = ref.split(":")
        return by_path[f"s3://change-me-av-workflow/{name}/"] if kind == "path" else by_name[f"av-workflow-{name}"][0]

    lines = text.splitlines()
    missing = [(src, dst, label) for src, dst, label in AV_MERMAID_EDGES
               if f"    {node(src)} {f'-- {label} -->' if label else '-->'} {node(dst)}" not in lines]
    assert not missing, f"edges not drawn: {missing}\n{text}"
    assert f"class {node('fn:yolov3')} gpu" in text
    assert run("graph", AV_WORKFLOW).output == text  # stable


def test_graph_marks_inputs_that_cannot_trigger():
    result = run("graph", CASES / "AVG013-fail.yaml")
    assert result.exit_code == 0
    assert "-. no trigger .->" in result.output
    assert "minio.lab://videos/input/" in result.output


DOT_STATEMENT = re.compile(
    r'^\s*(?:'
    r'(?:rankdir=LR|node \[[^\]]*\])'
    r'|\w+ \[(?:\w+=(?:"(?:[^"\\]|\\.)*"|[\w#.]+)(?:, )?)+\]'
    r'|\w+ -> \w+(?: \[(?:\w+=(?:"(?:[^"\\]|\\.)*"|\w+)(?:, )?)+\])?'
    r');$'
)


def test_graph_dot_is_a_digraph():
    result = run("graph", "--format", "dot", AV_WORKFLOW)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "digraph workflow {" and lines[-1] == "}"
    for line in lines[1:-1]:
        assert DOT_STATEMENT.match(line), f"not a DOT statement: {line!r}"
    body = result.output
    assert body.count("{") == body.count("}") == 1
    assert body.count('"') % 2 == 0
    node_ids = set(re.findall(r"^\s*(\w+) \[", body, re.M)) - {"node"}
    edges = re.findall(r"^\s*(\w+) -> (\w+)", body, re.M)
    assert len(edges) == 7
    assert {n for e in edges for n in e} <= node_ids
    assert 'label="av-workflow-yolov3\\nBatch-GPU"' in body
    assert '[label="*avi"]' in body


def test_graph_of_an_invalid_file_fails_with_its_errors():
    result = run("graph", CASES / "AVG002-fail-memroy.yaml")
    assert result.exit_code == 1
    assert "AVG002" in result.output


def test_graph_of_a_missing_file(tmp_path):
    result = CliRunner().invoke(app, ["graph", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1 and "AVG001" in result.output
    assert CliRunner().invoke(app, ["graph"]).exit_code == 64


SECRET_WORKFLOW = """\
functions:
  aws:
  - lambda:
      name: video-split
      container: {image: grycap/ffmpeg, environment: {Variables: {DB_PASSWORD: [31415926535]}}}
      input: [{storage_provider: s3, path: media-bucket/videos}]
storage_providers:
  minio:
    lab:
      endpoint: https://minio.example.org
      access_key: 27182818284590452
      secret_key: !!binary c2VjcmV0cGFzc3dvcmQ=
  s3:
    other: {access_key: 16180339887, secret_key: [{nested: 14142135623}], region: us-east-1}
"""


@pytest.mark.parametrize("output_format", ["text", "json"])
def test_a_secret_of_any_type_is_never_echoed(tmp_path, output_format):
    workflow = tmp_path / "workflow.yaml"
    workflow.write_text(SECRET_WORKFLOW)
    result = CliRunner().invoke(app, ["validate", "-f", output_format, str(workflow)], catch_exceptions=False)
    assert result.exit_code == 1 and "AVG003" in result.output
    for secret in ("27182818284590452", "c2VjcmV0cGFzc3dvcmQ", "secretpassword", "16180339887", "14142135623",
                   "31415926535"):
        assert secret not in result.output, secret
