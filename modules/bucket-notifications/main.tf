# S3 accepts one notification configuration per bucket: every trigger on the bucket lives in this one
# resource, so that two functions triggered by the same bucket can't overwrite each other's triggers.

data "aws_partition" "current" {}

locals {
  bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket}"

  # The functions this bucket invokes, each needing its own permission.
  triggered_functions = toset([for trigger in values(var.triggers) : trigger.function])
}

resource "aws_lambda_permission" "s3_invoke" {
  for_each = local.triggered_functions

  statement_id   = "AllowInvokeFromS3-${replace(var.bucket, ".", "-")}"
  action         = "lambda:InvokeFunction"
  function_name  = var.function_arns[each.key]
  principal      = "s3.amazonaws.com"
  source_arn     = local.bucket_arn
  source_account = var.source_account
}

resource "aws_s3_bucket_notification" "this" {
  bucket = var.bucket

  # A map iterates in key order, so the rules keep their order and ids from one run to the next.
  dynamic "lambda_function" {
    for_each = var.triggers

    content {
      id                  = lambda_function.key
      lambda_function_arn = var.function_arns[lambda_function.value.function]
      events              = ["s3:ObjectCreated:*"]
      filter_prefix       = lambda_function.value.filter_prefix
      filter_suffix       = lambda_function.value.filter_suffix
    }
  }

  # S3 test-invokes every function when the configuration is saved: the permissions must exist first.
  depends_on = [aws_lambda_permission.s3_invoke]
}
