variable "function_name" {
  description = "Name of the Lambda function whose image the repository holds; the repository is named after it, lower-cased."
  type        = string
}

variable "image_uri" {
  description = "Image to run, pinned by digest (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPOSITORY@sha256:DIGEST), as `avgen build --push` records it. Null while no image was pushed: the Lambda function's precondition then stops the plan."
  type        = string
  default     = null
}

variable "untagged_image_expiry_days" {
  description = "Days after which untagged images are removed from the repository."
  type        = number
  default     = 14
}
