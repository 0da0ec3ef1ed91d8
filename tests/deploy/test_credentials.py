"""`avgen plan` (apply, destroy) on AWS without credentials: avgen's one message, what is missing and how to
provide it, instead of Terraform's account of the whole credential chain (#32). Run as a newcomer runs it:
an empty environment, no AWS_* variables, HOME an empty folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_example

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "video-process"


@pytest.fixture
def newcomer(tmp_path):
    """An environment with nothing of AWS in it: PATH (terraform), this checkout's avgen, an empty HOME."""
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PYTHONPATH": str(ROOT),
           "LANG": "C.UTF-8"}
    found = subprocess.run([sys.executable, "-c", "import boto3; print(boto3.Session().get_credentials() is None)"],
                           env=env, capture_output=True, text=True, timeout=60)
    if found.stdout.strip() != "True":  # an instance's or a container's role: this machine has credentials
        pytest.skip(f"this machine supplies AWS credentials without any configuration ({found.stdout.strip()})")
    copy_example(EXAMPLE, tmp_path / "video-process")
    return env, tmp_path / "video-process" / "workflow.yaml"


def avgen(env: dict[str, str], *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "generator.cli", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def said_as_avgen_says_it(result: subprocess.CompletedProcess, command: str, workflow: Path) -> None:
    assert result.returncode == 1, result.stderr  # the README's table: 1, an error
    assert "No valid credential sources" not in result.stderr and "EC2 IMDS" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "AWS credentials" in line
    for way in ("AWS_PROFILE", "`aws configure`", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                f"`avgen {command} {workflow} --sandbox`"):
        assert way in line, way


@pytest.mark.parametrize("command", ["plan", "apply", "destroy"])
def test_without_credentials_avgen_says_what_is_missing_before_terraform_runs(newcomer, command):
    env, workflow = newcomer
    result = avgen(env, command, workflow, *(["--auto-approve"] if command != "plan" else []))
    said_as_avgen_says_it(result, command, workflow)
    assert "no AWS credentials found" in result.stderr
    assert "no image is recorded" not in result.stderr  # the first thing to fix comes first
    assert not (workflow.parent / ".avgen" / "video-process" / ".terraform").exists()  # terraform never ran


def test_the_json_envelope_names_the_credentials(newcomer):
    env, workflow = newcomer
    result = avgen(env, "plan", workflow, "--format", "json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["code"] == "credentials"


def test_an_unknown_profile_is_named(newcomer):
    env, workflow = newcomer
    result = avgen({**env, "AWS_PROFILE": "team-dev"}, "plan", workflow)
    assert result.returncode == 1
    assert "AWS_PROFILE names the profile 'team-dev', which neither ~/.aws/config" in result.stderr


def test_a_workflow_with_errors_says_its_errors_first(newcomer):
    env, workflow = newcomer
    workflow.write_text(workflow.read_text().replace("memory: 3008", "memroy: 3008"))
    result = avgen(env, "plan", workflow)
    assert result.returncode == 1 and "AVG002" in result.stdout + result.stderr
    assert "credentials" not in result.stderr


def test_terraform_finding_none_is_said_the_same_way(newcomer, plugin_dir):
    """Where avgen cannot judge beforehand (an override file of the user's may give the provider its own
    credentials), terraform's failure to find any is said as avgen says it."""
    env, workflow = newcomer
    workdir = workflow.parent / ".avgen" / "video-process"
    workdir.mkdir(parents=True)
    (workdir / "mine_override.tf").write_text('provider "aws" {\n  max_retries = 1\n}\n')
    digest = "@sha256:" + "0" * 64
    (workdir / "avgen-images.auto.tfvars.json").write_text(json.dumps({"function_images": {
        name: f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{name}{digest}"
        for name in ("video-process-split", "video-process-darknet")}}))
    result = avgen(env, "plan", workflow, "--plugin-dir", plugin_dir)
    said_as_avgen_says_it(result, "plan", workflow)
    assert "terraform found no AWS credentials" in result.stderr
