"""The sandbox's executor: what AWS would run, run here, from what was deployed.

It lives inside the sandbox's emulator process (generator/aws/sandbox_server.py) and is woken by the
emulator itself: an object created in a bucket fires the bucket's notification configuration as it is
stored in the emulator (S3 → Lambda), and a `SubmitJob` queues a Batch job. Each invocation or job runs
the avgen runtime from the function's build context (`avgen build`'s output: the runtime, handlers and
script its image would hold) as a child process, with

- the function's deployed configuration: environment variables, timeout, memory, ephemeral storage,
  read from the emulator's Lambda function or Batch job definition, never from the workflow file;
- credentials of the function's (or job's) own role, assumed through the emulator's STS, so that the
  emulator's IAM decides what the script may touch (the sandbox's own key, which the avgen command and
  Terraform sign with, is never given to a script);
- its log lines sent to the deployed log group, and a failed invocation's event sent to the function's
  dead-letter queue, as Lambda does.

The container image itself is not run (no Docker engine is assumed): the base image's own tools are
those of this machine. Lambda's reuse of warm execution environments is modelled: each function has up to
`workers` containers (lambda_src/warm_containers.py), each running one invocation at a time, whose warm handler keeps
its models between invocations; a redeployed function gets fresh ones. A Batch job is a container of its own.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from generator.aws.moto_internals import internal
from lambda_src.config import ALLOW_CPU_VARIABLE
from lambda_src.core import UNCHANGED_OUTPUT
from lambda_src.script import marked_processes
from lambda_src.warm_containers import SOCKET_VARIABLE, ContainerPool

CONTEXTS_INDEX = "contexts.json"      # resource name → build context folder, written by write_contexts
HANDLER_COMMAND = "avgen-handler"
IMAGE_HANDLER = "lambda_src.handler.handler"  # the CMD of batch_jobs/image/Dockerfile.in, which Lambda reports
OUTPUT_TAIL = 2000
LOG_BATCH = 500                        # log events per PutLogEvents call (AWS allows 10,000)
GRACE_S = 5                            # past the function's timeout before the process is killed
# Lambda's error when the runtime was killed for going over the function's memory; Batch's reason
OUT_OF_MEMORY = "Runtime.OutOfMemory: Error: Runtime exited with error: signal: killed (out of memory)"
JOB_OUT_OF_MEMORY = "OutOfMemoryError: Container killed due to memory usage"
# A failed asynchronous invocation is retried (twice unless its event invoke configuration says otherwise),
# AWS waiting about 1 minute before the first retry and 2 more before the second; the sandbox waits those
# delays times this factor, by default 1/60 (1 s, then 2 s); 1 waits as long as AWS
RETRY_SCALE_VARIABLE = "AVGEN_SANDBOX_RETRY_SCALE"
RETRY_DELAYS_S = (60.0, 120.0)
DEFAULT_RETRIES = 2
# Lambda's recursive loop detection (https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html):
# the events of supported services (S3 among them) carry an X-Ray trace header whose Lineage counts how many
# times each function was invoked in the chain of requests; an AWS SDK inside the function sends it on with
# every call (botocore: `_X_AMZN_TRACE_ID`, when AWS_LAMBDA_FUNCTION_NAME is set). A function invoked more than
# about 16 times in one chain is not invoked again: the event goes to its dead-letter queue and on-failure
# destination, and the metric RecursiveInvocationsDropped counts it.
TRACE_VARIABLE = "_X_AMZN_TRACE_ID"
RECURSION_LIMIT = 16
RECURSION_STOPPED = "RecursiveInvocationException"
# Batch: a job waits SUBMITTED, RUNNABLE (PENDING first while it depends on others) and STARTING before it
# runs; on AWS for seconds to minutes (the scheduler, capacity, the image's pull), in the sandbox at least
# this long each (seconds), so that DescribeJobs sees every state
JOB_STATE_VARIABLE = "AVGEN_SANDBOX_JOB_STATE_S"
JOB_STATE_S = 0.5
# A job attempt longer than its timeout (attemptDurationSeconds, at least 60 s) is stopped by Batch with this
# statusReason; the sandbox can shorten the timeouts by a factor, to try that without waiting (default 1)
JOB_TIMEOUT_SCALE_VARIABLE = "AVGEN_SANDBOX_JOB_TIMEOUT_SCALE"
JOB_TIMED_OUT = "Job attempt duration exceeded timeout"
# Concurrency (https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html): a function with reserved
# concurrency N runs at most N invocations at once (0: none, every event is throttled); the others share the
# account's. An asynchronous event that finds no concurrency free is throttled: Lambda puts it back in its queue
# and tries again, 1 s later at first, then longer (up to 5 minutes), until the event is older than its maximum
# event age (6 hours unless the event invoke configuration says less); then it goes to the dead-letter queue and
# the on-failure destination (EventAgeExceeded). AWS's account default is 1,000; the sandbox's is this setting's
# (10 by default: I/O-bound scripts overlap beyond this machine's cores, CPU-bound ones share them). The event's
# age and the waits are scaled as the retries' delays are (AVGEN_SANDBOX_RETRY_SCALE).
CONCURRENCY_VARIABLE = "AVGEN_SANDBOX_CONCURRENCY"
CONCURRENCY = 10
MAXIMUM_EVENT_AGE_S = 21600.0
THROTTLE_BACKOFF_S = (1.0, 300.0)
THROTTLED = "Rate Exceeded."  # the message of Lambda's TooManyRequestsException (HTTP 429)
# Durability: on AWS an event S3 accepted is delivered at least once, and an accepted asynchronous invocation
# stays in Lambda's queue until it ran (or was sent to the dead-letter queue), whatever happens to a host; a
# Batch job goes on. The sandbox keeps each accepted invocation in its state folder until it ended, so that one
# cut short when the sandbox stopped (Ctrl-C, `sandbox down`, a kill) runs again, with the same request id, when
# the sandbox next runs workflows; a job that had not ended runs again from SUBMITTED.
PENDING_INVOCATIONS = "lambda-pending.json"
REDELIVERED = ("sandbox: delivered again: the sandbox stopped before this invocation ended (on AWS an accepted "
               "event is delivered at least once; a function may see one event twice)")
RESUBMITTED = ("sandbox: run again from SUBMITTED: the sandbox stopped before this job ended (on AWS the job "
               "would have gone on)")
# every process of a run carries this (the sandbox's state folder), so that the processes of a sandbox that was
# killed are found and ended when it starts again
OWNER_VARIABLE = "AVGEN_SANDBOX_OWNER"


def retry_delay_s(retry: int) -> float:
    """How long the sandbox waits before the `retry`-th retry (1, 2) of a failed asynchronous invocation."""
    try:
        scale = float(os.environ.get(RETRY_SCALE_VARIABLE, "") or 1 / 60)
    except ValueError:
        scale = 1 / 60
    return max(0.0, scale) * RETRY_DELAYS_S[min(retry, len(RETRY_DELAYS_S)) - 1]


def _setting(variable: str, default: float) -> float:
    """A non-negative number from the sandbox's environment, else `default`."""
    try:
        return max(0.0, float(os.environ.get(variable, "") or default))
    except ValueError:
        return default


def job_state_s() -> float:
    """How long, at least, a Batch job stays in each state before RUNNING."""
    return _setting(JOB_STATE_VARIABLE, JOB_STATE_S)


def job_timeout_scale() -> float:
    return _setting(JOB_TIMEOUT_SCALE_VARIABLE, 1.0)


def retry_scale() -> float:
    return _setting(RETRY_SCALE_VARIABLE, 1 / 60)


def account_concurrency() -> int:
    """How many invocations of functions without reserved concurrency may run at once (at least 1)."""
    return max(1, int(_setting(CONCURRENCY_VARIABLE, CONCURRENCY)))


def throttle_delay_s(throttles: int) -> float:
    """How long a throttled event waits before it is tried again (after its `throttles`-th throttle), scaled;
    at least 0.1 s, so that a function at its limit is not polled without pause."""
    first, most = THROTTLE_BACKOFF_S
    return max(0.1, min(first * 2 ** max(0, throttles - 1), most) * retry_scale())


