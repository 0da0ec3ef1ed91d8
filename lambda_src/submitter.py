"""Hand an object's processing over to AWS Batch.

The job runs the same image with `python -m batch_jobs.entrypoint`; it learns what to do from two variables
put in the job's container overrides: `AVGEN_EVENT` (the event narrowed to one object) and
`AVGEN_PARENT_REQUEST_ID` (the Lambda request that delegated, reused as the job's REQUEST_ID).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

EVENT_VARIABLE = "AVGEN_EVENT"
PARENT_REQUEST_VARIABLE = "AVGEN_PARENT_REQUEST_ID"


class SubmitError(RuntimeError):
    """The Batch job could not be submitted (or the function has no queue to submit to)."""


@runtime_checkable
class Submitter(Protocol):
    def submit(self, *, job_name: str, event: Mapping[str, Any], parent_request_id: str) -> str:
        """Submit one job for `event` and return its id."""


class BatchSubmitter:
    def __init__(self, job_queue: str, job_definition: str, *, client: Any = None):
        if not job_queue or not job_definition:
            raise SubmitError("the function has no Batch job queue or job definition "
                              "(AVGEN_JOB_QUEUE / AVGEN_JOB_DEFINITION are not set)")
        if client is None:
            import boto3

            client = boto3.client("batch")
        self.job_queue = job_queue
        self.job_definition = job_definition
        self.client = client

    def submit(self, *, job_name: str, event: Mapping[str, Any], parent_request_id: str) -> str:
        environment = [
            {"name": EVENT_VARIABLE, "value": json.dumps(event, ensure_ascii=False, separators=(",", ":"))},
            {"name": PARENT_REQUEST_VARIABLE, "value": parent_request_id},
        ]
        try:
            response = self.client.submit_job(
                jobName=job_name,
                jobQueue=self.job_queue,
                jobDefinition=self.job_definition,
                containerOverrides={"environment": environment},
            )
        except Exception as exc:
            raise SubmitError(f"submitting {job_name} to {self.job_queue} failed: {exc}") from exc
        return response["jobId"]
