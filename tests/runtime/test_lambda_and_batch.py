"""The Lambda handler and the Batch entrypoint, with Batch in the emulator: delegation, the job's event,
and the job producing the outputs."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batch_jobs import entrypoint
from lambda_src.handler import InvocationFailed, handler
from lambda_src.submitter import SubmitError
from tests.runtime.conftest import BUCKET, FakeContext, job_environment, keys, s3_event

REPO = Path(__file__).resolve().parents[2]

# Writes an output at once, then works for $WORK_SECONDS: in Lambda it runs out of time half-way.
SLOW_SCRIPT = """
echo "partial" > "$TMP_OUTPUT_DIR/partial.txt"
sleep "${WORK_SECONDS:-0}"
echo "$REQUEST_ID" > "$TMP_OUTPUT_DIR/request-id.txt"
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/$(basename "$INPUT_FILE_PATH").done"
"""


def all_jobs(client) -> list[str]:
    statuses = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
    return [job["jobId"] for status in statuses
            for job in client.list_jobs(jobQueue="test-fn-queue", jobStatus=status)["jobSummaryList"]]


def test_lambda_mode_processes_and_returns_the_result(s3, deployed):
    deployed('cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/copy.txt"\n')
    s3.put_object(Bucket=BUCKET, Key="in/a.txt", Body=b"a")
    response = handler(s3_event(BUCKET, "in/a.txt"), FakeContext("req-7"))
    assert response["ok"] is True and response["request_id"] == "req-7"
    assert response["records"][0]["uploaded"] == ["s3://media/out/copy.txt"]
    json.dumps(response)  # Lambda must be able to serialise it


def test_a_failing_script_fails_the_invocation_with_its_code_and_output(s3, deployed):
    deployed('echo "no such codec" >&2\necho x > "$TMP_OUTPUT_DIR/x"\nexit 3\n')
    s3.put_object(Bucket=BUCKET, Key="in/a.txt", Body=b"a")
    with pytest.raises(InvocationFailed) as raised:
        handler(s3_event(BUCKET, "in/a.txt"), FakeContext())
    assert "script exited with code 3" in str(raised.value) and "no such codec" in str(raised.value)
    assert keys(s3, prefix="out/") == []


def test_lambda_mode_kills_the_script_at_the_time_budget(s3, deployed, monkeypatch):
    monkeypatch.setenv("WORK_SECONDS", "30")
    deployed(SLOW_SCRIPT, timeout_threshold=4)
    s3.put_object(Bucket=BUCKET, Key="in/a.txt", Body=b"a")
    started = time.monotonic()
    with pytest.raises(InvocationFailed, match="timed_out"):
        handler(s3_event(BUCKET, "in/a.txt"), FakeContext(remaining_s=6))
    # killed after 2 s, back before Lambda's end: the 4 s threshold kept free is the margin a loaded machine gets
    assert time.monotonic() - started < 6
    assert keys(s3, prefix="out/") == []


def test_lambda_batch_delegates_a_timeout_and_the_job_produces_the_outputs(s3, deployed, batch, monkeypatch):
    function_env = deployed(SLOW_SCRIPT, execution_mode="lambda-batch", timeout_threshold=1)
    client = batch({**function_env, "WORK_SECONDS": "2"})
    monkeypatch.setenv("WORK_SECONDS", "2")  # the container's variable, in Lambda too
    key = "in/vidéo 1.mp4"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"video")
    event = s3_event(BUCKET, key)

    response = handler(event, FakeContext("lambda-req", remaining_s=2.0))

    # The Lambda attempt uploads nothing, not even the output it had written before running out of time.
    assert keys(s3, prefix="out/") == []
    [record] = response["records"]
    assert record["status"] == "delegated" and response["job_ids"] == [record["job_id"]]
    [job] = client.describe_jobs(jobs=[record["job_id"]])["jobs"]
    assert job["jobQueue"].endswith("/test-fn-queue") and job["jobName"].startswith("test-fn-")
    job_env = job_environment(client, record["job_id"])
    assert json.loads(job_env["AVGEN_EVENT"]) == event and job_env["AVGEN_PARENT_REQUEST_ID"] == "lambda-req"

    # The job: the same image's Batch entrypoint, with the job's environment (job definition + overrides).
    env = {**job_env, "PATH": os.environ["PATH"], "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT_URL"],
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run([sys.executable, "-m", "batch_jobs.entrypoint"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert keys(s3, prefix="out/") == ["out/partial.txt", "out/request-id.txt", "out/vidéo 1.mp4.done"]
    body = s3.get_object(Bucket=BUCKET, Key="out/request-id.txt")["Body"].read()
    assert body == b"lambda-req\n"  # REQUEST_ID is the delegating request's, so keys derived from it repeat
    logs = [json.loads(line) for line in done.stdout.splitlines()]
    assert {line["request_id"] for line in logs} == {"lambda-req"}
    assert "upload" in {line["phase"] for line in logs}


def test_lambda_batch_delegates_a_failure_when_asked(s3, deployed, batch):
    deployed('echo x > "$TMP_OUTPUT_DIR/x"\nexit 3\n', execution_mode="lambda-batch", batch_on_failure=True)
    batch()
    s3.put_object(Bucket=BUCKET, Key="in/a.txt", Body=b"a")
    response = handler(s3_event(BUCKET, "in/a.txt"), FakeContext())
    assert response["records"][0]["status"] == "delegated"
    assert "exit code 3" in response["records"][0]["reason"]
    assert keys(s3, prefix="out/") == []


def test_lambda_batch_without_batch_on_failure_fails(s3, deployed, batch):
    deployed("exit 3\n", execution_mode="lambda-batch")
    client = batch()
    s3.put_object(Bucket=BUCKET, Key="in/a.txt", Body=b"a")
    with pytest.raises(InvocationFailed, match="code 3"):
        handler(s3_event(BUCKET, "in/a.txt"), FakeContext())
    assert all_jobs(client) == []


def test_batch_mode_only_submits_one_job_per_object(aws_env, deployed, batch, tmp_path):
    ran = tmp_path / "ran"
    deployed(f'touch "{ran}"\n', execution_mode="batch")
    client = batch()
    # The objects need not even be readable by the Lambda: it never downloads in batch mode.
    response = handler(s3_event(BUCKET, "in/a.mp4", "in/b.mp4", "in/folder/"), FakeContext("req-b"))
    assert [r["status"] for r in response["records"]] == ["delegated", "delegated", "skipped"]
    assert len(set(response["job_ids"])) == 2 and not ran.exists()
    assert sorted(all_jobs(client)) == sorted(response["job_ids"])
    events = [json.loads(job_environment(client, job_id)["AVGEN_EVENT"]) for job_id in response["job_ids"]]
    assert [e["Records"][0]["s3"]["object"]["key"] for e in events] == ["in/a.mp4", "in/b.mp4"]


def test_batch_mode_without_a_queue_is_a_clear_error(aws_env, deployed, monkeypatch):
    monkeypatch.delenv("AVGEN_JOB_QUEUE", raising=False)
    deployed("true\n", execution_mode="batch")
    with pytest.raises(SubmitError, match="AVGEN_JOB_QUEUE"):
        handler(s3_event(BUCKET, "in/a.mp4"), FakeContext())


def test_batch_entrypoint_exits_with_the_scripts_code(s3, deployed, monkeypatch):
    deployed("exit 5\n", execution_mode="batch")
    s3.put_object(Bucket=BUCKET, Key="in/a.txt", Body=b"a")
    monkeypatch.setenv("AVGEN_EVENT", json.dumps(s3_event(BUCKET, "in/a.txt")))
    monkeypatch.setenv("AVGEN_PARENT_REQUEST_ID", "parent")
    assert entrypoint.main() == 5


def test_batch_entrypoint_without_an_event_fails_clearly(aws_env, deployed, monkeypatch, capsys):
    deployed("true\n", execution_mode="batch")
    monkeypatch.delenv("AVGEN_EVENT", raising=False)
    assert entrypoint.main() == 2
    [line] = capsys.readouterr().out.splitlines()
    assert "AVGEN_EVENT is not set" in json.loads(line)["message"]
