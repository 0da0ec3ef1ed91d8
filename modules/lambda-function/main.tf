# A workflow function: a Lambda function running the function's container image, with its own role, log
# group and dead-letter queue, and bounded retries for its asynchronous (S3-triggered) invocations.

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  log_group_name         = "/aws/lambda/${var.function_name}"
  dead_letter_queue_name = "${var.function_name}-dlq"

  # The ARNs the role's policy grants, written from the names rather than read from the resources, so that
  # the policy is known at plan and a reviewer reads it whole in the first plan of a deployment.
  account_id            = data.aws_caller_identity.current.account_id
  log_group_arn         = "arn:${data.aws_partition.current.partition}:logs:${var.region}:${local.account_id}:log-group:${local.log_group_name}"
  dead_letter_queue_arn = "arn:${data.aws_partition.current.partition}:sqs:${var.region}:${local.account_id}:${local.dead_letter_queue_name}"
  event_rule_arn_prefix = "arn:${data.aws_partition.current.partition}:events:${var.region}:${local.account_id}:rule"
}

# The log group Lambda writes to by default (/aws/lambda/NAME), created here to set its retention. The
# function waits for it (depends_on below), so no invocation runs before its logs have somewhere to go.
resource "aws_cloudwatch_log_group" "this" {
  # avgen:checkov-skip CKV_AWS_158
  # avgen:checkov-skip CKV_AWS_338
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_sqs_queue" "dead_letter" {
  name = local.dead_letter_queue_name
  # SQS-managed encryption, or the workflow's key (the two are exclusive)
  sqs_managed_sse_enabled   = var.kms_key_arn == null ? true : null
  kms_master_key_id         = var.kms_key_arn
  message_retention_seconds = var.dead_letter_retention_seconds
}

# The EventBridge rules that invoke this function (triggers on buckets avgen does not own) put the events they
# could not deliver here too; the function's role sends its own failures with its identity policy. Each rule
# by its ARN, written from its name like the ARNs above.
data "aws_iam_policy_document" "dead_letter" {
  count = length(var.eventbridge_rule_names) > 0 ? 1 : 0

  statement {
    sid       = "EventBridgeRulesSendUndeliveredEvents"
    actions   = ["sqs:SendMessage"]
    resources = [local.dead_letter_queue_arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for rule in sort(var.eventbridge_rule_names) : "${local.event_rule_arn_prefix}/${rule}"]
    }
  }
}

resource "aws_sqs_queue_policy" "dead_letter" {
  count = length(var.eventbridge_rule_names) > 0 ? 1 : 0

  queue_url = aws_sqs_queue.dead_letter.id
  policy    = data.aws_iam_policy_document.dead_letter[0].json
}

# The workflow's least-privilege role, unless the workflow names a role of its own (iam.role).
module "role" {
  source = "../iam-role"
  count  = var.role_arn == null ? 1 : 0

  name                   = "${var.function_name}-lambda"
  path                   = var.role_path
  permissions_boundary   = var.permissions_boundary
  description            = "Lambda function ${var.function_name}. Created by avgen."
  service                = "lambda.amazonaws.com"
  read_paths             = var.read_paths
  write_paths            = var.write_paths
  log_group_arns         = [local.log_group_arn]
  dead_letter_queue_arns = [local.dead_letter_queue_arn]
  event_bus_arns         = var.failure_event_bus_arn == null ? [] : [var.failure_event_bus_arn]
  batch_submit_arns      = var.batch_submit_arns
  kms_key_arn            = var.kms_key_arn
  kms_services           = ["lambda", "s3", "sqs"]
  xray_tracing           = true
}

locals {
  role_arn = var.role_arn == null ? module.role[0].arn : var.role_arn
}

resource "aws_lambda_function" "this" {
  # avgen:checkov-skip CKV_AWS_117
  # avgen:checkov-skip CKV_AWS_173
  # avgen:checkov-skip CKV_AWS_272
  function_name = var.function_name
  description   = var.description
  role          = local.role_arn
  package_type  = "Image"
  image_uri     = var.image_uri
  architectures = [var.architecture]

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  ephemeral_storage {
    size = var.ephemeral_storage_size
  }

  # Only the variables that are set: an empty environment block would show as a change on every plan.
  dynamic "environment" {
    for_each = length(var.environment) > 0 ? [var.environment] : []

    content {
      variables = environment.value
    }
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letter.arn
  }

  tracing_config {
    mode = "Active"
  }

  tags = var.tags

  lifecycle {
    # avgen never sets image_config (the image's ENTRYPOINT and CMD rule), but Lambda may report an empty
    # one, which would show as a change on every plan.
    ignore_changes = [image_config]

    # Lambda refuses to create a function from an image that was never pushed, half-way through an apply
    # (buckets, roles and queues created, the functions not): a plan without the image stops here instead.
    precondition {
      condition     = var.image_uri != null
      error_message = "No image is recorded for the Lambda function ${var.function_name} (function_images has no entry for it), and Lambda cannot create a function from an image that was never pushed. Run `avgen build WORKFLOW.yaml --push --workdir THIS_FOLDER` first: it creates the ECR repositories, pushes the images ECR does not hold yet and records their digests in avgen-images.auto.tfvars.json, which terraform reads from this folder."
    }
  }

  depends_on = [aws_cloudwatch_log_group.this]
}

# S3 invokes functions asynchronously: retries are bounded, and an event that still fails is kept in the
# dead-letter queue and reported on the event bus (where the alerts rule picks it up).
resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.maximum_retry_attempts
  maximum_event_age_in_seconds = var.maximum_event_age_seconds

  dynamic "destination_config" {
    for_each = var.failure_event_bus_arn == null ? [] : [var.failure_event_bus_arn]

    content {
      on_failure {
        destination = destination_config.value
      }
    }
  }
}
