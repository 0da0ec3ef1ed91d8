"""`avgen run --local`: the runner's core (triggers, loop guard, tool check) and both examples end to end."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.verbs.localrun import Limits, LocalRunner, check_tools, script_commands
from generator.workflow.load import load_workflow
from lambda_src.events import parse_event, s3_notification
from lambda_src.storage import DirectoryStorage
from tests.media import make_video, make_yolo_model, requires_tools
from tests.processes import alive, wait_dead
from tests.runtime.conftest import keys
from tests.speech import whisper_tiny_en
from tests.verbs.conftest import EXAMPLES, scar_function, write_workflow

TEXT_FUNCTIONS = [
    scar_function("upper", "upper.sh", "text-bucket/in", "text-bucket/upper", execution_mode="batch",
                  variables={"GREETING": "from-workflow"},
                  batch={"vcpus": 1, "environment": {"Variables": {"JOB_ONLY": "from-batch"}}}),
    scar_function("count", "count.sh", "text-bucket/upper", "text-bucket/counts"),
]
UPPER = 'tr a-z A-Z < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH")"\n' \
        'echo "$GREETING $JOB_ONLY" > "$TMP_OUTPUT_DIR/env.txt"\n'
COUNT = 'case "$INPUT_FILE_PATH" in *fail*) echo "cannot count this" >&2; exit 3;; esac\n' \
        'wc -c < "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").count"\n'
LOOP_FUNCTIONS = [scar_function("ping", "grow.sh", "loop-bucket/ping", "loop-bucket/pong"),
                  scar_function("pong", "grow.sh", "loop-bucket/pong", "loop-bucket/ping")]
GROW = 'name=$(basename "$INPUT_FILE_PATH")\ncat "$INPUT_FILE_PATH" > "$TMP_OUTPUT_DIR/$name"\n' \
       'echo more >> "$TMP_OUTPUT_DIR/$name"\n'


@pytest.fixture
def text_workflow(tmp_path):
    return write_workflow(tmp_path / "text", TEXT_FUNCTIONS, {"upper.sh": UPPER, "count.sh": COUNT})


@pytest.fixture
def loop_workflow(tmp_path):
    return write_workflow(tmp_path / "loop", LOOP_FUNCTIONS, {"grow.sh": GROW})


def local_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# --- the core ---------------------------------------------------------------------------------------

def test_the_event_is_what_s3_sends():
    [obj] = parse_event(s3_notification("b", "in/a file+é.mp4", 12))
    assert (obj.bucket, obj.key, obj.size, obj.created) == ("b", "in/a file+é.mp4", 12, True)


def test_outputs_feed_the_next_functions_with_the_runtimes_environment(text_workflow, tmp_path):
    workflow = load_workflow(text_workflow).workflow
    source = tmp_path / "hello.txt"
    source.write_text("hello")
    events = []
    report = LocalRunner(workflow, DirectoryStorage(tmp_path / "store"), environment={"GREETING": "overridden"},
                         on_event=events.append).run([(source, "text-bucket", "in/hello.txt")])
    assert report.ok, report
    assert local_files(tmp_path / "store") == [
        "text-bucket/counts/env.txt.count", "text-bucket/counts/hello.txt.count", "text-bucket/in/hello.txt",
        "text-bucket/upper/env.txt", "text-bucket/upper/hello.txt"]
    assert (tmp_path / "store/text-bucket/upper/hello.txt").read_text() == "HELLO"
    # the container's variables, the job definition's for a batch function, then --env on top
    assert (tmp_path / "store/text-bucket/upper/env.txt").read_text() == "overridden from-batch\n"
    assert [(i.function, i.key) for i in report.invocations] == [
        ("upper", "in/hello.txt"), ("count", "upper/env.txt"), ("count", "upper/hello.txt")]
    assert [e.kind for e in events].count("start") == 3 == [e.kind for e in events].count("finish")
    assert sorted(o.key for o in report.outputs) == [
        "counts/env.txt.count", "counts/hello.txt.count", "upper/env.txt", "upper/hello.txt"]


# Sleeps past its Lambda budget (timeout 2 s, 1 s kept for uploads) unless it runs on the Batch side.
SLOW = 'if [ "$SIDE" = lambda ]; then sleep 5; fi\ncp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/done.txt"\n'


@pytest.mark.parametrize("mode, statuses, outputs", [
    ("lambda-batch", [("lambda", "delegated"), ("batch", "succeeded")], ["slow-bucket/out/done.txt"]),
    ("lambda", [("lambda", "timed_out")], []),
])
def test_lambda_time_limit_and_handover_to_batch(tmp_path, mode, statuses, outputs):
    functions = [scar_function("slow", "slow.sh", "slow-bucket/in", "slow-bucket/out", execution_mode=mode,
                               timeout=2, variables={"SIDE": "lambda"},
                               **({"batch": {"environment": {"Variables": {"SIDE": "batch"}}}}
                                  if mode == "lambda-batch" else {}))]
    functions[0]["lambda"]["container"]["timeout_threshold"] = 1
    workflow = load_workflow(write_workflow(tmp_path / "wf", functions, {"slow.sh": SLOW})).workflow
    source = tmp_path / "x.txt"
    source.write_text("x")
    report = LocalRunner(workflow, DirectoryStorage(tmp_path / "store")).run([(source, "slow-bucket", "in/x.txt")])
    assert [(i.runs_on, i.status) for i in report.invocations] == statuses
    assert [f"{o.bucket}/{o.key}" for o in report.outputs] == outputs  # nothing from the Lambda attempt
    assert report.ok is (mode == "lambda-batch")

    unlimited = LocalRunner(workflow, DirectoryStorage(tmp_path / "store2"), limits=Limits(lambda_time_limit=False)
                            ).run([(source, "slow-bucket", "in/x.txt")])
    assert [(i.runs_on, i.status) for i in unlimited.invocations] == [("lambda", "succeeded")]


def test_a_runaway_loop_is_stopped_naming_its_functions(loop_workflow, tmp_path):
    result = load_workflow(loop_workflow)
    assert any(f.rule_id == "AVG011" for f in result.findings)  # validate refuses it; the guard is the backstop
    seed = tmp_path / "seed.txt"
    seed.write_text("x\n")
    report = LocalRunner(result.workflow, DirectoryStorage(tmp_path / "store"), limits=Limits(workers=2, max_depth=6)
                         ).run([(seed, "loop-bucket", "ping/seed.txt")])
    assert not report.ok
    assert "runaway loop" in report.stopped and "ping, pong" in report.stopped
    assert "ping → pong → ping" in report.stopped
    assert len([i for i in report.invocations if i.status == "succeeded"]) == 6

    per_function = LocalRunner(result.workflow, DirectoryStorage(tmp_path / "store2"),
                               limits=Limits(workers=1, max_per_function=2)).run([(seed, "loop-bucket", "ping/s.txt")])
    assert "ping ran 2 times" in per_function.stopped


def test_script_commands_are_found():
    script = """#!/bin/sh
