variable "function_name" {
  description = "Name of the Lambda function; also names its ECR repository (lower-cased), log group and dead-letter queue."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,57}$", var.function_name))
    error_message = "A function name is 1-57 letters, digits, hyphens and underscores (its role adds \"-lambda\" within IAM's 64)."
  }
}

variable "region" {
  description = "Region the function is deployed to (the provider's): the ARNs in its role's policy name it."
  type        = string
}

variable "description" {
  description = "Description shown in the Lambda console."
  type        = string
  default     = ""
}

variable "image_uri" {
  description = "Container image of the function, in an ECR repository of the same account and region, pinned by digest. Null (no image pushed yet) stops the plan: see the precondition of aws_lambda_function.this."
  type        = string
}

variable "role_arn" {
  description = "ARN of an execution role the workflow brings (iam.role); null creates a least-privilege role. A brought role must allow what the created one does (logs, sqs:SendMessage to the dead-letter queue, events:PutEvents, S3, Batch)."
  type        = string
  default     = null
}

variable "read_paths" {
  description = "S3 locations the function reads its inputs from: bucket and key prefix (\"folder/\" or \"\")."
  type = list(object({
    bucket     = string
    key_prefix = string
  }))
  default = []
}

variable "write_paths" {
  description = "S3 locations the function writes its outputs to: bucket and key prefix (\"folder/\" or \"\")."
  type = list(object({
    bucket     = string
    key_prefix = string
  }))
  default = []
}

variable "batch_submit_arns" {
  description = "Job queue and job definition ARNs the function submits its Batch job with; empty in lambda mode."
  type        = list(string)
  default     = []
}

variable "architecture" {
  description = "Instruction set of the image: x86_64 or arm64."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture is x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory in MB (128-10240); CPU is allotted in proportion."
  type        = number
}

variable "timeout" {
  description = "Time limit of one invocation in seconds (1-900)."
  type        = number
}

variable "ephemeral_storage_size" {
  description = "Size of /tmp in MB (512-10240): downloaded inputs and produced outputs live there."
  type        = number
  default     = 512
}

variable "environment" {
  description = "Environment variables of the function. Never secrets: they are readable by anyone who can read the function's configuration."
  type        = map(string)
  default     = {}
}

variable "reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the function; null uses the account's shared pool."
  type        = number
  default     = null
}

variable "log_retention_days" {
  description = "Days the function's logs are kept."
  type        = number
  default     = 30
}

variable "maximum_retry_attempts" {
  description = "Retries of a failed asynchronous invocation (0-2) before the event goes to the dead-letter queue."
  type        = number
  default     = 2

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 2
    error_message = "Lambda retries an asynchronous invocation 0 to 2 times."
  }
}

variable "maximum_event_age_seconds" {
  description = "How long an event may wait for an attempt (60-21600 seconds) before it goes to the dead-letter queue."
  type        = number
  default     = 21600
}

variable "dead_letter_retention_seconds" {
  description = "How long failed events stay in the dead-letter queue for inspection or replay (at most 14 days)."
  type        = number
  default     = 1209600
}

variable "failure_event_bus_arn" {
  description = "EventBridge bus that receives a record of every invocation that failed for good; null for none."
  type        = string
  default     = null
}

variable "eventbridge_rule_names" {
  description = "EventBridge rules (default bus) that invoke the function: they may send the events they could not deliver to its dead-letter queue."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags of the Lambda function itself, on top of the provider's default tags."
  type        = map(string)
  default     = {}
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

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the log group, the dead-letter queue and the environment; null: AWS-managed keys."
  type        = string
  default     = null
}
