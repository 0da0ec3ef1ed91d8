output "job_queue_name" {
  description = "Name of the job queue."
  value       = aws_batch_job_queue.this.name
}

output "job_queue_arn" {
  description = "ARN of the job queue."
  value       = aws_batch_job_queue.this.arn
}

output "job_definition_name" {
  description = "Name of the job definition; SubmitJob with the name runs its latest revision."
  value       = aws_batch_job_definition.this.name
}

output "job_definition_arn_prefix" {
  description = "ARN of the job definition without its revision."
  value       = aws_batch_job_definition.this.arn_prefix
}

output "compute_environment_arn" {
  description = "ARN of the compute environment."
  value       = aws_batch_compute_environment.this.arn
}

output "log_group_name" {
  description = "Name of the jobs' log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "job_role_arn" {
  description = "ARN of the role the job's container works with."
  value       = module.job_role.arn
}
