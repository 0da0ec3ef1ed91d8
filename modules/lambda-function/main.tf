# A workflow function: a Lambda function running a container image from its own ECR repository, with its
# log group, its dead-letter queue and bounded retries for the asynchronous (S3-triggered) invocations.

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  # Until a digest is given, the function runs the repository's `latest` tag: push it once to bootstrap.
  image_uri = coalesce(var.image_uri, "${aws_ecr_repository.this.repository_url}:latest")
}

resource "aws_ecr_repository" "this" {
  name                 = lower(var.function_name)
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  # KMS with the AWS-managed key (aws/ecr): encrypted at rest with no key to administer.
  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Drop untagged images (layers of superseded builds) after ${var.untagged_image_expiry_days} days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_image_expiry_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the ${var.images_to_keep} most recent images"
        selection = {
          tagStatus   = "any"
          countType   = "imageCountMoreThan"
          countNumber = var.images_to_keep
        }
        action = { type = "expire" }
      },
    ]
  })
}

# Lambda pulls the image with its service principal; granting it here up front keeps Lambda from editing
# the repository policy itself when the function is created.
data "aws_iam_policy_document" "lambda_pull" {
  statement {
    sid     = "LambdaPullsThisFunctionsImage"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "aws:sourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:lambda:*:${data.aws_caller_identity.current.account_id}:function:${var.function_name}"]
    }
  }
}

resource "aws_ecr_repository_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy     = data.aws_iam_policy_document.lambda_pull.json
}

resource "aws_cloudwatch_log_group" "this" {
  # avgen:checkov-skip CKV_AWS_158
  # avgen:checkov-skip CKV_AWS_338
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.function_name}-dlq"
  sqs_managed_sse_enabled   = true
  message_retention_seconds = var.dead_letter_retention_seconds
}

resource "aws_lambda_function" "this" {
  # avgen:checkov-skip CKV_AWS_115
  # avgen:checkov-skip CKV_AWS_117
  # avgen:checkov-skip CKV_AWS_173
  # avgen:checkov-skip CKV_AWS_272
  function_name = var.function_name
  description   = var.description
  role          = var.role_arn
  package_type  = "Image"
  image_uri     = local.image_uri
  architectures = [var.architecture]

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrency

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

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  depends_on = [aws_ecr_repository_policy.this]
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
