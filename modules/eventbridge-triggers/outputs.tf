output "rule_arns" {
  description = "ARN of each trigger's EventBridge rule, keyed by trigger id."
  value       = { for id, rule in aws_cloudwatch_event_rule.this : id => rule.arn }
}
