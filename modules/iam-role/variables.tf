variable "name" {
  description = "Name of the role (at most 64 characters)."
  type        = string

  validation {
    condition     = length(var.name) <= 64
    error_message = "IAM role names are at most 64 characters."
  }
}

variable "path" {
  description = "IAM path of the role (\"/\" or \"/x/\"): avgen.iam.path in the workflow."
  type        = string
  default     = "/"
}

variable "permissions_boundary" {
  description = "ARN of the managed policy set as the role's permissions boundary (avgen.iam.permissions_boundary), or null."
  type        = string
  default     = null
}

variable "description" {
  description = "What the role is for, shown in the IAM console."
  type        = string
  default     = "Created by avgen."
}

variable "service" {
  description = "Service principal that assumes the role: lambda.amazonaws.com for a function, ecs-tasks.amazonaws.com for a Batch job."
  type        = string

  validation {
    condition     = contains(["lambda.amazonaws.com", "ecs-tasks.amazonaws.com"], var.service)
    error_message = "The service is lambda.amazonaws.com or ecs-tasks.amazonaws.com."
  }
}

variable "read_paths" {
  description = "S3 locations whose objects the role may read: bucket name and key prefix (\"folder/\", or \"\" for the whole bucket)."
  type = list(object({
    bucket     = string
    key_prefix = string
  }))
  default = []
}

variable "write_paths" {
  description = "S3 locations where the role may write objects: bucket name and key prefix (\"folder/\", or \"\" for the whole bucket)."
  type = list(object({
    bucket     = string
    key_prefix = string
  }))
  default = []
}

variable "log_group_arns" {
  description = "Log groups the role writes its own log streams to."
  type        = list(string)
  default     = []
}

variable "batch_submit_arns" {
  description = "Job queue and job definition ARNs the role may submit jobs with (batch:SubmitJob)."
  type        = list(string)
  default     = []
}

variable "dead_letter_queue_arns" {
  description = "SQS queues the role may send failed events to (a Lambda function's dead-letter queue)."
  type        = list(string)
  default     = []
}

variable "event_bus_arns" {
  description = "EventBridge buses the role may put events on (a Lambda function's on-failure destination)."
  type        = list(string)
  default     = []
}

variable "xray_tracing" {
  description = "Whether the role writes X-Ray traces (Lambda functions with active tracing)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "The workflow's customer-managed KMS key (avgen.kms_key_arn); null: AWS-managed keys, no grant."
  type        = string
  default     = null
}

variable "kms_services" {
  description = "The services (s3, sqs, lambda) through which the role may use kms_key_arn."
  type        = list(string)
  default     = ["s3"]
}
