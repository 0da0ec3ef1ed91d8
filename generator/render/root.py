"""Workflow model → a self-contained Terraform root module, as text; and writing it to a folder.

`render(workflow)` returns {relative path: file text}: the root module from the Jinja templates in
templates/ and the modules it calls, copied from modules/ with checkov's inline skips written in. Same
workflow and avgen version ⇒ the same bytes: everything is sorted, nothing depends on time or machine.

`write_output(folder, files, check=...)` brings a folder up to date (or, with check, only says what would
change). It keeps a manifest of the files it wrote, so it never overwrites or deletes a file it did not
generate. Nothing here prints.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

from generator import __version__
from generator.render.checkov_skips import apply_checkov_skips
from generator.render.provider_lock import LOCK_FILE, keeps_lock, lock_file_text
from generator.shipped import shipped_folder
from generator.workflow.graph import edges
from generator.workflow.model import Function, Workflow
from lambda_src.config import CONFIG_VARIABLE, DEFAULT_SCRIPT, REQUIRE_GPU_VARIABLE, SCRIPT_VARIABLE

TEMPLATES_DIR = shipped_folder("templates")
MODULES_DIR = shipped_folder("modules")
MANIFEST = ".avgen-manifest.json"

# use_lockfile (S3 state locking without DynamoDB) came in 1.10; a Terraform 2 would be a new language
TERRAFORM_VERSION = ">= 1.10, < 2.0"
# One major per root module (avgen.aws_provider_major): 5.100 is the release avgen's terraform validate and
# sandbox run; the generated HCL is also checked against the 6.x schema, for accounts that moved to 6.
AWS_PROVIDER_VERSIONS = {5: "~> 5.100", 6: "~> 6.0"}
# Where the runtime finds the function's script in its image (batch_jobs/image/Dockerfile.in).
SCRIPT_PATH = DEFAULT_SCRIPT
HASH_LENGTH = 12  # of the sha256 shown in headers: enough to tell versions apart at a glance

# The root files every workflow has: avgen never removes them, so the manifest keeps no hash of them
# (a hash of main.tf would change with every function, and two PRs would conflict on that line).
ROOT_FILES = ("versions.tf", "providers.tf", "variables.tf", "main.tf", "outputs.tf")
ALWAYS = "always generated"

# The modules every workflow uses, and those only a workflow with Batch functions needs.
BASE_MODULES = ("ecr-repository", "iam-role", "lambda-function", "s3-bucket")
BATCH_MODULES = ("batch-job", "batch-shared")



class Expr(str):
    """A Terraform expression written as it is (a reference such as module.default_vpc.subnet_ids)."""


class Inline(dict):
    """An object written on one line: { bucket = "media", key_prefix = "input/" }."""


class OnePerLine(list):
    """A list written one item per line even when short, so that adding an item adds one line."""


class JsonEncoded:
    """A value Terraform turns into a JSON string: jsonencode({...}), one field per line for review."""

    def __init__(self, value: Mapping[str, Any]):
        self.value = value


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
INDENT = "  "


def hcl_string(text: str) -> str:
    escaped = []
    for char in text:
        if char == "\\":
            escaped.append("\\\\")
        elif char == '"':
            escaped.append('\\"')
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\r":
            escaped.append("\\r")
        elif char == "\t":
            escaped.append("\\t")
        elif ord(char) < 0x20:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    # Terraform would read ${ and %{ as template sequences.
    return '"' + "".join(escaped).replace("${", "$${").replace("%{", "%%{") + '"'


def hcl_key(key: str) -> str:
    return key if _IDENTIFIER.match(key) else hcl_string(key)


def hcl(value: Any, level: int = 0) -> str:
    """`value` as an HCL expression; lines after the first are indented for nesting depth `level`."""
    if isinstance(value, Expr):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return hcl_string(value)
    if isinstance(value, JsonEncoded):
        return f"jsonencode({hcl(value.value, level)})"
    if isinstance(value, Inline):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{hcl_key(k)} = {hcl(v, level)}" for k, v in value.items()) + " }"
    if isinstance(value, Mapping):
        return _hcl_object(value, level)
    if isinstance(value, (list, tuple)):
        return _hcl_list(value, level)
    raise TypeError(f"no HCL form for {type(value).__name__}")


def _hcl_list(items: Iterable[Any], level: int) -> str:
    if not isinstance(items, list):
        items = list(items)
    if not items:
        return "[]"
    rendered = [hcl(item, level + 1) for item in items]
    if not isinstance(items, OnePerLine) and sum(len(text) for text in rendered) <= 60 and \
            all(not isinstance(item, (Mapping, list, tuple, JsonEncoded)) for item in items):
        return "[" + ", ".join(rendered) + "]"
    inner = INDENT * (level + 1)
    return "[\n" + "".join(f"{inner}{text},\n" for text in rendered) + INDENT * level + "]"


def _hcl_object(mapping: Mapping[str, Any], level: int) -> str:
    if not mapping:
        return "{}"
    return "{\n" + _hcl_attributes(mapping, level + 1) + INDENT * level + "}"


def _hcl_attributes(mapping: Mapping[str, Any], level: int) -> str:
    """`key = value` lines, the `=` of consecutive one-line values aligned as `terraform fmt` does."""
    entries = [(hcl_key(str(key)), hcl(value, level)) for key, value in mapping.items()]
    lines: list[str] = []
    group: list[tuple[str, str]] = []

    def flush():
        width = max((len(key) for key, _ in group), default=0)
        lines.extend(f"{INDENT * level}{key.ljust(width)} = {text}\n" for key, text in group)
        group.clear()

    for key, text in entries:
        if "\n" in text:  # a value over several lines is never aligned and ends the group before it
            flush()
            lines.append(f"{INDENT * level}{key} = {text}\n")
        else:
            group.append((key, text))
    flush()
    return "".join(lines)


def hcl_body(mapping: Mapping[str, Any], level: int = 0) -> str:
    """A block body ({ on the caller's line): attributes, not an object (keys must be identifiers)."""
    return _hcl_object(mapping, level)


# --- what the templates get ----------------------------------------------------------------------


def header(avgen_version: str, source: str, digest: str) -> str:
    """The provenance line: which avgen made the file, from which input (by hash)."""
    return f"# Generated by avgen {avgen_version} from {source} (sha256 {digest[:HASH_LENGTH]}); do not edit."


def provenance(avgen_version: str, source: str) -> str:
    """versions.tf's first line: which avgen made the root files, from which input. No hash of the input:
    every change of the workflow would change this one line, and two pull requests that change different
    functions would conflict on it (`avgen generate --check` is what tells whether the output is current)."""
    return f"# Generated by avgen {avgen_version} from {source}; do not edit."


def plain_header(source: str) -> str:
    """The other root files: no version, so that a one-line change of the workflow changes one line of one
    file here, and two workflow PRs do not conflict."""
    return f"# Generated by avgen from {source}; do not edit. Provenance: versions.tf."


def shared_name_prefix(workflow: Workflow) -> str:
    """Prefix of the workflow-wide resources (alerts topic, Batch instance role): name_prefix, or else the
    workflow's name, so that two workflows in one account don't collide."""
    if workflow.settings.name_prefix:
        return workflow.settings.name_prefix
    name = re.sub(r"[^a-z0-9-]+", "-", workflow.name.lower()).strip("-")[:32] or "avgen"
    return f"{name}-"


def _paths(paths, extra: Iterable[tuple[str, str]] = ()) -> list[Inline]:
    unique = sorted({(p.bucket, p.key_prefix) for p in paths if p.is_s3} | set(extra))
    return [Inline(bucket=bucket, key_prefix=key_prefix) for bucket, key_prefix in unique]


def _function_entry(function: Function, fan_out_concurrency: int | None) -> dict[str, Any]:
    """`fan_out_concurrency`: the reserved concurrency for a function another function's outputs trigger."""
    environment = {
        CONFIG_VARIABLE: JsonEncoded(_sorted_deep(function.runtime_config())),
        SCRIPT_VARIABLE: SCRIPT_PATH,
        **dict(sorted(function.environment.items())),
    }
    return {
        "resource_name": function.resource_name,
        "description": function.description,
        "execution_mode": function.execution_mode,
        "memory_size": function.memory,
        "timeout": function.timeout,
        "ephemeral_storage_size": function.ephemeral_storage,
        "reserved_concurrency": function.reserved_concurrency if function.reserved_concurrency is not None
        else fan_out_concurrency,
        "log_retention_days": function.log_retention_days,
        "iam_role": function.iam_role,
        # its inputs, and the s3:// locations its environment names (models): read-only, nothing else
        "read_paths": _paths(function.inputs, function.model_locations),
        "write_paths": _paths(function.outputs),
        "environment": environment,
        "tags": dict(sorted(function.tags.items())),
    }


def _batch_entry(function: Function, workflow: Workflow) -> dict[str, Any]:
    batch = function.batch
    assert batch is not None  # only functions that run on Batch have an entry
    return {
        "vcpus": batch.vcpus,
        "memory": batch.memory,
        "gpus": batch.gpus,
        "compute_type": batch.compute_type,
        "state": batch.state,
        "min_vcpus": batch.min_vcpus,
        "max_vcpus": batch.max_vcpus,
        "desired_vcpus": batch.desired_vcpus,
        "instance_types": list(batch.instance_types),
        # The workflow's network, else the account's default VPC.
        "subnet_ids": list(batch.subnets) if batch.subnets else Expr("module.default_vpc.subnet_ids"),
        "security_group_ids": list(batch.security_group_ids) if batch.security_group_ids
        else Expr("module.default_vpc.security_group_ids"),
        "job_timeout_seconds": batch.job_timeout,
        "attempts": batch.retry_attempts,
        "runnable_timeout_seconds": batch.runnable_timeout,
        "root_volume_size": batch.root_volume_size,
        # what the instances Batch launches are tagged with (the provider's default tags do not reach them)
        "instance_tags": dict(sorted({**_default_tags(workflow), **function.tags}.items())),
        # a GPU job's handlers use the GPU or fail (never the CPU unnoticed)
        "environment": dict(sorted({**batch.environment, **({REQUIRE_GPU_VARIABLE: "1"} if batch.gpus else {})
                                    }.items())),
    }


def _trigger_id(function: Function, key_prefix: str, suffix: str) -> str:
    return f"{function.name}:{key_prefix}*{suffix}"


def _bucket_triggers(workflow: Workflow, owned: bool) -> dict[str, dict[str, dict[str, str]]]:
    """The triggers on the buckets avgen creates (owned) or on those that exist already, which get theirs
    through EventBridge with one rule each. Each trigger over several lines: one-line entries would be aligned
    with each other, and adding a trigger with a longer id would then re-indent the others."""
    created = {b.name for b in workflow.buckets if b.create}
    triggers: dict[str, dict[str, dict[str, str]]] = {}
    for function in workflow.functions:
        for path in function.triggers:
            if (path.bucket in created) != owned:
                continue
            for suffix in path.suffix_filters or ("",):
                trigger_id = _trigger_id(function, path.key_prefix, suffix)
                entry = {"function": function.name, "filter_prefix": path.key_prefix, "filter_suffix": suffix}
                if not owned:
                    entry["rule_name"] = _rule_name(function, path.bucket, trigger_id)
                triggers.setdefault(path.bucket, {})[trigger_id] = entry
    return {bucket: dict(sorted(rules.items())) for bucket, rules in sorted(triggers.items())}


def _rule_name(function: Function, bucket: str, trigger_id: str) -> str:
    """An EventBridge rule name (at most 64 of [.-_A-Za-z0-9]): the function's, and a hash of what it watches."""
    digest = hashlib.sha256(f"{bucket}/{trigger_id}".encode()).hexdigest()[:8]
    return f"{function.resource_name[:64 - len('-s3-') - len(digest)]}-s3-{digest}"


def _default_tags(workflow: Workflow) -> dict[str, str]:
    tags = {"ManagedBy": "avgen", "avgen:workflow": workflow.name, **workflow.settings.tags}
    return dict(sorted(tags.items()))


def _sorted_deep(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _sorted_deep(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_sorted_deep(item) for item in value]
    return value


def _backend(workflow: Workflow) -> dict[str, Any] | None:
    backend = workflow.settings.backend
    return {"type": backend.type, "config": dict(sorted(backend.config.items()))} if backend else None


def _needs_default_vpc(batch_functions: Iterable[Function]) -> bool:
    return any(not (f.batch.subnets and f.batch.security_group_ids) for f in batch_functions if f.batch)


def _function_entries(workflow: Workflow, functions: list[Function]) -> dict[str, dict[str, Any]]:
    fed = {edge.target.name for edge in edges(workflow) if edge.source.name != edge.target.name}
    fan_out = workflow.settings.fan_out_concurrency
    return {f.name: _function_entry(f, fan_out if f.name in fed else None) for f in functions}


def template_context(workflow: Workflow, avgen_version: str) -> dict[str, Any]:
    functions = sorted(workflow.functions, key=lambda f: f.name)
    batch_functions = [f for f in functions if f.uses_batch and f.batch is not None]
    settings = workflow.settings
    return {
        "header": plain_header(workflow.source_label),
        "provenance": provenance(avgen_version, workflow.source_label),
        "terraform_version": TERRAFORM_VERSION,
        "aws_provider_version": AWS_PROVIDER_VERSIONS[settings.aws_provider_major],
        "region": settings.region,
        "default_tags": _default_tags(workflow),
        "backend": _backend(workflow),
        "created_buckets": OnePerLine(sorted(b.name for b in workflow.buckets if b.create)),
        "existing_buckets": OnePerLine(sorted(b.name for b in workflow.buckets if not b.create)),
        "functions": _function_entries(workflow, functions),
        "batch_jobs": {f.name: _batch_entry(f, workflow) for f in batch_functions},
        "needs_default_vpc": _needs_default_vpc(batch_functions),
        "bucket_triggers": _bucket_triggers(workflow, owned=True),
        "eventbridge_triggers": _bucket_triggers(workflow, owned=False),
        "shared_prefix": shared_name_prefix(workflow),
        "alerts": {"email": settings.alert_email} if settings.alerts_enabled else None,
        "iam": {"path": settings.role_path, "permissions_boundary": settings.permissions_boundary},
        "kept_images": settings.kept_images,
        "kms_key_arn": settings.kms_key_arn,
    }


# --- rendering -----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.filters["hcl"] = hcl
    environment.filters["hcl_body"] = hcl_body
    return environment


@cache
def _module_files(module: str) -> tuple[tuple[str, str], ...]:
    """(file name, text with checkov skips written in) of one module, read once per process."""
    folder = MODULES_DIR / module
    files = []
    for path in sorted(folder.glob("*.tf")):
        source = f"modules/{module}/{path.name}"
        files.append((path.name, apply_checkov_skips(path.read_text(), source)))
    return tuple(files)


def _module_copies(modules: Iterable[str], avgen_version: str) -> dict[str, str]:
    copies = {}
    for module in modules:
        for name, text in _module_files(module):
            source = f"modules/{module}/{name}"
            digest = hashlib.sha256(text.encode()).hexdigest()
            copies[source] = f"{header(avgen_version, source, digest)}\n\n{text}"
    return copies


def render(workflow: Workflow, *, avgen_version: str | None = None) -> dict[str, str]:
    """The Terraform of `workflow`: {relative path: text}, sorted by path."""
    avgen_version = avgen_version or __version__
    context = template_context(workflow, avgen_version)
    environment = _environment()
    names = list(ROOT_FILES)
    if context["backend"]:
        names.append("backend.tf")
    files = {}
    for name in names:
        text = environment.get_template(f"{name}.j2").render(context)
        files[name] = apply_checkov_skips(text, f"templates/{name}.j2")
    modules = list(BASE_MODULES)
    if context["bucket_triggers"]:
        modules.append("bucket-notifications")
    if context["eventbridge_triggers"]:
        modules.append("eventbridge-triggers")
    if context["batch_jobs"]:
        modules += BATCH_MODULES
        if context["needs_default_vpc"]:
            modules.append("default-vpc")
    if context["alerts"]:
        modules.append("alerts")
    files.update(_module_copies(sorted(modules), avgen_version))
    lock = lock_file_text(workflow.settings.aws_provider_major, context["aws_provider_version"])
    if lock is not None:
        files[LOCK_FILE] = lock
    return dict(sorted(files.items()))


# --- writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileChange:
    path: str
    action: str  # create | update | delete


@dataclass
class OutputResult:
    """What `write_output` changed (or, with check, would change) in the folder."""

    changes: list[FileChange] = field(default_factory=list)
    diff: str = ""  # unified diff of every change, for people and CI logs
    # Files avgen would have to write or remove but leaves alone: not generated by avgen, or edited since.
    conflicts: list[str] = field(default_factory=list)
    # Paths avgen refuses to touch: outside the folder, through a symlink, or not a regular file.
    skipped: list[str] = field(default_factory=list)

    @property
    def stale(self) -> bool:
        return bool(self.changes or self.conflicts or self.skipped)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def read_manifest(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of the files avgen wrote in `folder` last time ({} when none)."""
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    files = data.get("files", {}) if isinstance(data, dict) else {}
    return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}


def _manifest_text(files: Mapping[str, str]) -> str:
    """One line per file, sorted. Root files every workflow has carry no hash: they are never removed (the
    hash only tells whether a file avgen no longer generates was edited), and two pull requests that change
    main.tf for different functions then leave this file as it was."""
    manifest = {
        "comment": "Files generated by avgen in this folder; avgen overwrites or removes only these.",
        "files": {path: ALWAYS if path in ROOT_FILES else _sha256(text) for path, text in sorted(files.items())},
    }
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, IsADirectoryError):
        return None
    except UnicodeDecodeError:
        return "\0binary"


def _regular_file_inside(folder: Path, path: str) -> Path | None:
    """folder/path when it stays inside `folder` without passing a symlink and is a regular file or
    nothing yet; None otherwise (the manifest is a file anyone can edit, so its paths are not trusted)."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or not relative.parts or ".." in relative.parts:
        return None
    target = folder
    for part in relative.parts:
        target = target / part
        if target.is_symlink():
            return None
    return target if target.is_file() or not target.exists() else None


def write_output(folder: Path | str, files: Mapping[str, str], *, check: bool = False) -> OutputResult:
    """Make `folder` hold exactly `files` among the files avgen generates there; with `check`, write nothing.

    A file in the way that avgen did not write (not in the manifest, different content) is left alone and
    reported as a conflict; so is a generated file that was edited and is no longer generated. Only regular
    files inside the folder are ever written or deleted: any other path is reported as skipped.
    """
    folder = Path(folder).resolve()
    manifest_path = _regular_file_inside(folder, MANIFEST)
    previous = read_manifest(folder) if manifest_path else {}
    result = OutputResult()
    if manifest_path is None:
        result.skipped.append(MANIFEST)
    diffs: list[str] = []
    files = _with_kept_lock(folder, files)
    writes = _writes(folder, files, previous, result, diffs)
    removals = _removals(folder, set(previous) - set(files), previous, result, diffs)
    result.diff = "".join(diffs)
    if check:
        return result

    for path, text in writes.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    for path in removals:
        (folder / path).unlink()
        _remove_empty_parents(folder, (folder / path).parent)
    kept = {path: text for path, text in files.items() if path not in result.conflicts + result.skipped}
    manifest = _manifest_text(kept)
    if manifest_path is not None and _read(manifest_path) != manifest:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MANIFEST).write_text(manifest)
    return result


def _with_kept_lock(folder: Path, files: Mapping[str, str]) -> Mapping[str, str]:
    """`files`, with the lock file already in the folder in place of avgen's when it may stay: after the
    first `terraform init` it is Terraform's (the checksums of each platform that ran init, an upgrade), and
    writing avgen's back over it would fail the next plan on those platforms."""
    generated = files.get(LOCK_FILE)
    if generated is None or _regular_file_inside(folder, LOCK_FILE) is None:
        return files
    current = _read(folder / LOCK_FILE)
    if current is None or current == generated or not keeps_lock(current, generated):
        return files
    return {**files, LOCK_FILE: current}


def _writes(folder: Path, files: Mapping[str, str], previous: Mapping[str, str], result: OutputResult,
            diffs: list[str]) -> dict[str, str]:
    """The files to create or update; what avgen may not write goes to result's conflicts or skipped."""
    writes: dict[str, str] = {}
    for path, text in sorted(files.items()):
        if _regular_file_inside(folder, path) is None:
            result.skipped.append(path)
            continue
        current = _read(folder / path)
        if current == text:
            continue
        if current is not None and path not in previous:
            result.conflicts.append(path)
            continue
        result.changes.append(FileChange(path, "create" if current is None else "update"))
        diffs.append(_unified_diff(path, current or "", text))
        writes[path] = text
    return writes


def _removals(folder: Path, gone: Iterable[str], previous: Mapping[str, str], result: OutputResult,
              diffs: list[str]) -> list[str]:
    """The files avgen wrote before and no longer generates, unchanged since (an edited one is a conflict)."""
    removals = []
    for path in sorted(gone):
        if _regular_file_inside(folder, path) is None:
            result.skipped.append(path)
            continue
        current = _read(folder / path)
        if current is None:
            continue
        if _sha256(current) != previous[path]:
            result.conflicts.append(path)
            continue
        result.changes.append(FileChange(path, "delete"))
        diffs.append(_unified_diff(path, current, ""))
        removals.append(path)
    return removals


def _remove_empty_parents(folder: Path, directory: Path) -> None:
    while directory != folder and folder in directory.parents:
        try:
            directory.rmdir()  # only succeeds when empty: files avgen didn't write keep their folder
        except OSError:
            return
        directory = directory.parent


def _unified_diff(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True),
        fromfile=f"a/{path}" if old else "/dev/null", tofile=f"b/{path}" if new else "/dev/null",
    )
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    return text
