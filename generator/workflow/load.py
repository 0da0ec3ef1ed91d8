"""Load a workflow file: YAML → legacy forms → strict schema → resolved model → checks.

This module reads and resolves only; every check, those made while reading included, lives with its rule
id in generator/workflow/rules/ and is handed the values with their places (`Place`), so that it can say
where. `load_workflow` never raises for bad input and never prints: everything wrong comes back as findings.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from pydantic import ValidationError

from generator.workflow import model as m
from generator.workflow import scar3
from generator.workflow.findings import Finding, Location, Place, Severity, has_errors, sorted_findings
from generator.workflow.rules import (batch_settings_unused, duplicate_function, environment_too_large,
                                      ignored_setting, inline_credentials, invalid_value, legacy_form,
                                      missing_image, missing_key, no_state_backend, out_of_scope,
                                      region_conflict, run_checks, scar3_map_form, script_not_found, tag_limits,
                                      timeout_threshold, unknown_storage_provider, unsafe_script,
                                      unused_bucket_setting, wrong_type, yaml_syntax)
from generator.workflow.rules.schema_errors import schema_findings
from generator.workflow.rules.waivers import apply_waivers
from generator.workflow.schema import EnvironmentSpec, FunctionEntry, LambdaSpec, StorageItem, WorkflowSpec
from generator.workflow.source import SourceDocument, YamlSyntaxError, gc_paused, parse_text, read_document, to_plain


@dataclass
class LoadResult:
    workflow: Optional[m.Workflow]
    findings: list[Finding] = field(default_factory=list)
    file: str = ""
    # findings that a `# avgen:waive` comment in the file waives (Finding.waiver holds its reason)
    waived: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.workflow is not None and not has_errors(self.findings)


def load_workflow(path: Path | str | Sequence[Path | str], *, run_rules: bool = True) -> LoadResult:
    """One workflow file, or several given together (see `load_workflows`)."""
    if not isinstance(path, (str, Path)):
        files = list(path)
        if len(files) != 1:
            return load_workflows(files, run_rules=run_rules)
        path = files[0]
    path = Path(path)
    try:
        document = read_document(path)
    except YamlSyntaxError as exc:
        return LoadResult(None, [yaml_syntax.unreadable(exc)], str(path))
    return _load_document(document, path, run_rules)


def load_text(text: str, path: Path | str = "workflow.yaml", *, run_rules: bool = True) -> LoadResult:
    """Load from text (tests, stdin); relative script paths resolve against `path`'s folder."""
    path = Path(path)
    try:
        document = parse_text(text, str(path))
    except YamlSyntaxError as exc:
        return LoadResult(None, [yaml_syntax.unreadable(exc)], str(path))
    return _load_document(document, path, run_rules)


def _load_document(document: SourceDocument, path: Path, run_rules: bool) -> LoadResult:
    loader = _Loader(document, path)
    findings = _loaded(loader, run_rules)
    counted, waived = apply_waivers(document.text, document.file, findings)
    return LoadResult(loader.workflow, sorted_findings(counted), str(path), sorted_findings(waived))


def _loaded(loader: _Loader, run_rules: bool) -> list[Finding]:
    """Load, then run the checks on the resolved workflow when loading found no error."""
    with gc_paused():
        loader.workflow = loader.load()
        findings = loader.findings
        if loader.workflow is not None and run_rules and not has_errors(findings):
            findings.extend(run_checks(loader.workflow))
    return findings


