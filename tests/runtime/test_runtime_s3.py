"""The runtime end to end against a real S3 API (moto's server over HTTP): put an object, hand over the
S3 event, look at the keys that come out."""
import hashlib
import io
import json
import os
from pathlib import Path

import pytest

from lambda_src.config import FunctionConfig
from lambda_src.core import ERROR, FAILED, SKIPPED, SUCCEEDED, run_invocation
from lambda_src.logs import configure_logging
from lambda_src.storage import S3Storage
from tests.runtime.conftest import BUCKET, function_config, keys, output, s3_event

# Leaves a small tree of outputs, whatever the input.
TREE_SCRIPT = """
cd "$TMP_OUTPUT_DIR"
mkdir -p frames/a
echo v > clip.avi; echo a > clip.wav; echo 1 > frames/img-001.jpg; echo 2 > frames/a/img-002.png
"""


def invoke(script_path, s3_keys, *, request_id="req-1", workdir=None, **config):
    config = FunctionConfig.from_dict(function_config(**config), script=str(script_path))
    return run_invocation(config, s3_event(BUCKET, *s3_keys), S3Storage(), request_id=request_id,
                          deadline=None, workdir=workdir)


@pytest.mark.parametrize("filters, expected", [
    ({}, ["clip.avi", "clip.wav", "frames/a/img-002.png", "frames/img-001.jpg"]),
    ({"filter_suffix": ["avi"]}, ["clip.avi"]),
    ({"filter_suffix": ["wav", "png"]}, ["clip.wav", "frames/a/img-002.png"]),
    ({"filter_prefix": ["frames/"]}, ["frames/a/img-002.png", "frames/img-001.jpg"]),
    ({"filter_prefix": ["frames/", "clip"], "filter_suffix": ["jpg", "avi"]}, ["clip.avi", "frames/img-001.jpg"]),
    ({"filter_prefix": ["img"]}, []),  # prefixes apply to the path relative to the output folder
])
def test_filter_combinations_choose_the_uploaded_keys(s3, write_script, filters, expected):
    s3.put_object(Bucket=BUCKET, Key="in/video.mp4", Body=b"frames")
    result = invoke(write_script(TREE_SCRIPT), ["in/video.mp4"], outputs=[output("out", **filters)])
    assert result.ok
    assert keys(s3, prefix="out/") == [f"out/{name}" for name in expected]


def test_several_outputs_each_get_every_matching_file_with_subfolders(s3, write_script):
    s3.create_bucket(Bucket="results")
    s3.put_object(Bucket=BUCKET, Key="in/video.mp4", Body=b"frames")
    outputs = [output("video", filter_suffix=["avi"]), output("audio", filter_suffix=["wav"]),
               output("", bucket="results"), output("images/all", filter_prefix=["frames"])]
    result = invoke(write_script(TREE_SCRIPT), ["in/video.mp4"], outputs=outputs)
    assert result.ok
    assert keys(s3, prefix="video/") == ["video/clip.avi"]
    assert keys(s3, prefix="audio/") == ["audio/clip.wav"]
    assert keys(s3, "results") == ["clip.avi", "clip.wav", "frames/a/img-002.png", "frames/img-001.jpg"]
    assert keys(s3, prefix="images/") == ["images/all/frames/a/img-002.png", "images/all/frames/img-001.jpg"]
    assert len(result.records[0].uploaded) == 8
    assert s3.get_object(Bucket=BUCKET, Key="images/all/frames/a/img-002.png")["Body"].read() == b"2\n"


def test_unicode_and_spaces_in_keys_and_outputs(s3, write_script):
    key = "in/vidéo 1+2 ñ 映像.mp4"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    script = write_script(
        'name=$(basename "$INPUT_FILE_PATH"); name="${name%.*}"\n'
        'mkdir -p "$TMP_OUTPUT_DIR/sous-dossier é"\n'
        'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/sous-dossier é/$name ✓.txt"\n'
    )
    result = invoke(script, [key])
    assert result.ok, result
    assert keys(s3, prefix="out/") == ["out/sous-dossier é/vidéo 1+2 ñ 映像 ✓.txt"]


