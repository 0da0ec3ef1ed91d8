"""Checks on how functions connect through storage: loops, overlapping triggers, ends, providers."""
from __future__ import annotations

from generator.workflow.graph import (
    cycles,
    may_write_into,
    overlapping_trigger_pairs,
    workflow_results,
    workflow_starts,
)
from generator.workflow.model import Workflow
from generator.workflow.rules import check, rule


@check
def self_trigger(workflow: Workflow):
    for function in workflow.functions:
        for output in function.outputs:
            for trigger in function.triggers:
                if may_write_into(output, trigger):
                    yield rule("AVG010").finding(
                        f"function '{function.name}' writes to {output.uri} which is under its own input "
                        f"trigger {trigger.uri}: every output would trigger it again, forever",
                        output.location,
                        "write the outputs to a folder outside the input folder, e.g. "
                        f"path: {output.bucket}/output",
                    )


@check
def trigger_cycle(workflow: Workflow):
    for group in cycles(workflow):
        names = " → ".join(f.name for f in group) + f" → {group[0].name}"
        yield rule("AVG011").finding(
            f"functions trigger each other in a loop: {names}",
            group[0].location,
            "break the loop: one function's output must go to a folder no function in the loop reads",
        )


@check
def overlapping_triggers(workflow: Workflow):
    for (fa, ta), (fb, tb) in overlapping_trigger_pairs(workflow):
        yield rule("AVG012").finding(
            f"the trigger of '{fb.name}' on {tb.uri} overlaps the trigger of '{fa.name}' on {ta.uri}; "
            "S3 rejects overlapping notification rules on one bucket (\"Configurations overlap\")",
            tb.location,
            "give each function its own input folder (neither a prefix of the other) or distinct suffixes",
        )


@check
def cannot_trigger(workflow: Workflow):
    for function in workflow.functions:
        for path in function.inputs:
            if not path.is_s3:
                yield rule("AVG013").finding(
                    f"input {path.provider}.{path.provider_id}:{path.bucket}/{path.prefix} of '{function.name}' "
                    "cannot trigger the function on AWS: only S3 sends event notifications",
                    path.location,
                    "use storage_provider: s3 for inputs that should start the function",
                )


@check
def workflow_ends(workflow: Workflow):
    for function, trigger in workflow_starts(workflow):
        yield rule("AVG016").finding(
            f"{trigger.uri} starts the workflow: uploading there runs '{function.name}'",
            trigger.location,
        )
    for function, output in workflow_results(workflow):
        yield rule("AVG016").finding(
            f"{output.uri} is a result of the workflow: no function reads what '{function.name}' writes there",
            output.location,
        )


PLACEHOLDER_BUCKET_PREFIX = "change-me"


@check
def placeholder_bucket(workflow: Workflow):
    """Everyone who copies an example unchanged collides on its bucket name at apply time on AWS."""
    seen: set[str] = set()
    for function in workflow.functions:
        for path in (*function.inputs, *function.outputs):
            if path.is_s3 and path.bucket.startswith(PLACEHOLDER_BUCKET_PREFIX) and path.bucket not in seen:
                seen.add(path.bucket)
                yield rule("AVG029").finding(
                    f"bucket '{path.bucket}' is the examples' placeholder: S3 bucket names are global, so "
                    "another account already owns it, and the apply will fail on AWS (the sandbox accepts it)",
                    path.location,
                    f"replace '{path.bucket}' everywhere in the file with a name you own, e.g. "
                    f"'{path.bucket.replace(PLACEHOLDER_BUCKET_PREFIX, 'acme-media', 1)}'",
                )
