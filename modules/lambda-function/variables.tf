variable "function_name" {
  description = "Name of the Lambda function; also names its ECR repository (lower-cased), log group and dead-letter queue."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,60}$", var.function_name))
    error_message = "A function name is 1-60 letters, digits, hyphens and underscores (its queue adds \"-dlq\")."
  }
}

variable "description" {
  description = "Description shown in the Lambda console."
  type        = string
  default     = ""
}

variable "image_uri" {
  description = "Container image of the function, pinned by digest (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:DIGEST). Null runs REPOSITORY:latest, which must have been pushed once."
  type        = string
  default     = null
}

variable "role_arn" {
  description = "ARN of the execution role."
  type        = string
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

variable "untagged_image_expiry_days" {
  description = "Days after which untagged images are removed from the repository."
  type        = number
  default     = 14
}

variable "images_to_keep" {
  description = "Most recent images the repository keeps; older ones are removed (keep enough to roll back)."
  type        = number
  default     = 30
}
