"""logs and status of a deployed workflow: CloudWatch Logs, Lambda, Batch and CloudWatch metrics, read-only.

Where things are is decided in one place (`names_of`), from the names the Terraform modules give them:
the Lambda function and its log group `/aws/lambda/NAME`, the Batch job queue and job definition `NAME`,
the jobs' log group `/aws/batch/NAME` (NAME = the function's resource name).

A function's Batch jobs are found two ways: the job ids its runtime logs when it delegates (JSON lines,
`phase` = `delegate` / `end`, see docs/runtime.md), and the jobs listed on its queue. Their log streams come
from `describe_jobs`. Everything is merged in time order. Nothing here prints.
"""
from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from botocore.exceptions import BotoCoreError, ClientError

from generator.errors import ObserveError
from generator.verbs.transfer import Connection, describe_aws_error
from generator.workflow.model import Function, Workflow

JOB_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SINCE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
# Follow mode: how far back each poll looks again, for events CloudWatch ingests late.
LATE_EVENTS_MS = 30_000
MAX_SCAN_EVENTS = 20_000  # status reads at most this many log lines per function
LAMBDA_ERROR_MARKERS = ("Task timed out", "Runtime.", "Status: error")



@dataclass(frozen=True)
class Names:
    function: str
    log_group: str
    job_queue: str
    job_log_group: str


def names_of(function: Function) -> Names:
    """The AWS names avgen's Terraform modules give a function's resources (modules/lambda-function,
    modules/batch-job). The one place to change if the modules rename them."""
    name = function.resource_name
    return Names(function=name, log_group=f"/aws/lambda/{name}", job_queue=name, job_log_group=f"/aws/batch/{name}")


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`10m`, `2h`, `1d`, `1h30m`, `45s`, `2w` before `now`, or an ISO 8601 time (UTC unless it says)."""
    now = now or datetime.now(timezone.utc)
    compact = text.strip().lower().replace(" ", "")
    if compact and _SINCE.sub("", compact) == "" and _SINCE.search(compact):
        seconds = sum(float(n) * SINCE_UNITS[u] for n, u in _SINCE.findall(compact))
        return now - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: write a duration such as 10m, 2h, 1d, 1h30m, or a time such as "
                         "2024-05-01T12:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, order=True)
class LogEvent:
    timestamp: int  # ms since the epoch
    source: str  # the function's name, or "NAME job JOBNAME" for its Batch jobs
    message: str
    stream: str = ""

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, timezone.utc)

    @property
    def fields(self) -> dict | None:
        """The runtime's JSON line, parsed; None for other lines (Lambda's START/END/REPORT, tools' output)."""
        text = self.message.strip()
        if not text.startswith("{"):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


def job_ids_in(events: Iterable[LogEvent]) -> list[str]:
    """Batch job ids that the runtime logged as submitted (`delegate` lines, and `end` lines' job_ids)."""
    found: dict[str, None] = {}
    for event in events:
        data = event.fields or {}
        if data.get("job_id"):
            found[str(data["job_id"])] = None
        for job_id in data.get("job_ids") or ():
            found[str(job_id)] = None
    return list(found)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _aws_error(exc: Exception, what: str) -> ObserveError:
    return ObserveError(describe_aws_error(exc, what))


