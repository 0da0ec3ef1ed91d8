"""Load a workflow file: YAML → legacy forms → strict schema → resolved model → checks.

This module reads and resolves only; every check, those made while reading included, lives with its rule
id in generator/workflow/rules/ and is handed the values with their places (`Place`), so that it can say
where. `load_workflow` never raises for bad input and never prints: everything wrong comes back as findings.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from generator.workflow import model as m
from generator.workflow import scar3
from generator.workflow.findings import Finding, Location, Place, has_errors, sorted_findings
from generator.workflow.resolve import FunctionResolver, value_of
from generator.workflow.rules import (
    duplicate_function,
    inline_credentials,
    invalid_value,
    legacy_form,
    missing_key,
    no_state_backend,
    out_of_scope,
    region_conflict,
    run_checks,
    scar3_map_form,
    tag_limits,
    unused_bucket_setting,
    wrong_type,
    yaml_syntax,
)
from generator.workflow.rules.schema_errors import schema_findings
from generator.workflow.rules.waivers import apply_waivers
from generator.workflow.schema import WorkflowSpec
from generator.workflow.source import SourceDocument, YamlSyntaxError, gc_paused, parse_text, read_document, to_plain


@dataclass
class LoadResult:
    workflow: m.Workflow | None
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


class _Loader:
    def __init__(self, document: SourceDocument, path: Path):
        self.doc = document
        self.path = path
        self.findings: list[Finding] = []
        self.workflow: m.Workflow | None = None
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

    # -- phases ------------------------------------------------------------------------------------
    def load(self) -> m.Workflow | None:
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

    def _validated(self, data: dict) -> m.Workflow | None:
        try:
            spec = WorkflowSpec.model_validate(data)
        except ValidationError as exc:
            self.findings += schema_findings(exc, data, self.place())
            return None
        return self._resolve(spec)

    # -- resolution --------------------------------------------------------------------------------
    def _resolve(self, spec: WorkflowSpec) -> m.Workflow | None:
        avgen = spec.avgen
        providers = spec.storage_providers
        provider_ids = {kind: tuple(sorted(getattr(providers, kind))) if providers else ()
                        for kind in ("s3", "minio", "onedata")}
        self.findings += inline_credentials.providers(providers, self.place(("storage_providers",)))
        workflow_tags = value_of(avgen, "tags", {})
        self.findings += tag_limits.refused(workflow_tags, self.place(("avgen", "tags")), tag_limits.AVGEN_TAG_KEYS)
        name_prefix = value_of(avgen, "name_prefix", "")
        self.findings += invalid_value.name_prefix(name_prefix, self.place(("avgen", "name_prefix")))
        region = self._resolve_region(spec)
        functions = self._functions(spec, name_prefix, provider_ids, set(workflow_tags))

        used_buckets = sorted({p.bucket for f in functions for p in (*f.inputs, *f.outputs) if p.is_s3})
        bucket_specs = value_of(avgen, "buckets", {})
        self.findings += unused_bucket_setting.unused(bucket_specs, used_buckets, self.place(("avgen", "buckets")))
        buckets = tuple(m.Bucket(name, bucket_specs[name].create if name in bucket_specs else True)
                        for name in used_buckets)
        backend = value_of(avgen, "backend")
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
            given_name=value_of(avgen, "name") or self.default_name(),
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
            resolver = FunctionResolver(self.findings, self.place, self.path, self._script_folder(index))
            function = resolver.resolve(index, entry, name_prefix, value_of(spec.avgen, "defaults"), provider_ids)
            if function is not None:
                names.append((index, function.name, place / "name"))
                functions.append(function)
        self.findings += duplicate_function.duplicates(names)
        self.findings += missing_key.no_functions(len(spec.functions.aws), self.place(("functions",)))
        return functions

    def _script_folder(self, index: int) -> Path:
        """The folder a function's init_script must lie in: that of the file that names it."""
        return self.path.parent


def _settings(avgen: Any, region: str, name_prefix: str) -> m.Settings:
    backend = value_of(avgen, "backend")
    alerts = value_of(avgen, "alerts")
    iam = value_of(avgen, "iam")
    lambda_defaults = value_of(value_of(avgen, "defaults"), "lambda_")
    return m.Settings(
        region=region,
        name_prefix=name_prefix,
        tags=dict(sorted(value_of(avgen, "tags", {}).items())),
        backend=m.Backend(backend.type, {k: v for k, v in backend.model_dump(exclude={"type"}).items()
                                         if v is not None}) if backend else None,
        alerts_enabled=value_of(alerts, "enabled", True),
        alert_email=value_of(alerts, "email"),
        role_path=value_of(iam, "path") or "/",
        permissions_boundary=value_of(iam, "permissions_boundary"),
        allow_default_vpc=value_of(avgen, "allow_default_vpc", False),
        aws_provider_major=value_of(avgen, "aws_provider_major", 5),
        fan_out_concurrency=value_of(lambda_defaults, "fan_out_concurrency") or m.FAN_OUT_CONCURRENCY,
        kept_images=value_of(lambda_defaults, "kept_images") or m.KEPT_IMAGES,
        kms_key_arn=value_of(avgen, "kms_key_arn"),
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

    def load(self) -> m.Workflow | None:
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

