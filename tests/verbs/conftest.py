"""Fixtures of the everyday verbs' tests: the CLI, an S3 API over HTTP (moto), and a moto server that
enforces IAM (for access denied)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
from typer.testing import CliRunner

from generator.cli import app
from generator.cli.console import err, out
from tests.conftest import free_loopback_port

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def cli():
    """Run `avgen ARGS...`; returns click's Result (exit_code, stdout, stderr, output). Wide consoles, so
    that tables don't fold keys."""
    # set and restored here: the width lives on the rich console behind the lazy one, where pytest's
    # monkeypatch (9.2) cannot see it to restore
    widths = out.width, err.width
    out.width = err.width = 200
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    yield invoke
    out.width, err.width = widths


@pytest.fixture
def s3_api(aws_env, monkeypatch):
    """The moto server's URL with fake credentials, *not* in AWS_ENDPOINT_URL: commands get it through
    --endpoint-url, as a user of MinIO would give it. Yields (endpoint, client)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    client = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    return aws_env, client


@pytest.fixture(scope="module")
def iam_moto():
    """A moto server that checks IAM like AWS does (after its first requests, which set it up): a user
    allowed to list `guarded-bucket` and to write under `in/a/` only. Yields (endpoint, access key, secret)."""
    port = free_loopback_port()
    setup_requests = 5  # the unauthenticated requests below; everything after them is checked
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(setup_requests)}
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                requests.get(f"{url}/moto-api/data.json", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        admin = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="admin", aws_secret_access_key="x")
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="uploader")  # 1
        key = iam.create_access_key(UserName="uploader")["AccessKey"]  # 2
        iam.put_user_policy(UserName="uploader", PolicyName="in-a-only", PolicyDocument=json.dumps({  # 3
            "Version": "2012-10-17",
            "Statement": [
                # moto 5.2.6 judges S3 requests by their API names (s3:ListObjectsV2, s3:HeadObject) where AWS
                # and moto 5.2.1-5.2.5 judge s3:ListBucket and s3:GetObject: allowed under both names, the policy
                # means the same on either moto (avgen's sandbox judges by AWS's names: sandbox_server.iam_action)
                {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:ListObjectsV2"],
                 "Resource": "arn:aws:s3:::guarded-bucket"},
                {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:HeadObject"],
                 "Resource": "arn:aws:s3:::guarded-bucket/in/a/*"},
            ]}))
        s3 = boto3.client("s3", **admin)
        s3.create_bucket(Bucket="guarded-bucket")  # 4
        s3.put_object(Bucket="guarded-bucket", Key="secret/plans.txt", Body=b"no")  # 5
        yield url, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def write_tree(root: Path, files: dict[str, bytes | str]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def scar_function(name: str, script: str, source: str, target: str, *, image: str = "alpine:3",
                  variables: dict[str, str] | None = None, batch: dict | None = None, **settings) -> dict:
    """One entry of SCAR's `functions.aws` list: S3 input `source` and output `target` (bucket/folder)."""
    container = {"image": image, **({"environment": {"Variables": variables}} if variables else {})}
    entry = {"lambda": {"name": name, "init_script": script, "container": container, **settings,
                        "input": [{"storage_provider": "s3", "path": source}],
                        "output": [{"storage_provider": "s3", "path": target}]}}
    return {**entry, "batch": batch} if batch else entry


def write_workflow(folder: Path, functions: list[dict], scripts: dict[str, str]) -> Path:
    """workflow.yaml (as JSON, which YAML reads) and its scripts in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in scripts.items():
        (folder / name).write_text(body)
    path = folder / "workflow.yaml"
    path.write_text(json.dumps({"functions": {"aws": functions}}, indent=2))
    return path
