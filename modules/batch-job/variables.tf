variable "name" {
  description = "Name of the job queue and job definition; prefix of the other resources' names."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,60}$", var.name))
    error_message = "A Batch name is 1-60 letters, digits, hyphens and underscores (its role adds \"-job\" within IAM's 64)."
  }
}

variable "image" {
  description = "Container image of the job: the same image as the function's Lambda, pinned by digest."
  type        = string
}

variable "command" {
  description = "Command of the job's container. avgen's images have the entrypoint `python3 -I -m` (Batch can't change an entrypoint), so the command names the runtime's module."
  type        = list(string)
  default     = ["batch_jobs.entrypoint"]
}

variable "read_paths" {
  description = "S3 locations the job reads its inputs from: bucket and key prefix (\"folder/\" or \"\")."
  type = list(object({
    bucket     = string
    key_prefix = string
  }))
  default = []
}

variable "write_paths" {
  description = "S3 locations the job writes its outputs to: bucket and key prefix (\"folder/\" or \"\")."
  type = list(object({
    bucket     = string
    key_prefix = string
  }))
  default = []
}

variable "environment" {
  description = "Environment variables of the job's container. Never secrets."
  type        = map(string)
  default     = {}
}

variable "vcpus" {
  description = "vCPUs one job reserves."
  type        = number
  default     = 1
}

variable "memory" {
  description = "Memory one job reserves, in MiB."
  type        = number
  default     = 1024
}

variable "gpus" {
  description = "GPUs one job reserves; more than 0 selects the ECS_AL2023_NVIDIA instance image."
  type        = number
  default     = 0
}

variable "compute_type" {
  description = "EC2 (on-demand) or SPOT instances."
  type        = string
  default     = "EC2"

  validation {
    condition     = contains(["EC2", "SPOT"], var.compute_type)
    error_message = "The compute type is EC2 or SPOT."
  }
}

variable "state" {
  description = "ENABLED, or DISABLED to stop the environment from taking new jobs."
  type        = string
  default     = "ENABLED"
}

variable "min_vcpus" {
  description = "vCPUs kept running when idle; 0 scales the environment down to nothing."
  type        = number
  default     = 0
}

variable "max_vcpus" {
  description = "Most vCPUs the environment may run at once."
  type        = number
}

variable "desired_vcpus" {
  description = "vCPUs to start with; Batch adjusts it afterwards. Null lets Batch decide."
  type        = number
  default     = null
}

variable "instance_types" {
  description = "EC2 instance types or families the environment may launch (\"optimal\" lets Batch choose)."
  type        = list(string)
}

variable "subnet_ids" {
  description = "Subnets the instances are launched in; they need a route to ECR, S3 and CloudWatch Logs."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the instances."
  type        = list(string)
}

variable "instance_profile_arn" {
  description = "ARN of the instance profile of the environment's EC2 instances (the ECS agent's role)."
  type        = string
}

variable "job_timeout_seconds" {
  description = "Time limit of one job attempt in seconds (at least 60)."
  type        = number
  default     = 3600
}

variable "attempts" {
  description = "Attempts of a job, the first included (1-10)."
  type        = number
  default     = 1

  validation {
    condition     = var.attempts >= 1 && var.attempts <= 10
    error_message = "Batch runs a job 1 to 10 times."
  }
}

variable "runnable_timeout_seconds" {
  description = "Seconds a job may wait RUNNABLE (no capacity) before the queue cancels it (600-86400)."
  type        = number
  default     = 3600

  validation {
    condition     = var.runnable_timeout_seconds >= 600 && var.runnable_timeout_seconds <= 86400
    error_message = "Batch cancels RUNNABLE jobs after 600 to 86400 seconds."
  }
}

variable "log_retention_days" {
  description = "Days the job's logs are kept."
  type        = number
  default     = 30
}

variable "role_path" {
  description = "IAM path of the roles created here (avgen.iam.path)."
  type        = string
  default     = "/"
}

variable "permissions_boundary" {
  description = "ARN of the permissions boundary of the roles created here (avgen.iam.permissions_boundary), or null."
  type        = string
  default     = null
}

variable "root_volume_size" {
  description = "GiB of the instances' root volume (gp3, encrypted)."
  type        = number
  default     = 100

  validation {
    condition     = var.root_volume_size >= 30 && var.root_volume_size <= 16384
    error_message = "The root volume holds the ECS AMI (30 GiB) and at most 16384 GiB."
  }
}

variable "instance_tags" {
  description = "Tags of the EC2 instances Batch launches (the provider's default tags do not reach them)."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the log group and the job's S3 objects; null: AWS-managed keys."
  type        = string
  default     = null
}
