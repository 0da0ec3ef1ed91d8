variable "name_prefix" {
  description = "Prefix of the shared resources' names (the workflow's name prefix)."
  type        = string
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
