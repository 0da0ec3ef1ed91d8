"""The one table of checkov checks that avgen's Terraform deliberately does not meet, and why.

Module and template files carry a marker line inside the resource block it concerns:

    # avgen:checkov-skip CKV_AWS_117

Rendering replaces it with checkov's own inline form, reason included, so the reviewer of the generated
code reads the reason next to the resource:

    #checkov:skip=CKV_AWS_117:<reason from this table>

A marker naming a check that isn't in the table fails the render; a test checks that every entry here is
used by some marker and has a reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from generator.errors import UnknownCheckovSkip


@dataclass(frozen=True)
class CheckovSkip:
    check_id: str
    check: str  # checkov's title of the check
    resource: str  # where the skip is written
    reason: str  # why the check is not met; one line (checkov reads the reason to the end of the line)


_SKIPS = (
    CheckovSkip(
        "CKV2_AWS_5",
        "Ensure that Security Groups are attached to another resource",
        "aws_security_group (modules/default-vpc)",
        "It is attached, by the Batch compute environments of the root module, which checkov does not follow "
        "across the module boundary.",
    ),
    CheckovSkip(
        "CKV_AWS_382",
        "Ensure no security groups allow egress from 0.0.0.0:0 to port -1",
        "aws_security_group (modules/default-vpc)",
        "Batch instances must reach the ECS, ECR, S3 and CloudWatch Logs endpoints, whose addresses are not "
        "fixed; with VPC endpoints, name your own subnets and security groups in the workflow instead.",
    ),
    CheckovSkip(
        "CKV_AWS_18",
        "Ensure the S3 bucket has access logging enabled",
        "aws_s3_bucket (modules/s3-bucket)",
        "Server access logs need a second bucket and cost per request; whether to keep them is the "
        "account owner's choice (CloudTrail data events are the alternative). See docs/generated-terraform.md.",
    ),
    CheckovSkip(
        "CKV_AWS_144",
        "Ensure that S3 bucket has cross-region replication enabled",
        "aws_s3_bucket (modules/s3-bucket)",
        "Replication doubles storage and needs a bucket in a second region; media inputs and results can be "
        "produced again, so it is left to the user. Versioning protects against overwrites.",
    ),
    CheckovSkip(
        "CKV2_AWS_62",
        "Ensure S3 buckets should have event notifications enabled",
        "aws_s3_bucket (modules/s3-bucket)",
        "Notifications are configured by modules/bucket-notifications on every bucket that triggers a "
        "function; a bucket that only receives outputs has nothing to notify.",
    ),
    CheckovSkip(
        "CKV_AWS_117",
        "Ensure that AWS Lambda function is configured inside a VPC",
        "aws_lambda_function (modules/lambda-function)",
        "The function only calls AWS APIs (S3, Batch, SQS, EventBridge) and reaches no private network; a "
        "VPC would add NAT gateways or endpoints and cold-start cost without protecting anything.",
    ),
    CheckovSkip(
        "CKV_AWS_272",
        "Ensure AWS Lambda function is configured to validate code-signing",
        "aws_lambda_function (modules/lambda-function)",
        "Lambda code signing applies to .zip packages only; these functions run container images, pinned "
        "by digest from an immutable, scan-on-push ECR repository.",
    ),
    CheckovSkip(
        "CKV_AWS_173",
        "Check encryption settings for Lambda environmental variable",
        "aws_lambda_function (modules/lambda-function)",
        "The environment holds configuration only (paths, queue names), never secrets, and Lambda encrypts "
        "it at rest with its AWS-managed key. Accounts that require a customer-managed key set avgen.kms_key_arn.",
    ),
    CheckovSkip(
        "CKV_AWS_158",
        "Ensure that CloudWatch Log Group is encrypted by KMS",
        "aws_cloudwatch_log_group (modules/lambda-function, modules/batch-job)",
        "CloudWatch Logs encrypts every log group at rest with a service-managed key; the logs carry "
        "processing messages, no secrets. Accounts that require a customer-managed key set avgen.kms_key_arn.",
    ),
    CheckovSkip(
        "CKV_AWS_338",
        "Ensure CloudWatch log groups retains logs for at least 1 year",
        "aws_cloudwatch_log_group (modules/lambda-function, modules/batch-job)",
        "Retention follows the workflow's cloudwatch.log_retention_policy_in_days (30 days by default, as "
        "in SCAR); a user who must keep logs a year sets it there.",
    ),
    CheckovSkip(
        "CKV_AWS_26",
        "Ensure all data stored in the SNS topic is encrypted",
        "aws_sns_topic (modules/alerts)",
        "EventBridge cannot publish to a topic encrypted with the AWS-managed SNS key, and the alerts carry "
        "only job and function names and error text, no user data. With avgen.kms_key_arn the topic uses that key.",
    ),
)

CHECKOV_SKIPS: dict[str, CheckovSkip] = {skip.check_id: skip for skip in _SKIPS}

MARKER = re.compile(r"^(?P<indent>[ \t]*)# avgen:checkov-skip (?P<check_id>\S+)[ \t]*$", re.M)



def marked_check_ids(text: str) -> list[str]:
    return [match["check_id"] for match in MARKER.finditer(text)]


def apply_checkov_skips(text: str, source: str) -> str:
    """Replace every marker in `text` (from file `source`) with checkov's inline skip and its reason."""

    def inline_skip(match: re.Match) -> str:
        check_id = match["check_id"]
        skip = CHECKOV_SKIPS.get(check_id)
        if skip is None:
            raise UnknownCheckovSkip(
                f"{source}: '# avgen:checkov-skip {check_id}' names a check with no entry in "
                "generator/render/checkov_skips.py; add it there with its reason."
            )
        return f"{match['indent']}#checkov:skip={check_id}:{skip.reason}"

    return MARKER.sub(inline_skip, text)


def checkov_skips_markdown() -> str:
    """The table for people (docs/generated-terraform.md), written from the same entries."""
    rows = ["| Check | What checkov asks | Where | Why avgen does not |", "|---|---|---|---|"]
    for skip in sorted(CHECKOV_SKIPS.values(), key=lambda s: s.check_id):
        cells = (skip.check_id, skip.check, skip.resource, skip.reason)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"