def test_the_script_sees_scars_environment_contract(s3, write_script, tmp_path, monkeypatch):
    monkeypatch.setenv("CONTAINER_VARIABLE", "from the image")
    s3.put_object(Bucket=BUCKET, Key="in/my file.wav", Body=b"audio bytes")
    names = ["INPUT_FILE_PATH", "TMP_INPUT_DIR", "TMP_OUTPUT_DIR", "STORAGE_OBJECT_KEY", "EVENT", "EVENT_TIME",
             "REQUEST_ID", "AWS_LAMBDA_REQUEST_ID", "CONTAINER_VARIABLE", "EXTRA_VARIABLE"]
    dump = tmp_path / "env.json"
    script = write_script(
        "python3 -c 'import json, os, sys; json.dump({n: os.environ.get(n) for n in sys.argv[2:]}, "
        f"open(sys.argv[1], \"w\"))' \"{dump}\" {' '.join(names)}\n"
        'cat "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/copy"\n'
    )
    config = FunctionConfig.from_dict(function_config(), script=str(script),
                                      environment={"EXTRA_VARIABLE": "local runner"})
    event = s3_event(BUCKET, "in/my file.wav")
    result = run_invocation(config, event, S3Storage(), request_id="abc-123", deadline=None, workdir=tmp_path)
    assert result.ok
    env = json.loads(dump.read_text())
    assert env["STORAGE_OBJECT_KEY"] == "in/my file.wav"
    assert env["INPUT_FILE_PATH"] == os.path.join(env["TMP_INPUT_DIR"], "my file.wav")
    assert Path(env["TMP_INPUT_DIR"]).parent == Path(env["TMP_OUTPUT_DIR"]).parent
    assert Path(env["TMP_INPUT_DIR"]).parent.parent == tmp_path
    assert json.loads(env["EVENT"]) == event
    assert env["EVENT_TIME"] == "2024-05-01T12:00:00.000Z"
    assert env["REQUEST_ID"] == env["AWS_LAMBDA_REQUEST_ID"] == "abc-123"
    assert env["CONTAINER_VARIABLE"] == "from the image" and env["EXTRA_VARIABLE"] == "local runner"
    assert s3.get_object(Bucket=BUCKET, Key="out/copy")["Body"].read() == b"audio bytes"
    assert not Path(env["TMP_INPUT_DIR"]).parent.exists()  # the per-object folder is cleaned up


def test_a_failing_script_uploads_nothing_and_reports_code_and_output(s3, write_script):
    s3.put_object(Bucket=BUCKET, Key="in/video.mp4", Body=b"x")
    stream = io.StringIO()
    configure_logging("INFO", stream)
    script = write_script(TREE_SCRIPT + 'echo "ffmpeg: Invalid data found when processing input" >&2\nexit 3\n')
    result = invoke(script, ["in/video.mp4"])
    assert not result.ok and result.exit_code == 3
    [record] = result.records
    assert record.status == FAILED and record.uploaded == ()
    assert "Invalid data found" in record.output_tail
    assert keys(s3, prefix="out/") == []
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [failure] = [line for line in lines if line["level"] == "ERROR"]
    assert failure["phase"] == "script" and failure["exit_code"] == 3
    assert "Invalid data found" in failure["output_tail"] and failure["request_id"] == "req-1"


