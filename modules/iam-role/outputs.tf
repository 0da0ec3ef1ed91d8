output "arn" {
  description = "ARN of the role, available once its access policy is attached (Lambda checks the dead-letter queue permission when the function is created)."
  value       = aws_iam_role.this.arn

  depends_on = [aws_iam_role_policy.access]
}

output "name" {
  description = "Name of the role."
  value       = aws_iam_role.this.name
}
