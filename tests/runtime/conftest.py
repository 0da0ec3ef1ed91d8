"""Helpers for the runtime's tests: S3 events as AWS sends them, scripts, configurations, a Lambda context."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from lambda_src.logs import LOGGER_NAME

BUCKET = "media"


def s3_event(bucket: str, *keys: str, sizes: dict[str, int] | None = None,
             event_name: str = "ObjectCreated:Put") -> dict:
    """An S3 notification with one record per key, the key URL-encoded the way S3 does it."""
    return {"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2024-05-01T12:00:00.000Z",
        "eventName": event_name,
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "avgen",
               "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key, safe="/"), "size": (sizes or {}).get(key, 1),
                          "eTag": "0", "sequencer": "0"}},
    } for key in keys]}


def function_config(**overrides) -> dict:
    config = {"name": "test-fn", "execution_mode": "lambda", "log_level": "INFO", "timeout_threshold": 1,
              "batch_on_failure": False,
              "inputs": [{"provider": "s3", "bucket": BUCKET, "prefix": "in"}],
              "outputs": [{"provider": "s3", "bucket": BUCKET, "prefix": "out",
                           "filter_prefix": [], "filter_suffix": []}]}
    config.update(overrides)
    return config


def output(prefix: str = "out", *, bucket: str = BUCKET, filter_prefix=(), filter_suffix=()) -> dict:
    return {"provider": "s3", "bucket": bucket, "prefix": prefix,
            "filter_prefix": list(filter_prefix), "filter_suffix": list(filter_suffix)}


class FakeContext:
    """What the Lambda runtime passes as `context`, with a clock that really runs down."""

    def __init__(self, request_id: str = "req-1", remaining_s: float = 60.0, function_name: str = "test-fn"):
        self.aws_request_id = request_id
        self.function_name = function_name
        self._end = time.monotonic() + remaining_s

    def get_remaining_time_in_millis(self) -> int:
        return int((self._end - time.monotonic()) * 1000)


@pytest.fixture(autouse=True)
def quiet_runtime_logger():
    """Tests that point the runtime's logger at a stream get a fresh one each time."""
    yield
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


@pytest.fixture
def batch(aws_env, monkeypatch):
    """Make a Batch queue and job definition in the emulator, named in the environment as Terraform does;
    `environment` is the job definition's (what Terraform puts there: AVGEN_FUNCTION, AVGEN_SCRIPT, ...)."""
    import boto3

    client = boto3.client("batch")

    def make(environment: dict[str, str] | None = None):
        role = boto3.client("iam").create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")
        compute = client.create_compute_environment(computeEnvironmentName="test-ce", type="UNMANAGED",
                                                    state="ENABLED", serviceRole=role["Role"]["Arn"])
        queue = client.create_job_queue(
            jobQueueName="test-fn-queue", state="ENABLED", priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": compute["computeEnvironmentArn"]}])
        definition = client.register_job_definition(
            jobDefinitionName="test-fn-job", type="container",
            containerProperties={
                "image": "example/test-fn:latest", "command": ["batch_jobs.entrypoint"],
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "1024"}],
                "environment": [{"name": k, "value": v} for k, v in (environment or {}).items()],
            })
        monkeypatch.setenv("AVGEN_JOB_QUEUE", queue["jobQueueName"])
        monkeypatch.setenv("AVGEN_JOB_DEFINITION", definition["jobDefinitionArn"])
        return client

    return make


def job_environment(client, job_id: str) -> dict[str, str]:
    [job] = client.describe_jobs(jobs=[job_id])["jobs"]
    return {item["name"]: item["value"] for item in job["container"]["environment"]}


@pytest.fixture
def s3(aws_env):
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def write_script(tmp_path):
    def write(body: str, name: str = "script.sh") -> Path:
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        return path

    return write


@pytest.fixture
def deployed(monkeypatch, write_script):
    """Give this process the environment of a deployed function (AVGEN_FUNCTION, AVGEN_SCRIPT); the
    variables set are returned, for a job definition to carry them too."""

    def deploy(script_body: str, **config) -> dict[str, str]:
        environment = {"AVGEN_FUNCTION": json.dumps(function_config(**config)),
                       "AVGEN_SCRIPT": str(write_script(script_body))}
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return environment

    return deploy


def keys(client, bucket: str = BUCKET, prefix: str = "") -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))
