variable "name_prefix" {
  description = "Prefix of the topic's and rules' names (the workflow's name prefix)."
  type        = string
}

variable "lambda_function_arns" {
  description = "ARNs of the functions whose failed invocations raise an alert."
  type        = list(string)

  validation {
    condition     = length(var.lambda_function_arns) > 0
    error_message = "Alerts need at least one function to watch."
  }
}

variable "lambda_function_names" {
  description = "The functions' names (Lambda's), by the workflow's function names: a Throttles and an Errors alarm each."
  type        = map(string)
  default     = {}
}

variable "dead_letter_queue_names" {
  description = "Each function's dead-letter queue, by the workflow's function names: an alarm each while it holds messages."
  type        = map(string)
  default     = {}
}

variable "batch_job_queue_arns" {
  description = "ARNs of the job queues whose FAILED jobs raise an alert; empty when the workflow uses no Batch."
  type        = list(string)
  default     = []
}

variable "eventbridge_rule_names" {
  description = "EventBridge rules (default bus) that invoke the workflow's functions: an alarm each when it fails to deliver an event."
  type        = list(string)
  default     = []
}

variable "email" {
  description = "Address subscribed to the alerts (AWS e-mails it a confirmation link first); null for none."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the topic (its key policy must let EventBridge and CloudWatch use it); null: unencrypted, see the checkov skip."
  type        = string
  default     = null
}
