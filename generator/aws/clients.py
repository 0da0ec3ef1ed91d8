"""boto3 S3 clients for avgen's commands, pointed at AWS, any S3 API, or the sandbox."""
from __future__ import annotations

from collections.abc import Mapping

import boto3
from botocore.config import Config


def boto_session(region: str | None = None, env: Mapping[str, str] | None = None) -> boto3.session.Session:
    """A session from the usual AWS configuration, or from `env` (the sandbox's fake credentials)."""
    env = env or {}
    return boto3.session.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        region_name=region or env.get("AWS_REGION"),
    )


def credentials_missing(region: str | None = None) -> str | None:
    """Why the usual AWS configuration (environment, ~/.aws/config and credentials, SSO, a container's or an
    instance's role: the chain Terraform's AWS provider follows too) yields no credentials; None when it yields
    some, or when boto3 cannot tell (then terraform says what is wrong)."""
    import botocore.exceptions

    try:
        found = boto3.session.Session(region_name=region).get_credentials()
    except botocore.exceptions.ProfileNotFound as exc:
        return (f"AWS_PROFILE names the profile {exc.kwargs.get('profile')!r}, which neither ~/.aws/config nor "
                "~/.aws/credentials holds")
    except botocore.exceptions.BotoCoreError:
        return None
    return None if found is not None else "no AWS credentials found"


def s3_client(endpoint_url: str | None = None, region: str | None = None,
              env: Mapping[str, str] | None = None):
    """A client; `env` (the sandbox's) supplies endpoint, region and credentials explicitly."""
    env = env or {}
    return boto_session(region, env).client(
        "s3",
        endpoint_url=endpoint_url or env.get("AWS_ENDPOINT_URL"),
        # path-style works with every S3 API (moto, MinIO) and with AWS
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 5, "mode": "standard"}),
    )


def count_object_versions(s3, bucket: str) -> int:
    """Objects, old versions and delete markers: what must go before S3 deletes a bucket."""
    count = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        count += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
    return count


def empty_bucket(s3, bucket: str) -> int:
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        batch = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                 for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(batch), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch[start:start + 1000], "Quiet": True})
            deleted += len(batch[start:start + 1000])
    return deleted