def test_every_record_is_processed_and_one_failure_fails_the_invocation(s3, write_script):
    for key in ("in/good.txt", "in/bad.txt"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
    script = write_script('case "$STORAGE_OBJECT_KEY" in *bad*) exit 4;; esac\n'
                          'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\n')
    result = invoke(script, ["in/good.txt", "in/bad.txt"])
    assert [r.status for r in result.records] == [SUCCEEDED, FAILED]
    assert not result.ok and result.exit_code == 4
    assert keys(s3, prefix="out/") == ["out/good.txt"]


def test_folder_markers_and_empty_objects_are_skipped(s3, write_script, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="in/folder/", Body=b"")
    s3.put_object(Bucket=BUCKET, Key="in/empty.txt", Body=b"")
    ran = tmp_path / "ran"
    script = write_script(f'touch "{ran}"\n')
    config = FunctionConfig.from_dict(function_config(), script=str(script))
    event = s3_event(BUCKET, "in/folder/", "in/empty.txt", "in/empty.txt",
                     sizes={"in/folder/": 0, "in/empty.txt": 0})
    event["Records"][2]["s3"]["object"]["size"] = 7  # an event that doesn't know: S3 is asked
    result = run_invocation(config, event, S3Storage(), request_id="r", deadline=None)
    assert result.ok and [r.status for r in result.records] == [SKIPPED] * 3
    assert [r.reason for r in result.records] == ["folder marker (key ends with '/')", "zero-byte object",
                                                  "zero-byte object"]
    assert not ran.exists()


def test_objects_outside_the_inputs_are_skipped(s3, write_script):
    s3.put_object(Bucket=BUCKET, Key="elsewhere/a.txt", Body=b"a")
    result = invoke(write_script("exit 1\n"), ["elsewhere/a.txt"])
    assert result.ok and result.records[0].reason == "not under any input of this function"


def test_a_vanished_object_is_a_clear_error(s3, write_script, tmp_path):
    ran = tmp_path / "ran"
    result = invoke(write_script(f'touch "{ran}"\n'), ["in/deleted.mp4"])
    [record] = result.records
    assert record.status == ERROR and not result.ok
    assert "s3://media/in/deleted.mp4 does not exist" in record.reason
    assert not ran.exists()


def test_the_same_event_twice_gives_the_same_keys_and_writes_them_once(s3, write_script):
    s3.put_object(Bucket=BUCKET, Key="in/video.mp4", Body=b"frames")
    script = write_script(TREE_SCRIPT)
    first = invoke(script, ["in/video.mp4"], request_id="delivery-1")
    written = {key: s3.head_object(Bucket=BUCKET, Key=key)["ETag"] for key in keys(s3, prefix="out/")}
    second = invoke(script, ["in/video.mp4"], request_id="delivery-2")
    assert first.ok and second.ok
    assert keys(s3, prefix="out/") == sorted(written)
    assert sorted(second.records[0].unchanged) == sorted(first.records[0].uploaded)
    assert second.records[0].uploaded == ()  # no new ObjectCreated event for the next function


def test_large_objects_are_streamed_both_ways(s3, write_script):
    body = os.urandom(12 * 1024 * 1024)  # above boto3's 8 MiB multipart threshold
    s3.put_object(Bucket=BUCKET, Key="in/big.bin", Body=body)
    result = invoke(write_script('cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/big.bin"\n'), ["in/big.bin"])
    assert result.ok
    head = s3.head_object(Bucket=BUCKET, Key="out/big.bin")
    assert head["ContentLength"] == len(body) and "-" in head["ETag"]  # a multipart upload
    copy = s3.get_object(Bucket=BUCKET, Key="out/big.bin")["Body"].read()
    assert hashlib.sha256(copy).hexdigest() == head["Metadata"]["avgen-sha256"] == hashlib.sha256(body).hexdigest()


def test_logs_are_one_json_object_per_line_with_phases_timings_and_sizes(s3, write_script):
    s3.put_object(Bucket=BUCKET, Key="in/video.mp4", Body=b"123456")
    stream = io.StringIO()
    configure_logging("INFO", stream)
    assert invoke(write_script(TREE_SCRIPT), ["in/video.mp4"], outputs=[output("out", filter_suffix=["avi"])]).ok
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert {line["request_id"] for line in lines} == {"req-1"}
    assert {line["function"] for line in lines} == {"test-fn"}
    by_phase = {line["phase"]: line for line in lines}
    assert set(by_phase) == {"start", "download", "script", "upload", "end"}
    assert by_phase["download"]["bytes"] == 6 and by_phase["download"]["duration_ms"] >= 0
    assert by_phase["script"]["exit_code"] == 0 and "duration_ms" in by_phase["script"]
    assert by_phase["upload"]["target"] == "s3://media/out/clip.avi" and by_phase["upload"]["bytes"] == 2
    assert by_phase["end"]["ok"] is True


def test_log_level_hides_info_lines(s3, write_script):
    stream = io.StringIO()
    configure_logging("WARNING", stream)
    s3.put_object(Bucket=BUCKET, Key="in/a", Body=b"a")
    assert invoke(write_script("true\n"), ["in/a"]).ok
    assert stream.getvalue() == ""


def test_a_missing_output_bucket_fails_before_any_upload(s3, write_script):
    s3.put_object(Bucket=BUCKET, Key="in/a.txt", Body=b"x")
    script = write_script('echo ok > "$TMP_OUTPUT_DIR/result.txt"\n')
    result = invoke(script, ["in/a.txt"], outputs=[output("out"), output("out", bucket="no-such-bucket")])
    assert not result.ok and "no-such-bucket" in result.records[0].reason
    assert keys(s3, prefix="out/") == []
