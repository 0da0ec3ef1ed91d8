output "instance_profile_arn" {
  description = "ARN of the instance profile of the compute environments' EC2 instances."
  value       = aws_iam_instance_profile.instance.arn

  # Batch needs the profile's role to carry its policy before it launches an instance.
  depends_on = [aws_iam_role_policy_attachment.instance_ecs]
}

output "instance_role_name" {
  description = "Name of the EC2 instance role."
  value       = aws_iam_role.instance.name
}
