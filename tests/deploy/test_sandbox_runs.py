"""The sandbox runs what was deployed: uploads start the deployed functions, jobs run, IAM is enforced.

A small workflow (tests/data/sandbox-workflow) is applied once to the sandbox with real terraform; each test
then uploads with `avgen put --sandbox`, which waits until the workflow is quiet, and looks at what the
functions left in the emulator over its S3 API.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote_plus

import pytest
from typer.testing import CliRunner

from generator.aws.executor import machine_has_gpu
from generator.aws.recording import History
from generator.aws.sandbox import Sandbox, running_server
from generator.cli import app

pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("sandbox-runs")]
DATA = Path(__file__).parents[1] / "data" / "sandbox-workflow"
BUCKET = "avgen-sandbox-test"
runner = CliRunner()


def avgen(*args):
    return runner.invoke(app, [*map(str, args)])


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, plugin_dir):
    root = tmp_path_factory.mktemp("sbx")
    shutil.copytree(DATA, root / "wf")
    workflow, workdir = root / "wf" / "workflow.yaml", root / "deploy"
    result = avgen("apply", workflow, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir)
    assert result.exit_code == 0, result.output
    return workflow, workdir


def put(deployed, tmp_path, folder: str, name: str, text: str = "hello\n"):
    workflow, workdir = deployed
    source = tmp_path / name
    source.write_text(text)
    return avgen("put", workflow, source, "-b", f"{BUCKET}/{folder}", "--sandbox", "-w", workdir)


def objects(workdir: Path) -> dict[str, bytes]:
    import boto3

    with Sandbox(workdir / "sandbox") as sandbox:
        s3 = boto3.client("s3", endpoint_url=sandbox.endpoint, region_name="us-east-1",
                          **sandbox.credentials)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        return {key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys}


def test_terraform_gets_every_answer_of_the_sandbox_at_the_first_attempt(deployed):
    """The provider's SDK sends a request again when it lost the answer (`amz-sdk-request: attempt=2`). A
    create sent twice fails against its own first attempt ("already exists"), so the sandbox's answers must
    reach terraform whole: no request of the apply may have needed a second attempt."""
    _, workdir = deployed
    retried = [(request.headers.get("X-Amz-Target") or request.uri, request.headers["Amz-Sdk-Request"])
               for request in History(workdir / "sandbox").read()
               if "terraform-provider-aws" in request.headers.get("User-Agent", "")
               and not request.headers.get("Amz-Sdk-Request", "attempt=1").startswith("attempt=1;")]
    assert retried == []


def test_an_upload_runs_a_lambda_then_a_batch_job(deployed, tmp_path):
    result = put(deployed, tmp_path, "in", "clip.txt")
    assert result.exit_code == 0, result.output
    assert "sbx-copy" in result.output and "sbx-stamp" in result.output  # both shown as they ran
    stored = objects(deployed[1])
    assert stored["mid/clip.txt"] == b"hello\n"
    stamped = stored["out/clip.stamped.txt"].decode()
    assert stamped.startswith("hello\nstamped by job ") and "none" not in stamped


def test_the_same_upload_again_says_its_unchanged_outputs_started_nothing_downstream(deployed, tmp_path):
    assert put(deployed, tmp_path, "in", "again.txt").exit_code == 0
    again = put(deployed, tmp_path, "in", "again.txt")
    # sbx-copy writes the very same mid/again.txt: not rewritten, so sbx-stamp's job is not submitted
    assert again.exit_code == 0, again.output
    assert "workflow done: 1 invocation, 0 Batch jobs, 0 failed" in again.output
    assert ("1 output already held the same content, so were not written again and started no function "
            "downstream (as on AWS): s3://avgen-sandbox-test/mid/again.txt") in again.output


def test_status_and_logs_read_what_ran_from_the_deployed_log_groups(deployed, tmp_path):
    workflow, workdir = deployed
    assert put(deployed, tmp_path, "in", "for-logs.txt").exit_code == 0
    logs = avgen("logs", workflow, "sbx-copy", "--sandbox", "-w", workdir, "--since", "1h")
    assert logs.exit_code == 0, logs.output
    assert "for-logs.txt" in logs.output and "invocation finished" in logs.output
    status = avgen("status", workflow, "--sandbox", "-w", workdir, "--json")
    rows = {row["name"]: row for row in json.loads(status.stdout)["status"]["functions"]}
    assert rows["sbx-copy"]["invocations"] >= 1
    assert rows["sbx-stamp"]["jobs"]["SUCCEEDED"] >= 1


def test_functions_and_jobs_see_the_variables_lambda_and_batch_set(deployed, tmp_path):
    result = put(deployed, tmp_path, "in", "env-check.txt")  # copy.sh writes its variables, stamp.sh adds Batch's
    assert result.exit_code == 0, result.output
    stamped = objects(deployed[1])["out/env-check.stamped.txt"].decode()
    lambda_lines = dict(line.split("=", 1) for line in stamped.splitlines() if "=" in line)
    assert lambda_lines["LAMBDA_TASK_ROOT"] == "/var/task"
    assert lambda_lines["_HANDLER"] == "lambda_src.handler.handler"
    assert lambda_lines["TZ"] == ":UTC"
    assert lambda_lines["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/sbx-copy"
    assert "[$LATEST]" in lambda_lines["AWS_LAMBDA_LOG_STREAM_NAME"]
    batch = stamped.splitlines()[-1].split()
    assert batch[:2] == ["attempt", "1"] and batch[2] == "queue" and batch[4] == "environment"
    assert "none" not in batch[3:]


def test_each_log_line_is_stamped_when_written_and_report_says_what_lambda_bills(deployed, tmp_path):
    import boto3

    workdir = deployed[1]
    assert put(deployed, tmp_path, "in", "timed.txt").exit_code == 0
    with Sandbox(workdir / "sandbox") as sandbox:
        logs = boto3.client("logs", endpoint_url=sandbox.endpoint, region_name="us-east-1",
                            **sandbox.credentials)
        streams = logs.describe_log_streams(logGroupName="/aws/lambda/sbx-copy")["logStreams"]
        events = next(found for found in (
            logs.get_log_events(logGroupName="/aws/lambda/sbx-copy", logStreamName=stream["logStreamName"])["events"]
            for stream in streams) if any("timed.txt" in event["message"] for event in found))
    messages, stamps = [e["message"] for e in events], [e["timestamp"] for e in events]
    assert messages[0].startswith("START ") and messages[-2].startswith("END ") and messages[-1].startswith("REPORT ")
    assert stamps == sorted(stamps) and stamps[0] < stamps[-1]  # START when it began, REPORT when it ended
    fields = dict(part.split(": ", 1) for part in messages[-1].split("\t")[1:])
    duration = float(fields["Duration"].removesuffix(" ms"))
    assert fields["Billed Duration"] == f"{math.ceil(duration)} ms"
    assert int(fields["Max Memory Used"].removesuffix(" MB")) > 0


def test_a_script_writing_outside_its_outputs_gets_access_denied(deployed, tmp_path):
    result = put(deployed, tmp_path, "escape", "try.txt")
    assert result.exit_code == 1, result.output
    assert "AccessDenied" in result.output
    assert "in/planted.txt" not in objects(deployed[1])


def test_lambda_batch_out_of_time_hands_over_to_batch_which_writes_once(deployed, tmp_path):
    result = put(deployed, tmp_path, "slow", "long.txt")
    assert result.exit_code == 0, result.output
    stored = objects(deployed[1])
    assert stored["out/slow-long.txt"] == b"finished on Batch\n"
    # the Lambda attempt's partial output was never uploaded: the one there is the Batch run's
    assert stored["out/partial-long.txt"] == b"partial on Batch\n"


def test_sandbox_up_serves_every_command_until_down(deployed, tmp_path):
    workflow, workdir = deployed
    up = avgen("sandbox", "up", workflow, "-w", workdir)
    assert up.exit_code == 0, up.output
    server = running_server(workdir / "sandbox")
    try:
        assert server is not None and f"127.0.0.1:{server['port']}" in up.stdout
        result = put(deployed, tmp_path, "in", "served.txt")  # attaches instead of starting a server
        assert result.exit_code == 0, result.output
        assert running_server(workdir / "sandbox")["pid"] == server["pid"]
    finally:
        assert avgen("sandbox", "down", workflow, "-w", workdir).exit_code == 0
    assert running_server(workdir / "sandbox") is None
    assert "out/served.stamped.txt" in objects(workdir)  # state kept after down


def test_put_on_a_kept_up_sandbox_reports_only_what_it_started(deployed, tmp_path):
    workflow, workdir = deployed
    up = avgen("sandbox", "up", workflow, "-w", workdir)
    assert up.exit_code == 0, up.output
    try:
        earlier = put(deployed, tmp_path, "escape", "earlier.txt")  # fails: IAM denies its write
        assert earlier.exit_code == 1, earlier.output
        later = put(deployed, tmp_path, "in", "later.txt")
        assert later.exit_code == 0, later.output  # the earlier failure is not this upload's
        assert "workflow done:" in later.output and ", 0 failed, in " in later.output, later.output
        assert "sbx-stamp" in later.output and "sbx-escape" not in later.output, later.output
    finally:
        assert avgen("sandbox", "down", workflow, "-w", workdir).exit_code == 0


def test_a_killed_command_leaves_a_sandbox_the_next_command_continues(deployed, tmp_path):
    workflow, workdir = deployed
    held = tmp_path / "held"
    held.mkdir()
    source = tmp_path / "hold-killed.txt"
    source.write_text(str(held))  # sbx-copy's script says when it runs, then holds until `go`
    command = [sys.executable, "-m", "generator.cli", "put", str(workflow), str(source), "-b", f"{BUCKET}/in",
               "--sandbox", "-w", str(workdir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               cwd=Path(__file__).parents[2], start_new_session=True)
    try:
        # killed while the workflow it started runs: the phase the script names, not one the clock picks
        deadline = time.monotonic() + 600
        while not (held / "running").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (held / "running").exists(), f"the command ended ({process.poll()}) before its function ran"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        (held / "go").touch()  # whatever still runs the held invocation may finish it
    result = put(deployed, tmp_path, "in", "after-kill.txt")
    assert result.exit_code == 0, result.output
    assert "out/after-kill.stamped.txt" in objects(workdir)


def test_two_commands_on_one_sandbox_do_not_both_run_it(deployed, tmp_path):
    _workflow, workdir = deployed
    with Sandbox(workdir / "sandbox"):
        result = avgen("ls", "-b", BUCKET, "--sandbox", "-w", workdir)
    assert result.exit_code == 1
    assert "another avgen command is using the sandbox" in result.output


@pytest.mark.parametrize("name, refusal", [("madeup-key.txt", "InvalidAccessKeyId"),
                                           ("notoken-key.txt", "InvalidAccessKeyId"),
                                           ("unsigned-put.txt", "403")])
def test_a_script_cannot_sign_its_way_out_of_its_role(deployed, tmp_path, name, refusal):
    result = put(deployed, tmp_path, "escape", name)
    assert result.exit_code == 1, result.output
    assert refusal in result.output
    stored = objects(deployed[1])
    assert f"escape/again-{name}" not in stored  # no write into its own input: no loop
    assert f"escape/{name}" in stored  # and `avgen put --sandbox`, with the sandbox's own key, still wrote


def test_a_script_cannot_reset_the_sandbox(deployed, tmp_path):
    before = objects(deployed[1])
    result = put(deployed, tmp_path, "escape", "reset-all.txt")
    assert result.exit_code == 1, result.output
    assert "403" in result.output
    after = objects(deployed[1])
    assert set(before) <= set(after) and "escape/reset-all.txt" in after


def lambda_log(workdir: Path, function: str, needle: str) -> list[str]:
    """The messages of the log stream of `function`'s invocation whose lines mention `needle`."""
    import boto3

    group = f"/aws/lambda/{function}"
    with Sandbox(workdir / "sandbox") as sandbox:
        logs = boto3.client("logs", endpoint_url=sandbox.endpoint, region_name="us-east-1",
                            **sandbox.credentials)
        for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
            events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"]
            if any(needle in event["message"] for event in events):
                return [event["message"] for event in events]
    return []


