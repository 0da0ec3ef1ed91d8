"""Triggers on a bucket avgen does not create go through EventBridge, and its owner's notifications stay.

The bucket exists before the workflow and has a trigger of its own (an SQS queue). A real `terraform apply`
into the sandbox creates the function and an EventBridge rule; the bucket's notification configuration only
gains EventBridge delivery (--enable-eventbridge), an upload then runs the function through the rule and
still reaches the owner's queue, and a destroy leaves the owner's configuration as it was.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote_plus

import boto3
import pytest
from typer.testing import CliRunner

from generator.aws.sandbox import Sandbox
from generator.cli import app

pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("sandbox-existing-bucket")]
DATA = Path(__file__).parents[1] / "data" / "existing-bucket-workflow"
EXISTING, RESULTS = "avgen-existing-media", "avgen-ext-results"
runner = CliRunner()


def avgen(*args):
    return runner.invoke(app, [*map(str, args)])


def client(sandbox: Sandbox, service: str):
    return boto3.client(service, endpoint_url=sandbox.endpoint, region_name="us-east-1",
                        **sandbox.credentials)


def owner_configuration(queue_arn: str) -> dict:
    return {"QueueConfigurations": [{"Id": "owners-own-trigger", "QueueArn": queue_arn,
                                     "Events": ["s3:ObjectCreated:*"],
                                     "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "audit/"}]}}}]}


def notification_configuration(workdir: Path) -> dict:
    with Sandbox(workdir / "sandbox") as sandbox:
        config = client(sandbox, "s3").get_bucket_notification_configuration(Bucket=EXISTING)
    config.pop("ResponseMetadata", None)
    return config


def owners_bucket_with_its_trigger(workdir: Path) -> dict:
    """The bucket as its owner made it before avgen: an SQS trigger on `audit/`. Its notification configuration."""
    with Sandbox(workdir / "sandbox") as sandbox:
        s3, sqs = client(sandbox, "s3"), client(sandbox, "sqs")
        s3.create_bucket(Bucket=EXISTING)
        queue = sqs.create_queue(QueueName="owners-queue")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.put_bucket_notification_configuration(Bucket=EXISTING,
                                                 NotificationConfiguration=owner_configuration(queue_arn))
    return notification_configuration(workdir)


def keys_the_owners_queue_got(workdir: Path) -> list[str]:
    with Sandbox(workdir / "sandbox") as sandbox:
        sqs = client(sandbox, "sqs")
        queue = sqs.get_queue_url(QueueName="owners-queue")["QueueUrl"]
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return [unquote_plus(record["s3"]["object"]["key"])
            for message in messages for record in json.loads(message["Body"]).get("Records", [])]


def test_existing_bucket_keeps_its_notifications_and_triggers_through_eventbridge(tmp_path, plugin_dir):
    shutil.copytree(DATA, tmp_path / "wf")
    workflow, workdir = tmp_path / "wf" / "workflow.yaml", tmp_path / "deploy"
    owners = owners_bucket_with_its_trigger(workdir)

    refused = avgen("apply", workflow, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir)
    assert refused.exit_code == 1
    assert "--enable-eventbridge" in refused.output and EXISTING in refused.output
    assert notification_configuration(workdir) == owners  # refused before anything changed

    applied = avgen("apply", workflow, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir,
                    "--enable-eventbridge")
    assert applied.exit_code == 0, applied.output
    assert f"bucket {EXISTING}: EventBridge delivery switched on" in applied.output
    assert notification_configuration(workdir) == {**owners, "EventBridgeConfiguration": {}}

    source = tmp_path / "clip.txt"
    source.write_text("through EventBridge\n")
    put = avgen("put", workflow, source, "-b", f"{EXISTING}/uploads", "--sandbox", "-w", workdir)
    assert put.exit_code == 0, put.output
    assert "ext-copy" in put.output
    audit = tmp_path / "note.txt"
    audit.write_text("for the owner's queue\n")
    assert avgen("put", audit, "-b", f"{EXISTING}/audit", "--sandbox", "-w", workdir).exit_code == 0
    with Sandbox(workdir / "sandbox") as sandbox:
        copied = client(sandbox, "s3").get_object(Bucket=RESULTS, Key="copies/clip.txt")["Body"].read()
    assert copied == b"through EventBridge\n"
    assert keys_the_owners_queue_got(workdir) == ["audit/note.txt"]  # still fires, only on its own prefix

    destroyed = avgen("destroy", workflow, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir)
    assert destroyed.exit_code == 0, destroyed.output
    assert notification_configuration(workdir) == {**owners, "EventBridgeConfiguration": {}}