# a comment: ffprobe is not called
set -eu
name=$(basename "$INPUT_FILE_PATH")
if [ -f "$name" ]; then darknet detector test cfg/coco.data x; fi
LANG=C sox a.wav b.wav && python3 ./audio2srt.py -i "$name" | tee log
avgen-handler yolo image "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR"
"$SOME_TOOL" --flag
"""
    assert script_commands(script) == ["basename", "darknet", "sox", "python3", "tee", "avgen-handler yolo"]


def test_here_document_bodies_are_not_read_as_commands():
    script = """python3 - "$INPUT_FILE_PATH" <<'PY'
import sys
try:
    open(sys.argv[1])
except OSError:
    raise
PY
cat <<-EOF > "$TMP_OUTPUT_DIR/note.txt"
\tdone with it
\tEOF
tr a-z A-Z < "$INPUT_FILE_PATH" | cat <<< "here-string" # cat <<NOT a here-document in a comment
sort -u "$INPUT_FILE_PATH"
"""
    assert script_commands(script) == ["python3", "cat", "tr", "sort"]


def test_missing_tools_are_named_with_how_to_install_them():
    workflow = load_workflow(EXAMPLES / "av-workflow" / "workflow.yaml").workflow
    missing = check_tools(workflow, which=lambda name: None if name == "ffmpeg" else "/bin/" + name,
                          module_exists=lambda name: name not in ("faster_whisper", "pocketsphinx"))
    messages = {m.tool: m.message for m in missing}
    # the example's audio2srt uses the whisper engine: faster-whisper is needed, pocketsphinx is not
    assert set(messages) == {"ffmpeg", "faster_whisper"}
    assert "apt-get install ffmpeg" in messages["ffmpeg"]
    assert "av-workflow-ffmpeg, av-workflow-audio2srt, av-workflow-yolov3" in messages["ffmpeg"]
    assert "pip install 'avgen[media]'" in messages["faster_whisper"]
    assert "used by av-workflow-audio2srt" in messages["faster_whisper"]


def test_a_tool_only_the_image_has_is_named_with_the_image(tmp_path):
    path = write_workflow(tmp_path / "w", [scar_function("detect", "dn.sh", "b-bucket/in", "b-bucket/out")],
                          {"dn.sh": "darknet-x detect x\n"})
    [missing] = check_tools(load_workflow(path).workflow)
    assert missing.tool == "darknet-x" and "alpine:3" in missing.message


# --- the command ----------------------------------------------------------------------------------

def test_run_local_in_folders_and_a_failure_is_reported(cli, text_workflow, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "ok.txt").write_text("fine")
    (inputs / "sub").mkdir()
    (inputs / "sub" / "fail.txt").write_text("bad")
    result = cli("run", text_workflow, "--local", "--input", inputs, "-j", "2")
    assert result.exit_code == 1, result.output
    store = text_workflow.parent / ".avgen" / "text-local"
    assert "text-bucket/in/sub/fail.txt" in local_files(store)  # the folder's subfolders are kept
    assert "upper/ok.txt" in result.stdout and "counts/ok.txt.count" in result.stdout  # the outputs table
    assert "failed: count on s3://text-bucket/upper/fail.txt: script exited with code 3" in result.stdout
    assert "cannot count this" in result.stdout
    log = text_workflow.parent / ".avgen" / "text-local-run.jsonl"
    assert {json.loads(line)["function"] for line in log.read_text().splitlines()} == {"upper", "count"}

    again = cli("run", text_workflow, "--local", "--input", inputs / "ok.txt")
    assert again.exit_code == 0 and "already held the same content" in again.stdout
    fresh = cli("run", text_workflow, "--local", "--input", inputs / "ok.txt", "--fresh")
    assert fresh.exit_code == 0 and "4 outputs" in fresh.stdout
    assert not (store / "text-bucket" / "in" / "sub").exists()


def test_run_local_json_is_the_run_report(cli, text_workflow, tmp_path):
    """--format json: the report as data on stdout (one envelope), the live lines on stderr; a failed script
    is the result's, so the envelope has no error and the exit code is still 1."""
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "ok.txt").write_text("fine")
    (inputs / "fail.txt").write_text("bad")
    result = cli("run", text_workflow, "--local", "--input", inputs, "-j", "2", "--format", "json")
    assert result.exit_code == 1, result.output
    envelope = json.loads(result.stdout)
    report = envelope["run"]
    assert envelope["error"] is None and report["ok"] is False
    assert {(i["function"], i["status"]) for i in report["invocations"]} >= {("upper", "succeeded"),
                                                                            ("count", "failed")}
    assert "s3://text-bucket/counts/ok.txt.count" in {o["uri"] for o in report["outputs"]}
    assert report["log_file"].endswith("text-local-run.jsonl") and "upper" in result.stderr


