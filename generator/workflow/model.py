"""The resolved workflow: defaults filled, paths split, names checked.

This is the one model that the renderer, the runtime's configuration and the local runner read. It is
built by generator/workflow/load.py from the file as written (generator/workflow/schema.py).
"""
from __future__ import annotations

import json
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from generator.workflow.findings import Location
from lambda_src.config import FunctionConfig, InputConfig, OutputConfig, output_accepts

# Where SCAR's defaults (docs/workflow-format.md) and avgen's own live, in one place.
DEFAULT_REGION = "us-east-1"
DEFAULT_MEMORY_MB = 512
DEFAULT_TIMEOUT_S = 300
DEFAULT_TIMEOUT_THRESHOLD_S = 10
DEFAULT_EPHEMERAL_MB = 512
DEFAULT_LOG_LEVEL = "INFO"
DEFAULT_EXECUTION_MODE = "lambda"
DEFAULT_LOG_RETENTION_DAYS = 30
DEFAULT_BATCH_VCPUS = 1
DEFAULT_BATCH_MEMORY_MIB = 1024
DEFAULT_COMPUTE_TYPE = "EC2"
DEFAULT_MIN_VCPUS = 0
DEFAULT_MAX_VCPUS = 2
# SCAR's default was m3.medium, a retired generation; "optimal" lets Batch choose current C/M/R types.
DEFAULT_INSTANCE_TYPES = ("optimal",)
DEFAULT_JOB_TIMEOUT_S = 3600
DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_RUNNABLE_TIMEOUT_S = 3600
# GiB of a Batch instance's root volume: the ECS AMIs' 30 leave little room for GPU images (CUDA layers, models)
# pulled and unpacked side by side
DEFAULT_ROOT_VOLUME_GIB = 100

TRIGGER_PROVIDERS = ("s3",)


@dataclass(frozen=True, slots=True)
class StoragePath:
    """One `input`/`output` item: `path` split into bucket and folders."""

    provider: str  # s3, minio, onedata
    provider_id: str  # "default" or the ID under storage_providers.<provider>
    bucket: str
    prefix: str  # folders without slashes at either end; "" at the bucket root
    prefix_filters: tuple[str, ...] = ()
    suffix_filters: tuple[str, ...] = ()
    location: Location | None = field(default=None, compare=False)
    # outputs only: each invocation writes under `prefix/REQUEST_ID/` (SCAR 3.x; see docs/workflow-format.md)
    request_id_folder: bool = False

    @property
    def key_prefix(self) -> str:
        """The key prefix objects under this path share: "folders/" or "" at the bucket root."""
        return f"{self.prefix}/" if self.prefix else ""

    @property
    def is_s3(self) -> bool:
        return self.provider in TRIGGER_PROVIDERS

    @property
    def uri(self) -> str:
        """s3://bucket/folders/ for S3; minio.ID://bucket/folders/ (as in `avgen graph`) for the others."""
        scheme = "s3" if self.is_s3 else f"{self.provider}.{self.provider_id}"
        return f"{scheme}://{self.bucket}/{self.key_prefix}" + ("<request-id>/" if self.request_id_folder else "")

    def contains_key(self, key: str) -> bool:
        return key.startswith(self.key_prefix)

    def triggers_on(self, key: str) -> bool:
        """Whether an object created at `key` in this bucket fires this input's S3 notification."""
        return self.contains_key(key) and (
            not self.suffix_filters or any(key.endswith(s) for s in self.suffix_filters)
        )

    def accepts(self, relative_path: str) -> bool:
        """SCAR's output filter, as the runtime applies it."""
        return output_accepts(relative_path, self.prefix_filters, self.suffix_filters)


