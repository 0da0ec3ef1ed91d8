# Failures people should hear about: Batch jobs of the workflow that end FAILED or block their queue, Lambda
# invocations that failed all their attempts (Lambda reports them on the default event bus; the events are also
# kept in the function's dead-letter queue), throttled or failing functions, dead-letter queues that hold
# events, EventBridge triggers that could not deliver. All go to one SNS topic that users subscribe to.

resource "aws_sns_topic" "alerts" {
  # avgen:checkov-skip CKV_AWS_26
  name              = "${var.name_prefix}alerts"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_cloudwatch_event_rule" "batch_job_failed" {
  count = length(var.batch_job_queue_arns) > 0 ? 1 : 0

  name        = "${var.name_prefix}batch-job-failed"
  description = "A Batch job of the workflow ended FAILED. Created by avgen."
  event_pattern = jsonencode({
    source      = ["aws.batch"]
    detail-type = ["Batch Job State Change"]
    detail = {
      status   = ["FAILED"]
      jobQueue = sort(var.batch_job_queue_arns)
    }
  })
}

resource "aws_cloudwatch_event_target" "batch_job_failed" {
  count = length(var.batch_job_queue_arns) > 0 ? 1 : 0

  rule      = aws_cloudwatch_event_rule.batch_job_failed[0].name
  target_id = "alerts-topic"
  arn       = aws_sns_topic.alerts.arn
}

# A job that waits RUNNABLE and blocks its queue (no instance type can hold it, the environment's maximum is
# too small, no capacity): Batch says so as soon as it sees it, with the reason in statusReason. The queue
# cancels such a job after the workflow's runnable_timeout (its FAILED alert follows); this one comes first.
# https://docs.aws.amazon.com/batch/latest/userguide/batch-job-queue-blocked-events.html
resource "aws_cloudwatch_event_rule" "batch_job_queue_blocked" {
  count = length(var.batch_job_queue_arns) > 0 ? 1 : 0

  name        = "${var.name_prefix}batch-job-queue-blocked"
  description = "A job blocks a Batch job queue of the workflow (it waits RUNNABLE). Created by avgen."
  event_pattern = jsonencode({
    source      = ["aws.batch"]
    detail-type = ["Batch Job Queue Blocked"]
    detail = {
      jobQueue = sort(var.batch_job_queue_arns)
    }
  })
}

resource "aws_cloudwatch_event_target" "batch_job_queue_blocked" {
  count = length(var.batch_job_queue_arns) > 0 ? 1 : 0

  rule      = aws_cloudwatch_event_rule.batch_job_queue_blocked[0].name
  target_id = "alerts-topic"
  arn       = aws_sns_topic.alerts.arn
}

resource "aws_cloudwatch_event_rule" "lambda_invocation_failed" {
  name        = "${var.name_prefix}lambda-invocation-failed"
  description = "A Lambda function of the workflow failed an event after all its retries. Created by avgen."
  event_pattern = jsonencode({
    source      = ["lambda"]
    detail-type = ["Lambda Function Invocation Result - Failure"]
    # The record names the function by its ARN, qualified with the version that ran (":$LATEST").
    resources = flatten([for arn in sort(var.lambda_function_arns) : [arn, { prefix = "${arn}:" }]])
  })
}

resource "aws_cloudwatch_event_target" "lambda_invocation_failed" {
  rule      = aws_cloudwatch_event_rule.lambda_invocation_failed.name
  target_id = "alerts-topic"
  arn       = aws_sns_topic.alerts.arn
}

# Every function: any throttled invocation (reserved concurrency or the account's pool reached) and any error
# in a 5-minute period. A period without invocations is not an alarm.
locals {
  lambda_alarms = {
    throttles = { metric = "Throttles", says = "was throttled" }
    errors    = { metric = "Errors", says = "returned errors" }
  }
  # one alarm per function and metric, keyed "FUNCTION/METRIC-KEY": addresses stable across plans
  lambda_function_alarms = merge([
    for name, function_name in var.lambda_function_names : {
      for key, alarm in local.lambda_alarms : "${name}/${key}" => merge(alarm, { function_name = function_name, key = key })
    }
  ]...)
}

resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = local.lambda_function_alarms

  alarm_name          = "${each.value.function_name}-${each.value.key}"
  alarm_description   = "Lambda function ${each.value.function_name} ${each.value.says}. Created by avgen."
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = each.value.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

# Every function's dead-letter queue: an event that failed every attempt (or that EventBridge could not
# deliver) waits there for someone to look at it and replay it, for the queue's retention (14 days) only. The
# alarm goes off when the first one arrives and clears when the queue is empty again; SQS reports the
# metric every minute while a queue holds messages, and no data (an idle, empty queue) is not an alarm.
resource "aws_cloudwatch_metric_alarm" "dead_letter" {
  for_each = var.dead_letter_queue_names

  alarm_name          = "${each.value}-not-empty"
  alarm_description   = "Events wait in the dead-letter queue ${each.value} of function ${each.key}: inspect and replay them (output dead_letter_queue_urls). Created by avgen."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

# Every EventBridge rule that invokes a function (triggers on buckets avgen does not own): an event it could
# not deliver after its retries (the function's permission or the function gone, throttled for a day). The
# event itself is kept in the function's dead-letter queue. EventBridge reports the metric only when non-zero.
resource "aws_cloudwatch_metric_alarm" "eventbridge_failed" {
  for_each = toset(var.eventbridge_rule_names)

  alarm_name          = "${each.key}-failed-invocations"
  alarm_description   = "EventBridge rule ${each.key} failed to deliver events to its function; they wait in the function's dead-letter queue. Created by avgen."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { RuleName = each.key }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
}

data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "EventBridgePublishesWorkflowFailures"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values = concat(
        aws_cloudwatch_event_rule.batch_job_failed[*].arn,
        aws_cloudwatch_event_rule.batch_job_queue_blocked[*].arn,
        [aws_cloudwatch_event_rule.lambda_invocation_failed.arn],
      )
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublishFunctionAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values = concat(
        [for key in sort(keys(local.lambda_function_alarms)) : aws_cloudwatch_metric_alarm.lambda[key].arn],
        [for key in sort(keys(var.dead_letter_queue_names)) : aws_cloudwatch_metric_alarm.dead_letter[key].arn],
        [for rule in sort(var.eventbridge_rule_names) : aws_cloudwatch_metric_alarm.eventbridge_failed[rule].arn],
      )
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts_topic.json
}

resource "aws_sns_topic_subscription" "email" {
  count = var.email == null ? 0 : 1

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.email
}