def test_a_function_over_its_memory_is_killed_as_on_lambda(deployed, tmp_path):
    result = put(deployed, tmp_path, "hog", "big.txt")
    assert result.exit_code == 1, result.output
    assert "out of memory: sbx-hog" in result.output and "Runtime.OutOfMemory" in result.output
    assert "out/hog-big.txt" not in objects(deployed[1])
    messages = lambda_log(deployed[1], "sbx-hog", "big.txt")
    assert any("signal: killed" in message for message in messages)
    fields = dict(part.split(": ", 1) for part in messages[-1].split("\t")[1:])
    assert fields["Memory Size"] == "128 MB" and fields["Max Memory Used"] == "128 MB"


def test_a_function_filling_its_ephemeral_storage_gets_no_space_left(deployed, tmp_path):
    result = put(deployed, tmp_path, "fill", "disk.txt")
    assert result.exit_code == 0, result.output
    assert "No space left on device" in objects(deployed[1])["out/fill-disk.txt"].decode()


def test_a_failed_invocation_is_retried_twice_then_goes_to_the_dead_letter_queue_as_on_aws(deployed, tmp_path):
    import boto3

    began = time.monotonic()
    result = put(deployed, tmp_path, "escape", "retried.txt")  # sbx-escape fails every time (AccessDenied)
    assert result.exit_code == 1, result.output
    assert time.monotonic() - began >= 3  # put waited for the retries: 1 s, then 2 s (AWS's 1 and 2 minutes)
    assert "failed 3 times: the first attempt and 2 retries" in result.output
    assert "lost in the emulator" not in result.output  # the on-failure record reached the bus and its rules
    messages = lambda_log(deployed[1], "sbx-escape", "retried.txt")
    starts = [m for m in messages if m.startswith("START ")]
    assert len(starts) == 3 and len(set(starts)) == 1  # one request id, as AWS retries it
    request_id = starts[0].split()[2]
    with Sandbox(deployed[1] / "sandbox") as sandbox:
        sqs = boto3.client("sqs", endpoint_url=sandbox.endpoint, region_name="us-east-1",
                           **sandbox.credentials)
        url = sqs.get_queue_url(QueueName="sbx-escape-dlq")["QueueUrl"]
        found = {}
        for _ in range(10):
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                               MessageAttributeNames=["All"]).get("Messages", []):
                if "retried.txt" in message["Body"]:
                    found = message["MessageAttributes"]
            if found:
                break
    assert found["RequestID"]["StringValue"] == request_id
    assert found["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert "AccessDenied" in found["ErrorMessage"]["StringValue"]


@pytest.mark.skipif(machine_has_gpu(), reason="this machine has a GPU")
def test_a_gpu_job_on_a_machine_without_one_runs_on_cpu_and_says_so(deployed, tmp_path):
    workflow, workdir = deployed
    result = put(deployed, tmp_path, "gpu", "frame.txt")
    assert result.exit_code == 0, result.output
    note = "sandbox: ran on CPU only: the job definition asks for 1 GPU and this machine has none"
    assert note in " ".join(result.output.split())
    assert objects(workdir)["out/gpu-frame.txt"] == b"CUDA_VISIBLE_DEVICES=\n"
    status = avgen("status", workflow, "--sandbox", "-w", workdir, "--json")
    rows = {row["name"]: row for row in json.loads(status.stdout)["status"]["functions"]}
    assert any(n.startswith(note) for n in rows["sbx-gpu"]["notes"])
    logs = avgen("logs", workflow, "sbx-gpu", "--sandbox", "-w", workdir, "--since", "1h")
    assert note in " ".join(logs.output.split())


def test_a_hidden_loop_through_s3_is_stopped_after_16_invocations_as_on_aws(deployed, tmp_path):
    import boto3

    workflow, workdir = deployed
    result = put(deployed, tmp_path, "loop/in", "spin.txt", "0")  # each invocation writes it back, one more
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "workflow done" not in output and "17 invocations" in output
    assert "stopped: sbx-loop on s3://avgen-sandbox-test/loop/in/spin.txt: RecursiveInvocationException" in output
    assert objects(workdir)["loop/in/spin.txt"] == b"16"  # 16 ran; the event of the 16th's write was stopped
    with Sandbox(workdir / "sandbox") as sandbox:
        clients = {name: boto3.client(name, endpoint_url=sandbox.endpoint, region_name="us-east-1",
                                      **sandbox.credentials) for name in ("sqs", "cloudwatch", "logs")}
        url = clients["sqs"].get_queue_url(QueueName="sbx-loop-dlq")["QueueUrl"]
        dead = clients["sqs"].receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        dropped = clients["cloudwatch"].get_metric_statistics(
            Namespace="AWS/Lambda", MetricName="RecursiveInvocationsDropped", Statistics=["Sum"], Period=3600,
            StartTime=time.time() - 3600, EndTime=time.time() + 60,
            Dimensions=[{"Name": "FunctionName", "Value": "sbx-loop"}])["Datapoints"]
        streams = clients["logs"].describe_log_streams(logGroupName="/aws/lambda/sbx-loop")["logStreams"]
    messages = dead.get("Messages", [])
    assert len(messages) == 1
    assert unquote_plus(json.loads(messages[0]["Body"])["Records"][0]["s3"]["object"]["key"]) == "loop/in/spin.txt"
    assert "RecursiveInvocationException" in messages[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    assert sum(point["Sum"] for point in dropped) == 1
    assert len(streams) == 16  # the stopped invocation never ran: no log of its own
    status = avgen("status", workflow, "--sandbox", "-w", workdir, "--json")
    rows = {row["name"]: row for row in json.loads(status.stdout)["status"]["functions"]}
    assert any("RecursiveInvocationsDropped" in note for note in rows["sbx-loop"]["notes"])


def test_a_role_lists_only_its_own_prefixes_as_its_s3_prefix_condition_says(deployed, tmp_path):
    result = put(deployed, tmp_path, "in", "list-check.txt")  # copy.sh lists instead of copying
    assert result.exit_code == 0, result.output
    said = objects(deployed[1])["mid/list-check.txt"].decode().splitlines()
    assert said == ["in/ listed", "mid/ listed", "out/ AccessDenied", "None AccessDenied"]


JOB_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


def job_ids(batch, queue: str, *states: str) -> set[str]:
    return {job["jobId"] for state in states
            for job in batch.list_jobs(jobQueue=queue, jobStatus=state)["jobSummaryList"]}


def first_new_job(batch, queue: str, known: set[str], deadline: float) -> str | None:
    """The first job of `queue` seen SUBMITTED that is not one of `known`."""
    while time.monotonic() < deadline:
        fresh = job_ids(batch, queue, "SUBMITTED") - known
        if fresh:
            return fresh.pop()
        time.sleep(0.05)
    return None


def states_until_done(batch, job_id: str, deadline: float) -> tuple[list[str], dict]:
    """Each state the job shows, in order, until it ends; and its last description."""
    seen: list[str] = []
    while time.monotonic() < deadline:
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if job["status"] in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.05)
    return seen, job


def test_a_batch_job_goes_through_every_state_as_on_aws(deployed, tmp_path, monkeypatch):
    import boto3

    workflow, workdir = deployed
    monkeypatch.setenv("AVGEN_SANDBOX_JOB_STATE_S", "1")  # each state before RUNNING lasts at least 1 s
    assert avgen("sandbox", "up", workflow, "-w", workdir).exit_code == 0
    try:
        with Sandbox(workdir / "sandbox") as sandbox:
            batch = boto3.client("batch", endpoint_url=sandbox.endpoint, region_name="us-east-1",
                                 **sandbox.credentials)
            before = job_ids(batch, "sbx-stamp", *JOB_STATES)
            source = tmp_path / "states-job.txt"
            source.write_text("x\n")
            sent = avgen("put", workflow, source, "-b", f"{BUCKET}/mid", "--sandbox", "-w", workdir, "--no-wait")
            assert sent.exit_code == 0, sent.output
            deadline = time.monotonic() + 60
            job_id = first_new_job(batch, "sbx-stamp", before, deadline)
            assert job_id is not None, "no job seen SUBMITTED"
            seen, job = states_until_done(batch, job_id, deadline)
            sandbox.wait_until_quiet(lambda state: None, timeout_s=60)
    finally:
        assert avgen("sandbox", "down", workflow, "-w", workdir).exit_code == 0
    assert seen == ["SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"], seen
    assert job["createdAt"] < job["startedAt"] < job["stoppedAt"]
    assert job["startedAt"] - job["createdAt"] >= 3000  # SUBMITTED, RUNNABLE and STARTING, 1 s each at least


def test_a_batch_job_past_its_timeout_is_stopped_with_aws_reason(deployed, tmp_path, monkeypatch):
    workflow, workdir = deployed
    monkeypatch.setenv("AVGEN_SANDBOX_JOB_TIMEOUT_SCALE", "0.05")  # its 60 s are 3 s here
    result = put(deployed, tmp_path, "overtime", "long.txt")
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "timed out: sbx-overtime on " in output and "Job attempt duration exceeded timeout" in output
    assert "out/overtime-long.txt" not in objects(workdir)
    status = avgen("status", workflow, "--sandbox", "-w", workdir, "--json")
    rows = {row["name"]: row for row in json.loads(status.stdout)["status"]["functions"]}
    assert rows["sbx-overtime"]["jobs"]["FAILED"] >= 1
    assert "Job attempt duration exceeded timeout" in rows["sbx-overtime"]["last_error"]
    logs = avgen("logs", workflow, "sbx-overtime", "--sandbox", "-w", workdir, "--since", "1h")
    assert "Job attempt duration exceeded timeout: Batch stopped the job after 3 s" in " ".join(logs.output.split())


def paces(workdir: Path, names: list[str]) -> list[tuple[float, float]]:
    """When each pace.sh invocation of `names` started and ended (epoch seconds), in order of start."""
    stored = objects(workdir)
    return sorted(tuple(map(float, stored[f"out/{name}"].split())) for name in names)  # type: ignore[misc]


def put_files(deployed, tmp_path, folder: str, texts: dict[str, str], *options: str):
    workflow, workdir = deployed
    sources = []
    for name, text in texts.items():
        sources.append(tmp_path / name)
        sources[-1].write_text(text)
    return avgen("put", workflow, *sources, "-b", f"{BUCKET}/{folder}", "--sandbox", "-w", workdir, *options)


def test_io_bound_invocations_run_at_once_beyond_the_machines_cores(deployed, tmp_path):
    names = [f"wide-{i}.txt" for i in range((os.cpu_count() or 2) + 2)]
    result = put_files(deployed, tmp_path, "pace", {name: "3" for name in names})
    assert result.exit_code == 0, result.output
    spans = paces(deployed[1], names)
    assert max(start for start, _ in spans) < min(end for _, end in spans)  # all of them ran at one moment


def test_reserved_concurrency_runs_one_at_a_time_and_throttled_events_wait(deployed, tmp_path):
    names = [f"single-{i}.txt" for i in range(3)]
    result = put_files(deployed, tmp_path, "single", {name: "1" for name in names})
    assert result.exit_code == 0, result.output
    assert "3 invocations" in result.output and ", 0 failed, in " in result.output, result.output
    spans = paces(deployed[1], names)
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans)), spans