@dataclass(frozen=True, slots=True)
class BatchSettings:
    vcpus: int
    memory: int  # MiB
    gpus: int  # 0 when no GPU is asked for
    environment: Mapping[str, str]
    compute_type: str  # EC2 | SPOT
    min_vcpus: int
    max_vcpus: int
    desired_vcpus: int
    instance_types: tuple[str, ...]
    subnets: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    job_timeout: int  # seconds
    retry_attempts: int
    runnable_timeout: int  # seconds a job may wait RUNNABLE before the queue cancels it
    state: str = "ENABLED"
    root_volume_size: int = DEFAULT_ROOT_VOLUME_GIB
    location: Location | None = field(default=None, compare=False)
    # where each instance type is written (in the function or in avgen.defaults.batch); empty for defaults
    instance_type_locations: Mapping[str, Location] = field(default_factory=dict, compare=False)

    @property
    def uses_gpu(self) -> bool:
        return self.gpus > 0

    def instance_type_location(self, instance_type: str) -> Location | None:
        """Where `instance_type` is written; the `batch:` section when it is avgen's default."""
        return self.instance_type_locations.get(instance_type, self.location)


# what a script that is not a regular file is, for script_problem's message
_FILE_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISDIR, "a folder"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def script_problem(script: Path, folder: Path) -> str:
    """Why `script` cannot be a function's init_script, or "" when it can, or does not exist (script-not-found).

    It must be a regular file inside `folder` (the workflow file's folder, or one under it), checked once
    every symlink is resolved: anything else would block the runtime that reads it (a FIFO, a device) or put
    a file of this machine into the function's image (`/etc/shadow`, `../../.ssh/id_rsa`). Raises OSError,
    ValueError or RuntimeError (a symlink loop) when the path cannot be resolved at all."""
    resolved, root = Path(script).resolve(), Path(folder).resolve()
    if not resolved.is_relative_to(root):
        return f"leads out of the workflow file's folder {root} (to {resolved})"
    try:
        mode = resolved.stat().st_mode
    except OSError:  # missing, or not ours to look at: as a missing file, script-not-found says so
        return ""
    if stat.S_ISREG(mode):
        return ""
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "a special file")
    return f"is {kind}, not a regular file (the script)"


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    resource_name: str  # name_prefix + name: the name of its AWS resources
    image: str
    script: Path | None  # absolute; None when the image's own entrypoint does the work
    execution_mode: str  # lambda | batch | lambda-batch
    memory: int
    timeout: int
    timeout_threshold: int
    ephemeral_storage: int
    log_level: str
    environment: Mapping[str, str]
    inputs: tuple[StoragePath, ...]
    outputs: tuple[StoragePath, ...]
    iam_role: str | None
    batch: BatchSettings | None
    log_retention_days: int
    reserved_concurrency: int | None
    batch_on_failure: bool
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    location: Location | None = field(default=None, compare=False)
    # the folder `script` must lie in (script_problem): that of the workflow file that names it, resolved
    script_folder: Path | None = field(default=None, compare=False)

    @property
    def uses_batch(self) -> bool:
        return self.execution_mode in ("batch", "lambda-batch")

    @property
    def uses_gpu(self) -> bool:
        return bool(self.batch and self.batch.uses_gpu)

    @property
    def triggers(self) -> tuple[StoragePath, ...]:
        """The inputs that can trigger it on AWS (S3 event notifications)."""
        return tuple(p for p in self.inputs if p.is_s3)

    @property
    def model_locations(self) -> tuple[tuple[str, str], ...]:
        """(bucket, key prefix) of every `s3://` location in the function's (or its job's) environment:
        model files and reference data the role must be able to read (YOLO_WEIGHTS, WHISPER_MODEL, …)."""
        values = [*self.environment.values(), *(self.batch.environment.values() if self.batch else ())]
        found = set()
        for value in values:
            if isinstance(value, str) and value.startswith("s3://"):
                bucket, _, key = value[len("s3://"):].partition("/")
                if bucket:
                    found.add((bucket, key))
        return tuple(sorted(found))

    @property
    def where_it_runs(self) -> str:
        if self.execution_mode == "lambda":
            return "Lambda"
        kind = "Batch-GPU" if self.uses_gpu else "Batch"
        return f"Lambda→{kind}" if self.execution_mode == "lambda-batch" else kind

    def runtime_config(self) -> dict:
        """What the runtime reads from AVGEN_FUNCTION (lambda_src/config.py owns the shape); small, to stay far
        below Lambda's 4 KB of variables. Only S3 paths: the runtime reaches storage through the function's
        role (the ignored-setting and cannot-trigger rules warn about the others)."""
        return FunctionConfig(
            name=self.resource_name,
            execution_mode=self.execution_mode,
            log_level=self.log_level,
            timeout_threshold=self.timeout_threshold,
            batch_on_failure=self.batch_on_failure,
            inputs=tuple(InputConfig(p.bucket, p.prefix, p.provider) for p in self.inputs if p.is_s3),
            outputs=tuple(OutputConfig(p.bucket, p.prefix, tuple(p.prefix_filters), tuple(p.suffix_filters),
                                       p.provider, p.request_id_folder) for p in self.outputs if p.is_s3),
        ).to_dict()

    def runtime_config_json(self) -> str:
        return json.dumps(self.runtime_config(), separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    create: bool  # False: the bucket exists and avgen only adds notifications


# The reserved concurrency of a function that another function's outputs trigger (one upload fanned out into
# many objects must not take the account's whole pool); avgen.defaults.lambda.fan_out_concurrency.
FAN_OUT_CONCURRENCY = 10

# The content-tagged images (`ctx-…`, generator/deploy/build.py) each function's ECR repository keeps, newest
# first; older ones expire. avgen.defaults.lambda.kept_images.
KEPT_IMAGES = 10

# What to write when a workflow has no avgen.backend (the no-state-backend rule, and the refusal of plan/apply on AWS).
BACKEND_HINT = ("add `avgen: {backend: {type: s3, bucket: my-terraform-state, key: workflows/NAME.tfstate, "
                "region: us-east-1, use_lockfile: true}}`, or `backend: {type: local}` to keep the state on this "
                "machine on purpose")


@dataclass(frozen=True, slots=True)
class Backend:
    type: str  # s3 | local
    config: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Settings:
    region: str
    name_prefix: str
    tags: Mapping[str, str]
    backend: Backend | None
    alerts_enabled: bool
    alert_email: str | None
    # avgen.iam: the IAM path and permissions boundary of every role avgen creates
    role_path: str = "/"
    permissions_boundary: str | None = None
    # avgen.allow_default_vpc: Batch in the default VPC is chosen on purpose (default-vpc: a note, not a warning)
    allow_default_vpc: bool = False
    # avgen.aws_provider_major: the one hashicorp/aws major versions.tf admits (5: ~> 5.100, 6: ~> 6.0)
    aws_provider_major: int = 5
    # avgen.defaults.lambda.fan_out_concurrency: the reserved concurrency of functions that another function's
    # outputs trigger and that set none themselves (one upload fanned out must not take the account's pool)
    fan_out_concurrency: int = FAN_OUT_CONCURRENCY
    # avgen.defaults.lambda.kept_images: the newest content-tagged images each ECR repository keeps
    kept_images: int = KEPT_IMAGES
    # avgen.kms_key_arn: the customer-managed key of what avgen creates; None: AWS-managed encryption
    kms_key_arn: str | None = None


@dataclass(frozen=True, slots=True)
class Workflow:
    source: Path
    source_sha256: str
    settings: Settings
    functions: tuple[Function, ...]
    buckets: tuple[Bucket, ...]  # every bucket an S3 path names, sorted by name
    storage_providers: Mapping[str, tuple[str, ...]]  # provider -> IDs; credentials are never kept
    # a workflow given as several files (`avgen validate A.yaml B.yaml`): all of them, sorted; `source` is
    # the first. Empty for one file.
    sources: tuple[Path, ...] = ()
    given_name: str = ""  # avgen.name, or the joined names of several files (load.py)

    @property
    def name(self) -> str:
        if self.given_name:
            return self.given_name
        return self.source.parent.name if self.source.stem == "workflow" else self.source.stem

    @property
    def source_label(self) -> str:
        """The input named in generated files' headers: the file, or `a.yaml + b.yaml`."""
        return " + ".join(p.name for p in self.sources) if self.sources else self.source.name

    def function(self, name: str) -> Function:
        for function in self.functions:
            if function.name == name:
                return function
        raise KeyError(name)

    def consumers_of(self, bucket: str, key: str) -> list[Function]:
        """The functions an object written at bucket/key triggers."""
        return [
            f for f in self.functions if any(t.bucket == bucket and t.triggers_on(key) for t in f.triggers)
        ]
