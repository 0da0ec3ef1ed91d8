"""logs and status against moto: log groups, Batch jobs and metrics made with boto3 as AWS would hold them."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timedelta, timezone

import boto3
import pytest

from generator.verbs.observe import LogReader, epoch_ms, job_ids_in, names_of, parse_since, workflow_status
from generator.verbs.transfer import Connection
from generator.workflow.load import load_workflow
from tests.verbs.conftest import scar_function, write_workflow

FUNCTIONS = [
    scar_function("split", "copy.sh", "obs-bucket/in", "obs-bucket/out", image="debian:bookworm-slim",
                  execution_mode="lambda-batch", batch={"vcpus": 1}),
    scar_function("count", "copy.sh", "obs-bucket/out", "obs-bucket/final", image="debian:bookworm-slim"),
]
NOW = datetime.now(timezone.utc)
T0 = epoch_ms(NOW - timedelta(minutes=10))


@pytest.fixture
def workflow_file(tmp_path):
    return write_workflow(tmp_path, FUNCTIONS, {"copy.sh": 'cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/"\n'})


@pytest.fixture
def workflow(workflow_file):
    return load_workflow(workflow_file).workflow


def runtime_line(function: str, message: str, phase: str, **fields) -> str:
    return json.dumps({"time": "-", "level": fields.pop("level", "INFO"), "message": message,
                       "request_id": "req-1", "function": function, "phase": phase, **fields})


def put_events(logs, group: str, stream: str, events: list[tuple[int, str]]) -> None:
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": t, "message": m} for t, m in events])


def make_queue(name: str) -> None:
    batch, iam = boto3.client("batch"), boto3.client("iam")
    role = iam.create_role(RoleName=f"{name}-service", AssumeRolePolicyDocument="{}")
    compute = batch.create_compute_environment(computeEnvironmentName=f"{name}-ce", type="UNMANAGED",
                                               state="ENABLED", serviceRole=role["Role"]["Arn"])
    batch.create_job_queue(jobQueueName=name, state="ENABLED", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": compute["computeEnvironmentArn"]}])
    batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties={
        "image": "x", "command": ["batch_jobs.entrypoint"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "1024"}]})


@pytest.fixture
def deployed_logs(aws_env, workflow):
    """split ran at T0, handed one object to Batch (job logged) and its queue holds a second job; count ran
    in between. Returns the job ids (logged, unlogged)."""
    split, count = workflow.function("split"), workflow.function("count")
    make_queue(names_of(split).job_queue)
    batch, logs = boto3.client("batch"), boto3.client("logs")
    logged = batch.submit_job(jobName="split-aaa", jobQueue="split", jobDefinition="split")["jobId"]
    unlogged = batch.submit_job(jobName="split-bbb", jobQueue="split", jobDefinition="split")["jobId"]
    put_events(logs, names_of(split).log_group, "2024/05/01/[$LATEST]abc", [
        (T0, runtime_line("split", "invocation started", "start")),
        (T0 + 1000, runtime_line("split", "handed over to AWS Batch", "delegate", job_id=logged)),
        (T0 + 5000, runtime_line("split", "invocation finished", "end", ok=True, job_ids=[logged])),
    ])
    for job_id, offset in ((logged, 2000), (unlogged, 6000)):
        [job] = batch.describe_jobs(jobs=[job_id])["jobs"]
        put_events(logs, names_of(split).job_log_group, job["container"]["logStreamName"], [
            (T0 + offset, runtime_line("split", f"job {job_id} working", "script", exit_code=0)),
            (T0 + offset + 1000, "plain text from a tool"),
        ])
    put_events(logs, names_of(count).log_group, "s1", [(T0 + 4000, runtime_line("count", "counted", "script"))])
    return logged, unlogged


@pytest.mark.parametrize("text, seconds", [("10m", 600), ("2h", 7200), ("1d", 86400), ("1h30m", 5400),
                                           ("45s", 45), ("2w", 14 * 86400), ("1.5h", 5400)])
def test_since_durations(text, seconds):
    assert NOW - parse_since(text, NOW) == timedelta(seconds=seconds)


def test_since_times_and_mistakes():
    assert parse_since("2024-05-01T12:00", NOW) == datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert parse_since("2024-05-01T12:00+02:00", NOW) == datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    for bad in ("ten minutes", "10x", "", "m"):
        with pytest.raises(ValueError, match="10m, 2h, 1d"):
            parse_since(bad, NOW)


def test_job_ids_come_from_delegate_and_end_lines():
    from generator.verbs.observe import LogEvent

    events = [LogEvent(1, "f", runtime_line("f", "x", "delegate", job_id="j1")),
              LogEvent(2, "f", runtime_line("f", "x", "end", job_ids=["j1", "j2"])),
              LogEvent(3, "f", "START RequestId: 1 Version: $LATEST")]
    assert job_ids_in(events) == ["j1", "j2"]


def test_logs_of_functions_and_their_jobs_merge_in_time_order(deployed_logs, workflow):
    _logged, _unlogged = deployed_logs
    reader = LogReader(Connection(), list(workflow.functions))
    events = reader.read(T0 - 1000)
    assert [e.timestamp - T0 for e in events] == [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000]
    sources = [e.source for e in events]
    assert sources[0] == sources[1] == sources[5] == "split"
    assert sources[2] == sources[3] == "split job split-aaa"  # found through the delegate line
    assert sources[6] == "split job split-bbb"  # found on the queue
    assert sources[4] == "count"
    assert reader.read(T0 + 4500)[0].timestamp == T0 + 5000  # --since cuts earlier lines


def test_follow_yields_new_lines_once(deployed_logs, workflow):
    split = workflow.function("split")
    reader = LogReader(Connection(), [split])
    logs = boto3.client("logs")

    def more(_seconds):
        put_events(logs, names_of(split).log_group, "2024/05/01/[$LATEST]abc",
                   [(T0 + 9000, runtime_line("split", "late line", "start"))])

    seen = [e.timestamp - T0 for e in reader.follow(T0 - 1000, polls=2, sleep=more)]
    assert seen == [0, 1000, 2000, 3000, 5000, 6000, 7000, 9000]


def test_logs_command(cli, deployed_logs, workflow_file):
    result = cli("logs", workflow_file, "split", "--since", "1h")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert ["invocation started" in lines[0], "handed over" in lines[1], "plain text from a tool" in lines[3]] == [
        True, True, True]
    assert "split job split-aaa" in lines[2] and "exit_code=0" in lines[2]
    assert not any("counted" in line for line in lines)  # only the function asked for
    everything = cli("logs", workflow_file)
    assert any("counted" in line for line in everything.stdout.splitlines())
    raw = cli("logs", workflow_file, "count", "--raw")
    assert '"phase": "script"' in raw.stdout


def test_logs_command_mistakes(cli, aws_env, workflow_file):
    unknown = cli("logs", workflow_file, "nope")
    assert unknown.exit_code == 1 and "no function 'nope'" in unknown.stderr and "split, count" in unknown.stderr
    bad = cli("logs", workflow_file, "--since", "yesterday")
    assert bad.exit_code == 64 and "10m, 2h, 1d" in bad.stderr
    empty = cli("logs", workflow_file)
    assert empty.exit_code == 0
    assert "no log group /aws/lambda/split" in empty.stderr and "no log lines" in empty.stderr


def create_lambda(name: str) -> None:
    role = boto3.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    boto3.client("lambda").create_function(FunctionName=name, Runtime="python3.12", Role=role,
                                           Handler="handler.handler", Code={"ZipFile": code.getvalue()})


def test_status(cli, deployed_logs, workflow, workflow_file):
    create_lambda("split")
    cloudwatch = boto3.client("cloudwatch")
    for metric, value in (("Invocations", 3), ("Errors", 1)):
        cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[{
            "MetricName": metric, "Value": value, "Timestamp": NOW - timedelta(minutes=5),
            "Dimensions": [{"Name": "FunctionName", "Value": "split"}]}])
    boto3.client("logs").put_log_events(
        logGroupName="/aws/lambda/split", logStreamName="2024/05/01/[$LATEST]abc",
        logEvents=[{"timestamp": T0 + 8000, "message": runtime_line("split", "script failed", "script",
                                                                    level="ERROR")}])
    report = {s.name: s for s in workflow_status(Connection(), workflow, NOW - timedelta(hours=1))}
    split, count = report["split"], report["count"]
    assert split.deployed and (split.invocations, split.errors, split.counted_from) == (3, 1, "metrics")
    assert split.last_error.endswith("script failed")
    assert sum(split.jobs.values()) == 2 and set(split.jobs) >= {"RUNNING", "SUCCEEDED", "FAILED"}
    assert not count.deployed and count.jobs is None
    assert (count.invocations, count.counted_from) == (0, "logs")  # no metrics: the runtime's end lines

    result = cli("status", workflow_file, "--since", "1h")
    assert result.exit_code == 1  # count is not deployed and split had errors
    assert "split" in result.stdout and "script failed" in result.stdout
    assert "no Lambda function count" in result.stderr
    report = json.loads(cli("status", workflow_file, "--json").stdout)
    data = report["status"]["functions"]
    assert report["version"] == 2 and report["error"] is None
    assert [d["name"] for d in data] == ["split", "count"] and data[0]["deployed"] is True
