# The account's default VPC, for Batch functions whose workflow names no subnets or security groups.

data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }

  filter {
    name   = "default-for-az"
    values = ["true"]
  }
}

# Not the VPC's default security group: accounts that follow CIS / Security Hub leave it without rules, and
# instances in it could not reach ECS, ECR and S3 (jobs would wait RUNNABLE forever). This group lets
# nothing in and everything out: the ECS agent, image pulls and S3 calls go out over HTTPS.
resource "aws_security_group" "batch" {
  # avgen:checkov-skip CKV2_AWS_5
  # avgen:checkov-skip CKV_AWS_382
  name_prefix = "${var.name}batch-"
  description = "avgen Batch instances of ${trimsuffix(var.name, "-")}: no inbound, all outbound"
  vpc_id      = data.aws_vpc.default.id

  # the attribute form (every field given) rather than an `egress` block: the same in both provider majors
  egress = [{
    description      = "The ECS agent, image pulls from ECR, S3 and CloudWatch Logs"
    from_port        = 0
    to_port          = 0
    protocol         = "-1"
    cidr_blocks      = ["0.0.0.0/0"]
    ipv6_cidr_blocks = []
    prefix_list_ids  = []
    security_groups  = []
    self             = false
  }]

  lifecycle {
    create_before_destroy = true
  }
}