def test_reserved_concurrency_0_throttles_every_event_until_it_is_too_old(deployed, tmp_path, monkeypatch):
    import boto3

    monkeypatch.setenv("AVGEN_SANDBOX_RETRY_SCALE", "0.0005")  # the event's 6 hours are 10.8 s here
    result = put(deployed, tmp_path, "never", "throttled.txt", "0")
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "throttled: sbx-never on s3://avgen-sandbox-test/never/throttled.txt: Rate Exceeded." in output, output
    assert "its reserved concurrency is 0" in output
    assert "out/throttled.txt" not in objects(deployed[1])
    assert lambda_log(deployed[1], "sbx-never", "throttled.txt") == []  # it never ran
    with Sandbox(deployed[1] / "sandbox") as sandbox:
        sqs = boto3.client("sqs", endpoint_url=sandbox.endpoint, region_name="us-east-1", **sandbox.credentials)
        url = sqs.get_queue_url(QueueName="sbx-never-dlq")["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"]).get("Messages", [])
    assert [m["MessageAttributes"]["ErrorCode"]["StringValue"] for m in messages] == ["429"]


def owned_processes(workdir: Path) -> list[int]:
    """The processes that carry the sandbox's mark: runs of its executor."""
    marker = f"AVGEN_SANDBOX_OWNER={(workdir / 'sandbox').resolve()}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if marker in entry.joinpath("environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_until_running(sandbox: Sandbox, kind: str, name: str) -> None:
    """Until the sandbox shows a `kind` run ("lambda", "batch") of the upload `name` running."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        running = [a for a in sandbox.activity()["activities"] if a["kind"] == kind and a["state"] == "running"]
        if any(name in a["source"] for a in running) or (kind == "batch" and running):
            return
        time.sleep(0.1)
    pytest.fail(f"the {kind} run of {name} was not seen running")


def stop_while_running(deployed, tmp_path, folder: str, name: str, text: str, kind: str, how: str) -> None:
    """`avgen sandbox up`, an upload to `folder` without waiting, then the sandbox stopped (`how`: "kill" -9 of
    the emulator, or `avgen sandbox down`) once the run it started (`kind`) is running."""
    workflow, workdir = deployed
    assert avgen("sandbox", "up", workflow, "-w", workdir).exit_code == 0
    server = running_server(workdir / "sandbox")
    assert server is not None
    sent = put_files(deployed, tmp_path, folder, {name: text}, "--no-wait")
    assert sent.exit_code == 0, sent.output
    with Sandbox(workdir / "sandbox") as sandbox:
        wait_until_running(sandbox, kind, name)
    time.sleep(0.5)
    if how == "kill":
        os.kill(server["pid"], signal.SIGKILL)
        assert owned_processes(workdir)  # its runs outlive it, until the sandbox starts again
    else:
        assert avgen("sandbox", "down", workflow, "-w", workdir).exit_code == 0
        assert owned_processes(workdir) == []  # ended with it


@pytest.mark.parametrize("how", ["kill", "down"])
def test_an_invocation_cut_short_by_a_stopped_sandbox_is_delivered_again(deployed, tmp_path, how):
    workdir = deployed[1]
    stop_while_running(deployed, tmp_path, "pace", f"cut-{how}.txt", "3", "lambda", how)
    assert f"out/cut-{how}.txt" not in objects(workdir)  # a command that only reads delivers nothing again
    result = put(deployed, tmp_path, "in", f"after-{how}.txt")
    assert result.exit_code == 0, result.output
    assert "sandbox: delivered again: the sandbox stopped before this invocation ended" in \
        " ".join(result.output.split())
    assert f"out/cut-{how}.txt" in objects(workdir)
    assert owned_processes(workdir) == []  # no run left behind, by the killed emulator or this command's
    again = put(deployed, tmp_path, "in", f"later-{how}.txt")
    assert again.exit_code == 0 and "delivered again" not in again.output  # delivered once, not at each start


def test_ctrl_c_of_put_says_what_it_cut_short_and_the_next_start_delivers_it(deployed, tmp_path):
    """Ctrl-C while `put --sandbox` waits for the workflow: the command's own sandbox stops with it, so it says
    which runs were cut short and where they go on (not the generic "what was under way finished cleanly")."""
    workflow, workdir = deployed
    source = tmp_path / "ctrl-c.txt"
    source.write_text("5")  # sbx-pace sleeps 5 s
    process = subprocess.Popen(
        [sys.executable, "-m", "generator.cli", "put", str(workflow), str(source), "-b", f"{BUCKET}/pace",
         "--sandbox", "-w", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).parents[2], start_new_session=True, env={**os.environ, "COLUMNS": "200"})
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # the progress line of the run starting: the interrupt lands while it runs
        seen.append(line)
        if line.startswith("→ λ sbx-pace"):
            break
    else:
        pytest.fail("sbx-pace was never seen running: " + "".join(seen))
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait(timeout=120) == 130, rest
    said = " ".join(rest.split())
    assert "interrupted: the upload is done; cut short: sbx-pace. The sandbox delivers them again" in said, said
    assert "finished cleanly" not in said
    assert owned_processes(workdir) == []
    result = put(deployed, tmp_path, "in", "after-ctrl-c.txt")
    assert result.exit_code == 0, result.output
    assert "delivered again" in result.output and "out/ctrl-c.txt" in objects(workdir)


def test_a_batch_job_cut_short_by_a_killed_sandbox_runs_again_and_is_not_reported_succeeded(
        deployed, tmp_path, monkeypatch):
    workflow, workdir = deployed
    monkeypatch.setenv("AVGEN_SANDBOX_JOB_TIMEOUT_SCALE", "0.2")  # its 60 s are 12 s here
    stop_while_running(deployed, tmp_path, "overtime", "cut-job.txt", "x", "batch", "kill")
    result = put(deployed, tmp_path, "in", "after-job.txt")
    assert result.exit_code == 1, result.output  # the job ran again, and its timeout stopped it
    output = " ".join(result.output.split())
    assert "sandbox: run again from SUBMITTED: the sandbox stopped before this job ended" in output
    assert "timed out: sbx-overtime on " in output and "Job attempt duration exceeded timeout" in output
    status = avgen("status", workflow, "--sandbox", "-w", workdir, "--json")
    rows = {row["name"]: row for row in json.loads(status.stdout)["status"]["functions"]}
    assert rows["sbx-overtime"]["jobs"].get("SUCCEEDED", 0) == 0, rows["sbx-overtime"]
    assert owned_processes(workdir) == []
