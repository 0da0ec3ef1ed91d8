# One role per function (Lambda) and per Batch job (ECS task), allowed only what the workflow says the
# function does: read its input prefixes, write its output prefixes, and reach its own log group,
# dead-letter queue, event bus and Batch queue.

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  s3_arn_prefix = "arn:${data.aws_partition.current.partition}:s3:::"
  account_id    = data.aws_caller_identity.current.account_id

  # "bucket/" + key prefix + "*": every object under the prefix ("bucket/*" at the bucket root).
  readable_objects = sort([for path in var.read_paths : "${local.s3_arn_prefix}${path.bucket}/${path.key_prefix}*"])
  writable_objects = sort([for path in var.write_paths : "${local.s3_arn_prefix}${path.bucket}/${path.key_prefix}*"])
  touched_buckets  = sort(distinct([for path in concat(var.read_paths, var.write_paths) : path.bucket]))

  # Per bucket, the key prefixes the role may list: its reads (inputs and models) and writes there.
  listable_prefixes = {
    for bucket in local.touched_buckets : bucket => sort(distinct([
      for path in concat(var.read_paths, var.write_paths) : "${path.key_prefix}*" if path.bucket == bucket
    ]))
  }

  # IAM rejects a policy without statements (a job whose inputs and outputs are all outside S3).
  grants_anything = anytrue([
    length(local.readable_objects) > 0,
    length(local.writable_objects) > 0,
    length(var.log_group_arns) > 0,
    length(var.batch_submit_arns) > 0,
    length(var.dead_letter_queue_arns) > 0,
    length(var.event_bus_arns) > 0,
    var.kms_key_arn != null,
    var.xray_tracing,
  ])
}

# Only this account's functions or tasks may assume the role (confused-deputy protection):
# https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html. ECS passes both source keys when
# it assumes a task role (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-iam-roles.html);
# for Lambda the account is the condition: a source ARN condition Lambda did not send would lock the function
# out of its own role.
data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "ServiceAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = [var.service]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    dynamic "condition" {
      for_each = var.service == "ecs-tasks.amazonaws.com" ? [1] : []

      content {
        test     = "ArnLike"
        variable = "aws:SourceArn"
        values   = ["arn:${data.aws_partition.current.partition}:ecs:*:${local.account_id}:*"]
      }
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  path                 = var.path
  description          = var.description
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  permissions_boundary = var.permissions_boundary
}

data "aws_iam_policy_document" "access" {
  dynamic "statement" {
    for_each = length(local.readable_objects) > 0 ? [1] : []

    content {
      sid       = "ReadInputs"
      actions   = ["s3:GetObject"]
      resources = local.readable_objects
    }
  }

  dynamic "statement" {
    for_each = length(local.writable_objects) > 0 ? [1] : []

    content {
      sid = "WriteOutputs"
      # GetObject too: the runtime reads an output's recorded digest (HeadObject) to skip unchanged uploads.
      actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"]
      resources = local.writable_objects
    }
  }

  # S3 answers "no such key" (404) rather than "access denied" (403) only to callers that may list the
  # bucket; the runtime needs that answer to tell a missing object from a forbidden one. Listing is limited
  # to the role's own prefixes with s3:prefix, one statement per bucket:
  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html#condition-key-bucket-ops-2
  dynamic "statement" {
    for_each = local.listable_prefixes

    content {
      actions   = ["s3:ListBucket"]
      resources = ["${local.s3_arn_prefix}${statement.key}"]

      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = statement.value
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.log_group_arns) > 0 ? [1] : []

    content {
      sid       = "WriteOwnLogs"
      actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      resources = sort([for arn in var.log_group_arns : "${arn}:*"])
    }
  }

  dynamic "statement" {
    for_each = length(var.batch_submit_arns) > 0 ? [1] : []

    content {
      sid       = "SubmitOwnBatchJob"
      actions   = ["batch:SubmitJob"]
      resources = sort(var.batch_submit_arns)
    }
  }

  dynamic "statement" {
    for_each = length(var.dead_letter_queue_arns) > 0 ? [1] : []

    content {
      sid       = "SendToDeadLetterQueue"
      actions   = ["sqs:SendMessage"]
      resources = sort(var.dead_letter_queue_arns)
    }
  }

  dynamic "statement" {
    for_each = length(var.event_bus_arns) > 0 ? [1] : []

    content {
      sid       = "ReportFailuresToEventBus"
      actions   = ["events:PutEvents"]
      resources = sort(var.event_bus_arns)
    }
  }

  # The workflow's customer-managed key (avgen.kms_key_arn), through the services that encrypt with it for
  # this role only (kms:ViaService): S3 objects in the buckets, the dead-letter queue's messages, the
  # function's environment. The key's own region: KMS keys are regional, and the ARN is known at plan.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "UseWorkflowKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = sort([for service in var.kms_services : "${service}.${split(":", statement.value)[3]}.amazonaws.com"])
      }
    }
  }

  dynamic "statement" {
    for_each = var.xray_tracing ? [1] : []

    content {
      sid = "WriteTraces"
      # X-Ray's write actions have no resource-level permissions: "*" is the only resource they accept.
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "access" {
  count = local.grants_anything ? 1 : 0

  name   = "avgen-access"
  role   = aws_iam_role.this.name
  policy = data.aws_iam_policy_document.access.json
}
