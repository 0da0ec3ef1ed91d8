"""A first deployment to an account: avgen never lets Terraform reach CreateFunction with an image that is
not in ECR (Lambda would reject it half-way through the apply). Checked against the emulator's ECR."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from generator.deploy.core import Deployment, DeployOptions
from generator.deploy.images import IMAGES_VARIABLE, IMAGES_VARS_FILE, functions_without_images
from generator.errors import DeployError
from generator.workflow.load import load_workflow

EXAMPLE = Path(__file__).parents[2] / "examples" / "video-process" / "workflow.yaml"


def push_latest(ecr, repository: str) -> None:
    ecr.create_repository(repositoryName=repository)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                           "digest": "sha256:" + "0" * 64}, "layers": []}
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag="latest")


def test_functions_without_an_image_are_named(aws_env, tmp_path):
    workflow = load_workflow(EXAMPLE).workflow
    ecr = boto3.client("ecr", region_name="us-east-1")
    assert functions_without_images(workflow, tmp_path, ecr) == ["video-process-split", "video-process-darknet"]
    push_latest(ecr, "video-process-split")
    (tmp_path / IMAGES_VARS_FILE).write_text(json.dumps(
        {IMAGES_VARIABLE: {"video-process-darknet": "repo@sha256:" + "1" * 64}}))  # as `avgen build --push`
    assert functions_without_images(workflow, tmp_path, ecr) == []


def test_apply_stops_before_terraform_and_says_which_command_pushes_the_images(aws_env, tmp_path):
    deployment = Deployment(EXAMPLE, DeployOptions(workdir=tmp_path / "deploy"))
    with pytest.raises(DeployError) as refused:
        deployment.apply(confirm=lambda summary: pytest.fail("terraform must not be reached"))
    message = str(refused.value)
    assert "video-process-split, video-process-darknet" in message
    assert f"avgen build {EXAMPLE} --push" in message
    assert not (tmp_path / "deploy" / ".terraform").exists()  # terraform never ran