@dataclass
class LogReader:
    """The logs of some functions of a workflow and of the Batch jobs they ran."""

    connection: Connection
    functions: Sequence[Function]
    notes: list[str] = field(default_factory=list)  # what could not be read, for the user
    jobs: dict[str, tuple[Function, dict]] = field(default_factory=dict)  # job id → (function, description)

    def __post_init__(self) -> None:
        self._logs = self.connection.client("logs")
        self._batch = self.connection.client("batch")
        self._noted: set[str] = set()

    def _note(self, text: str) -> None:
        if text not in self._noted:
            self._noted.add(text)
            self.notes.append(text)

    def read(self, since_ms: int, until_ms: int | None = None) -> list[LogEvent]:
        """Every event from `since_ms` (to `until_ms`), functions and their jobs together, in time order."""
        try:
            events: list[LogEvent] = []
            for function in self.functions:
                own = self.group_events(function.name, names_of(function).log_group, since_ms, until_ms)
                events += own
                wanted = job_ids_in(own)
                if function.uses_batch:
                    wanted += self.queued_jobs(function, since_ms)
                self.describe_jobs(function, wanted)
            for function, job in self.jobs.values():
                events += self.job_events(function, job, since_ms, until_ms)
        except (BotoCoreError, ClientError) as exc:
            raise _aws_error(exc, "the logs") from exc
        return sorted(events)

    def follow(self, since_ms: int, *, poll_s: float = 2.0, sleep: Callable[[float], None] = time.sleep,
               polls: int | None = None) -> Iterator[LogEvent]:
        """Like `tail -f`: yield events as they arrive, forever (or for `polls` rounds, for tests)."""
        seen: dict[tuple[str, int, str], None] = {}
        start, newest, rounds = since_ms, since_ms, 0
        while polls is None or rounds < polls:
            rounds += 1
            window = max(start, newest - LATE_EVENTS_MS)
            for event in self.read(window):
                key = (event.stream, event.timestamp, event.message)
                if key in seen:
                    continue
                seen[key] = None
                newest = max(newest, event.timestamp)
                yield event
            horizon = newest - LATE_EVENTS_MS
            for key in [k for k in seen if k[1] < horizon]:
                del seen[key]
            if polls is None or rounds < polls:
                sleep(poll_s)

    # -- reading ---------------------------------------------------------------------------------------
    def group_events(self, source: str, group: str, since_ms: int, until_ms: int | None,
                      limit: int | None = None) -> list[LogEvent]:
        arguments = {"logGroupName": group, "startTime": since_ms}
        if until_ms is not None:
            arguments["endTime"] = until_ms
        events: list[LogEvent] = []
        try:
            for page in self._logs.get_paginator("filter_log_events").paginate(**arguments):
                events += [LogEvent(e["timestamp"], source, e["message"].rstrip("\n"), e.get("logStreamName", ""))
                           for e in page.get("events", [])]
                if limit is not None and len(events) >= limit:
                    break
        except ClientError as exc:
            if _code(exc) != "ResourceNotFoundException":
                raise
            self._note(f"{source}: no log group {group} (not deployed, or never run)")
        return events

    def queued_jobs(self, function: Function, since_ms: int) -> list[str]:
        queue = names_of(function).job_queue
        found = []
        try:
            for state in JOB_STATES:
                for page in self._batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=state):
                    found += [j["jobId"] for j in page.get("jobSummaryList", [])
                              if j.get("createdAt", since_ms) >= since_ms]
        except ClientError as exc:
            if _code(exc) not in ("ClientException", "ResourceNotFoundException"):
                raise
            self._note(f"{function.name}: no Batch job queue {queue} (not deployed)")
        return found

    def describe_jobs(self, function: Function, job_ids: Sequence[str]) -> None:
        fresh = [j for j in dict.fromkeys(job_ids)
                 if j not in self.jobs or self.jobs[j][1].get("status") not in ("SUCCEEDED", "FAILED")]
        for start in range(0, len(fresh), 100):
            for job in self._batch.describe_jobs(jobs=fresh[start:start + 100]).get("jobs", []):
                self.jobs[job["jobId"]] = (function, job)

    def job_events(self, function: Function, job: dict, since_ms: int, until_ms: int | None) -> list[LogEvent]:
        container = job.get("container") or {}
        attempts = [a.get("container") or {} for a in job.get("attempts") or []]
        streams = list(dict.fromkeys(s for s in [*(a.get("logStreamName") for a in attempts),
                                                  container.get("logStreamName")] if s))
        options = (container.get("logConfiguration") or {}).get("options") or {}
        group = options.get("awslogs-group") or names_of(function).job_log_group
        source = f"{function.name} job {job.get('jobName') or job['jobId'][:8]}"
        return [event for stream in streams for event in self.stream_events(source, group, stream, since_ms, until_ms)]

    def stream_events(self, source: str, group: str, stream: str, since_ms: int,
                      until_ms: int | None) -> list[LogEvent]:
        """Every event of one log stream in the window, page by page; none while the stream does not exist."""
        arguments = {"logGroupName": group, "logStreamName": stream, "startTime": since_ms, "startFromHead": True}
        if until_ms is not None:
            arguments["endTime"] = until_ms
        events: list[LogEvent] = []
        token = None
        while True:
            try:
                page = self._logs.get_log_events(**arguments, **({"nextToken": token} if token else {}))
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                break  # the job has not written anything yet
            events += [LogEvent(e["timestamp"], source, e["message"].rstrip("\n"), stream)
                       for e in page.get("events", [])]
            if not page.get("events") or page.get("nextForwardToken") in (None, token):
                break
            token = page["nextForwardToken"]
        return events


