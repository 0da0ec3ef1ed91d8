"""One bucket's triggers are deployed from one place.

A bucket avgen creates gets one `aws_s3_bucket_notification` holding every trigger of the workflow: S3 keeps
a bucket's notification configuration as one object that each write replaces whole. SCAR 3.x deployed one
function per file (`scar init -f A.yaml`, then `scar init -f B.yaml`) and read-modify-wrote that object; two
avgen deployments of A and B would each own the bucket and each replace the other's triggers. So a plan or
apply is refused, with the command to run instead, when:

1. a SCAR 3.x file of the workflow has sibling SCAR 3.x files (same folder, not given) that use a bucket the
   workflow creates: SCAR's layout for files meant to be deployed together, one `scar init` each; or
2. another deployment folder next to this one (`.avgen/*`, the same kind: sandbox or not) holds Terraform
   state for one of the buckets the workflow creates, or for that bucket's notifications.
Neither reads AWS: both look at files, so the check is the same in a pipeline and on a laptop, and costs
nothing.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from generator.workdirs import distinct_files
from generator.workflow import scar3
from generator.workflow.model import Workflow
from generator.workflow.source import YamlSyntaxError, read_document, to_plain

_OWNING_TYPES = ("aws_s3_bucket", "aws_s3_bucket_notification")


def scar3_buckets(file: Path) -> set[str]:
    """Buckets the functions of a SCAR 3.x file read or write (empty for any other file)."""
    try:
        data = to_plain(read_document(file).root)
    except YamlSyntaxError:
        return set()
    if not scar3.is_map_form(data):
        return set()
    found = set()
    for name, spec in data["functions"].items():
        if name == "oscar" or not isinstance(spec, dict):
            continue
        lam = scar3.convert_function(name, spec).entry["lambda"]
        for item in (*lam.get("input", ()), *lam.get("output", ())):
            if isinstance(item, dict):
                found.add(str(item.get("path", "")).split("/", 1)[0])
    return found


def sibling_conflicts(files: Iterable[Path], created: set[str]) -> list[tuple[Path, str]]:
    """(sibling file, bucket) for SCAR 3.x files next to the given 3.x files that use a created bucket."""
    given = distinct_files(list(files))
    resolved = {f.resolve() for f in given}
    if not any(scar3_buckets(f) for f in given):
        return []
    found = []
    # each folder once, spelled as the user spelled a file in it, so that the suggested command reads alike
    folders = {f.resolve().parent: f.parent for f in reversed(given)}
    for folder in sorted(folders):
        for sibling in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            if sibling.resolve() in resolved:
                continue
            for bucket in sorted(scar3_buckets(sibling) & created):
                found.append((folders[folder] / sibling.name, bucket))
    return found


def state_buckets(workdir: Path) -> set[str]:
    """Buckets whose bucket or notification resource is in a deployment folder's Terraform state."""
    try:
        state = json.loads((workdir / "terraform.tfstate").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    found = set()
    for resource in state.get("resources", []) if isinstance(state, dict) else []:
        if isinstance(resource, dict) and resource.get("type") in _OWNING_TYPES:
            for instance in resource.get("instances", []):
                bucket = (instance.get("attributes") or {}).get("bucket") if isinstance(instance, dict) else None
                if isinstance(bucket, str):
                    found.add(bucket)
    return found


def other_owners(workdir: Path, created: set[str], sandbox: bool) -> list[tuple[Path, str]]:
    """(deployment folder, bucket) for other deployments next to `workdir` that own a created bucket."""
    workdir = Path(workdir).resolve()
    parent = workdir.parent
    if not parent.is_dir():
        return []
    found = []
    for other in sorted(parent.iterdir()):
        if other == workdir or not other.is_dir() or other.name.endswith("-sandbox") != sandbox:
            continue
        for bucket in sorted(state_buckets(other) & created):
            found.append((other, bucket))
    return found


def shared_bucket_problem(workflow: Workflow, files: Iterable[Path], workdir: Path, sandbox: bool, *,
                          other_deployments: bool = True) -> str:
    """Why this deployment would break another's triggers, with what to run instead; "" when it would not."""
    files = list(files)
    created = {b.name for b in workflow.buckets if b.create}
    if not created:
        return ""
    siblings = sibling_conflicts(files, created)
    if siblings:
        together = " ".join(str(f) for f in distinct_files([*files, *(s for s, _ in siblings)]))
        named = ", ".join(sorted({f"{s.name} (bucket {b})" for s, b in siblings}))
        return (f"{named} also use{'s' * (len(siblings) == 1)} a bucket this workflow creates. SCAR 3.x deployed "
                "such files one `scar init` at a time; avgen deploys a bucket's triggers from one place, and a "
                "second deployment would replace the first one's. Pass the files together, as one workflow: "
                f"`avgen apply {together}`")
    owners = other_owners(workdir, created, sandbox) if other_deployments else []
    if owners:
        named = ", ".join(sorted({f"{o} (bucket {b})" for o, b in owners}))
        return (f"another avgen deployment already owns a bucket this workflow creates: {named}. Each bucket's "
                "notifications are one object, and this deployment would replace the other's triggers. Deploy "
                "the workflows together (`avgen apply A.yaml B.yaml`, after `avgen destroy` of the other), or mark "
                "the bucket `avgen: {buckets: {NAME: {create: false}}}` in one of them")
    return ""
