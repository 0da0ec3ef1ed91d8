# What every Batch compute environment of the workflow shares: the role of its EC2 container instances
# (the ECS agent: register with the cluster, pull images from ECR, ship logs). Jobs get their own roles.
# Batch on EC2 runs jobs in `host` network mode, so a job can reach the instance metadata and this role's
# credentials whatever the IMDS hop limit: the role holds the ECS agent's managed policy and nothing else.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/instance_IAM_role.html

data "aws_partition" "current" {}

# No aws:SourceAccount/aws:SourceArn condition here: EC2 does not document them for instance-profile
# roles, and a condition it does not send would keep the ECS agent from its credentials.
data "aws_iam_policy_document" "ec2_assume" {
  statement {
    sid     = "Ec2AssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name                 = "${var.name_prefix}batch-instance"
  path                 = var.role_path
  description          = "ECS container instances of the workflow's Batch compute environments. Created by avgen."
  assume_role_policy   = data.aws_iam_policy_document.ec2_assume.json
  permissions_boundary = var.permissions_boundary
}

resource "aws_iam_role_policy_attachment" "instance_ecs" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name_prefix}batch-instance"
  path = var.role_path
  role = aws_iam_role.instance.name
}

# AWS Batch's service-linked role (AWSServiceRoleForBatch) is the account's, one for every workload, so no
# workflow creates it, and none deletes it with `avgen destroy`. The compute environments name no service role:
# Batch then uses that role, and creates it with the first managed compute environment of an account that
# has none (the deploying identity needs iam:CreateServiceLinkedRole for that once; docs/generated-terraform.md).
# https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateComputeEnvironment.html (serviceRole)
#
# Earlier avgen versions could create the role here (create_batch_service_linked_role). Where one did, the
# role leaves this state and stays in the account: Terraform forgets it instead of destroying it.
removed {
  from = aws_iam_service_linked_role.batch

  lifecycle {
    destroy = false
  }
}