def select_functions(workflow: Workflow, name: str | None) -> list[Function]:
    """All functions, or the one named (by its workflow name or its resource name)."""
    if not name:
        return list(workflow.functions)
    for function in workflow.functions:
        if name in (function.name, function.resource_name):
            return [function]
    known = ", ".join(f.name for f in workflow.functions)
    raise ObserveError(f"no function {name!r} in the workflow (its functions: {known})")


# --- status ------------------------------------------------------------------------------------------


@dataclass
class FunctionStatus:
    name: str
    resource_name: str
    runs_on: str
    deployed: bool = False
    state: str = ""  # Lambda's State (Active, Pending, Failed...)
    invocations: int | None = None
    errors: int | None = None
    counted_from: str = ""  # "metrics" or "logs"
    last_run: datetime | None = None
    last_error: str = ""
    jobs: dict[str, int] | None = None  # job state → count; None when the function has no Batch side
    notes: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.deployed and not self.errors and not (self.jobs or {}).get("FAILED")


def workflow_status(connection: Connection, workflow: Workflow, since: datetime,
                    now: datetime | None = None) -> list[FunctionStatus]:
    now = now or datetime.now(timezone.utc)
    lam, cloudwatch = connection.client("lambda"), connection.client("cloudwatch")
    try:
        return [_function_status(connection, lam, cloudwatch, f, since, now) for f in workflow.functions]
    except (BotoCoreError, ClientError) as exc:
        raise _aws_error(exc, "the functions") from exc


def _function_status(connection: Connection, lam, cloudwatch, function: Function, since: datetime,
                     now: datetime) -> FunctionStatus:
    names = names_of(function)
    status = FunctionStatus(function.name, names.function, function.where_it_runs)
    _lambda_state(lam, names.function, status)
    reader = LogReader(connection, [function])
    lines = reader.group_events(function.name, names.log_group, epoch_ms(since), epoch_ms(now), MAX_SCAN_EVENTS)
    error_at = _from_logs(status, lines)
    metrics = _lambda_metrics(cloudwatch, names.function, since, now)
    if metrics is not None:
        status.invocations, status.errors, status.counted_from = *metrics, "metrics"
    dropped = _metric_sum(cloudwatch, names.function, "RecursiveInvocationsDropped", since, now)
    if dropped:
        status.notes.append(f"Lambda stopped {dropped} invocation{'s' * (dropped != 1)} of a recursive loop "
                            f"(RecursiveInvocationsDropped): the function's writes start it again; their events "
                            "went to its dead-letter queue")
    if function.uses_batch:
        _batch_status(reader, function, since, now, error_at, status)
    status.notes += [n for n in reader.notes if n not in status.notes]
    return status


def _lambda_state(lam, function_name: str, status: FunctionStatus) -> None:
    """Whether the Lambda function exists, and its State."""
    try:
        configuration = lam.get_function(FunctionName=function_name)["Configuration"]
        status.deployed, status.state = True, configuration.get("State", "Active")
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        status.notes.append(f"no Lambda function {function_name}: run `avgen apply`")


