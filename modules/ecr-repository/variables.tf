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
  description = "Days after which untagged images (never deployed by avgen: an interrupted push) are removed from the repository."
  type        = number
  default     = 7
}

variable "kept_images" {
  description = "How many content-tagged images (ctx-..., one per distinct build context `avgen build` pushed) the repository keeps, newest first; older ones expire."
  type        = number
  default     = 10

  validation {
    condition     = var.kept_images >= 1 && var.kept_images <= 1000
    error_message = "Keep 1 to 1000 content-tagged images."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the images; null: the AWS-managed aws/ecr key."
  type        = string
  default     = null
}