class Concurrency:
    """The executions running now: per function with reserved concurrency, and the account's shared rest."""

    def __init__(self, account: int):
        self.account = account
        self._running: dict[str, int] = {}
        self._shared = 0
        self._lock = threading.Lock()

    def enter(self, function: str, reserved: int | None) -> str:
        """Take one execution of `function`; "" when taken, else why it is throttled."""
        with self._lock:
            if reserved is not None and self._running.get(function, 0) >= reserved:
                return f"its reserved concurrency is {reserved}" + (" (0: every event is throttled)" * (reserved == 0))
            if reserved is None and self._shared >= self.account:
                return (f"the account's concurrency is in use ({self.account} at once in the sandbox: "
                        f"{CONCURRENCY_VARIABLE})")
            self._running[function] = self._running.get(function, 0) + 1
            self._shared += reserved is None
            return ""

    def leave(self, function: str, reserved: int | None) -> None:
        with self._lock:
            self._running[function] = max(0, self._running.get(function, 0) - 1)
            self._shared = max(0, self._shared - (reserved is None))


def reserved_concurrency(function: Any) -> int | None:
    """A deployed function's reserved concurrency (moto's PutFunctionConcurrency), None when it has none."""
    value = getattr(function, "reserved_concurrency", None)
    with contextlib.suppress(TypeError, ValueError):
        return None if value is None or value == "" else int(value)
    return None


def sweep_orphans(owner: str) -> list[int]:
    """End the processes a killed sandbox of this state folder left running (its runtimes, scripts, warm
    handlers): those whose environment holds OWNER_VARIABLE=`owner`. Their ids."""
    ended = []
    for pid in marked_processes(f"{OWNER_VARIABLE}={owner}".encode()):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            ended.append(pid)
    return ended


def lineage_of(trace: str) -> dict[str, int]:
    """The Lineage of an X-Ray trace header: each function's count in the chain of requests, by the function's
    hash (`Root=…;Lineage=a87bd80c:1|68fd508a:5`; a version before the hash, `1:a87bd80c:1`, is read too)."""
    counts: dict[str, int] = {}
    for part in trace.split(";"):
        name, _, value = part.strip().partition("=")
        if name != "Lineage":
            continue
        for entry in value.split("|"):
            fields = entry.split(":")
            if len(fields) >= 2 and fields[-1].isdigit():
                counts[fields[-2]] = int(fields[-1])
    return counts


def lineage_key(function_arn: str) -> str:
    """The hash a function has in a Lineage (of its unqualified ARN)."""
    import hashlib

    return hashlib.sha256(function_arn.split(":$")[0].encode()).hexdigest()[:8]


def trace_header(incoming: str, lineage: dict[str, int]) -> str:
    """The trace header of an invocation: the chain's Root (a new one where the event had none), a new Parent,
    not sampled (no X-Ray here), and the Lineage with this invocation counted."""
    fields = dict(part.strip().partition("=")[::2] for part in incoming.split(";") if "=" in part)
    root = fields.get("Root") or f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    counts = "|".join(f"{key}:{count}" for key, count in lineage.items())
    return f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled=0;Lineage={counts}"


def handler_shim(folder: Path, python: str = sys.executable) -> Path:
    """A folder holding an `avgen-handler` that runs `python`'s handlers (as /opt/avgen/bin does in the images);
    put first on the scripts' PATH.

    Python starts without site-packages (-S; the handlers add them when they run the call themselves), so
    that a call sent to the container's warm handler costs little more than the interpreter: the package's
    folder is appended to PYTHONPATH (a build context's, already there in the sandbox, comes first)."""
    import batch_jobs

    root = Path(batch_jobs.__file__).resolve().parent.parent
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / HANDLER_COMMAND
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{root}" '
                    f'exec "{python}" -S -m batch_jobs.handlers "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return folder


@dataclass
class Activity:
    """One Lambda invocation or Batch job, as `avgen put --sandbox` reports it."""

    id: str
    kind: str                 # "lambda" | "batch"
    function: str             # the deployed name
    source: str               # s3://bucket/key, or the job's name
    state: str = "queued"     # queued | running | succeeded | failed | timed out | out of memory | stopped
    started: float = 0.0
    seconds: float = 0.0
    reason: str = ""
    note: str = ""            # where the sandbox ran it otherwise than AWS would (a GPU job without a GPU)
    image: str = ""           # the function's image it ran in (`avgen build --local`); "" when in-process
    redelivered: bool = False  # accepted by an earlier run of the sandbox, which stopped before it ended
    maximum_age_s: float = 0.0  # while throttled: how old the event may get (scaled) before it is discarded


@dataclass
class Run:
    """What one child process needs: the runtime's command, its environment and its limits."""

    command: list[str]
    environment: dict[str, str]
    timeout_s: float | None
    log_group: str
    log_stream: str
    scratch: Path
    stdin_file: Path | None = None
    lines: list[tuple[int, str]] = field(default_factory=list)  # (milliseconds since the epoch, line)
    peak_kib: int | None = None  # the largest resident set of its processes, when it could be measured
    grace_s: float = GRACE_S        # past the timeout before the process is killed (0 for Batch)
    timed_out: bool = False         # killed for running past its timeout

    def say(self, line: str, at: float | None = None) -> None:
        """A log line, stamped when written (`at`, else now); never before the line above it, as CloudWatch
        wants a batch in order."""
        stamp = int((time.time() if at is None else at) * 1000)
        self.lines.append((max(stamp, self.lines[-1][0]) if self.lines else stamp, line))

    def text(self) -> list[str]:
        return [line for _, line in self.lines]


JOB_OUTCOMES = "batch-job-outcomes.json"  # in the sandbox's state folder: how each job ended, for later replays
JOB_NOTES = "batch-job-notes.json"        # and its statusReason (a timeout; a GPU job run on CPU only)
JOB_TIMES = "batch-job-times.json"        # and when it was created, started RUNNING and stopped (epoch seconds)


