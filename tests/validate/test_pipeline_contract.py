"""One contract for pipelines (issue #29): JSON on stdout is always one envelope, every command takes
--no-color, -q leaves notes out of every format, and a usage error never shares an exit code with a result."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.cli.app import COMMANDS

BROKEN = "functions:\n  aws:\n  - lambda:\n      name: x\n      memroy: 5\n"
# every command with --format json that reads a workflow, with what it needs besides the workflow (nothing
# reaches AWS, terraform or docker: the workflow's errors stop each before it connects or runs anything)
JSON_COMMANDS = {"validate": [], "plan": [], "outputs": [], "status": [], "ls": [], "get": [],
                 "put": ["-b", "bucket/in", "video.mp4"],  # put: the workflow, then what to upload
                 "apply": [], "destroy": [], "build": [], "generate": ["-o", "{tmp}/out"], "graph": [],
                 "convert": ["-o", "{tmp}/new.yaml"], "logs": [], "run": ["--local", "-i", "{tmp}/video.mp4"]}
# the commands that read no workflow: arguments that make each fail, and the error and exit code they give
# (sandbox up: nothing says which sandbox; sandbox down: none runs there; models fetch: no such model)
OTHER_COMMANDS = {"sandbox up": ([], "usage", 64), "sandbox down": (["-w", "{tmp}"], "sandbox", 1),
                  "models fetch": (["yolov9", "--to", "{tmp}"], "failed", 1)}


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "workflow.yaml"
    path.write_text(BROKEN)
    return path


def arguments(args: list[str], tmp_path) -> list[str]:
    return [arg.format(tmp=tmp_path) for arg in args]


def envelope_of(result, command: str) -> dict:
    """stdout as the one JSON object it must be, with the envelope's keys in order."""
    envelope = json.loads(result.stdout)  # the whole of stdout: one object, nothing else
    assert list(envelope) == ["version", command.split()[-1], "findings", "error"] and envelope["version"] == 2
    return envelope


def test_every_command_with_output_is_covered():
    """A command added later is added to these tests too (schema prints its JSON Schema, nothing else)."""
    assert set(JSON_COMMANDS) == {name for _, name, _ in COMMANDS} - {"schema"}


@pytest.mark.parametrize("command", sorted(JSON_COMMANDS))
def test_a_broken_workflow_is_one_json_envelope_on_stdout(command, broken, tmp_path):
    result = CliRunner().invoke(app, [command, str(broken), *arguments(JSON_COMMANDS[command], tmp_path),
                                      "--format", "json"])
    assert result.exit_code == 1, result.output
    envelope = envelope_of(result, command)
    assert [(f["rule_id"], f["line"]) for f in envelope["findings"]] == [("AVG002", 5)]
    if command == "validate":  # findings are its result, not an error
        assert envelope["error"] is None
    else:
        assert envelope[command] is None and envelope["error"]["code"] == "workflow"
        assert "has errors" in envelope["error"]["message"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "new.yaml").exists()


@pytest.mark.parametrize("command", sorted([*JSON_COMMANDS, *OTHER_COMMANDS]))
@pytest.mark.parametrize("spelling", [["--format", "json"], ["--format=json"]], ids=["--format json", "--format="])
def test_a_bad_flag_is_one_json_envelope_with_a_usage_error(command, spelling, tmp_path):
    """Click finds these before the command runs: under --format json the envelope still says so."""
    result = CliRunner().invoke(app, [*command.split(), *spelling, "--no-such-flag"])
    assert result.exit_code == 64, result.output
    envelope = envelope_of(result, command)
    assert envelope[command.split()[-1]] is None and envelope["findings"] == []
    assert envelope["error"] == {"code": "usage", "message": "No such option: --no-such-flag"}


@pytest.mark.parametrize("args", [["run", "x.yaml", "--format", "json", "--local", "--jobs", "0"],
                                  ["status", "x.yaml", "--json", "--since"],
                                  ["ls", "--format", "json", "--multipart-chunk", "many"],
                                  ["validate", "-f", "json"]],
                         ids=["bad value", "missing value (--json)", "not a number", "missing argument (-f)"])
def test_bad_values_and_missing_arguments_are_usage_errors_in_the_envelope(args):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 64, result.output
    assert json.loads(result.stdout)["error"]["code"] == "usage", result.stdout


