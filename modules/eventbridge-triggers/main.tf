# Triggers on a bucket avgen does not own. Its notification configuration is one object that
# PutBucketNotificationConfiguration replaces whole, so writing it would drop the owner's other triggers;
# S3 instead delivers every event to EventBridge (switched on by `avgen apply --enable-eventbridge`, which keeps
# the existing configuration) and each trigger is an EventBridge rule that invokes its function.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html (prefix, suffix, wildcard)

data "aws_partition" "current" {}

locals {
  bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket}"

  # The key filter S3 notifications apply (prefix and suffix, either may be empty) as one EventBridge
  # wildcard, PREFIX*SUFFIX, with the wildcard's escapes for `*` and `\` in the literal parts.
  key_wildcards = { for id, trigger in var.triggers : id => join("*", [
    for part in [trigger.filter_prefix, trigger.filter_suffix] : replace(replace(part, "\\", "\\\\"), "*", "\\*")
  ]) }
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = var.triggers

  name        = each.value.rule_name
  description = "avgen: objects created in s3://${var.bucket}/${each.value.filter_prefix} run ${each.value.function}"
  event_pattern = jsonencode({
    source      = ["aws.s3"]
    detail-type = ["Object Created"]
    resources   = [local.bucket_arn]
    detail      = { object = { key = [{ wildcard = local.key_wildcards[each.key] }] } }
  })
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = var.triggers

  rule = aws_cloudwatch_event_rule.this[each.key].name
  arn  = var.function_arns[each.value.function]

  # EventBridge hands the event to Lambda's asynchronous queue, from where the function's own retries and
  # dead-letter queue take over; it retries only while Lambda refuses the event (throttling), for up to a day.
  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  # An event EventBridge could not hand over (retries spent, the permission or the function gone) goes to the
  # function's own dead-letter queue, next to the events the function failed: the same body, the S3 event, with
  # EventBridge's RULE_ARN, TARGET_ARN, ERROR_CODE and ERROR_MESSAGE attributes. The queue's policy lets these
  # rules send (modules/lambda-function). https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
  dead_letter_config {
    arn = var.dead_letter_queue_arns[each.value.function]
  }
}

resource "aws_lambda_permission" "eventbridge_invoke" {
  for_each = var.triggers

  statement_id   = "AllowInvokeFromEventBridge-${each.value.rule_name}"
  action         = "lambda:InvokeFunction"
  function_name  = var.function_arns[each.value.function]
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.this[each.key].arn
  source_account = var.source_account
}