def test_run_local_against_an_s3_api(cli, s3_api, text_workflow, tmp_path):
    endpoint, client = s3_api
    source = tmp_path / "hi.txt"
    source.write_text("hi")
    result = cli("run", text_workflow, "--local", "-i", source, "--endpoint-url", endpoint)
    assert result.exit_code == 0, result.output
    assert "created bucket text-bucket" in result.stderr
    assert keys(client, "text-bucket") == ["counts/env.txt.count", "counts/hi.txt.count", "in/hi.txt",
                                           "upper/env.txt", "upper/hi.txt"]


def test_run_refuses_errors_unless_allowed_and_the_guard_stops_the_loop(cli, loop_workflow, tmp_path):
    seed = tmp_path / "seed.txt"
    seed.write_text("x")
    refused = cli("run", loop_workflow, "--local", "-i", seed, "-b", "loop-bucket/ping")
    assert refused.exit_code == 1 and "AVG011" in refused.stdout
    stopped = cli("run", loop_workflow, "--local", "-i", seed, "-b", "loop-bucket/ping", "--allow-errors",
                  "--max-depth", "4")
    assert stopped.exit_code == 1
    assert "stopped a runaway loop" in stopped.stdout and "Functions involved: ping, pong" in stopped.stdout


def test_run_usage_errors(cli, text_workflow, tmp_path, monkeypatch):
    assert cli("run", text_workflow, "-i", text_workflow).exit_code == 64  # --local is required
    assert cli("run", text_workflow, "--local").exit_code == 64  # no input
    assert cli("run", text_workflow, "--local", "-i", text_workflow, "-e", "1BAD").exit_code == 64
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "tr" else "/bin/" + name)
    missing = cli("run", text_workflow, "--local", "-i", text_workflow)
    assert missing.exit_code == 1 and "command 'tr', used by upper" in missing.stderr