def _batch_status(reader: LogReader, function: Function, since: datetime, now: datetime,
                  error_at: datetime | None, status: FunctionStatus) -> None:
    """The function's Batch jobs by state, the sandbox's notes on them, and a failed job's reason as the last
    error when it is newer than the last error in the logs (`error_at`)."""
    reader.describe_jobs(function, reader.queued_jobs(function, epoch_ms(since)))
    described = [job for _, job in reader.jobs.values()]
    jobs = Counter({state: 0 for state in JOB_STATES})
    jobs.update(job.get("status", "?") for job in described)
    status.jobs = {state: n for state, n in jobs.items() if n or state in ("RUNNING", "SUCCEEDED", "FAILED")}
    # the sandbox says so when it ran a job otherwise than AWS would (a GPU job on a machine without one)
    status.notes += sorted({_reason(job) for job in described if _reason(job).startswith("sandbox:")})
    status.last_error = _newer_job_error(described, error_at, now) or status.last_error


def _newer_job_error(described: Sequence[dict], error_at: datetime | None, now: datetime) -> str:
    """The last failed job's statusReason (a timeout, out of memory), when no error in the logs is newer."""
    failed = [job for job in described
              if job.get("status") == "FAILED" and _reason(job) and not _reason(job).startswith("sandbox:")]
    if not failed:
        return ""
    last = max(failed, key=lambda job: int(job.get("stoppedAt") or 0))
    stopped_ms = int(last.get("stoppedAt") or 0)
    if error_at is not None and stopped_ms < epoch_ms(error_at):
        return ""
    when = datetime.fromtimestamp(stopped_ms / 1000, tz=timezone.utc) if stopped_ms else now
    return f"{when:%Y-%m-%d %H:%M:%S} job {last.get('jobName') or last['jobId'][:8]} failed: {last['statusReason']}"


def _reason(job: dict) -> str:
    return str(job.get("statusReason") or "")


def _from_logs(status: FunctionStatus, lines: Sequence[LogEvent]) -> datetime | None:
    """Invocations and errors from the runtime's `end` lines; the last error message, and its time."""
    ends = [e for e in lines if (e.fields or {}).get("phase") == "end"]
    status.invocations = len(ends)
    status.errors = sum(1 for e in ends if not (e.fields or {}).get("ok", True))
    status.counted_from = "logs"
    if ends:
        status.last_run = ends[-1].time
    for event in reversed(lines):
        data = event.fields
        if (data and data.get("level") in ("ERROR", "CRITICAL")) or (
                not data and any(marker in event.message for marker in LAMBDA_ERROR_MARKERS)):
            status.last_error = f"{event.time:%Y-%m-%d %H:%M:%S} {(data or {}).get('message', event.message)}"
            return event.time
    return None


def _metric_sum(cloudwatch, function_name: str, metric: str, since: datetime, now: datetime) -> int:
    """One AWS/Lambda metric of the function summed since `since` (0 without data points)."""
    window = max(60.0, (now - since).total_seconds())
    period = int(math.ceil(window / 60) * 60) if window <= 15 * 86400 else int(math.ceil(window / 3600) * 3600)
    points = cloudwatch.get_metric_statistics(  # EndTime is exclusive, to the second: a point of this second too
        Namespace="AWS/Lambda", MetricName=metric, StartTime=since, EndTime=now + timedelta(seconds=60),
        Period=period, Statistics=["Sum"], Dimensions=[{"Name": "FunctionName", "Value": function_name}])["Datapoints"]
    return int(sum(p.get("Sum", 0) for p in points))


def _lambda_metrics(cloudwatch, function_name: str, since: datetime, now: datetime) -> tuple[int, int] | None:
    """(Invocations, Errors) summed since `since`; None when CloudWatch has no data points at all."""
    window = max(60.0, (now - since).total_seconds())
    period = int(math.ceil(window / 60) * 60)
    if window > 15 * 86400:  # CloudWatch keeps older data at hourly resolution
        period = int(math.ceil(window / 3600) * 3600)
    totals, any_points = [], False
    for metric in ("Invocations", "Errors"):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, StartTime=since, EndTime=now, Period=period,
            Statistics=["Sum"], Dimensions=[{"Name": "FunctionName", "Value": function_name}])["Datapoints"]
        any_points = any_points or bool(points)
        totals.append(int(sum(p.get("Sum", 0) for p in points)))
    return (totals[0], totals[1]) if any_points else None