class Executor:
    def __init__(self, endpoint: str, region: str, state_dir: Path | None = None, workers: int | None = None):
        self.endpoint = endpoint
        self.region = region
        self.state_dir = state_dir
        self.enabled = False
        self.contexts: Path | None = None
        concurrency = account_concurrency()
        # Lambda's: the gate admits at most `concurrency` (and those of reserved concurrency), throttled events
        # wait on timers, not here
        self._pool = ThreadPoolExecutor(max_workers=workers or concurrency + 4, thread_name_prefix="avgen-run")
        self._jobs = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2, thread_name_prefix="avgen-job")
        self._gate = Concurrency(concurrency)
        self._processes: set[int] = set()  # the process groups of the runs under way
        self._pending: dict[str, dict] = {}  # accepted invocations not ended, by request id (PENDING_INVOCATIONS)
        self._interrupted_jobs: list[tuple[Any, bool]] = []  # replayed jobs that had not ended
        self._resumed = False
        self._closing = False  # the sandbox is stopping: what its runs end with is not their outcome
        self._lock = threading.Lock()
        self._activities: dict[str, Activity] = {}
        # outputs a run found already there, identical, so not written again: they started nothing downstream
        self._unchanged: list[dict[str, str]] = []
        self._clients: dict[str, Any] = {}
        self._shims = Path(tempfile.mkdtemp(prefix="avgen-sandbox-bin-"))
        handler_shim(self._shims)
        self._containers = ContainerPool(workers or concurrency)
        self._cages: dict[str, Cage] = {}  # each container's limits, by its socket's path
        self._engine: bool | None = None  # whether a Docker engine answers, asked once

    def close(self) -> None:
        """End the runs under way and the containers' warm handlers (the sandbox is stopping; what was accepted
        and not ended stays in PENDING_INVOCATIONS, for the next start), lift their limits, remove the shims."""
        with self._lock:
            self._closing = True
            groups = list(self._processes)
        for group in groups:
            with contextlib.suppress(OSError):
                os.killpg(group, 9)
        # the limits first: a container's folder holds its mounted /tmp, which its removal cannot remove
        with self._lock:
            cages, self._cages = list(self._cages.values()), {}
        for cage in cages:
            cage.close()
        self._containers.close()
        shutil.rmtree(self._shims, ignore_errors=True)

    def _cage(self, container: Any, memory_mb: int, storage_mb: int) -> Cage:
        """The limits of a function's container, made when it is first lent (the pool gives a redeployed
        function new containers, so a container's memory and storage never change)."""
        key = str(container.socket)
        with self._lock:
            cage = self._cages.get(key)
        if cage is None:
            cage = Cage(memory_mb, container.temp, storage_mb)
            with self._lock:
                self._cages[key] = cage
        return cage

    # -- control (from the avgen command, over /_avgen/…) ------------------------------------------
    def enable(self, contexts: str | None) -> None:
        self.contexts = Path(contexts) if contexts else None
        self.enabled = True
        with self._lock:
            resume, self._resumed = not self._resumed, True
        if resume:  # once per emulator: a kept-up sandbox is enabled again by each command
            self._resume()

    def _resume(self) -> None:
        """What an earlier run of the sandbox accepted and did not end: its processes (left by a kill) end, its
        invocations are delivered again with their request ids, its jobs run again."""
        if self.state_dir is not None:
            sweep_orphans(str(self.state_dir))
        for request_id, entry in sorted(self._outcomes(PENDING_INVOCATIONS).items(),
                                        key=lambda item: item[1].get("accepted", 0)):
            name = entry["function_arn"].split(":function:")[-1].split(":")[0]
            activity = Activity(id=request_id, kind="lambda", function=name, source=entry.get("source", ""),
                                note=REDELIVERED, redelivered=True)
            with self._lock:
                self._activities[activity.id] = activity
                self._pending[request_id] = entry
            self._attempt(activity, entry["function_arn"], entry["event"], int(entry.get("retry", 0)),
                          entry.get("trace", ""), float(entry.get("accepted") or time.time()))
        jobs, self._interrupted_jobs = self._interrupted_jobs, []
        for job, start_attempt in jobs:
            activity = self._new("batch", job.job_definition.name, job.job_name)
            activity.id, activity.note, activity.redelivered = job.job_id, RESUBMITTED, True
            self._resubmit(activity, job, start_attempt)

    def _resubmit(self, activity: Activity, job: Any, start_attempt: bool) -> None:
        self._later(job_state_s(), activity, lambda: self._schedule_job(activity, job, start_attempt))

    def activity(self) -> dict:
        with self._lock:
            items = [asdict(a) for a in self._activities.values()]
            unchanged = list(self._unchanged)
        busy = sum(a["state"] in ("queued", "running") for a in items)
        return {"version": 1, "enabled": self.enabled, "busy": busy, "activities": items, "unchanged": unchanged}

    # -- triggers (from inside the emulator) -------------------------------------------------------
    def lambda_event(self, function_arn: str, event: dict, trace: str = "") -> None:
        """S3 → Lambda: `event` is the notification the emulator built from the bucket's deployed configuration;
        `trace` the X-Ray trace header of the request that caused it (S3 passes its Lineage on; "" for a
        request that had none, or a service that does not, such as EventBridge)."""
        if not self.enabled:
            return  # replaying history, or nobody asked for execution
        from lambda_src.events import parse_event

        name = function_arn.split(":function:")[-1].split(":")[0]
        sources = [f"s3://{o.bucket}/{o.key}" for o in parse_event(event)]
        activity = self._new("lambda", name, ", ".join(sources))
        lineage, key = lineage_of(trace), lineage_key(function_arn)
        lineage[key] = lineage.get(key, 0) + 1
        if lineage[key] > RECURSION_LIMIT:
            self._pool.submit(self._guarded, activity, lambda: self._stop_loop(activity, function_arn, event))
            return
        header, accepted = trace_header(trace, lineage), time.time()
        # kept before it is queued: from here on the event is Lambda's to deliver
        self._keep_pending(activity.id, {"function_arn": function_arn, "event": event, "retry": 0, "trace": header,
                                         "accepted": accepted, "source": activity.source})
        self._attempt(activity, function_arn, event, 0, header, accepted)

    def _attempt(self, activity: Activity, function_arn: str, event: dict, retry: int, trace: str,
                 accepted: float, throttles: int = 0) -> None:
        """Queue one attempt of an asynchronous invocation (`retry` 0: the first)."""
        self._pool.submit(self._guarded, activity, lambda: self._admitted(activity, function_arn, event, retry,
                                                                          trace, accepted, throttles))

    def _admitted(self, activity: Activity, function_arn: str, event: dict, retry: int, trace: str,
                  accepted: float, throttles: int) -> None:
        """Run the attempt if the function's concurrency (reserved, else the account's) allows one more, else
        throttle it: it waits in the queue and is tried again, until the event is too old."""
        get_backend = internal("moto.awslambda.utils:get_backend").value
        function = get_backend(function_arn.split(":")[4], self.region).get_function(function_arn)
        reserved = reserved_concurrency(function)
        why = self._gate.enter(function.function_name, reserved)
        if not why:
            try:
                self._run_lambda(activity, function_arn, event, retry, trace, accepted)
            finally:
                self._gate.leave(function.function_name, reserved)
            return
        if throttles == 0:  # asked once per throttled attempt: a Lambda read is history (sandbox_server.py)
            activity.maximum_age_s = self._maximum_event_age_s(function.function_name) * retry_scale()
        maximum_age = activity.maximum_age_s
        if time.time() - accepted >= maximum_age:
            self._event_too_old(activity, function, event, why, retry, maximum_age)
            return
        delay = throttle_delay_s(throttles + 1)
        activity.state = "queued"
        activity.reason = (f"throttled ({throttles + 1} time{'s' * (throttles > 0)}): {why}; tried again in "
                           f"{delay:.1f} s, until the event is {maximum_age:.0f} s old")
        timer = threading.Timer(delay, self._attempt, (activity, function_arn, event, retry, trace, accepted,
                                                       throttles + 1))
        timer.daemon = True
        timer.start()

    def _event_too_old(self, activity: Activity, function: Any, event: dict, why: str, retry: int,
                       maximum_age: float) -> None:
        """A throttled event past its maximum age: Lambda discards it to the dead-letter queue and the on-failure
        destination (condition EventAgeExceeded), the function never having run it (or not again)."""
        reason = (f"{THROTTLED} The event was throttled until it was older than its maximum event age "
                  f"({maximum_age:.0f} s in the sandbox: {RETRY_SCALE_VARIABLE} scales AWS's): {why}")
        try:
            self._dead_letter(function, event, reason, activity.id, error_code="429")
            _, destination = self._invoke_config(function.function_name)
            if destination:
                reason = self._tell_destination(function, event, reason, activity.id, destination, retry,
                                                "EventAgeExceeded")
        finally:
            self._forget_pending(activity.id)
            activity.state, activity.reason = "throttled", reason

    def _maximum_event_age_s(self, function_name: str) -> float:
        """The deployed event invoke configuration's MaximumEventAgeInSeconds, else Lambda's 6 hours."""
        try:
            config = self._client("lambda").get_function_event_invoke_config(FunctionName=function_name)
        except Exception:  # none deployed (ResourceNotFoundException): Lambda's default
            return MAXIMUM_EVENT_AGE_S
        return float(config.get("MaximumEventAgeInSeconds") or MAXIMUM_EVENT_AGE_S)

    def _keep_pending(self, request_id: str, entry: dict) -> None:
        with self._lock:
            self._pending[request_id] = entry
        self._write_pending()

    def _forget_pending(self, request_id: str) -> None:
        with self._lock:
            found = self._pending.pop(request_id, None)
        if found is not None:
            self._write_pending()

    def _write_pending(self) -> None:
        if self.state_dir is None or self._closing:
            return
        with self._lock:
            partial = self.state_dir / (PENDING_INVOCATIONS + ".partial")
            partial.write_text(json.dumps(self._pending, sort_keys=True))
            partial.replace(self.state_dir / PENDING_INVOCATIONS)

    def batch_job(self, job: Any, start_attempt: bool = True) -> None:
        """SubmitJob: the job waits SUBMITTED, then RUNNABLE (PENDING first while jobs it depends on run),
        then STARTING, each for at least AVGEN_SANDBOX_JOB_STATE_S, before it runs (`start_attempt`: moto's
        flag, false for the parent of an array job, which has no attempts of its own)."""
        if not self.enabled:
            # history being replayed: the job ran back then (ids repeat in a replay), and ended as recorded
            if job.job_id not in self._outcomes():  # or the sandbox stopped before it ended: it runs again
                job.status = internal("moto.batch.utils:JobStatus").value.SUBMITTED
                self._interrupted_jobs.append((job, start_attempt))
                return
            created, started, stopped = self._outcomes(JOB_TIMES).get(job.job_id) or (None, None, None)
            if created:
                job.job_created_at = datetime.fromtimestamp(created)
            job.job_started_at = datetime.fromtimestamp(started) if started else datetime.now()
            if start_attempt:
                job._start_attempt()
            job._mark_stopped(success=self._outcomes().get(job.job_id, True))
            if stopped:
                job.job_stopped_at = datetime.fromtimestamp(stopped)
                job._stop_attempt()
            note = self._outcomes(JOB_NOTES).get(job.job_id)
            if note and hasattr(job, "job_stopped_reason"):
                job.job_stopped_reason = note
            return
        JobStatus = internal("moto.batch.utils:JobStatus").value
        activity = self._new("batch", job.job_definition.name, job.job_name)
        activity.id = job.job_id
        job.status = JobStatus.SUBMITTED
        self._later(job_state_s(), activity, lambda: self._schedule_job(activity, job, start_attempt))

    def _later(self, delay_s: float, activity: Activity, work: Callable[[], object]) -> None:
        """`work` after `delay_s`, guarded as the pool's work is, without holding one of the pool's workers."""
        timer = threading.Timer(delay_s, self._guarded, (activity, work))
        timer.daemon = True
        timer.start()

    def _schedule_job(self, activity: Activity, job: Any, start_attempt: bool) -> None:
        """The scheduler's verdict on a SUBMITTED job: PENDING until the jobs it depends on have ended (one that
        failed fails it: "Dependent Job failed"), then RUNNABLE until a worker takes it."""
        JobStatus = internal("moto.batch.utils:JobStatus").value
        waiting = [self._job_status(dependency.get("jobId", "")) for dependency in job.depends_on or []]
        if any(status == JobStatus.FAILED for status in waiting):
            self._record_outcome(job.job_id, False)
            job.job_stopped_reason = "Dependent Job failed"
            self._record_outcome(job.job_id, job.job_stopped_reason, JOB_NOTES)
            job._mark_stopped(success=False)
            self._record_times(job)
            self._finish(activity, False, "Dependent Job failed")
            return
        if any(status != JobStatus.SUCCEEDED for status in waiting):
            job.status = JobStatus.PENDING
            self._later(0.5, activity, lambda: self._schedule_job(activity, job, start_attempt))
            return
        job.status = JobStatus.RUNNABLE
        self._later(job_state_s(), activity, lambda: self._jobs.submit(
            self._guarded, activity, lambda: self._run_job(activity, job, start_attempt)))

    def _job_status(self, job_id: str) -> str | None:
        """A job's status, through the emulator's Batch (None: no such job)."""
        try:
            jobs = self._client("batch").describe_jobs(jobs=[job_id]).get("jobs") or []
        except Exception:  # the emulator's answer to an id it does not know
            return None
        return str(jobs[0].get("status")) if jobs else None

    # -- running ------------------------------------------------------------------------------------
    def _new(self, kind: str, function: str, source: str) -> Activity:
        activity = Activity(id=str(uuid.uuid4()), kind=kind, function=function, source=source)
        with self._lock:
            self._activities[activity.id] = activity
        return activity

    def _guarded(self, activity: Activity, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception as exc:  # an executor bug must show up as a failed invocation, not vanish
            activity.state, activity.reason = "failed", f"sandbox executor: {type(exc).__name__}: {exc}"
            if activity.kind == "lambda":
                self._forget_pending(activity.id)  # said here; delivering it again would fail again

    def _stop_loop(self, activity: Activity, function_arn: str, event: dict) -> None:
        """Lambda's recursive loop detection stopped this invocation: the event goes to the dead-letter queue and
        the on-failure destination, RecursiveInvocationsDropped counts it; the function does not run (no log)."""
        get_backend = internal("moto.awslambda.utils:get_backend").value
        function = get_backend(function_arn.split(":")[4], self.region).get_function(function_arn)
        reason = (f"{RECURSION_STOPPED}: Lambda stopped this invocation of {function.function_name}: it was "
                  f"invoked more than {RECURSION_LIMIT} times in one chain of requests (its own writes start it "
                  "again: a recursive loop). The event went to its dead-letter queue and on-failure destination, "
                  "and the metric RecursiveInvocationsDropped counts it, as on AWS "
                  "(https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html)")
        try:
            # with its time: the replay of a later command keeps it (moto would stamp it with the replay's)
            self._client("cloudwatch").put_metric_data(Namespace="AWS/Lambda", MetricData=[{
                "MetricName": "RecursiveInvocationsDropped", "Value": 1.0, "Unit": "Count",
                "Timestamp": datetime.now(timezone.utc),
                "Dimensions": [{"Name": "FunctionName", "Value": function.function_name}]}])
            # the Invoke's HTTP status for RecursiveInvocationException: the function never ran
            self._dead_letter(function, event, reason, activity.id, error_code="400")
            _, destination = self._invoke_config(function.function_name)
            if destination:
                reason = self._tell_destination(function, event, reason, activity.id, destination, 0,
                                                "RecursiveInvocationDetected")
        finally:
            activity.state, activity.reason = "stopped", reason

    def _run_lambda(self, activity: Activity, function_arn: str, event: dict, retry: int, trace: str = "",
                    accepted: float = 0.0) -> None:
        """One attempt of an asynchronous invocation (`retry` 0 is the first); a failed one is retried, with
        the same request id, as its event invoke configuration allows, then goes to the dead-letter queue and
        the on-failure destination. `trace`: its X-Ray trace header (`_X_AMZN_TRACE_ID`), which the AWS SDK in
        the function sends on with each request, so that what it writes carries the chain's Lineage."""
        get_backend = internal("moto.awslambda.utils:get_backend").value
        account = function_arn.split(":")[4]
        function = get_backend(account, self.region).get_function(function_arn)
        deployed = dict(function.environment_vars or {})
        request_id = activity.id
        scratch = Path(tempfile.mkdtemp(prefix="avgen-lambda-"))
        event_file = scratch / "event.json"
        event_file.write_text(json.dumps(event))
        environment = self._base_environment(deployed, self._credentials(function.role, function.function_name),
                                             scratch, max(512, int(function.ephemeral_storage or 512)))
        now = datetime.now(timezone.utc)
        log_group = f"/aws/lambda/{function.function_name}"
        log_stream = f"{now:%Y/%m/%d}/[$LATEST]{request_id.replace('-', '')}"
        # Lambda's own variables (its runtime's, for an image not built on an AWS base image: no
        # AWS_EXECUTION_ENV); LAMBDA_TASK_ROOT names where the image's code is on Lambda
        environment.update({
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(function.timeout),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_REQUEST_ID": request_id,
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "LAMBDA_TASK_ROOT": "/var/task",
            "_HANDLER": IMAGE_HANDLER,
            "TZ": ":UTC",
            **({TRACE_VARIABLE: trace} if trace else {}),
        })
        run = Run(command=[sys.executable, "-m", "lambda_src.invoke", str(event_file)], environment=environment,
                  timeout_s=float(function.timeout), log_group=log_group, log_stream=log_stream, scratch=scratch)
        context = self._prepare(run, deployed)
        image = self._image_of(deployed, context)
        if image:
            activity.image = image
            ok, reason = self._run_lambda_image(run, activity, image, event, function_arn, request_id,
                                                int(function.memory_size), int(function.ephemeral_storage or 512))
            self._after_lambda(activity, function, function_arn, event, retry, run, ok, reason, [], trace, accepted)
            return
        # A redeployed function (new configuration or build context) starts in fresh containers, as on Lambda.
        version = f"{getattr(function, 'last_modified', '')}|{context}"
        with self._containers.lease(function.function_name, version) as container:
            # its /tmp too lasts as long as the container: downloaded models stay for the next invocation
            run.environment[SOCKET_VARIABLE], run.environment["TMPDIR"] = str(container.socket), str(container.temp)
            cage = self._cage(container, int(function.memory_size), max(512, int(function.ephemeral_storage or 512)))
            ok, reason = self._execute(run, activity, f"START RequestId: {request_id} Version: $LATEST", cage)
            # the container's memory on Lambda holds its warm handler too, which outlives the invocation
            peaks = [kib for kib in (run.peak_kib, peak_rss_kib(container.server_pid)) if kib is not None]
        self._after_lambda(activity, function, function_arn, event, retry, run, ok, reason, peaks, trace, accepted)

    def _after_lambda(self, activity: Activity, function: Any, function_arn: str, event: dict, retry: int,
                      run: Run, ok: bool, reason: str, peaks: list[int], trace: str = "",
                      accepted: float = 0.0) -> None:
        """END and REPORT, then success, a retry, or the dead-letter queue and on-failure destination."""
        request_id = activity.id
        run.say(f"END RequestId: {request_id}")
        duration_ms = activity.seconds * 1000
        if reason == OUT_OF_MEMORY:  # as Lambda reports it: all of it
            peaks = [int(function.memory_size) * 1024]
        used = f"\tMax Memory Used: {math.ceil(max(peaks) / 1024)} MB" if peaks else ""  # unmeasured: left out
        run.say(f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\tBilled Duration: "
                f"{math.ceil(duration_ms)} ms\tMemory Size: {function.memory_size} MB{used}")
        if ok:
            self._send_logs(run)
            self._forget_pending(request_id)
            self._finish(activity, ok, reason)
            return
        retries, destination = self._invoke_config(function.function_name)
        if retry < retries:
            delay = retry_delay_s(retry + 1)
            aws_s = RETRY_DELAYS_S[min(retry, len(RETRY_DELAYS_S) - 1)]
            run.say(f"sandbox: retry {retry + 1} of {retries} of this asynchronous invocation in {delay:.1f} s "
                    f"(about {aws_s:.0f} s on AWS; {RETRY_SCALE_VARIABLE} scales it)")
            activity.state, activity.reason = "queued", f"retry {retry + 1} of {retries} after: {reason}"
            with self._lock:
                if request_id in self._pending:
                    self._pending[request_id]["retry"] = retry + 1
            self._write_pending()
            timer = threading.Timer(delay, self._attempt, (activity, function_arn, event, retry + 1, trace,
                                                           accepted or time.time()))
            timer.daemon = True
            self._send_logs(run)
            timer.start()
            return
        if retry:
            reason = f"{reason} (failed {retry + 1} times: the first attempt and {retry} retr" \
                     f"{'ies' if retry > 1 else 'y'})"
        self._send_logs(run)
        try:
            self._dead_letter(function, event, reason, request_id)
            if destination:
                reason = self._tell_destination(function, event, reason, request_id, destination, retry + 1)
        finally:
            self._forget_pending(request_id)
            self._finish(activity, ok, reason)  # after: `put` reads the dead-letter queue once all is quiet

    def _tell_destination(self, function: Any, event: dict, reason: str, request_id: str, destination: str,
                          attempts: int, condition: str = "RetriesExhausted") -> str:
        """The on-failure record sent; `reason`, with a note where the emulator lost it."""
        try:
            self._on_failure(function, event, reason, request_id, destination, attempts, condition)
        except Exception as exc:  # the emulator's own gap (moto delivers a bus's events to few targets)
            reason += f" [sandbox: the record for {destination} was lost in the emulator: {type(exc).__name__}]"
        return reason

    def _run_job(self, activity: Activity, job: Any, start_attempt: bool = True) -> None:
        """A job a worker took: STARTING (at least AVGEN_SANDBOX_JOB_STATE_S, while its role is assumed and its
        context found), RUNNING, then SUCCEEDED or FAILED with AWS's statusReason where AWS gives one."""
        try:
            self._run_job_attempt(activity, job, start_attempt)
        finally:
            if not job.job_stopped:  # an executor bug: the job ends FAILED, not STARTING or RUNNING forever
                self._record_outcome(job.job_id, False)
                job._mark_stopped(success=False)
            self._record_times(job)

    def _record_times(self, job: Any) -> None:
        """When a job that ended was created, started and stopped, for the replays of later commands."""
        started = job.job_started_at.timestamp() if job.job_started_at.year > 1970 else None
        self._record_outcome(job.job_id, [job.job_created_at.timestamp(), started, job.job_stopped_at.timestamp()],
                             JOB_TIMES)

    def _run_job_attempt(self, activity: Activity, job: Any, start_attempt: bool) -> None:
        JobStatus = internal("moto.batch.utils:JobStatus").value
        starting = time.monotonic()
        job.status = JobStatus.STARTING
        properties = job.job_definition.container_properties or {}
        run, deployed = self._job_run(job, properties)
        image = self._image_of(deployed, self._prepare(run, deployed))
        self._job_caveats(activity, run, properties, (job.timeout or job.job_definition.timeout or {}).get(
            "attemptDurationSeconds"))
        time.sleep(max(0.0, job_state_s() - (time.monotonic() - starting)))
        # RUNNING: the attempt and its startedAt begin now, and attemptDurationSeconds counts from here
        job.job_started_at = datetime.now()
        if start_attempt:
            job._start_attempt()
        job.status = JobStatus.RUNNING
        if image:
            activity.image = image
            # the job definition's command: the image's ENTRYPOINT (its Python, -m) runs it
            command = properties.get("command") or ["batch_jobs.entrypoint"]
            # on a machine with GPUs the job gets the ones it asks for (Docker's --gpus: NVIDIA's container
            # toolkit); without, _job_caveats has let it run on CPU and said so
            gpus = _job_gpus(properties) if machine_has_gpu() else 0
            ok, reason = self._run_in_image(run, activity, image, command, _job_memory_mb(properties), None,
                                            gpus=gpus)
        else:
            cage = Cage(_job_memory_mb(properties))
            try:
                ok, reason = self._execute(run, activity, cage=cage)
            finally:
                cage.close()
        self._job_ended(activity, job, run, ok, reason)

    def _job_run(self, job: Any, properties: dict) -> tuple[Run, dict[str, str]]:
        """The process of a job's attempt: the job definition's environment with the submit's overrides, the job
        role's credentials, Batch's own variables, its timeout and log stream; and the deployed environment."""
        deployed = {e["name"]: e["value"] for e in properties.get("environment", [])}
        deployed.update({e["name"]: e["value"] for e in (job.container_overrides or {}).get("environment", [])})
        scratch = Path(tempfile.mkdtemp(prefix="avgen-batch-"))
        role = properties.get("jobRoleArn")
        environment = self._base_environment(deployed, self._credentials(role, job.job_name) if role else {},
                                             scratch, None)
        # Batch's own variables: the compute environment is the queue's first (the sandbox has no placement)
        environments = getattr(job.job_queue, "environments", None) or []
        environment.update({"AWS_BATCH_JOB_ID": job.job_id, "AWS_BATCH_JOB_ATTEMPT": str(len(job.attempts) + 1),
                            "AWS_BATCH_JQ_NAME": job.job_queue.name,
                            **({"AWS_BATCH_CE_NAME": environments[0].name} if environments else {})})
        options = (properties.get("logConfiguration") or {}).get("options") or {}
        timeout = (job.timeout or job.job_definition.timeout or {}).get("attemptDurationSeconds")
        run = Run(command=[sys.executable, "-m", "batch_jobs.entrypoint"], environment=environment,
                  timeout_s=float(timeout) * job_timeout_scale() if timeout else None, grace_s=0.0,
                  log_group=options.get("awslogs-group") or f"/aws/batch/{job.job_definition.name}",
                  log_stream=job.log_stream_name or f"{job.job_definition.name}/default/{job.job_id}",
                  scratch=scratch)
        return run, deployed

    @staticmethod
    def _job_caveats(activity: Activity, run: Run, properties: dict, timeout: int | None) -> None:
        """Where the attempt runs otherwise than on AWS, said in its log (and the activity's note): a GPU job
        on a machine without one, a timeout scaled."""
        gpus = _job_gpus(properties)
        if gpus and not machine_has_gpu():
            activity.note = (f"sandbox: ran on CPU only: the job definition asks for {gpus} GPU"
                             f"{'s' * (gpus > 1)} and this machine has none (AWS runs it on a GPU instance)")
            run.say(activity.note)
            run.environment["CUDA_VISIBLE_DEVICES"] = ""  # a framework that looks for one finds none at once
            run.environment[ALLOW_CPU_VARIABLE] = "1"     # the job definition's AVGEN_REQUIRE_GPU, waived, and said
        scale = job_timeout_scale()
        if timeout and scale != 1:
            run.say(f"sandbox: {JOB_TIMEOUT_SCALE_VARIABLE}={scale:g}: this attempt may run {run.timeout_s:g} s "
                    f"instead of its attemptDurationSeconds, {timeout} s")

    def _job_ended(self, activity: Activity, job: Any, run: Run, ok: bool, reason: str) -> None:
        """SUCCEEDED or FAILED, with AWS's statusReason where AWS gives one (out of memory, a timeout), else the
        sandbox's note; the log sent and the outcome recorded for later replays."""
        status_reason = activity.note  # `avgen status` shows a job's statusReason
        if reason == OUT_OF_MEMORY:
            reason = status_reason = JOB_OUT_OF_MEMORY
        if run.timed_out:  # Batch stops the attempt (https://docs.aws.amazon.com/batch/latest/userguide/job_timeouts.html)
            reason = status_reason = JOB_TIMED_OUT
            run.say(f"{JOB_TIMED_OUT}: Batch stopped the job after {run.timeout_s:g} s (attemptDurationSeconds)")
        self._send_logs(run)
        self._record_outcome(job.job_id, ok)
        if status_reason and hasattr(job, "job_stopped_reason"):
            job.job_stopped_reason = status_reason
            self._record_outcome(job.job_id, status_reason, JOB_NOTES)
        job._mark_stopped(success=ok)
        self._finish(activity, ok, reason)

    def _outcomes(self, name: str = JOB_OUTCOMES) -> dict[str, Any]:
        path = self.state_dir / name if self.state_dir else None
        if path is None or not path.is_file():
            return {}
        try:
            return json.loads(path.read_text())
        except ValueError:
            return {}

    def _record_outcome(self, job_id: str, ok: Any, name: str = JOB_OUTCOMES) -> None:
        if self.state_dir is None or self._closing:
            return
        with self._lock:
            outcomes = {**self._outcomes(name), job_id: ok}
            partial = self.state_dir / (name + ".partial")
            partial.write_text(json.dumps(outcomes, indent=1, sort_keys=True))
            partial.replace(self.state_dir / name)

    def _prepare(self, run: Run, deployed: dict[str, str]) -> Path:
        """Point the runtime at the function's build context: its sources, script and handlers."""
        from lambda_src.config import SCRIPT_VARIABLE

        context = self._context_of(deployed)
        run.environment["PYTHONPATH"] = str(context / "avgen")
        run.environment[SCRIPT_VARIABLE] = str(context / "script.sh")
        return context

    def _context_of(self, deployed: dict[str, str]) -> Path:
        from lambda_src.config import CONFIG_VARIABLE

        name = _deployed_name(deployed)
        if not name:
            raise RuntimeError(f"the deployed function has no {CONFIG_VARIABLE}: it was not deployed by avgen")
        index = json.loads((self.contexts / CONTEXTS_INDEX).read_text()) if self.contexts and (
            self.contexts / CONTEXTS_INDEX).is_file() else {}
        if name not in index:
            raise RuntimeError(f"no build context for {name} in {self.contexts}: run `avgen build` (the sandbox "
                               "runs the runtime and script the image would hold)")
        return self.contexts / index[name]

    def _image_of(self, deployed: dict[str, str], context: Path) -> str | None:
        """The function's image built by `avgen build --local`, where one was built from its current context
        and a Docker engine answers; None: the runtime runs in-process, from the context."""
        from generator.aws.containers import LOCAL_IMAGES_INDEX, context_tag, docker_available

        index_path = context.parent / LOCAL_IMAGES_INDEX
        if not index_path.is_file():
            return None
        image = json.loads(index_path.read_text()).get(_deployed_name(deployed), "")
        files = [path for path in context.rglob("*") if path.is_file()]
        if not image or not image.endswith(":" + context_tag(context, files)):
            return None  # not built, or built from another version of the function: `avgen build --local` again
        with self._lock:
            if self._engine is None:
                self._engine = docker_available()
        return image if self._engine else None

    def _run_lambda_image(self, run: Run, activity: Activity, image: str, event: dict, function_arn: str,
                          request_id: str, memory_mb: int, storage_mb: int) -> tuple[bool, str]:
        """One invocation in the function's image, its runtime client served by the sandbox's Runtime API."""
        from generator.aws.runtime_api import RuntimeApi

        name = f"avgen-{request_id}"
        api = RuntimeApi(event, request_id=request_id, function_arn=function_arn, timeout_s=run.timeout_s or 900,
                         on_verdict=lambda: _docker_quietly("kill", name),
                         trace_id=run.environment.get(TRACE_VARIABLE))
        run.environment["AWS_LAMBDA_RUNTIME_API"] = api.address
        run.say(f"START RequestId: {request_id} Version: $LATEST", time.time())
        try:
            ok, reason = self._run_in_image(run, activity, image, [], memory_mb, storage_mb, name)
        finally:
            api.close()
        # the kernel's verdict first: a script killed for memory fails the invocation, whatever the runtime said
        return (ok, reason) if reason == OUT_OF_MEMORY else api.judge(ok, reason)

    def _run_in_image(self, run: Run, activity: Activity, image: str, command: list[str],
                      memory_mb: int | None, storage_mb: int | None, name: str = "",
                      gpus: int = 0) -> tuple[bool, str]:
        """`docker run` of `image` on the host network (it reaches the sandbox on 127.0.0.1), with the
        deployed environment (in a file only this user reads: it holds the role's credentials), the memory
        limit and a /tmp of the ephemeral storage's size; out of memory when the kernel killed it for that."""
        from generator.aws.containers import docker_command

        name = name or f"avgen-{activity.id}"
        env_file = run.scratch / "container.env"
        from lambda_src.config import SCRIPT_VARIABLE

        skipped = {"PATH", "HOME", "TMPDIR", "PYTHONPATH", SOCKET_VARIABLE, SCRIPT_VARIABLE}  # the image's own
        env_file.touch(mode=0o600)
        env_file.write_text("".join(f"{key}={value}\n" for key, value in run.environment.items()
                                    if key not in skipped and "\n" not in value))
        run.command = docker_run_command(docker_command(), name, env_file, image, command,
                                         memory_mb=memory_mb, storage_mb=storage_mb, gpus=gpus)
        run.environment = dict(os.environ)  # the Docker client's own (DOCKER_HOST, …)
        try:
            ok, reason = self._execute(run, activity)
            if not ok and _docker_quietly("inspect", "--format={{.State.OOMKilled}}", name).strip() == "true":
                run.say(f"Error: Runtime exited with error: signal: killed (over its {memory_mb} MB)")
                ok, reason = False, OUT_OF_MEMORY
        finally:
            _docker_quietly("rm", "--force", name)
        return ok, reason

    def _base_environment(self, deployed: dict[str, str], credentials: dict[str, str], scratch: Path,
                          ephemeral_mb: int | None) -> dict[str, str]:
        environment = {
            "PATH": f"{self._shims}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(scratch), "TMPDIR": str(scratch), "LANG": "C.UTF-8",
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region,
            "AWS_EC2_METADATA_DISABLED": "true",
            **deployed, **credentials,
            **({OWNER_VARIABLE: str(self.state_dir)} if self.state_dir is not None else {}),
        }
        if ephemeral_mb:
            environment["AVGEN_EPHEMERAL_STORAGE_MB"] = str(ephemeral_mb)
        return environment

    def _execute(self, run: Run, activity: Activity, first_line: str = "",
                 cage: Cage | None = None) -> tuple[bool, str]:
        activity.state, activity.started = "running", time.time()
        if first_line:
            run.say(first_line, activity.started)
        began = time.monotonic()
        process: subprocess.Popen | None = None
        try:
            command = cage.wrap(run.command) if cage else run.command
            process = subprocess.Popen(command, env=run.environment, cwd=run.scratch, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            with self._lock:
                self._processes.add(process.pid)
            output = process.stdout
            assert output is not None  # stdout=PIPE

            def read() -> None:
                for line in output:
                    run.say(line.decode("utf-8", "replace").rstrip("\n"))

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            waiter = Waiter(process, run)
            deadline = began + run.timeout_s + run.grace_s if run.timeout_s else None
            code = None
            while code is None and (deadline is None or time.monotonic() < deadline):
                code = waiter.wait(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
                if cage is not None and cage.out_of_memory():
                    # the kernel killed one of its processes: the whole container goes, as on Lambda
                    with contextlib.suppress(OSError):
                        os.killpg(process.pid, 9)
                    cage.kill_all()
                    waiter.wait(None)
                    reader.join(5)
                    activity.seconds = time.monotonic() - began
                    run.say(f"Error: Runtime exited with error: signal: killed (over its {cage.memory_mb} MB)")
                    return False, OUT_OF_MEMORY
            if code is None:
                os.killpg(process.pid, 9)
                waiter.wait(None)
                reader.join(5)
                activity.seconds = time.monotonic() - began
                run.timed_out = True
                return False, f"Task timed out after {run.timeout_s:.0f} seconds"
            reader.join(5)
        finally:
            with self._lock:
                self._processes.discard(process.pid if process is not None else -1)
            shutil.rmtree(run.scratch, ignore_errors=True)
        activity.seconds = time.monotonic() - began
        if code == 0:
            with self._lock:
                self._unchanged += [{"function": activity.function, "target": target}
                                    for target in _unchanged_outputs(run.text())]
            return True, ""
        return False, _failure_reason(run.text(), code)

    def _finish(self, activity: Activity, ok: bool, reason: str) -> None:
        if not ok and reason.startswith((OUT_OF_MEMORY, JOB_OUT_OF_MEMORY)):  # retries may have added to it
            activity.state, activity.reason = "out of memory", reason
            return
        timed_out = reason.startswith(("Task timed out", JOB_TIMED_OUT))
        activity.state = "succeeded" if ok else ("timed out" if timed_out else "failed")
        activity.reason = reason

    # -- AWS calls, over HTTP to the emulator like any client's --------------------------------------
    def _client(self, service: str):
        if service not in self._clients:
            import boto3

            from generator.aws.sandbox import admin_credentials, sandbox_secret

            key, secret = admin_credentials(sandbox_secret(self.state_dir)) if self.state_dir else ("x", "x")
            self._clients[service] = boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                                                  aws_access_key_id=key, aws_secret_access_key=secret)
        return self._clients[service]

    def _credentials(self, role_arn: str, session: str) -> dict[str, str]:
        answer = self._client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session[:64])["Credentials"]
        return {"AWS_ACCESS_KEY_ID": answer["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": answer["SecretAccessKey"],
                "AWS_SESSION_TOKEN": answer["SessionToken"]}

    def _send_logs(self, run: Run) -> None:
        logs = self._client("logs")
        try:
            logs.create_log_group(logGroupName=run.log_group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        try:
            logs.create_log_stream(logGroupName=run.log_group, logStreamName=run.log_stream)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        events = [{"timestamp": stamp, "message": line} for stamp, line in run.lines if line.strip()]
        for start in range(0, len(events), LOG_BATCH):
            logs.put_log_events(logGroupName=run.log_group, logStreamName=run.log_stream,
                                logEvents=events[start:start + LOG_BATCH])

    def _invoke_config(self, function_name: str) -> tuple[int, str]:
        """The deployed event invoke configuration: how many retries, and the on-failure destination's ARN."""
        lambda_ = self._client("lambda")
        try:
            config = lambda_.get_function_event_invoke_config(FunctionName=function_name)
        except Exception:  # none deployed (ResourceNotFoundException): Lambda's defaults
            return DEFAULT_RETRIES, ""
        retries = config.get("MaximumRetryAttempts")
        destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination") or ""
        return (DEFAULT_RETRIES if retries is None else int(retries)), destination

    def _dead_letter(self, function: Any, event: dict, reason: str, request_id: str, error_code: str = "200") -> None:
        """The event, with the attributes Lambda gives a dead-letter message: RequestID, ErrorCode (the
        Invoke's HTTP status: 200 for a function error) and ErrorMessage (its first 1 KB)."""
        target = (getattr(function, "dead_letter_config", None) or {}).get("TargetArn", "")
        if ":sqs:" not in target:
            return
        sqs = self._client("sqs")
        url = sqs.get_queue_url(QueueName=target.rsplit(":", 1)[-1])["QueueUrl"]
        message = reason.encode()[:1024].decode("utf-8", "ignore") or "failed"
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event), MessageAttributes={
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": error_code},
            "ErrorMessage": {"DataType": "String", "StringValue": message}})

    def _on_failure(self, function: Any, event: dict, reason: str, request_id: str, destination: str,
                    attempts: int, condition: str = "RetriesExhausted") -> None:
        """The invocation record Lambda sends an on-failure destination (an EventBridge bus, an SQS queue or
        an SNS topic) once the retries are spent (or a recursive loop was stopped)."""
        record = {
            "version": "1.0", "timestamp": datetime.now(timezone.utc).isoformat(timespec="milliseconds")[:-6] + "Z",
            "requestContext": {"requestId": request_id, "functionArn": f"{function.function_arn}:$LATEST",
                               "condition": condition, "approximateInvokeCount": attempts},
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": reason},
        }
        if ":events:" in destination:
            self._client("events").put_events(Entries=[{
                "Source": "lambda", "DetailType": "Lambda Function Invocation Result - Failure",
                "Detail": json.dumps(record), "EventBusName": destination.rsplit("/", 1)[-1],
                "Resources": [function.function_arn]}])
        elif ":sqs:" in destination:
            sqs = self._client("sqs")
            url = sqs.get_queue_url(QueueName=destination.rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
        elif ":sns:" in destination:
            self._client("sns").publish(TopicArn=destination, Message=json.dumps(record))


def _deployed_name(deployed: dict[str, str]) -> str:
    """The function's resource name, from the configuration avgen deploys with it ("" when there is none)."""
    from lambda_src.config import CONFIG_VARIABLE

    try:
        return str(json.loads(deployed.get(CONFIG_VARIABLE, "{}"))["name"])
    except (ValueError, KeyError, TypeError):
        return ""


def _docker_quietly(*args: str) -> str:
    """A Docker command whose failure changes nothing (stopping a container that already ended)."""
    from generator.aws.containers import docker_command

    try:
        return subprocess.run([docker_command(), *args], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def docker_run_command(docker: str, name: str, env_file: Path, image: str, command: list[str], *,
                       memory_mb: int | None, storage_mb: int | None, gpus: int = 0) -> list[str]:
    """`docker run` of one invocation or job: on the host network (it reaches the sandbox on 127.0.0.1), the
    environment from a file, the memory limit with no swap beyond it, /tmp of the ephemeral storage's size,
    and `gpus` GPUs where the machine has them."""
    limits = [f"--memory={memory_mb}m", f"--memory-swap={memory_mb}m"] if memory_mb else []
    if storage_mb:
        limits.append(f"--tmpfs=/tmp:rw,exec,size={storage_mb}m")
    if gpus:
        limits.append(f"--gpus={gpus}")
    return [docker, "run", f"--name={name}", "--network=host", f"--env-file={env_file}", *limits, image, *command]


def _job_gpus(properties: dict) -> int:
    """How many GPUs a job definition asks for (its GPU resource requirement)."""
    for requirement in properties.get("resourceRequirements") or []:
        if requirement.get("type") == "GPU":
            with contextlib.suppress(TypeError, ValueError):
                return int(requirement["value"])
    return 0


def machine_has_gpu() -> bool:
    """Whether this machine has an NVIDIA GPU a job could use (its device, or `nvidia-smi -L` listing one)."""
    if Path("/dev/nvidia0").exists():
        return True
    if not shutil.which("nvidia-smi"):
        return False
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return listed.returncode == 0 and "GPU" in listed.stdout


def _job_memory_mb(properties: dict) -> int | None:
    """A job definition's memory (MiB): its MEMORY resource requirement, else the older `memory`."""
    for requirement in properties.get("resourceRequirements") or []:
        if requirement.get("type") == "MEMORY":
            with contextlib.suppress(TypeError, ValueError):
                return int(requirement["value"])
    memory = properties.get("memory")
    return int(memory) if memory else None


def _unchanged_outputs(lines: list[str]) -> list[str]:
    """The outputs the runtime's log lines say were not written again (identical to the object there)."""
    found = []
    for line in lines:
        if line.startswith("{") and UNCHANGED_OUTPUT in line:
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if record.get("message") == UNCHANGED_OUTPUT:
                    found.append(str(record.get("target", "")))
    return found


class Waiter:
    """Waits for a run's process as wait4 does, which tells its peak resident set (and that of the processes
    it waited for, the script's among them) as well as its exit code."""

    def __init__(self, process: subprocess.Popen, run: Run):
        self.process, self.run = process, run
        self.thread = threading.Thread(target=self._reap, daemon=True)
        self.thread.start()

    def _reap(self) -> None:
        _, status, usage = os.wait4(self.process.pid, 0)
        self.run.peak_kib = usage.ru_maxrss  # KiB on Linux
        self.process.returncode = os.waitstatus_to_exitcode(status)

    def wait(self, timeout: float | None) -> int | None:
        """The exit code, or None if the process still runs after `timeout` seconds."""
        self.thread.join(timeout)
        return None if self.thread.is_alive() else self.process.returncode


def peak_rss_kib(pid: int | None) -> int | None:
    """The peak resident set of a running process (VmHWM), if it can be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text() if pid else ""
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def _failure_reason(lines: list[str], code: int) -> str:
    """Lambda's error message (the last line `lambda_src.invoke` prints), else the runtime's last error line,
    else the end of the output."""
    for line in reversed(lines):
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "errorMessage" in record:
            return str(record["errorMessage"])
        if record.get("level") == "ERROR":
            tail = str(record.get("output_tail") or "").strip()
            return str(record.get("message", "")) + (f": {tail}" if tail else "")
    tail = "\n".join(lines)[-OUTPUT_TAIL:]
    return f"exit code {code}" + (f": {tail}" if tail else "")
# -- a container's memory and /tmp, with what this machine allows ------------------------------------
CGROUP_ROOT = Path("/sys/fs/cgroup")


class Cage:
    """The memory and /tmp limits of one function container (or Batch job), as this machine allows them.

    Memory: a memory cgroup of its own (cgroup v2's `memory.max`, else v1's `memory.limit_in_bytes`) that
    every process of the container joins (the runtime, the script, its tools and the warm handler), so
    that going over the function's memory gets the container's processes killed by the kernel, as Lambda
    does; where no cgroup can be made (not root, no delegation), RLIMIT_AS per process, under which an
    allocation over the limit fails (MemoryError, ENOMEM) instead of being killed.
    /tmp: a tmpfs of the ephemeral storage's size mounted on the container's temporary folder (root only),
    so that writing past it fails with ENOSPC; else RLIMIT_FSIZE, which bounds each file, not their sum."""

    def __init__(self, memory_mb: int | None, temp: Path | None = None, storage_mb: int | None = None):
        self.memory_mb, self.storage_mb = memory_mb, storage_mb
        self.cgroup = _make_cgroup(memory_mb) if memory_mb else None
        self.mounted = _mount_tmpfs(temp, storage_mb) if temp is not None and storage_mb else None
        self._ooms = self.oom_kills()

    def wrap(self, command: list[str]) -> list[str]:
        """`command`, started inside the limits (a shell that joins the cgroup or sets its rlimits, then execs)."""
        steps = []
        if self.cgroup is not None:
            steps.append(f'echo $$ > "{self.cgroup / "cgroup.procs"}"')
        elif self.memory_mb:
            steps.append(f"ulimit -v {self.memory_mb * 1024}")
        if self.storage_mb and self.mounted is None:
            steps.append(f"ulimit -f {self.storage_mb * 2048}")  # in 512-byte blocks
        if not steps:
            return command
        return ["/bin/sh", "-c", " && ".join(steps) + ' && exec "$@"', "sh", *command]

    def oom_kills(self) -> int:
        """How many processes the kernel killed for going over the container's memory, so far."""
        if self.cgroup is None:
            return 0
        for name in ("memory.events", "memory.oom_control"):
            with contextlib.suppress(OSError):
                for line in (self.cgroup / name).read_text().splitlines():
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        return 0

    def out_of_memory(self) -> bool:
        """Whether a process was killed for memory since the last call."""
        now = self.oom_kills()
        killed, self._ooms = now > self._ooms, now
        return killed

    def kill_all(self) -> None:
        """Kill every process of the container (its warm handler too): Lambda resets an environment whose
        runtime was killed."""
        if self.cgroup is None:
            return
        for _ in range(20):
            try:
                pids = [int(p) for p in (self.cgroup / "cgroup.procs").read_text().split()]
            except OSError:
                return
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)
            time.sleep(0.05)

    def close(self) -> None:
        self.kill_all()
        if self.mounted is not None:
            subprocess.run(["umount", "-l", str(self.mounted)], capture_output=True, check=False)
            self.mounted.with_name(self.mounted.name + ".img").unlink(missing_ok=True)
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()


def _own_memory_cgroups() -> list[Path]:
    """Folders where this process may make a child memory cgroup: its own cgroup v2 (the memory controller
    must be enabled for its children), then its cgroup v1 memory hierarchy."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    found: list[Path] = []
    for line in lines:
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and not controllers:
            for mount in (CGROUP_ROOT, CGROUP_ROOT / "unified"):
                if (mount / "cgroup.controllers").is_file():
                    found.insert(0, mount / path.lstrip("/"))
                    break
        elif "memory" in controllers.split(","):
            found.append(CGROUP_ROOT / "memory" / path.lstrip("/"))
    return found


def _make_cgroup(memory_mb: int) -> Path | None:
    limit = str(memory_mb * 2**20)
    for parent in _own_memory_cgroups():
        folder = parent / f"avgen-{uuid.uuid4().hex[:12]}"
        try:
            folder.mkdir()
        except OSError:
            continue
        try:
            if (folder / "memory.max").is_file():  # v2
                (folder / "memory.max").write_text(limit)
                with contextlib.suppress(OSError):
                    (folder / "memory.swap.max").write_text("0")
            elif (folder / "memory.limit_in_bytes").is_file():  # v1
                (folder / "memory.limit_in_bytes").write_text(limit)
                with contextlib.suppress(OSError):
                    (folder / "memory.memsw.limit_in_bytes").write_text(limit)
            else:
                raise OSError("no memory controller")
            return folder
        except OSError:
            with contextlib.suppress(OSError):
                folder.rmdir()
    return None


def _mount_tmpfs(folder: Path, size_mb: int) -> Path | None:
    """A filesystem of `size_mb` on `folder`: an ext4 image in a sparse file, mounted through a loop device
    (root only). Not a tmpfs: its pages would count towards the container's memory, which Lambda's /tmp's
    do not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not (shutil.which("mount") and shutil.which("mkfs.ext4")):
        return None
    folder.mkdir(parents=True, exist_ok=True)
    image = folder.with_name(folder.name + ".img")
    with open(image, "wb") as handle:
        handle.truncate(size_mb * 2**20)
    made = subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal", "-E", "root_owner=0:0",
                           str(image)], capture_output=True, check=False)
    done = made.returncode == 0 and subprocess.run(["mount", "-o", "loop", str(image), str(folder)],
                                                   capture_output=True, check=False).returncode == 0
    if done:
        folder.chmod(0o1777)
        with contextlib.suppress(OSError):
            (folder / "lost+found").rmdir()
        return folder
    image.unlink(missing_ok=True)
    return None