# Leaves a background child, and says where it and the shell are, once both run.
LINGER = 'sleep 60 &\necho "$$ $!" > "$PIDS_DIR/tmp" && mv "$PIDS_DIR/tmp" "$PIDS_DIR/pids"\nwait\n'
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_that_ends_the_run_ends_its_scripts_and_says_what_was_left(tmp_path, how):
    """As `timeout -s TERM 3 avgen run --local …` (a CI cancel, Ctrl-C, a closed terminal) would end it."""
    workflow = write_workflow(tmp_path / "linger", [
        scar_function("linger", "linger.sh", "linger-bucket/in", "linger-bucket/out")], {"linger.sh": LINGER})
    (pids := tmp_path / "pids").mkdir()
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(name)
    avgen = subprocess.Popen(
        [sys.executable, "-m", "generator.cli", "run", workflow, "--local", "-i", tmp_path / "a.txt", "-i",
         tmp_path / "b.txt", "-j", "1", "--no-tool-check", "-e", f"PIDS_DIR={pids}"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    started: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not (pids / "pids").exists() and avgen.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        started = [int(pid) for pid in (pids / "pids").read_text().split()]  # the shell and its `sleep 60`
        avgen.send_signal(how)
        stdout, stderr = avgen.communicate(timeout=30)
        assert [pid for pid in started if not wait_dead(pid, within=30)] == []
        assert avgen.returncode == 128 + how, stdout + stderr
        # the one under way was cut short, the other one never started, and both are named
        assert f"interrupted: linger on s3://linger-bucket/in/a.txt: its script was killed: avgen got {how.name}" \
            in stdout, stdout
        assert f"cancelled: linger on s3://linger-bucket/in/b.txt: never started: the run was ended by {how.name}" \
            in stdout, stdout
        assert f"ended by {how.name}: 1 invocation cut short" in stdout and "1 never started" in stdout
    finally:
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if avgen.poll() is None:
            avgen.kill()
            avgen.wait()


# --- both examples, end to end, on media made here -----------------------------------------------------

@pytest.fixture(scope="module")
def tiny_yolo(tmp_path_factory):
    cfg, weights, names = make_yolo_model(tmp_path_factory.mktemp("model"), "yolov3-tiny", input_size=128)
    return ["-e", f"YOLO_CFG={cfg}", "-e", f"YOLO_WEIGHTS={weights}", "-e", f"YOLO_NAMES={names}"]


def run_example(cli, name: str, video: Path, tmp_path: Path, model: list[str]):
    store = tmp_path / "store"
    result = cli("run", EXAMPLES / name / "workflow.yaml", "--local", "-i", video, "--store", store,
                 "--log-file", tmp_path / "run.jsonl", *model)
    assert result.exit_code == 0, result.output
    return store, result


@pytest.mark.media
@requires_tools("ffmpeg", "ffprobe")
def test_video_process_gives_one_out_and_one_png_per_second(cli, tmp_path, tiny_yolo):
    video = make_video(tmp_path / "seq1.mp4", seconds=3, fps=5, with_audio=False)
    store, result = run_example(cli, "video-process", video, tmp_path, tiny_yolo)
    bucket = store / "change-me-video-process"
    frames = local_files(bucket / "split-images")
    assert len(frames) == 3 and all(f.endswith(".jpg") for f in frames)
    stems = [Path(f).stem for f in frames]
    assert local_files(bucket / "output") == sorted(f"{s}.{ext}" for s in stems for ext in ("out", "png"))
    assert "ok: 4 invocations, 9 outputs, 0 failed" in result.stdout


@pytest.mark.media
@requires_tools("ffmpeg", "ffprobe", "espeak-ng")
def test_av_workflow_gives_the_video_with_boxes_and_subtitles(cli, tmp_path, tiny_yolo):
    video = make_video(tmp_path / "my_video.mkv", seconds=3, fps=5, with_audio="speech")
    whisper_model = ["-e", f"WHISPER_MODEL={whisper_tiny_en()}"]  # where the image would have it baked in
    store, result = run_example(cli, "av-workflow", video, tmp_path, tiny_yolo + whisper_model)
    bucket = store / "change-me-av-workflow"
    assert local_files(bucket / "result") == ["my_video.avi", "my_video.srt"]
    assert "lazy dog" in (bucket / "result" / "my_video.srt").read_text()  # the 3 s video holds one sentence
    assert (bucket / "result" / "my_video.avi").stat().st_size > 0
    assert "ok: 3 invocations, 4 outputs, 0 failed" in result.stdout


def test_an_env_value_that_is_a_relative_path_here_is_made_absolute(cli, text_workflow, tmp_path, monkeypatch):
    # the scripts run in a temporary folder: `-e YOLO_WEIGHTS=models/x.weights` must still name the file
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "x.weights").write_text("w")
    source = tmp_path / "in.txt"
    source.write_text("x")
    result = cli("run", text_workflow, "--local", "-i", source, "-e", "GREETING=models/x.weights",
                 "-e", "JOB_ONLY=no/such/file")
    assert result.exit_code == 0, result.output
    env_txt = text_workflow.parent / ".avgen" / "text-local" / "text-bucket" / "upper" / "env.txt"
    assert env_txt.read_text() == f"{tmp_path / 'models' / 'x.weights'} no/such/file\n"
    assert f"--env GREETING={tmp_path / 'models' / 'x.weights'}" in result.stderr


def test_a_script_with_a_here_document_runs(cli, tmp_path):
    script = 'python3 - "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR" <<\'PY\'\nimport shutil, sys\ntry:\n' \
             '    shutil.copy(sys.argv[1], sys.argv[2])\nexcept OSError:\n    raise\nPY\n'
    path = write_workflow(tmp_path / "doc", [scar_function("py", "py.sh", "doc-bucket/in", "doc-bucket/out")],
                          {"py.sh": script})
    source = tmp_path / "a.txt"
    source.write_text("a")
    result = cli("run", path, "--local", "-i", source)
    assert result.exit_code == 0, result.output
    assert "missing" not in result.stderr and "out/a.txt" in result.stdout
