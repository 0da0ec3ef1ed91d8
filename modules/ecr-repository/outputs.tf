output "repository_url" {
  description = "URL of the repository, where the function's image is pushed."
  value       = aws_ecr_repository.this.repository_url
}

output "repository_arn" {
  description = "ARN of the repository."
  value       = aws_ecr_repository.this.arn
}

output "image_uri" {
  description = "Image the function and its Batch job run: the given digest, or null while none is given (the function's precondition then stops the plan)."
  value       = var.image_uri

  # Lambda checks at creation that it may pull the image.
  depends_on = [aws_ecr_repository_policy.this]
}
