"""SCAR 3.x's map form (AVG032), several files as one workflow, `avgen convert`, and the refusal to deploy
one file of several alone. The seed's two original files are read unchanged from tests/data."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.cli import app
from generator.deploy.sharing import shared_bucket_problem
from generator.render.root import render
from generator.workdirs import default_workdir, local_store
from generator.workflow.convert import convert
from generator.workflow.graph import edges, may_write_into
from generator.workflow.load import load_workflow
from generator.workflow.model import StoragePath

ORIGINALS = Path(__file__).resolve().parents[1] / "data" / "scar-configs" / "video-process-original"
SPLIT, DARKNET = ORIGINALS / "scar-batch-ffmpeg-split.yaml", ORIGINALS / "scar-lambda-darknet.yaml"


def run(*args) -> object:
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def originals(tmp_path) -> Path:
    folder = tmp_path / "video-process-original"
    shutil.copytree(ORIGINALS, folder)
    return folder


def test_each_original_file_loads_with_scar_3_semantics_and_warnings_only():
    for path in (SPLIT, DARKNET):
        result = load_workflow(path)
        assert result.ok, result.findings
        # SCAR's files name no state backend (AVG034), and the Batch one no network (AVG031)
        warned = {f.rule_id for f in result.findings if f.severity.value == "warning"}
        assert warned == {"AVG032", "AVG034"} | ({"AVG031"} if path == SPLIT else set())
    split = load_workflow(SPLIT).workflow.function("scar-batch-ffmpeg-split")
    # a bucket alone triggers on BUCKET/FUNCTION/input/ (scar/providers/aws/s3.py, tag 3.2.2)
    assert [(t.bucket, t.key_prefix) for t in split.triggers] == [("scar-ffmpeg", "scar-batch-ffmpeg-split/input/")]
    assert split.execution_mode == "batch" and split.image == "grycap/ffmpeg"
    assert split.script == ORIGINALS / "split-video.sh"
    darknet = load_workflow(DARKNET).workflow.function("scar-lambda-darknet")
    assert darknet.memory == 3008
    [output] = darknet.runtime_config()["outputs"]
    assert output == {"provider": "s3", "bucket": "scar-ffmpeg", "prefix": "scar-batch-ffmpeg-split/image-output",
                      "filter_prefix": [], "filter_suffix": [], "request_id_folder": True}


def test_the_warning_says_how_to_write_the_current_form():
    [warning] = [f for f in load_workflow(DARKNET).findings if f.rule_id == "AVG032"]
    assert (warning.location.line, warning.location.column) == (2, 3)
    assert "path: scar-ffmpeg/scar-batch-ffmpeg-split/image-output, request_id_folder: true" in warning.hint
    assert "avgen convert" in warning.hint


@pytest.mark.parametrize("function, wrong", [
    ("container: true", "`functions.aws.lambda.container` must be a mapping"),  # found by test_fuzz
    ("s3: [1]", "`functions.aws.lambda.input` must be a mapping"),
])
def test_a_wrong_type_in_the_map_form_is_a_finding_not_a_crash(function, wrong):
    from generator.workflow.load import load_text

    result = load_text(f"functions:\n  tool:\n    {function}\n", "old.yaml")
    assert any(f.rule_id == "AVG003" and f.message.startswith(wrong) for f in result.findings), result.findings
    assert any(f.rule_id == "AVG032" for f in result.findings)


@pytest.mark.parametrize("order", ["iam first", "lambda_role first"])
def test_lambda_role_and_an_iam_section_merge_in_either_order(order):
    role, iam = "lambda_role: arn:aws:iam::123456789012:role/old", "iam: null"  # crashed once (fuzz)
    lines = [iam, role] if order == "iam first" else [role, iam]
    text = "functions:\n  tool:\n    image: x/y:1\n" + "".join(f"    {line}\n" for line in lines)
    from generator.workflow.load import load_text

    result = load_text(text, "old.yaml")
    assert result.workflow is not None, result.findings
    assert result.workflow.functions[0].iam_role == "arn:aws:iam::123456789012:role/old"


def test_two_files_make_one_workflow_whatever_their_order_and_spelling(originals, monkeypatch):
    monkeypatch.chdir(originals)
    one = load_workflow([originals / "scar-lambda-darknet.yaml", Path("scar-batch-ffmpeg-split.yaml")])
    other = load_workflow([Path("./scar-batch-ffmpeg-split.yaml"), Path("../video-process-original/"
                                                                        "scar-lambda-darknet.yaml")])
    assert one.ok and other.ok
    assert [(e.source.name, e.target.name) for e in edges(one.workflow)] == [
        ("scar-batch-ffmpeg-split", "scar-lambda-darknet")]  # they chain through video-output/
    assert one.workflow.name == other.workflow.name == "scar-batch-ffmpeg-split+scar-lambda-darknet"
    assert one.workflow.source_sha256 == other.workflow.source_sha256
    assert render(one.workflow) == render(other.workflow)
    # findings keep their own file's path:line:col
    assert {(Path(f.location.file).name, f.location.line) for f in one.findings if f.rule_id == "AVG032"} == {
        ("scar-batch-ffmpeg-split.yaml", 2), ("scar-lambda-darknet.yaml", 2)}
    # one working folder, next to both files, for any spelling and order
    expected = originals.resolve() / ".avgen" / "scar-batch-ffmpeg-split+scar-lambda-darknet"
    assert default_workdir([Path("scar-lambda-darknet.yaml"), originals / "scar-batch-ffmpeg-split.yaml"],
                           False).resolve() == expected
    assert default_workdir([Path("./scar-batch-ffmpeg-split.yaml"), Path("scar-lambda-darknet.yaml")],
                           True).resolve() == expected.with_name(expected.name + "-sandbox")
    assert local_store([Path("scar-lambda-darknet.yaml"), Path("scar-batch-ffmpeg-split.yaml")]).resolve() == \
        expected.with_name(expected.name + "-local")


def test_a_loop_across_files_is_found_and_located_in_each_file(tmp_path):
    (tmp_path / "a.yaml").write_text("functions:\n  ping:\n    image: alpine:3\n    s3:\n"
                                     "      input_bucket: loop-bucket/ping\n      output_bucket: loop-bucket/pong\n")
    (tmp_path / "b.yaml").write_text("functions:\n  pong:\n    image: alpine:3\n    s3:\n"
                                     "      input_bucket: loop-bucket/pong\n      output_bucket: loop-bucket/ping\n")
    assert load_workflow(tmp_path / "a.yaml").ok and load_workflow(tmp_path / "b.yaml").ok  # alone: fine
    result = load_workflow([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    loops = [f for f in result.findings if f.rule_id == "AVG011"]
    assert loops and not result.ok
    assert {Path(f.location.file).name for f in loops} <= {"a.yaml", "b.yaml"}


def test_files_that_disagree_on_a_setting_are_an_error_in_the_second_file(tmp_path):
    (tmp_path / "a.yaml").write_text("functions:\n  one:\n    image: alpine:3\navgen:\n  region: eu-west-1\n")
    (tmp_path / "b.yaml").write_text("functions:\n  two:\n    image: alpine:3\navgen:\n  region: us-east-1\n"
                                     "  tags: {team: media}\n")
    result = load_workflow([tmp_path / "b.yaml", tmp_path / "a.yaml"])
    [conflict] = [f for f in result.findings if f.rule_id == "AVG004"]
    assert Path(conflict.location.file).name == "b.yaml" and conflict.location.line == 5
    assert "also set in a.yaml" in conflict.message


def test_request_id_folders_in_the_graph():
    out = StoragePath("s3", "default", "b", "results", request_id_folder=True)
    assert may_write_into(out, StoragePath("s3", "default", "b", "results"))        # results/<id>/x
    assert may_write_into(out, StoragePath("s3", "default", "b", "results/abc"))    # results/abc…/x
    assert may_write_into(out, StoragePath("s3", "default", "b", ""))
    assert not may_write_into(out, StoragePath("s3", "default", "b", "other"))
    filtered = StoragePath("s3", "default", "b", "results", ("frames/",), request_id_folder=True)
    assert may_write_into(filtered, StoragePath("s3", "default", "b", "results/some-id/frames"))
    assert not may_write_into(filtered, StoragePath("s3", "default", "b", "results/some-id/audio"))


def test_scar_3_outputs_without_a_folder_and_without_an_output_bucket(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("functions:\n  f:\n    image: alpine:3\n    s3:\n      input_bucket: in-bucket\n"
                    "      output_bucket: out-bucket\n")
    [output] = load_workflow(path).workflow.function("f").outputs
    assert (output.bucket, output.prefix, output.request_id_folder) == ("out-bucket", "f/output", True)
    path.write_text("functions:\n  f:\n    image: alpine:3\n    s3:\n      input_bucket: in-bucket\n")
    [output] = load_workflow(path).workflow.function("f").outputs  # STORAGE_PATH_OUTPUT = the input path
    assert (output.bucket, output.prefix) == ("in-bucket", "f/output")
    path.write_text("functions:\n  f:\n    image: alpine:3\n    s3:\n      input_bucket: in-bucket/videos\n")
    assert "AVG010" in {f.rule_id for f in load_workflow(path).findings}  # SCAR's output into its own trigger


def test_validate_together_and_generate_take_several_files(tmp_path):
    alone = run("validate", SPLIT, DARKNET)
    together = run("validate", "--together", SPLIT, DARKNET)
    assert alone.exit_code == together.exit_code == 0, together.output
    # together, video-output/ is neither a result nor a start: the two functions chain through it
    # AVG032 for each file, AVG034 (no state backend) for each, AVG031 (default VPC) for the Batch one
    assert "2 files checked: 0 errors, 5 warnings, 4 notes" in alone.output
    assert "2 files checked: 0 errors, 4 warnings, 2 notes" in together.output
    generated = run("generate", DARKNET, SPLIT, "-o", tmp_path / "tf")
    assert generated.exit_code == 0, generated.output
    main = (tmp_path / "tf" / "main.tf").read_text()
    assert main.startswith("# Generated by avgen from scar-batch-ffmpeg-split.yaml + scar-lambda-darknet.yaml;")
    assert "request_id_folder = true" in main


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_convert_round_trip_generates_the_same_terraform(originals, tmp_path):
    target = tmp_path / "video-process.yaml"  # above the scripts' folder (AVG033: not beside it)
    result = run("convert", originals / "scar-lambda-darknet.yaml", originals / "scar-batch-ffmpeg-split.yaml",
                 "-o", target)
    assert result.exit_code == 0, result.output
    converted = load_workflow(target)
    # SCAR's files say nothing of a state backend or a network: warned of, nothing else
    assert converted.ok, converted.findings
    assert {f.rule_id for f in converted.findings if f.severity.value != "info"} == {"AVG031", "AVG034"}
    assert converted.workflow.function("scar-batch-ffmpeg-split").script == (originals / "split-video.sh").resolve()
    assert run("generate", originals / "scar-lambda-darknet.yaml", originals / "scar-batch-ffmpeg-split.yaml",
               "-o", tmp_path / "old").exit_code == 0
    assert run("generate", target, "-o", tmp_path / "new").exit_code == 0
    old, new = _tree(tmp_path / "old"), _tree(tmp_path / "new")
    assert sorted(old) == sorted(new)
    for name in old:
        _check_same_file_but_for_the_input_it_names(name, old[name], new[name])


def _check_same_file_but_for_the_input_it_names(name: str, old: str, new: str) -> None:
    """One generated file, from SCAR's two files (old) and from their conversion (new): the same but for the
    first line, which names the input."""
    if name == ".avgen-manifest.json":  # the files' hashes: compared through the files themselves
        assert json.loads(old).keys() == json.loads(new).keys()
        return
    old_lines, new_lines = old.splitlines(), new.splitlines()
    # the first line names the input: the only difference
    assert old_lines[1:] == new_lines[1:], name
    if name.endswith(".tf") and "/" not in name:
        assert "scar-batch-ffmpeg-split.yaml + scar-lambda-darknet.yaml" in old_lines[0]
        assert "video-process.yaml" in new_lines[0]


def test_convert_keeps_comments_and_refuses_files_with_errors(tmp_path):
    source = tmp_path / "old.yaml"
    source.write_text("# Frames of every video, one per second\nfunctions:\n  split:\n"
                      "    image: grycap/ffmpeg  # SCAR's image\n    memory: 1024   # enough for HD\n"
                      "    s3:\n      input_bucket: media  # uploads go to media/split/input\n")
    result = convert([source], tmp_path / "new.yaml")
    assert result.text is not None and result.functions == ["split"]
    for comment in ("# Frames of every video, one per second", "# SCAR's image", "# enough for HD",
                    "# uploads go to media/split/input"):
        assert comment in result.text
    (tmp_path / "new.yaml").write_text(result.text)
    assert load_workflow(tmp_path / "new.yaml").ok
    source.write_text("functions:\n  split:\n    image: grycap/ffmpeg\n    memory: 1\n")
    assert convert([source], tmp_path / "new.yaml").text is None
    assert run("convert", source, "-o", tmp_path / "other.yaml").exit_code == 1
    assert not (tmp_path / "other.yaml").exists()


def test_deploying_one_scar_3_file_of_two_alone_is_refused(originals):
    result = run("plan", originals / "scar-lambda-darknet.yaml", "--sandbox")
    assert result.exit_code == 1
    assert "Pass the files together" in result.output
    assert "scar-batch-ffmpeg-split.yaml" in result.output and "scar-lambda-darknet.yaml" in result.output
    workflow = load_workflow([originals / "scar-lambda-darknet.yaml", originals / "scar-batch-ffmpeg-split.yaml"])
    files = [originals / "scar-lambda-darknet.yaml", originals / "scar-batch-ffmpeg-split.yaml"]
    workdir = default_workdir(files, sandbox=False)
    assert shared_bucket_problem(workflow.workflow, files, workdir, False) == ""  # together: fine


def test_a_bucket_another_deployment_owns_is_refused(tmp_path):
    other = tmp_path / ".avgen" / "other"
    other.mkdir(parents=True)
    (other / "terraform.tfstate").write_text(json.dumps({"resources": [
        {"type": "aws_s3_bucket_notification", "name": "triggers",
         "instances": [{"attributes": {"bucket": "scar-ffmpeg"}}]}]}))
    mine = tmp_path / "mine.yaml"
    mine.write_text("functions:\n  aws:\n  - lambda:\n      name: f\n      container: {image: alpine:3}\n"
                    "      input: [{storage_provider: s3, path: scar-ffmpeg/in}]\n")
    workflow = load_workflow(mine).workflow
    problem = shared_bucket_problem(workflow, [mine], default_workdir(mine, False), False)
    assert "another avgen deployment already owns" in problem and "scar-ffmpeg" in problem
    assert shared_bucket_problem(workflow, [mine], default_workdir(mine, True), True) == ""  # sandbox apart


def test_leading_yaml_arguments_are_the_workflow_files():
    from generator.cli.options import split_workflow_files

    assert split_workflow_files(["a.yaml", "b.YML", "detect"]) == ([Path("a.yaml"), Path("b.YML")], ["detect"])
    assert split_workflow_files(["detect"]) == ([], ["detect"])


def test_convert_to_standard_output_writes_no_file(originals, monkeypatch):
    monkeypatch.chdir(originals)  # the paths in the text are relative to the current folder, which holds the scripts
    before = sorted(originals.iterdir())
    result = run("convert", originals / SPLIT.name, "-o", "-")
    assert result.exit_code == 0, result.output
    assert "request_id_folder: true" in result.output and "name: scar-batch-ffmpeg-split" in result.output
    assert "init_script: split-video.sh" in result.output
    assert sorted(originals.iterdir()) == before


def test_convert_refuses_a_new_file_whose_scripts_lie_outside_its_folder(originals, tmp_path):
    """The new file could not name them (AVG033): nothing is written, and the message says where to write."""
    target = tmp_path / "elsewhere" / "video-process.yaml"
    result = run("convert", originals / SPLIT.name, "-o", target)
    assert result.exit_code == 1
    assert "init_script `split-video.sh` of scar-batch-ffmpeg-split.yaml" in result.output
    assert "write video-process.yaml in a folder that holds the scripts" in result.output
    assert not target.exists()