def load_workflows(paths: Sequence[Path | str], *, run_rules: bool = True) -> LoadResult:
    """Several files that make one workflow (SCAR 3.x deployed one function per file): their functions,
    `storage_providers` and `avgen` sections merged, checked as one; each finding keeps its own file's
    path:line:col. Files are taken in sorted order of their resolved paths, so that neither the order they
    are given in nor how their paths are spelled changes the result. `LoadResult.file` is the first file."""
    from generator.workdirs import distinct_files, workflow_name

    files = distinct_files(paths)
    if len(files) == 1:
        return load_workflow(files[0], run_rules=run_rules)
    parts: list[_Loader] = []
    failed: list[Finding] = []
    for file in files:
        try:
            parts.append(_Loader(read_document(file), file))
        except YamlSyntaxError as exc:
            failed.append(yaml_syntax.unreadable(exc))
    if failed:
        return LoadResult(None, sorted_findings(failed), str(files[0]))
    loader = _Combined(parts, "+".join(sorted(workflow_name(f) for f in files)))
    findings = _loaded(loader, run_rules)
    counted: list[Finding] = []
    waived: list[Finding] = []
    for part in parts:  # each file's waiver comments apply to its own findings
        mine = [f for f in findings if f.location.file == part.doc.file]
        kept, dropped = apply_waivers(part.doc.text, part.doc.file, mine)
        counted += kept
        waived += dropped
    counted += [f for f in findings if f.location.file not in {p.doc.file for p in parts}]
    return LoadResult(loader.workflow, sorted_findings(counted), str(files[0]), sorted_findings(waived))


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """`obj.name`, or `default` where `obj` is missing or the value is None."""
    value = getattr(obj, name) if obj is not None else None
    return default if value is None else value


def _pick(value: Any, defaults: Any, name: str, fallback: Any) -> Any:
    """A setting as written, else from avgen.defaults, else avgen's own default."""
    if value is None:
        value = getattr(defaults, name, None) if defaults is not None else None
    return fallback if value is None else value


