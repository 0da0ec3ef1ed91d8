# A function's image repository. The Lambda function and its Batch job run the same image from it.

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

resource "aws_ecr_repository" "this" {
  name                 = lower(var.function_name)
  image_tag_mutability = "IMMUTABLE"
  # The images are build output, made again by `avgen build` from the workflow, not users' data: destroy
  # deletes the repository with its images instead of failing with RepositoryNotEmptyException.
  # https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/ecr_repository#force_delete
  force_delete = true

  image_scanning_configuration {
    scan_on_push = true
  }

  # KMS with the AWS-managed key (aws/ecr), or the workflow's own key. ECR sets this at creation only: a key
  # added later replaces the repository (its images are pushed again by `avgen build --push`).
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

# Two rules. Untagged images (an interrupted push; avgen never pushes one) go after a few days. Of the
# content-tagged images `avgen build` pushes (`ctx-` + a hash of the build context: one tag per distinct
# context), the newest `kept_images` stay and older ones expire, so a function rebuilt every day does not keep
# every image it ever ran. Only `ctx-` images are counted: tags pushed by hand are never selected.
# What a reviewer should know: the count is of builds pushed, not of deployments. An image stays while it is
# among the newest `kept_images` builds of its function; a deployment that falls further behind (or a rollback
# to an older digest) needs `avgen build --push` again first (the expired image's tag is free again).
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html
resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Drop untagged images (never deployed by avgen) after ${var.untagged_image_expiry_days} days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_image_expiry_days
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the newest ${var.kept_images} images avgen built (ctx- content tags)"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["ctx-"]
          countType     = "imageCountMoreThan"
          countNumber   = var.kept_images
        }
        action = { type = "expire" }
      },
    ]
  })
}

# Lambda pulls the image with its service principal; granting it here up front keeps Lambda from editing
# the repository policy itself when the function is created.
data "aws_iam_policy_document" "lambda_pull" {
  statement {
    sid     = "LambdaPullsTheFunctionsImage"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "aws:sourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:lambda:*:${data.aws_caller_identity.current.account_id}:function:${var.function_name}"]
    }
  }
}

resource "aws_ecr_repository_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy     = data.aws_iam_policy_document.lambda_pull.json
}
