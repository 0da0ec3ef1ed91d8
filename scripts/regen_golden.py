#!/usr/bin/env python3
"""Regenerate tests/generate/golden/ after an intended change to templates/, modules/, the renderer or the
examples, then review the diff (git diff tests/generate/golden) like any other change. The golden files are
written by the real command line (`avgen generate CASE -o DIR`), as a user would get them.

It also refreshes the checkov skips table in docs/generated-terraform.md and, given `--schemas DIR`, the
trimmed provider schemas in tests/generate/data/: the resource and data-source types the golden Terraform
uses, cut from the aws-provider-schema-VERSION.json files in DIR, each what `terraform providers schema
-json` prints in a folder initialised with that hashicorp/aws version (for 5.100.0: `terraform init` of any
generated root, then that command; 6.x on a machine that can install it). Without it the trimmed copies are
kept as they are.

    python3 scripts/regen_golden.py                    # rewrite what changed
    python3 scripts/regen_golden.py --check            # exit 1 if anything is out of date (writes nothing)
    python3 scripts/regen_golden.py --schemas ~/schemas  # also re-cut the trimmed provider schemas
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from generator.render.checkov_skips import checkov_skips_markdown  # noqa: E402
from generator.render.root import write_output  # noqa: E402
from tests.generate.cases import CASES, DATA_DIR, GOLDEN_DIR  # noqa: E402
from tests.generate.schema_check import PROVIDER_ADDRESS  # noqa: E402

SCHEMA_VERSIONS = ("5.100.0", "6.47.0")
DECLARATION = re.compile(r'^\s*(resource|data)\s+"(aws_[a-z0-9_]+)"', re.M)
DOC = REPO / "docs" / "generated-terraform.md"
TABLE = re.compile(r"(<!-- checkov-skips:start -->\n).*?(<!-- checkov-skips:end -->)", re.S)


# Types the schema checker's own test needs (tests/generate/test_schema_check.py: a deprecated attribute).
TEST_TYPES = {"resource": set(), "data": {"aws_region"}}


def used_types() -> dict[str, set[str]]:
    """The provider types the root templates and the modules declare, and those the schema test uses."""
    used: dict[str, set[str]] = {kind: set(types) for kind, types in TEST_TYPES.items()}
    for path in [*GOLDEN_DIR.rglob("*.tf"), *(REPO / "modules").rglob("*.tf")]:
        for kind, type_name in DECLARATION.findall(path.read_text()):
            used[kind].add(type_name)
    return used


DESCRIPTIONS = ("description", "description_kind")


def shape_of_block(block: dict) -> dict:
    """A schema block without its descriptions (prose, which makes the copies large). Walked by structure:
    an attribute may itself be called `description` or `type`."""
    shape = {key: value for key, value in block.items()
             if key not in (*DESCRIPTIONS, "attributes", "block_types")}
    if "attributes" in block:
        shape["attributes"] = {name: shape_of_attribute(attribute) for name, attribute in block["attributes"].items()}
    if "block_types" in block:
        shape["block_types"] = {name: {**{key: value for key, value in nested.items() if key != "block"},
                                       "block": shape_of_block(nested["block"])}
                                for name, nested in block["block_types"].items()}
    return shape


def shape_of_attribute(attribute: dict) -> dict:
    shape = {key: value for key, value in attribute.items() if key not in DESCRIPTIONS}
    if "nested_type" in attribute:
        shape["nested_type"] = shape_of_block(attribute["nested_type"])  # attributes and nesting_mode
    return shape


def shape_of(schema: dict) -> dict:
    return {**schema, "block": shape_of_block(schema["block"])}


def trimmed_schema(source: Path, version: str, used: dict[str, set[str]]) -> str:
    document = json.loads(source.read_text())
    provider = document["provider_schemas"][PROVIDER_ADDRESS]
    trimmed = {
        "format_version": document.get("format_version"),
        # `terraform providers schema -json` leaves the version out: the file's name says it
        "provider_versions": document.get("provider_versions") or {PROVIDER_ADDRESS: version},
        "provider_schemas": {PROVIDER_ADDRESS: {
            "resource_schemas": {t: shape_of(provider["resource_schemas"][t])
                                 for t in sorted(used["resource"]) if t in provider["resource_schemas"]},
            "data_source_schemas": {t: shape_of(provider["data_source_schemas"][t])
                                    for t in sorted(used["data"])
                                    if t in provider["data_source_schemas"]},
        }},
        "comment": f"Cut from {source.name} (terraform providers schema -json) by scripts/regen_golden.py: "
                   "only the types avgen generates.",
    }
    return json.dumps(trimmed, sort_keys=True, indent=1) + "\n"


def generated_by_cli(workflow: Path) -> dict[str, str]:
    """The root module's files as `avgen generate` writes them (modules/ are copies, tested as such)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "generator.cli", "generate", str(workflow), "-o", tmp], cwd=REPO,
                       check=True, stdout=subprocess.DEVNULL)
        return {path.relative_to(tmp).as_posix(): path.read_text() for path in sorted(Path(tmp).rglob("*"))
                if path.is_file() and path.relative_to(tmp).parts[0] != "modules"
                and not path.name.startswith(".avgen-")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when something is stale")
    parser.add_argument("--schemas", type=Path, metavar="DIR",
                        help="a folder of aws-provider-schema-VERSION.json (terraform providers schema -json) to "
                             "re-cut the trimmed schemas from")
    args = parser.parse_args()
    # each step runs (and reports) even when an earlier one found something stale
    stale = [refresh_golden(args.check), refresh_schemas(args.check, args.schemas), refresh_skips_table(args.check)]
    if not any(stale):
        print("golden files are current")
    return 1 if (any(stale) and args.check) else 0


def refresh_golden(check: bool) -> bool:
    stale = False
    for name, workflow in CASES.items():
        result = write_output(GOLDEN_DIR / name, generated_by_cli(workflow), check=check)
        for change in result.changes:
            print(f"{'stale' if check else change.action}: {GOLDEN_DIR.relative_to(REPO) / name / change.path}")
        for path in result.conflicts:
            print(f"in the way (not generated, left alone): {GOLDEN_DIR.relative_to(REPO) / name / path}")
        stale |= result.stale
    return stale


def refresh_schemas(check: bool, folder: Path | None) -> bool:
    if folder is None:
        return False
    stale = False
    used = used_types()
    for version in SCHEMA_VERSIONS:
        source = folder / f"aws-provider-schema-{version}.json"
        if not source.is_file():
            print(f"note: {source} not found; trimmed copy kept as is")
            continue
        text = trimmed_schema(source, version, used)
        target = DATA_DIR / f"aws-provider-schema-{version}.trimmed.json"
        if not target.is_file() or target.read_text() != text:
            stale = True
            print(f"{'stale' if check else 'update'}: {target.relative_to(REPO)}")
            if not check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
    return stale


def refresh_skips_table(check: bool) -> bool:
    doc = DOC.read_text()
    table = TABLE.sub(lambda m: m.group(1) + checkov_skips_markdown() + m.group(2), doc)
    if table == doc:
        return False
    print(f"{'stale' if check else 'update'}: {DOC.relative_to(REPO)} (checkov skips table)")
    if not check:
        DOC.write_text(table)
    return True


if __name__ == "__main__":
    sys.exit(main())
