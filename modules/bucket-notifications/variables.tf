variable "bucket" {
  description = "Name of the bucket whose object-created events trigger functions. Its whole notification configuration is managed here."
  type        = string
}

variable "triggers" {
  description = "Triggers on this bucket keyed by a stable rule id: the function (a key of function_arns) and the key prefix and suffix an object must have. Empty strings filter nothing."
  type = map(object({
    function      = string
    filter_prefix = string
    filter_suffix = string
  }))

  validation {
    condition     = length(var.triggers) > 0
    error_message = "A bucket without triggers needs no notification configuration."
  }
}

variable "function_arns" {
  description = "ARN of every function a trigger may name, keyed by function name."
  type        = map(string)
}

variable "source_account" {
  description = "Account that owns the bucket: S3 may invoke the functions only on behalf of this account's bucket."
  type        = string
}