class _Loader:
    def __init__(self, document: SourceDocument, path: Path):
        self.doc = document
        self.path = path
        self.findings: list[Finding] = []
        self.workflow: Optional[m.Workflow] = None
        # where a key moved by a legacy rewrite was written, so errors point at the user's text
        self.renamed: dict[tuple, tuple] = {}

    # -- places ------------------------------------------------------------------------------------
    def at(self, loc: tuple, *, key: bool = False) -> Location:
        for new, old in self.renamed.items():
            if loc[: len(new)] == new:
                loc = old + loc[len(new):]
                break
        return self.doc.locate(loc, key=key)

    def place(self, path: tuple = ()) -> Place:
        return Place(path, self._locate)

    def _locate(self, path: tuple, key: bool) -> Location:
        return self.at(path, key=key)

    def _errors(self) -> int:
        return sum(f.severity is Severity.ERROR for f in self.findings)

    # -- phases ------------------------------------------------------------------------------------
    def load(self) -> Optional[m.Workflow]:
        data = to_plain(self.doc.root)
        if data is None:
            self.findings.append(missing_key.empty_file(self.place()))
            return None
        if not isinstance(data, dict):
            self.findings.append(wrong_type.not_a_mapping(data, self.place()))
            return None
        return self._validated(self._rewrite_legacy(data))

    def _rewrite_legacy(self, data: dict) -> dict:
        if scar3.is_map_form(data):
            data, found = scar3_map_form.rewrite(data, self.place(), self.renamed)
            self.findings += found
        functions = data.get("functions")
        self.findings += out_of_scope.oscar(functions, self.place(("functions", "oscar")))
        entries = functions.get("aws") if isinstance(functions, dict) else None
        for index, entry in enumerate(entries if isinstance(entries, list) else ()):
            place = self.place(("functions", "aws", index))
            self.findings += legacy_form.rewrite(entry, place, self.renamed)
            self.findings += out_of_scope.api_gateway(entry, place)
        return data

    def _validated(self, data: dict) -> Optional[m.Workflow]:
        try:
            spec = WorkflowSpec.model_validate(data)
        except ValidationError as exc:
            self.findings += schema_findings(exc, data, self.place())
            return None
        return self._resolve(spec)

    # -- resolution --------------------------------------------------------------------------------
    def _resolve(self, spec: WorkflowSpec) -> Optional[m.Workflow]:
        avgen = spec.avgen
        providers = spec.storage_providers
        provider_ids = {kind: tuple(sorted(getattr(providers, kind))) if providers else ()
                        for kind in ("s3", "minio", "onedata")}
        self.findings += inline_credentials.providers(providers, self.place(("storage_providers",)))
        workflow_tags = _get(avgen, "tags", {})
        self.findings += tag_limits.refused(workflow_tags, self.place(("avgen", "tags")), tag_limits.AVGEN_TAG_KEYS)
        name_prefix = _get(avgen, "name_prefix", "")
        self.findings += invalid_value.name_prefix(name_prefix, self.place(("avgen", "name_prefix")))
        region = self._resolve_region(spec)
        functions = self._functions(spec, name_prefix, provider_ids, set(workflow_tags))

        used_buckets = sorted({p.bucket for f in functions for p in (*f.inputs, *f.outputs) if p.is_s3})
        bucket_specs = _get(avgen, "buckets", {})
        self.findings += unused_bucket_setting.unused(bucket_specs, used_buckets, self.place(("avgen", "buckets")))
        buckets = tuple(m.Bucket(name, bucket_specs[name].create if name in bucket_specs else True)
                        for name in used_buckets)
        backend = _get(avgen, "backend")
        self.findings += missing_key.s3_backend(backend, self.place(("avgen", "backend")))
        if has_errors(self.findings):
            return None
        self.findings += no_state_backend.missing(backend, self.place(("avgen",) if avgen else ()))
        return m.Workflow(
            source=self.path.resolve(),
            source_sha256=self.digest(),
            sources=self.sources(),
            settings=_settings(avgen, region, name_prefix),
            functions=tuple(functions),
            buckets=buckets,
            storage_providers={k: v for k, v in provider_ids.items() if v},
            given_name=_get(avgen, "name") or self.default_name(),
        )

    def digest(self) -> str:
        return self.doc.sha256

    def sources(self) -> tuple[Path, ...]:
        return ()

    def default_name(self) -> str:
        return ""

    def _resolve_region(self, spec: WorkflowSpec) -> str:
        if spec.avgen and spec.avgen.region:
            region, place = spec.avgen.region, self.place(("avgen", "region"))
        else:
            asked: dict[str, Place] = {}  # each region, where it is first asked for
            for index, entry in enumerate(spec.functions.aws):
                if entry.lambda_.region:
                    asked.setdefault(entry.lambda_.region, self.place(("functions", "aws", index, "lambda", "region")))
            self.findings += region_conflict.regions(asked)
            region, place = (min(asked), asked[min(asked)]) if asked else (m.DEFAULT_REGION, self.place(("avgen",)))
        self.findings += invalid_value.region(region, place)
        return region

    def _functions(self, spec: WorkflowSpec, name_prefix: str, provider_ids: dict,
                   workflow_tags: set[str]) -> list[m.Function]:
        functions: list[m.Function] = []
        names: list[tuple[int, str, Place]] = []
        for index, entry in enumerate(spec.functions.aws):
            place = self.place(("functions", "aws", index, "lambda"))
            self.findings += tag_limits.refused(entry.lambda_.tags, place / "tags",
                                                tag_limits.AVGEN_TAG_KEYS | workflow_tags)
            function = self._resolve_function(index, entry, name_prefix, _get(spec.avgen, "defaults"), provider_ids)
            if function is not None:
                names.append((index, function.name, place / "name"))
                functions.append(function)
        self.findings += duplicate_function.duplicates(names)
        self.findings += missing_key.no_functions(len(spec.functions.aws), self.place(("functions",)))
        return functions

    def _resolve_function(self, index: int, entry: FunctionEntry, name_prefix: str, defaults: Any,
                          provider_ids: dict) -> Optional[m.Function]:
        spec = entry.lambda_
        place = self.place(("functions", "aws", index))
        base = place / "lambda"
        lambda_defaults = _get(defaults, "lambda_")
        errors_before = self._errors()
        self.findings += invalid_value.function_name(spec.name, f"{name_prefix}{spec.name}", base / "name")
        self.findings += missing_image.missing(spec, base)
        self.findings += ignored_setting.lambda_settings(spec, base)
        mode = spec.execution_mode or m.DEFAULT_EXECUTION_MODE
        timeout = _pick(spec.timeout, lambda_defaults, "timeout", m.DEFAULT_TIMEOUT_S)
        threshold = self._threshold(spec, lambda_defaults, timeout, base)
        environment = self._environment(spec, base)
        script, script_folder = self._script(spec, index, base / "init_script")
        inputs, outputs = self._paths(spec, base, provider_ids)
        uses_batch = mode in ("batch", "lambda-batch")
        self.findings += batch_settings_unused.unused(entry, mode, uses_batch, place / "batch")
        batch = self._batch_settings(entry, index, _get(defaults, "batch")) if uses_batch else None
        retention = _get(lambda_defaults, "log_retention_days") or m.DEFAULT_LOG_RETENTION_DAYS
        self.findings += ignored_setting.boundary_policy(entry.iam, place / "iam")
        if self._errors() > errors_before:
            return None
        function = m.Function(
            name=spec.name,
            resource_name=f"{name_prefix}{spec.name}",
            image=_get(spec.container, "image") or "",
            script=script,
            execution_mode=mode,
            memory=_pick(spec.memory, lambda_defaults, "memory", m.DEFAULT_MEMORY_MB),
            timeout=timeout,
            timeout_threshold=threshold,
            ephemeral_storage=_pick(spec.ephemeral_storage, lambda_defaults, "ephemeral_storage",
                                    m.DEFAULT_EPHEMERAL_MB),
            log_level=_pick(spec.log_level, lambda_defaults, "log_level", m.DEFAULT_LOG_LEVEL),
            environment=environment,
            inputs=inputs,
            outputs=outputs,
            iam_role=_get(entry.iam, "role") or None,
            batch=batch,
            log_retention_days=_get(entry.cloudwatch, "log_retention_policy_in_days") or retention,
            reserved_concurrency=spec.reserved_concurrency,
            batch_on_failure=_pick(spec.batch_on_failure, lambda_defaults, "batch_on_failure", False),
            description=spec.description or "",
            tags=dict(sorted(spec.tags.items())),
            location=base.location(key=True),
            script_folder=script_folder.resolve() if script else None,
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
        written = _get(spec.container, "timeout_threshold")
        threshold = _pick(written, lambda_defaults, "timeout_threshold", m.DEFAULT_TIMEOUT_THRESHOLD_S)
        place = base + ("container", "timeout_threshold") if written is not None else base / "timeout"
        self.findings += timeout_threshold.no_time_left(threshold, timeout, place)
        return threshold

    def _script(self, spec: LambdaSpec, index: int, place: Place) -> tuple[Optional[Path], Path]:
        """The init_script's resolved path (None if none can be) and the folder it must lie in."""
        folder = self._script_folder(index)
        if not spec.init_script:
            return None, folder
        try:
            script = (self.path.parent / spec.init_script).resolve()
            problem = m.script_problem(script, folder)
            found = script.is_file()
        except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte, a name too long, a symlink loop
            self.findings.append(invalid_value.script_path(spec.init_script, exc, place))
            return None, folder
        self.findings += unsafe_script.unsafe(spec.init_script, problem, place)
        if not problem:
            self.findings += script_not_found.missing(spec.init_script, script, found, place)
        return script, folder

    def _script_folder(self, index: int) -> Path:
        """The folder a function's init_script must lie in: that of the file that names it."""
        return self.path.parent

    def _environment(self, spec: LambdaSpec, base: Place) -> dict[str, str]:
        """Lambda-level variables, then the container's (SCAR's order: the container's win)."""
        merged = self._checked_variables(spec.environment, base + ("environment", "Variables"))
        merged.update(self._checked_variables(_get(spec.container, "environment"),
                                              base + ("container", "environment", "Variables")))
        return dict(sorted(merged.items()))

    def _checked_variables(self, env: Optional[EnvironmentSpec], place: Place) -> dict[str, str]:
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
        compute = _get(spec, "compute_resources")
        place = self.place(("functions", "aws", index, "batch"))
        self.findings += invalid_value.gpus_without_gpu(spec, place)
        min_vcpus = _get(compute, "min_v_cpus", m.DEFAULT_MIN_VCPUS)
        max_vcpus = _pick(_get(compute, "max_v_cpus"), defaults, "max_vcpus", m.DEFAULT_MAX_VCPUS)
        desired = _get(compute, "desired_v_cpus", min_vcpus)
        self.findings += invalid_value.vcpu_order(min_vcpus, desired, max_vcpus, place / "compute_resources")
        self.findings += ignored_setting.multi_node(spec, place)
        instance_types = tuple(_pick(_get(compute, "instance_types"), defaults, "instance_types",
                                     m.DEFAULT_INSTANCE_TYPES))
        types_place = self._types_place(compute, defaults, place)
        self.findings += invalid_value.no_instance_types(
            instance_types, types_place or self.place(("avgen", "defaults", "batch", "instance_types")))
        type_locations: dict[str, Location] = {}
        for i, instance_type in enumerate(instance_types if types_place else ()):
            type_locations.setdefault(instance_type, (types_place / i).location())
        environment = self._checked_variables(_get(spec, "environment"), place + ("environment", "Variables"))
        return m.BatchSettings(
            vcpus=_pick(_get(spec, "vcpus"), defaults, "vcpus", m.DEFAULT_BATCH_VCPUS),
            memory=_pick(_get(spec, "memory"), defaults, "memory", m.DEFAULT_BATCH_MEMORY_MIB),
            gpus=_gpus(spec),
            environment=dict(sorted(environment.items())),
            compute_type=_pick(_get(compute, "type"), defaults, "compute_type", m.DEFAULT_COMPUTE_TYPE),
            min_vcpus=min_vcpus,
            max_vcpus=max_vcpus,
            desired_vcpus=desired,
            instance_types=instance_types,
            subnets=tuple(_pick(_get(compute, "subnets"), defaults, "subnets", ())),
            security_group_ids=tuple(_pick(_get(compute, "security_group_ids"), defaults, "security_group_ids", ())),
            job_timeout=_pick(_get(spec, "job_timeout"), defaults, "job_timeout", m.DEFAULT_JOB_TIMEOUT_S),
            retry_attempts=_pick(_get(spec, "retry_attempts"), defaults, "retry_attempts", m.DEFAULT_RETRY_ATTEMPTS),
            runnable_timeout=_get(defaults, "runnable_timeout") or m.DEFAULT_RUNNABLE_TIMEOUT_S,
            state=_get(spec, "state") or "ENABLED",
            root_volume_size=_pick(_get(spec, "root_volume_size"), defaults, "root_volume_size",
                                   m.DEFAULT_ROOT_VOLUME_GIB),
            location=(place if spec else self.place(("functions", "aws", index, "lambda"))).location(key=True),
            instance_type_locations=type_locations,
        )

    def _types_place(self, compute: Any, defaults: Any, place: Place) -> Optional[Place]:
        """Where the instance types are written: the function's own, else avgen.defaults' (None: avgen's)."""
        if _get(compute, "instance_types") is not None:
            return place + ("compute_resources", "instance_types")
        if _get(defaults, "instance_types") is not None:
            return self.place(("avgen", "defaults", "batch", "instance_types"))
        return None


def _gpus(spec: Any) -> int:
    """GPUs per job: `gpus`, or one for `enable_gpu` alone (none where the two contradict each other)."""
    if spec is None or (spec.gpus and spec.enable_gpu is False):
        return 0
    return (spec.gpus or 1) if (spec.enable_gpu or spec.gpus) else 0


def _settings(avgen: Any, region: str, name_prefix: str) -> m.Settings:
    backend = _get(avgen, "backend")
    alerts = _get(avgen, "alerts")
    iam = _get(avgen, "iam")
    lambda_defaults = _get(_get(avgen, "defaults"), "lambda_")
    return m.Settings(
        region=region,
        name_prefix=name_prefix,
        tags=dict(sorted(_get(avgen, "tags", {}).items())),
        backend=m.Backend(backend.type, {k: v for k, v in backend.model_dump(exclude={"type"}).items()
                                         if v is not None}) if backend else None,
        alerts_enabled=_get(alerts, "enabled", True),
        alert_email=_get(alerts, "email"),
        role_path=_get(iam, "path") or "/",
        permissions_boundary=_get(iam, "permissions_boundary"),
        allow_default_vpc=_get(avgen, "allow_default_vpc", False),
        aws_provider_major=_get(avgen, "aws_provider_major", 5),
        fan_out_concurrency=_get(lambda_defaults, "fan_out_concurrency") or m.FAN_OUT_CONCURRENCY,
        kept_images=_get(lambda_defaults, "kept_images") or m.KEPT_IMAGES,
    )
class _Combined(_Loader):
    """Several files' loaders read as one workflow: each function, and each top-level setting, is located
    in the file it comes from."""

    def __init__(self, parts: list[_Loader], name: str):
        super().__init__(parts[0].doc, parts[0].path)
        self.parts = parts
        self.name = name
        self.origin: list[tuple[_Loader, int]] = []        # merged function index -> (its file, its index)
        self.owner: dict[tuple, _Loader] = {}              # top-level path -> the file that wrote it first

    def at(self, loc: tuple, *, key: bool = False) -> Location:
        if len(loc) >= 3 and loc[:2] == ("functions", "aws") and isinstance(loc[2], int) \
                and loc[2] < len(self.origin):
            part, index = self.origin[loc[2]]
            return part.at(("functions", "aws", index) + loc[3:], key=key)
        for depth in (3, 2, 1):
            if loc[:depth] in self.owner:
                return self.owner[loc[:depth]].at(loc, key=key)
        return self.parts[0].at(loc, key=key)

    def load(self) -> Optional[m.Workflow]:
        merged: dict = {"functions": {"aws": []}}
        for part in self.parts:
            data = to_plain(part.doc.root)
            if not isinstance(data, dict):
                part.findings.append(wrong_type.part_not_a_mapping(part.place()))
                continue
            data = part._rewrite_legacy(data)
            functions = data.get("functions")
            if not isinstance(functions, dict) or not isinstance(functions.get("aws", []), list):
                part.findings.append(wrong_type.functions_not_a_list(part.place(("functions",))))
                continue
            for index, entry in enumerate(functions.get("aws", [])):
                self._absolute_script(entry, part.path)
                self.origin.append((part, index))
                merged["functions"]["aws"].append(entry)
            for key, value in functions.items():
                if key != "aws":
                    self._merge(merged["functions"], key, value, part, ("functions", key))
            for key, value in data.items():
                if key != "functions":
                    self._merge(merged, key, value, part, (key,))
        for part in self.parts:
            self.findings += part.findings
        if has_errors(self.findings):
            return None
        return self._validated(merged)

    def _script_folder(self, index: int) -> Path:
        return self.origin[index][0].path.parent

    @staticmethod
    def _absolute_script(entry: Any, folder_of: Path) -> None:
        """A relative init_script is relative to its own file's folder."""
        spec = entry.get("lambda") if isinstance(entry, dict) else None
        if not isinstance(spec, dict):
            return
        script = spec.get("init_script")
        if isinstance(script, str) and script and not Path(script).is_absolute() and "\0" not in script:
            spec["init_script"] = str(folder_of.parent.resolve() / script)

    def _merge(self, into: dict, key: Any, value: Any, part: _Loader, loc: tuple) -> None:
        """Mappings merge key by key; two files giving one setting different values is an error."""
        if key not in into:
            into[key] = value
            self.owner.setdefault(loc, part)
            return
        if isinstance(into[key], dict) and isinstance(value, dict):
            for inner, inner_value in value.items():
                self._merge(into[key], inner, inner_value, part, loc + (inner,))
        elif into[key] != value:
            first = self.owner.get(loc) or next((self.owner[loc[:d]] for d in range(len(loc), 0, -1)
                                                 if loc[:d] in self.owner), self.parts[0])
            where = ".".join(str(p) for p in loc)
            part.findings.append(invalid_value.set_twice(where, first.path.name, part.place(loc)))

    def digest(self) -> str:
        """One hash over every file (name and content), in the sorted order: the same whatever order and
        path spellings the files were given in."""
        joined = "\n".join(f"{part.path.name}\0{part.doc.sha256}" for part in self.parts)
        return hashlib.sha256(joined.encode()).hexdigest()

    def sources(self) -> tuple[Path, ...]:
        return tuple(part.path.resolve() for part in self.parts)

    def default_name(self) -> str:
        return self.name

