# It looks up the default VPC of the provider's account and region, and makes one security group there.
variable "name" {
  description = "Prefix of the security group's name (the workflow's shared prefix, ending in a dash)."
  type        = string
}
