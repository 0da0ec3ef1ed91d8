"""A value out of range, not one of the allowed choices, or a name AWS would refuse (functions, buckets,
regions, environment variables, storage providers), and settings that contradict each other."""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any

from pydantic_core import ErrorDetails

from generator.workflow.findings import Finding, Place
from generator.workflow.rules.catalog import rule
from generator.workflow.rules.wording import short_repr, short_text
from generator.workflow.schema import BatchSpec

RULE = rule("AVG004")
LAMBDA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Lambda allows 64 characters, but the function's IAM role is named NAME-lambda within IAM's 64
# (modules/lambda-function checks the same limit).
MAX_FUNCTION_NAME = 64 - len("-lambda")
NAME_PREFIX = re.compile(r"^([a-z0-9][a-z0-9-]{0,19})?$")
ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
PROVIDER_TYPES = ("s3", "minio", "onedata")
# Lambda refuses these names in a function's environment.
LAMBDA_RESERVED_ENV = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
# pydantic's error types that say a value is out of its range or fails a validator
RANGE_ERRORS = frozenset({"greater_than_equal", "less_than_equal", "greater_than", "less_than",
                          "too_short", "too_long", "string_too_short", "value_error"})


# -- found by the schema -------------------------------------------------------------------------------

def schema_choice(where: str, shown: Any, error: ErrorDetails, place: Place) -> Finding:
    expected = error.get("ctx", {}).get("expected", "")
    return RULE.at(place, f"`{where}` is {short_repr(shown)}, which is not one of the allowed values",
                   f"write one of: {expected}")


def schema_range(where: str, shown: Any, error: ErrorDetails, bounds: tuple[Any, Any], place: Place) -> Finding:
    """`bounds`: the (ge, le) the schema sets at the place, for the hint when the error names only one."""
    return RULE.at(place, f"`{where}` is {short_repr(shown)}: {_describe(error)}", _range_hint(error, bounds))


def _describe(error: ErrorDetails) -> str:
    ctx = error.get("ctx", {})
    kind = error["type"]
    if kind == "greater_than_equal":
        return f"it must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return f"it must be at most {ctx.get('le')}"
    if kind in ("too_short", "string_too_short"):
        return "it must not be empty"
    return error["msg"].removeprefix("Value error, ")


def _range_hint(error: ErrorDetails, bounds: tuple[Any, Any]) -> str:
    ctx = error.get("ctx", {})
    if "ge" not in ctx and "le" not in ctx:
        return ""
    ge, le = ctx.get("ge", bounds[0]), ctx.get("le", bounds[1])
    if ge is not None and le is not None:
        return f"write a value from {ge} to {le}"
    return f"write {ge} or more" if ge is not None else f"write {le} or less"


# -- names AWS would refuse ----------------------------------------------------------------------------

def name_prefix(prefix: str, place: Place) -> Iterator[Finding]:
    if not NAME_PREFIX.match(prefix):
        yield RULE.at(place, f"avgen.name_prefix `{prefix}` is not usable in AWS resource names",
                      "use up to 20 lower-case letters, digits and hyphens, e.g. `media-`")


def region(name: str, place: Place) -> Iterator[Finding]:
    if not REGION.match(name):
        yield RULE.at(place, f"`{name}` is not an AWS region name", "write a region such as `us-east-1`")


def function_name(name: str, resource_name: str, place: Place) -> Iterator[Finding]:
    """`resource_name`: the name with avgen.name_prefix, which is what Lambda gets."""
    if not LAMBDA_NAME.match(name) or len(resource_name) > MAX_FUNCTION_NAME:
        yield RULE.at(place, f"function name `{short_text(name)}` is not a valid Lambda function name",
                      f"use up to {MAX_FUNCTION_NAME} letters, digits, hyphens and underscores "
                      "(name_prefix included; the function's role adds `-lambda` within IAM's 64)")


def variable_name(name: str, place: Place) -> Finding | None:
    if ENV_NAME.match(name) and name not in LAMBDA_RESERVED_ENV and not name.startswith("AVGEN_"):
        return None
    return RULE.at(place, f"environment variable name `{name}` cannot be used",
                   "use letters, digits and underscores, starting with a letter; names reserved by "
                   "Lambda (AWS_REGION, …) and avgen (AVGEN_*) are taken", key=True)


def provider_type(provider: str, written: str, place: Place) -> Finding | None:
    """`provider`: the type part of `written` (`minio` of `minio.store`)."""
    if provider in PROVIDER_TYPES:
        return None
    close = difflib.get_close_matches(provider, list(PROVIDER_TYPES), n=1, cutoff=0.5)
    return RULE.at(place, f"storage_provider `{written}` is not a known provider type",
                   (f"did you mean `{close[0]}`? " if close else "") + "write s3, s3.ID, minio.ID or onedata.ID")


def bucket_name(provider: str, bucket: str, path: str, place: Place) -> Iterator[Finding]:
    if provider == "s3" and not _valid_bucket(bucket):
        yield RULE.at(place, f"`{bucket}` (from path `{path}`) is not a valid S3 bucket name",
                      "bucket names have 3-63 lower-case letters, digits, dots and hyphens, "
                      "start and end with a letter or digit; write path as BUCKET/FOLDER")


def _valid_bucket(name: str) -> bool:
    return bool(S3_BUCKET.match(name)) and ".." not in name and not re.match(r"^\d+\.\d+\.\d+\.\d+$", name) \
        and not name.startswith("xn--") and not name.endswith("-s3alias")


def script_path(written: str, exc: BaseException, place: Place) -> Finding:
    """An init_script that cannot be a path at all (a NUL byte, a name too long, a symlink loop)."""
    return RULE.at(place, f"init_script `{short_text(written)}` cannot be a file path "
                   f"({getattr(exc, 'strerror', None) or exc})",
                   "write the path of the script, relative to the workflow file")


# -- settings that contradict each other ---------------------------------------------------------------

def gpus_without_gpu(spec: BatchSpec | None, place: Place) -> Iterator[Finding]:
    if spec and spec.gpus and spec.enable_gpu is False:
        yield RULE.at(place / "gpus", f"`batch.gpus: {spec.gpus}` contradicts `enable_gpu: false`",
                      "remove `gpus`, or set `enable_gpu: true`")


def vcpu_order(low: int, desired: int, high: int, place: Place) -> Iterator[Finding]:
    if not (low <= desired <= high):
        yield RULE.at(place, f"compute resources need min_v_cpus ≤ desired_v_cpus ≤ max_v_cpus "
                      f"(got {low}, {desired}, {high})",
                      "keep min_v_cpus at 0 so that idle environments cost nothing", key=True)


def no_instance_types(instance_types: tuple, place: Place) -> Iterator[Finding]:
    if not instance_types:
        yield RULE.at(place, "`instance_types` is empty: Batch needs at least one",
                      "list instance types, or leave the key out for `optimal`")


def set_twice(where: str, first_file: str, place: Place) -> Finding:
    """Two files given together set one setting to different values."""
    return RULE.at(place, f"`{where}` is also set in {first_file}, to another value; files given "
                   "together make one workflow", "set it in one file only, or to the same value", key=True)
