output "trigger_ids" {
  description = "Ids of the notification rules on the bucket, in the order S3 holds them."
  value       = sort(keys(var.triggers))
}
