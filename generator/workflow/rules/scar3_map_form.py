"""SCAR 3.x's `functions: NAME: {...}` form: read in the current form (generator/workflow/scar3.py converts
it, with SCAR 3.x's folder conventions), one warning per function that shows how to write it."""
from __future__ import annotations

from generator.workflow import scar3
from generator.workflow.findings import Finding, Place
from generator.workflow.rules import ignored_setting, unknown_key
from generator.workflow.rules.catalog import rule

RULE = rule("AVG032")


def rewrite(data: dict, root: Place, renamed: dict[tuple, tuple]) -> tuple[dict, list[Finding]]:
    """`data` with its functions in the current form, and the findings; each moved key is recorded in
    `renamed` (new path → old path) so that later findings point at what the user wrote."""
    functions = data["functions"]
    entries: list[dict] = []
    findings: list[Finding] = []
    for name, spec in functions.items():
        if name == "oscar":
            continue
        converted = scar3.convert_function(name, spec)
        index = len(entries)
        for new, old in converted.moved:
            renamed[("functions", "aws", index) + new] = ("functions", name) + old
        entries.append(converted.entry)
        findings.append(RULE.at(root + ("functions", "aws", index),
                                f"`functions: {name}:` is SCAR 3.x's map form (its folder conventions are kept: "
                                "input under FUNCTION/input/ when only a bucket is given, outputs in request-id "
                                "folders)", scar3.hint_for(converted), key=True))
        written = root + ("functions", name)
        findings += [unknown_key.scar3_s3_key(key, written + ("s3", key)) for key in converted.unknown_s3]
        findings += [ignored_setting.scar3_runtime(key, written / key) for key in converted.ignored]
    rewritten: dict = {"aws": entries}
    if "oscar" in functions:
        rewritten["oscar"] = functions["oscar"]
    return {**data, "functions": rewritten}, findings
