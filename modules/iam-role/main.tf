# One role per function (Lambda) and per Batch job (ECS task), allowed only what the workflow says the
# function does: read its input prefixes, write its output prefixes, and reach its own log group,
# dead-letter queue, event bus and Batch queue.

data "aws_partition" "current" {}

locals {
  s3_arn_prefix = "arn:${data.aws_partition.current.partition}:s3:::"

  # "bucket/" + key prefix + "*": every object under the prefix ("bucket/*" at the bucket root).
  readable_objects = sort([for path in var.read_paths : "${local.s3_arn_prefix}${path.bucket}/${path.key_prefix}*"])
  writable_objects = sort([for path in var.write_paths : "${local.s3_arn_prefix}${path.bucket}/${path.key_prefix}*"])
  touched_buckets  = sort(distinct([for path in concat(var.read_paths, var.write_paths) : "${local.s3_arn_prefix}${path.bucket}"]))

  # IAM rejects a policy without statements (a job whose inputs and outputs are all outside S3).
  grants_anything = anytrue([
    length(local.readable_objects) > 0,
    length(local.writable_objects) > 0,
    length(var.log_group_arns) > 0,
    length(var.batch_submit_arns) > 0,
    length(var.dead_letter_queue_arns) > 0,
    length(var.event_bus_arns) > 0,
    var.xray_tracing,
  ])
}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "ServiceAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = [var.service]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = var.name
  description        = var.description
  assume_role_policy = data.aws_iam_policy_document.trust.json
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

  dynamic "statement" {
    for_each = length(local.touched_buckets) > 0 ? [1] : []

    content {
      # S3 answers "no such key" (404) rather than "access denied" (403) only to callers that may list the
      # bucket; the runtime needs that answer to tell a missing object from a forbidden one.
      sid       = "TellMissingObjects"
      actions   = ["s3:ListBucket"]
      resources = local.touched_buckets
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
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.access.json
}
