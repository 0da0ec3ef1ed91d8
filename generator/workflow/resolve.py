"""One entry of `functions: aws:` resolved into a model Function: settings taken from the entry, else from
avgen.defaults, else avgen's own defaults. Each check on what it resolves is a rule's (generator/workflow/rules/),
handed the value and its place."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from generator.workflow import model as m
from generator.workflow.findings import Finding, Location, Place, Severity
from generator.workflow.rules import (
    batch_settings_unused,
    environment_too_large,
    ignored_setting,
    inline_credentials,
    invalid_value,
    missing_image,
    script_not_found,
    timeout_threshold,
    unknown_storage_provider,
    unsafe_script,
)
from generator.workflow.schema import EnvironmentSpec, FunctionEntry, LambdaSpec, StorageItem


def value_of(obj: Any, name: str, default: Any = None) -> Any:
    """`obj.name`, or `default` where `obj` is missing or the value is None."""
    value = getattr(obj, name) if obj is not None else None
    return default if value is None else value


def pick(value: Any, defaults: Any, name: str, fallback: Any) -> Any:
    """A setting as written, else from avgen.defaults, else avgen's own default."""
    if value is None:
        value = getattr(defaults, name, None) if defaults is not None else None
    return fallback if value is None else value


class FunctionResolver:
    """Resolves the functions of one workflow; the findings of its checks go to `findings`. `place` makes a
    Place from a path of keys in the document; `path`: the workflow file; `script_folder`: the folder an
    init_script must lie in."""

    def __init__(self, findings: list[Finding], place: Callable[[tuple], Place], path: Path, script_folder: Path):
        self.findings = findings
        self.place = place
        self.path = path
        self.script_folder = script_folder

    def _errors(self) -> int:
        return sum(f.severity is Severity.ERROR for f in self.findings)

    def resolve(self, index: int, entry: FunctionEntry, name_prefix: str, defaults: Any,
                provider_ids: dict) -> m.Function | None:
        spec = entry.lambda_
        place = self.place(("functions", "aws", index))
        base = place / "lambda"
        lambda_defaults = value_of(defaults, "lambda_")
        errors_before = self._errors()
        self.findings += invalid_value.function_name(spec.name, f"{name_prefix}{spec.name}", base / "name")
        self.findings += missing_image.missing(spec, base)
        self.findings += ignored_setting.lambda_settings(spec, base)
        mode = spec.execution_mode or m.DEFAULT_EXECUTION_MODE
        timeout = pick(spec.timeout, lambda_defaults, "timeout", m.DEFAULT_TIMEOUT_S)
        threshold = self._threshold(spec, lambda_defaults, timeout, base)
        environment = self._environment(spec, base)
        script = self._script(spec, base / "init_script")
        inputs, outputs = self._paths(spec, base, provider_ids)
        uses_batch = mode in ("batch", "lambda-batch")
        self.findings += batch_settings_unused.unused(entry, mode, uses_batch, place / "batch")
        batch = self._batch_settings(entry, index, value_of(defaults, "batch")) if uses_batch else None
        retention = value_of(lambda_defaults, "log_retention_days") or m.DEFAULT_LOG_RETENTION_DAYS
        self.findings += ignored_setting.boundary_policy(entry.iam, place / "iam")
        if self._errors() > errors_before:
            return None
        function = m.Function(
            name=spec.name,
            resource_name=f"{name_prefix}{spec.name}",
            image=value_of(spec.container, "image") or "",
            script=script,
            execution_mode=mode,
            memory=pick(spec.memory, lambda_defaults, "memory", m.DEFAULT_MEMORY_MB),
            timeout=timeout,
            timeout_threshold=threshold,
            ephemeral_storage=pick(spec.ephemeral_storage, lambda_defaults, "ephemeral_storage",
                                   m.DEFAULT_EPHEMERAL_MB),
            log_level=pick(spec.log_level, lambda_defaults, "log_level", m.DEFAULT_LOG_LEVEL),
            environment=environment,
            inputs=inputs,
            outputs=outputs,
            iam_role=value_of(entry.iam, "role") or None,
            batch=batch,
            log_retention_days=value_of(entry.cloudwatch, "log_retention_policy_in_days") or retention,
            reserved_concurrency=spec.reserved_concurrency,
            batch_on_failure=pick(spec.batch_on_failure, lambda_defaults, "batch_on_failure", False),
            description=spec.description or "",
            tags=dict(sorted(spec.tags.items())),
            location=base.location(key=True),
            script_folder=self.script_folder.resolve() if script else None,
        )
        too_large = environment_too_large.too_large(function, self._environment_place(spec, base))
        if too_large:
            self.findings.append(too_large)
            return None
        return function

    @staticmethod
    def _environment_place(spec: LambdaSpec, base: Place) -> Place:
        if spec.container and spec.container.environment:
            return base + ("container", "environment")
        return base / "environment" if spec.environment else base

    def _threshold(self, spec: LambdaSpec, lambda_defaults: Any, timeout: int, base: Place) -> int:
        written = value_of(spec.container, "timeout_threshold")
        threshold = pick(written, lambda_defaults, "timeout_threshold", m.DEFAULT_TIMEOUT_THRESHOLD_S)
        place = base + ("container", "timeout_threshold") if written is not None else base / "timeout"
        self.findings += timeout_threshold.no_time_left(threshold, timeout, place)
        return threshold

    def _script(self, spec: LambdaSpec, place: Place) -> Path | None:
        """The init_script's resolved path (None where there is none, or none can be)."""
        if not spec.init_script:
            return None
        try:
            script = (self.path.parent / spec.init_script).resolve()
            problem = m.script_problem(script, self.script_folder)
            found = script.is_file()
        except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte, a name too long, a symlink loop
            self.findings.append(invalid_value.script_path(spec.init_script, exc, place))
            return None
        self.findings += unsafe_script.unsafe(spec.init_script, problem, place)
        if not problem:
            self.findings += script_not_found.missing(spec.init_script, script, found, place)
        return script

    def _environment(self, spec: LambdaSpec, base: Place) -> dict[str, str]:
        """Lambda-level variables, then the container's (SCAR's order: the container's win)."""
        merged = self._checked_variables(spec.environment, base + ("environment", "Variables"))
        merged.update(self._checked_variables(value_of(spec.container, "environment"),
                                              base + ("container", "environment", "Variables")))
        return dict(sorted(merged.items()))

    def _checked_variables(self, env: EnvironmentSpec | None, place: Place) -> dict[str, str]:
        """An `environment: {Variables: …}` section as text, each name checked, secret-looking values flagged;
        the same for the Lambda's and the Batch job's, which both land in plain task/function settings."""
        variables: dict[str, str] = {}
        for name, value in (env.Variables.items() if env is not None else ()):
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            problem = invalid_value.variable_name(name, place / name) or \
                inline_credentials.variable(name, text, place / name)
            if problem:
                self.findings.append(problem)
            variables[name] = text
        return variables

    def _paths(self, spec: LambdaSpec, base: Place, provider_ids: dict) -> tuple[tuple[m.StoragePath, ...], ...]:
        inputs = tuple(self._storage_path(item, base + ("input", i), provider_ids) for i, item in enumerate(spec.input))
        outputs = tuple(self._storage_path(item, base + ("output", i), provider_ids)
                        for i, item in enumerate(spec.output))
        for i, item in enumerate(spec.input):
            self.findings += ignored_setting.input_filters(item, base + ("input", i))
        for i, output in enumerate(outputs):
            self.findings += ignored_setting.output_storage(output, spec.output[i].storage_provider,
                                                            base + ("output", i))
        return inputs, outputs

    def _storage_path(self, item: StorageItem, place: Place, provider_ids: dict) -> m.StoragePath:
        provider, _, ident = item.storage_provider.partition(".")
        ident = ident or "default"
        where = place / "storage_provider"
        problem = invalid_value.provider_type(provider, item.storage_provider, where) or \
            unknown_storage_provider.undefined(provider, ident, item.storage_provider, provider_ids, where)
        if problem:
            self.findings.append(problem)
        parts = [p for p in item.path.strip().split("/") if p]
        bucket = parts[0] if parts else ""
        self.findings += invalid_value.bucket_name(provider, bucket, item.path, place / "path")
        return m.StoragePath(provider, ident, bucket, "/".join(parts[1:]), tuple(item.prefix), tuple(item.suffix),
                             place.location(), request_id_folder=item.request_id_folder)

    def _batch_settings(self, entry: FunctionEntry, index: int, defaults: Any) -> m.BatchSettings:
        spec = entry.batch
        compute = value_of(spec, "compute_resources")
        place = self.place(("functions", "aws", index, "batch"))
        self.findings += invalid_value.gpus_without_gpu(spec, place)
        min_vcpus = value_of(compute, "min_v_cpus", m.DEFAULT_MIN_VCPUS)
        max_vcpus = pick(value_of(compute, "max_v_cpus"), defaults, "max_vcpus", m.DEFAULT_MAX_VCPUS)
        desired = value_of(compute, "desired_v_cpus", min_vcpus)
        self.findings += invalid_value.vcpu_order(min_vcpus, desired, max_vcpus, place / "compute_resources")
        self.findings += ignored_setting.multi_node(spec, place)
        instance_types = tuple(pick(value_of(compute, "instance_types"), defaults, "instance_types",
                                    m.DEFAULT_INSTANCE_TYPES))
        types_place = self._types_place(compute, defaults, place)
        self.findings += invalid_value.no_instance_types(
            instance_types, types_place or self.place(("avgen", "defaults", "batch", "instance_types")))
        type_locations: dict[str, Location] = {}
        if types_place is not None:
            for i, instance_type in enumerate(instance_types):
                type_locations.setdefault(instance_type, (types_place / i).location())
        environment = self._checked_variables(value_of(spec, "environment"), place + ("environment", "Variables"))
        return m.BatchSettings(
            vcpus=pick(value_of(spec, "vcpus"), defaults, "vcpus", m.DEFAULT_BATCH_VCPUS),
            memory=pick(value_of(spec, "memory"), defaults, "memory", m.DEFAULT_BATCH_MEMORY_MIB),
            gpus=_gpus(spec),
            environment=dict(sorted(environment.items())),
            compute_type=pick(value_of(compute, "type"), defaults, "compute_type", m.DEFAULT_COMPUTE_TYPE),
            min_vcpus=min_vcpus,
            max_vcpus=max_vcpus,
            desired_vcpus=desired,
            instance_types=instance_types,
            subnets=tuple(pick(value_of(compute, "subnets"), defaults, "subnets", ())),
            security_group_ids=tuple(pick(value_of(compute, "security_group_ids"), defaults, "security_group_ids", ())),
            job_timeout=pick(value_of(spec, "job_timeout"), defaults, "job_timeout", m.DEFAULT_JOB_TIMEOUT_S),
            retry_attempts=pick(value_of(spec, "retry_attempts"), defaults, "retry_attempts", m.DEFAULT_RETRY_ATTEMPTS),
            runnable_timeout=value_of(defaults, "runnable_timeout") or m.DEFAULT_RUNNABLE_TIMEOUT_S,
            state=value_of(spec, "state") or "ENABLED",
            root_volume_size=pick(value_of(spec, "root_volume_size"), defaults, "root_volume_size",
                                  m.DEFAULT_ROOT_VOLUME_GIB),
            location=(place if spec else self.place(("functions", "aws", index, "lambda"))).location(key=True),
            instance_type_locations=type_locations,
        )

    def _types_place(self, compute: Any, defaults: Any, place: Place) -> Place | None:
        """Where the instance types are written: the function's own, else avgen.defaults' (None: avgen's)."""
        if value_of(compute, "instance_types") is not None:
            return place + ("compute_resources", "instance_types")
        if value_of(defaults, "instance_types") is not None:
            return self.place(("avgen", "defaults", "batch", "instance_types"))
        return None


def _gpus(spec: Any) -> int:
    """GPUs per job: `gpus`, or one for `enable_gpu` alone (none where the two contradict each other)."""
    if spec is None or (spec.gpus and spec.enable_gpu is False):
        return 0
    return (spec.gpus or 1) if (spec.enable_gpu or spec.gpus) else 0
