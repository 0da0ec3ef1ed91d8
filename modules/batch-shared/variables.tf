variable "name_prefix" {
  description = "Prefix of the shared resources' names (the workflow's name prefix)."
  type        = string
}

variable "create_batch_service_linked_role" {
  description = "Create AWSServiceRoleForBatch here. Leave false where the account already has it (creating it twice fails) or where Batch may create it itself."
  type        = bool
  default     = false
}

variable "permissions_boundary" {
  description = "ARN of a permissions boundary policy to attach to the instance role, where the account requires one; null for none."
  type        = string
  default     = null
}
