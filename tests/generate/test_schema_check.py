"""The provider schema check finds what it must (and nothing in correct code)."""
from __future__ import annotations

import pytest

from tests.generate.schema_check import check_text, load_schema

from .conftest import provider_schema_path

BAD = '''
resource "aws_s3_bucket" "b" {
  bucket = "x"
  acl    = "private"
  region = "us-east-1"
  versioning {
    enabled = true
  }
}

resource "aws_batch_compute_environment" "c" {
  compute_environment_name = "x"
  type                     = "MANAGED"
}

resource "aws_s3_bucket_ownership_controls" "o" {
  bucket = aws_batch_job_queue.q.id
}

resource "aws_lambda_function" "f" {
  function_name = "f"
  role          = "r"
  dynamic "environment" {
    for_each = [1]
    content {
      variabls = {}
    }
  }
}

resource "aws_nonexistent_thing" "n" {}

data "aws_region" "r" {}

output "r" {
  value = data.aws_region.r.name
}
'''

GOOD = '''
resource "aws_s3_bucket" "b" {
  for_each = toset(["a"])
  bucket   = each.key
  tags     = { a = "b" }

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_lambda_function" "f" {
  function_name = "f"
  role          = aws_s3_bucket.b["a"].arn
  dynamic "environment" {
    for_each = [1]
    content {
      variables = { A = "b" }
    }
  }
}

resource "terraform_data" "t" {}
'''


@pytest.fixture(scope="module")
def schema():
    return load_schema(provider_schema_path("6.47.0"))


def problems(text, schema):
    return {(f.address, f.problem, f.detail.split(" ")[0].rstrip(":")) for f in check_text(text, "t.tf", schema)}


def test_finds_unknown_missing_deprecated_and_non_portable(schema):
    found = problems(BAD, schema)
    expected = {
        ("resource.aws_s3_bucket.b", "deprecated-argument", "acl"),
        ("resource.aws_s3_bucket.b", "not-portable", "region"),
        ("resource.aws_s3_bucket.b", "deprecated-block", "versioning"),
        ("resource.aws_batch_compute_environment.c", "unknown-argument", "compute_environment_name"),
        ("resource.aws_s3_bucket_ownership_controls.o", "missing-block", "rule"),
        ("resource.aws_lambda_function.f", "unknown-argument", "environment.variabls"),
        ("resource.aws_nonexistent_thing.n", "unknown-type", "aws_nonexistent_thing"),
        ("data.aws_region.r", "deprecated-reference", "name"),
    }
    assert expected <= found, expected - found


def test_correct_code_has_no_findings(schema):
    assert check_text(GOOD, "t.tf", schema) == []
