output "topic_arn" {
  description = "ARN of the SNS topic that receives the workflow's failure alerts."
  value       = aws_sns_topic.alerts.arn
}
