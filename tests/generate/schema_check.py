"""Check Terraform files against a provider schema, without the provider.

The schema is the JSON that `terraform providers schema -json` prints: how the AWS provider's 6.x shapes are
checked where no 6.x provider can be installed (the tests keep trimmed copies in tests/generate/data/). For
every `resource` and `data` block of the provider, every argument and nested block must exist, required ones
must be there, nothing may be deprecated, and `aws_x.name.attribute` references must name attributes that
exist and are not deprecated. Returns findings; prints nothing.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"
RESOURCE_PREFIX = "aws_"

# Arguments Terraform itself gives every resource and data block (the provider schema doesn't list them).
META_ARGUMENTS = {"count", "for_each", "provider", "depends_on"}
META_BLOCKS = {"lifecycle", "provisioner", "connection"}
# Arguments that exist in one major version only: generated code must run on aws 5.100 and 6.x alike.
NOT_PORTABLE = {"region": "per-resource region exists in aws 6.x only; the provider's region applies"}
# A reference to a resource or data source attribute: aws_type.name.attribute, aws_type.name[0].attribute,
# aws_type.name[*].attribute, data.aws_type.name.attribute.
REFERENCE = re.compile(
    r"(?<![\w.])(?P<data>data\.)?(?P<type>aws_[a-z0-9_]+)\.(?P<name>[A-Za-z_][\w-]*)"
    r"(?:\[[^\]]*\])?\.(?P<attribute>[a-z_][a-z0-9_]*)"
)


@dataclass(frozen=True, order=True)
class SchemaFinding:
    file: str
    line: int
    address: str  # resource.aws_s3_bucket.this, data.aws_iam_policy_document.trust
    problem: str  # unknown-type, unknown-argument, unknown-block, missing-argument, missing-block,
    # too-many-blocks, deprecated-type, deprecated-argument, deprecated-block, unknown-reference,
    # deprecated-reference, not-portable
    detail: str  # the argument path or referenced attribute
    provider_version: str

    def __str__(self) -> str:
        return (f"{self.file}:{self.line}: {self.address}: {self.problem} {self.detail} "
                f"(hashicorp/aws {self.provider_version})")


@dataclass(frozen=True)
class ProviderSchema:
    version: str
    resources: dict[str, dict]  # type -> schema "block"
    data_sources: dict[str, dict]

    def block_of(self, kind: str, type_name: str) -> dict | None:
        table = self.resources if kind == "resource" else self.data_sources
        entry = table.get(type_name)
        return entry["block"] if entry else None


def load_schema(path: Path | str) -> ProviderSchema:
    document = json.loads(Path(path).read_text())
    provider = document["provider_schemas"][PROVIDER_ADDRESS]
    version = document.get("provider_versions", {}).get(PROVIDER_ADDRESS, Path(path).stem)
    return ProviderSchema(
        version=version,
        resources=provider.get("resource_schemas", {}),
        data_sources=provider.get("data_source_schemas", {}),
    )


def check_directory(directory: Path | str, schema: ProviderSchema) -> list[SchemaFinding]:
    """Check every .tf file under `directory` (the root module and the modules it carries)."""
    directory = Path(directory)
    findings: list[SchemaFinding] = []
    for path in sorted(directory.rglob("*.tf")):
        if ".terraform" in path.relative_to(directory).parts:
            continue
        findings += check_text(path.read_text(), str(path.relative_to(directory)), schema)
    return sorted(findings)


def check_text(text: str, file: str, schema: ProviderSchema) -> list[SchemaFinding]:
    document = hcl2.loads(text)
    findings: list[SchemaFinding] = []
    for kind in ("resource", "data"):
        for labelled in document.get(kind, []):
            for type_label, named in labelled.items():
                type_name = _unquote(type_label)
                for name_label, body in named.items():
                    name = _unquote(name_label)
                    if not type_name.startswith(RESOURCE_PREFIX):
                        continue  # terraform_data and other built-ins
                    context = _Context(
                        schema=schema,
                        file=file,
                        line=_line_of(text, kind, type_name, name),
                        address=f"{'resource' if kind == 'resource' else 'data'}.{type_name}.{name}",
                        findings=findings,
                    )
                    block = schema.block_of(kind, type_name)
                    if block is None:
                        context.report("unknown-type", type_name)
                        continue
                    if block.get("deprecated"):
                        context.report("deprecated-type", type_name)
                    _check_body(context, body, block, path="", top_level=True)
    findings += _check_references(text, file, schema)
    return findings


@dataclass
class _Context:
    schema: ProviderSchema
    file: str
    line: int
    address: str
    findings: list[SchemaFinding]

    def report(self, problem: str, detail: str) -> None:
        self.findings.append(
            SchemaFinding(self.file, self.line, self.address, problem, detail, self.schema.version)
        )


def _check_body(context: _Context, body: dict, block: dict, path: str, top_level: bool) -> None:
    attributes: dict = block.get("attributes", {})
    block_types: dict = block.get("block_types", {})
    present_blocks: dict[str, int] = {}

    for key, value in body.items():
        if key.startswith("__"):
            continue  # the parser's own markers (__is_block__, …)
        where = f"{path}{key}"
        if top_level and (key in META_ARGUMENTS or key in META_BLOCKS):
            continue
        if top_level and key in NOT_PORTABLE:
            context.report("not-portable", f"{where}: {NOT_PORTABLE[key]}")
        elif key == "dynamic":
            for dynamic in _as_list(value):
                for label, dynamic_body in dynamic.items():
                    contents = _as_list(dynamic_body.get("content", []))
                    _check_nested(context, _unquote(label), contents, block_types, path, present_blocks, count=1)
        elif _is_block(value):
            instances = _as_list(value)
            _check_nested(context, key, instances, block_types, path, present_blocks, count=len(instances))
        else:
            _check_attribute(context, key, attributes, block_types, where)
    _check_required(context, body, attributes, block_types, present_blocks, path)


def _check_nested(context: _Context, name: str, instances: list, block_types: dict, path: str,
                  present_blocks: dict[str, int], count: int) -> None:
    """A nested block (or a `dynamic` one's content): known, not deprecated, and each instance's body."""
    present_blocks[name] = present_blocks.get(name, 0) + count
    nested = block_types.get(name)
    if nested is None:
        context.report("unknown-block", f"{path}{name}")
        return
    if nested["block"].get("deprecated"):
        context.report("deprecated-block", f"{path}{name}")
    for instance in instances:
        _check_body(context, instance, nested["block"], f"{path}{name}.", False)


def _check_attribute(context: _Context, key: str, attributes: dict, block_types: dict, where: str) -> None:
    attribute = attributes.get(key)
    if attribute is None:
        context.report("unknown-block" if key in block_types else "unknown-argument", where)
        return
    if attribute.get("deprecated"):
        context.report("deprecated-argument", where)
    if attribute.get("computed") and not attribute.get("optional") and not attribute.get("required"):
        context.report("unknown-argument", f"{where} (read-only)")


def _check_required(context: _Context, body: dict, attributes: dict, block_types: dict,
                    present_blocks: dict[str, int], path: str) -> None:
    """Required arguments and blocks are there, and no block more often than the schema allows."""
    for name, attribute in attributes.items():
        if attribute.get("required") and name not in body:
            context.report("missing-argument", f"{path}{name}")
    for name, nested in block_types.items():
        count = present_blocks.get(name, 0)
        if nested.get("min_items") and count == 0 and name not in _dynamic_names(body):
            context.report("missing-block", f"{path}{name}")
        max_items = nested.get("max_items")
        if max_items and count > max_items:
            context.report("too-many-blocks", f"{path}{name} ({count} > {max_items})")


def _check_references(text: str, file: str, schema: ProviderSchema) -> list[SchemaFinding]:
    findings = []
    seen = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        for match in REFERENCE.finditer(line):
            kind = "data" if match["data"] else "resource"
            type_name, attribute = match["type"], match["attribute"]
            block = schema.block_of(kind, type_name)
            if block is None:
                continue  # reported where the block is declared, or not a reference at all
            key = (kind, type_name, attribute, number)
            if key in seen:
                continue
            seen.add(key)
            address = f"{kind}.{type_name}.{match['name']}"
            definition = block.get("attributes", {}).get(attribute)
            if definition is None and attribute not in block.get("block_types", {}):
                findings.append(SchemaFinding(file, number, address, "unknown-reference", attribute, schema.version))
            elif definition is not None and definition.get("deprecated"):
                findings.append(SchemaFinding(file, number, address, "deprecated-reference", attribute,
                                              schema.version))
    return findings


def _line_of(text: str, kind: str, type_name: str, name: str) -> int:
    pattern = re.compile(rf'^\s*{kind}\s+"{re.escape(type_name)}"\s+"{re.escape(name)}"', re.M)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else 0


def _dynamic_names(body: dict) -> set[str]:
    return {_unquote(label) for dynamic in _as_list(body.get("dynamic", [])) for label in dynamic}


def _is_block(value: Any) -> bool:
    """python-hcl2 marks blocks; an attribute whose value is an object (tags = {...}) has no marker."""
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(item, dict) and item.get("__is_block__") for item in items)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _unquote(label: str) -> str:
    return label[1:-1] if len(label) >= 2 and label[0] == label[-1] == '"' else label


def format_findings(findings: Iterable[SchemaFinding]) -> str:
    return "\n".join(str(finding) for finding in findings)
