"""The workflow file as written: SCAR's format plus avgen's own `avgen:` section.

Strict on purpose (SCAR's validators never ran): unknown keys, wrong types and out-of-range values are
errors. Optional settings default to None here so that the resolver can tell "not written" from "written"
and apply avgen's defaults, then SCAR's (generator/model.py).
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                      2557, 2922, 3288, 3653)
LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
ExecutionMode = Literal["lambda", "lambda-batch", "batch"]

MemoryMB = Annotated[int, Field(ge=128, le=10240)]
TimeoutS = Annotated[int, Field(ge=1, le=900)]
EphemeralMB = Annotated[int, Field(ge=512, le=10240)]
EnvValue = Union[str, bool, int, float]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class EnvironmentSpec(Strict):
    Variables: dict[str, EnvValue] = Field(default_factory=dict)


class ContainerSpec(Strict):
    image: Optional[str] = None
    image_file: Optional[str] = None  # SCAR: a local image tarball (ignored: images come from ECR)
    environment: Optional[EnvironmentSpec] = None
    timeout_threshold: Optional[Annotated[int, Field(ge=0, le=899)]] = None


class StorageItem(Strict):
    storage_provider: str
    path: Annotated[str, Field(min_length=1)]
    prefix: list[str] = Field(default_factory=list)
    suffix: list[str] = Field(default_factory=list)


class LambdaSpec(Strict):
    name: str
    container: Optional[ContainerSpec] = None
    init_script: Optional[str] = None
    execution_mode: Optional[ExecutionMode] = None
    memory: Optional[MemoryMB] = None
    timeout: Optional[TimeoutS] = None
    log_level: Optional[Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]] = None
    environment: Optional[EnvironmentSpec] = None
    input: list[StorageItem] = Field(default_factory=list)
    output: list[StorageItem] = Field(default_factory=list)
    description: Optional[str] = None
    tags: dict[str, str] = Field(default_factory=dict)
    region: Optional[str] = None
    # avgen's extensions (SCAR has no equivalent)
    ephemeral_storage: Optional[EphemeralMB] = None
    reserved_concurrency: Optional[Annotated[int, Field(ge=0)]] = None
    batch_on_failure: Optional[bool] = None
    # SCAR settings that have no meaning for container-image functions: accepted, reported as ignored
    boto_profile: Optional[str] = None
    runtime: Optional[str] = None
    layers: list[str] = Field(default_factory=list)
    invocation_type: Optional[str] = None
    asynchronous: Optional[bool] = None
    log_type: Optional[str] = None
    deployment: Optional[dict[str, Any]] = None
    supervisor: Optional[dict[str, Any]] = None
    handler: Optional[str] = None
    run_script: Optional[str] = None
    c_args: Optional[list[str]] = None
    file_system: Optional[list[Any]] = None
    vpc: Optional[dict[str, Any]] = None


class IamSpec(Strict):
    role: Optional[str] = None
    boundary_policy: Optional[str] = None
    boto_profile: Optional[str] = None


class ComputeResourcesSpec(Strict):
    type: Optional[Literal["EC2", "SPOT"]] = None
    min_v_cpus: Optional[Annotated[int, Field(ge=0)]] = None
    max_v_cpus: Optional[Annotated[int, Field(ge=1)]] = None
    desired_v_cpus: Optional[Annotated[int, Field(ge=0)]] = None
    instance_types: Optional[list[str]] = None
    subnets: Optional[list[str]] = None
    security_group_ids: Optional[list[str]] = None
    launch_template_name: Optional[str] = None  # SCAR's launch template (ignored)
    instance_role: Optional[str] = None  # SCAR's instance profile ARN (ignored: avgen creates one)


class MultiNodeSpec(Strict):
    enabled: bool = False
    number_nodes: Optional[int] = None
    main_node_index: Optional[int] = None


class BatchSpec(Strict):
    vcpus: Optional[Annotated[int, Field(ge=1)]] = None
    memory: Optional[Annotated[int, Field(ge=128)]] = None
    enable_gpu: Optional[bool] = None
    environment: Optional[EnvironmentSpec] = None
    compute_resources: Optional[ComputeResourcesSpec] = None
    multi_node_parallel: Optional[MultiNodeSpec] = None
    state: Optional[Literal["ENABLED", "DISABLED"]] = None
    type: Optional[Literal["MANAGED"]] = None
    service_role: Optional[str] = None
    boto_profile: Optional[str] = None
    region: Optional[str] = None
    # avgen's extensions
    gpus: Optional[Annotated[int, Field(ge=1, le=16)]] = None
    job_timeout: Optional[Annotated[int, Field(ge=60)]] = None
    retry_attempts: Optional[Annotated[int, Field(ge=1, le=10)]] = None


def _check_retention(value: Optional[int]) -> Optional[int]:
    if value is not None and value not in LOG_RETENTION_DAYS:
        raise ValueError(f"CloudWatch Logs keeps logs for one of {', '.join(map(str, LOG_RETENTION_DAYS))} days")
    return value


class CloudwatchSpec(Strict):
    log_retention_policy_in_days: Optional[int] = None
    boto_profile: Optional[str] = None
    region: Optional[str] = None

    _retention = field_validator("log_retention_policy_in_days")(_check_retention)


class FunctionEntry(Strict):
    lambda_: LambdaSpec = Field(alias="lambda")
    iam: Optional[IamSpec] = None
    batch: Optional[BatchSpec] = None
    cloudwatch: Optional[CloudwatchSpec] = None
    api_gateway: Optional[dict[str, Any]] = None  # reported as outside avgen's scope


class FunctionsSpec(Strict):
    aws: list[FunctionEntry] = Field(default_factory=list)
    oscar: Optional[Any] = None  # reported as outside avgen's scope


class S3Credentials(Strict):
    access_key: Optional[str] = None
    secret_key: Optional[str] = None
    region: Optional[str] = None


class MinioCredentials(Strict):
    endpoint: Optional[str] = None
    verify: Optional[bool] = None
    region: Optional[str] = None
    access_key: Optional[str] = None
    secret_key: Optional[str] = None


class OnedataCredentials(Strict):
    oneprovider_host: Optional[str] = None
    token: Optional[str] = None
    space: Optional[str] = None


class StorageProvidersSpec(Strict):
    s3: dict[str, Optional[S3Credentials]] = Field(default_factory=dict)
    minio: dict[str, Optional[MinioCredentials]] = Field(default_factory=dict)
    onedata: dict[str, Optional[OnedataCredentials]] = Field(default_factory=dict)


class BucketSpec(Strict):
    create: bool = True


class BackendSpec(Strict):
    type: Literal["s3", "local"]
    bucket: Optional[str] = None
    key: Optional[str] = None
    region: Optional[str] = None
    use_lockfile: Optional[bool] = None
    dynamodb_table: Optional[str] = None
    path: Optional[str] = None


class AlertsSpec(Strict):
    enabled: bool = True
    email: Optional[str] = None

    @field_validator("email")
    @classmethod
    def _email(cls, value):
        if value is not None and ("@" not in value or value.startswith("@") or value.endswith("@")):
            raise ValueError("not an e-mail address (write name@example.com)")
        return value


class IamSettingsSpec(Strict):
    """avgen.iam: applied to every role avgen creates (accounts whose SCPs require a boundary or a path)."""

    permissions_boundary: Optional[str] = None
    path: Optional[str] = None

    @field_validator("permissions_boundary")
    @classmethod
    def _boundary(cls, value):
        if value is not None and not re.fullmatch(r"arn:aws[a-z-]*:iam::(\d{12}|aws):policy/.+", value):
            raise ValueError("not a managed policy ARN (write arn:aws:iam::ACCOUNT:policy/NAME)")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value):
        # IAM: "/" alone, or "/" + segments + "/", at most 512 characters of printable ASCII.
        if value is not None and not (len(value) <= 512 and re.fullmatch(r"/([\x21-\x7e]+/)?", value)):
            raise ValueError("an IAM path starts and ends with / (write /avgen/)")
        return value


class LambdaDefaults(Strict):
    memory: Optional[MemoryMB] = None
    timeout: Optional[TimeoutS] = None
    ephemeral_storage: Optional[EphemeralMB] = None
    timeout_threshold: Optional[Annotated[int, Field(ge=0, le=899)]] = None
    log_level: Optional[Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]] = None
    batch_on_failure: Optional[bool] = None
    log_retention_days: Optional[int] = None

    _retention = field_validator("log_retention_days")(_check_retention)


class BatchDefaults(Strict):
    vcpus: Optional[Annotated[int, Field(ge=1)]] = None
    memory: Optional[Annotated[int, Field(ge=128)]] = None
    compute_type: Optional[Literal["EC2", "SPOT"]] = None
    max_vcpus: Optional[Annotated[int, Field(ge=1)]] = None
    instance_types: Optional[list[str]] = None
    subnets: Optional[list[str]] = None
    security_group_ids: Optional[list[str]] = None
    job_timeout: Optional[Annotated[int, Field(ge=60)]] = None
    retry_attempts: Optional[Annotated[int, Field(ge=1, le=10)]] = None
    runnable_timeout: Optional[Annotated[int, Field(ge=600, le=86400)]] = None


class DefaultsSpec(Strict):
    lambda_: Optional[LambdaDefaults] = Field(default=None, alias="lambda")
    batch: Optional[BatchDefaults] = None


class AvgenSettingsSpec(Strict):
    region: Optional[str] = None
    name_prefix: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    backend: Optional[BackendSpec] = None
    buckets: dict[str, BucketSpec] = Field(default_factory=dict)
    alerts: Optional[AlertsSpec] = None
    iam: Optional[IamSettingsSpec] = None
    defaults: Optional[DefaultsSpec] = None


class WorkflowSpec(Strict):
    functions: FunctionsSpec
    storage_providers: Optional[StorageProvidersSpec] = None
    avgen: Optional[AvgenSettingsSpec] = None
