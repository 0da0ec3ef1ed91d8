variable "name_prefix" {
  description = "Prefix of the shared resources' names (the workflow's name prefix)."
  type        = string
}

variable "create_batch_service_linked_role" {
  description = "Create AWSServiceRoleForBatch here and hand it to the compute environments. Leave false where the account already has it (it is one per account: creating it again fails) or where Batch may create it itself."
  type        = bool
  default     = false
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
