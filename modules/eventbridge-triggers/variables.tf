variable "bucket" {
  description = "Name of a bucket avgen does not own whose object-created events trigger functions through EventBridge. Its notification configuration is left alone."
  type        = string
}

variable "triggers" {
  description = "Triggers on this bucket keyed by a stable rule id: the function (a key of function_arns), the EventBridge rule's name, and the key prefix and suffix an object must have. Empty strings filter nothing."
  type = map(object({
    function      = string
    rule_name     = string
    filter_prefix = string
    filter_suffix = string
  }))

  validation {
    condition     = length(var.triggers) > 0
    error_message = "A bucket without triggers needs no rules."
  }
}

variable "function_arns" {
  description = "ARN of every function a trigger may name, keyed by function name."
  type        = map(string)
}

variable "dead_letter_queue_arns" {
  description = "Dead-letter queue of every function a trigger may name, keyed by function name: where the events EventBridge could not deliver go."
  type        = map(string)
}

variable "source_account" {
  description = "Account that owns the rules: only its EventBridge may invoke the functions."
  type        = string
}
