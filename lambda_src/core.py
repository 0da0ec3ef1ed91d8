"""One invocation of a function: for each object in the event, download it, run the script, upload what it
left — or hand the object to AWS Batch. Shared by the Lambda handler, the Batch entrypoint and the local
runner, which differ only in the storage, the submitter and the deadline they pass.

Where this differs from SCAR, on purpose (docs/runtime.md):
- a failed script uploads nothing and fails the invocation with its exit code;
- `lambda-batch` uploads nothing from the Lambda attempt it gives up on, and delegates on timeout (and, when
  `batch_on_failure` is set, on failure) without crashing;
- every record of the event is processed, not only the first;
- folder markers and zero-byte objects are skipped, and an output already present with the same content is
  not written again, so a re-delivered event does not trigger the next function twice.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lambda_src import scar_layout
from lambda_src.config import FunctionConfig
from lambda_src.events import S3Object, parse_event
from lambda_src.logs import RuntimeLog
from lambda_src.outputs import OutputError, UploadPlan, plan_uploads
from lambda_src.script import run_script
from lambda_src.storage import ObjectMissing, Storage, file_sha256
from lambda_src.submitter import SubmitError, Submitter
from lambda_src.warm_containers import Container

SUCCEEDED = "succeeded"
SKIPPED = "skipped"
DELEGATED = "delegated"
FAILED = "failed"        # the script exited non-zero
TIMED_OUT = "timed_out"  # the script was killed at the end of its time budget
ERROR = "error"          # the runtime could not do its part (object gone, S3 or Batch refused, ...)
# the log line of an output not written again (it triggers nothing); the sandbox's executor looks for it
UNCHANGED_OUTPUT = "output unchanged, not rewritten"
_OK = (SUCCEEDED, SKIPPED, DELEGATED)


@dataclass(frozen=True)
class RecordResult:
    bucket: str
    key: str
    status: str
    reason: str = ""
    exit_code: int | None = None
    uploaded: tuple[str, ...] = ()    # s3://bucket/key of every output written
    unchanged: tuple[str, ...] = ()   # outputs already there with the same content, so not rewritten
    job_id: str | None = None
    output_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in _OK


@dataclass(frozen=True)
class InvocationResult:
    request_id: str
    function: str
    records: tuple[RecordResult, ...]

    @property
    def ok(self) -> bool:
        return all(record.ok for record in self.records)

    @property
    def failures(self) -> tuple[RecordResult, ...]:
        return tuple(record for record in self.records if not record.ok)

    @property
    def job_ids(self) -> tuple[str, ...]:
        return tuple(record.job_id for record in self.records if record.job_id)

    @property
    def exit_code(self) -> int:
        """0 when every record is fine; else the first failed script's code, or 1."""
        for record in self.failures:
            if record.exit_code:
                return record.exit_code
        return 1 if self.failures else 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (lists, not tuples): what the Lambda handler returns."""
        records = [{name: list(value) if isinstance(value, tuple) else value
                    for name, value in asdict(record).items()} for record in self.records]
        return {"request_id": self.request_id, "function": self.function, "ok": self.ok,
                "job_ids": list(self.job_ids), "records": records}


def run_invocation(config: FunctionConfig, event: Mapping[str, Any], storage: Storage, *, request_id: str,
                   deadline: float | None, submitter: Submitter | None = None,
                   workdir: Path | None = None, container: Container | None = None) -> InvocationResult:
    """Process every object named by `event` (an S3 notification or an EventBridge S3 event).

    deadline: `time.monotonic()` value at which the invocation itself ends (Lambda's end), or None for no
        limit (Batch, local). The script is killed `config.timeout_threshold` seconds before it, which keeps
        that time for uploading.
    submitter: where this invocation may hand objects to Batch. None means "run everything here", whatever
        the execution mode (the Batch job itself, the local runner). With a submitter, `batch` mode only
        submits, and `lambda-batch` mode submits what ran out of time (or failed, with batch_on_failure).
    workdir: parent of the fresh per-object folders (default: the system temporary folder).
    container: the function container this runs in; its warm handler (lambda_src/warm_containers.py) serves the
        scripts' model-loading `avgen-handler` calls, for every object of this and later invocations.

    Raises EventError when the event is not an S3 event at all; everything else is reported in the result.
    """
    invocation = _Invocation(config, storage, request_id, deadline, submitter, workdir, container)
    objects = parse_event(event)
    invocation.log.info("invocation started", phase="start", mode=config.execution_mode, objects=len(objects),
                        delegation=submitter is not None)
    results = tuple(invocation.process(obj) for obj in objects)
    result = InvocationResult(request_id=request_id, function=config.name, records=results)
    invocation.log.info("invocation finished", phase="end", ok=result.ok,
                        statuses=[record.status for record in results], job_ids=list(result.job_ids),
                        duration_ms=_ms(time.monotonic() - invocation.started))
    return result


def batch_job_name(function: str, request_id: str, bucket: str, key: str) -> str:
    """A valid Batch job name (128 letters, digits, '-' or '_', starting with one of the first two) that
    names the function and is the same for the same delegation, to find a job again from a request id."""
    digest = hashlib.sha256(f"{request_id}\0{bucket}\0{key}".encode()).hexdigest()[:12]
    base = re.sub(r"[^A-Za-z0-9_-]", "-", function)[:100].strip("-_") or "avgen"
    if not base[0].isalnum():
        base = "avgen-" + base
    return f"{base}-{digest}"


class _Invocation:
    def __init__(self, config: FunctionConfig, storage: Storage, request_id: str, deadline: float | None,
                 submitter: Submitter | None, workdir: Path | None, container: Container | None = None):
        self.config = config
        self.storage = storage
        self.request_id = request_id
        self.submitter = submitter
        self.workdir = workdir
        self.container = container
        self.started = time.monotonic()
        self.script_deadline = None if deadline is None else deadline - config.timeout_threshold
        self.log = RuntimeLog(request_id=request_id, function=config.name)

    @property
    def may_delegate(self) -> bool:
        return self.submitter is not None and self.config.execution_mode == "lambda-batch"

    def process(self, obj: S3Object) -> RecordResult:
        skip = self._skip_reason(obj)
        if skip:
            self.log.info(f"skipped: {skip}", phase="skip", bucket=obj.bucket, key=obj.key, reason=skip)
            return RecordResult(obj.bucket, obj.key, SKIPPED, reason=skip)
        if self.submitter is not None and self.config.execution_mode == "batch":
            return self._delegate(obj, "execution mode is batch")
        time_left = self._time_left()
        if self.may_delegate and time_left is not None and time_left <= 0:
            return self._delegate(obj, "no time left in this invocation")
        folder = Path(tempfile.mkdtemp(prefix="avgen-", dir=self.workdir))
        try:
            return self._run_here(obj, folder)
        except ObjectMissing as exc:
            self.log.error(str(exc), phase="download", bucket=obj.bucket, key=obj.key)
            return RecordResult(obj.bucket, obj.key, ERROR, reason=str(exc))
        except OutputError as exc:
            self.log.error(f"{exc}; nothing uploaded", phase="upload", bucket=obj.bucket, key=obj.key)
            return RecordResult(obj.bucket, obj.key, ERROR, reason=str(exc))
        except Exception as exc:  # one object's trouble must not hide the others' results
            self.log.log(logging.ERROR, f"runtime error: {exc}", phase="error", exc_info=True,
                         bucket=obj.bucket, key=obj.key)
            return RecordResult(obj.bucket, obj.key, ERROR, reason=f"{type(exc).__name__}: {exc}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # Lambda keeps /tmp between warm invocations

    def _skip_reason(self, obj: S3Object) -> str:
        if not obj.created:
            return "not an object-creation event"
        if self.config.inputs and not any(i.contains(obj.bucket, obj.key) for i in self.config.inputs):
            return "not under any input of this function"
        if obj.key.endswith("/"):
            return "folder marker (key ends with '/')"
        if obj.size == 0:
            return "zero-byte object"
        return ""

    def _time_left(self) -> float | None:
        return None if self.script_deadline is None else self.script_deadline - time.monotonic()

    def _delegate(self, obj: S3Object, why: str) -> RecordResult:
        assert self.submitter is not None
        name = batch_job_name(self.config.name, self.request_id, obj.bucket, obj.key)
        try:
            job_id = self.submitter.submit(job_name=name, event=obj.event, parent_request_id=self.request_id)
        except SubmitError as exc:
            self.log.error(str(exc), phase="delegate", bucket=obj.bucket, key=obj.key, reason=why)
            return RecordResult(obj.bucket, obj.key, ERROR, reason=str(exc))
        self.log.info(f"handed over to AWS Batch: {why}", phase="delegate", bucket=obj.bucket, key=obj.key,
                      reason=why, job_id=job_id, job_name=name)
        return RecordResult(obj.bucket, obj.key, DELEGATED, reason=why, job_id=job_id)

    def _run_here(self, obj: S3Object, folder: Path) -> RecordResult:
        info = self.storage.head(obj.bucket, obj.key)
        if info is None:
            raise ObjectMissing(obj.bucket, obj.key)
        if info.size == 0:
            self.log.info("skipped: zero-byte object", phase="skip", bucket=obj.bucket, key=obj.key,
                          reason="zero-byte object")
            return RecordResult(obj.bucket, obj.key, SKIPPED, reason="zero-byte object")

        input_dir, output_dir = folder / "input", folder / "output"
        input_dir.mkdir()
        output_dir.mkdir()
        input_path = input_dir / obj.key.rsplit("/", 1)[-1]
        began = time.monotonic()
        size = self.storage.download(obj.bucket, obj.key, input_path)
        self.log.info("input downloaded", phase="download", bucket=obj.bucket, key=obj.key, bytes=size,
                      duration_ms=_ms(time.monotonic() - began))

        timeout = self._time_left()
        if timeout is not None and timeout <= 0:
            return self._timed_out(obj, "no time left for the script after the download",
                                   dict(bucket=obj.bucket, key=obj.key))
        # SCAR's scripts call the tools of SCAR's images: stand-ins where this machine lacks them
        tools = scar_layout.lay_out(folder / "scar-tools")
        env = self._script_env(obj, input_path, input_dir, output_dir)
        env.update(tools.environment(env.get("PATH", "")))
        outcome = run_script(self.config.script, env=env, timeout=timeout, output_path=folder / "script-output.log",
                             cwd=tools.workdir, prelude=tools.prelude)
        fields = dict(bucket=obj.bucket, key=obj.key, exit_code=outcome.exit_code,
                      duration_ms=_ms(outcome.duration_s), output_bytes=outcome.output_bytes,
                      output_tail=outcome.output_tail)
        if outcome.timed_out:
            return self._timed_out(obj, f"script killed after {outcome.duration_s:.1f} s, at the end of its "
                                        "time budget", fields)
        if outcome.exit_code != 0:
            self.log.error(f"script failed with exit code {outcome.exit_code}; nothing uploaded",
                           phase="script", **fields)
            if self.may_delegate and self.config.batch_on_failure:
                return self._delegate(obj, f"script failed with exit code {outcome.exit_code}")
            return RecordResult(obj.bucket, obj.key, FAILED, reason=f"script exited with code {outcome.exit_code}",
                                exit_code=outcome.exit_code, output_tail=outcome.output_tail)
        self.log.info("script succeeded", phase="script", **fields)
        uploaded, unchanged = self._upload(obj, output_dir)
        return RecordResult(obj.bucket, obj.key, SUCCEEDED, exit_code=0, uploaded=uploaded, unchanged=unchanged,
                            output_tail=outcome.output_tail)

    def _timed_out(self, obj: S3Object, why: str, fields: Mapping[str, Any]) -> RecordResult:
        self.log.warning(f"{why}; nothing uploaded", phase="script", timed_out=True, **fields)
        if self.may_delegate:
            return self._delegate(obj, "the script ran out of Lambda time")
        return RecordResult(obj.bucket, obj.key, TIMED_OUT, reason=why, output_tail=fields.get("output_tail", ""))

    def _script_env(self, obj: S3Object, input_path: Path, input_dir: Path, output_dir: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.config.environment)
        env.update({
            "INPUT_FILE_PATH": str(input_path),
            "TMP_INPUT_DIR": str(input_dir),
            "TMP_OUTPUT_DIR": str(output_dir),
            "STORAGE_OBJECT_KEY": obj.key,
            "EVENT": json.dumps(obj.event, ensure_ascii=False),
            "EVENT_TIME": obj.event_time,
            "REQUEST_ID": self.request_id,
            "AWS_LAMBDA_REQUEST_ID": self.request_id,
        })
        if self.container is not None:
            self.container.script_environment(env)
        return env

    def _upload(self, obj: S3Object, output_dir: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
        plan = self._planned_uploads(obj, output_dir)
        # Everything that can be checked is checked before the first upload: a failed invocation must not
        # leave half its outputs behind (each would trigger the next function).
        problems = list(plan.problems)
        problems += [f"output bucket {bucket} does not exist"
                     for bucket in sorted({upload.bucket for upload in plan.uploads})
                     if not self.storage.bucket_exists(bucket)]
        if problems:
            raise OutputError("; ".join(problems))
        digests = {path: file_sha256(path) for path in {upload.path for upload in plan.uploads}}
        pending = []
        unchanged = []
        for upload in plan.uploads:
            target = f"s3://{upload.bucket}/{upload.key}"
            existing = self.storage.head(upload.bucket, upload.key)
            if existing is not None and existing.sha256 == digests[upload.path]:
                unchanged.append(target)
                self.log.info(UNCHANGED_OUTPUT, phase="upload", target=target)
            else:
                pending.append((upload, target))
        uploaded = []
        for upload, target in pending:
            began = time.monotonic()
            self.storage.upload(upload.path, upload.bucket, upload.key, sha256=digests[upload.path])
            uploaded.append(target)
            self.log.info("output uploaded", phase="upload", target=target, bytes=upload.path.stat().st_size,
                          duration_ms=_ms(time.monotonic() - began))
        return tuple(uploaded), tuple(unchanged)

    def _planned_uploads(self, obj: S3Object, output_dir: Path) -> UploadPlan:
        """What the outputs' filters take from the output folder, with warnings for what none of them takes."""
        plan = plan_uploads(output_dir, self.config.outputs, self.request_id)
        for link in plan.symlinks:
            self.log.warning("symlink in the output folder skipped, its target not read", phase="upload",
                             bucket=obj.bucket, key=obj.key, path=link)
        if not plan.uploads and not plan.problems and any(path.is_file() for path in output_dir.rglob("*")):
            self.log.warning("the script left files but no output's filters accept any of them",
                             phase="upload", bucket=obj.bucket, key=obj.key)
        return plan


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))