def test_usage_errors_without_json_leave_stdout_empty():
    """Text (and `logs -f`, which is --follow there, not --format) keeps stdout for results."""
    for args in (["plan", "x.yaml", "--no-such-flag"], ["logs", "x.yaml", "-f", "json", "--no-such-flag"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 64 and result.stdout == "", result.output


@pytest.mark.parametrize("command", sorted(OTHER_COMMANDS))
def test_commands_without_a_workflow_put_their_error_in_the_envelope(command, tmp_path):
    args, code, exit_code = OTHER_COMMANDS[command]
    result = CliRunner().invoke(app, [*command.split(), *arguments(args, tmp_path), "--format", "json"])
    assert result.exit_code == exit_code, result.output
    envelope = envelope_of(result, command)
    assert envelope[command.split()[-1]] is None and envelope["error"]["code"] == code


def test_json_alias_is_hidden_but_works(broken):
    result = CliRunner().invoke(app, ["status", str(broken), "--json"])
    assert result.exit_code == 1 and json.loads(result.stdout)["error"]["code"] == "workflow"
    assert "--json" not in CliRunner().invoke(app, ["status", "--help"]).stdout


def test_an_avgen_error_is_the_envelopes_error(tmp_path):
    """Errors other than findings (here: --sandbox without a workflow or --workdir) go in it too."""
    result = CliRunner().invoke(app, ["ls", "--sandbox", "--format", "json"])
    assert result.exit_code == 64
    envelope = json.loads(result.stdout)
    assert envelope["ls"] is None and envelope["findings"] == [] and envelope["error"]["code"] == "usage"


@pytest.mark.parametrize("command", [name for _, name, _ in COMMANDS] + ["sandbox up", "sandbox down",
                                                                         "models fetch"])
def test_every_command_takes_no_color(command):
    result = CliRunner().invoke(app, [*command.split(), "--no-color", "--help"])
    assert result.exit_code == 0 and "--no-color" in result.stdout, result.output


def test_usage_errors_exit_64_on_every_command():
    for _, name, _ in COMMANDS:
        result = CliRunner().invoke(app, [name, "--no-such-option", "x.yaml"])
        assert result.exit_code == 64, (name, result.output)
    assert CliRunner().invoke(app, ["--no-such-option"]).exit_code == 64
    assert CliRunner().invoke(app, ["valdate"]).exit_code == 64


NOTE_ONLY = """functions:
  aws:
  - lambda:
      name: copy
      container: {image: alpine:3.19}
      init_script: copy.sh
      input: [{storage_provider: s3, path: acme-media-bucket/in}]
      output: [{storage_provider: s3, path: acme-media-bucket/out}]
"""


@pytest.mark.parametrize("output_format", ["github", "json", "sarif"])
def test_quiet_leaves_notes_out_of_machine_formats(tmp_path, monkeypatch, output_format):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "copy.sh").write_text("#!/bin/sh\ncp \"$INPUT_FILE_PATH\" \"$TMP_OUTPUT_DIR\"\n")
    (tmp_path / "workflow.yaml").write_text(NOTE_ONLY)
    loud = CliRunner().invoke(app, ["validate", "workflow.yaml", "-f", output_format])
    quiet = CliRunner().invoke(app, ["validate", "workflow.yaml", "-f", output_format, "-q"])
    assert loud.exit_code == quiet.exit_code == 0, loud.output
    notes = {"github": "::notice ", "json": '"severity": "info"', "sarif": '"level": "note",\n'}[output_format]
    results = {"github": "::", "json": '"rule_id"', "sarif": '"ruleId"'}[output_format]
    assert notes in loud.stdout
    assert notes not in quiet.stdout and quiet.stdout.count(results) < loud.stdout.count(results)


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VIDEO = EXAMPLES / "video-process" / "workflow.yaml"


def test_graph_json_is_each_function_with_its_folders():
    result = CliRunner().invoke(app, ["graph", str(VIDEO), "--format", "json"])
    assert result.exit_code == 0, result.output
    functions = envelope_of(result, "graph")["graph"]["functions"]
    assert [f["name"] for f in functions] == ["video-process-split", "video-process-darknet"]
    split, yolo = functions
    assert split["outputs"][0] == yolo["inputs"][0]  # the edge between them: one writes where the other starts
    assert all(f["inputs"][0].startswith("s3://") and f["runs_on"] for f in functions)


def test_generate_json_lists_what_was_written_and_check_says_current(tmp_path):
    written = CliRunner().invoke(app, ["generate", str(VIDEO), "-o", str(tmp_path), "--format", "json"])
    assert written.exit_code == 0, written.output
    result = envelope_of(written, "generate")["generate"]
    assert result["changes"] and all(c["action"] == "create" for c in result["changes"])
    assert all(Path(c["path"]).is_file() for c in result["changes"])
    checked = CliRunner().invoke(app, ["generate", str(VIDEO), "-o", str(tmp_path), "--check", "--format", "json"])
    assert checked.exit_code == 0 and envelope_of(checked, "generate")["generate"]["stale"] is False


def test_convert_json_to_stdout_carries_the_new_file_in_the_result(tmp_path):
    files = sorted((EXAMPLES / "video-process" / "scar-3x").glob("*.yaml"))
    result = CliRunner().invoke(app, ["convert", *map(str, files), "-o", "-", "--format", "json"])
    assert result.exit_code == 0, result.output
    converted = envelope_of(result, "convert")["convert"]
    assert converted["output"] is None and converted["functions"] and "functions:" in converted["text"]


def test_build_json_lists_the_contexts(tmp_path):
    result = CliRunner().invoke(app, ["build", str(VIDEO), "-w", str(tmp_path), "--format", "json"])
    assert result.exit_code == 0, result.output
    built = envelope_of(result, "build")["build"]
    assert {Path(c["path"]).parent for c in built["contexts"]} == {tmp_path / "images"}
    assert built["pushed"] == [] and built["digests_file"] is None
