"""`avgen apply / plan / destroy --sandbox`: real terraform against the loopback AWS emulator.

Each example is applied once per module; boto3 then looks at what the emulator holds (the emulator is
started again from its recording, as `avgen outputs --sandbox` would).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from generator.aws.sandbox import Sandbox
from generator.cli import app
from generator.deploy.images import recorded_images, write_contexts
from generator.workflow.load import load_workflow
from tests.conftest import copy_example as copy_tracked

# one worker runs them all, in order: they share one deployment (pytest -n with --dist loadgroup)
pytestmark = [pytest.mark.sandbox, pytest.mark.xdist_group("av-workflow-sandbox")]
EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def avgen(*args: str):
    return runner.invoke(app, [*map(str, args)])


def copy_example(name: str, dest: Path) -> Path:
    copy_tracked(EXAMPLES / name, dest / name)
    return dest / name / "workflow.yaml"


@pytest.fixture(scope="module")
def av_workflow(tmp_path_factory, plugin_dir):
    root = tmp_path_factory.mktemp("av")
    workflow = copy_example("av-workflow", root)
    workdir = root / "deploy"
    result = avgen("apply", workflow, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir)
    assert result.exit_code == 0, result.output
    return workflow, workdir, result.output


def clients(sandbox: Sandbox, *names: str):
    import boto3

    session = boto3.session.Session(**sandbox.credentials, region_name="us-east-1")
    return [session.client(name, endpoint_url=sandbox.endpoint) for name in names]


def test_apply_prints_the_outputs_a_user_needs(av_workflow):
    _, _, output = av_workflow
    for name in ("bucket_names", "function_names", "ecr_repository_urls", "batch_job_queues", "alerts_topic_arn"):
        assert name in output
    assert "avgen put" in output


def test_bucket_notifications_hold_exactly_the_workflow_triggers(av_workflow):
    _, workdir, _ = av_workflow
    with Sandbox(workdir / "sandbox") as sandbox:
        (s3,) = clients(sandbox, "s3")
        config = s3.get_bucket_notification_configuration(Bucket="change-me-av-workflow")
    triggers = {
        (rule["Filter"]["Key"]["FilterRules"][0]["Value"], rule["LambdaFunctionArn"].rsplit(":", 1)[1])
        for rule in config["LambdaFunctionConfigurations"]
    }
    assert triggers == {("start/", "av-workflow-ffmpeg"), ("audio/", "av-workflow-audio2srt"),
                        ("video/", "av-workflow-yolov3")}
    assert all(rule["Events"] == ["s3:ObjectCreated:*"] for rule in config["LambdaFunctionConfigurations"])


def test_lambda_functions_have_the_workflow_settings(av_workflow):
    _, workdir, _ = av_workflow
    expected = {"av-workflow-ffmpeg": (1024, 900, 4096), "av-workflow-audio2srt": (1024, 900, 512),
                "av-workflow-yolov3": (128, 300, 512)}
    with Sandbox(workdir / "sandbox") as sandbox:
        lambda_, ecr = clients(sandbox, "lambda", "ecr")
        repositories = {r["repositoryName"]: r["repositoryUri"] for r in ecr.describe_repositories()["repositories"]}
        for name, (memory, timeout, ephemeral) in expected.items():
            function = lambda_.get_function(FunctionName=name)
            config = function["Configuration"]
            assert (config["MemorySize"], config["Timeout"], config["EphemeralStorage"]["Size"]) == \
                (memory, timeout, ephemeral)
            assert config["PackageType"] == "Image"
            # the function runs its own ECR repository's image (built FROM the workflow's container.image)
            assert any(function["Code"]["ImageUri"].startswith(uri) for uri in repositories.values())
            env = config["Environment"]["Variables"]
            assert json.loads(env["AVGEN_FUNCTION"])["name"] == name


def test_each_function_runs_the_image_registered_under_its_content_tag(av_workflow, tmp_path):
    """The sandbox's `avgen build --push`: each image is in the sandbox's ECR under its build context's content
    tag, its digest is recorded for terraform, and that digest is what the function runs."""
    workflow, workdir, output = av_workflow
    tags = {c.function: c.tag for c in write_contexts(load_workflow(workflow).workflow, tmp_path)}
    recorded = recorded_images(workdir)
    assert sorted(recorded) == sorted(tags)
    with Sandbox(workdir / "sandbox") as sandbox:
        lambda_, ecr = clients(sandbox, "lambda", "ecr")
        for name, tag in tags.items():
            assert lambda_.get_function(FunctionName=name)["Code"]["ImageUri"] == recorded[name]
            repository, digest = recorded[name].split("/", 1)[1].split("@")
            details = ecr.describe_images(repositoryName=repository, imageIds=[{"imageDigest": digest}])
            assert details["imageDetails"][0]["imageTags"] == [tag]
    assert f"sandbox: the image of {name} registered" in " ".join(output.split())


def test_gpu_function_gets_a_gpu_compute_environment_and_job(av_workflow):
    _, workdir, _ = av_workflow
    with Sandbox(workdir / "sandbox") as sandbox:
        (batch,) = clients(sandbox, "batch")
        environments = batch.describe_compute_environments()["computeEnvironments"]
        gpu = [e for e in environments if e["computeResources"]["instanceTypes"] == ["g4dn.xlarge"]]
        assert len(gpu) == 1
        assert gpu[0]["computeResources"]["minvCpus"] == 0
        assert gpu[0]["computeResources"]["maxvCpus"] == 12
        assert [c["imageType"] for c in gpu[0]["computeResources"]["ec2Configuration"]] == ["ECS_AL2023_NVIDIA"]
        definitions = batch.describe_job_definitions(jobDefinitionName="av-workflow-yolov3",
                                                     status="ACTIVE")["jobDefinitions"]
        requirements = {r["type"]: r["value"] for r in definitions[0]["containerProperties"]["resourceRequirements"]}
        assert requirements == {"VCPU": "4", "MEMORY": "12288", "GPU": "1"}


def test_iam_policies_scope_s3_to_the_declared_prefixes(av_workflow):
    _, workdir, _ = av_workflow
    with Sandbox(workdir / "sandbox") as sandbox:
        iam, lambda_ = clients(sandbox, "iam", "lambda")
        role_name = lambda_.get_function(FunctionName="av-workflow-ffmpeg")["Configuration"]["Role"].rsplit("/", 1)[1]
        documents = [iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
                     for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]]
    resources = set()
    for document in documents:
        document = json.loads(document) if isinstance(document, str) else document
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("s3:") and a != "s3:ListBucket" for a in actions):
                resources.update(statement["Resource"] if isinstance(statement["Resource"], list)
                                 else [statement["Resource"]])
    assert resources == {"arn:aws:s3:::change-me-av-workflow/start/*", "arn:aws:s3:::change-me-av-workflow/video/*",
                         "arn:aws:s3:::change-me-av-workflow/audio/*"}


def test_status_and_logs_find_what_apply_deployed(av_workflow):
    """The names `avgen status`/`avgen logs` look for are the ones the generated Terraform gave."""
    workflow, workdir, _ = av_workflow
    status = avgen("status", workflow, "--sandbox", "-w", workdir, "--format", "json")
    assert status.exit_code == 0, status.output
    assert {f["name"]: f["deployed"] for f in json.loads(status.stdout)["status"]["functions"]} == {
        "av-workflow-ffmpeg": True, "av-workflow-audio2srt": True, "av-workflow-yolov3": True}
    logs = avgen("logs", workflow, "av-workflow-ffmpeg", "--sandbox", "-w", workdir, "--since", "1h")
    assert logs.exit_code == 0, logs.output
    as_json = avgen("logs", workflow, "--sandbox", "-w", workdir, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    envelope = json.loads(as_json.stdout)
    assert envelope["error"] is None and isinstance(envelope["logs"]["events"], list)


def test_a_second_plan_right_after_apply_has_no_changes(av_workflow, plugin_dir):
    workflow, workdir, _ = av_workflow
    result = avgen("plan", workflow, "--sandbox", "--plugin-dir", plugin_dir, "-w", workdir, "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["version"] == 2 and plan["error"] is None and plan["plan"]["has_changes"] is False


def test_outputs_are_read_back_from_the_sandbox_state(av_workflow):
    workflow, workdir, _ = av_workflow
    result = avgen("outputs", workflow, "--sandbox", "-w", workdir, "--json")
    assert result.exit_code == 0, result.output
    outputs = json.loads(result.stdout)["outputs"]
    assert "change-me-av-workflow" in json.dumps(outputs["bucket_names"])
    assert set(outputs["function_names"]) == {"av-workflow-ffmpeg", "av-workflow-audio2srt", "av-workflow-yolov3"}


def test_apply_json_is_the_changes_and_the_outputs(av_workflow, plugin_dir):
    workflow, workdir, _ = av_workflow
    result = avgen("apply", workflow, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir,
                   "--format", "json")
    assert result.exit_code == 0, result.output
    applied = json.loads(result.stdout)["apply"]  # stdout is the envelope alone: the summary went to stderr
    assert applied["changes"]["has_changes"] is False
    assert set(applied["outputs"]["function_names"]) == {"av-workflow-ffmpeg", "av-workflow-audio2srt",
                                                         "av-workflow-yolov3"}


def test_destroy_keeps_buckets_and_objects_and_removes_the_rest(av_workflow, plugin_dir):
    workflow, workdir, _ = av_workflow
    with Sandbox(workdir / "sandbox") as sandbox:
        (s3,) = clients(sandbox, "s3")
        s3.put_object(Bucket="change-me-av-workflow", Key="result/kept.srt", Body=b"1\n")
    result = avgen("destroy", workflow, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir,
                   "--format", "json")
    assert result.exit_code == 0, result.output
    destroyed = json.loads(result.stdout)["destroy"]
    assert "change-me-av-workflow" in destroyed["kept_buckets"] and destroyed["changes"]["has_changes"]
    with Sandbox(workdir / "sandbox") as sandbox:
        s3, lambda_, batch, sns = clients(sandbox, "s3", "lambda", "batch", "sns")
        assert s3.get_object(Bucket="change-me-av-workflow", Key="result/kept.srt")["Body"].read() == b"1\n"
        assert s3.get_bucket_versioning(Bucket="change-me-av-workflow")["Status"] == "Enabled"
        assert lambda_.list_functions()["Functions"] == []
        assert batch.describe_job_queues()["jobQueues"] == [] or all(
            q["status"] == "DELETED" for q in batch.describe_job_queues()["jobQueues"])
        assert sns.list_topics()["Topics"] == []
        notifications = s3.get_bucket_notification_configuration(Bucket="change-me-av-workflow")
        assert not notifications.get("LambdaFunctionConfigurations")


def test_delete_buckets_refuses_non_empty_buckets(av_workflow, plugin_dir):
    workflow, workdir, _ = av_workflow
    result = avgen("destroy", workflow, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir,
                   "--delete-buckets")
    assert result.exit_code == 1
    assert "not empty" in result.output and "change-me-av-workflow" in result.output
    with Sandbox(workdir / "sandbox") as sandbox:
        (s3,) = clients(sandbox, "s3")
        assert s3.head_bucket(Bucket="change-me-av-workflow")


def test_video_process_applies_and_is_stable(tmp_path, plugin_dir):
    workflow = copy_example("video-process", tmp_path)
    workdir = tmp_path / "deploy"
    applied = avgen("apply", workflow, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir)
    assert applied.exit_code == 0, applied.output
    planned = avgen("plan", workflow, "--sandbox", "--plugin-dir", plugin_dir, "-w", workdir)
    assert planned.exit_code == 0, planned.output
    # applied again: every content tag is in the (IMMUTABLE) repositories already, so nothing is pushed again
    again = avgen("apply", workflow, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", workdir)
    assert again.exit_code == 0, again.output
    assert "registered" not in again.output
    with Sandbox(workdir / "sandbox") as sandbox:
        s3, lambda_ = clients(sandbox, "s3", "lambda")
        prefixes = {rule["Filter"]["Key"]["FilterRules"][0]["Value"] for rule in
                    s3.get_bucket_notification_configuration(Bucket="change-me-video-process")
                    ["LambdaFunctionConfigurations"]}
        assert prefixes == {"input/", "split-images/"}
        assert lambda_.get_function(FunctionName="video-process-darknet")["Configuration"]["MemorySize"] == 3008


def test_a_broken_workflow_stops_before_terraform_runs(tmp_path, plugin_dir):
    broken = tmp_path / "workflow.yaml"
    broken.write_text((EXAMPLES / "video-process" / "workflow.yaml").read_text().replace("memory: 3008", "memory: 1"))
    result = avgen("apply", broken, "--sandbox", "--auto-approve", "--plugin-dir", plugin_dir, "-w", tmp_path / "wd")
    assert result.exit_code == 1
    assert "AVG004" in result.output and "terraform was not run" in result.output
    assert not (tmp_path / "wd").exists()


def test_the_first_plan_shows_every_role_policy_in_full(tmp_path, plugin_dir):
    """What a reviewer reads in the pull request of a new deployment: each role's policy, not `(known after
    apply)` (the ARNs it grants are written from names; tests/generate/test_review_points.py checks how)."""
    workflow = copy_example("av-workflow", tmp_path)
    result = avgen("plan", workflow, "--sandbox", "--plugin-dir", plugin_dir, "-w", tmp_path / "deploy", "--json")
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)["plan"]["changes"]
    policies = [change for change in changes if change["type"] == "aws_iam_role_policy"]
    assert len(policies) == 6  # three functions' roles and three Batch jobs' roles
    for change in policies:
        assert change["action"] == "create"
        assert "known after apply" not in json.dumps(change["attributes"]), change["address"]
        statements = json.loads(change["policy"])["Statement"]
        assert statements, change["address"]
    statements = [s for change in policies for s in json.loads(change["policy"])["Statement"]]
    logs = [s for s in statements if s.get("Sid") == "WriteOwnLogs"]
    assert {s["Resource"] for s in logs} == {
        f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/av-workflow-{name}:*"
        for name in ("ffmpeg", "audio2srt", "yolov3")}
