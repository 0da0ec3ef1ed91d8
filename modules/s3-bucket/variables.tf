variable "name" {
  description = "Name of the bucket to create (globally unique, 3-63 lower-case letters, digits, dots and hyphens)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.name))
    error_message = "A bucket name is 3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit."
  }
}

variable "abort_incomplete_upload_days" {
  description = "Days after which unfinished multipart uploads are aborted (their parts are billed until then)."
  type        = number
  default     = 7
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten or deleted object versions are removed for good."
  type        = number
  default     = 90
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key (SSE-KMS); null: the AWS-managed aws/s3 key."
  type        = string
  default     = null
}
