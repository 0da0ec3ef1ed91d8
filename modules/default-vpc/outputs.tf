output "vpc_id" {
  description = "ID of the default VPC."
  value       = data.aws_vpc.default.id
}

output "subnet_ids" {
  description = "IDs of the default VPC's default subnets (one per availability zone), sorted."
  value       = sort(data.aws_subnets.default.ids)
}

output "security_group_ids" {
  description = "ID of the egress-only security group avgen makes in the default VPC, in a list."
  value       = [aws_security_group.batch.id]
}
