"""Buckets avgen does not create: before an apply, make sure they exist and send their events to EventBridge.

Their triggers are EventBridge rules (modules/eventbridge-triggers), because a bucket's notification
configuration is one object that PutBucketNotificationConfiguration replaces whole: writing it from Terraform
would drop its owner's other triggers, and a destroy would wipe them. The one change avgen makes to such a
bucket is switching on its EventBridge delivery, when asked, by adding `EventBridgeConfiguration` to the
configuration it reads back, so every existing rule stays as it is
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-event-notifications-eventbridge.html).
"""
from __future__ import annotations

from collections.abc import Sequence

from botocore.exceptions import ClientError

from generator.errors import DeployError
from generator.workflow.model import Workflow


def buckets_needing_eventbridge(workflow: Workflow) -> list[str]:
    """The existing buckets (`create: false`) that trigger a function."""
    existing = {b.name for b in workflow.buckets if not b.create}
    return sorted({path.bucket for f in workflow.functions for path in f.triggers if path.bucket in existing})


def check_eventbridge(s3, buckets: Sequence[str], *, may_enable: bool, workflow_file: str) -> dict[str, dict]:
    """The notification configuration of each bucket whose EventBridge delivery is off (to pass to
    enable_eventbridge once the apply is confirmed). Changes nothing.

    Raises DeployError for a bucket that is missing or unreadable, and, unless `may_enable`, for one whose
    EventBridge delivery is off, saying how to switch it on."""
    configurations = {bucket: _notification_configuration(s3, bucket) for bucket in buckets}
    off = {bucket: config for bucket, config in configurations.items() if "EventBridgeConfiguration" not in config}
    if off and not may_enable:
        raise DeployError(
            f"{_listing(sorted(off))} must send {'its' if len(off) == 1 else 'their'} events to EventBridge, where "
            "this workflow's triggers on buckets it does not create are rules. Run `avgen apply "
            f"{workflow_file} --enable-eventbridge` to switch it on (it adds EventBridge delivery and keeps the "
            "bucket's existing notification rules), or switch it on yourself: S3 console → bucket → Properties → "
            "Amazon EventBridge → On")
    return off


def enable_eventbridge(s3, configurations: dict[str, dict]) -> list[str]:
    """Add EventBridge delivery to each bucket's configuration as read by check_eventbridge."""
    for bucket, config in sorted(configurations.items()):
        # the owner's destinations are theirs: S3 must not re-check them (one deleted since would fail the call)
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={**config, "EventBridgeConfiguration": {}},
            SkipDestinationValidation=True)
    return sorted(configurations)


def _notification_configuration(s3, bucket: str) -> dict:
    try:
        config = s3.get_bucket_notification_configuration(Bucket=bucket)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket", "404"):
            raise DeployError(f"bucket {bucket} does not exist: the workflow says it is not created by avgen "
                              f"(avgen.buckets.{bucket}.create: false). Create it first, or remove that line to "
                              "let avgen create it") from None
        raise DeployError(f"cannot read the notification configuration of bucket {bucket} ({code}): avgen checks "
                          "that it sends its events to EventBridge before deploying triggers on it; the caller "
                          "needs s3:GetBucketNotification (and s3:PutBucketNotification for "
                          "--enable-eventbridge) on it") from None
    config.pop("ResponseMetadata", None)
    return config


def _listing(buckets: Sequence[str]) -> str:
    return ("bucket " if len(buckets) == 1 else "buckets ") + ", ".join(buckets)
