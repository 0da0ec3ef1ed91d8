"""avgen.kms_key_arn (issue 27): a customer-managed key for what avgen creates — bucket encryption (SSE-KMS),
dead-letter queues, the alerts topic, log groups, ECR repositories, Lambda environments — and the grants the
roles need to use it; without it, AWS-managed encryption as before. Checked on the parsed generated HCL."""
from __future__ import annotations

from typing import Any

import hcl2
import pytest

from generator.render.root import render
from generator.workflow.load import load_text

from .cases import CASES, project_version
from .test_review_points import _clean

KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def rendered(key: str | None) -> dict[str, str]:
    text = CASES["av-workflow"].read_text()
    if key:
        text = text.replace("\navgen:\n", f"\navgen:\n  kms_key_arn: {key}\n", 1)
    result = load_text(text, CASES["av-workflow"])
    assert result.ok, [f.message for f in result.findings]
    return render(result.workflow, avgen_version=project_version())


def parsed(files: dict[str, str], path: str) -> dict[str, Any]:
    return _clean(hcl2.loads(files[path]))


def resource(files: dict[str, str], path: str, type_: str, name: str = "this") -> dict[str, Any]:
    for entry in parsed(files, path)["resource"]:
        if type_ in entry and name in entry[type_]:
            return entry[type_][name]
    raise AssertionError(f"no {type_}.{name} in {path}")


def module_calls(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {name: body for entry in parsed(files, "main.tf")["module"] for name, body in entry.items()}


def test_without_a_key_nothing_names_one_and_aws_managed_keys_stay():
    files = rendered(None)
    assert "kms_key_arn" not in files["main.tf"]
    assert all("kms_key_arn" not in body for body in module_calls(files).values())
    # the modules' key is null then: the attributes below are left out, as before
    for path in ("modules/s3-bucket/variables.tf", "modules/lambda-function/variables.tf"):
        (variable,) = [v["kms_key_arn"] for v in parsed(files, path)["variable"] if "kms_key_arn" in v]
        assert variable["default"] is None
    queue = resource(files, "modules/lambda-function/main.tf", "aws_sqs_queue", "dead_letter")
    assert queue["sqs_managed_sse_enabled"] == "${var.kms_key_arn == null ? true : null}"


def test_the_key_reaches_every_module_that_encrypts():
    files = rendered(KEY)
    locals_ = {k: v for entry in parsed(files, "main.tf")["locals"] for k, v in entry.items()}
    assert locals_["kms_key_arn"] == KEY
    calls = module_calls(files)
    for name in ("bucket", "image", "function", "batch", "alerts"):
        assert calls[name]["kms_key_arn"] == "${local.kms_key_arn}", name


@pytest.mark.parametrize("path, type_, name, attribute", [
    ("modules/lambda-function/main.tf", "aws_cloudwatch_log_group", "this", "kms_key_id"),
    ("modules/lambda-function/main.tf", "aws_sqs_queue", "dead_letter", "kms_master_key_id"),
    ("modules/lambda-function/main.tf", "aws_lambda_function", "this", "kms_key_arn"),
    ("modules/batch-job/main.tf", "aws_cloudwatch_log_group", "this", "kms_key_id"),
    ("modules/alerts/main.tf", "aws_sns_topic", "alerts", "kms_master_key_id"),
])
def test_each_resource_that_encrypts_uses_the_key(path, type_, name, attribute):
    assert resource(rendered(KEY), path, type_, name)[attribute] == "${var.kms_key_arn}"


def test_buckets_and_repositories_use_the_key():
    files = rendered(KEY)
    sse = resource(files, "modules/s3-bucket/main.tf", "aws_s3_bucket_server_side_encryption_configuration")
    (rule,) = sse["rule"]
    (default,) = rule["apply_server_side_encryption_by_default"]
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": "${var.kms_key_arn}"}
    assert rule["bucket_key_enabled"] is True
    (encryption,) = resource(files, "modules/ecr-repository/main.tf", "aws_ecr_repository")["encryption_configuration"]
    assert encryption == {"encryption_type": "KMS", "kms_key": "${var.kms_key_arn}"}


def test_roles_may_use_the_key_only_through_the_services_that_encrypt_for_them():
    files = rendered(KEY)
    (document,) = [d["aws_iam_policy_document"]["access"] for d in parsed(files, "modules/iam-role/main.tf")["data"]
                   if "access" in d.get("aws_iam_policy_document", {})]
    (grant,) = [d["statement"] for d in document["dynamic"]
                if d["statement"]["content"][0].get("sid") == "UseWorkflowKey"]
    (content,) = grant["content"]
    assert content["actions"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert content["resources"] == ["${statement.value}"]  # the key alone
    (condition,) = content["condition"]
    assert condition["variable"] == "kms:ViaService" and condition["test"] == "StringEquals"
    lambda_role = module_calls({"main.tf": files["modules/lambda-function/main.tf"]})["role"]
    assert lambda_role["kms_key_arn"] == "${var.kms_key_arn}"
    assert lambda_role["kms_services"] == ["lambda", "s3", "sqs"]  # environment, objects, dead-letter queue
    job_role = module_calls({"main.tf": files["modules/batch-job/main.tf"]})["job_role"]
    assert job_role["kms_key_arn"] == "${var.kms_key_arn}" and "kms_services" not in job_role  # S3 only
    (services,) = [v["kms_services"] for v in parsed(files, "modules/iam-role/variables.tf")["variable"]
                   if "kms_services" in v]
    assert services["default"] == ["s3"]


@pytest.mark.parametrize("key", [
    KEY,
    "arn:aws-cn:kms:cn-north-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:kms:us-east-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",
])
def test_key_arns_are_accepted(key):
    assert f'kms_key_arn = "{key}"' in rendered(key)["main.tf"]


@pytest.mark.parametrize("key", [
    "alias/media",
    "arn:aws:kms:us-east-1:123456789012:alias/media",
    "1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:kms:us-east-1:12345:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws:s3:::media",
])
def test_anything_but_a_key_arn_is_refused_with_a_message(key):
    text = CASES["av-workflow"].read_text().replace("\navgen:\n", f"\navgen:\n  kms_key_arn: '{key}'\n", 1)
    result = load_text(text, CASES["av-workflow"])
    assert not result.ok
    (finding,) = [f for f in result.findings if "kms_key_arn" in str(f.location) or "KMS" in f.message]
    assert finding.rule_id == "AVG004" and "not a KMS key ARN" in finding.message
