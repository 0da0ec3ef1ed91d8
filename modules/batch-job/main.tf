# A function's Batch side: a managed compute environment that scales to zero, a job queue that cancels
# jobs stuck waiting for capacity, and a job definition that runs the function's image with a role of its
# own.

locals {
  # The log group ARN carries the region; reading it from there keeps this working with aws 5.x and 6.x
  # (whose aws_region data source renamed `name` to `region`).
  region = split(":", aws_cloudwatch_log_group.this.arn)[3]

  # Amazon Linux 2023 ECS images: AWS stops creating AL2-based environments, and GPU work needs the
  # NVIDIA variant (drivers and the container toolkit).
  ecs_image_type = var.gpus > 0 ? "ECS_AL2023_NVIDIA" : "ECS_AL2023"

  # The region for SDKs in the job, set explicitly rather than looked up in the instance metadata.
  environment = merge({ AWS_REGION = local.region, AWS_DEFAULT_REGION = local.region }, var.environment)

  # The reasons AWS Batch reports for a job stuck RUNNABLE that a job state time limit action can act on.
  runnable_block_reasons = [
    "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
  ]

  resource_requirements = concat(
    [
      { type = "VCPU", value = tostring(var.vcpus) },
      { type = "MEMORY", value = tostring(var.memory) },
    ],
    var.gpus > 0 ? [{ type = "GPU", value = tostring(var.gpus) }] : [],
  )
}

# IMDSv2 only (session tokens). This is hardening, not isolation: Batch on EC2 runs job containers in
# `host` network mode, where the hop limit does not apply, so a job can reach the instance metadata and
# the instance role's credentials. That role therefore holds only what the ECS agent needs (see
# modules/batch-shared); the boundary between a job and everything else is its job role plus the
# instance role's ECS-agent permissions, and the instance is shared only by jobs of this one function.
# https://docs.aws.amazon.com/batch/latest/userguide/job_definition_parameters.html (networkMode: EC2 jobs
# use host networking) and https://docs.aws.amazon.com/AmazonECS/latest/developerguide/instance_IAM_role.html
resource "aws_launch_template" "this" {
  name        = "${var.name}-batch"
  description = "Batch instances of ${var.name}. Created by avgen."

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  # The root volume of the ECS-optimized AL2023 AMIs (CPU and NVIDIA): room for the job's image and its
  # scratch files; encrypted, gone with the instance.
  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.root_volume_size
      volume_type           = "gp3"
      encrypted             = "true"
      delete_on_termination = "true"
    }
  }

  lifecycle {
    # The instances are tagged through the compute environment; a tag specification read back here (as the
    # emulator does) would otherwise bump the template's version and the environment with it on every plan.
    ignore_changes = [tag_specifications]
  }
}

resource "aws_batch_compute_environment" "this" {
  # The name attribute differs between aws 5.x and 6.x: Batch generates the name, Name tag says which. No
  # service role: Batch uses the account's AWSServiceRoleForBatch (see modules/batch-shared).
  type  = "MANAGED"
  state = var.state

  compute_resources {
    type                = var.compute_type
    allocation_strategy = var.compute_type == "SPOT" ? "SPOT_CAPACITY_OPTIMIZED" : "BEST_FIT_PROGRESSIVE"
    min_vcpus           = var.min_vcpus
    max_vcpus           = var.max_vcpus
    desired_vcpus       = var.desired_vcpus
    instance_type       = var.instance_types
    instance_role       = var.instance_profile_arn
    subnets             = var.subnet_ids
    security_group_ids  = var.security_group_ids

    ec2_configuration {
      image_type = local.ecs_image_type
    }

    launch_template {
      launch_template_id = aws_launch_template.this.id
      version            = aws_launch_template.this.latest_version
    }

    # The instances Batch launches: the workflow's tags (cost allocation) and a readable Name.
    tags = merge(var.instance_tags, { Name = "${var.name}-batch" })
  }

  tags = {
    Name = var.name
  }

  lifecycle {
    # Changes to the compute resources replace the environment: the queue moves to the new one first.
    create_before_destroy = true
    # Batch moves the desired count as it scales; following it would show a change on every plan.
    ignore_changes = [compute_resources[0].desired_vcpus]
  }
}

resource "aws_batch_job_queue" "this" {
  name     = var.name
  state    = "ENABLED"
  priority = 1

  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.this.arn
  }

  # A job asking for more than the environment can ever give would otherwise wait RUNNABLE forever. Batch
  # acts only on the blocking reasons it documents (`reason` is matched, not free text), so one action per
  # reason: https://docs.aws.amazon.com/batch/latest/APIReference/API_JobStateTimeLimitAction.html
  dynamic "job_state_time_limit_action" {
    for_each = local.runnable_block_reasons

    content {
      action           = "CANCEL"
      state            = "RUNNABLE"
      max_time_seconds = var.runnable_timeout_seconds
      reason           = job_state_time_limit_action.value
    }
  }
}

resource "aws_cloudwatch_log_group" "this" {
  # avgen:checkov-skip CKV_AWS_158
  # avgen:checkov-skip CKV_AWS_338
  name              = "/aws/batch/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# The job's own role: the same S3 access as its function, nothing else (SCAR's jobs had none and reached
# S3 through the instance profile).
module "job_role" {
  source = "../iam-role"

  name                 = "${var.name}-job"
  path                 = var.role_path
  permissions_boundary = var.permissions_boundary
  description          = "Batch job ${var.name}. Created by avgen."
  service              = "ecs-tasks.amazonaws.com"
  read_paths           = var.read_paths
  write_paths          = var.write_paths
  kms_key_arn          = var.kms_key_arn
}

resource "aws_batch_job_definition" "this" {
  name                  = var.name
  type                  = "container"
  platform_capabilities = ["EC2"]
  propagate_tags        = true

  container_properties = jsonencode({
    image                = var.image
    command              = var.command
    jobRoleArn           = module.job_role.arn
    resourceRequirements = local.resource_requirements
    environment          = [for name in sort(keys(local.environment)) : { name = name, value = local.environment[name] }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.this.name
        awslogs-region        = local.region
        awslogs-stream-prefix = var.name
      }
    }
  })

  timeout {
    attempt_duration_seconds = var.job_timeout_seconds
  }

  # Retry only when the host went away (Spot reclaim, instance failure: status reason "Host EC2 (instance
  # i-...) terminated."); a script that fails fails the job at once instead of running again. Batch reads
  # these in order and the first match decides:
  # https://docs.aws.amazon.com/batch/latest/userguide/job_retries.html
  retry_strategy {
    attempts = var.attempts

    evaluate_on_exit {
      action           = "RETRY"
      on_status_reason = "Host EC2*"
    }

    evaluate_on_exit {
      action    = "EXIT"
      on_reason = "*"
    }
  }
}
