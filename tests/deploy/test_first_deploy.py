"""A first deployment to an account: nothing lets Terraform reach CreateFunction with an image that is not in
ECR (Lambda would reject it half-way through the apply, after the buckets, roles and queues were created).
avgen says so before terraform runs (checked against moto's ECR), and the committed Terraform stops a plain
`terraform apply` by itself (a precondition of each Lambda function, run with real terraform)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from generator.aws.sandbox import Sandbox, write_provider_override
from generator.cli import app
from generator.deploy.core import Deployment, DeployOptions
from generator.deploy.images import IMAGES_VARS_FILE, functions_without_images, images_file_text
from generator.errors import DeployError
from generator.workflow.load import load_workflow

EXAMPLE = Path(__file__).parents[2] / "examples" / "video-process" / "workflow.yaml"
FUNCTIONS = ["video-process-split", "video-process-darknet"]


def push(ecr, repository: str, tag: str) -> str:
    """An image in ECR as `docker push` leaves it; its REPOSITORY@sha256:DIGEST."""
    url = ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"]
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                           "digest": "sha256:" + "0" * 64},
                "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1,
                            "digest": "sha256:" + "1" * 64}]}
    image = ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)["image"]
    return f"{url}@{image['imageId']['imageDigest']}"


def test_functions_without_an_image_are_named(aws_env, tmp_path):
    workflow = load_workflow(EXAMPLE).workflow
    ecr = boto3.client("ecr", region_name="us-east-1")
    missing = functions_without_images(workflow, tmp_path, ecr)
    assert (missing.unrecorded, missing.absent) == (FUNCTIONS, [])
    split = push(ecr, "video-process-split", "ctx-0123456789abcdef")
    # recorded (as `avgen build --push` records them), but the darknet image is not in this account's ECR
    (tmp_path / IMAGES_VARS_FILE).write_text(images_file_text(
        {"video-process-split": split,
         "video-process-darknet": split.replace("video-process-split", "video-process-darknet")}))
    missing = functions_without_images(workflow, tmp_path, ecr)
    assert (missing.unrecorded, missing.absent) == ([], ["video-process-darknet"])
    (tmp_path / IMAGES_VARS_FILE).write_text(images_file_text(
        {"video-process-split": split, "video-process-darknet": push(ecr, "video-process-darknet", "ctx-1")}))
    assert not functions_without_images(workflow, tmp_path, ecr)


def test_a_latest_tag_no_longer_stands_in_for_a_recorded_image(aws_env, tmp_path):
    workflow = load_workflow(EXAMPLE).workflow
    ecr = boto3.client("ecr", region_name="us-east-1")
    for function in FUNCTIONS:
        push(ecr, function, "latest")
    assert functions_without_images(workflow, tmp_path, ecr).unrecorded == FUNCTIONS


def test_apply_stops_before_terraform_and_says_which_command_pushes_the_images(aws_env, tmp_path):
    deployment = Deployment(EXAMPLE, DeployOptions(workdir=tmp_path / "deploy"))
    with pytest.raises(DeployError) as refused:
        deployment.apply(confirm=lambda summary: pytest.fail("terraform must not be reached"))
    message = str(refused.value)
    assert "no image is recorded for video-process-split, video-process-darknet" in message
    assert f"avgen build {EXAMPLE} --push -w {tmp_path / 'deploy'}" in message
    assert not (tmp_path / "deploy" / ".terraform").exists()  # terraform never ran


def test_plan_says_it_too_before_terraform_runs(tmp_path, aws_credentials):
    result = CliRunner().invoke(app, ["plan", str(EXAMPLE), "-w", str(tmp_path / "deploy")])
    assert result.exit_code == 1
    assert "no image is recorded for video-process-split, video-process-darknet" in result.output
    assert "--push" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "deploy" / ".terraform").exists()


def terraform(args: list[str], folder: Path, env: dict[str, str], plugin_dir: Path | None = None):
    extra = [f"-plugin-dir={plugin_dir}"] if plugin_dir else []
    return subprocess.run(["terraform", *args, "-input=false", "-no-color", *extra], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.sandbox
def test_a_plain_terraform_apply_without_images_stops_before_creating_anything(tmp_path, plugin_dir):
    """The committed folder, applied by terraform alone on an empty account where no image was pushed: the
    plan fails on the functions' precondition, naming `avgen build --push`, and nothing is created."""
    folder = tmp_path / "infra"
    generated = CliRunner().invoke(app, ["generate", str(EXAMPLE), "-o", str(folder)])
    assert generated.exit_code == 0, generated.output
    (folder / "backend.tf").unlink()  # the example's S3 state bucket: the sandbox keeps its state here
    write_provider_override(folder)
    with Sandbox(tmp_path / "account") as sandbox:
        env = {**os.environ, **sandbox.env}
        assert terraform(["init"], folder, env, plugin_dir).returncode == 0
        applied = terraform(["apply", "-auto-approve"], folder, env)
        s3, ecr, iam = (boto3.client(name, endpoint_url=sandbox.endpoint, region_name="us-east-1",
                                     **sandbox.credentials) for name in ("s3", "ecr", "iam"))
        created = (s3.list_buckets()["Buckets"], ecr.describe_repositories()["repositories"],
                   [r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("video-process")])
    assert applied.returncode == 1
    text = " ".join(applied.stderr.split())
    assert "Resource precondition failed" in text
    for function in FUNCTIONS:
        assert f"No image is recorded for the Lambda function {function}" in text
    assert "Run `avgen build WORKFLOW.yaml --push --workdir THIS_FOLDER` first" in text
    assert created == ([], [], [])
    assert not (folder / "terraform.tfstate").exists() or not json.loads(
        (folder / "terraform.tfstate").read_text()).get("resources")
